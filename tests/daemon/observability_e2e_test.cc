// driftd's observability with the real components around it: Debian's Prometheus scraping the
// real `driftd run` binary, and the shipped alert rules going through a real Alertmanager to a
// webhook receiver. Skipped (with a warning) only where the binaries are not installed.
#include <catch2/catch.hpp>

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "driftd_process.h"
#include "real_components.h"

using drift::test::Driftd;
using drift::test::TempDir;
using drift::test::e2e::Alertmanager;
using drift::test::e2e::Deadline;
using drift::test::e2e::eventually;
using drift::test::e2e::find_program;
using drift::test::e2e::Prometheus;
using drift::test::e2e::WebhookSink;
using nlohmann::json;

namespace {

constexpr const char* kModel = "fraud";
// Each test must end, pass or fail, within this: CI machines have 2 loaded cores.
constexpr std::chrono::seconds kBudget(90);

// NDJSON records of kModel: amount and score standard normal (seeded: the same rows on every
// run, so "clean" windows are known not to drift), amount shifted by `amount_shift`.
std::string records(int count, std::uint64_t seed, double amount_shift) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::string out;
  char line[160];
  for (int k = 0; k < count; ++k) {
    const double amount = normal(rng) + amount_shift;
    const double score = normal(rng);
    std::snprintf(line, sizeof line, "{\"model\":\"%s\",\"amount\":%.6f,\"score\":%.6f}\n", kModel,
                  amount, score);
    out += line;
  }
  return out;
}

// One HTTP source; the first 500 rows are the reference, then every 500 rows are one tumbling
// window and one evaluation. The alert fires on the first drifting window, resolves on the
// first clean one.
std::string driftd_config(const std::string& dir) {
  return "server: {listen: \"127.0.0.1:0\", shutdown_timeout: 5s}\n"
         "state: {dir: \"" + dir + "/state\", checkpoint_interval: 1s}\n"
         "sources:\n"
         "  - {name: ingest, type: http, format: flat}\n"
         "models:\n"
         "  - name: " + std::string(kModel) + "\n"
         "    match: {pointer: /model, equals: " + kModel + "}\n"
         "    features:\n"
         "      - {name: amount, pointer: /amount, type: numeric}\n"
         "      - {name: score, pointer: /score, type: numeric}\n"
         "    reference: {bootstrap: 500}\n"
         "    window: {size: 500, slide: 500, min_rows: 100}\n"
         "    tests: {ks: {}, psi: {}}\n"
         "    alerts:\n"
         "      policy: {consecutive: 1, resolve_after: 1}\n";
}

// driftd's output so far, for failure messages.
std::string driftd_log(const TempDir& dir, const Driftd& driftd) {
  using drift::test::e2e::tail;
  return "--- driftd stdout:\n" + tail(drift::test::read_file(dir.path() + "/stdout.log")) +
         "\n--- driftd stderr:\n" + tail(driftd.stderr_text()) + "\n";
}

// Posts NDJSON to the http source; driftd answers 202 once the records are in its WAL.
void ingest(const Driftd& driftd, std::string ndjson) {
  REQUIRE(driftd.post("/v1/ingest/ingest", std::move(ndjson)) == 202);
}

std::string prometheus_config(std::uint16_t driftd_port, const std::string& extra = "") {
  return "global: {scrape_interval: 1s, evaluation_interval: 1s}\n" + extra +
         "scrape_configs:\n"
         "  - job_name: driftd\n"
         "    static_configs: [{targets: ['127.0.0.1:" + std::to_string(driftd_port) + "']}]\n";
}

std::string selector(const std::string& metric, const std::string& labels = "") {
  return metric + "{model=\"" + kModel + "\"" + (labels.empty() ? "" : "," + labels) + "}";
}

// A value as Prometheus holds it after a scrape: prometheus-cpp writes 16 significant digits
// (METRICS.md, "Precision"), Prometheus parses that text and answers with the shortest text
// that reads back to the same double. So the comparison below is exact, not a tolerance.
double as_scraped(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.16g", value);
  return std::strtod(text, nullptr);
}

// Waits until driftd has made `n` evaluations of kModel and returns its /v1/models entry.
json wait_for_evaluations(const Driftd& driftd, std::uint64_t n, const Deadline& deadline,
                          const std::function<std::string()>& context) {
  json model;
  eventually(
      deadline, "driftd's evaluation " + std::to_string(n),
      [&] {
        model = driftd.model();
        return model.at("evaluations").get<std::uint64_t>() >= n;
      },
      context);
  REQUIRE(model.at("evaluations").get<std::uint64_t>() == n);  // no rows beyond n windows sent
  REQUIRE(model.at("last_evaluation").is_object());
  return model;
}

// Waits until Prometheus holds the scrape of `model`'s last evaluation, pinned by the
// evaluation count (nothing else is sent meanwhile, so later scrapes show the same).
void wait_for_scrape_of(const Prometheus& prometheus, const json& model, const Deadline& deadline,
                        const std::function<std::string()>& context) {
  const auto evaluations = model.at("evaluations").get<std::uint64_t>();
  eventually(
      deadline, "Prometheus to scrape evaluation " + std::to_string(evaluations),
      [&] {
        return prometheus.scalar(selector("drift_evaluation_duration_seconds_count")) ==
               static_cast<double>(evaluations);
      },
      context);
  // The finish time is the same evaluation's, but not to the millisecond: the daemon reads
  // the clock once for the metric and again for /v1/models (Pipeline::evaluate), and the
  // two differ by the time the exports take.
  const double finished =
      static_cast<double>(model.at("last_evaluation_ms").get<std::int64_t>()) / 1000.0;
  CHECK_THAT(prometheus.scalar(selector("drift_last_evaluation_timestamp_seconds")),
             Catch::Matchers::WithinAbs(finished, 1.0));
}

using SeriesValues = std::map<std::pair<std::string, std::string>, double>;  // (feature, test)

SeriesValues scraped_series(const Prometheus& prometheus, const std::string& metric) {
  SeriesValues values;
  for (const auto& sample : prometheus.query(selector(metric))) {
    const auto& labels = sample.at("metric");
    const auto key = std::pair(labels.at("feature").get<std::string>(),
                               labels.at("test").get<std::string>());
    CHECK(values.emplace(key, std::stod(sample.at("value").at(1).get<std::string>())).second);
  }
  return values;
}

// Every per-feature, per-test series in Prometheus equals /v1/models' last_evaluation.
void check_series_match(const Prometheus& prometheus, const json& model) {
  const json& evaluation = model.at("last_evaluation");
  std::map<std::string, SeriesValues> expected;
  for (const auto& feature : evaluation.at("features")) {
    const std::string name = feature.at("name").get<std::string>();
    for (const auto& [test, result] : feature.at("tests").items()) {
      const auto key = std::pair(name, test);
      expected["drift_feature_statistic"][key] = as_scraped(result.at("statistic").get<double>());
      expected["drift_feature_threshold"][key] = as_scraped(result.at("threshold").get<double>());
      expected["drift_feature_drift"][key] = result.at("drift").get<bool>() ? 1.0 : 0.0;
      if (result.contains("p_value")) {
        expected["drift_feature_p_value"][key] = as_scraped(result.at("p_value").get<double>());
      }
    }
  }
  REQUIRE(expected["drift_feature_statistic"].size() == 4);  // 2 features x {ks, psi}
  for (const auto& [metric, series] : expected) {
    const SeriesValues scraped = scraped_series(prometheus, metric);
    INFO(metric << " in /v1/models: " << evaluation.dump());
    CHECK(scraped.size() == series.size());
    for (const auto& [key, value] : series) {
      INFO(metric << "{feature=\"" << key.first << "\",test=\"" << key.second << "\"}");
      const auto it = scraped.find(key);
      REQUIRE(it != scraped.end());
      CHECK(it->second == value);
    }
  }
  CHECK(prometheus.scalar(selector("drift_model_drift")) ==
        (evaluation.at("drift").get<bool>() ? 1.0 : 0.0));
}

double feature_drift(const Prometheus& prometheus, const std::string& feature,
                     const std::string& test) {
  return prometheus.scalar(
      selector("drift_feature_drift", "feature=\"" + feature + "\",test=\"" + test + "\""));
}

}  // namespace

TEST_CASE("A real Prometheus scraping driftd sees the drift series change when drift is injected",
          "[e2e][prometheus]") {
  const std::string prometheus_binary = find_program("prometheus");
  if (prometheus_binary.empty()) {
    // "test SKIPPED" first: Catch wraps long lines, and ctest matches it (tests/CMakeLists.txt).
    WARN("test SKIPPED: prometheus not found (PATH, /usr/bin; Debian package `prometheus`)");
    return;
  }
  const Deadline deadline(kBudget);
  TempDir dir;
  const Driftd driftd(dir.write("driftd.yaml", driftd_config(dir.path())), dir.path());
  const Prometheus prometheus(prometheus_binary, dir.path() + "/prometheus",
                              prometheus_config(driftd.port()), deadline);
  const auto context = [&] {
    std::string text = driftd_log(dir, driftd) + prometheus.log();
    try {
      text += "--- /v1/models:\n" + driftd.model().dump() + "\n";
      text += "--- Prometheus targets:\n" + prometheus.get_json("/api/v1/targets").dump() + "\n";
      text += "--- Prometheus drift_feature_drift:\n" +
              prometheus.query(selector("drift_feature_drift")).dump() + "\n";
    } catch (const std::exception& e) {
      text += std::string("(query failed: ") + e.what() + ")\n";
    }
    return text;
  };

  // The reference (bootstrap) and one window from the same distribution: no drift.
  ingest(driftd, records(500, 1, 0.0) + records(500, 2, 0.0));
  const json clean = wait_for_evaluations(driftd, 1, deadline, context);
  REQUIRE(clean.at("last_evaluation").at("drift") == false);
  wait_for_scrape_of(prometheus, clean, deadline, context);
  check_series_match(prometheus, clean);
  CHECK(prometheus.scalar(selector("drift_model_drift")) == 0.0);
  CHECK(feature_drift(prometheus, "amount", "ks") == 0.0);

  // driftd is a healthy target: every scrape parsed (a failed one would set lastError).
  json target;
  eventually(
      deadline, "the driftd target to be up with no error",
      [&] {
        const json active = prometheus.get_json("/api/v1/targets").at("data").at("activeTargets");
        if (active.size() != 1) return false;
        target = active[0];
        return target.at("health") == "up" && target.at("lastError") == "";
      },
      context);
  CHECK(target.at("labels").at("job") == "driftd");
  CHECK(target.at("scrapeUrl") == "http://127.0.0.1:" + std::to_string(driftd.port()) + "/metrics");

  // One window with amount shifted by one standard deviation: KS sees it.
  ingest(driftd, records(500, 3, 1.0));
  const json drifted = wait_for_evaluations(driftd, 2, deadline, context);
  REQUIRE(drifted.at("last_evaluation").at("drift") == true);
  REQUIRE(drifted.at("last_evaluation").at("features").at(0).at("name") == "amount");
  REQUIRE(drifted.at("last_evaluation").at("features").at(0).at("tests").at("ks").at("drift") ==
          true);
  eventually(
      deadline, "Prometheus to see drift_model_drift 1 and amount's KS drift 1",
      [&] {
        return prometheus.scalar(selector("drift_model_drift")) == 1.0 &&
               feature_drift(prometheus, "amount", "ks") == 1.0;
      },
      context);
  wait_for_scrape_of(prometheus, drifted, deadline, context);
  check_series_match(prometheus, drifted);
}

namespace {

// The shipped PrometheusRule's `.spec` (a plain rules file, as the Prometheus Operator loads
// it), with every non-zero `for:` cut to 1s: the shipped minutes would outlast the test's
// budget, and 1s (one evaluation_interval) still takes the alert through pending to firing.
std::string shipped_rules_with_short_for() {
  const auto path =
      std::filesystem::path(DRIFT_SOURCE_DIR) / "manifests" / "base" / "prometheusrule.yaml";
  INFO(path.string());
  REQUIRE(std::filesystem::exists(path));
  YAML::Node spec = YAML::LoadFile(path.string())["spec"];
  REQUIRE(spec["groups"].IsSequence());
  bool drift_detected = false;
  for (YAML::Node group : spec["groups"]) {
    for (YAML::Node rule : group["rules"]) {
      drift_detected = drift_detected || rule["alert"].as<std::string>("") == "DriftDetected";
      if (rule["for"] && !rule["for"].as<std::string>().starts_with("0")) rule["for"] = "1s";
    }
  }
  REQUIRE(drift_detected);
  YAML::Emitter out;
  out << spec;
  REQUIRE(out.good());
  return std::string(out.c_str()) + "\n";
}

// Seconds since the epoch of an RFC 3339 time ("2026-11-27T13:25:53.399Z", "...+01:00"), or
// nullopt when the text is not one.
std::optional<double> rfc3339_seconds(const std::string& text) {
  static const std::regex format(
      R"((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|([+-])(\d{2}):(\d{2})))");
  std::smatch m;
  if (!std::regex_match(text, m, format)) return std::nullopt;
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  double seconds = static_cast<double>(timegm(&tm));
  if (m[7].matched) seconds += std::stod("0" + m[7].str());
  if (m[9].matched) {
    const double offset = std::stod(m[10]) * 3600 + std::stod(m[11]) * 60;
    seconds -= m[9] == "+" ? offset : -offset;
  }
  return seconds;
}

// The first DriftDetected notification for kModel with this status (and, if given, this
// alert's fingerprint) among the bodies the receiver got.
std::optional<json> find_notification(const std::vector<std::string>& bodies,
                                      const std::string& status,
                                      const std::string& fingerprint = "") {
  for (const std::string& body : bodies) {
    const json payload = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!payload.is_object() || payload.value("status", "") != status) continue;
    const json group = payload.value("groupLabels", json::object());
    if (group.value("alertname", "") != "DriftDetected" || group.value("model", "") != kModel) {
      continue;
    }
    for (const auto& alert : payload.value("alerts", json::array())) {
      if (fingerprint.empty() || alert.value("fingerprint", "") == fingerprint) return payload;
    }
  }
  return std::nullopt;
}

// The webhook payload as ECOSYSTEM.md §3 (Alertmanager's notify/webhook) describes it, with
// the labels and annotations of the shipped DriftDetected rule.
void check_payload(const json& payload, const std::string& status) {
  INFO(payload.dump(2));
  CHECK(payload.at("version") == "4");
  CHECK(payload.at("status") == status);
  CHECK(payload.at("receiver") == "driftd-hook");
  CHECK(payload.at("truncatedAlerts") == 0);
  CHECK(payload.at("groupKey").get<std::string>().find("alertname=\"DriftDetected\"") !=
        std::string::npos);
  CHECK(payload.at("externalURL").is_string());
  CHECK(payload.at("groupLabels") == json({{"alertname", "DriftDetected"}, {"model", kModel}}));
  const json labels = {{"alertname", "DriftDetected"}, {"model", kModel}, {"severity", "warning"}};
  CHECK(payload.at("commonLabels") == labels);
  const json& annotations = payload.at("commonAnnotations");
  CHECK(annotations.at("summary") == "Model " + std::string(kModel) + " is drifting");
  CHECK(annotations.at("description").get<std::string>().find(
            "for model " + std::string(kModel) + " is firing") != std::string::npos);
  CHECK(annotations.at("runbook_url").get<std::string>().starts_with("https://"));

  REQUIRE(payload.at("alerts").size() == 1);
  const json& alert = payload.at("alerts").at(0);
  CHECK(alert.at("status") == status);
  CHECK(alert.at("labels") == labels);
  CHECK(alert.at("annotations") == annotations);
  CHECK(std::regex_match(alert.at("fingerprint").get<std::string>(), std::regex("[0-9a-f]{16}")));
  // Prometheus links the rule's expression.
  CHECK(alert.at("generatorURL").get<std::string>().find("/graph?g0.expr=") != std::string::npos);
  const auto starts = rfc3339_seconds(alert.at("startsAt").get<std::string>());
  REQUIRE(starts.has_value());
  if (status == "firing") {
    CHECK(alert.at("endsAt") == "0001-01-01T00:00:00Z");  // AM hides a firing alert's end
  } else {
    const auto ends = rfc3339_seconds(alert.at("endsAt").get<std::string>());
    REQUIRE(ends.has_value());
    CHECK(*ends >= *starts);
  }
}

}  // namespace

TEST_CASE("A real Alertmanager receives DriftDetected and delivers it to a webhook receiver, "
          "firing then resolved",
          "[e2e][alertmanager]") {
  const std::string prometheus_binary = find_program("prometheus");
  const std::string alertmanager_binary = find_program("prometheus-alertmanager");
  if (prometheus_binary.empty() || alertmanager_binary.empty()) {
    WARN("test SKIPPED: prometheus or prometheus-alertmanager not found (PATH, /usr/bin; Debian "
         "packages `prometheus`, `prometheus-alertmanager`)");
    return;
  }
  const Deadline deadline(kBudget);
  TempDir dir;
  const WebhookSink sink;
  // Short waits so that the firing and the resolved notification come within seconds; a long
  // repeat_interval, since repeats would only add duplicates of the firing notification.
  const Alertmanager alertmanager(
      alertmanager_binary, dir.path() + "/alertmanager",
      "route:\n"
      "  receiver: driftd-hook\n"
      "  group_by: [alertname, model]\n"
      "  group_wait: 1s\n"
      "  group_interval: 1s\n"
      "  repeat_interval: 1h\n"
      "receivers:\n"
      "  - name: driftd-hook\n"
      "    webhook_configs:\n"
      "      - {url: 'http://127.0.0.1:" + std::to_string(sink.port()) + "/hook', "
      "send_resolved: true}\n",
      deadline);
  const Driftd driftd(dir.write("driftd.yaml", driftd_config(dir.path())), dir.path());
  const std::string rules = dir.write("rules.yml", shipped_rules_with_short_for());
  const Prometheus prometheus(
      prometheus_binary, dir.path() + "/prometheus",
      prometheus_config(driftd.port(),
                        "rule_files: ['" + rules + "']\n"
                        "alerting:\n"
                        "  alertmanagers:\n"
                        "    - static_configs: [{targets: ['127.0.0.1:" +
                            std::to_string(alertmanager.port()) + "']}]\n"),
      deadline);
  const auto context = [&] {
    std::string text = driftd_log(dir, driftd) + prometheus.log() + alertmanager.log();
    try {
      text += "--- /v1/models:\n" + driftd.model().dump() + "\n";
      text += "--- Prometheus rules:\n" + prometheus.get_json("/api/v1/rules").dump() + "\n";
      text += "--- Prometheus alerts:\n" + prometheus.get_json("/api/v1/alerts").dump() + "\n";
      text += "--- Alertmanager alerts:\n" + alertmanager.get_json("/api/v2/alerts").dump() + "\n";
    } catch (const std::exception& e) {
      text += std::string("(query failed: ") + e.what() + ")\n";
    }
    text += "--- webhook bodies:\n";
    for (const auto& body : sink.bodies()) text += body + "\n";
    return text;
  };

  // Prometheus loaded the shipped rule unchanged but for `for`.
  eventually(
      deadline, "Prometheus to load the shipped DriftDetected rule",
      [&] {
        const json rules_api = prometheus.get_json("/api/v1/rules");  // outlives the loop
        for (const auto& group : rules_api.at("data").at("groups")) {
          for (const auto& rule : group.at("rules")) {
            if (rule.value("name", "") == "DriftDetected") {
              return rule.at("query") == "max by (model) (drift_alert_firing) == 1" &&
                     rule.at("duration") == 1 && rule.at("health") == "ok";
            }
          }
        }
        return false;
      },
      context);

  // The reference, then a window with amount shifted: the policy fires at once.
  ingest(driftd, records(500, 1, 0.0) + records(500, 3, 1.0));
  const json drifting = wait_for_evaluations(driftd, 1, deadline, context);
  REQUIRE(drifting.at("last_evaluation").at("drift") == true);
  REQUIRE(drifting.at("alert").at("firing") == true);

  std::optional<json> firing;
  eventually(
      deadline, "a firing DriftDetected notification at the webhook receiver",
      [&] { return (firing = find_notification(sink.bodies(), "firing")).has_value(); }, context);
  check_payload(*firing, "firing");
  const json& fired = firing->at("alerts").at(0);

  // A clean window: the policy resolves, and so do the Prometheus alert and the notification.
  ingest(driftd, records(500, 2, 0.0));
  const json clean = wait_for_evaluations(driftd, 2, deadline, context);
  REQUIRE(clean.at("last_evaluation").at("drift") == false);
  REQUIRE(clean.at("alert").at("firing") == false);

  std::optional<json> resolved;
  eventually(
      deadline, "a resolved DriftDetected notification for the same alert",
      [&] {
        resolved = find_notification(sink.bodies(), "resolved", fired.at("fingerprint"));
        return resolved.has_value();
      },
      context);
  check_payload(*resolved, "resolved");
  CHECK(resolved->at("alerts").at(0).at("startsAt") == fired.at("startsAt"));
  CHECK(resolved->at("groupKey") == firing->at("groupKey"));

  // Every body Alertmanager posted was JSON; none was resolved before the firing one.
  const auto bodies = sink.bodies();
  bool seen_firing = false;
  for (const auto& body : bodies) {
    const json payload = json::parse(body, nullptr, false);
    CHECK(payload.is_object());
    if (payload.is_discarded() ||
        payload.value("groupLabels", json::object()).value("alertname", "") != "DriftDetected") {
      continue;
    }
    seen_firing = seen_firing || payload.value("status", "") == "firing";
    CHECK((seen_firing || payload.value("status", "") != "resolved"));
  }
}
