#include "sources/kafka_source.h"
#include "ingest/text_and_time.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace drift::daemon {
namespace {

/// A batch ends at this many messages or after this long, whichever comes first. Each batch
/// wakes the pipeline's decode helper once: 4,000 measured better than 1,000 (bench_ingest,
/// three alternated pairs: 1.41–1.44 vs 1.51–1.56 µs of CPU per record); 10,000 no better.
constexpr std::size_t kMaxBatchMessages = 4000;
constexpr auto kMaxBatchTime = std::chrono::milliseconds(10);
/// How long one poll waits for the first message of a batch (bounds stop() latency).
constexpr int kPollTimeoutMs = 100;
/// How long stop() waits for dead letters still in flight.
constexpr int kDeadLetterFlushMs = 5000;
/// A message's headers are read this many polls after the message (its bytes were prefetched
/// at the poll): librdkafka parses them from the fetch buffer, which is usually cold by then.
constexpr std::size_t kHeaderLag = 8;
/// Bytes of a message prefetched when it is polled; a longer body streams in through the
/// hardware prefetcher once read.
constexpr std::size_t kPrefetchBytes = 2048;



std::string stream_name(std::string_view topic, std::int32_t partition) {
  return cat(topic, "/", std::to_string(partition));
}

/// Splits "topic/partition"; nullopt when the stream is not of that form.
std::optional<std::pair<std::string, std::int32_t>> parse_stream(std::string_view stream) {
  const auto slash = stream.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  std::int32_t partition = 0;
  const char* first = stream.data() + slash + 1;
  const char* last = stream.data() + stream.size();
  const auto [ptr, ec] = std::from_chars(first, last, partition);
  if (ec != std::errc() || ptr != last || first == last || partition < 0) return std::nullopt;
  return std::make_pair(std::string(stream.substr(0, slash)), partition);
}

/// Consumer-only properties a dead-letter producer must not be given (librdkafka would only
/// warn, but the log should stay quiet), and the mock cluster switch (the producer reaches the
/// consumer's mock cluster through its bootstrap servers instead of starting its own).
bool consumer_only_property(std::string_view key) {
  static constexpr std::string_view kPrefixes[] = {"group.",          "enable.auto.",
                                                   "auto.",           "partition.assignment.",
                                                   "session.timeout", "heartbeat.interval",
                                                   "max.poll.",       "fetch.",
                                                   "isolation.level", "queued.",
                                                   "test.mock.",      "enable.partition.eof",
                                                   "check.crcs",      "consume.callback."};
  return std::any_of(std::begin(kPrefixes), std::end(kPrefixes),
                     [key](std::string_view p) { return key.starts_with(p); });
}

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

}  // namespace

struct KafkaSource::Impl {
  SourceConfig config;
  rd_kafka_t* consumer = nullptr;
  rd_kafka_t* producer = nullptr;  // dead letters; null without a dead-letter topic
  std::thread thread;
  RecordSink* sink = nullptr;
  bool headers_needed = true;
  std::atomic<bool> stopping{false};
  bool started = false;
  bool stopped = false;

  mutable std::mutex mu;  // guards assigned, resume, lags, joined, brokers_down, last_error
  /// Assigned partitions ("topic/partition") → the offset stored last (-1: none yet).
  std::map<std::string, std::int64_t> assigned;
  /// Resume positions not yet used by a first assignment.
  std::map<std::string, std::int64_t> resume;
  std::map<std::string, std::int64_t> lags;
  bool joined = false;
  bool brokers_down = false;
  std::string last_error;

  std::atomic<std::uint64_t> records{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> errors{0};

  // Batch buffers, reused by the poll thread.
  std::vector<rd_kafka_message_t*> messages;
  std::vector<RawRecord> records_buf;
  std::vector<Header> headers_buf;
  std::vector<std::pair<std::size_t, std::size_t>> header_ranges;
  std::deque<std::string> lowered_names;
  struct BatchPartition {
    rd_kafka_topic_t* topic;
    std::int32_t partition;
    std::int64_t next;
  };
  std::vector<BatchPartition> batch_partitions;
  std::size_t headers_read = 0;  // messages[0, headers_read) have their headers in headers_buf
  std::size_t last_partition = 0;  // index in batch_partitions of the latest message's
  std::uint64_t batch_bytes = 0;
  std::vector<SourcePosition> positions_buf;

  ~Impl() {
    // The producer may reach a mock cluster hosted by the consumer: destroy it first.
    if (producer != nullptr) rd_kafka_destroy(producer);
    if (consumer != nullptr) rd_kafka_destroy(consumer);
  }

  std::string key_path(std::string_view key) const {
    std::string s = "sources.";
    s.append(config.name).append(".kafka.").append(key);
    return s;
  }

  void set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      throw ConfigError(cat(key_path(key), ": ", errstr));
    }
  }

  void record_error(std::string message) {
    errors.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu);
    last_error = std::move(message);
  }

  void record_error(rd_kafka_resp_err_t err, std::string_view reason) {
    record_error(cat(rd_kafka_err2name(err), ": ", reason));
  }

  void create_consumer() {
    ConfPtr conf(rd_kafka_conf_new());
    std::string client_id = "driftd-";
    client_id += config.name;
    set(conf.get(), "client.id", client_id);
    if (!config.brokers.empty()) set(conf.get(), "bootstrap.servers", config.brokers);
    if (!config.group_id.empty()) set(conf.get(), "group.id", config.group_id);
    set(conf.get(), "partition.assignment.strategy", "cooperative-sticky");
    set(conf.get(), "enable.auto.commit", "true");
    set(conf.get(), "enable.auto.offset.store", "false");
    set(conf.get(), "statistics.interval.ms", "5000");
    set(conf.get(), "auto.offset.reset", "latest");
    for (const auto& [key, value] : config.kafka) set(conf.get(), key, value);

    char group[512];
    std::size_t group_size = sizeof group;
    if (rd_kafka_conf_get(conf.get(), "group.id", group, &group_size) != RD_KAFKA_CONF_OK ||
        group[0] == '\0') {
      std::string msg = "sources.";
      msg.append(config.name).append(".group_id: required for a kafka source");
      throw ConfigError(msg);
    }

    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_rebalance_cb(conf.get(), &Impl::rebalance_cb);
    rd_kafka_conf_set_stats_cb(conf.get(), &Impl::stats_cb);
    rd_kafka_conf_set_error_cb(conf.get(), &Impl::error_cb);

    char errstr[512];
    consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof errstr);
    if (consumer == nullptr) {
      std::string msg = "sources.";
      msg.append(config.name).append(": ").append(errstr);
      throw ConfigError(msg);
    }
    conf.release();  // owned by the consumer now
    // Callbacks (stats, errors) and messages are all served by rd_kafka_consumer_poll.
    rd_kafka_poll_set_consumer(consumer);
  }

  void create_producer() {
    ConfPtr conf(rd_kafka_conf_new());
    std::string client_id = "driftd-";
    client_id += config.name;
    client_id += "-dead-letter";
    set(conf.get(), "client.id", client_id);
    std::string brokers = config.brokers;
    if (rd_kafka_mock_cluster_t* mock = rd_kafka_handle_mock_cluster(consumer)) {
      brokers = rd_kafka_mock_cluster_bootstraps(mock);
    }
    if (!brokers.empty()) set(conf.get(), "bootstrap.servers", brokers);
    for (const auto& [key, value] : config.kafka) {
      if (!consumer_only_property(key)) set(conf.get(), key, value);
    }
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &Impl::delivery_cb);
    rd_kafka_conf_set_error_cb(conf.get(), &Impl::error_cb);
    char errstr[512];
    producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof errstr);
    if (producer == nullptr) {
      std::string msg = "sources.";
      msg.append(config.name).append(".dead_letter_topic: ").append(errstr);
      throw ConfigError(msg);
    }
    conf.release();
  }

  // ---- callbacks (all on the poll thread, except delivery_cb/error_cb of the producer,
  // which run wherever the producer is polled) ----

  static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    static_cast<Impl*>(opaque)->on_rebalance(rk, err, partitions);
  }

  static int stats_cb(rd_kafka_t*, char* json, std::size_t json_len, void* opaque) {
    static_cast<Impl*>(opaque)->on_stats(std::string_view(json, json_len));
    return 0;  // librdkafka frees the JSON
  }

  static void error_cb(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* impl = static_cast<Impl*>(opaque);
    const auto code = static_cast<rd_kafka_resp_err_t>(err);
    if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
      std::lock_guard lock(impl->mu);
      impl->brokers_down = true;
    }
    impl->record_error(code, reason);
  }

  static void delivery_cb(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      static_cast<Impl*>(opaque)->record_error(
          message->err, cat("dead letter not delivered: ", rd_kafka_err2str(message->err)));
    }
  }

  void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                    rd_kafka_topic_partition_list_t* partitions) {
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      {
        std::lock_guard lock(mu);
        for (int i = 0; i < partitions->cnt; ++i) {
          rd_kafka_topic_partition_t& p = partitions->elems[i];
          std::string key = stream_name(p.topic, p.partition);
          // The checkpoint is the truth for a partition's first assignment in this run.
          if (auto it = resume.find(key); it != resume.end()) {
            p.offset = it->second;
            resume.erase(it);
          }
          assigned.emplace(std::move(key), -1);
        }
        joined = true;
      }
      if (cooperative) {
        if (rd_kafka_error_t* error = rd_kafka_incremental_assign(rk, partitions)) {
          record_error(rd_kafka_error_code(error), rd_kafka_error_string(error));
          rd_kafka_error_destroy(error);
        }
      } else if (const auto e = rd_kafka_assign(rk, partitions); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        record_error(e, "assign failed");
      }
      return;
    }

    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      const bool lost = rd_kafka_assignment_lost(rk) != 0;
      {
        std::lock_guard lock(mu);
        PartitionListPtr store(rd_kafka_topic_partition_list_new(partitions->cnt));
        for (int i = 0; i < partitions->cnt; ++i) {
          const rd_kafka_topic_partition_t& p = partitions->elems[i];
          const std::string key = stream_name(p.topic, p.partition);
          if (auto it = assigned.find(key); it != assigned.end()) {
            if (!lost && it->second >= 0) {
              rd_kafka_topic_partition_list_add(store.get(), p.topic, p.partition)->offset =
                  it->second;
            }
            assigned.erase(it);
          }
          lags.erase(key);
        }
        // Auto-commit commits the stored offsets of revoked partitions (never of lost ones).
        if (store->cnt > 0) rd_kafka_offsets_store(rk, store.get());
      }
      if (cooperative) {
        if (rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk, partitions)) {
          record_error(rd_kafka_error_code(error), rd_kafka_error_string(error));
          rd_kafka_error_destroy(error);
        }
      } else {
        rd_kafka_assign(rk, nullptr);
      }
      return;
    }

    record_error(err, "rebalance failed");
    {
      std::lock_guard lock(mu);
      assigned.clear();
      lags.clear();
    }
    rd_kafka_assign(rk, nullptr);
  }

  void on_stats(std::string_view text) {
    const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.is_object()) return;
    bool any_up = false;
    if (auto b = json.find("brokers"); b != json.end() && b->is_object()) {
      for (const auto& broker : *b) {
        if (broker.value("nodeid", -1) >= 0 && broker.value("state", "") == "UP") any_up = true;
      }
    }
    std::optional<bool> group_up;
    if (auto c = json.find("cgrp"); c != json.end() && c->is_object()) {
      group_up = c->value("state", "") == "up";
    }
    std::map<std::string, std::int64_t> fresh;
    if (auto t = json.find("topics"); t != json.end() && t->is_object()) {
      for (const auto& [topic, body] : t->items()) {
        auto parts = body.find("partitions");
        if (parts == body.end() || !parts->is_object()) continue;
        for (const auto& [partition, p] : parts->items()) {
          if (partition == "-1") continue;  // the internal unassigned-messages partition
          const std::int64_t lag = p.value("consumer_lag", std::int64_t{-1});
          if (lag < 0) continue;  // unknown (no committed offset or no high watermark yet)
          fresh.emplace(cat(topic, "/", partition), lag);
        }
      }
    }
    std::lock_guard lock(mu);
    std::erase_if(fresh, [this](const auto& kv) { return !assigned.contains(kv.first); });
    lags = std::move(fresh);
    if (any_up) brokers_down = false;
    if (group_up) joined = *group_up;
  }

  // ---- the poll thread ----

  void run() {
    messages.reserve(kMaxBatchMessages);
    records_buf.reserve(kMaxBatchMessages);
    header_ranges.reserve(kMaxBatchMessages);
    while (!stopping.load(std::memory_order_acquire)) {
      if (producer != nullptr) rd_kafka_poll(producer, 0);
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, kPollTimeoutMs);
      if (m == nullptr) continue;
      take(m);
      const auto deadline = std::chrono::steady_clock::now() + kMaxBatchTime;
      while (messages.size() < kMaxBatchMessages) {
        m = rd_kafka_consumer_poll(consumer, 0);
        if (m == nullptr) break;
        take(m);
        if ((messages.size() & 63u) == 0 && std::chrono::steady_clock::now() >= deadline) break;
      }
      deliver_batch();
    }
    // Leaving the group revokes everything (storing acknowledged offsets); auto-commit commits.
    if (const auto err = rd_kafka_consumer_close(consumer); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      record_error(err, "consumer close failed");
    }
    if (producer != nullptr) rd_kafka_flush(producer, kDeadLetterFlushMs);
  }

  /// Adds a polled message to the batch. Everything read from the message is read here,
  /// while librdkafka's op is still in cache (reading it a batch later costs ~25% more CPU),
  /// except its headers, read kHeaderLag messages later once the prefetch has landed.
  void take(rd_kafka_message_t* m) {
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        std::string reason = rd_kafka_message_errstr(m);
        if (m->rkt != nullptr) {
          reason = cat(stream_name(rd_kafka_topic_name(m->rkt), m->partition), ": ", reason);
        }
        record_error(m->err, reason);
      }
      rd_kafka_message_destroy(m);
      return;
    }
    messages.push_back(m);
    // The body is read later (and the byte after it, where a v2 record's header count sits,
    // next by rd_kafka_message_headers): start loading it now.
    if (m->payload != nullptr) prefetch_bytes(m->payload, std::min(m->len + 1, kPrefetchBytes));
    if (messages.size() - headers_read > kHeaderLag) read_headers(messages[headers_read++]);

    RawRecord r;
    if (m->payload != nullptr) {
      r.body = std::string_view(static_cast<const char*>(m->payload), m->len);
    }
    records_buf.push_back(r);
    batch_bytes += m->len;

    // Messages come in runs per partition (one fetch response each): try the last one first.
    const auto same = [m](const BatchPartition& b) {
      return b.topic == m->rkt && b.partition == m->partition;
    };
    if (!batch_partitions.empty() && same(batch_partitions[last_partition])) {
      BatchPartition& bp = batch_partitions[last_partition];
      bp.next = std::max(bp.next, m->offset + 1);
    } else if (auto bp = std::find_if(batch_partitions.begin(), batch_partitions.end(), same);
               bp != batch_partitions.end()) {
      bp->next = std::max(bp->next, m->offset + 1);
      last_partition = static_cast<std::size_t>(bp - batch_partitions.begin());
    } else {
      last_partition = batch_partitions.size();
      batch_partitions.push_back(BatchPartition{m->rkt, m->partition, m->offset + 1});
    }
  }

  /// Appends the headers of `m` (the next message in batch order without them) to headers_buf.
  void read_headers(rd_kafka_message_t* m) {
    const std::size_t first_header = headers_buf.size();
    if (!headers_needed) {
      header_ranges.emplace_back(first_header, 0);
      return;
    }
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name = nullptr;
      const void* value = nullptr;
      std::size_t size = 0;
      for (std::size_t i = 0;
           rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        std::string_view n(name);
        if (std::any_of(n.begin(), n.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
          std::string& lower = lowered_names.emplace_back(n);
          for (char& c : lower) {
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
          }
          n = lower;
        }
        const std::string_view v = value == nullptr
                                       ? std::string_view()
                                       : std::string_view(static_cast<const char*>(value), size);
        headers_buf.push_back(Header{n, v});
      }
    }
    // The span is set in deliver_batch(), once headers_buf stops growing.
    header_ranges.emplace_back(first_header, headers_buf.size() - first_header);
  }

  void deliver_batch() {
    if (messages.empty()) return;
    while (headers_read < messages.size()) read_headers(messages[headers_read++]);
    const std::int64_t arrival = wall_clock_ms();
    for (std::size_t i = 0; i < records_buf.size(); ++i) {
      records_buf[i].headers = std::span<const Header>(headers_buf.data() + header_ranges[i].first,
                                                       header_ranges[i].second);
      records_buf[i].arrival_ms = arrival;
    }
    for (const BatchPartition& bp : batch_partitions) {
      positions_buf.push_back(SourcePosition{
          config.name, stream_name(rd_kafka_topic_name(bp.topic), bp.partition), bp.next});
    }

    try {
      sink->deliver(config.name, records_buf, positions_buf);
      records.fetch_add(records_buf.size(), std::memory_order_relaxed);
      bytes.fetch_add(batch_bytes, std::memory_order_relaxed);
    } catch (const std::exception& e) {
      record_error(cat("record sink failed, batch dropped: ", e.what()));
    } catch (...) {
      record_error("record sink failed, batch dropped");
    }
    {
      std::lock_guard lock(mu);
      brokers_down = false;  // messages arrived: some broker is reachable
    }
    for (rd_kafka_message_t* m : messages) rd_kafka_message_destroy(m);
    messages.clear();
    records_buf.clear();
    headers_buf.clear();
    header_ranges.clear();
    lowered_names.clear();
    batch_partitions.clear();
    headers_read = 0;
    positions_buf.clear();
    batch_bytes = 0;
    last_partition = 0;
  }
};

KafkaSource::KafkaSource(SourceConfig config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  if (impl_->config.topics.empty()) {
    std::string msg = "sources.";
    msg.append(impl_->config.name).append(".topics: at least one topic is required");
    throw ConfigError(msg);
  }
  impl_->create_consumer();
  if (!impl_->config.dead_letter_topic.empty()) impl_->create_producer();
}

KafkaSource::~KafkaSource() { stop(); }

const std::string& KafkaSource::name() const { return impl_->config.name; }

void KafkaSource::start(RecordSink& sink, std::span<const SourcePosition> resume) {
  Impl& s = *impl_;
  if (s.started) throw std::logic_error("KafkaSource::start called twice");
  s.started = true;
  s.sink = &sink;
  {
    std::lock_guard lock(s.mu);
    for (const SourcePosition& p : resume) {
      if (p.source == s.config.name && parse_stream(p.stream)) s.resume[p.stream] = p.offset;
    }
  }
  PartitionListPtr topics(
      rd_kafka_topic_partition_list_new(static_cast<int>(s.config.topics.size())));
  for (const std::string& t : s.config.topics) {
    rd_kafka_topic_partition_list_add(topics.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (const auto err = rd_kafka_subscribe(s.consumer, topics.get());
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::string msg = "sources.";
    msg.append(s.config.name).append(".topics: ").append(rd_kafka_err2str(err));
    throw ConfigError(msg);
  }
  s.thread = std::thread([&s] {
    name_this_thread(cat("kafka:", s.config.name));
    try {
      s.run();
    } catch (const std::exception& e) {
      s.record_error(cat("kafka source thread failed: ", e.what()));
    }
  });
}

void KafkaSource::stop() {
  Impl& s = *impl_;
  if (!s.started || s.stopped) return;
  s.stopped = true;
  s.stopping.store(true, std::memory_order_release);
  if (s.thread.joinable()) s.thread.join();
}

void KafkaSource::acknowledge(std::span<const SourcePosition> durable) {
  Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  PartitionListPtr store(rd_kafka_topic_partition_list_new(static_cast<int>(durable.size())));
  for (const SourcePosition& p : durable) {
    if (p.source != s.config.name) continue;
    auto it = s.assigned.find(p.stream);
    if (it == s.assigned.end() || p.offset <= it->second) continue;
    const auto tp = parse_stream(p.stream);
    if (!tp) continue;
    rd_kafka_topic_partition_list_add(store.get(), tp->first.c_str(), tp->second)->offset =
        p.offset;
    it->second = p.offset;
  }
  if (store->cnt == 0) return;
  const auto err = rd_kafka_offsets_store(s.consumer, store.get());
  // ERR__STATE for a partition revoked a moment ago is expected: it is no longer ours.
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__STATE) {
    s.errors.fetch_add(1, std::memory_order_relaxed);
    s.last_error = cat(rd_kafka_err2name(err), ": offsets_store failed");
  }
}

SourceStatus KafkaSource::status() const {
  const Impl& s = *impl_;
  SourceStatus st;
  st.name = s.config.name;
  st.type = "kafka";
  st.records_received = s.records.load(std::memory_order_relaxed);
  st.bytes_received = s.bytes.load(std::memory_order_relaxed);
  std::lock_guard lock(s.mu);
  st.connected = (s.joined || !s.assigned.empty()) && !s.brokers_down;
  if (!s.lags.empty()) {
    st.lag = 0;
    for (const auto& [stream, lag] : s.lags) st.lag += lag;
  }
  st.partition_lags = s.lags;
  st.last_error = s.last_error;
  return st;
}

void KafkaSource::set_headers_needed(bool needed) { impl_->headers_needed = needed; }

std::map<std::string, std::int64_t> KafkaSource::partition_lags() const {
  std::lock_guard lock(impl_->mu);
  return impl_->lags;
}

std::uint64_t KafkaSource::error_count() const {
  return impl_->errors.load(std::memory_order_relaxed);
}

void KafkaSource::dead_letter(std::string_view body, std::string_view reason) {
  Impl& s = *impl_;
  if (s.producer == nullptr) return;
  // rd_kafka_produceva rather than the RD_KAFKA_V_* macros, whose C casts -Wold-style-cast
  // rejects.
  rd_kafka_vu_t args[5];
  args[0].vtype = RD_KAFKA_VTYPE_TOPIC;
  args[0].u.cstr = s.config.dead_letter_topic.c_str();
  args[1].vtype = RD_KAFKA_VTYPE_VALUE;
  args[1].u.mem.ptr = const_cast<char*>(body.data());
  args[1].u.mem.size = body.size();
  args[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  args[2].u.i = RD_KAFKA_MSG_F_COPY;
  args[3].vtype = RD_KAFKA_VTYPE_HEADER;
  args[3].u.header.name = "driftd-reason";
  args[3].u.header.val = reason.data();
  args[3].u.header.size = static_cast<ssize_t>(reason.size());
  args[4].vtype = RD_KAFKA_VTYPE_HEADER;
  args[4].u.header.name = "driftd-source";
  args[4].u.header.val = s.config.name.data();
  args[4].u.header.size = static_cast<ssize_t>(s.config.name.size());
  rd_kafka_error_t* error = rd_kafka_produceva(s.producer, args, std::size(args));
  if (error != nullptr) {
    s.record_error(rd_kafka_error_code(error),
                   cat("dead letter not queued: ", rd_kafka_error_string(error)));
    rd_kafka_error_destroy(error);
  }
  rd_kafka_poll(s.producer, 0);
}

std::string KafkaSource::mock_bootstrap_servers() const {
  if (rd_kafka_mock_cluster_t* mock = rd_kafka_handle_mock_cluster(impl_->consumer)) {
    return rd_kafka_mock_cluster_bootstraps(mock);
  }
  return {};
}

}  // namespace drift::daemon
