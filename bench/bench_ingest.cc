// Ingest throughput through the whole path — Kafka (librdkafka's mock cluster, in process) →
// KafkaSource → decode → window append — beside a bare librdkafka consumer that does no work,
// on the same preloaded topic in the same run. Records: 20 numeric + 4 categorical features of
// flat JSON (~450 bytes). Prints each round, the medians, and the process's CPU time per
// record on each side (steadier than rates when other work shares the machine). Also reports
// peak RSS for the window size used.
//
//   bench_ingest [--records 400000] [--partitions 64] [--window 100000] [--cpus 1|2] [--rounds 5]
//                [--bare 0|1] [--fresh-pipeline 0|1] [--prefetch deep|librdkafka] [--json FILE]
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "bench_common.h"
#include "drift/detectors/backend.h"
#include "server/pipeline.h"
#include "sources/kafka_source.h"

using namespace drift::daemon;
using Clock = std::chrono::steady_clock;

namespace {

/// The prefetch queue's bounds both consumers get. `deep` (the default: 1,000,000 messages,
/// 1 GiB): the whole topic fits in librdkafka's queue. `librdkafka`: its defaults (100,000
/// messages, 64 MiB), which driftd keeps. librdkafka 2.0 pauses fetching for up to a second when
/// the queue reaches either bound; against the mock broker, which fetches slower than either
/// consumer drains, the two settings measured the same (bench/RESULTS.md, fifth pass).
std::string g_queue_messages = "1000000";
std::string g_queue_kbytes = "1048576";

struct Args {
  std::size_t records = 400000;
  int partitions = 64;
  std::uint64_t window = 100000;
  int cpus = 0;
  int rounds = 5;
  bool bare = true;  // --bare 0 skips the bare consumer's rounds (for profiling driftd's side)
  bool fresh_pipeline = false;  // --fresh-pipeline 1: a new pipeline (empty window) every round
  std::string json;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string v = argv[i + 1];
    if (flag == "--records") a.records = std::stoul(v);
    else if (flag == "--partitions") a.partitions = std::stoi(v);
    else if (flag == "--window") a.window = std::stoull(v);
    else if (flag == "--cpus") a.cpus = std::stoi(v);
    else if (flag == "--rounds") a.rounds = std::stoi(v);
    else if (flag == "--json") a.json = v;
    else if (flag == "--bare") a.bare = v != "0";
    else if (flag == "--fresh-pipeline") a.fresh_pipeline = v != "0";
    else if (flag == "--prefetch" && (v == "deep" || v == "librdkafka")) {
      g_queue_messages = v == "deep" ? "1000000" : "100000";
      g_queue_kbytes = v == "deep" ? "1048576" : "65536";
    }
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  return a;
}

std::string record(std::mt19937_64& rng, std::uint64_t id) {
  std::normal_distribution<double> normal(0.0, 1.0);
  const char* countries[] = {"US", "GB", "DE", "FR", "BR"};
  const char* channels[] = {"web", "mobile", "branch"};
  std::string r = R"({"model":"fraud","id":)" + std::to_string(id) + R"(,"ts":)" +
                  std::to_string(1764230000000LL + static_cast<long long>(id)) + R"(,"features":{)";
  char number[32];
  for (int f = 0; f < 20; ++f) {
    std::snprintf(number, sizeof number, "%.6f", normal(rng));
    r += "\"f" + std::to_string(f) + "\":" + number + ",";
  }
  r += R"("country":")" + std::string(countries[rng() % 5]) + R"(","channel":")" +
       channels[rng() % 3] + R"(","segment":"s)" + std::to_string(rng() % 12) +
       R"(","device":"d)" + std::to_string(rng() % 7) + R"("},"prediction":)";
  std::snprintf(number, sizeof number, "%.5f", std::uniform_real_distribution<double>()(rng));
  return r + number + "}";
}

rd_kafka_conf_t* conf_with(std::initializer_list<std::pair<const char*, std::string>> props) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  for (const auto& [key, value] : props) {
    if (rd_kafka_conf_set(conf, key, value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "%s\n", error);
      std::exit(1);
    }
  }
  return conf;
}

/// CPU time of the whole process (every thread: broker, client, pipeline), in seconds.
double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

/// Process CPU seconds spent per record over a measured span (steadier than rates on a busy
/// machine, where other work takes cores away).
struct CpuSpan {
  double start = 0.0;
  void begin() { start = process_cpu_seconds(); }
  double per_record_us(std::size_t records) const {
    return 1e6 * (process_cpu_seconds() - start) / static_cast<double>(records);
  }
};

// A consumer that only counts: the ceiling the daemon's path is compared with.
double bare_consumer_rate(const std::string& brokers, std::size_t records, int round,
                          double& cpu_us) {
  char error[512];
  rd_kafka_t* consumer = rd_kafka_new(
      RD_KAFKA_CONSUMER,
      conf_with({{"bootstrap.servers", brokers}, {"group.id", "bench-bare-" + std::to_string(round)},
                 {"auto.offset.reset", "earliest"}, {"enable.auto.commit", "false"},
                 {"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"},
                 {"queued.min.messages", g_queue_messages},
                 {"queued.max.messages.kbytes", g_queue_kbytes}}),
      error, sizeof error);
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, "bench", RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(consumer, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  std::size_t seen = 0;
  Clock::time_point first{};
  CpuSpan cpu;
  std::size_t bytes = 0;
  while (seen < records) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (seen == 0) {
        first = Clock::now();
        cpu.begin();
      }
      ++seen;
      bytes += m->len;
    }
    rd_kafka_message_destroy(m);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - first).count();
  cpu_us = cpu.per_record_us(records - 1);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  (void)bytes;
  return static_cast<double>(records - 1) / seconds;
}

Config pipeline_config(const std::string& brokers, std::uint64_t window, int round = 0) {
  Config config;
  config.state.dir = std::filesystem::temp_directory_path() / "driftd-bench-ingest";
  SourceConfig source;
  source.name = "kafka";
  source.type = SourceType::kKafka;
  source.brokers = brokers;
  source.topics = {"bench"};
  source.group_id = "bench-driftd-" + std::to_string(round);
  // Both consumers get the same prefetch bounds (g_queue_*, --prefetch).
  source.kafka = {{"auto.offset.reset", "earliest"}, {"session.timeout.ms", "6000"},
                  {"heartbeat.interval.ms", "500"}, {"queued.min.messages", g_queue_messages},
                  {"queued.max.messages.kbytes", g_queue_kbytes}};
  config.sources.push_back(source);
  ModelConfig model;
  model.name = "fraud";
  model.match.kind = MatchRule::Kind::kPointer;
  model.match.key = "/model";
  model.match.equals = "fraud";
  model.timestamp_pointer = "/ts";
  for (int f = 0; f < 20; ++f) {
    model.features.push_back({"f" + std::to_string(f), "/features/f" + std::to_string(f),
                              drift::FeatureKind::kNumeric, FeatureOrigin::kRecord});
  }
  for (const char* c : {"country", "channel", "segment", "device"}) {
    model.features.push_back({c, std::string("/features/") + c, drift::FeatureKind::kCategorical,
                              FeatureOrigin::kRecord});
  }
  // A small bootstrapped reference, then the window proper (one evaluation per window fill).
  model.reference.bootstrap = 1000;
  model.window.size = window;
  model.window.slide = window;
  config.models.push_back(model);
  return config;
}

/// Hands batches to the pipeline and times them: the clock and the process CPU time start when
/// the first batch reaches the pipeline and stop when the last record has been decoded and
/// appended; the rate counts the records after the first batch (whose polling is not timed),
/// so it errs against driftd by the first batch's decoding. The measuring loop only polls
/// finished(), so its wake-ups do not enter the figures. (Polling Pipeline::reports() instead
/// copied every model's report, the last evaluation's JSON included, under the model's lock
/// every 2 ms, contending with ingestion, and counted from after the first batch's decoding.)
class TimingSink final : public RecordSink {
 public:
  TimingSink(Pipeline& pipeline, std::size_t records) : pipeline_(pipeline), records_(records) {}
  void deliver(std::string_view source, std::span<const RawRecord> records,
               std::span<const SourcePosition> positions) override {
    if (delivered_ == 0) {
      start_ = Clock::now();
      cpu_.begin();
      // (Not counted, unless it is the whole run.)
      first_batch_ = records.size() < records_ ? records.size() : 0;
    }
    pipeline_.deliver(source, records, positions);
    delivered_ += records.size();
    if (delivered_ >= records_ && !finished_.load(std::memory_order_relaxed)) {
      seconds_ = std::chrono::duration<double>(Clock::now() - start_).count();
      cpu_us_ = cpu_.per_record_us(timed_records());
      finished_.store(true, std::memory_order_release);
    }
  }
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  // After finished():
  std::size_t timed_records() const { return records_ - first_batch_; }
  double rate() const { return static_cast<double>(timed_records()) / seconds_; }
  double cpu_us() const { return cpu_us_; }

 private:
  Pipeline& pipeline_;
  const std::size_t records_;
  // Written on the source's thread; read after finished().
  std::size_t delivered_ = 0;
  std::size_t first_batch_ = 0;
  Clock::time_point start_{};
  CpuSpan cpu_;
  double seconds_ = 0.0;
  double cpu_us_ = 0.0;
  std::atomic<bool> finished_{false};
};

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  if (args.cpus > 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c = 0; c < args.cpus; ++c) CPU_SET(c, &set);
    sched_setaffinity(0, sizeof set, &set);  // the whole process: broker, client, pipeline
  }
  char error[512];
  rd_kafka_t* producer = rd_kafka_new(
      RD_KAFKA_PRODUCER, conf_with({{"test.mock.num.brokers", "1"}, {"linger.ms", "20"},
                                    {"batch.num.messages", "10000"}}),
      error, sizeof error);
  rd_kafka_mock_cluster_t* cluster = rd_kafka_handle_mock_cluster(producer);
  const std::string brokers = rd_kafka_mock_cluster_bootstraps(cluster);
  rd_kafka_mock_topic_create(cluster, "bench", args.partitions, 1);
  rd_kafka_topic_t* topic = rd_kafka_topic_new(producer, "bench", nullptr);
  std::mt19937_64 rng(1);
  std::size_t bytes = 0;
  for (std::size_t id = 0; id < args.records; ++id) {
    const std::string value = record(rng, id);
    bytes += value.size();
    while (rd_kafka_produce(topic, static_cast<std::int32_t>(id % static_cast<std::size_t>(args.partitions)),
                            RD_KAFKA_MSG_F_COPY, const_cast<char*>(value.data()), value.size(),
                            nullptr, 0, nullptr) != 0) {
      rd_kafka_poll(producer, 10);
    }
  }
  rd_kafka_flush(producer, 60000);
  std::printf("bench_ingest: %zu records of %.0f bytes preloaded into %d partitions, cpus %s\n",
              args.records, static_cast<double>(bytes) / static_cast<double>(args.records),
              args.partitions, args.cpus > 0 ? std::to_string(args.cpus).c_str() : "all");


  // The same work without Kafka: batches of 1000 records straight into the pipeline (which
  // decodes large batches on oneTBB's workers) — the ceiling of decode + window append.
  double direct = 0.0;
  double direct_cold = 0.0;
  double window_rss = 0.0;
  {
    Config config = pipeline_config(brokers, args.window);
    std::filesystem::create_directories(config.state.dir);
    Pipeline pipeline(config, drift::make_cpu_backend(), {});
    pipeline.load_references();
    std::mt19937_64 again(1);
    std::vector<std::string> bodies;
    // Enough records to fill the window, so the RSS growth is the full window's.
    const std::size_t direct_records =
        std::max<std::size_t>(200000, static_cast<std::size_t>(args.window) + 20000);
    for (std::size_t id = 0; id < direct_records; ++id) {
      bodies.push_back(record(again, id));
    }
    std::vector<RawRecord> batch(1000);
    const double rss_before = drift::bench::current_rss_mib();
    // Twice through the same pipeline: the first pass fills the window (and allocates it), the
    // second is the steady state of a running daemon.
    for (double* rate : {&direct_cold, &direct}) {
      const auto start = Clock::now();
      for (std::size_t k = 0; k < bodies.size(); k += batch.size()) {
        const std::size_t n = std::min(batch.size(), bodies.size() - k);
        for (std::size_t j = 0; j < n; ++j) batch[j].body = bodies[k + j];
        pipeline.deliver("kafka", std::span<const RawRecord>(batch.data(), n), {});
      }
      *rate = static_cast<double>(bodies.size()) /
              std::chrono::duration<double>(Clock::now() - start).count();
    }
    pipeline.drain_evaluations();
    window_rss = drift::bench::current_rss_mib() - rss_before;
  }

  // Alternating rounds, each on a fresh consumer group reading the whole topic: the bare
  // consumer, then the daemon's path (KafkaSource delivering to the pipeline: decode + window
  // append). Rates count from each side's first message, so group joins are excluded.
  std::vector<double> bare_rates;
  std::vector<double> driftd_rates;
  std::vector<double> ratios;
  std::vector<double> bare_cpu;
  std::vector<double> driftd_cpu;
  // One pipeline for all rounds, as in the daemon, which runs for days: its window's ring and
  // evaluation buffers are allocated by the first round (--fresh-pipeline 1: one per round, so
  // every round pays the window's first fill too). Each round's KafkaSource is new, on its
  // own consumer group, like the bare consumer's.
  const Config shared_config = pipeline_config(brokers, args.window);
  std::filesystem::create_directories(shared_config.state.dir);
  std::optional<Pipeline> shared;
  std::uint64_t counted_before = 0;
  for (int round = 0; round < args.rounds; ++round) {
    double bare_us = 0.0;
    const double bare = args.bare ? bare_consumer_rate(brokers, args.records, round, bare_us) : 1.0;
    const Config config = pipeline_config(brokers, args.window, round);
    if (args.fresh_pipeline || !shared) {
      shared.reset();
      counted_before = 0;
      shared.emplace(shared_config, drift::make_cpu_backend(), Pipeline::Options{});
      shared->load_references();
    }
    Pipeline& pipeline = *shared;
    KafkaSource source(config.sources[0]);
    source.set_headers_needed(source_needs_headers(config, config.sources[0].name));
    TimingSink sink(pipeline, args.records);
    source.start(sink, {});
    while (!sink.finished()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const double driftd_us = sink.cpu_us();
    source.stop();
    // Every record was decoded and counted (accepted, or rejected with a reason).
    const auto report = pipeline.reports().at(0);
    const std::uint64_t counted = report.records_accepted + report.records_rejected;
    if (counted - counted_before != args.records) {
      std::fprintf(stderr, "bench_ingest: the pipeline counted %llu records of %zu\n",
                   static_cast<unsigned long long>(counted - counted_before), args.records);
      return 1;
    }
    counted_before = counted;
    bare_rates.push_back(bare);
    driftd_rates.push_back(sink.rate());
    ratios.push_back(driftd_rates.back() / bare);
    bare_cpu.push_back(bare_us);
    driftd_cpu.push_back(driftd_us);
    std::printf("  round %d: bare %8.0f  driftd %8.0f records/s  (%.0f %%); process CPU per record: "
                "bare %.2f us, driftd %.2f us\n",
                round, bare, driftd_rates.back(), 100.0 * ratios.back(), bare_us, driftd_us);
  }
  const double bare = drift::bench::median(bare_rates);
  const double driftd = drift::bench::median(driftd_rates);
  const double ratio = drift::bench::median(ratios);
  const double peak = drift::bench::peak_rss_mib();
  std::printf("  bare librdkafka consumer      %10.0f records/s (median of %d rounds)\n", bare,
              args.rounds);
  std::printf("  driftd Kafka→decode→window    %10.0f records/s  (median ratio %.0f %% of bare)\n",
              driftd, 100.0 * ratio);
  std::printf("  process CPU per record (medians): bare %.2f us, driftd %.2f us\n",
              drift::bench::median(bare_cpu), drift::bench::median(driftd_cpu));
  std::printf("  decode→window alone, no Kafka  %10.0f records/s (the first pass, filling the "
              "window: %.0f)\n", direct, direct_cold);
  std::printf("  pipeline RSS growth, window %llu rows: %.0f MiB (process peak %.0f MiB incl. the "
              "mock broker's topic)\n",
              static_cast<unsigned long long>(args.window), window_rss, peak);
  if (!args.json.empty()) {
    std::ofstream(args.json) << "{\"bare_rps\":" << bare << ",\"driftd_rps\":" << driftd << ",\"ratio\":" << ratio << ",\"direct_rps\":" << direct << ",\"direct_cold_rps\":" << direct_cold
                             << ",\"peak_rss_mib\":" << peak << ",\"window_rss_mib\":" << window_rss
                             << ",\"bare_cpu_us\":" << drift::bench::median(bare_cpu)
                             << ",\"driftd_cpu_us\":" << drift::bench::median(driftd_cpu) << "}\n";
  }
  shared.reset();
  std::filesystem::remove_all(shared_config.state.dir);
  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(producer);
  return 0;
}
