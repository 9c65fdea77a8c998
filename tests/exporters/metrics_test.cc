// The metric catalogue: values and series life cycle, the cardinality cap, counters fed from
// running totals, gzip, exposition validity (promtool), METRICS.md against the live output,
// and a real Prometheus scraping it over HTTP.

#include "drift/exporters/metrics.h"

#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <csignal>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "exposition.h"
#include "http_client.h"
#include "process.h"

namespace {

using drift::EvaluationResult;
using drift::FeatureKind;
using drift::FeatureResult;
using drift::exporters::MetricsOptions;
using drift::exporters::MetricsRegistry;
using drift::exporters::ReasonTotal;
using drift::exporters::SourceMetrics;
using drift::test::documented_catalogue;
using drift::test::Exposition;
using drift::test::find_program;
using drift::test::gunzip;
using drift::test::url_encode;
using drift::test::Labels;
using drift::test::parse_exposition;
using drift::test::Sample;


// ---------------------------------------------------------------------------------------------
// Evaluation results as the detectors make them.

FeatureResult numeric_feature(const std::string& name, double ks_d, double ks_p, double psi,
                              std::size_t bins, bool drift = false) {
  FeatureResult f;
  f.name = name;
  f.kind = FeatureKind::kNumeric;
  f.missing_reference = 10;
  f.missing_current = 40;
  f.rows_reference = 4990;
  f.rows_current = 3960;
  f.ks.emplace();
  f.ks->result.statistic = ks_d;
  f.ks->result.p_value = ks_p;
  f.ks->threshold = 0.025;
  f.ks->drift = drift;
  if (bins > 0) {
    f.psi.emplace();
    f.psi->result.statistic = psi;
    f.psi->threshold = 0.2;
    for (std::size_t k = 0; k < bins; ++k) {
      f.psi->result.reference_proportions.push_back(1.0 / static_cast<double>(bins));
      f.psi->result.current_proportions.push_back(static_cast<double>(k + 1) /
                                                  static_cast<double>(bins * (bins + 1) / 2));
    }
  }
  return f;
}

FeatureResult categorical_feature(const std::string& name, std::size_t categories) {
  FeatureResult f;
  f.name = name;
  f.kind = FeatureKind::kCategorical;
  f.rows_reference = 5000;
  f.rows_current = 4000;
  f.chi2.emplace();
  f.chi2->result.statistic = 31.25;
  f.chi2->result.p_value = 0.0004;
  f.chi2->result.dof = categories - 1;
  f.chi2->threshold = 0.025;
  f.chi2->drift = true;
  f.psi.emplace();
  f.psi->result.binning = drift::PsiBinning::kCategories;
  f.psi->result.statistic = 0.125;
  f.psi->threshold = 0.2;
  for (std::size_t k = 0; k < categories; ++k) {
    f.psi->result.reference_proportions.push_back(1.0 / static_cast<double>(categories));
    f.psi->result.current_proportions.push_back(k == 0 ? 1.0 : 0.0);
  }
  return f;
}

EvaluationResult evaluation(std::vector<FeatureResult> features, bool with_mmd = true) {
  EvaluationResult r;
  r.backend = "cpu";
  r.reference_rows = 5000;
  r.current_rows = 4000;
  r.features = std::move(features);
  if (with_mmd) {
    r.mmd.emplace();
    r.mmd->result.statistic = 0.0041;
    r.mmd->result.p_value = 0.000999;
    r.mmd->result.permutations = 1000;
    r.mmd->drift = true;
  }
  r.drift = true;
  return r;
}

/// Everything the daemon feeds, once; `odd_names` adds names that need escaping and repair.
void feed_realistic(MetricsRegistry& m, bool odd_names = false) {
  m.set_build_info("0.1.0", "cpu");
  std::vector<FeatureResult> features{numeric_feature("age", 0.0712345, 1.2e-5, 0.083, 10, true),
                                      numeric_feature("income", 0.01, 0.64, 0.002, 10),
                                      categorical_feature("country", 4)};
  if (odd_names) {
    features.push_back(numeric_feature("we\"ird\\name\nline", 0.02, 0.5, 0.01, 3));
    features.push_back(numeric_feature("gr\xC3\xB6\xC3\x9F" "e", 0.02, 0.5, 0.01, 3));
    features.push_back(numeric_feature("bad\xFF\xFEutf8", 0.02, 0.5, 0.01, 3));
  }
  const drift::exporters::BinLabels bin_labels{{"country", {"de", "fr", "us", "__other__"}}};
  m.record_evaluation("fraud", evaluation(std::move(features)), 0.0123, 1700000000123,
                      &bin_labels);
  m.set_window("fraud", 5000, 4100);
  const std::vector<ReasonTotal> rejected{{"wrong_type", 3}, {"bad_timestamp", 1}};
  m.set_records("kafka-main", "fraud", 1000, rejected);
  const std::vector<ReasonTotal> unmatched{{"no_model", 2}, {"invalid_json", 1}};
  m.set_unmatched("kafka-main", unmatched);
  SourceMetrics source;
  source.name = "kafka-main";
  source.type = "kafka";
  source.up = true;
  source.queue_depth = 12;
  source.records_received = 1007;
  source.bytes_received = 123456;
  source.lag = {{"predictions", 0, 5}, {"predictions", 1, 0}, {"predictions", 2, -1}};
  m.set_source(source);
  m.set_alert("fraud", "firing", true);
  m.set_webhook_deliveries("retrain", "success", 3);
  m.set_webhook_deliveries("retrain", "failure", 1);
  m.set_outbox_depth(1);
  m.set_last_checkpoint(1700000000456);
  m.set_gpu_memory_bytes(0);
  m.set_gpu_fallbacks(0);
}


}  // namespace

// ---------------------------------------------------------------------------------------------

TEST_CASE("an evaluation sets every per-feature, per-test and per-model series", "[metrics]") {
  MetricsRegistry m;
  feed_realistic(m);
  const Exposition e = parse_exposition(m.serialize());

  const Labels ks{{"model", "fraud"}, {"feature", "age"}, {"test", "ks"}};
  CHECK(e.value("drift_feature_statistic", ks) == 0.0712345);
  CHECK(e.value("drift_feature_p_value", ks) == 1.2e-5);
  CHECK(e.value("drift_feature_drift", ks) == 1.0);
  CHECK(e.value("drift_feature_threshold", ks) == 0.025);
  const Labels psi{{"model", "fraud"}, {"feature", "age"}, {"test", "psi"}};
  CHECK(e.value("drift_feature_statistic", psi) == 0.083);
  CHECK(e.value("drift_feature_threshold", psi) == 0.2);
  CHECK(e.value("drift_feature_drift", psi) == 0.0);
  CHECK_FALSE(e.value("drift_feature_p_value", psi));  // PSI has no p-value
  const Labels chi2{{"model", "fraud"}, {"feature", "country"}, {"test", "chi2"}};
  CHECK(e.value("drift_feature_statistic", chi2) == 31.25);
  CHECK(e.value("drift_feature_p_value", chi2) == 0.0004);
  CHECK(e.count("drift_feature_statistic", {{"feature", "country"}, {"test", "ks"}}) == 0);

  CHECK(e.value("drift_feature_missing_ratio", {{"model", "fraud"}, {"feature", "age"}}) ==
        Approx(40.0 / 4000.0));
  CHECK(e.value("drift_feature_reference_missing_ratio",
                {{"model", "fraud"}, {"feature", "age"}}) == Approx(10.0 / 5000.0));
  CHECK(e.value("drift_feature_missing_ratio", {{"model", "fraud"}, {"feature", "country"}}) ==
        0.0);
  // Numeric bins by index, categorical bins by the names the daemon passed.
  CHECK(e.count("drift_psi_bin_reference_ratio", {{"feature", "age"}}) == 10);
  CHECK(e.value("drift_psi_bin_current_ratio",
                {{"model", "fraud"}, {"feature", "age"}, {"bin", "9"}}) == Approx(10.0 / 55.0));
  CHECK(e.value("drift_psi_bin_current_ratio",
                {{"model", "fraud"}, {"feature", "country"}, {"bin", "de"}}) == 1.0);
  CHECK(e.value("drift_psi_bin_reference_ratio",
                {{"model", "fraud"}, {"feature", "country"}, {"bin", "__other__"}}) == 0.25);

  const Labels model{{"model", "fraud"}};
  CHECK(e.value("drift_model_drift", model) == 1.0);
  CHECK(e.value("drift_mmd_statistic", model) == 0.0041);
  CHECK(e.value("drift_mmd_p_value", model) == 0.000999);
  CHECK(e.value("drift_mmd_drift", model) == 1.0);
  CHECK(e.value("drift_reference_rows", model) == 5000);
  CHECK(e.value("drift_window_rows", model) == 4100);  // set_window after the evaluation
  CHECK(e.value("drift_last_evaluation_timestamp_seconds", model) == Approx(1700000000.123));
  CHECK(e.value("drift_evaluation_duration_seconds_count", model) == 1);
  CHECK(e.value("drift_evaluation_duration_seconds_sum", model) == 0.0123);
  CHECK(e.value("drift_evaluation_duration_seconds_bucket", {{"model", "fraud"}, {"le", "0.01"}}) ==
        0);
  CHECK(e.value("drift_evaluation_duration_seconds_bucket", {{"model", "fraud"}, {"le", "0.025"}}) ==
        1);
  CHECK(e.value("drift_evaluation_duration_seconds_bucket", {{"model", "fraud"}, {"le", "+Inf"}}) ==
        1);
  // 3 features: age and income 2 + 4 + 3 + 20, country 2 + 4 + 3 + 8.
  CHECK(e.value("drift_model_series", model) == 29 + 29 + 17);
  CHECK(e.value("drift_series_dropped_total", model) == 0);

  CHECK(e.value("drift_build_info", {{"version", "0.1.0"}, {"backend", "cpu"}}) == 1);
  CHECK(e.value("drift_alert_firing", model) == 1);
  CHECK(e.value("drift_alert_state", {{"model", "fraud"}, {"state", "firing"}}) == 1);
  CHECK(e.value("drift_webhook_deliveries_total", {{"webhook", "retrain"}, {"outcome", "success"}}) ==
        3);
  CHECK(e.value("drift_webhook_outbox_depth", {}) == 1);
  CHECK(e.value("drift_last_checkpoint_timestamp_seconds", {}) == Approx(1700000000.456));
  CHECK(e.value("drift_gpu_memory_used_bytes", {}) == 0);
}

TEST_CASE("series of features, tests and bins that went away are removed", "[metrics]") {
  MetricsRegistry m;
  m.record_evaluation("m", evaluation({numeric_feature("a", 0.1, 0.2, 0.01, 10),
                                       numeric_feature("b", 0.1, 0.2, 0.01, 10)}),
                      0.01, 1000);
  Exposition e = parse_exposition(m.serialize());
  CHECK(e.count("drift_feature_statistic", {{"feature", "b"}}) == 2);
  CHECK(e.count("drift_psi_bin_current_ratio", {{"feature", "a"}}) == 10);
  CHECK(e.value("drift_mmd_statistic", {{"model", "m"}}));

  FeatureResult a = numeric_feature("a", 0.3, 0.4, 0.02, 5);
  m.record_evaluation("m", evaluation({a}, /*with_mmd=*/false), 0.02, 2000);
  e = parse_exposition(m.serialize());
  for (const char* family : {"drift_feature_statistic", "drift_feature_drift",
                             "drift_feature_threshold", "drift_feature_p_value",
                             "drift_feature_missing_ratio", "drift_psi_bin_current_ratio",
                             "drift_psi_bin_reference_ratio"}) {
    INFO(family);
    CHECK(e.count(family, {{"feature", "b"}}) == 0);
  }
  CHECK(e.count("drift_psi_bin_current_ratio", {{"feature", "a"}}) == 5);
  CHECK_FALSE(e.value("drift_psi_bin_current_ratio", {{"model", "m"}, {"feature", "a"}, {"bin", "5"}}));
  CHECK(e.value("drift_feature_statistic", {{"model", "m"}, {"feature", "a"}, {"test", "ks"}}) == 0.3);
  CHECK_FALSE(e.value("drift_mmd_statistic", {{"model", "m"}}));
  CHECK_FALSE(e.value("drift_mmd_p_value", {{"model", "m"}}));
  CHECK(e.value("drift_evaluation_duration_seconds_count", {{"model", "m"}}) == 2);

  // A test switched off goes away alone.
  a.psi.reset();
  m.record_evaluation("m", evaluation({a}), 0.02, 3000);
  e = parse_exposition(m.serialize());
  CHECK(e.count("drift_feature_statistic", {{"feature", "a"}}) == 1);
  CHECK(e.count("drift_psi_bin_current_ratio") == 0);

  m.remove_model("m");
  e = parse_exposition(m.serialize());
  for (const Sample& s : e.samples) {
    INFO(s.name);
    CHECK(!s.labels.contains("model"));
  }
}

TEST_CASE("the per-model series cap admits whole features and counts the rest", "[metrics]") {
  MetricsOptions options;
  options.max_series_per_model = 50;
  MetricsRegistry m(options);
  // Each feature: 2 missing + 4 KS + 3 PSI = 9 core series and 20 bin series.
  const auto result = evaluation({numeric_feature("f0", 0.1, 0.2, 0.01, 10),
                                  numeric_feature("f1", 0.1, 0.2, 0.01, 10),
                                  numeric_feature("f2", 0.1, 0.2, 0.01, 10)});
  m.record_evaluation("m", result, 0.01, 1000);
  Exposition e = parse_exposition(m.serialize());
  std::size_t feature_series = 0;
  for (const Sample& s : e.samples) feature_series += s.labels.contains("feature") ? 1 : 0;
  CHECK(feature_series == 27 + 20);  // every feature's core series, then f0's bins
  CHECK(e.value("drift_model_series", {{"model", "m"}}) == 47);
  CHECK(e.count("drift_psi_bin_current_ratio", {{"feature", "f0"}}) == 10);
  CHECK(e.count("drift_psi_bin_current_ratio", {{"feature", "f1"}}) == 0);
  CHECK(e.count("drift_feature_statistic", {{"feature", "f2"}}) == 2);
  CHECK(e.value("drift_series_dropped_total", {{"model", "m"}}) == 40);

  m.record_evaluation("m", result, 0.01, 2000);  // the same series, the overflow counted again
  e = parse_exposition(m.serialize());
  CHECK(e.value("drift_series_dropped_total", {{"model", "m"}}) == 80);
  CHECK(e.count("drift_psi_bin_current_ratio", {{"feature", "f0"}}) == 10);

  // The default cap: 10,000 series per model whatever the result holds.
  MetricsRegistry big;
  std::vector<FeatureResult> many;
  for (int k = 0; k < 200; ++k) many.push_back(categorical_feature("c" + std::to_string(k), 50));
  big.record_evaluation("m", evaluation(std::move(many)), 0.5, 1000);
  e = parse_exposition(big.serialize());
  feature_series = 0;
  for (const Sample& s : e.samples) feature_series += s.labels.contains("feature") ? 1 : 0;
  CHECK(feature_series <= 10000);
  CHECK(e.value("drift_model_series", {{"model", "m"}}) == static_cast<double>(feature_series));
  // 200 × 9 core series fit (1,800), then 82 features' 100 bin series: exactly 10,000.
  CHECK(feature_series == 10000);
  CHECK(e.value("drift_series_dropped_total", {{"model", "m"}}) == 118 * 100);
}

TEST_CASE("ingest counters follow running totals, never backwards", "[metrics]") {
  MetricsRegistry m;
  m.set_records("http", "m", 10, {});
  Exposition e = parse_exposition(m.serialize());
  for (const std::string_view reason : drift::exporters::kDefaultRejectReasons) {
    INFO(reason);
    CHECK(e.value("drift_records_rejected_total",
                  {{"source", "http"}, {"model", "m"}, {"reason", std::string(reason)}}) == 0);
  }
  CHECK(e.value("drift_records_total", {{"source", "http"}, {"model", "m"}, {"outcome", "accepted"}}) ==
        10);
  CHECK(e.value("drift_records_total", {{"source", "http"}, {"model", "m"}, {"outcome", "rejected"}}) ==
        0);

  const std::vector<ReasonTotal> r1{{"wrong_type", 4}, {"too_large", 1}};
  m.set_records("http", "m", 12, r1);
  const std::vector<ReasonTotal> r2{{"wrong_type", 2}, {"too_large", 1}};  // wrong_type reset
  m.set_records("http", "m", 3, r2);                                         // accepted reset
  e = parse_exposition(m.serialize());
  CHECK(e.value("drift_records_total", {{"source", "http"}, {"model", "m"}, {"outcome", "accepted"}}) ==
        15);
  CHECK(e.value("drift_records_rejected_total",
                {{"source", "http"}, {"model", "m"}, {"reason", "wrong_type"}}) == 6);
  CHECK(e.value("drift_records_rejected_total",
                {{"source", "http"}, {"model", "m"}, {"reason", "too_large"}}) == 1);
  CHECK(e.value("drift_records_total", {{"source", "http"}, {"model", "m"}, {"outcome", "rejected"}}) ==
        8);  // 5, then 3 after the reset

  m.set_unmatched("http", {});
  e = parse_exposition(m.serialize());
  CHECK(e.count("drift_records_unmatched_total", {{"source", "http"}}) ==
        std::size(drift::exporters::kDefaultRejectReasons));

  SourceMetrics s;
  s.name = "k";
  s.type = "kafka";
  s.records_received = 100;
  s.bytes_received = 1000;
  s.lag = {{"t", 0, 7}, {"t", 1, 8}};
  m.set_source(s);
  s.records_received = 150;
  s.lag = {{"t", 1, 3}};  // partition 0 revoked
  s.up = true;
  m.set_source(s);
  m.set_webhook_deliveries("w", "success", 5);
  m.set_webhook_deliveries("w", "success", 7);
  e = parse_exposition(m.serialize());
  CHECK(e.value("drift_source_records_received_total", {{"source", "k"}}) == 150);
  CHECK(e.value("drift_source_received_bytes_total", {{"source", "k"}}) == 1000);
  CHECK(e.value("drift_source_up", {{"source", "k"}, {"type", "kafka"}}) == 1);
  CHECK(e.count("drift_source_consumer_lag") == 1);
  CHECK(e.value("drift_source_consumer_lag", {{"source", "k"}, {"topic", "t"}, {"partition", "1"}}) ==
        3);
  CHECK(e.value("drift_webhook_deliveries_total", {{"webhook", "w"}, {"outcome", "success"}}) == 7);

  m.remove_source("k");
  m.remove_source("http");
  e = parse_exposition(m.serialize());
  for (const Sample& sample : e.samples) CHECK(!sample.labels.contains("source"));
}

TEST_CASE("alert state is one-hot over the states a model has had", "[metrics]") {
  MetricsRegistry m;
  m.set_alert("m", "pending", false);
  m.set_alert("m", "firing", true);
  Exposition e = parse_exposition(m.serialize());
  CHECK(e.value("drift_alert_state", {{"model", "m"}, {"state", "pending"}}) == 0);
  CHECK(e.value("drift_alert_state", {{"model", "m"}, {"state", "firing"}}) == 1);
  CHECK(e.value("drift_alert_firing", {{"model", "m"}}) == 1);
  m.set_alert("m", "inactive", false);
  e = parse_exposition(m.serialize());
  CHECK(e.value("drift_alert_state", {{"model", "m"}, {"state", "firing"}}) == 0);
  CHECK(e.value("drift_alert_state", {{"model", "m"}, {"state", "inactive"}}) == 1);
  CHECK(e.value("drift_alert_firing", {{"model", "m"}}) == 0);
}

TEST_CASE("label values are escaped and repaired to valid UTF-8", "[metrics]") {
  using drift::exporters::sanitize_label_value;
  CHECK(sanitize_label_value("plain") == "plain");
  CHECK(sanitize_label_value("gr\xC3\xB6\xC3\x9F" "e") == "gr\xC3\xB6\xC3\x9F" "e");
  CHECK(sanitize_label_value("a\xFF" "b") == "a\xEF\xBF\xBD" "b");
  CHECK(sanitize_label_value("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");    // overlong
  CHECK(sanitize_label_value("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  CHECK(sanitize_label_value("abc\xC3\xB6", 4) == "abc");  // cut at a character boundary
  CHECK(sanitize_label_value(std::string(1000, 'x')).size() == 256);

  MetricsRegistry m;
  feed_realistic(m, /*odd_names=*/true);
  const Exposition e = parse_exposition(m.serialize());
  CHECK(e.value("drift_feature_statistic",
                {{"model", "fraud"}, {"feature", "we\"ird\\name\nline"}, {"test", "ks"}}));
  CHECK(e.value("drift_feature_statistic",
                {{"model", "fraud"}, {"feature", "bad\xEF\xBF\xBD\xEF\xBF\xBDutf8"}, {"test", "ks"}}));
}

TEST_CASE("gzip and Accept-Encoding", "[metrics]") {
  using drift::exporters::accepts_gzip;
  CHECK(accepts_gzip("gzip"));
  CHECK(accepts_gzip("GZIP"));
  CHECK(accepts_gzip("br, gzip;q=0.5"));
  CHECK(accepts_gzip("x-gzip"));
  CHECK(accepts_gzip("*"));
  CHECK(accepts_gzip("identity, gzip ; q=1.0"));
  CHECK_FALSE(accepts_gzip(""));
  CHECK_FALSE(accepts_gzip("identity"));
  CHECK_FALSE(accepts_gzip("deflate, br"));
  CHECK_FALSE(accepts_gzip("gzip;q=0"));
  CHECK_FALSE(accepts_gzip("gzip;q=0.000, *"));
  CHECK_FALSE(accepts_gzip("*;q=0"));

  MetricsRegistry m;
  feed_realistic(m);
  const std::string text = m.serialize();
  const std::string packed = drift::exporters::gzip(text);
  REQUIRE(packed.size() > 18);
  CHECK(static_cast<unsigned char>(packed[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(packed[1]) == 0x8b);
  CHECK(packed.size() < text.size());
  CHECK(gunzip(packed) == text);
  CHECK(gunzip(drift::exporters::gzip("")).empty());
  CHECK(gunzip(drift::exporters::gzip(text, 9)) == text);

  const auto plain = m.render("");
  CHECK_FALSE(plain.gzip);
  CHECK(plain.body == text);
  CHECK(plain.content_type == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(MetricsRegistry::content_type == plain.content_type);
  const auto packed_response = m.render("gzip");
  CHECK(packed_response.gzip);
  CHECK(gunzip(packed_response.body) == text);
}

TEST_CASE("METRICS.md documents exactly the live catalogue", "[metrics]") {
  const auto documented = documented_catalogue();
  REQUIRE(documented.size() > 20);

  MetricsRegistry m;
  feed_realistic(m);
  const std::string text = m.serialize();
  const Exposition e = parse_exposition(text);

  std::map<std::string, std::set<std::string>> live;  // family -> label names
  for (const Sample& s : e.samples) {
    const std::string family = e.family_of(s.name);
    auto& labels = live[family];
    for (const auto& [k, v] : s.labels) {
      if (k != "le" || e.type.at(family) != "histogram") labels.insert(k);
    }
  }
  std::set<std::string> live_names;
  std::set<std::string> documented_names;
  for (const auto& [name, labels] : live) live_names.insert(name);
  for (const auto& [name, entry] : documented) documented_names.insert(name);
  CHECK(live_names == documented_names);

  for (const auto& [name, labels] : live) {
    INFO(name);
    REQUIRE(documented.contains(name));
    CHECK(e.type.contains(name));
    CHECK(e.help.contains(name));
    CHECK_FALSE(e.help.at(name).empty());
    CHECK(e.type.at(name) == documented.at(name).first);
    CHECK(labels == documented.at(name).second);
  }
  // Every HELP/TYPE names a family with samples (nothing stale).
  for (const auto& [name, type] : e.type) CHECK(live.contains(name));
  for (const auto& [name, help] : e.help) CHECK(live.contains(name));
  // The issue's fixed names.
  for (const char* fixed :
       {"drift_feature_statistic", "drift_feature_p_value", "drift_feature_drift",
        "drift_feature_threshold", "drift_model_drift", "drift_mmd_statistic",
        "drift_mmd_p_value", "drift_records_total", "drift_records_rejected_total",
        "drift_alert_firing", "drift_webhook_deliveries_total", "drift_build_info"}) {
    CHECK(live_names.contains(fixed));
  }
}

TEST_CASE("promtool check metrics accepts the live output", "[metrics]") {
  const std::string promtool = find_program("promtool");
  if (promtool.empty()) {
    WARN("promtool not found on PATH: exposition lint skipped");
    return;
  }
  MetricsRegistry m;
  feed_realistic(m, /*odd_names=*/true);
  drift::test::TempDir dir;
  const std::string file = dir.write("scrape.txt", m.serialize());
  const auto result =
      drift::test::run_process({"/bin/sh", "-c", "exec '" + promtool + "' check metrics < '" + file + "'"});
  INFO(result.out);
  INFO(result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out.empty());
  CHECK(result.err.empty());
}

TEST_CASE("a stalled scraper never blocks evaluations or ingest counters", "[metrics]") {
  MetricsRegistry m;
  feed_realistic(m);
  std::vector<FeatureResult> features;
  for (int k = 0; k < 300; ++k) {
    features.push_back(numeric_feature("feature_" + std::to_string(k), 0.1, 0.2, 0.01, 10));
  }
  const EvaluationResult big = evaluation(features);
  m.record_evaluation("wide", big, 0.1, 1000);
  const std::string body = m.serialize();
  REQUIRE(body.size() > 500'000);  // far beyond the socket buffers

  // A scraper that stops reading: its socket buffer fills and the writer blocks mid-body.
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  int small = 16384;
  ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  ::setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  std::atomic<std::size_t> written{0};
  std::atomic<bool> done{false};
  std::thread writer([&] {
    while (written < body.size()) {  // like an HTTP server: a chunk at a time
      const std::size_t chunk = std::min<std::size_t>(4096, body.size() - written);
      const ssize_t n = ::send(fds[0], body.data() + written, chunk, MSG_NOSIGNAL);
      if (n <= 0) break;
      written += static_cast<std::size_t>(n);
    }
    done = true;
  });
  struct Cleanup {  // the scraper goes away even when a check fails: the writer ends
    int* fds;
    std::thread& writer;
    ~Cleanup() {
      if (fds[1] >= 0) ::close(fds[1]);
      fds[1] = -1;
      if (writer.joinable()) writer.join();
      ::close(fds[0]);
    }
  } cleanup{fds, writer};
  REQUIRE(drift::test::wait_until([&] { return written > 0; }, 5000));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE_FALSE(done);  // the "socket write" is stuck

  const auto start = std::chrono::steady_clock::now();
  m.record_evaluation("wide", big, 0.2, 2000);
  const std::vector<ReasonTotal> rejected{{"wrong_type", 9}};
  m.set_records("kafka-main", "fraud", 2000, rejected);
  const std::string again = m.serialize();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(seconds < 2.0);
  CHECK_FALSE(done);  // still stalled while the data path went on
  const Exposition e = parse_exposition(again);
  CHECK(e.value("drift_evaluation_duration_seconds_count", {{"model", "wide"}}) == 2);
  CHECK(e.value("drift_records_total",
                {{"source", "kafka-main"}, {"model", "fraud"}, {"outcome", "accepted"}}) == 2000);

  // The scraper goes away: the writer fails and ends.
  ::close(fds[1]);
  fds[1] = -1;
  writer.join();
  CHECK(written < body.size());
}

TEST_CASE("concurrent evaluations, counters and scrapes", "[metrics]") {
  MetricsRegistry m;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (std::uint64_t i = 1; !stop; ++i) {
        std::vector<FeatureResult> features{numeric_feature("a", 0.1, 0.2, 0.01, 10)};
        if (i % 2 == 0) features.push_back(categorical_feature("c", 3 + i % 5));
        m.record_evaluation("m" + std::to_string(t), evaluation(features, i % 3 == 0), 0.01,
                            static_cast<std::int64_t>(i));
        const std::vector<ReasonTotal> rejected{{"wrong_type", i}};
        m.set_records("s", "m" + std::to_string(t), i * 2, rejected);
      }
    });
  }
  std::size_t scrapes = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (std::chrono::steady_clock::now() < until) {
    const Exposition e = parse_exposition(m.serialize());
    ++scrapes;
    // One evaluation is never half-applied: a model's bins match its statistics.
    for (const char* model : {"m0", "m1"}) {
      const bool has_c =
          e.count("drift_feature_statistic", {{"model", model}, {"feature", "c"}}) > 0;
      const bool has_c_bins =
          e.count("drift_psi_bin_current_ratio", {{"model", model}, {"feature", "c"}}) > 0;
      CHECK(has_c == has_c_bins);
    }
  }
  stop = true;
  for (auto& t : threads) t.join();
  CHECK(scrapes > 0);
}

// ---------------------------------------------------------------------------------------------
// A real Prometheus scraping a tiny Beast server that serves MetricsRegistry::render().

namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;

class MetricsServer {
 public:
  explicit MetricsServer(const MetricsRegistry& registry)
      : registry_(registry), acceptor_(ioc_, {asio::ip::address_v4::loopback(), 0}) {
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~MetricsServer() {
    ioc_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int scrapes() const { return scrapes_; }
  bool saw_gzip() const { return saw_gzip_; }

 private:
  struct Session : std::enable_shared_from_this<Session> {
    Session(asio::ip::tcp::socket socket, MetricsServer& server)
        : stream(std::move(socket)), owner(server) {}
    beast::tcp_stream stream;
    MetricsServer& owner;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::response<http::string_body> response;

    void read() {
      request = {};
      stream.expires_after(std::chrono::seconds(30));
      http::async_read(stream, buffer, request,
                       [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         if (!ec) self->respond();
                       });
    }
    void respond() {
      const auto accept_encoding = request[http::field::accept_encoding];
      const drift::exporters::MetricsResponse body = owner.registry_.render(
          std::string_view(accept_encoding.data(), accept_encoding.size()));
      owner.saw_gzip_ = owner.saw_gzip_ || body.gzip;
      ++owner.scrapes_;
      response = {};
      response.version(request.version());
      response.keep_alive(request.keep_alive());
      response.result(request.target() == "/metrics" ? http::status::ok : http::status::not_found);
      response.set(http::field::content_type,
                   std::string(body.content_type.data(), body.content_type.size()));
      if (body.gzip) response.set(http::field::content_encoding, "gzip");
      response.set(http::field::vary, "Accept-Encoding");
      response.body() = body.body;
      response.prepare_payload();
      http::async_write(stream, response,
                        [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          if (!ec && self->response.keep_alive()) self->read();
                        });
    }
  };

  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, asio::ip::tcp::socket socket) {
      if (ec) return;
      std::make_shared<Session>(std::move(socket), *this)->read();
      accept();
    });
  }

  const MetricsRegistry& registry_;
  asio::io_context ioc_;
  asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<int> scrapes_{0};
  std::atomic<bool> saw_gzip_{false};
};


}  // namespace

TEST_CASE("a real Prometheus scrapes the catalogue", "[metrics][integration]") {
  const std::string prometheus = find_program("prometheus");
  if (prometheus.empty()) {
    WARN("prometheus not found on PATH: integration test skipped");
    return;
  }
  MetricsRegistry registry;
  feed_realistic(registry, /*odd_names=*/true);
  MetricsServer server(registry);

  drift::test::TempDir dir;
  dir.write("prometheus.yml",
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: driftd\n"
            "    static_configs: [{targets: ['127.0.0.1:" +
                std::to_string(server.port()) + "']}]\n");
  const std::string log = dir.path() + "/prometheus.log";
  drift::test::ChildProcess process(
      {prometheus, "--config.file=" + dir.path() + "/prometheus.yml",
       "--storage.tsdb.path=" + dir.path() + "/tsdb", "--web.listen-address=127.0.0.1:0"},
      dir.path() + "/prometheus.out", log);

  int port = 0;
  const std::regex listening(R"(msg="Listening on" address=127\.0\.0\.1:(\d+))");
  REQUIRE(drift::test::wait_until(
      [&] {
        const std::string text = drift::test::read_file(log);
        std::smatch match;
        if (!std::regex_search(text, match, listening)) return false;
        port = std::stoi(match[1]);
        return true;
      },
      15000));
  INFO(drift::test::read_file(log));

  // Prometheus answers 503 until its TSDB has started: wait for readiness first.
  REQUIRE(drift::test::wait_until(
      [&] {
        drift::test::HttpClient client(static_cast<std::uint16_t>(port));
        return client.request("GET", "/-/ready").status == 200;
      },
      30000));
  const auto query = [&](const std::string& promql) {
    drift::test::HttpClient client(static_cast<std::uint16_t>(port));
    const auto reply = client.request("GET", "/api/v1/query?query=" + url_encode(promql));
    REQUIRE(reply.status == 200);
    const auto json = nlohmann::json::parse(reply.body);
    REQUIRE(json.at("status") == "success");
    return json.at("data").at("result");
  };
  nlohmann::json result;
  const std::string selector = R"(drift_feature_statistic{model="fraud",feature="age",test="ks"})";
  const bool scraped = drift::test::wait_until(
      [&] {
        result = query(selector);
        return !result.empty();
      },
      30000);
  REQUIRE(scraped);
  REQUIRE(result.size() == 1);
  CHECK(std::stod(result[0].at("value").at(1).get<std::string>()) == 0.0712345);

  // The scrape went through gzip, and the target is healthy with no error.
  CHECK(server.saw_gzip());
  drift::test::HttpClient client(static_cast<std::uint16_t>(port));
  const auto targets = nlohmann::json::parse(client.request("GET", "/api/v1/targets").body);
  const auto& active = targets.at("data").at("activeTargets");
  REQUIRE(active.size() == 1);
  CHECK(active[0].at("health") == "up");
  CHECK(active[0].at("lastError") == "");
  // The escaped and repaired label values arrive intact; counters and histograms too.
  CHECK(query(R"(drift_feature_drift{feature="we\"ird\\name\nline",test="ks"})").size() == 1);
  CHECK(query("drift_records_total").size() == 2);
  CHECK(query("drift_evaluation_duration_seconds_count").size() == 1);

  process.signal(SIGTERM);
  CHECK(process.wait(10000) == 0);
}
