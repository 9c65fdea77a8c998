#include <tbb/global_control.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "drift/detectors/backend.h"
#include "drift/detectors/chi2.h"
#include "drift/detectors/ks.h"

namespace {

struct Data {
  std::vector<float> x, y;
  std::vector<std::uint32_t> codes;
  std::vector<std::string> dictionary;

  drift::SampleView view() const {
    drift::SampleView v;
    v.columns.push_back({"x", drift::FeatureKind::kNumeric, x, {}, {}});
    v.columns.push_back({"y", drift::FeatureKind::kNumeric, y, {}, {}});
    v.columns.push_back({"c", drift::FeatureKind::kCategorical, {}, codes, dictionary});
    return v;
  }
};

Data make_data(std::uint64_t seed, std::size_t rows, float shift,
               std::vector<std::string> dictionary) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  Data d;
  d.dictionary = std::move(dictionary);
  std::uniform_int_distribution<std::uint32_t> pick(
      0, static_cast<std::uint32_t>(d.dictionary.size() - 1));
  for (std::size_t k = 0; k < rows; ++k) {
    d.x.push_back(normal(rng));
    d.y.push_back(k % 9 == 0 ? std::numeric_limits<float>::infinity() : normal(rng) + shift);
    d.codes.push_back(k % 13 == 0 ? drift::kMissingCode : pick(rng));
  }
  return d;
}

std::vector<float> sorted_finite(const std::vector<float>& v) {
  std::vector<float> out;
  std::copy_if(v.begin(), v.end(), std::back_inserter(out),
               [](float x) { return std::isfinite(x); });
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("the CPU backend runs every test and applies one correction across features",
          "[backend][unit]") {
  const Data ref = make_data(1, 800, 0.0f, {"a", "b", "c"});
  // The current window's dictionary has another order and a category the reference never saw.
  const Data cur = make_data(2, 600, 0.4f, {"c", "a", "new", "b"});
  const auto profile = drift::ReferenceProfile::build(ref.view(), {});
  drift::EvaluationConfig config;
  const auto result = drift::make_cpu_backend()->evaluate(profile, cur.view(), config);

  REQUIRE(result.features.size() == 3);
  const auto& x = result.features[0];
  const auto& y = result.features[1];
  const auto& c = result.features[2];
  CHECK(y.missing_reference == 89);
  CHECK(y.missing_current == 67);
  CHECK(c.missing_current == 47);
  // Same numbers as calling the detectors directly.
  const auto direct =
      drift::ks_test_sorted(sorted_finite(ref.y), sorted_finite(cur.y), drift::KsMethod::kAuto);
  CHECK(y.ks->result.statistic == direct.statistic);
  CHECK(y.ks->result.p_value == direct.p_value);
  // Chi-square over 4 cells: the unseen category has its own.
  CHECK(c.chi2->result.dof == 3);
  CHECK(c.psi->result.bins() == 4);
  CHECK(c.psi->result.reference_proportions.back() == 0.0);
  // Bonferroni over the 3 p-value tests (2 KS + 1 chi-square); PSI keeps its own threshold.
  CHECK(x.ks->threshold == Approx(0.05 / 3));
  CHECK(c.chi2->threshold == Approx(0.05 / 3));
  CHECK(x.psi->threshold == 0.2);
  CHECK(y.ks->drift);
  CHECK(result.drift);
}

TEST_CASE("min_effect keeps a significant but small effect from drifting", "[backend][unit]") {
  const Data ref = make_data(3, 3000, 0.0f, {"a", "b"});
  const Data cur = make_data(4, 3000, 0.15f, {"a", "b"});
  const auto profile = drift::ReferenceProfile::build(ref.view(), {});
  drift::EvaluationConfig config;
  config.correction = drift::Correction::kNone;
  auto result = drift::make_cpu_backend()->evaluate(profile, cur.view(), config);
  REQUIRE(result.features[1].ks->result.p_value < 0.05);
  CHECK(result.features[1].ks->drift);
  config.min_effect.ks = 0.5;
  result = drift::make_cpu_backend()->evaluate(profile, cur.view(), config);
  CHECK_FALSE(result.features[1].ks->drift);
}

TEST_CASE("the CPU backend gives the same results on 1 and 2 threads", "[backend][unit]") {
  const Data ref = make_data(5, 2000, 0.0f, {"a", "b", "c"});
  const Data cur = make_data(6, 1500, 0.1f, {"a", "b", "c"});
  const auto profile = drift::ReferenceProfile::build(ref.view(), {});
  const auto backend = drift::make_cpu_backend();
  drift::EvaluationResult one;
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
    one = backend->evaluate(profile, cur.view(), {});
  }
  const auto two = backend->evaluate(profile, cur.view(), {});
  for (std::size_t k = 0; k < one.features.size(); ++k) {
    if (one.features[k].ks)
      CHECK(one.features[k].ks->result.p_value == two.features[k].ks->result.p_value);
    CHECK(one.features[k].psi->result.statistic == two.features[k].psi->result.statistic);
  }
}

TEST_CASE("untestable current samples are rejected with the feature and the reason",
          "[backend][unit]") {
  const Data ref = make_data(7, 100, 0.0f, {"a", "b"});
  const auto profile = drift::ReferenceProfile::build(ref.view(), {});
  const auto backend = drift::make_cpu_backend();
  Data cur = make_data(8, 50, 0.0f, {"a", "b"});

  auto view = cur.view();
  view.columns.erase(view.columns.begin() + 1);
  CHECK_THROWS_WITH(backend->evaluate(profile, view, {}),
                    Catch::Contains("'y' is missing from the current sample"));

  view = cur.view();
  view.columns[2].kind = drift::FeatureKind::kNumeric;
  view.columns[2].values = cur.x;
  CHECK_THROWS_WITH(backend->evaluate(profile, view, {}),
                    Catch::Contains("'c' is categorical in the reference but numeric"));

  drift::EvaluationConfig config;
  config.min_rows = 60;
  CHECK_THROWS_WITH(backend->evaluate(profile, cur.view(), config),
                    Catch::Contains("fewer than min_rows = 60"));
}
