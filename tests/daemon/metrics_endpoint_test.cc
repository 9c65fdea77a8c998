// GET /metrics on the real `driftd run`: the exposition headers, gzip, promtool, METRICS.md
// against what the daemon really exports, values equal to /v1/models, and alert state and
// counters that survive kill -9.
#include <catch2/catch.hpp>

#include <cmath>
#include <csignal>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "driftd_process.h"
#include "exposition.h"
#include "http_client.h"
#include "process.h"

using drift::test::Driftd;
using drift::test::Exposition;
using drift::test::HttpClient;
using drift::test::Labels;
using drift::test::TempDir;
using drift::test::wait_until;

namespace {

std::string config_yaml(const TempDir& dir, const std::string& policy) {
  return "server: {listen: \"127.0.0.1:0\"}\n"
         "state: {dir: \"" + dir.path() + "/state\", checkpoint_interval: 200ms}\n"
         "sources:\n"
         "  - {name: in, type: http}\n"
         "models:\n"
         "  - name: m\n"
         "    match: {pointer: /model, equals: m}\n"
         "    features:\n"
         "      - {name: x, pointer: /x, type: numeric}\n"
         "      - {name: c, pointer: /c, type: categorical}\n"
         "    reference: {bootstrap: 1000}\n"
         "    window: {size: 500, slide: 500}\n"
         "    tests: {ks: {}, psi: {}, chi2: {}}\n"
         "alerts:\n"
         "  policy: " + policy + "\n";
}

/// `count` NDJSON records of model "m" (x ~ N(shift, 1)); every 50th has a string x.
std::string records(int count, double shift, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(shift, 1.0);
  const char* colours[] = {"red", "green", "blue"};
  std::string body;
  for (int k = 0; k < count; ++k) {
    if (k % 50 == 49) {
      body += R"({"model":"m","x":"oops","c":"red"})" "\n";
      continue;
    }
    body += R"({"model":"m","x":)" + std::to_string(normal(rng)) + R"(,"c":")" +
            colours[rng() % 3] + "\"}\n";
  }
  return body;
}

Exposition scrape(const Driftd& d) {
  HttpClient client(d.port());
  const auto reply = client.request("GET", "/metrics");
  REQUIRE(reply.status == 200);
  return drift::test::parse_exposition(reply.body);
}

double value(const Exposition& e, const std::string& name, const Labels& labels) {
  const auto v = e.value(name, labels);
  INFO(name);
  REQUIRE(v.has_value());
  return *v;
}

}  // namespace

TEST_CASE("driftd serves /metrics: headers, gzip, promtool, METRICS.md and values",
          "[daemon][metrics]") {
  TempDir dir;
  const std::string config = dir.write("driftd.yaml", config_yaml(dir, "{consecutive: 1}"));
  Driftd d(config, dir.path());
  // 1000 rows bootstrap the reference, 500 more make one evaluation.
  REQUIRE(d.post("/v1/ingest/in", records(1540, 0.0, 1)) == 202);
  REQUIRE(wait_until([&] { return d.model()["evaluations"].get<int>() >= 1; }, 30000));
  const nlohmann::json model = d.model();

  HttpClient client(d.port());
  const auto plain = client.request("GET", "/metrics");
  REQUIRE(plain.status == 200);
  CHECK(plain.header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(plain.header("content-encoding").empty());
  const auto packed = client.request("GET", "/metrics", {}, {{"accept-encoding", "gzip"}});
  REQUIRE(packed.status == 200);
  CHECK(packed.header("content-encoding") == "gzip");
  CHECK(packed.header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
  const Exposition e = drift::test::parse_exposition(plain.body);
  const Exposition unpacked = drift::test::parse_exposition(drift::test::gunzip(packed.body));
  CHECK(unpacked.type == e.type);

  SECTION("promtool check metrics finds nothing") {
    const std::string promtool = drift::test::find_program("promtool");
    if (promtool.empty()) {
      WARN("promtool not found on PATH: exposition lint skipped");
      return;
    }
    const std::string file = dir.write("scrape.txt", plain.body);
    const auto result = drift::test::run_process(
        {"/bin/sh", "-c", "exec '" + promtool + "' check metrics < '" + file + "'"});
    INFO(result.out << result.err);
    CHECK(result.exit_code == 0);
    CHECK(result.out.empty());
    CHECK(result.err.empty());
  }

  SECTION("every family the daemon exports is documented in METRICS.md with its type and labels") {
    const auto documented = drift::test::documented_catalogue();
    std::map<std::string, std::set<std::string>> live;
    for (const auto& s : e.samples) {
      const std::string family = e.family_of(s.name);
      auto& labels = live[family];
      for (const auto& [k, v] : s.labels) {
        if (k != "le" || e.type.at(family) != "histogram") labels.insert(k);
      }
    }
    CHECK(live.size() >= 25);
    for (const auto& [name, labels] : live) {
      INFO(name);
      REQUIRE(documented.contains(name));
      CHECK(e.type.at(name) == documented.at(name).first);
      CHECK(labels == documented.at(name).second);
    }
  }

  SECTION("values equal the daemon's own report") {
    const auto& result = model["last_evaluation"];
    const auto& x = result["features"][0];
    REQUIRE(x["name"] == "x");
    const Labels ks{{"model", "m"}, {"feature", "x"}, {"test", "ks"}};
    // prometheus-cpp writes 16 significant digits.
    CHECK_THAT(value(e, "drift_feature_statistic", ks),
               Catch::Matchers::WithinRel(x["tests"]["ks"]["statistic"].get<double>(), 1e-15));
    CHECK_THAT(value(e, "drift_feature_p_value", ks),
               Catch::Matchers::WithinRel(x["tests"]["ks"]["p_value"].get<double>(), 1e-15));
    CHECK(value(e, "drift_feature_drift", ks) == (x["tests"]["ks"]["drift"].get<bool>() ? 1.0 : 0.0));
    CHECK(value(e, "drift_model_drift", {{"model", "m"}}) ==
          (result["drift"].get<bool>() ? 1.0 : 0.0));
    CHECK(value(e, "drift_reference_rows", {{"model", "m"}}) == 1000);
    CHECK(value(e, "drift_records_total", {{"source", "in"}, {"model", "m"}, {"outcome", "accepted"}}) ==
          model["records_accepted"].get<double>());
    CHECK(value(e, "drift_records_rejected_total",
                {{"source", "in"}, {"model", "m"}, {"reason", "wrong_type"}}) ==
          model["rejected_by_reason"]["wrong_type"].get<double>());
    CHECK(model["rejected_by_reason"]["wrong_type"].get<int>() == 1540 / 50);
    CHECK(value(e, "drift_source_records_received_total", {{"source", "in"}}) == 1540);
    CHECK(value(e, "drift_source_up", {{"source", "in"}, {"type", "http"}}) == 1);
    CHECK(value(e, "drift_alert_firing", {{"model", "m"}}) == 0);
    CHECK(value(e, "drift_evaluation_duration_seconds_count", {{"model", "m"}}) == 1);
    CHECK(value(e, "drift_evaluations_total", {{"model", "m"}, {"backend", "cpu"}}) == 1);
    CHECK(value(e, "drift_gpu_fallbacks_total", {}) == 0);
    CHECK(e.count("drift_build_info", {{"backend", "cpu"}}) == 1);
    // PSI bin proportions sum to 1 on each side.
    double reference = 0;
    double current = 0;
    for (const auto& s : e.samples) {
      if (s.labels.count("feature") == 0 || s.labels.at("feature") != "x") continue;
      if (s.name == "drift_psi_bin_reference_ratio") reference += s.value;
      if (s.name == "drift_psi_bin_current_ratio") current += s.value;
    }
    CHECK_THAT(reference, Catch::Matchers::WithinAbs(1.0, 1e-9));
    CHECK_THAT(current, Catch::Matchers::WithinAbs(1.0, 1e-9));
    // A categorical feature's bins are its categories.
    for (const char* colour : {"red", "green", "blue"}) {
      INFO(colour);
      CHECK(e.count("drift_psi_bin_current_ratio",
                    {{"model", "m"}, {"feature", "c"}, {"bin", colour}}) == 1);
    }
    CHECK(e.count("drift_psi_bin_current_ratio", {{"model", "m"}, {"feature", "c"}}) == 3);
  }
}

TEST_CASE("alert state and exported counters survive kill -9", "[daemon][metrics]") {
  TempDir dir;
  const std::string config =
      dir.write("driftd.yaml", config_yaml(dir, "{consecutive: 2, resolve_after: 2}"));
  double accepted = 0;
  {
    Driftd d(config, dir.path());
    // 1078 rows: 1000 bootstrap the reference. Then 1078 drifting rows: two drifting windows
    // (the first holds 78 clean rows), so the alert fires.
    REQUIRE(d.post("/v1/ingest/in", records(1100, 0.0, 1)) == 202);
    REQUIRE(d.post("/v1/ingest/in", records(1100, 1.5, 2)) == 202);
    REQUIRE(wait_until([&] { return d.model()["evaluations"].get<int>() >= 2; }, 30000));
    const Exposition e = scrape(d);
    CHECK(value(e, "drift_alert_firing", {{"model", "m"}}) == 1);
    CHECK(value(e, "drift_alert_state", {{"model", "m"}, {"state", "firing"}}) == 1);
    CHECK(d.model()["alert"]["state"] == "firing");
    accepted = value(e, "drift_records_total",
                     {{"source", "in"}, {"model", "m"}, {"outcome", "accepted"}});
    // A checkpoint taken after the evaluations (every 200 ms), then kill -9.
    REQUIRE(wait_until([&] {
      const auto status = d.get_json("/v1/status");
      return status["checkpoint"]["last_ms"].get<std::int64_t>() >
             d.model()["last_evaluation_ms"].get<std::int64_t>();
    }, 10000));
    d.process().signal(SIGKILL);
    d.process().wait(10000);
  }
  Driftd d(config, dir.path());
  const Exposition e = scrape(d);
  CHECK(value(e, "drift_alert_firing", {{"model", "m"}}) == 1);
  CHECK(value(e, "drift_records_total", {{"source", "in"}, {"model", "m"}, {"outcome", "accepted"}}) ==
        accepted);
  CHECK(d.model()["evaluations"] == 2);
  // The window kept its 156 drifting rows: the next window still drifts, the one after is
  // clean but one clean window is not enough to resolve (resolve_after: 2)...
  REQUIRE(d.post("/v1/ingest/in", records(1100, 0.0, 3)) == 202);
  REQUIRE(wait_until([&] { return d.model()["evaluations"].get<int>() >= 4; }, 30000));
  CHECK(d.model()["alert"]["state"] == "firing");
  // ...a second one is.
  REQUIRE(d.post("/v1/ingest/in", records(600, 0.0, 4)) == 202);
  REQUIRE(wait_until([&] { return d.model()["evaluations"].get<int>() >= 5; }, 30000));
  CHECK(d.model()["alert"]["state"] == "resolved");
  CHECK(value(scrape(d), "drift_alert_firing", {{"model", "m"}}) == 0);
}
