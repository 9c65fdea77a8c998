// Integration tests of the Kafka source against librdkafka's in-process mock cluster.
// Each test owns its cluster and group ids; the mock's first group join takes ~3 s, so the
// suite keeps joins few. The throughput comparison is hidden: `daemon_tests "[kafka-bench]"`.
#include <catch2/catch.hpp>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "server/pipeline.h"
#include "sources/kafka_source.h"

using drift::daemon::Header;
using drift::daemon::KafkaSource;
using drift::daemon::RawRecord;
using drift::daemon::RecordSink;
using drift::daemon::SourceConfig;
using drift::daemon::SourcePosition;
using drift::daemon::SourceType;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

/// Polls `done` until it holds or `timeout` passes; returns its last value.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 20s) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  static const auto seed = std::random_device{}();
  return prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(seed % 100000) + "-" +
         std::to_string(counter++);
}

/// A three-broker mock cluster hosted by a producer handle that the tests produce with.
class MockCluster {
 public:
  MockCluster() {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char errstr[512];
    REQUIRE(rd_kafka_conf_set(conf, "test.mock.num.brokers", "3", errstr, sizeof errstr) ==
            RD_KAFKA_CONF_OK);
    REQUIRE(rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof errstr) == RD_KAFKA_CONF_OK);
    REQUIRE(rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr) == RD_KAFKA_CONF_OK);
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    REQUIRE(producer_ != nullptr);
    cluster_ = rd_kafka_handle_mock_cluster(producer_);
    REQUIRE(cluster_ != nullptr);
    bootstraps_ = rd_kafka_mock_cluster_bootstraps(cluster_);
  }
  ~MockCluster() { rd_kafka_destroy(producer_); }
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  const std::string& bootstraps() const { return bootstraps_; }
  rd_kafka_mock_cluster_t* cluster() const { return cluster_; }

  void create_topic(const std::string& topic, int partitions) {
    REQUIRE(rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 3) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  void produce(const std::string& topic, std::int32_t partition, const std::string& key,
               const std::string& value,
               const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    std::vector<rd_kafka_vu_t> args(5 + headers.size());
    args[0].vtype = RD_KAFKA_VTYPE_TOPIC;
    args[0].u.cstr = topic.c_str();
    args[1].vtype = RD_KAFKA_VTYPE_PARTITION;
    args[1].u.i32 = partition;
    args[2].vtype = RD_KAFKA_VTYPE_KEY;
    args[2].u.mem.ptr = const_cast<char*>(key.data());
    args[2].u.mem.size = key.size();
    args[3].vtype = RD_KAFKA_VTYPE_VALUE;
    args[3].u.mem.ptr = const_cast<char*>(value.data());
    args[3].u.mem.size = value.size();
    args[4].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    args[4].u.i = RD_KAFKA_MSG_F_COPY;
    for (std::size_t i = 0; i < headers.size(); ++i) {
      rd_kafka_vu_t& h = args[5 + i];
      h.vtype = RD_KAFKA_VTYPE_HEADER;
      h.u.header.name = headers[i].first.c_str();
      h.u.header.val = headers[i].second.data();
      h.u.header.size = static_cast<ssize_t>(headers[i].second.size());
    }
    for (;;) {
      rd_kafka_error_t* error = rd_kafka_produceva(producer_, args.data(), args.size());
      if (error == nullptr) return;
      const bool full = rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__QUEUE_FULL;
      const std::string what = rd_kafka_error_string(error);
      rd_kafka_error_destroy(error);
      if (!full) FAIL("produce failed: " << what);
      rd_kafka_poll(producer_, 10);
    }
  }

  void flush() { REQUIRE(rd_kafka_flush(producer_, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR); }

  /// Reads `count` messages of `topic` partition 0 from the beginning (assigned, no join).
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> read(
      const std::string& topic, std::size_t count) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char errstr[512];
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps_.c_str(), errstr, sizeof errstr);
    // consumer_poll needs a group.id even when partitions are assigned directly (no join).
    rd_kafka_conf_set(conf, "group.id", unique_name("reader").c_str(), errstr, sizeof errstr);
    rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    REQUIRE(consumer != nullptr);
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(consumer, list);
    rd_kafka_topic_partition_list_destroy(list);
    std::vector<std::pair<std::string, std::map<std::string, std::string>>> out;
    const auto deadline = Clock::now() + 20s;
    while (out.size() < count && Clock::now() < deadline) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::map<std::string, std::string> headers;
        rd_kafka_headers_t* hdrs = nullptr;
        if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          const char* name = nullptr;
          const void* value = nullptr;
          std::size_t size = 0;
          for (std::size_t i = 0;
               rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
               ++i) {
            headers[name] = std::string(static_cast<const char*>(value), size);
          }
        }
        out.emplace_back(std::string(static_cast<const char*>(m->payload), m->len), headers);
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    return out;
  }

 private:
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstraps_;
};

struct CopiedRecord {
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::int64_t arrival_ms = 0;
};

/// Copies what it is given (the views die when deliver returns).
class CollectingSink final : public RecordSink {
 public:
  void deliver(std::string_view source, std::span<const RawRecord> records,
               std::span<const SourcePosition> positions) override {
    std::lock_guard lock(mu_);
    for (const RawRecord& r : records) {
      CopiedRecord c;
      c.body = std::string(r.body);
      for (const Header& h : r.headers) c.headers.emplace_back(h.name, h.value);
      c.arrival_ms = r.arrival_ms;
      records_.push_back(std::move(c));
    }
    for (const SourcePosition& p : positions) {
      CHECK(p.source == source);
      auto [it, inserted] = positions_.emplace(p.stream, p.offset);
      if (!inserted) {
        CHECK(p.offset > it->second);  // positions only move forward
        it->second = p.offset;
      }
    }
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return records_.size();
  }
  std::vector<CopiedRecord> records() const {
    std::lock_guard lock(mu_);
    return records_;
  }
  std::map<std::string, std::int64_t> positions() const {
    std::lock_guard lock(mu_);
    return positions_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<CopiedRecord> records_;
  std::map<std::string, std::int64_t> positions_;
};

/// CPU time of the calling thread, in seconds.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// A sink that only counts, for throughput; it runs on the source's thread, so it also reads
/// that thread's CPU time.
class CountingSink final : public RecordSink {
 public:
  void deliver(std::string_view, std::span<const RawRecord> records,
               std::span<const SourcePosition>) override {
    if (count.load(std::memory_order_relaxed) == 0) {
      first = Clock::now();
      first_cpu = thread_cpu_seconds();
    }
    const auto n = count.fetch_add(records.size(), std::memory_order_relaxed) + records.size();
    if (n >= target) {
      last = Clock::now();
      last_cpu = thread_cpu_seconds();
    }
  }
  std::atomic<std::size_t> count{0};
  std::size_t target = 0;
  Clock::time_point first{};
  Clock::time_point last{};
  double first_cpu = 0;
  double last_cpu = 0;
};

SourceConfig kafka_config(const MockCluster& mock, const std::string& topic,
                          const std::string& group) {
  SourceConfig c;
  c.name = "orders";
  c.type = SourceType::kKafka;
  c.brokers = mock.bootstraps();
  c.topics = {topic};
  c.group_id = group;
  c.kafka = {{"auto.offset.reset", "earliest"},
             {"session.timeout.ms", "4000"},
             {"heartbeat.interval.ms", "500"},
             {"statistics.interval.ms", "200"},
             {"auto.commit.interval.ms", "200"}};
  return c;
}

std::string body_of(int partition, int index) {
  return "{\"partition\":" + std::to_string(partition) + ",\"index\":" + std::to_string(index) +
         ",\"amount\":" + std::to_string(index * 1.5) + "}";
}

/// Produces `per_partition` messages to each partition; bodies name their partition and index.
void preload(MockCluster& mock, const std::string& topic, int partitions, int per_partition) {
  for (int i = 0; i < per_partition; ++i) {
    for (int p = 0; p < partitions; ++p) {
      mock.produce(topic, p, "key-" + std::to_string(i), body_of(p, i));
    }
  }
  mock.flush();
}

std::multiset<std::string> bodies(const std::vector<CopiedRecord>& records) {
  std::multiset<std::string> out;
  for (const auto& r : records) out.insert(r.body);
  return out;
}

}  // namespace

TEST_CASE("Kafka source consumes keyed JSON messages with headers, per-partition positions and lag",
          "[kafka][integration]") {
  MockCluster mock;
  const std::string topic = unique_name("preds");
  mock.create_topic(topic, 6);
  std::multiset<std::string> expected;
  for (int i = 0; i < 60; ++i) {
    const int p = i % 6;
    const std::string body = body_of(p, i / 6);
    mock.produce(
        topic, p, "request-" + std::to_string(i), body,
        {{"CE-Type", "org.kubeflow.serving.inference.request"}, {"ce-id", std::to_string(i)}});
    expected.insert(body);
  }
  mock.flush();

  KafkaSource source(kafka_config(mock, topic, unique_name("grp")));
  CHECK(source.name() == "orders");
  CHECK(source.mock_bootstrap_servers().empty());
  CollectingSink sink;
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  source.start(sink, {});
  REQUIRE(eventually([&] { return sink.size() >= 60; }));

  const auto records = sink.records();
  CHECK(records.size() == 60);
  CHECK(bodies(records) == expected);
  for (const auto& r : records) {
    REQUIRE(r.headers.size() == 2);
    CHECK(r.headers[0].first == "ce-type");  // lower-cased
    CHECK(r.headers[0].second == "org.kubeflow.serving.inference.request");
    CHECK(r.headers[1].first == "ce-id");
    CHECK(r.arrival_ms >= before);
  }
  std::map<std::string, std::int64_t> ends;
  for (int p = 0; p < 6; ++p) ends[topic + "/" + std::to_string(p)] = 10;
  CHECK(sink.positions() == ends);

  auto status = source.status();
  CHECK(status.type == "kafka");
  CHECK(status.connected);
  CHECK(status.records_received == 60);
  CHECK(status.bytes_received > 60 * 30);

  // Acknowledge offset 4 everywhere (and a position of another source, which is ignored):
  // auto-commit commits it, and the statistics then show 6 messages of lag per partition.
  std::vector<SourcePosition> durable;
  for (int p = 0; p < 6; ++p) durable.push_back({"orders", topic + "/" + std::to_string(p), 4});
  durable.push_back({"other", topic + "/0", 9});
  source.acknowledge(durable);
  REQUIRE(eventually([&] { return source.status().lag == 36; }));
  const auto lags = source.partition_lags();
  CHECK(lags.size() == 6);
  for (const auto& [stream, lag] : lags) CHECK(lag == 6);

  source.stop();
  CHECK(source.status().last_error.empty());
}

TEST_CASE("Kafka source resumes from given positions and re-reads nothing before them",
          "[kafka][integration]") {
  MockCluster mock;
  const std::string topic = unique_name("preds");
  mock.create_topic(topic, 4);
  preload(mock, topic, 4, 10);

  SourceConfig config = kafka_config(mock, topic, unique_name("grp"));
  config.dead_letter_topic = unique_name("dead");
  mock.create_topic(config.dead_letter_topic, 1);
  KafkaSource source(config);
  CollectingSink sink;
  const std::vector<SourcePosition> resume = {
      {"orders", topic + "/0", 5},     // the second half
      {"orders", topic + "/1", 10},    // all of it was checkpointed
      {"orders", topic + "/2", 0},     // from the start
      {"elsewhere", topic + "/3", 9},  // another source's: ignored (partition 3 from committed)
  };
  source.start(sink, resume);
  const std::map<std::string, std::int64_t> ends = {
      {topic + "/0", 10}, {topic + "/2", 10}, {topic + "/3", 10}};
  REQUIRE(eventually([&] { return sink.positions() == ends; }));

  std::multiset<std::string> expected;
  for (int i = 5; i < 10; ++i) expected.insert(body_of(0, i));
  for (int p = 2; p < 4; ++p) {
    for (int i = 0; i < 10; ++i) expected.insert(body_of(p, i));
  }
  CHECK(bodies(sink.records()) == expected);

  source.dead_letter("{not json", "invalid_json");
  source.stop();
  const auto dead = mock.read(config.dead_letter_topic, 1);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].first == "{not json");
  CHECK(dead[0].second.at("driftd-reason") == "invalid_json");
  CHECK(dead[0].second.at("driftd-source") == "orders");
}

TEST_CASE(
    "Kafka source commits acknowledged offsets: a new consumer in the group starts after them",
    "[kafka][integration]") {
  MockCluster mock;
  const std::string topic = unique_name("preds");
  mock.create_topic(topic, 3);
  preload(mock, topic, 3, 10);
  const std::string group = unique_name("grp");

  {
    // No periodic commit within the test: only leaving the group can commit the offsets.
    SourceConfig config = kafka_config(mock, topic, group);
    config.kafka["auto.commit.interval.ms"] = "600000";
    KafkaSource first(config);
    CollectingSink sink;
    first.start(sink, {});
    REQUIRE(eventually([&] { return sink.size() >= 30; }));
    first.acknowledge(std::vector<SourcePosition>{
        {"orders", topic + "/0", 7}, {"orders", topic + "/1", 10}, {"orders", topic + "/2", 3}});
    first.stop();
    CHECK(first.status().last_error.empty());
  }

  KafkaSource second(kafka_config(mock, topic, group));
  CollectingSink sink;
  second.start(sink, {});
  const std::map<std::string, std::int64_t> ends = {{topic + "/0", 10}, {topic + "/2", 10}};
  REQUIRE(eventually([&] { return sink.positions() == ends; }));
  std::multiset<std::string> expected;
  for (int i = 7; i < 10; ++i) expected.insert(body_of(0, i));
  for (int i = 3; i < 10; ++i) expected.insert(body_of(2, i));
  CHECK(bodies(sink.records()) == expected);
  second.stop();
}

TEST_CASE("Kafka source survives its brokers going down and up and shows the error (eager)",
          "[kafka][integration]") {
  MockCluster mock;
  const std::string topic = unique_name("preds");
  mock.create_topic(topic, 3);
  preload(mock, topic, 3, 4);

  SourceConfig config = kafka_config(mock, topic, unique_name("grp"));
  // The eager protocol here (assign / assign(NULL)); the other tests run cooperative-sticky.
  config.kafka["partition.assignment.strategy"] = "range";
  config.kafka["reconnect.backoff.ms"] = "50";
  config.kafka["reconnect.backoff.max.ms"] = "200";
  KafkaSource source(config);
  CollectingSink sink;
  source.start(sink, {});
  REQUIRE(eventually([&] { return sink.size() >= 12; }));
  REQUIRE(source.status().connected);

  for (int broker = 1; broker <= 3; ++broker) {
    REQUIRE(rd_kafka_mock_broker_set_down(mock.cluster(), broker) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  REQUIRE(eventually([&] {
    const auto s = source.status();
    return !s.connected && !s.last_error.empty();
  }));
  CHECK(source.error_count() > 0);
  INFO(source.status().last_error);

  for (int broker = 1; broker <= 3; ++broker) {
    REQUIRE(rd_kafka_mock_broker_set_up(mock.cluster(), broker) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  preload(mock, topic, 3, 4);
  REQUIRE(eventually([&] { return sink.size() >= 24; }, 30s));
  CHECK(eventually([&] { return source.status().connected; }));
  CHECK(sink.size() == 24);
  source.stop();
}

TEST_CASE("Kafka source rejects bad properties at construction with the key path", "[kafka]") {
  SourceConfig c;
  c.name = "orders";
  c.type = SourceType::kKafka;
  c.brokers = "127.0.0.1:1";
  c.topics = {"preds"};
  c.group_id = "g";
  c.kafka = {{"no.such.property", "1"}};
  CHECK_THROWS_WITH(KafkaSource(c), Catch::StartsWith("sources.orders.kafka.no.such.property: "));
  c.kafka.clear();
  c.topics.clear();
  CHECK_THROWS_WITH(KafkaSource(c), Catch::StartsWith("sources.orders.topics: "));
  c.topics = {"preds"};
  c.group_id.clear();
  CHECK_THROWS_WITH(KafkaSource(c), Catch::StartsWith("sources.orders.group_id: "));
}

TEST_CASE("mockkafka prints its bootstrap servers, serves its topics and exits on SIGTERM",
          "[kafka][integration]") {
  // The program sits beside daemon_tests' driftd: <build>/daemon/driftd, <build>/tests/mockkafka.
  const auto program =
      std::filesystem::path(DRIFTD_BINARY).parent_path().parent_path() / "tests" / "mockkafka";
  if (!std::filesystem::exists(program)) {
    WARN("not built: " << program.string());
    return;
  }
  int out[2];
  REQUIRE(pipe(out) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  const std::string path = program.string();
  std::vector<std::string> argv = {path,      "--brokers", "2",      "--topic",
                                   "preds:7", "--topic",   "other:1"};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, path.c_str(), &actions, nullptr, args.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);

  std::string line;
  const auto deadline = Clock::now() + 10s;
  while (line.find('\n') == std::string::npos && Clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[256];
    const ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<std::size_t>(n));
  }
  REQUIRE(line.find('\n') != std::string::npos);
  const std::string bootstraps = line.substr(0, line.find('\n'));
  CHECK(std::count(bootstraps.begin(), bootstraps.end(), ',') == 1);  // two brokers

  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), errstr, sizeof errstr);
  rd_kafka_t* client = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  REQUIRE(client != nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  REQUIRE(rd_kafka_metadata(client, 1, nullptr, &metadata, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  std::map<std::string, int> partitions;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    partitions[metadata->topics[i].topic] = metadata->topics[i].partition_cnt;
  }
  CHECK(metadata->broker_cnt == 2);
  rd_kafka_metadata_destroy(metadata);
  rd_kafka_destroy(client);
  CHECK(partitions == std::map<std::string, int>{{"other", 1}, {"preds", 7}});

  REQUIRE(kill(pid, SIGTERM) == 0);
  int status = 0;
  const auto exit_deadline = Clock::now() + 10s;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() >= exit_deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      FAIL("mockkafka did not exit on SIGTERM");
    }
    std::this_thread::sleep_for(10ms);
  }
  close(out[0]);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

// Throughput: KafkaSource with a sink that does nothing vs a bare librdkafka poll loop, both
// reading the same preloaded topic (450-byte messages) through a consumer group. Wall-clock
// rates depend on how fast the in-process mock brokers serve fetches; the consuming thread's
// CPU time per record is the cost the source itself adds. Hidden: `daemon_tests "[kafka-bench]"`.
TEST_CASE("Kafka source consume rate matches a bare librdkafka loop", "[.][kafka-bench]") {
  constexpr int kPartitions = 64;
  constexpr std::size_t kMessages = 600000;
  // Room for the whole topic in the prefetch queue. With the defaults (100000 messages,
  // 64 MiB) a fast consumer drains the queue, fetching has paused at the threshold, and
  // librdkafka 2.0.2 resumes it only ~1 s later: that pause, not the consumer, then sets the
  // wall-clock rate.
  static constexpr const char* kQueueKbytes = "1048576";
  static constexpr const char* kQueueMessages = "1000000";
  MockCluster mock;
  const std::string topic = unique_name("bench");
  mock.create_topic(topic, kPartitions);
  std::string body = "{\"model\":\"credit\",\"features\":{";
  for (int f = 0; body.size() < 420; ++f) {
    body += "\"f" + std::to_string(f) + "\":" + std::to_string(f * 0.123456) + ",";
  }
  body += "\"id\":\"";
  while (body.size() < 448) body += 'x';
  body += "\"}";
  REQUIRE(body.size() == 450);
  const auto produce_start = Clock::now();
  for (std::size_t i = 0; i < kMessages; ++i) {
    mock.produce(topic, static_cast<std::int32_t>(i % kPartitions), std::to_string(i), body);
  }
  mock.flush();
  const double produce_s = std::chrono::duration<double>(Clock::now() - produce_start).count();
  std::printf("preloaded %zu x %zu B in %.2f s\n", kMessages, body.size(), produce_s);

  struct Rate {
    double per_second;
    double cpu_ns_per_record;
  };

  auto bare = [&] {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char errstr[512];
    const std::string group = unique_name("bare");
    const std::pair<const char*, const char*> props[] = {
        {"bootstrap.servers", mock.bootstraps().c_str()},
        {"group.id", group.c_str()},
        {"auto.offset.reset", "earliest"},
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"enable.auto.offset.store", "false"},
        {"session.timeout.ms", "4000"},
        {"heartbeat.interval.ms", "500"},
        {"queued.max.messages.kbytes", kQueueKbytes},
        {"queued.min.messages", kQueueMessages}};
    for (const auto& [k, v] : props) {
      REQUIRE(rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) == RD_KAFKA_CONF_OK);
    }
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    REQUIRE(rk != nullptr);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    std::size_t n = 0;
    std::size_t bytes = 0;
    Clock::time_point first{};
    double first_cpu = 0;
    const auto deadline = Clock::now() + 120s;
    while (n < kMessages) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
      if (m == nullptr) {
        if (Clock::now() >= deadline) break;
        continue;
      }
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (n++ == 0) {
          first = Clock::now();
          first_cpu = thread_cpu_seconds();
        }
        bytes += m->len;
      }
      rd_kafka_message_destroy(m);
    }
    const double s = std::chrono::duration<double>(Clock::now() - first).count();
    const double cpu = thread_cpu_seconds() - first_cpu;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    REQUIRE(n == kMessages);
    return Rate{static_cast<double>(n - 1) / s, cpu * 1e9 / static_cast<double>(n - 1)};
  };

  auto source_rate = [&] {
    SourceConfig config = kafka_config(mock, topic, unique_name("src"));
    config.kafka["queued.max.messages.kbytes"] = kQueueKbytes;
    config.kafka["queued.min.messages"] = kQueueMessages;
    config.kafka.erase("statistics.interval.ms");  // driftd's defaults, not the tests' 200 ms
    config.kafka.erase("auto.commit.interval.ms");
    KafkaSource source(config);
    CountingSink sink;
    sink.target = kMessages;
    source.start(sink, {});
    REQUIRE(eventually([&] { return sink.count.load() >= kMessages; }, 120s));
    source.stop();
    REQUIRE(sink.count.load() == kMessages);
    const double s = std::chrono::duration<double>(sink.last - sink.first).count();
    return Rate{static_cast<double>(kMessages) / s,
                (sink.last_cpu - sink.first_cpu) * 1e9 / static_cast<double>(kMessages)};
  };

  // Alternating rounds; medians are the result (single rounds vary with the mock's fetches).
  std::vector<double> bare_rates, bare_cpu, source_rates, source_cpu;
  for (int round = 0; round < 5; ++round) {
    const Rate b = bare();
    const Rate s = source_rate();
    bare_rates.push_back(b.per_second);
    bare_cpu.push_back(b.cpu_ns_per_record);
    source_rates.push_back(s.per_second);
    source_cpu.push_back(s.cpu_ns_per_record);
    std::printf(
        "round %d: bare loop %.0f records/s (%.0f ns CPU/record), KafkaSource %.0f records/s "
        "(%.0f ns CPU/record)\n",
        round, b.per_second, b.cpu_ns_per_record, s.per_second, s.cpu_ns_per_record);
  }
  for (auto* v : {&bare_rates, &bare_cpu, &source_rates, &source_cpu}) {
    std::sort(v->begin(), v->end());
  }
  std::printf(
      "median: bare loop %.0f records/s (%.0f ns CPU/record), KafkaSource %.0f records/s (%.0f "
      "ns CPU/record); rate ratio %.2f\n",
      bare_rates[2], bare_cpu[2], source_rates[2], source_cpu[2], source_rates[2] / bare_rates[2]);
}

TEST_CASE("Kafka source leaves headers unread when no model needs them", "[kafka][integration]") {
  MockCluster mock;
  const std::string topic = unique_name("preds");
  mock.create_topic(topic, 2);
  for (int i = 0; i < 20; ++i) {
    mock.produce(topic, i % 2, "k" + std::to_string(i), body_of(i % 2, i / 2),
                 {{"ce-type", "org.kubeflow.serving.inference.request"}});
  }
  mock.flush();
  KafkaSource source(kafka_config(mock, topic, unique_name("grp")));
  source.set_headers_needed(false);
  CollectingSink sink;
  source.start(sink, {});
  REQUIRE(eventually([&] { return sink.size() >= 20; }));
  for (const auto& r : sink.records()) CHECK(r.headers.empty());
  source.stop();
}

TEST_CASE("Headers are needed by KServe formats and header match rules only", "[kafka][unit]") {
  const auto config = drift::daemon::parse_config(R"yaml(
state: {dir: /tmp/driftd}
sources:
  - {name: flat, type: kafka, brokers: "b:9092", topics: [t], group_id: g}
  - {name: routed, type: kafka, brokers: "b:9092", topics: [t], group_id: g}
  - {name: kserve, type: http, format: kserve-v1}
models:
  - name: a
    sources: [flat]
    match: {pointer: /model, equals: a}
    features: [{name: x, pointer: /x}]
    reference: {bootstrap: 10}
    window: {size: 10}
  - name: b
    sources: [routed]
    match: {header: ce-inferenceservicename, equals: b}
    features: [{name: x, pointer: /x}]
    reference: {bootstrap: 10}
    window: {size: 10}
)yaml");
  CHECK_FALSE(drift::daemon::source_needs_headers(config, "flat"));
  CHECK(drift::daemon::source_needs_headers(config, "routed"));
  CHECK(drift::daemon::source_needs_headers(config, "kserve"));
}
