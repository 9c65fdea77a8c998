#include "server/demo.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <random>
#include <thread>

#include "ingest/text_and_time.h"
#include "server/daemon.h"
#include "server/log.h"

namespace drift::daemon {

namespace {

using Clock = std::chrono::steady_clock;

struct DemoOptions {
  std::string listen = "127.0.0.1:9108";
  std::filesystem::path state_dir;
  bool keep_state = false;
  double rate = 2000.0;                    ///< records per second
  std::chrono::seconds drift_after{25};
  std::chrono::seconds drift_for{0};       ///< 0: the drift never ends
  std::chrono::seconds duration{0};        ///< 0: until Ctrl-C
  bool exit_on_drift = false;
  /// The retraining webhook the demo's alerts post to (none when empty).
  std::string webhook_url;
  std::string webhook_template = "generic";
  std::string webhook_secret_file;
  std::vector<std::pair<std::string, std::string>> webhook_params;
};

/// A YAML double-quoted scalar.
std::string yaml_quoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

/// The in-process Kafka: librdkafka's mock cluster, hosted by the demo's producer handle.
class MockKafka {
 public:
  MockKafka() {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", error, sizeof error) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "linger.ms", "5", error, sizeof error) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(std::string("mock Kafka: ") + error);
    }
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (producer_ == nullptr) throw std::runtime_error(std::string("mock Kafka: ") + error);
    rd_kafka_mock_cluster_t* cluster = rd_kafka_handle_mock_cluster(producer_);
    bootstraps_ = rd_kafka_mock_cluster_bootstraps(cluster);
    if (rd_kafka_mock_topic_create(cluster, "predictions", 4, 1) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("mock Kafka: cannot create the topic");
    }
    topic_ = rd_kafka_topic_new(producer_, "predictions", nullptr);
  }
  ~MockKafka() {
    rd_kafka_flush(producer_, 2000);
    rd_kafka_topic_destroy(topic_);
    rd_kafka_destroy(producer_);
  }
  MockKafka(const MockKafka&) = delete;
  MockKafka& operator=(const MockKafka&) = delete;

  const std::string& bootstraps() const { return bootstraps_; }

  void produce(const std::string& key, const std::string& value) {
    for (;;) {
      // Keyed by record id: the partitioner spreads records over the topic's partitions.
      const int rc = rd_kafka_produce(topic_, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                                      const_cast<char*>(value.data()), value.size(), key.data(),
                                      key.size(), nullptr);
      if (rc == 0 || rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
      rd_kafka_poll(producer_, 10);
    }
    rd_kafka_poll(producer_, 0);
  }

 private:
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_topic_t* topic_ = nullptr;
  std::string bootstraps_;
};

/// Prediction logs of a fraud model: before `drift_after` like its training data; after it,
/// larger amounts and a different country mix.
class TrafficGenerator {
 public:
  explicit TrafficGenerator(std::uint64_t seed) : rng_(seed) {}
  std::string next(bool drifted, std::int64_t now_ms, std::uint64_t id) {
    std::lognormal_distribution<double> amount(drifted ? 4.4 : 4.0, 0.8);
    std::normal_distribution<double> age(41.0, 12.0);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const double a = amount(rng_);
    const double years = std::clamp(std::round(age(rng_)), 18.0, 90.0);
    const double u = unit(rng_);
    const char* country = drifted ? (u < 0.30 ? "US" : u < 0.50 ? "GB" : u < 0.80 ? "BR" : "DE")
                                  : (u < 0.45 ? "US" : u < 0.70 ? "GB" : u < 0.85 ? "DE" : "BR");
    const char* channel = unit(rng_) < 0.6 ? "web" : "mobile";
    const double score = 1.0 / (1.0 + std::exp(-(std::log(a) - 4.5) * 1.5 + (years - 40) / 40.0));
    char buffer[320];
    std::snprintf(buffer, sizeof buffer,
                  R"({"model":"fraud","id":%llu,"ts":%lld,"features":{"amount":%.2f,"age":%.0f,)"
                  R"("country":"%s","channel":"%s"},"prediction":%.4f})",
                  static_cast<unsigned long long>(id), static_cast<long long>(now_ms), a, years,
                  country, channel, score);
    return buffer;
  }

 private:
  std::mt19937_64 rng_;
};

/// Two drifting windows in a row fire the alert, two clean ones resolve it.
std::string demo_alerts_yaml(const DemoOptions& o) {
  std::string yaml = "alerts:\n  policy: {consecutive: 2, resolve_after: 2, cooldown: 10m}\n";
  if (o.webhook_url.empty()) return yaml;
  yaml += "  webhooks:\n    - name: retrain\n      url: " + yaml_quoted(o.webhook_url) +
          "\n      template: " + o.webhook_template + "\n      send_resolved: true\n";
  if (!o.webhook_secret_file.empty()) {
    yaml += "      secret_file: " + yaml_quoted(o.webhook_secret_file) + "\n";
  }
  if (!o.webhook_params.empty()) {
    yaml += "      params:\n";
    for (const auto& [key, value] : o.webhook_params) {
      yaml += "        " + yaml_quoted(key) + ": " + yaml_quoted(value) + "\n";
    }
  }
  return yaml;
}

std::string demo_config_yaml(const DemoOptions& o, const std::string& brokers) {
  return "# Written by `driftd demo`: the configuration the demo daemon runs with.\n"
         "server:\n  listen: \"" + o.listen + "\"\n"
         "state:\n  dir: \"" + o.state_dir.string() + "\"\n  checkpoint_interval: 5s\n"
         "backend: auto\n"
         "sources:\n"
         "  - name: predictions\n    type: kafka\n    brokers: \"" + brokers + "\"\n"
         "    topics: [predictions]\n    group_id: driftd-demo\n    format: flat\n"
         "    kafka: {auto.offset.reset: earliest, session.timeout.ms: \"6000\", heartbeat.interval.ms: \"500\"}\n"
         "  - name: ingest\n    type: http\n    format: flat\n"
         "models:\n"
         "  - name: fraud\n    match: {pointer: /model, equals: fraud}\n    timestamp: /ts\n"
         "    features:\n"
         "      - {name: amount, pointer: /features/amount, type: numeric}\n"
         "      - {name: age, pointer: /features/age, type: numeric}\n"
         "      - {name: country, pointer: /features/country, type: categorical}\n"
         "      - {name: channel, pointer: /features/channel, type: categorical}\n"
         "      - {name: score, pointer: /prediction, type: numeric}\n"
         "    reference: {bootstrap: 10000}\n"
         "    window: {size: 10000, slide: 5000, min_rows: 2000}\n"
         "    tests:\n      ks: {}\n      psi: {bins: 10}\n      chi2: {}\n"
         "      mmd: {features: [amount, age, score], permutations: 200, max_rows: 2000}\n"
         "    p_value: 0.01\n    correction: bonferroni\n" +
         demo_alerts_yaml(o);
}

DemoOptions parse_demo_options(std::span<const std::string_view> args) {
  DemoOptions o;
  auto seconds = [](std::string_view v) {
    return std::chrono::seconds(std::stol(std::string(v.substr(0, v.find_last_not_of("s") + 1))));
  };
  for (std::size_t k = 0; k < args.size(); ++k) {
    const std::string_view flag = args[k];
    if (flag == "--keep-state") { o.keep_state = true; continue; }
    if (flag == "--exit-on-drift") { o.exit_on_drift = true; continue; }
    if (k + 1 >= args.size()) throw std::invalid_argument(std::string(flag) + ": missing value");
    const std::string_view v = args[++k];
    if (flag == "--listen") o.listen = v;
    else if (flag == "--state-dir") { o.state_dir = std::string(v); o.keep_state = true; }
    else if (flag == "--rate") o.rate = std::stod(std::string(v));
    else if (flag == "--drift-after") o.drift_after = seconds(v);
    else if (flag == "--drift-for") o.drift_for = seconds(v);
    else if (flag == "--duration") o.duration = seconds(v);
    else if (flag == "--webhook") o.webhook_url = v;
    else if (flag == "--webhook-template") o.webhook_template = v;
    else if (flag == "--webhook-secret-file") o.webhook_secret_file = v;
    else if (flag == "--webhook-param") {
      const std::size_t eq = v.find('=');
      if (eq == std::string_view::npos) throw std::invalid_argument("--webhook-param: KEY=VALUE");
      o.webhook_params.emplace_back(std::string(v.substr(0, eq)), std::string(v.substr(eq + 1)));
    }
    else throw std::invalid_argument("unknown option '" + std::string(flag) + "'");
  }
  return o;
}

}  // namespace

int demo_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  DemoOptions options;
  try {
    options = parse_demo_options(args);
  } catch (const std::exception& e) {
    err << "driftd demo: " << e.what() << "\nusage: driftd demo [--duration 60s] "
        << "[--exit-on-drift] [--drift-after 25s] [--drift-for 0s] [--rate 2000] [--listen host:port] "
        << "[--state-dir DIR] [--webhook URL [--webhook-template generic|argo-workflows|"
        << "kubeflow-pipelines|tekton] [--webhook-secret-file FILE] [--webhook-param KEY=VALUE]...]\n";
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (options.state_dir.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "driftd-demo-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      err << "driftd demo: cannot create a state directory\n";
      return 1;
    }
    options.state_dir = pattern;
  }
  int status = 0;
  try {
    MockKafka kafka;
    Config config;
    std::string yaml = demo_config_yaml(options, kafka.bootstraps());
    try {
      config = parse_config(yaml, "demo config");
    } catch (const ConfigError&) {
      throw;
    }
    std::unique_ptr<Daemon> daemon;
    try {
      daemon = std::make_unique<Daemon>(config);
    } catch (const std::runtime_error& e) {
      // The default port is taken: any free port will do for a demo.
      options.listen = "127.0.0.1:0";
      yaml = demo_config_yaml(options, kafka.bootstraps());
      config = parse_config(yaml, "demo config");
      daemon = std::make_unique<Daemon>(config);
    }
    {
      std::ofstream(options.state_dir / "driftd-demo.yaml") << yaml;
    }
    daemon->start();
    const std::string url = "http://" + daemon->address();
    out << "driftd demo: an in-process Kafka (librdkafka mock cluster) carries a fraud model's\n"
        << "prediction logs at " << options.rate << " records/s; the daemon bootstraps its reference from\n"
        << "the first 10000 records and the traffic drifts after " << options.drift_after.count()
        << " s.\n"
        << "  models:  curl " << url << "/v1/models\n"
        << "  status:  curl " << url << "/v1/status\n"
        << "  config:  " << (options.state_dir / "driftd-demo.yaml").string() << "\n"
        << "Ctrl-C stops it." << std::endl;

    std::atomic<bool> stop_producing{false};
    const auto started = Clock::now();
    std::thread producer([&] {
      TrafficGenerator traffic(20261127);
      std::uint64_t id = 0;
      while (!stop_producing) {
        const auto elapsed = Clock::now() - started;
        const auto due = static_cast<std::uint64_t>(
            std::chrono::duration<double>(elapsed).count() * options.rate);
        if (id >= due) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        const bool drifted =
            elapsed >= options.drift_after &&
            (options.drift_for.count() == 0 || elapsed < options.drift_after + options.drift_for);
        kafka.produce(std::to_string(id), traffic.next(drifted, wall_clock_ms(), id));
        ++id;
      }
    });

    std::uint64_t seen = 0;
    bool drift_found = false;  // the alert fired: two drifting windows in a row
    bool firing = false;
    timespec tick{1, 0};
    for (;;) {
      const int signal = sigtimedwait(&signals, nullptr, &tick);
      if (signal == SIGINT || signal == SIGTERM) break;
      const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started);
      for (const auto& report : daemon->pipeline().reports()) {
        if (report.evaluations == seen || report.last_evaluation_json.empty()) continue;
        seen = report.evaluations;
        const auto result = nlohmann::json::parse(report.last_evaluation_json);
        std::string drifted;
        for (const auto& feature : result["features"]) {
          for (const auto& [test, outcome] : feature["tests"].items()) {
            if (outcome["drift"] == true) drifted += " " + feature["name"].get<std::string>() + "/" + test;
          }
        }
        if (result["multivariate"].contains("mmd") && result["multivariate"]["mmd"]["drift"] == true) {
          drifted += " mmd";
        }
        out << "[" << elapsed.count() << "s] model fraud: evaluation " << report.evaluations
            << " at row " << report.last_evaluation_position << ", window " << report.current_rows
            << " rows: " << (result["drift"] == true ? "DRIFT DETECTED:" + drifted : "no drift")
            << std::endl;
        if (report.alert_firing != firing) {
          firing = report.alert_firing;
          out << "[" << elapsed.count() << "s] model fraud: ALERT "
              << (firing ? "FIRING (drift in 2 windows in a row)" : "RESOLVED") << std::endl;
          if (firing) drift_found = true;
        }
      }
      if (drift_found && options.exit_on_drift) break;
      if (options.duration.count() > 0 && elapsed >= options.duration) {
        if (options.exit_on_drift) status = 1;
        if (options.exit_on_drift) err << "driftd demo: no drift detected within the duration\n";
        break;
      }
    }
    stop_producing = true;
    producer.join();
    daemon->stop();
  } catch (const std::exception& e) {
    err << "driftd demo: " << e.what() << "\n";
    status = 1;
  }
  if (!options.keep_state) {
    std::error_code ec;
    std::filesystem::remove_all(options.state_dir, ec);
  }
  return status;
}

}  // namespace drift::daemon
