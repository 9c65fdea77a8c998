#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "drift/detectors/ks.h"
#include "golden.h"
#include "ks_internal.h"

namespace {

drift::KsMethod method_from(const std::string& name) {
  if (name == "exact") return drift::KsMethod::kExact;
  if (name == "asymp") return drift::KsMethod::kAsymp;
  return drift::KsMethod::kAuto;
}

std::vector<float> sorted(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The plain definition: evaluate both ECDFs at every pooled value.
double ks_statistic_reference(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0.0;
  for (const auto& values : {a, b}) {
    for (const float x : values) {
      const auto fa =
          static_cast<double>(std::count_if(a.begin(), a.end(), [&](float v) { return v <= x; }));
      const auto fb =
          static_cast<double>(std::count_if(b.begin(), b.end(), [&](float v) { return v <= x; }));
      d = std::max(
          d, std::fabs(fa / static_cast<double>(a.size()) - fb / static_cast<double>(b.size())));
    }
  }
  return d;
}

}  // namespace

TEST_CASE("KS statistic and p-value match scipy.stats.ks_2samp on every golden case",
          "[ks][unit]") {
  const auto golden = drift::test::load_golden("detectors.json");
  for (const auto& c : golden["ks"]) {
    const std::string name = c["name"];
    INFO(name);
    const auto x = sorted(drift::test::decode_floats(c["x"]));
    const auto y = sorted(drift::test::decode_floats(c["y"]));
    const auto r = drift::ks_test_sorted(x, y, method_from(c["method"]));
    const double expected_d = c["statistic"];
    const double expected_p = c["p_value"];
    CHECK(std::fabs(r.statistic - expected_d) <= 1e-12);
    CHECK(drift::to_string(r.method) == c["taken"].get<std::string>());
    INFO("p = " << r.p_value << ", scipy " << expected_p);
    if (expected_p >= 1e-12) {
      CHECK(std::fabs(r.p_value - expected_p) <= 1e-6 * expected_p);
    } else {
      CHECK(std::fabs(r.p_value - expected_p) <= 1e-12);
    }
  }
}

TEST_CASE("KS statistic equals the definition evaluated at every pooled value", "[ks][unit]") {
  const std::vector<std::pair<std::vector<float>, std::vector<float>>> cases = {
      {{1, 2, 2, 3}, {2, 2, 2}},       {{0, 0, 0}, {0, 0}},           {{-1, 5}, {0, 1, 2, 3, 4, 6}},
      {{1, 1, 2, 2, 3, 3}, {1, 2, 3}}, {{-0.0f, 0.0f, 1}, {0.0f, 2}},
  };
  for (const auto& [a, b] : cases) {
    CHECK(drift::ks_statistic_sorted(sorted(a), sorted(b)) == ks_statistic_reference(a, b));
  }
}

TEST_CASE("KS statistic of identical samples is zero with p-value one", "[ks][unit]") {
  const std::vector<float> v = {1, 2, 3, 4, 4, 5};
  const auto r = drift::ks_test_sorted(v, v, drift::KsMethod::kAuto);
  CHECK(r.statistic == 0.0);
  CHECK(r.p_value == 1.0);
}

TEST_CASE("KS auto uses the exact path up to 10000 rows and the asymptotic one above",
          "[ks][unit]") {
  CHECK(drift::ks_p_value(0.1, 10000, 10000, drift::KsMethod::kAuto).method ==
        drift::KsMethod::kExact);
  CHECK(drift::ks_p_value(0.1, 10001, 50, drift::KsMethod::kAuto).method ==
        drift::KsMethod::kAsymp);
}

TEST_CASE("KS exact request on a lattice too large for 32 bits uses the asymptotic path",
          "[ks][unit]") {
  // lcm(1e6, 1e6 - 1) ~ 1e12, past scipy's int32 guard.
  const auto r = drift::ks_p_value(0.001, 1000000, 999999, drift::KsMethod::kExact);
  CHECK(r.method == drift::KsMethod::kAsymp);
  CHECK(r.p_value > 0.0);
  CHECK(r.p_value < 1.0);
}

TEST_CASE("KS statistic from eight-wide rank steps equals the scalar walk and the definition",
          "[ks][unit]") {
  std::mt19937_64 rng(99);
  for (int trial = 0; trial < 400; ++trial) {
    const std::size_t n = 1 + rng() % (trial % 3 == 0 ? 20 : 700);
    const std::size_t m = 1 + rng() % (trial % 3 == 1 ? 20 : 700);
    // Few distinct values make ties on both sides and across them; offsets make gaps.
    const std::uint64_t range = 1 + rng() % 300;
    const float offset = trial % 2 == 0 ? 0.0f : 0.5f;
    std::vector<float> a(n);
    std::vector<float> b(m);
    for (auto& v : a) v = static_cast<float>(rng() % range);
    for (auto& v : b) v = static_cast<float>(rng() % range) + offset;
    a = sorted(a);
    b = sorted(b);
    INFO("n=" << n << " m=" << m << " range=" << range);
    const double d = drift::ks_statistic_sorted(a, b);
    CHECK(d == drift::ks_detail::statistic_scalar(a, b));
    CHECK(d == drift::ks_statistic_sorted(b, a));
    if (n * m < 40000) CHECK(std::fabs(d - ks_statistic_reference(a, b)) <= 1e-15);
  }
}
