// The `http` ingest source behind a real HTTP server: payload forms, auth, back-pressure,
// the CloudEvents request/response join, and its write-ahead log (replay, torn tails,
// trimming, group commit).
#include <catch2/catch.hpp>

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "http/http_ingest_source.h"
#include "http/http_server.h"
#include "http_client.h"
#include "process.h"

using drift::daemon::HttpIngestSource;
using drift::daemon::HttpRequest;
using drift::daemon::HttpServer;
using drift::daemon::RawRecord;
using drift::daemon::RecordSink;
using drift::daemon::SourceConfig;
using drift::daemon::SourcePosition;
using drift::test::HttpClient;
using drift::test::HttpHeaders;
using drift::test::TempDir;

namespace {

using namespace std::chrono_literals;

/// A record as the sink saw it, copied (the views die when deliver() returns).
struct Copied {
  std::string body;
  std::string response;
  std::map<std::string, std::string> headers;
  std::int64_t arrival_ms = 0;
};

/// Copies everything delivered; optionally blocks in deliver() until released.
class CollectingSink : public RecordSink {
 public:
  void deliver(std::string_view source, std::span<const RawRecord> records,
               std::span<const SourcePosition> positions) override {
    std::unique_lock lock(mu_);
    ++deliveries_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !blocked_; });
    if (source != "web") wrong_source_ = true;
    for (const auto& r : records) {
      Copied c{std::string(r.body), std::string(r.response_body), {}, r.arrival_ms};
      for (const auto& h : r.headers) c.headers[std::string(h.name)] = std::string(h.value);
      records_.push_back(std::move(c));
    }
    positions_.insert(positions_.end(), positions.begin(), positions.end());
    max_batch_ = std::max(max_batch_, records.size());
    changed_.notify_all();
  }

  /// Waits until at least `n` records arrived (or fails after a deadline).
  std::vector<Copied> wait_for(std::size_t n, std::chrono::milliseconds deadline = 10s) {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, deadline, [&] { return records_.size() >= n; });
    return records_;
  }
  std::vector<Copied> records() {
    std::lock_guard lock(mu_);
    return records_;
  }
  std::vector<SourcePosition> positions() {
    std::lock_guard lock(mu_);
    return positions_;
  }
  /// deliver() runs on the source's thread, where Catch2 assertions are not safe.
  bool wrong_source() {
    std::lock_guard lock(mu_);
    return wrong_source_;
  }
  std::size_t max_batch() {
    std::lock_guard lock(mu_);
    return max_batch_;
  }
  void block() {
    std::lock_guard lock(mu_);
    blocked_ = true;
  }
  void release() {
    std::lock_guard lock(mu_);
    blocked_ = false;
    changed_.notify_all();
  }
  /// Waits until deliver() has been entered `n` times in all.
  void wait_for_delivery(std::size_t n) {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, 10s, [&] { return deliveries_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<Copied> records_;
  std::vector<SourcePosition> positions_;
  std::size_t max_batch_ = 0;
  std::size_t deliveries_ = 0;
  bool blocked_ = false;
  bool wrong_source_ = false;
};

SourceConfig web_config(std::uint64_t queue_records = 100000,
                        std::chrono::milliseconds join_ttl = 60s) {
  SourceConfig config;
  config.name = "web";
  config.queue_records = queue_records;
  config.join_ttl = join_ttl;
  return config;
}

/// A server on an OS-chosen port with the source routed the way the daemon routes it.
struct Ingest {
  explicit Ingest(const std::string& wal_dir, SourceConfig config = web_config(),
                  std::string token = {}, HttpIngestSource::Options options = {}, int threads = 2)
      : source(std::move(config), wal_dir, std::move(token), options), server([&] {
          HttpServer::Options o;
          o.threads = threads;
          return o;
        }()) {
    server.route("POST", "/v1/ingest/web",
                 [this](const HttpRequest& request) { return source.handle(request); });
    server.start();
  }
  ~Ingest() {
    server.stop();
    source.stop();
  }
  HttpIngestSource source;
  HttpServer server;
};

std::vector<std::string> bodies(const std::vector<Copied>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.body);
  return out;
}

int accepted(const drift::test::HttpReply& reply) {
  return nlohmann::json::parse(reply.body).at("accepted").get<int>();
}

std::string error_of(const drift::test::HttpReply& reply) {
  return nlohmann::json::parse(reply.body).at("error").get<std::string>();
}

HttpHeaders event(const std::string& type, const std::string& id) {
  return {{"Content-Type", "application/json"},
          {"Ce-Specversion", "1.0"},
          {"Ce-Type", type},
          {"Ce-Id", id},
          {"Ce-Source", "http://localhost:9081/"},
          {"Ce-Inferenceservicename", "credit"},
          {"Ce-Namespace", "models"},
          {"Ce-Endpoint", "default"}};
}

const std::string kRequestType = "org.kubeflow.serving.inference.request";
const std::string kResponseType = "org.kubeflow.serving.inference.response";

std::vector<std::filesystem::path> segments(const std::string& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& item : std::filesystem::directory_iterator(dir)) {
    if (item.path().extension() == ".wal") files.push_back(item.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ndjson(int from, int count) {
  std::string body;
  for (int i = from; i < from + count; ++i) {
    body += "{\"id\":";
    body += std::to_string(i);
    body += ",\"x\":0.5}\n";
  }
  return body;
}

}  // namespace

TEST_CASE("HTTP ingest accepts NDJSON or a JSON array or a single object", "[http][integration]") {
  TempDir dir;
  CollectingSink sink;
  Ingest ingest(dir.path());
  ingest.source.start(sink, {});
  HttpClient client(ingest.server.port());

  auto reply = client.request("POST", "/v1/ingest/web", "{\"a\":1}\n\n{\"a\":2}\r\n  {\"a\":3}  \n",
                              {{"Content-Type", "application/x-ndjson"}});
  CHECK(reply.status == 202);
  CHECK(accepted(reply) == 3);

  reply = client.request("POST", "/v1/ingest/web", "[{\"b\":1},\n {\"b\":[1,{\"c\":\"],\"}]}]");
  CHECK(reply.status == 202);
  CHECK(accepted(reply) == 2);

  reply = client.request("POST", "/v1/ingest/web", "{\n  \"c\": 1,\n  \"d\": \"two\"\n}\n");
  CHECK(reply.status == 202);
  CHECK(accepted(reply) == 1);

  const auto records = sink.wait_for(6);
  CHECK(bodies(records) == std::vector<std::string>{"{\"a\":1}", "{\"a\":2}", "{\"a\":3}",
                                                    "{\"b\":1}", "{\"b\":[1,{\"c\":\"],\"}]}",
                                                    "{\n  \"c\": 1,\n  \"d\": \"two\"\n}"});
  for (const auto& r : records) {
    CHECK(r.response.empty());
    CHECK(r.headers.empty());
    CHECK(r.arrival_ms > 1600000000000);
  }
  const auto positions = sink.positions();
  REQUIRE_FALSE(positions.empty());
  CHECK(positions.back() == SourcePosition{"web", "wal", 6});
  CHECK_FALSE(sink.wrong_source());
  const auto status = ingest.source.status();
  CHECK(status.type == "http");
  CHECK(status.connected);
  CHECK(status.records_received == 6);
  CHECK(status.bytes_received > 0);
  CHECK(status.records_dropped == 0);
}

TEST_CASE("HTTP ingest refuses a body with an invalid line and stores nothing",
          "[http][integration]") {
  TempDir dir;
  CollectingSink sink;
  Ingest ingest(dir.path());
  ingest.source.start(sink, {});
  HttpClient client(ingest.server.port());

  auto reply =
      client.request("POST", "/v1/ingest/web", "{\"a\":1}\n{\"a\":2}\n{\"a\":\n{\"a\":4}\n");
  CHECK(reply.status == 400);
  CHECK_THAT(error_of(reply), Catch::StartsWith("line 3: "));

  reply = client.request("POST", "/v1/ingest/web", "{\"a\":1}\n\n42\n");
  CHECK(reply.status == 400);
  CHECK(error_of(reply) == "line 3: expected a JSON object, got a number");

  reply = client.request("POST", "/v1/ingest/web", "[{\"a\":1},\n\"x\"]");
  CHECK(reply.status == 400);
  CHECK(error_of(reply) == "record 2 (line 2): expected a JSON object, got a string");

  reply = client.request("POST", "/v1/ingest/web", "[{\"a\":1},");
  CHECK(reply.status == 400);
  CHECK_THAT(error_of(reply), Catch::StartsWith("invalid JSON array"));

  CHECK(client.request("POST", "/v1/ingest/web", "  \n").status == 400);

  // Nothing of the refused requests reached the log: the next record is seq 0.
  reply = client.request("POST", "/v1/ingest/web", "{\"ok\":true}");
  CHECK(reply.status == 202);
  CHECK(sink.wait_for(1).size() == 1);
  CHECK(sink.positions().back().offset == 1);
  CHECK(ingest.source.status().records_received == 1);
}

TEST_CASE("HTTP ingest requires the bearer token when one is configured", "[http][integration]") {
  TempDir dir;
  CollectingSink sink;
  Ingest ingest(dir.path(), web_config(), "s3cret-token");
  ingest.source.start(sink, {});
  HttpClient client(ingest.server.port());
  const std::string body = "{\"a\":1}";

  auto reply = client.request("POST", "/v1/ingest/web", body);
  CHECK(reply.status == 401);
  CHECK(reply.header("www-authenticate") == "Bearer");
  CHECK(
      client.request("POST", "/v1/ingest/web", body, {{"Authorization", "Bearer wrong"}}).status ==
      401);
  CHECK(client.request("POST", "/v1/ingest/web", body, {{"Authorization", "Bearer s3cret-toke"}})
            .status == 401);
  CHECK(client.request("POST", "/v1/ingest/web", body, {{"Authorization", "Basic s3cret-token"}})
            .status == 401);
  reply =
      client.request("POST", "/v1/ingest/web", body, {{"Authorization", "Bearer s3cret-token"}});
  CHECK(reply.status == 202);
  CHECK(sink.wait_for(1).size() == 1);
}

TEST_CASE("HTTP ingest answers 503 when the queue is full before logging anything",
          "[http][integration]") {
  TempDir dir;
  CollectingSink sink;
  {
    Ingest ingest(dir.path(), web_config(4));
    sink.block();
    ingest.source.start(sink, {});
    HttpClient client(ingest.server.port());

    CHECK(client.request("POST", "/v1/ingest/web", ndjson(0, 3)).status == 202);
    sink.wait_for_delivery(1);  // the source thread holds those 3 in a blocked deliver()
    CHECK(client.request("POST", "/v1/ingest/web", ndjson(3, 4)).status == 202);  // queue: 4/4
    auto reply = client.request("POST", "/v1/ingest/web", ndjson(7, 1));
    CHECK(reply.status == 503);
    CHECK(reply.header("retry-after") == "1");
    reply = client.request("POST", "/v1/ingest/web", ndjson(8, 5));
    CHECK(reply.status == 413);  // more than the queue can ever hold
    const auto status = ingest.source.status();
    CHECK(status.records_dropped == 1);
    CHECK(status.records_received == 7);

    sink.release();
    CHECK(sink.wait_for(7).size() == 7);
    CHECK(client.request("POST", "/v1/ingest/web", ndjson(20, 1)).status == 202);
    CHECK(sink.wait_for(8).size() == 8);
  }
  // The refused record never reached the log.
  CollectingSink replay;
  Ingest again(dir.path());
  again.source.start(replay, {});
  const auto records = replay.wait_for(8);
  REQUIRE(records.size() == 8);
  CHECK(bodies(records) == bodies(sink.records()));
}

TEST_CASE("HTTP ingest joins KServe request and response CloudEvents in either order",
          "[http][integration]") {
  TempDir dir;
  CollectingSink sink;
  Ingest ingest(dir.path());
  ingest.source.start(sink, {});
  HttpClient client(ingest.server.port());
  const std::string request_a = "{\"instances\":[[1.0,2.0],[3.0,4.0]]}";
  const std::string response_a = "{\"predictions\":[0,1]}";
  const std::string request_b = "{\"instances\":[[5.0,6.0]]}";
  const std::string response_b = "{\"predictions\":[1]}";

  auto reply = client.request("POST", "/v1/ingest/web", request_a, event(kRequestType, "id-a"));
  CHECK(reply.status == 202);
  CHECK(accepted(reply) == 1);
  CHECK(client.request("POST", "/v1/ingest/web", response_a, event(kResponseType, "id-a")).status ==
        202);
  // Response first this time.
  CHECK(client.request("POST", "/v1/ingest/web", response_b, event(kResponseType, "id-b")).status ==
        202);
  CHECK(client.request("POST", "/v1/ingest/web", request_b, event(kRequestType, "id-b")).status ==
        202);

  const auto records = sink.wait_for(2);
  REQUIRE(records.size() == 2);
  CHECK(records[0].body == request_a);
  CHECK(records[0].response == response_a);
  CHECK(records[0].headers.at("ce-id") == "id-a");
  CHECK(records[0].headers.at("ce-type") == kRequestType);
  CHECK(records[0].headers.at("ce-inferenceservicename") == "credit");
  CHECK(records[0].headers.count("content-type") == 0);
  CHECK(records[1].body == request_b);
  CHECK(records[1].response == response_b);
  CHECK(records[1].headers.at("ce-type") == kRequestType);
  // Each join also logs a marker entry (for replays), so positions count those too.
  const auto positions = sink.positions();
  REQUIRE(positions.size() >= 1);
  CHECK(positions.back().offset >= 4);
  CHECK(std::is_sorted(positions.begin(), positions.end(),
                       [](const auto& a, const auto& b) { return a.offset < b.offset; }));
  const auto stats = ingest.source.join_stats();
  CHECK(stats.joined == 2);
  CHECK(stats.pending == 0);
  CHECK(stats.orphan_requests == 0);
}

TEST_CASE("HTTP ingest delivers an orphan request after the join TTL and drops a lone response",
          "[http][integration]") {
  TempDir dir;
  CollectingSink sink;
  Ingest ingest(dir.path(), web_config(1000, 150ms));
  ingest.source.start(sink, {});
  HttpClient client(ingest.server.port());

  CHECK(client
            .request("POST", "/v1/ingest/web", "{\"predictions\":[7]}",
                     event(kResponseType, "lonely"))
            .status == 202);
  CHECK(
      client
          .request("POST", "/v1/ingest/web", "{\"instances\":[[9]]}", event(kRequestType, "orphan"))
          .status == 202);
  const auto begin = std::chrono::steady_clock::now();
  const auto records = sink.wait_for(1);
  REQUIRE(records.size() == 1);
  CHECK(std::chrono::steady_clock::now() - begin >= 100ms);
  CHECK(records[0].body == "{\"instances\":[[9]]}");
  CHECK(records[0].response.empty());
  CHECK(records[0].headers.at("ce-id") == "orphan");

  // A response arriving after its request expired is alone too: dropped.
  CHECK(client
            .request("POST", "/v1/ingest/web", "{\"predictions\":[9]}",
                     event(kResponseType, "orphan"))
            .status == 202);
  for (int i = 0; i < 200 && ingest.source.join_stats().dropped_responses < 2; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  const auto stats = ingest.source.join_stats();
  CHECK(stats.orphan_requests == 1);
  CHECK(stats.dropped_responses == 2);
  CHECK(stats.pending == 0);
  CHECK(sink.records().size() == 1);
}

TEST_CASE("HTTP ingest passes other CloudEvents through with their headers",
          "[http][integration]") {
  TempDir dir;
  CollectingSink sink;
  Ingest ingest(dir.path());
  ingest.source.start(sink, {});
  HttpClient client(ingest.server.port());

  auto reply =
      client.request("POST", "/v1/ingest/web", "{\"x\":1}", event("com.example.prediction", "e-1"));
  CHECK(reply.status == 202);
  const auto records = sink.wait_for(1);
  REQUIRE(records.size() == 1);
  CHECK(records[0].body == "{\"x\":1}");
  CHECK(records[0].headers.at("ce-type") == "com.example.prediction");
  CHECK(records[0].headers.at("ce-specversion") == "1.0");

  HttpHeaders no_id = event(kRequestType, "");
  no_id.erase(
      std::remove_if(no_id.begin(), no_id.end(), [](const auto& h) { return h.first == "Ce-Id"; }),
      no_id.end());
  reply = client.request("POST", "/v1/ingest/web", "{\"instances\":[]}", no_id);
  CHECK(reply.status == 400);
  CHECK_THAT(error_of(reply), Catch::Contains("ce-id"));
  reply = client.request("POST", "/v1/ingest/web", "{\"instances\":", event(kRequestType, "x"));
  CHECK(reply.status == 400);
  CHECK_THAT(error_of(reply), Catch::StartsWith("event data: "));
}

TEST_CASE("HTTP ingest replays its write-ahead log after a crash", "[http][integration]") {
  TempDir dir;
  std::vector<Copied> first_run;
  {
    CollectingSink sink;
    Ingest ingest(dir.path());
    ingest.source.start(sink, {});
    HttpClient client(ingest.server.port());
    CHECK(client.request("POST", "/v1/ingest/web", ndjson(0, 2)).status == 202);
    CHECK(client.request("POST", "/v1/ingest/web", ndjson(2, 3)).status == 202);
    // A request waiting for its response when the process dies.
    CHECK(
        client
            .request("POST", "/v1/ingest/web", "{\"instances\":[[1]]}", event(kRequestType, "late"))
            .status == 202);
    first_run = sink.wait_for(5);
    REQUIRE(first_run.size() == 5);
    // Gone without acknowledging anything.
  }

  SECTION("from the start, every record comes again") {
    CollectingSink sink;
    Ingest ingest(dir.path());
    ingest.source.start(sink, {});
    CHECK(bodies(sink.wait_for(5)) == bodies(first_run));
    // Past the waiting request too: it is found again by rescanning, not by position.
    CHECK(sink.positions().back().offset == 6);
  }
  SECTION("from a checkpointed position, nothing before it comes again") {
    CollectingSink sink;
    Ingest ingest(dir.path());
    const SourcePosition resume{"web", "wal", 2};
    ingest.source.start(sink, std::span(&resume, 1));
    const auto records = sink.wait_for(3);
    const auto sent = bodies(first_run);
    CHECK(bodies(records) == std::vector<std::string>(sent.begin() + 2, sent.end()));
    // The join state came back too: the late response still finds its request.
    HttpClient client(ingest.server.port());
    CHECK(client
              .request("POST", "/v1/ingest/web", "{\"predictions\":[1]}",
                       event(kResponseType, "late"))
              .status == 202);
    const auto all = sink.wait_for(4);
    REQUIRE(all.size() == 4);
    CHECK(all[3].body == "{\"instances\":[[1]]}");
    CHECK(all[3].response == "{\"predictions\":[1]}");
    CHECK(sink.positions().back().offset == 7);
  }
  SECTION("past every record, only new ones come") {
    CollectingSink sink;
    Ingest ingest(dir.path());
    const SourcePosition resume{"web", "wal", 6};
    ingest.source.start(sink, std::span(&resume, 1));
    HttpClient client(ingest.server.port());
    CHECK(client.request("POST", "/v1/ingest/web", "{\"new\":1}").status == 202);
    const auto records = sink.wait_for(1);
    REQUIRE(records.size() == 1);
    CHECK(records[0].body == "{\"new\":1}");
    CHECK(sink.positions().back().offset == 7);
  }
}

TEST_CASE("HTTP ingest truncates a torn log tail and keeps the good entries",
          "[http][integration]") {
  TempDir dir;
  {
    CollectingSink sink;
    Ingest ingest(dir.path());
    ingest.source.start(sink, {});
    HttpClient client(ingest.server.port());
    CHECK(client.request("POST", "/v1/ingest/web", ndjson(0, 3)).status == 202);
    CHECK(sink.wait_for(3).size() == 3);
  }
  const auto files = segments(dir.path());
  REQUIRE(files.size() == 1);
  const auto good_size = std::filesystem::file_size(files[0]);

  SECTION("half an entry at the end") {
    std::ofstream(files[0], std::ios::binary | std::ios::app)
        << std::string("\x40\x00\x00\x00\x12\x34\x56\x78\x03\x00", 10);
  }
  SECTION("garbage that claims a huge length") {
    std::ofstream(files[0], std::ios::binary | std::ios::app) << std::string(40, '\xff');
  }
  SECTION("a whole entry with a bad checksum") {
    // Copy the last good entry's bytes with seq 3 and one payload byte flipped.
    std::string data;
    {
      std::ifstream in(files[0], std::ios::binary);
      data.assign(std::istreambuf_iterator<char>(in), {});
    }
    const std::string last_line = "{\"id\":2,\"x\":0.5}";
    const auto body_at = data.rfind(last_line);
    REQUIRE(body_at != std::string::npos);
    // Entries are 16 header bytes + 19 fixed payload bytes + body.
    const auto entry_at = body_at - 16 - 19;
    std::string entry = data.substr(entry_at);
    entry[8] = 3;        // seq 3, the next expected one
    entry.back() = '0';  // corrupt the body: the CRC no longer matches
    std::ofstream(files[0], std::ios::binary | std::ios::app) << entry;
  }
  CHECK(std::filesystem::file_size(files[0]) > good_size);

  CollectingSink sink;
  Ingest ingest(dir.path());
  CHECK(std::filesystem::file_size(files[0]) == good_size);
  CHECK_THAT(ingest.source.status().last_error, Catch::Contains("torn tail"));
  ingest.source.start(sink, {});
  CHECK(bodies(sink.wait_for(3)) == std::vector<std::string>{"{\"id\":0,\"x\":0.5}",
                                                             "{\"id\":1,\"x\":0.5}",
                                                             "{\"id\":2,\"x\":0.5}"});
  HttpClient client(ingest.server.port());
  CHECK(client.request("POST", "/v1/ingest/web", "{\"after\":1}").status == 202);
  const auto records = sink.wait_for(4);
  REQUIRE(records.size() == 4);
  CHECK(records[3].body == "{\"after\":1}");
  CHECK(sink.positions().back().offset == 4);
}

TEST_CASE("HTTP ingest deletes log segments once a checkpoint covers them", "[http][integration]") {
  TempDir dir;
  HttpIngestSource::Options options;
  options.wal_segment_bytes = 200;  // three small records per segment
  SourcePosition resume;
  {
    CollectingSink sink;
    Ingest ingest(dir.path(), web_config(1000, 60s), {}, options);
    ingest.source.start(sink, {});
    HttpClient client(ingest.server.port());
    for (int i = 0; i < 10; ++i) {
      CHECK(client.request("POST", "/v1/ingest/web", ndjson(i, 1)).status == 202);
    }
    // A request still waiting for its response must survive the trimming.
    CHECK(client
              .request("POST", "/v1/ingest/web", "{\"instances\":[[1]]}",
                       event(kRequestType, "waiting"))
              .status == 202);
    for (int i = 10; i < 20; ++i) {
      CHECK(client.request("POST", "/v1/ingest/web", ndjson(i, 1)).status == 202);
    }
    REQUIRE(sink.wait_for(20).size() == 20);
    const auto before = segments(dir.path()).size();
    CHECK(before >= 8);

    ingest.source.acknowledge(sink.positions());
    const auto after = segments(dir.path());
    CHECK(after.size() < before);
    CHECK(after.size() > 1);  // the waiting request's segment and those after it stay
    resume = sink.positions().back();
    CHECK(resume.offset == 21);
  }
  // A restart from the checkpoint still joins the waiting request.
  CollectingSink again;
  Ingest restarted(dir.path(), web_config(1000, 60s), {}, options);
  restarted.source.start(again, std::span(&resume, 1));
  HttpClient client2(restarted.server.port());
  CHECK(client2
            .request("POST", "/v1/ingest/web", "{\"predictions\":[0]}",
                     event(kResponseType, "waiting"))
            .status == 202);
  const auto records = again.wait_for(1);
  REQUIRE(records.size() == 1);
  CHECK(records[0].body == "{\"instances\":[[1]]}");
  CHECK(records[0].response == "{\"predictions\":[0]}");
}

TEST_CASE("HTTP ingest commits concurrent requests in groups and all of them are durable",
          "[http][integration]") {
  TempDir dir;
  constexpr int kClients = 8;
  constexpr int kRequests = 25;
  constexpr int kRecords = 10;
  std::set<std::string> sent;
  {
    CollectingSink sink;
    Ingest ingest(dir.path(), web_config(), {}, {}, kClients);
    ingest.source.start(sink, {});
    std::vector<std::future<int>> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.push_back(std::async(std::launch::async, [&, c] {
        HttpClient client(ingest.server.port());
        int ok = 0;
        for (int r = 0; r < kRequests; ++r) {
          const auto reply = client.request("POST", "/v1/ingest/web",
                                            ndjson((c * kRequests + r) * kRecords, kRecords));
          if (reply.status == 202 && accepted(reply) == kRecords) ++ok;
        }
        return ok;
      }));
    }
    int ok = 0;
    for (auto& f : clients) ok += f.get();
    CHECK(ok == kClients * kRequests);
    const auto records = sink.wait_for(kClients * kRequests * kRecords);
    CHECK(records.size() == kClients * kRequests * kRecords);
    for (const auto& r : records) sent.insert(r.body);
    CHECK(sent.size() == kClients * kRequests * kRecords);
    const auto syncs = ingest.source.wal_syncs();
    INFO("fdatasyncs: " << syncs << " for " << kClients * kRequests << " requests");
    CHECK(syncs <= kClients * kRequests);
    CHECK(syncs < kClients * kRequests);  // some requests shared a sync
    CHECK(sink.max_batch() <= 1000);
  }
  // Every acknowledged record is in the log.
  CollectingSink replay;
  Ingest again(dir.path());
  again.source.start(replay, {});
  const auto records = replay.wait_for(kClients * kRequests * kRecords);
  std::set<std::string> replayed;
  for (const auto& r : records) replayed.insert(r.body);
  CHECK(replayed == sent);
}

TEST_CASE("HTTP ingest delivers in batches of bounded size", "[http][integration]") {
  TempDir dir;
  HttpIngestSource::Options options;
  options.max_batch_records = 100;
  {
    CollectingSink sink;
    Ingest ingest(dir.path(), web_config(), {}, options);
    ingest.source.start(sink, {});
    HttpClient client(ingest.server.port());
    CHECK(client.request("POST", "/v1/ingest/web", ndjson(0, 350)).status == 202);
    CHECK(sink.wait_for(350).size() == 350);
    CHECK(sink.max_batch() <= 100);
  }
  CollectingSink replay;
  Ingest again(dir.path(), web_config(), {}, options);
  again.source.start(replay, {});
  CHECK(replay.wait_for(350).size() == 350);
  CHECK(replay.max_batch() == 100);
  CHECK(replay.positions().back().offset == 350);
}

TEST_CASE("HTTP ingest refuses a log folder that another source holds", "[http][unit]") {
  TempDir dir;
  HttpIngestSource first(web_config(), dir.path(), "");
  CHECK_THROWS_WITH(HttpIngestSource(web_config(), dir.path(), ""),
                    Catch::Contains(dir.path()) && Catch::Contains("another driftd"));
}

TEST_CASE("HTTP ingest refuses requests until started and after stopped", "[http][unit]") {
  TempDir dir;
  HttpIngestSource source(web_config(), dir.path(), "");
  HttpRequest request;
  request.method = "POST";
  request.path = "/v1/ingest/web";
  request.body = "{\"a\":1}";
  auto response = source.handle(request);
  CHECK(response.status == 503);
  CHECK_FALSE(source.status().connected);
  CollectingSink sink;
  source.start(sink, {});
  CHECK(source.status().connected);
  CHECK(source.handle(request).status == 202);
  source.stop();
  CHECK(source.handle(request).status == 503);
  CHECK(sink.records().size() == 1);
}

TEST_CASE("HTTP ingest measures its loopback rate", "[.][bench][http_bench]") {
  const std::string body = ndjson(0, 100);
  constexpr int kRequests = 2000;
  for (const int clients : {1, 8}) {
    TempDir dir;
    CollectingSink sink;
    Ingest ingest(dir.path(), web_config(), {}, {}, clients);
    ingest.source.start(sink, {});
    const auto begin = std::chrono::steady_clock::now();
    std::vector<std::future<void>> running;
    for (int c = 0; c < clients; ++c) {
      running.push_back(std::async(std::launch::async, [&] {
        HttpClient client(ingest.server.port());
        for (int i = 0; i < kRequests / clients; ++i) {
          if (client.request("POST", "/v1/ingest/web", body).status != 202) {
            throw std::runtime_error("not accepted");
          }
        }
      }));
    }
    for (auto& r : running) r.get();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    WARN(clients << " client(s), NDJSON batches of 100 records: " << kRequests / seconds
                 << " requests/s, " << kRequests * 100 / seconds << " records/s, "
                 << ingest.source.wal_syncs() << " fdatasyncs for " << kRequests << " requests");
    CHECK(sink.wait_for(kRequests * 100).size() == kRequests * 100);
  }
}
