// Statistical calibration of KS (STATISTICS.md, Calibration): under no drift the false-alarm
// rate stays within the binomial bound; under a shift, power grows with sample size.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "drift/detectors/ks.h"

namespace {

std::vector<float> draw(std::mt19937_64& rng, std::size_t n, float shift) {
  std::normal_distribution<float> normal(shift, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  std::sort(v.begin(), v.end());
  return v;
}

double rejection_rate(std::uint64_t seed, int trials, std::size_t n, std::size_t m, float shift,
                      drift::KsMethod method, double alpha) {
  std::mt19937_64 rng(seed);
  int rejected = 0;
  for (int t = 0; t < trials; ++t) {
    const auto r = drift::ks_test_sorted(draw(rng, n, 0.0f), draw(rng, m, shift), method);
    rejected += r.p_value < alpha ? 1 : 0;
  }
  return static_cast<double>(rejected) / trials;
}

double binomial_bound(double alpha, int trials) {
  return alpha + 3.0 * std::sqrt(alpha * (1.0 - alpha) / trials);
}

}  // namespace

TEST_CASE("KS exact p-values keep the false-alarm rate at alpha under no drift",
          "[calibration][ks]") {
  constexpr int kTrials = 400;
  for (const auto& [n, m] : {std::pair<std::size_t, std::size_t>{200, 200}, {300, 170}}) {
    const double rate = rejection_rate(11 + n, kTrials, n, m, 0.0f, drift::KsMethod::kExact, 0.05);
    INFO("n=" << n << " m=" << m << " false-alarm rate " << rate);
    CHECK(rate <= binomial_bound(0.05, kTrials));
  }
}

TEST_CASE("KS asymptotic p-values keep the false-alarm rate at alpha under no drift",
          "[calibration][ks]") {
  constexpr int kTrials = 200;
  const double rate = rejection_rate(29, kTrials, 12000, 10500, 0.0f, drift::KsMethod::kAuto, 0.05);
  INFO("false-alarm rate " << rate);
  CHECK(rate <= binomial_bound(0.05, kTrials));
}

TEST_CASE("KS power under a shift rises with sample size", "[calibration][ks]") {
  const double small = rejection_rate(31, 200, 40, 40, 0.3f, drift::KsMethod::kAuto, 0.05);
  const double large = rejection_rate(37, 200, 400, 400, 0.3f, drift::KsMethod::kAuto, 0.05);
  INFO("power at 40+40: " << small << ", at 400+400: " << large);
  CHECK(large > small + 0.3);
  CHECK(large > 0.9);
}
