/// Scrape cost of the metric catalogue (drift::exporters::MetricsRegistry) at ~10,000 and
/// ~100,000 series: models × features × tests × PSI bins, fed through record_evaluation like
/// the daemon does. Per size, medians over --repeats runs of:
///  - collect: prometheus-cpp Registry::Collect (the only part that holds the metrics lock),
///  - serialize: MetricsRegistry::serialize() (collect + text 0.0.4 into a string),
///  - gzip level 1 (the /metrics default) and level 6 (zlib's default), time and bytes,
///  - update: one record_evaluation of a model whose series exist (the evaluator's cost).
///
/// usage: bench_scrape [--repeats N] [--sizes 10000,100000] [--json FILE]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/registry.h>

#include "bench_common.h"
#include "drift/exporters/metrics.h"

namespace {

using drift::bench::median;
using drift::bench::seconds_since;
using Clock = std::chrono::steady_clock;

struct Options {
  std::size_t repeats = 11;
  std::vector<std::size_t> sizes{10000, 100000};
  std::string json;
};

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr, "bench_scrape: %s\nusage: bench_scrape [--repeats N] [--sizes A,B] "
                       "[--json FILE]\n", message);
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage("missing value");
    const std::string_view value = argv[++i];
    if (flag == "--repeats") {
      o.repeats = drift::bench::parse_positive(value, usage);
    } else if (flag == "--sizes") {
      o.sizes.clear();
      std::string list(value);
      std::istringstream in(list);
      std::string item;
      while (std::getline(in, item, ',')) o.sizes.push_back(drift::bench::parse_positive(item, usage));
    } else if (flag == "--json") {
      o.json = value;
    } else {
      usage("unknown flag");
    }
  }
  return o;
}

// One model: 30 numeric features (KS + 10-bin PSI: 29 series each) and 4 categorical ones
// (chi-square + 8-category PSI: 25 series each) = 970 feature series, plus ~25 per-model series.
constexpr std::size_t kNumeric = 30;
constexpr std::size_t kCategorical = 4;
constexpr std::size_t kSeriesPerModel = kNumeric * 29 + kCategorical * 25 + 25;

drift::EvaluationResult make_result(std::uint64_t seed) {
  drift::bench::NormalSource rng(seed);
  drift::EvaluationResult r;
  r.backend = "cpu";
  r.reference_rows = 100000;
  r.current_rows = 50000;
  for (std::size_t f = 0; f < kNumeric + kCategorical; ++f) {
    drift::FeatureResult feature;
    const bool numeric = f < kNumeric;
    feature.name = (numeric ? "num_feature_" : "cat_feature_") + std::to_string(f);
    feature.kind = numeric ? drift::FeatureKind::kNumeric : drift::FeatureKind::kCategorical;
    feature.rows_reference = 100000;
    feature.rows_current = 49000;
    feature.missing_current = 1000;
    const double stat = std::abs(static_cast<double>(rng.next(0.0f, 0.05f)));
    if (numeric) {
      feature.ks.emplace();
      feature.ks->result.statistic = stat;
      feature.ks->result.p_value = std::exp(-stat * 200.0);
      feature.ks->threshold = 0.05 / 34.0;
    } else {
      feature.chi2.emplace();
      feature.chi2->result.statistic = stat * 1000.0;
      feature.chi2->result.p_value = std::exp(-stat * 100.0);
      feature.chi2->threshold = 0.05 / 34.0;
    }
    feature.psi.emplace();
    feature.psi->result.statistic = stat;
    feature.psi->threshold = 0.2;
    const std::size_t bins = numeric ? 10 : 8;
    for (std::size_t b = 0; b < bins; ++b) {
      feature.psi->result.reference_proportions.push_back(1.0 / static_cast<double>(bins));
      feature.psi->result.current_proportions.push_back(
          1.0 / static_cast<double>(bins) + static_cast<double>(rng.next(0.0f, 0.001f)));
    }
    r.features.push_back(std::move(feature));
  }
  r.mmd.emplace();
  r.mmd->result.statistic = 0.001;
  r.mmd->result.p_value = 0.2;
  return r;
}

struct Row {
  std::size_t target = 0;
  std::size_t models = 0;
  std::size_t series = 0;
  std::size_t bytes = 0;
  std::size_t gzip1_bytes = 0;
  std::size_t gzip6_bytes = 0;
  double collect_ms = 0;
  double serialize_ms = 0;
  double gzip1_ms = 0;
  double gzip6_ms = 0;
  double update_ms = 0;
};

Row run(std::size_t target, std::size_t repeats) {
  Row row;
  row.target = target;
  row.models = std::max<std::size_t>(1, (target + kSeriesPerModel / 2) / kSeriesPerModel);
  drift::exporters::MetricsRegistry registry;
  registry.set_build_info("bench", "cpu");
  std::vector<drift::EvaluationResult> results;
  for (std::size_t m = 0; m < row.models; ++m) results.push_back(make_result(m + 1));
  for (std::size_t m = 0; m < row.models; ++m) {
    const std::string model = "model_" + std::to_string(m);
    registry.record_evaluation(model, results[m], 0.05, 1700000000000);
    const std::vector<drift::exporters::ReasonTotal> rejected{{"wrong_type", m}};
    registry.set_records("kafka", model, 1000 * m, rejected);
  }

  std::vector<double> collect, serialize, gzip1, gzip6, update;
  std::string text;
  for (std::size_t r = 0; r < repeats; ++r) {
    auto start = Clock::now();
    const auto families = registry.registry().Collect();
    collect.push_back(seconds_since(start) * 1e3);

    start = Clock::now();
    text = registry.serialize();
    serialize.push_back(seconds_since(start) * 1e3);

    start = Clock::now();
    const std::string g1 = drift::exporters::gzip(text, 1);
    gzip1.push_back(seconds_since(start) * 1e3);
    row.gzip1_bytes = g1.size();

    start = Clock::now();
    const std::string g6 = drift::exporters::gzip(text, 6);
    gzip6.push_back(seconds_since(start) * 1e3);
    row.gzip6_bytes = g6.size();

    const std::size_t m = r % row.models;
    start = Clock::now();
    registry.record_evaluation("model_" + std::to_string(m), results[m], 0.05, 1700000000000);
    update.push_back(seconds_since(start) * 1e3);
  }
  row.bytes = text.size();
  std::size_t series = 0;
  std::size_t line_start = 0;
  while (line_start < text.size()) {
    const std::size_t end = text.find('\n', line_start);
    if (text[line_start] != '#') ++series;
    line_start = end + 1;
  }
  row.series = series;
  row.collect_ms = median(collect);
  row.serialize_ms = median(serialize);
  row.gzip1_ms = median(gzip1);
  row.gzip6_ms = median(gzip6);
  row.update_ms = median(update);
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  std::vector<Row> rows;
  for (const std::size_t size : options.sizes) rows.push_back(run(size, options.repeats));

  std::printf("scrape cost, median of %zu runs (collect = time the metrics lock is held)\n\n",
              options.repeats);
  std::printf("| series | models | collect ms | serialize ms | text bytes | gzip-1 ms | gzip-1 "
              "bytes | gzip-6 ms | gzip-6 bytes | record_evaluation ms |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const Row& r : rows) {
    std::printf("| %zu | %zu | %.2f | %.2f | %zu | %.2f | %zu | %.2f | %zu | %.3f |\n", r.series,
                r.models, r.collect_ms, r.serialize_ms, r.bytes, r.gzip1_ms, r.gzip1_bytes,
                r.gzip6_ms, r.gzip6_bytes, r.update_ms);
  }
  std::printf("\npeak RSS %.0f MiB\n", drift::bench::peak_rss_mib());

  if (!options.json.empty()) {
    std::ofstream out(options.json);
    out << "[";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      out << (i ? ",\n " : "") << "{\"series\": " << r.series << ", \"models\": " << r.models
          << ", \"collect_ms\": " << r.collect_ms << ", \"serialize_ms\": " << r.serialize_ms
          << ", \"bytes\": " << r.bytes << ", \"gzip1_ms\": " << r.gzip1_ms
          << ", \"gzip1_bytes\": " << r.gzip1_bytes << ", \"gzip6_ms\": " << r.gzip6_ms
          << ", \"gzip6_bytes\": " << r.gzip6_bytes
          << ", \"record_evaluation_ms\": " << r.update_ms << "}";
    }
    out << "]\n";
    if (!out) {
      std::fprintf(stderr, "bench_scrape: cannot write %s\n", options.json.c_str());
      return 1;
    }
  }
  return 0;
}
