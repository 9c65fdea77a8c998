#include "http/http_ingest_source.h"
#include "ingest/text_and_time.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "http/write_ahead_log.h"
#include "server/log.h"

namespace drift::daemon {

namespace {

constexpr std::string_view kStream = "wal";
constexpr std::size_t kMaxEmitted = 1u << 16;



bool constant_time_equal(std::string_view given, std::string_view expected) {
  // Runs over the expected token whatever `given` is, so timing reveals nothing but its length.
  volatile unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const char g = i < given.size() ? given[i] : '\0';
    diff = static_cast<unsigned char>(diff | static_cast<unsigned char>(g ^ expected[i]));
  }
  return diff == 0;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

std::string_view type_name(simdjson::dom::element_type type) {
  using T = simdjson::dom::element_type;
  switch (type) {
    case T::ARRAY:
      return "an array";
    case T::OBJECT:
      return "an object";
    case T::INT64:
    case T::UINT64:
    case T::DOUBLE:
      return "a number";
    case T::STRING:
      return "a string";
    case T::BOOL:
      return "a boolean";
    case T::NULL_VALUE:
      return "null";
  }
  return "a value";
}

/// A readable reason for invalid JSON: nlohmann's message has the line and column.
std::string json_error(std::string_view text, simdjson::error_code error) {
  try {
    const nlohmann::json parsed = nlohmann::json::parse(text);
    static_cast<void>(parsed);
  } catch (const nlohmann::json::parse_error& e) {
    std::string_view what = e.what();
    const auto bracket = what.find("] ");
    if (bracket != std::string_view::npos) what.remove_prefix(bracket + 2);
    return std::string(what);
  } catch (const std::exception& e) {
    return e.what();
  }
  return simdjson::error_message(error);
}

/// Parses `text` as one JSON document; empty string when valid, else the reason.
std::string parse_json(std::string_view text, simdjson::dom::element& doc) {
  thread_local simdjson::dom::parser parser;
  const auto error = parser.parse(text.data(), text.size(), true).get(doc);
  return error ? json_error(text, error) : std::string();
}

WalEntry record_entry(std::string_view text, std::int64_t arrival) {
  WalEntry entry;
  entry.kind = WalEntryKind::kRecord;
  entry.arrival_ms = arrival;
  entry.body.assign(text);
  return entry;
}

std::size_t count_lines(std::string_view text, std::size_t from, std::size_t to) {
  return static_cast<std::size_t>(std::count(text.begin() + static_cast<std::ptrdiff_t>(from),
                                             text.begin() + static_cast<std::ptrdiff_t>(to), '\n'));
}

/// The elements of a JSON array that is known to be valid, as spans of `text`.
std::vector<std::pair<std::size_t, std::size_t>> array_elements(std::string_view text) {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  std::size_t i = text.find('[') + 1;
  while (i < text.size() && is_space(text[i])) ++i;
  if (i < text.size() && text[i] == ']') return spans;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    const std::size_t start = i;
    int depth = 0;
    bool in_string = false;
    for (; i < text.size(); ++i) {
      const char c = text[i];
      if (in_string) {
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          in_string = false;
        }
        continue;
      }
      if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) break;
        --depth;
      } else if (c == ',' && depth == 0) {
        break;
      }
    }
    spans.emplace_back(start, i);
    if (i >= text.size() || text[i] == ']') break;
    ++i;  // the comma
  }
  return spans;
}

/// Plain records: NDJSON, a JSON array of objects, or one object. Empty string when fine,
/// else the reason (with the line) and nothing in `out`.
std::string parse_records(std::string_view body, std::int64_t arrival, std::vector<WalEntry>& out) {
  if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);  // a UTF-8 byte-order mark
  const std::string_view trimmed = trim(body);
  if (trimmed.empty()) return "empty body: expected NDJSON, a JSON array or a JSON object";
  simdjson::dom::element doc;
  if (trimmed.front() == '[') {
    const std::string reason = parse_json(trimmed, doc);
    if (!reason.empty()) return cat("invalid JSON array: ", reason);
    const auto spans = array_elements(trimmed);
    simdjson::dom::array array = doc.get_array().value_unsafe();
    if (spans.size() != array.size()) return "invalid JSON array";
    std::size_t index = 0;
    std::size_t line =
        1 + count_lines(body, 0, static_cast<std::size_t>(trimmed.data() - body.data()));
    std::size_t line_at = 0;
    for (simdjson::dom::element element : array) {
      const auto [start, end] = spans[index];
      line += count_lines(trimmed, line_at, start);
      line_at = start;
      if (element.type() != simdjson::dom::element_type::OBJECT) {
        out.clear();
        return cat("record ", std::to_string(index + 1), " (line ", std::to_string(line),
                   "): expected a JSON object, got ", type_name(element.type()));
      }
      out.push_back(record_entry(trim(trimmed.substr(start, end - start)), arrival));
      ++index;
    }
    return {};
  }
  // One object, possibly spread over lines.
  if (trimmed.front() == '{' && parse_json(trimmed, doc).empty()) {
    out.push_back(record_entry(trimmed, arrival));
    return {};
  }
  // NDJSON.
  std::size_t line_number = 0;
  std::size_t at = 0;
  while (at <= body.size()) {
    const std::size_t newline = body.find('\n', at);
    const std::size_t end = newline == std::string_view::npos ? body.size() : newline;
    ++line_number;
    const std::string_view line = trim(body.substr(at, end - at));
    at = end + 1;
    if (line.empty()) continue;
    std::string reason = parse_json(line, doc);
    if (reason.empty() && doc.type() != simdjson::dom::element_type::OBJECT) {
      reason = cat("expected a JSON object, got ", type_name(doc.type()));
    }
    if (!reason.empty()) {
      out.clear();
      return cat("line ", std::to_string(line_number), ": ", reason);
    }
    out.push_back(record_entry(line, arrival));
  }
  return {};
}

WalEntryKind event_kind(std::string_view type) {
  if (type == "org.kubeflow.serving.inference.request" ||
      type == "io.seldon.serving.inference.request") {
    return WalEntryKind::kEventRequest;
  }
  if (type == "org.kubeflow.serving.inference.response" ||
      type == "io.seldon.serving.inference.response") {
    return WalEntryKind::kEventResponse;
  }
  return WalEntryKind::kRecord;
}

/// A CloudEvent in binary mode: the body is the data, the attributes are the ce-* headers.
std::string parse_event(const HttpRequest& request, std::int64_t arrival,
                        std::vector<WalEntry>& out) {
  const std::string_view type = request.header("ce-type");
  WalEntry entry;
  entry.kind = event_kind(type);
  entry.arrival_ms = arrival;
  for (const auto& [name, value] : request.headers) {
    if (name.starts_with("ce-")) entry.headers.emplace_back(name, value);
  }
  if (entry.kind != WalEntryKind::kRecord && request.header("ce-id").empty()) {
    return cat("CloudEvent of type ", type, " without a ce-id header (the join key)");
  }
  if (trim(request.body).empty()) return cat("CloudEvent of type ", type, " without data");
  const std::string_view content_type = request.header("content-type");
  if (content_type.empty() || content_type.find("json") != std::string_view::npos) {
    simdjson::dom::element doc;
    const std::string reason = parse_json(request.body, doc);
    if (!reason.empty()) return cat("event data: ", reason);
  }
  entry.body = request.body;
  out.push_back(std::move(entry));
  return {};
}

std::string_view event_key(const WalEntry& entry) {
  for (const auto& [name, value] : entry.headers) {
    if (name == "ce-id") return value;
  }
  return {};
}

bool is_record(const WalEntry& entry) {
  return entry.kind == WalEntryKind::kRecord || entry.kind == WalEntryKind::kEventRequest ||
         entry.kind == WalEntryKind::kEventResponse;
}

HttpResponse unavailable(std::string_view message) {
  HttpResponse response = HttpResponse::error(503, message);
  response.headers.emplace_back("Retry-After", "1");
  return response;
}

}  // namespace

struct HttpIngestSource::Impl {
  Impl(SourceConfig source, std::filesystem::path wal_dir, std::string token, Options opts)
      : config(std::move(source)),
        auth_token(std::move(token)),
        options(opts),
        wal(open_wal(wal_dir, opts)) {
    if (options.max_batch_records == 0) options.max_batch_records = 1;
    for (const auto& note : wal->recovery_notes()) report(cat("write-ahead log repaired: ", note));
  }

  static std::unique_ptr<WriteAheadLog> open_wal(const std::filesystem::path& dir,
                                                 const Options& opts) {
    try {
      return std::make_unique<WriteAheadLog>(dir, WriteAheadLog::Options{opts.wal_segment_bytes});
    } catch (const WalError& e) {
      throw std::runtime_error(cat("write-ahead log ", dir.string(), ": ", e.what()));
    }
  }

  /// A batch of entries on its way through the writer thread.
  struct Submission {
    std::vector<WalEntry> entries;
    std::size_t records = 0;  ///< entries that took queue slots (markers take none)
    bool done = false;
    std::string error;
  };

  /// A CloudEvent waiting for its partner.
  struct Pending {
    WalEntry event;
    bool expiring = false;  ///< an expiry marker is on its way through the log
  };

  /// What one deliver() hands over: a record, or a request joined with its response.
  struct Outgoing {
    WalEntry record;
    std::optional<WalEntry> response;
  };

  HttpResponse handle(const HttpRequest& request);
  bool submit(std::shared_ptr<Submission> submission);
  void writer_loop();
  void source_loop(std::uint64_t resume, std::uint64_t boundary);
  void consume(WalEntry&& entry, bool deliver);
  void resolve_alone(WalEntry&& event, bool deliver);
  void erase_pending(std::unordered_map<std::string, Pending>::iterator it);
  void expire();
  std::optional<std::chrono::system_clock::time_point> next_expiry() const;
  void flush();
  void report(const std::string& message);

  SourceConfig config;
  std::string auth_token;
  Options options;
  std::unique_ptr<WriteAheadLog> wal;

  std::mutex lifecycle_mu;
  bool started = false;
  bool stopped = false;
  std::atomic<bool> accepting{false};
  RecordSink* sink = nullptr;

  // Handlers → writer thread.
  std::mutex writer_mu;
  std::condition_variable writer_wake;
  std::condition_variable writer_done;
  std::deque<std::shared_ptr<Submission>> writer_queue;
  bool writer_stop = false;
  std::thread writer;

  // Writer thread → source thread, in sequence order. `reserved` counts the records admitted
  // and not yet taken by the source thread (in the writer's hands or queued).
  mutable std::mutex queue_mu;
  std::condition_variable queue_wake;
  std::deque<WalEntry> queue;
  std::size_t reserved = 0;
  bool queue_stop = false;
  std::thread source_thread;

  // Source thread only.
  std::unordered_map<std::string, Pending> pending;
  std::map<std::uint64_t, std::string> pending_by_seq;
  std::vector<Outgoing> out;
  std::uint64_t consumed_end = 0;

  // (position delivered, the oldest entry still needed at that point), for trimming.
  std::mutex trim_mu;
  std::deque<std::pair<std::uint64_t, std::uint64_t>> emitted;
  std::uint64_t trimmed_below = 0;

  std::atomic<std::uint64_t> records_received{0};
  std::atomic<std::uint64_t> bytes_received{0};
  std::atomic<std::uint64_t> records_dropped{0};
  std::atomic<std::uint64_t> joined{0};
  std::atomic<std::uint64_t> orphan_requests{0};
  std::atomic<std::uint64_t> dropped_responses{0};
  std::atomic<std::uint64_t> pending_count{0};
  mutable std::mutex error_mu;
  std::string last_error;
  RateLimitedLog rate_limited;
};

void HttpIngestSource::Impl::report(const std::string& message) {
  {
    std::lock_guard lock(error_mu);
    last_error = message;
  }
  rate_limited.warn(message.substr(0, 40), cat("source ", config.name), message);
}

HttpResponse HttpIngestSource::Impl::handle(const HttpRequest& request) {
  if (!accepting) return unavailable(cat("source ", config.name, " is not running"));
  if (!auth_token.empty()) {
    std::string_view given = request.header("authorization");
    const bool bearer =
        given.size() > 7 && (given.substr(0, 7) == "Bearer " || given.substr(0, 7) == "bearer ");
    if (bearer) given = trim(given.substr(7));
    if (!bearer || !constant_time_equal(given, auth_token)) {
      HttpResponse response = HttpResponse::error(401, "missing or wrong bearer token");
      response.headers.emplace_back("WWW-Authenticate", "Bearer");
      return response;
    }
  }

  const std::int64_t arrival = wall_clock_ms();
  auto submission = std::make_shared<Submission>();
  const std::string reason = request.header("ce-type").empty()
                                 ? parse_records(request.body, arrival, submission->entries)
                                 : parse_event(request, arrival, submission->entries);
  if (!reason.empty()) return HttpResponse::error(400, reason);
  const std::size_t records = submission->entries.size();
  submission->records = records;
  if (records == 0) return HttpResponse::json("{\"accepted\": 0}", 202);
  if (records > config.queue_records) {
    return HttpResponse::error(
        413, cat(std::to_string(records), " records in one request; the source queue holds ",
                 std::to_string(config.queue_records)));
  }
  {
    // Admission before the log: a refused request leaves no trace in it.
    std::lock_guard lock(queue_mu);
    if (reserved + records > config.queue_records) {
      records_dropped += records;
      return unavailable(cat("source ", config.name, " is full (", std::to_string(reserved),
                             " records queued); retry later"));
    }
    reserved += records;
  }
  if (!submit(submission)) {
    std::lock_guard lock(queue_mu);
    reserved -= records;
    return unavailable(cat("source ", config.name, " is not running"));
  }
  {
    std::unique_lock lock(writer_mu);
    writer_done.wait(lock, [&] { return submission->done; });
  }
  if (!submission->error.empty()) {
    return unavailable(cat("write-ahead log: ", submission->error));
  }
  records_received += records;
  bytes_received += request.body.size();
  std::string body = "{\"accepted\": ";
  body += std::to_string(records);
  body += '}';
  return HttpResponse::json(std::move(body), 202);
}

bool HttpIngestSource::Impl::submit(std::shared_ptr<Submission> submission) {
  {
    std::lock_guard lock(writer_mu);
    if (writer_stop) return false;
    writer_queue.push_back(std::move(submission));
  }
  writer_wake.notify_one();
  return true;
}

void HttpIngestSource::Impl::writer_loop() {
  std::vector<WalEntry*> entries;
  for (;;) {
    std::deque<std::shared_ptr<Submission>> batch;
    {
      std::unique_lock lock(writer_mu);
      writer_wake.wait(lock, [&] { return !writer_queue.empty() || writer_stop; });
      if (writer_queue.empty()) return;
      batch.swap(writer_queue);
    }
    // Group commit: everything that queued up while the last fsync ran shares this one.
    entries.clear();
    for (auto& submission : batch) {
      for (auto& entry : submission->entries) entries.push_back(&entry);
    }
    std::string error;
    try {
      wal->append(entries);
    } catch (const std::exception& e) {
      error = e.what();
      report(cat("write-ahead log: ", error));
    }
    {
      std::lock_guard lock(queue_mu);
      for (auto& submission : batch) {
        if (error.empty()) {
          for (auto& entry : submission->entries) queue.push_back(std::move(entry));
        } else {
          reserved -= submission->records;
        }
      }
    }
    queue_wake.notify_one();
    {
      std::lock_guard lock(writer_mu);
      for (auto& submission : batch) {
        submission->done = true;
        submission->error = error;
      }
    }
    writer_done.notify_all();
  }
}

void HttpIngestSource::Impl::erase_pending(std::unordered_map<std::string, Pending>::iterator it) {
  pending_by_seq.erase(it->second.event.seq);
  pending.erase(it);
  pending_count = pending.size();
}

void HttpIngestSource::Impl::resolve_alone(WalEntry&& event, bool deliver) {
  if (!deliver) return;
  if (event.kind == WalEntryKind::kEventRequest) {
    ++orphan_requests;
    out.push_back({std::move(event), std::nullopt});
  } else {
    ++dropped_responses;
  }
}

// The join is a function of the log's order alone (expiry enters it as a marker entry), so
// replaying the log rebuilds exactly the state the first run had at any position.
void HttpIngestSource::Impl::consume(WalEntry&& entry, bool deliver) {
  consumed_end = entry.seq + 1;
  switch (entry.kind) {
    case WalEntryKind::kRecord:
      if (deliver) out.push_back({std::move(entry), std::nullopt});
      return;
    case WalEntryKind::kEventRequest:
    case WalEntryKind::kEventResponse: {
      std::string key(event_key(entry));
      auto it = pending.find(key);
      if (it != pending.end() && it->second.event.kind != entry.kind) {
        WalEntry partner = std::move(it->second.event);
        erase_pending(it);
        if (!deliver) return;
        const std::uint64_t seq = entry.seq;
        if (entry.kind == WalEntryKind::kEventRequest) {
          out.push_back({std::move(entry), std::move(partner)});
        } else {
          out.push_back({std::move(partner), std::move(entry)});
        }
        ++joined;
        // For a replay whose log no longer holds the first partner (trimmed).
        auto marker = std::make_shared<Submission>();
        WalEntry& m = marker->entries.emplace_back();
        m.kind = WalEntryKind::kJoined;
        m.ref = seq;
        m.arrival_ms = wall_clock_ms();
        m.body = std::move(key);
        submit(std::move(marker));
        return;
      }
      if (it != pending.end()) {
        // The same ce-id and role again: the earlier event is done waiting.
        WalEntry earlier = std::move(it->second.event);
        erase_pending(it);
        resolve_alone(std::move(earlier), deliver);
      }
      pending_by_seq.emplace(entry.seq, key);
      pending.emplace(std::move(key), Pending{std::move(entry), false});
      pending_count = pending.size();
      return;
    }
    case WalEntryKind::kJoined: {
      auto it = pending.find(entry.body);
      if (it != pending.end() && it->second.event.seq <= entry.ref) erase_pending(it);
      return;
    }
    case WalEntryKind::kExpired: {
      auto it = pending.find(entry.body);
      if (it != pending.end() && it->second.event.seq == entry.ref) {
        WalEntry event = std::move(it->second.event);
        erase_pending(it);
        resolve_alone(std::move(event), deliver);
      }
      return;
    }
  }
}

std::optional<std::chrono::system_clock::time_point> HttpIngestSource::Impl::next_expiry() const {
  for (const auto& [seq, key] : pending_by_seq) {
    const Pending& p = pending.at(key);
    if (p.expiring) continue;
    return std::chrono::system_clock::time_point(
        std::chrono::milliseconds(p.event.arrival_ms + config.join_ttl.count()));
  }
  return std::nullopt;
}

void HttpIngestSource::Impl::expire() {
  const std::int64_t now = wall_clock_ms();
  std::shared_ptr<Submission> markers;
  for (const auto& [seq, key] : pending_by_seq) {
    Pending& p = pending.at(key);
    if (p.expiring) continue;
    if (p.event.arrival_ms + config.join_ttl.count() > now) break;
    if (!markers) markers = std::make_shared<Submission>();
    WalEntry& m = markers->entries.emplace_back();
    m.kind = WalEntryKind::kExpired;
    m.ref = seq;
    m.arrival_ms = now;
    m.body = key;
    p.expiring = true;
  }
  // The event is resolved when the marker comes back from the log, in log order.
  if (markers) submit(std::move(markers));
}

void HttpIngestSource::Impl::flush() {
  if (out.empty()) return;
  const std::uint64_t low_water =
      pending_by_seq.empty() ? consumed_end : std::min(consumed_end, pending_by_seq.begin()->first);
  {
    std::lock_guard lock(trim_mu);
    if (emitted.size() >= kMaxEmitted) emitted.pop_front();
    emitted.emplace_back(consumed_end, low_water);
  }
  std::vector<std::vector<Header>> headers(out.size());
  std::vector<RawRecord> records;
  records.reserve(out.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const Outgoing& o = out[i];
    headers[i].reserve(o.record.headers.size());
    for (const auto& [name, value] : o.record.headers) headers[i].push_back({name, value});
    RawRecord& record = records.emplace_back();
    record.body = o.record.body;
    if (o.response) record.response_body = o.response->body;
    record.headers = headers[i];
    record.arrival_ms = o.record.arrival_ms;
  }
  const SourcePosition position{config.name, std::string(kStream),
                                static_cast<std::int64_t>(consumed_end)};
  try {
    sink->deliver(config.name, records, std::span<const SourcePosition>(&position, 1));
  } catch (const std::exception& e) {
    report(cat("delivery failed: ", e.what()));
  }
  out.clear();
}

void HttpIngestSource::Impl::source_loop(std::uint64_t resume, std::uint64_t boundary) {
  // Entries below the resume position only rebuild the join state; the rest is delivered.
  const auto problems = wal->for_each(boundary, [&](WalEntry&& entry) {
    const bool deliver = entry.seq >= resume;
    consume(std::move(entry), deliver);
    if (out.size() >= options.max_batch_records) flush();
  });
  flush();
  for (const auto& problem : problems) report(cat("write-ahead log replay: ", problem));

  std::vector<WalEntry> taken;
  for (;;) {
    {
      std::unique_lock lock(queue_mu);
      const auto ready = [&] { return !queue.empty() || queue_stop; };
      if (const auto deadline = next_expiry()) {
        queue_wake.wait_until(lock, *deadline, ready);
      } else {
        queue_wake.wait(lock, ready);
      }
      if (queue.empty() && queue_stop) break;
      std::size_t records = 0;
      while (!queue.empty() && records < options.max_batch_records) {
        if (is_record(queue.front())) ++records;
        taken.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      reserved -= records;
    }
    for (auto& entry : taken) {
      consume(std::move(entry), true);
      if (out.size() >= options.max_batch_records) flush();
    }
    taken.clear();
    expire();
    flush();
  }
  flush();
}

HttpIngestSource::HttpIngestSource(SourceConfig config, std::filesystem::path wal_dir,
                                   std::string auth_token, Options options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(wal_dir), std::move(auth_token),
                                   options)) {}

HttpIngestSource::HttpIngestSource(SourceConfig config, std::filesystem::path wal_dir,
                                   std::string auth_token)
    : HttpIngestSource(std::move(config), std::move(wal_dir), std::move(auth_token), Options{}) {}

HttpIngestSource::~HttpIngestSource() { stop(); }

const std::string& HttpIngestSource::name() const { return impl_->config.name; }

void HttpIngestSource::start(RecordSink& sink, std::span<const SourcePosition> resume) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.lifecycle_mu);
  if (impl.started || impl.stopped) return;
  impl.started = true;
  std::uint64_t from = 0;
  for (const auto& position : resume) {
    if (position.source == impl.config.name && position.stream == kStream && position.offset > 0) {
      from = std::max(from, static_cast<std::uint64_t>(position.offset));
    }
  }
  // Never hand out a sequence number a checkpoint has already seen (an emptied log folder).
  impl.wal->advance_to(from);
  if (from > 0 && from < impl.wal->first_seq()) {
    impl.report(cat("write-ahead log starts at ", std::to_string(impl.wal->first_seq()),
                    ", after the resume position ", std::to_string(from),
                    ": the entries between are gone"));
  }
  impl.consumed_end = from;
  impl.sink = &sink;
  const std::uint64_t boundary = impl.wal->next_seq();
  impl.writer = std::thread([&impl] {
    name_this_thread("wal-writer");
    impl.writer_loop();
  });
  impl.source_thread = std::thread([&impl, from, boundary] {
    name_this_thread("http-ingest");
    impl.source_loop(from, boundary);
  });
  impl.accepting = true;
}

void HttpIngestSource::stop() {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.lifecycle_mu);
  if (impl.stopped) return;
  impl.stopped = true;
  impl.accepting = false;
  if (!impl.started) return;
  {
    std::lock_guard writer_lock(impl.writer_mu);
    impl.writer_stop = true;
  }
  impl.writer_wake.notify_all();
  impl.writer.join();
  {
    std::lock_guard queue_lock(impl.queue_mu);
    impl.queue_stop = true;
  }
  impl.queue_wake.notify_all();
  impl.source_thread.join();
}

void HttpIngestSource::acknowledge(std::span<const SourcePosition> durable) {
  Impl& impl = *impl_;
  std::int64_t acked = -1;
  for (const auto& position : durable) {
    if (position.source == impl.config.name && position.stream == kStream) {
      acked = std::max(acked, position.offset);
    }
  }
  if (acked < 0) return;
  std::uint64_t trim = 0;
  {
    std::lock_guard lock(impl.trim_mu);
    bool found = false;
    while (!impl.emitted.empty() &&
           impl.emitted.front().first <= static_cast<std::uint64_t>(acked)) {
      trim = impl.emitted.front().second;
      impl.emitted.pop_front();
      found = true;
    }
    if (!found || trim <= impl.trimmed_below) return;
    impl.trimmed_below = trim;
  }
  impl.wal->trim_below(trim);
}

SourceStatus HttpIngestSource::status() const {
  const Impl& impl = *impl_;
  SourceStatus status;
  status.name = impl.config.name;
  status.type = "http";
  status.connected = impl.accepting;
  {
    std::lock_guard lock(impl.queue_mu);
    status.lag = static_cast<std::int64_t>(impl.reserved);
    status.queue_depth = impl.reserved;
  }
  status.records_received = impl.records_received;
  status.bytes_received = impl.bytes_received;
  status.records_dropped = impl.records_dropped;
  {
    std::lock_guard lock(impl.error_mu);
    status.last_error = impl.last_error;
  }
  return status;
}

HttpIngestSource::JoinStats HttpIngestSource::join_stats() const {
  return {impl_->joined, impl_->orphan_requests, impl_->dropped_responses, impl_->pending_count};
}

std::uint64_t HttpIngestSource::wal_syncs() const { return impl_->wal->syncs(); }

HttpResponse HttpIngestSource::handle(const HttpRequest& request) { return impl_->handle(request); }

}  // namespace drift::daemon
