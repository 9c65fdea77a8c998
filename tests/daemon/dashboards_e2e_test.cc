// Every query of the shipped Grafana dashboards (dashboards/*.json) runs on a real Prometheus
// that scrapes the real `driftd run`, fed with drifting data, and returns data: each panel
// target, with the template variables replaced as Grafana would (the `model` and `feature`
// values come from the dashboards' own label_values() variables), must parse and give at least
// one series. driftd gets an HTTP source (drifting records and malformed ones), a Kafka source on
// the mock cluster (so consumer lag exists) and a retraining webhook to a local receiver (so the
// webhook series exist). Skipped, visibly, only where Debian's `prometheus` is not installed.
//
// Hidden from daemon_tests' own run ([.]): ctest runs it once, as `dashboards_queries`
// (label dashboards; tests/CMakeLists.txt).
#include <catch2/catch.hpp>

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "driftd_process.h"
#include "mock_kafka.h"
#include "http_client.h"
#include "process.h"
#include "real_components.h"

using drift::test::ChildProcess;
using drift::test::Driftd;
using drift::test::HttpClient;
using drift::test::MockKafka;
using drift::test::TempDir;
using drift::test::e2e::Deadline;
using drift::test::e2e::eventually;
using drift::test::e2e::find_program;
using drift::test::e2e::Prometheus;
using drift::test::e2e::WebhookSink;
using nlohmann::json;

namespace {

constexpr const char* kModel = "fraud";
// A whole run takes ~20-30 s; this bounds a stuck one on a loaded 2-core CI machine.
constexpr std::chrono::seconds kBudget(150);
// What Grafana's $__rate_interval is at a 1 s scrape interval is max(4 x scrape, step + scrape);
// 15s holds enough samples for every rate() here.
constexpr const char* kRateInterval = "15s";
constexpr int kWindowRows = 300;

const std::filesystem::path kDashboards = std::filesystem::path(DRIFT_SOURCE_DIR) / "dashboards";

// NDJSON records of kModel: amount ~ N(shift, 1), score ~ N(0, 1), country from a distribution
// that moves with `shift`; every 40th misses amount, and every 50th is either a row of the wrong
// type (rejected: wrong_type) or a record of another model (unmatched: no_model).
std::string records(int count, std::uint64_t seed, double shift) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  // (Invalid JSON fails a whole HTTP request with 400: those come through Kafka, below.)
  const char* broken[] = {R"({"model":"fraud","amount":"oops","score":0.1,"country":"fr"})",
                          R"({"model":"other","amount":1})"};
  std::string out;
  char line[200];
  for (int k = 0; k < count; ++k) {
    if (k % 50 == 49) {
      out += broken[(k / 50) % 2];
      out += "\n";
      continue;
    }
    const double u = uniform(rng);
    const char* country = u < (shift > 0 ? 0.2 : 0.5) ? "de" : (u < 0.8 ? "fr" : "us");
    const double amount = normal(rng) + shift;
    const double score = normal(rng);
    if (k % 40 == 39) {
      std::snprintf(line, sizeof line, R"({"model":"%s","score":%.6f,"country":"%s"})" "\n",
                    kModel, score, country);
    } else {
      std::snprintf(line, sizeof line,
                    R"({"model":"%s","amount":%.6f,"score":%.6f,"country":"%s"})" "\n", kModel,
                    amount, score, country);
    }
    out += line;
  }
  return out;
}

std::string driftd_config(const std::string& dir, const std::string& brokers,
                          std::uint16_t webhook_port) {
  const std::string window = std::to_string(kWindowRows);
  return "server: {listen: \"127.0.0.1:0\", shutdown_timeout: 5s}\n"
         "state: {dir: \"" + dir + "/state\", checkpoint_interval: 300ms}\n"
         "sources:\n"
         "  - {name: ingest, type: http, format: flat}\n"
         "  - name: preds\n"
         "    type: kafka\n"
         "    brokers: \"" + brokers + "\"\n"
         "    topics: [preds]\n"
         "    group_id: dashboards-e2e\n"
         "    format: flat\n"
         "    kafka: {auto.offset.reset: earliest, session.timeout.ms: \"6000\", "
         "heartbeat.interval.ms: \"500\", statistics.interval.ms: \"500\", "
         "auto.commit.interval.ms: \"300\"}\n"
         "models:\n"
         "  - name: " + std::string(kModel) + "\n"
         "    match: {pointer: /model, equals: " + kModel + "}\n"
         "    features:\n"
         "      - {name: amount, pointer: /amount, type: numeric}\n"
         "      - {name: score, pointer: /score, type: numeric}\n"
         "      - {name: country, pointer: /country, type: categorical}\n"
         "    reference: {bootstrap: " + window + "}\n"
         "    window: {size: " + window + ", slide: " + window + ", min_rows: 50}\n"
         "    tests: {ks: {}, psi: {bins: 5}, chi2: {}, mmd: {permutations: 100}}\n"
         "alerts:\n"
         "  policy: {consecutive: 1, resolve_after: 1}\n"
         "  webhooks:\n"
         "    - {name: retrain, url: \"http://127.0.0.1:" + std::to_string(webhook_port) +
         "/retrain\", send_resolved: true, timeout: 5s, max_attempts: 2}\n";
}

// A dashboard query with Grafana's variables replaced; FAILs on a variable it does not know.
std::string substitute(const std::string& expr, const std::map<std::string, std::string>& values) {
  static const std::regex variable(R"(\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*))");
  std::string out;
  auto begin = std::sregex_iterator(expr.begin(), expr.end(), variable);
  std::size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    const std::string name = m[1].matched ? m[1].str() : m[2].str();
    const auto value = values.find(name);
    INFO("query: " << expr);
    if (value == values.end()) FAIL("unknown variable $" << name);
    out += expr.substr(last, static_cast<std::size_t>(m.position(0)) - last) + value->second;
    last = static_cast<std::size_t>(m.position(0) + m.length(0));
  }
  return out + expr.substr(last);
}

json read_dashboard(const std::string& name) {
  const auto path = kDashboards / name;
  INFO(path.string());
  REQUIRE(std::filesystem::exists(path));
  return json::parse(drift::test::read_file(path.string()));
}

// Every panel of a dashboard, the panels of rows included.
std::vector<json> panels_of(const json& dashboard) {
  std::vector<json> out;
  for (const auto& panel : dashboard.value("panels", json::array())) {
    out.push_back(panel);
    for (const auto& nested : panel.value("panels", json::array())) out.push_back(nested);
  }
  return out;
}

// A query variable's label_values(<selector>, <label>).
std::pair<std::string, std::string> label_values_of(const json& variable) {
  const json& q = variable.at("query");
  const std::string text = q.is_string() ? q.get<std::string>() : q.at("query").get<std::string>();
  static const std::regex form(R"(^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$)");
  std::smatch m;
  INFO("variable " << variable.at("name") << ": " << text);
  REQUIRE(std::regex_match(text, m, form));
  return {m[1].str(), m[2].str()};
}

// Prometheus's answer to an instant query: {"status", "data": {"result"}} or an error.
struct Answer {
  int http_status = 0;
  json body;
  bool ok() const { return http_status == 200 && body.value("status", "") == "success"; }
  std::size_t series() const { return ok() ? body.at("data").at("result").size() : 0; }
};

Answer instant_query(const Prometheus& prometheus, const std::string& promql) {
  Answer answer;
  const auto reply = HttpClient(prometheus.port())
                         .request("GET", "/api/v1/query?query=" +
                                             drift::test::e2e::url_encode(promql));
  answer.http_status = reply.status;
  answer.body = json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  return answer;
}

}  // namespace

TEST_CASE("Every panel query of the Grafana dashboards returns data from a real Prometheus "
          "scraping a drifting driftd",
          "[.][dashboards][e2e]") {
  const std::string prometheus_binary = find_program("prometheus");
  if (prometheus_binary.empty()) {
    WARN("prometheus not found (PATH, /usr/bin; Debian package `prometheus`): test SKIPPED");
    return;
  }
  const std::vector<std::string> names = {"drift-overview.json", "model-detail.json",
                                          "driftd-health.json"};
  std::map<std::string, json> dashboards;
  for (const auto& name : names) dashboards[name] = read_dashboard(name);

  const Deadline deadline(kBudget);
  TempDir dir;
  MockKafka kafka(dir.path());
  const WebhookSink sink;
  const Driftd driftd(dir.write("driftd.yaml", driftd_config(dir.path(), kafka.bootstraps(),
                                                             sink.port())),
                      dir.path());
  const Prometheus prometheus(
      prometheus_binary, dir.path() + "/prometheus",
      "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
      "scrape_configs:\n"
      "  - job_name: driftd\n"
      "    static_configs: [{targets: ['127.0.0.1:" + std::to_string(driftd.port()) + "']}]\n",
      deadline);
  const auto context = [&] {
    using drift::test::e2e::tail;
    std::string text = "--- driftd stdout:\n" + tail(drift::test::read_file(dir.path() + "/stdout.log")) +
                       "\n--- driftd stderr:\n" + tail(driftd.stderr_text()) + "\n" + prometheus.log();
    try {
      text += "--- /v1/models:\n" + tail(driftd.model().dump()) + "\n";
      text += "--- /v1/status:\n" + tail(driftd.get_json("/v1/status").dump()) + "\n";
    } catch (const std::exception& e) {
      text += std::string("(driftd unavailable: ") + e.what() + ")\n";
    }
    text += "--- webhook receiver got " + std::to_string(sink.bodies().size()) + " posts\n";
    return text;
  };

  // Kafka: records no model takes (another model, invalid JSON, not an object), so the Kafka
  // source has committed offsets and a consumer lag without touching the model's windows.
  std::vector<std::string> kafka_records;
  for (int k = 0; k < 50; ++k) {
    kafka_records.push_back(k % 10 == 3   ? std::string("not json")
                            : k % 10 == 7 ? std::string("[1, 2]")
                                          : R"({"model":"other","amount":)" + std::to_string(k) + "}");
  }
  kafka.produce(kafka_records);

  // HTTP: the reference, then windows clean, drifting, drifting, clean. The alert fires on the
  // first drifting window (webhook FIRING) and resolves on the clean one (RESOLVED).
  // Each post is 320 lines, 6 of them malformed: 314 rows, so the 5 posts fill the reference
  // and 4 windows (1500 rows) and leave 70 rows in a fifth.
  const double shifts[] = {0.0, 0.0, 1.0, 1.0, 0.0};
  for (std::uint64_t w = 0; w < 5; ++w) {
    REQUIRE(driftd.post("/v1/ingest/ingest", records(320, w + 1, shifts[w])) == 202);
  }
  constexpr std::uint64_t kEvaluations = 4;
  eventually(deadline, "driftd's evaluation " + std::to_string(kEvaluations),
             [&] { return driftd.model().at("evaluations").get<std::uint64_t>() >= kEvaluations; },
             context);
  const json model = driftd.model();
  INFO("/v1/models: " << model.dump());
  CHECK(model.at("alert").is_object());

  // What every panel needs before it can show data: Prometheus has scraped the last
  // evaluation, a delivered webhook, a consumer lag and a checkpoint, over a few scrapes.
  const auto holds = [&](const std::string& promql) { return instant_query(prometheus, promql).series() > 0; };
  const std::string m = "{model=\"" + std::string(kModel) + "\"}";
  for (const std::string& ready :
       {"drift_evaluation_duration_seconds_count" + m + " >= " + std::to_string(kEvaluations),
        std::string("drift_webhook_deliveries_total{outcome=\"delivered\"} >= 1"),
        std::string("drift_source_consumer_lag"), std::string("drift_last_checkpoint_timestamp_seconds"),
        std::string("drift_mmd_statistic") + m,
        std::string("count_over_time(drift_build_info[1m]) >= 3")}) {
    eventually(deadline, "Prometheus to hold " + ready, [&] { return holds(ready); }, context);
  }

  // The template variables, as Grafana resolves them: model from label_values(), then feature
  // from label_values() with that model.
  std::map<std::string, std::string> values = {{"__rate_interval", kRateInterval},
                                               {"__interval", kRateInterval},
                                               {"__range", "5m"},
                                               {"model", kModel}};
  std::set<std::string> features;
  for (const auto& name : names) {
    for (const auto& variable : dashboards[name].at("templating").at("list")) {
      if (variable.at("type") != "query") continue;
      const auto selector_and_label = label_values_of(variable);
      const std::string& selector = selector_and_label.first;
      const std::string& label = selector_and_label.second;
      const std::string promql = substitute(selector, values);
      std::set<std::string> found;
      eventually(
          deadline, name + " variable " + variable.at("name").get<std::string>() + ": " + promql,
          [&] {
            const Answer answer = instant_query(prometheus, promql);
            found.clear();
            for (const auto& series : answer.ok() ? answer.body["data"]["result"] : json::array()) {
              if (series.at("metric").contains(label)) found.insert(series["metric"][label].get<std::string>());
            }
            return !found.empty();
          },
          context);
      if (label == "model") CHECK(found == std::set<std::string>{kModel});
      if (label == "feature") features.insert(found.begin(), found.end());
    }
  }
  REQUIRE(features == std::set<std::string>{"amount", "country", "score"});

  // Every target of every panel, for every feature (numeric and categorical panels differ: KS
  // for one, chi-square for the other).
  std::size_t checked = 0;
  for (const auto& name : names) {
    std::size_t targets = 0;
    for (const json& panel : panels_of(dashboards[name])) {
      if (panel.value("type", "") == "row") continue;
      for (const json& target : panel.value("targets", json::array())) {
        const std::string expr = target.at("expr").get<std::string>();
        const bool per_feature = expr.find("$feature") != std::string::npos ||
                                 expr.find("${feature}") != std::string::npos;
        for (const std::string& feature :
             per_feature ? features : std::set<std::string>{*features.begin()}) {
          values["feature"] = feature;
          const std::string promql = substitute(expr, values);
          const std::string what = name + " panel " + std::to_string(panel.at("id").get<int>()) +
                                   " \"" + panel.at("title").get<std::string>() + "\" target " +
                                   target.at("refId").get<std::string>() + ": " + promql;
          // Everything is scraped by now: a query gets a few seconds (a scrape or two), not the
          // whole budget, so a panel without data fails fast.
          const Deadline query_deadline(std::chrono::seconds(
              std::min<long long>(8, std::chrono::duration_cast<std::chrono::seconds>(deadline.left()).count())));
          Answer answer;
          eventually(
              query_deadline, what + " to return a series",
              [&] {
                answer = instant_query(prometheus, promql);
                // A query that does not parse never will: fail at once.
                return !answer.ok() || answer.series() > 0;
              },
              [&] { return "--- last answer: " + answer.body.dump() + "\n" + context(); });
          INFO(what << "\n--- answer: " << answer.body.dump());
          REQUIRE(answer.http_status == 200);
          REQUIRE(answer.body.value("status", "") == "success");
          REQUIRE(answer.series() >= 1);
          ++checked;
          ++targets;
        }
      }
    }
    INFO(name);
    CHECK(targets >= 5);
  }
  // A line in the log of what was checked.
  WARN("dashboards e2e: " << checked << " panel queries returned data (" << names.size()
                          << " dashboards, features amount/country/score)");

  // The receiver saw the retraining event the drift caused.
  CHECK(!sink.bodies().empty());
}
