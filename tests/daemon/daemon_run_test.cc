// `driftd run` as a user runs it: the real binary, a config file, HTTP from outside, signals,
// and `kill -9` in the middle of a stream.
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>

#include <librdkafka/rdkafka.h>

#include <filesystem>

#include "driftd_process.h"
#include "mock_kafka.h"
#include "http_client.h"
#include "process.h"

using drift::test::ChildProcess;
using drift::test::HttpClient;
using drift::test::TempDir;
using drift::test::wait_until;

using drift::test::Driftd;
using drift::test::MockKafka;

namespace {

// Prediction records of model "m"; from `drift_from` on, x shifts. Every 97th is malformed in
// one of several ways.
std::vector<std::string> make_lines(int count, int drift_from) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  const char* colours[] = {"red", "green", "blue"};
  const char* broken[] = {R"({"model":"m","x":"NaN","c":"red"})", R"({"model":"m","x":1.5,"c":)",
                          R"({"model":"other","x":1,"c":"red"})", R"([1])", "not json"};
  std::vector<std::string> out;
  for (int k = 0; k < count; ++k) {
    if (k % 97 == 96) {
      out.push_back(broken[(k / 97) % 5]);
      continue;
    }
    const double x = normal(rng) + (k >= drift_from ? 0.8 : 0.0);
    out.push_back(R"({"model":"m","ts":)" + std::to_string(1764230000000LL + k) + R"(,"x":)" +
                  std::to_string(x) + R"(,"c":")" + colours[rng() % 3] + R"("})");
  }
  return out;
}

std::string reference_csv() {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal(0.0, 1.0);
  const char* colours[] = {"red", "green", "blue"};
  std::string csv = "x,c\n";
  for (int k = 0; k < 2000; ++k) csv += std::to_string(normal(rng)) + "," + colours[rng() % 3] + "\n";
  return csv;
}

constexpr const char* kCountWindow = "{size: 1000, slide: 250, min_rows: 100}";
// Event time: the records' /ts are 1 ms apart, so 1 s holds ~1000 rows.
constexpr const char* kTimeWindow = "{duration: 1s, every: 250ms, min_rows: 100}";

std::string config_yaml(const TempDir& dir, const std::string& source_yaml,
                        const std::string& checkpoint_interval,
                        const std::string& window = kCountWindow) {
  return "server: {listen: \"127.0.0.1:0\", shutdown_timeout: 20s}\n"
         "state: {dir: \"" + dir.path() + "/state\", checkpoint_interval: " + checkpoint_interval + "}\n"
         "sources:\n" + source_yaml +
         "models:\n"
         "  - name: m\n"
         "    match: {pointer: /model, equals: m}\n"
         "    timestamp: /ts\n"
         "    features:\n"
         "      - {name: x, pointer: /x, type: numeric}\n"
         "      - {name: c, pointer: /c, type: categorical}\n"
         "    reference: {file: \"" + dir.path() + "/reference.csv\"}\n"
         "    window: " + window + "\n"
         "    tests: {ks: {}, psi: {}, chi2: {}}\n";
}

void append_lines(const std::string& path, const std::vector<std::string>& lines, std::size_t begin,
                  std::size_t end) {
  std::ofstream out(path, std::ios::app);
  for (std::size_t k = begin; k < end; ++k) out << lines[k] << "\n";
}

// Records the daemon has dealt with: taken by the model, rejected by it, or matched by none.
/// The names of a process's threads (/proc/<pid>/task/*/comm).
std::set<std::string> thread_names(int pid) {
  std::set<std::string> names;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) names.insert(name);
  }
  return names;
}

std::uint64_t processed(const Driftd& driftd) {
  const auto model = driftd.model();
  std::uint64_t total = model["records_accepted"].get<std::uint64_t>() +
                        model["records_rejected"].get<std::uint64_t>();
  const auto status = driftd.get_json("/v1/status");  // items() must not outlive it
  for (const auto& [reason, count] : status["records_unmatched"].items()) {
    total += count.get<std::uint64_t>();
  }
  return total;
}

std::uint64_t count_containing(const std::vector<std::string>& lines, std::string_view needle) {
  return static_cast<std::uint64_t>(std::count_if(lines.begin(), lines.end(), [&](const auto& l) {
    return l.find(needle) != std::string::npos;
  }));
}

// Statistics without timings, for comparing two runs.
nlohmann::json without_timing(nlohmann::json evaluation) {
  evaluation.erase("timing_ms");
  return evaluation;
}

std::string kafka_source(const std::string& brokers, const std::string& group,
                         const std::string& extra = "") {
  return "  - name: preds\n    type: kafka\n    brokers: \"" + brokers + "\"\n"
         "    topics: [preds]\n    group_id: " + group + "\n    format: flat\n" + extra +
         "    kafka: {auto.offset.reset: earliest, session.timeout.ms: \"6000\", "
         "heartbeat.interval.ms: \"500\"}\n";
}

}  // namespace

TEST_CASE("driftd run consumes Kafka, and after kill -9 and a restart it ends exactly like an "
          "uninterrupted run", "[run][kafka][integration]") {
  const auto lines = make_lines(5000, 2500);
  const std::uint64_t accepted = count_containing(lines, "\"ts\"");
  const std::uint64_t last_position = accepted / 250 * 250;
  TempDir logs;
  MockKafka kafka(logs.path());
  kafka.produce(lines, 0, 2000);

  // The uninterrupted run reads everything once it is there.
  TempDir a;
  a.write("reference.csv", reference_csv());
  const std::string a_config =
      a.write("driftd.yaml", config_yaml(a, kafka_source(kafka.bootstraps(), "run-a"), "200ms"));
  // The crashing run starts now, on the first 2000 records only.
  TempDir b;
  b.write("reference.csv", reference_csv());
  const std::string b_config =
      b.write("driftd.yaml", config_yaml(b, kafka_source(kafka.bootstraps(), "run-b"), "200ms"));
  {
    Driftd driftd(b_config, b.path());
    REQUIRE(wait_until([&] { return processed(driftd) == 2000; }, 30000));
    REQUIRE(wait_until([&] {
      return driftd.get_json("/v1/status")["checkpoint"]["last_ms"].get<std::int64_t>() > 0;
    }, 10000));
    kafka.produce(lines, 2000, 3500);
    REQUIRE(wait_until([&] { return processed(driftd) > 2500; }, 30000));
    driftd.process().signal(SIGKILL);
    CHECK(driftd.process().wait(10000) == 128 + SIGKILL);
  }
  kafka.produce(lines, 3500, lines.size());

  nlohmann::json a_model;
  std::string a_window;
  {
    Driftd driftd(a_config, a.path());
    REQUIRE(wait_until([&] { return processed(driftd) == lines.size(); }, 30000));
    REQUIRE(wait_until([&] { return driftd.model()["last_evaluation_position"] == last_position; }, 30000));
    a_model = driftd.model();
    a_window = driftd.get_text("/v1/models/m/window");
    // Threads say what they are (top -H, ps -L, profilers); Linux keeps 15 characters.
    const auto names = thread_names(driftd.process().pid());
    CHECK(names.contains("kafka:preds"));
    CHECK(names.contains("evaluator"));
    CHECK(names.contains("checkpoint"));
    CHECK(names.contains("http"));
    driftd.process().signal(SIGTERM);
    CHECK(driftd.process().wait(20000) == 0);
  }
  CHECK(a_model["records_accepted"] == accepted);
  CHECK(a_model["last_evaluation"]["drift"] == true);
  {
    // The restart resumes at the checkpointed offset; the group's first join after a member
    // vanished waits for its session to expire.
    Driftd driftd(b_config, b.path());
    REQUIRE(wait_until([&] { return processed(driftd) == lines.size(); }, 60000));
    REQUIRE(wait_until([&] { return driftd.model()["last_evaluation_position"] == last_position; }, 30000));
    const auto b_model = driftd.model();
    CHECK(driftd.get_text("/v1/models/m/window") == a_window);
    CHECK(b_model["records_accepted"] == a_model["records_accepted"]);
    CHECK(b_model["rejected_by_reason"] == a_model["rejected_by_reason"]);
    CHECK(without_timing(b_model["last_evaluation"]) == without_timing(a_model["last_evaluation"]));
    driftd.process().signal(SIGTERM);
    CHECK(driftd.process().wait(20000) == 0);
  }
}

TEST_CASE("driftd run evaluates a tailed file, and after kill -9 and a restart it ends exactly "
          "like an uninterrupted run", "[run][integration]") {
  const auto lines = make_lines(6000, 3000);
  const std::uint64_t accepted = count_containing(lines, "\"ts\"");
  const std::uint64_t rejected = count_containing(lines, "\"NaN\"");
  // Count window: an evaluation every 250 rows. Event-time window: one per 250 ms boundary of
  // the records' 6 s (ts = base + line number, base a multiple of 250 ms).
  const std::string window = GENERATE(as<std::string>{}, kCountWindow, kTimeWindow);
  const std::uint64_t evaluations = window == kCountWindow ? accepted / 250 : 5999 / 250;
  INFO("window " << window);
  auto file_source = [](const TempDir& dir) {
    return "  - {name: tail, type: file, path: \"" + dir.path() + "/predictions.jsonl\", "
           "format: flat, poll_interval: 20ms}\n";
  };

  // The uninterrupted run.
  TempDir a;
  a.write("reference.csv", reference_csv());
  const std::string a_config = a.write("driftd.yaml", config_yaml(a, file_source(a), "200ms", window));
  append_lines(a.path() + "/predictions.jsonl", lines, 0, lines.size());
  nlohmann::json a_model;
  std::string a_window;
  {
    Driftd driftd(a_config, a.path());
    REQUIRE(wait_until([&] { return processed(driftd) == lines.size(); }, 30000));
    REQUIRE(wait_until([&] { return driftd.model()["evaluations"] == evaluations; }, 30000));
    a_model = driftd.model();
    a_window = driftd.get_text("/v1/models/m/window");
    driftd.process().signal(SIGTERM);
    CHECK(driftd.process().wait(20000) == 0);
  }
  CHECK(a_model["records_accepted"] == accepted);
  CHECK(a_model["records_rejected"] == rejected);
  CHECK(a_model["last_evaluation"]["drift"] == true);

  // The same input with kill -9 in the middle, after at least one checkpoint.
  TempDir b;
  b.write("reference.csv", reference_csv());
  const std::string b_config = b.write("driftd.yaml", config_yaml(b, file_source(b), "200ms", window));
  const std::string input = b.path() + "/predictions.jsonl";
  append_lines(input, lines, 0, 2500);
  {
    Driftd driftd(b_config, b.path());
    REQUIRE(wait_until([&] { return processed(driftd) == 2500; }, 30000));
    REQUIRE(wait_until([&] {
      return driftd.get_json("/v1/status")["checkpoint"]["last_ms"].get<std::int64_t>() > 0;
    }, 10000));
    append_lines(input, lines, 2500, 4200);
    REQUIRE(wait_until([&] { return processed(driftd) > 3000; }, 30000));
    driftd.process().signal(SIGKILL);
    CHECK(driftd.process().wait(10000) == 128 + SIGKILL);
  }
  append_lines(input, lines, 4200, lines.size());
  {
    Driftd driftd(b_config, b.path());
    REQUIRE(wait_until([&] { return processed(driftd) == lines.size(); }, 30000));
    REQUIRE(wait_until([&] { return driftd.model()["evaluations"] == evaluations; }, 30000));
    const auto b_model = driftd.model();
    CHECK(driftd.get_text("/v1/models/m/window") == a_window);
    CHECK(b_model["records_accepted"] == a_model["records_accepted"]);
    CHECK(b_model["records_rejected"] == a_model["records_rejected"]);
    CHECK(b_model["rejected_by_reason"] == a_model["rejected_by_reason"]);
    CHECK(without_timing(b_model["last_evaluation"]) == without_timing(a_model["last_evaluation"]));
    driftd.process().signal(SIGTERM);
    CHECK(driftd.process().wait(20000) == 0);
  }
}

TEST_CASE("rows acknowledged over HTTP survive kill -9 before any checkpoint", "[run][integration]") {
  TempDir dir;
  dir.write("reference.csv", reference_csv());
  const std::string config = dir.write(
      "driftd.yaml", config_yaml(dir, "  - {name: ingest, type: http, format: flat}\n", "1h"));
  const auto lines = make_lines(700, 10000);
  std::string body;
  std::size_t sent = 0;
  for (const auto& line : lines) {
    if (line.find("\"model\":\"m\"") == std::string::npos || line.find("NaN") != std::string::npos ||
        line.back() != '}') {
      continue;  // only good records: a bad line would reject the whole request
    }
    body += line + "\n";
    ++sent;
  }
  {
    Driftd driftd(config, dir.path());
    REQUIRE(driftd.post("/v1/ingest/ingest", body) == 202);
    driftd.process().signal(SIGKILL);
    driftd.process().wait(10000);
  }
  Driftd driftd(config, dir.path());
  REQUIRE(wait_until([&] { return driftd.model()["records_accepted"] == sent; }, 20000));
  CHECK(driftd.model()["current_rows"] == sent);
  driftd.process().signal(SIGTERM);
  CHECK(driftd.process().wait(20000) == 0);
}

TEST_CASE("a bad configuration stops driftd run at start-up with the key and the reason",
          "[run][integration]") {
  TempDir dir;
  dir.write("reference.csv", reference_csv());
  std::string yaml = config_yaml(dir, "  - {name: ingest, type: http, format: flat}\n", "1s");
  yaml.replace(yaml.find("slide: 250"), 10, "slide: 5000");
  const std::string config = dir.write("driftd.yaml", yaml);
  const auto run = drift::test::run_process({DRIFTD_BINARY, "run", "--config", config});
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("models[0].window.slide") != std::string::npos);
  const auto check = drift::test::run_process({DRIFTD_BINARY, "validate-config", config});
  CHECK(check.exit_code == 1);
  CHECK(check.err.find("models[0].window.slide") != std::string::npos);
}

namespace {

// Rows of /v1/models/<model>/window as text cells, header first.
std::vector<std::vector<std::string>> csv_rows(const std::string& csv) {
  std::vector<std::vector<std::string>> rows;
  std::size_t start = 0;
  while (start < csv.size()) {
    const std::size_t end = csv.find('\n', start);
    std::vector<std::string> cells;
    std::string line = csv.substr(start, end - start);
    std::size_t from = 0;
    for (std::size_t comma; (comma = line.find(',', from)) != std::string::npos; from = comma + 1) {
      cells.push_back(line.substr(from, comma - from));
    }
    cells.push_back(line.substr(from));
    rows.push_back(cells);
    start = end == std::string::npos ? csv.size() : end + 1;
  }
  return rows;
}

}  // namespace

TEST_CASE("KServe v1 and v2 CloudEvents pairs posted to driftd run become the right rows",
          "[run][kserve][integration]") {
  TempDir dir;
  const std::string config = dir.write("driftd.yaml", R"(server: {listen: "127.0.0.1:0"}
state: {dir: ")" + dir.path() + R"(/state", checkpoint_interval: 1s}
sources:
  - {name: kserve1, type: http, format: kserve-v1}
  - {name: kserve2, type: http, format: kserve-v2}
models:
  - name: fraud
    sources: [kserve1]
    match: {header: ce-inferenceservicename, equals: fraud}
    features:
      - {name: amount, pointer: /0, type: numeric}
      - {name: country, pointer: /1, type: categorical}
      - {name: score, pointer: "", type: numeric, from: prediction}
    reference: {bootstrap: 1}
    window: {size: 10, slide: 10}
  - name: churn
    sources: [kserve2]
    features:
      - {name: tenure, pointer: /features/0, type: numeric}
      - {name: spend, pointer: /features/1, type: numeric}
      - {name: prob, pointer: /output-0, type: numeric, from: prediction}
    reference: {bootstrap: 1}
    window: {size: 10, slide: 10}
)");
  Driftd driftd(config, dir.path());
  auto post_event = [&](const std::string& source, const std::string& type, const std::string& id,
                        const std::string& service, const std::string& body) {
    HttpClient client(driftd.port());
    return client.request("POST", "/v1/ingest/" + source, body,
                          {{"content-type", "application/json"},
                           {"ce-specversion", "1.0"},
                           {"ce-type", "org.kubeflow.serving.inference." + type},
                           {"ce-id", id},
                           {"ce-source", "http://localhost:9081/"},
                           {"ce-inferenceservicename", service}})
        .status;
  };
  // v1: the response first, then the request (any order joins on ce-id); an unrelated service's
  // events match no model.
  CHECK(post_event("kserve1", "response", "r1", "fraud", R"({"predictions": [0.1, 0.2, 0.3]})") == 202);
  CHECK(post_event("kserve1", "request", "r1", "fraud",
                   R"({"instances": [[10.5, "US"], [20.0, "GB"], [30.25, "DE"]]})") == 202);
  CHECK(post_event("kserve1", "request", "r2", "other", R"({"instances": [[1, "US"]]})") == 202);
  CHECK(post_event("kserve1", "response", "r2", "other", R"({"predictions": [0.9]})") == 202);
  // v2 (Open Inference Protocol): a [3, 2] input tensor and a [3] output.
  CHECK(post_event("kserve2", "request", "q1", "churn",
                   R"({"inputs": [{"name": "features", "shape": [3, 2], "datatype": "FP32",
                                   "data": [1, 100, 2, 200, 3, 300]}]})") == 202);
  CHECK(post_event("kserve2", "response", "q1", "churn",
                   R"({"model_name": "churn", "id": "q1", "outputs": [{"name": "output-0",
                       "shape": [3], "datatype": "FP32", "data": [0.5, 0.6, 0.7]}]})") == 202);

  // The first row of each model bootstraps its reference; the window holds the others.
  REQUIRE(wait_until([&] {
    const auto models = driftd.get_json("/v1/models")["models"];
    return models[0]["records_accepted"] == 3 && models[1]["records_accepted"] == 3;
  }, 10000));
  const auto fraud = csv_rows(driftd.get_text("/v1/models/fraud/window"));
  REQUIRE(fraud.size() == 3);
  CHECK(fraud[0] == std::vector<std::string>{"row", "amount", "country", "score"});
  CHECK(std::stod(fraud[1][1]) == 20.0);
  CHECK(fraud[1][2] == "GB");
  CHECK(std::stod(fraud[1][3]) == Approx(0.2));
  CHECK(std::stod(fraud[2][1]) == 30.25);
  CHECK(fraud[2][2] == "DE");
  CHECK(std::stod(fraud[2][3]) == Approx(0.3));
  const auto churn = csv_rows(driftd.get_text("/v1/models/churn/window"));
  REQUIRE(churn.size() == 3);
  CHECK(std::stod(churn[1][1]) == 2.0);
  CHECK(std::stod(churn[1][2]) == 200.0);
  CHECK(std::stod(churn[1][3]) == Approx(0.6));
  CHECK(std::stod(churn[2][3]) == Approx(0.7));
  CHECK(driftd.get_json("/v1/status")["records_unmatched"]["no_model"] == 1);
  driftd.process().signal(SIGTERM);
  CHECK(driftd.process().wait(20000) == 0);
}

namespace {

// Resident memory of a process, from /proc/<pid>/status, in MiB.
double rss_mib(int pid) {
  const std::string status = drift::test::read_file("/proc/" + std::to_string(pid) + "/status");
  const auto at = status.find("VmRSS:");
  if (at == std::string::npos) return 0.0;
  return std::stod(status.substr(at + 6)) / 1024.0;
}

}  // namespace

TEST_CASE("a producer faster than the evaluator gets 503s and memory stays bounded",
          "[run][integration]") {
  TempDir dir;
  dir.write("reference.csv", reference_csv());
  // A small ingest queue and an expensive evaluation every 200 rows: the daemon cannot keep up.
  std::string yaml = config_yaml(
      dir, "  - {name: ingest, type: http, format: flat, queue_records: 2000}\n", "1s",
      "{size: 2000, slide: 200, min_rows: 100}");
  yaml.replace(yaml.find("tests: {ks: {}, psi: {}, chi2: {}}"), 34,
               "tests: {ks: {}, mmd: {features: [x], permutations: 5000}}");
  const std::string config = dir.write("driftd.yaml", yaml);
  Driftd driftd(config, dir.path());
  const auto lines = make_lines(1000, 0);
  std::string body;
  for (const auto& line : lines) {
    if (line.find("\"ts\"") != std::string::npos) body += line + "\n";
  }
  std::size_t accepted = 0;
  std::size_t refused = 0;
  double peak = 0.0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  HttpClient client(driftd.port());
  while (std::chrono::steady_clock::now() < until) {
    const auto reply = client.request("POST", "/v1/ingest/ingest", body,
                                      {{"content-type", "application/x-ndjson"}});
    if (reply.status == 202) ++accepted;
    if (reply.status == 503) {
      ++refused;
      CHECK(reply.header("retry-after") == "1");
    }
    peak = std::max(peak, rss_mib(driftd.process().pid()));
  }
  INFO("accepted " << accepted << ", refused " << refused << ", peak RSS " << peak << " MiB");
  CHECK(refused > 0);
  CHECK(accepted > 0);
  const auto status = driftd.get_json("/v1/status");
  CHECK(status["sources"][0]["records_dropped"].get<std::uint64_t>() > 0);
  // Windows of 2000 rows, a 2000-record queue and 8 waiting snapshots are a few MiB; the rest is
  // the fixed cost of the process (threads, allocator, the HTTP server).
  CHECK(peak < 150.0);
  driftd.process().signal(SIGTERM);
  CHECK(driftd.process().wait(30000) == 0);
}

TEST_CASE("health checks, readiness and the reference API behave as documented", "[run][integration]") {
  TempDir dir;
  std::string yaml = config_yaml(dir, "  - {name: ingest, type: http, format: flat}\n", "1h");
  yaml.replace(yaml.find("reference: {file:"), yaml.find('\n', yaml.find("reference: {file:")) -
                                                   yaml.find("reference: {file:"),
               "reference: {bootstrap: 500}");
  yaml.replace(yaml.find("server: {"), 9, "server: {ready_requires: [references], ");
  const std::string config = dir.write("driftd.yaml", yaml);
  {
    Driftd driftd(config, dir.path());
    HttpClient client(driftd.port());
    CHECK(client.request("GET", "/healthz").status == 200);
    // Bootstrapping: not ready, because this configuration asks for references.
    CHECK(client.request("GET", "/readyz").status == 503);
    CHECK(driftd.model()["reference_ready"] == false);

    // A posted reference replaces the bootstrap at once...
    const auto posted = client.request("POST", "/v1/models/m/reference", reference_csv(),
                                       {{"content-type", "text/csv"}});
    CHECK(posted.status == 200);
    CHECK(client.request("GET", "/readyz").status == 200);
    CHECK(driftd.model()["reference_origin"] == "api");
    CHECK(driftd.model()["reference_rows"] == 2000);
    // ...refuses data that does not fit the model...
    const auto bad = client.request("POST", "/v1/models/m/reference", "y\n1\n", {{"content-type", "text/csv"}});
    CHECK(bad.status == 400);
    CHECK(bad.body.find("no column 'x'") != std::string::npos);
    CHECK(client.request("POST", "/v1/models/nope/reference", reference_csv()).status == 404);
    // ...and SIGHUP (reload file references) leaves it in place.
    driftd.process().signal(SIGHUP);
    CHECK(client.request("GET", "/healthz").status == 200);
    driftd.process().signal(SIGTERM);
    CHECK(driftd.process().wait(20000) == 0);
  }
  {
    // It survives a restart until an empty POST resets the model to bootstrapping.
    Driftd driftd(config, dir.path());
    CHECK(driftd.model()["reference_origin"] == "api");
    HttpClient client(driftd.port());
    CHECK(client.request("POST", "/v1/models/m/reference", "").status == 200);
    CHECK(driftd.model()["reference_ready"] == false);
    CHECK(client.request("GET", "/readyz").status == 503);
    driftd.process().signal(SIGTERM);
    CHECK(driftd.process().wait(20000) == 0);
  }
}

TEST_CASE("records no model can use go to the Kafka source's dead-letter topic",
          "[run][kafka][integration]") {
  const auto lines = make_lines(300, 1000);
  const std::int64_t bad = static_cast<std::int64_t>(lines.size()) -
                           static_cast<std::int64_t>(count_containing(lines, "\"ts\""));
  REQUIRE(bad == 3);
  TempDir logs;
  MockKafka kafka(logs.path(), {"preds:1", "dlq:1"});
  kafka.produce(lines, 0, lines.size());
  TempDir dir;
  dir.write("reference.csv", reference_csv());
  const std::string config = dir.write(
      "driftd.yaml",
      config_yaml(dir, kafka_source(kafka.bootstraps(), "dlq-test", "    dead_letter_topic: dlq\n"),
                  "1s"));
  Driftd driftd(config, dir.path());
  REQUIRE(wait_until([&] { return processed(driftd) == lines.size(); }, 30000));
  CHECK(wait_until([&] { return kafka.messages_in("dlq") == bad; }, 10000));
  driftd.process().signal(SIGTERM);
  CHECK(driftd.process().wait(20000) == 0);
}
