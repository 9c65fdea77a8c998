#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "drift/detectors/psi.h"
#include "golden.h"

namespace {

std::vector<float> sorted(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<double> doubles(const nlohmann::json& j) { return j.get<std::vector<double>>(); }

void check_vector(const std::vector<double>& actual, const std::vector<double>& expected) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t k = 0; k < actual.size(); ++k) {
    INFO("element " << k);
    CHECK(actual[k] == expected[k]);
  }
}

}  // namespace

TEST_CASE("PSI with quantile and Evidently binning matches the numpy formula", "[psi][unit]") {
  const auto golden = drift::test::load_golden("detectors.json");
  for (const auto& c : golden["psi"]) {
    const std::string name = c["name"];
    INFO(name);
    const auto x = sorted(drift::test::decode_floats(c["x"]));
    const auto y = sorted(drift::test::decode_floats(c["y"]));
    drift::PsiResult r;
    if (c["binning"] == "quantile") {
      const auto edges = drift::quantile_edges(x, c["bins_requested"].get<int>());
      r = drift::psi_quantile(x, y, edges);
    } else {
      r = drift::psi_evidently(x, y);
    }
    // Edges are numpy's to the bit, so every value lands in the same bin.
    check_vector(r.edges, doubles(c["edges"]));
    check_vector(r.reference_proportions, doubles(c["reference_proportions"]));
    check_vector(r.current_proportions, doubles(c["current_proportions"]));
    const double expected = c["statistic"];
    CHECK(std::fabs(r.statistic - expected) <= 1e-9 * std::fabs(expected));
  }
}

TEST_CASE("PSI over categories matches the numpy formula, unseen categories included",
          "[psi][unit]") {
  const auto golden = drift::test::load_golden("detectors.json");
  for (const auto& c : golden["psi_categories"]) {
    INFO(c["name"].get<std::string>());
    const auto ref = c["reference_counts"].get<std::vector<std::uint64_t>>();
    const auto cur = c["current_counts"].get<std::vector<std::uint64_t>>();
    const auto r = drift::psi_categories(ref, cur);
    const double expected = c["statistic"];
    CHECK(std::fabs(r.statistic - expected) <= 1e-9 * std::max(std::fabs(expected), 1e-300));
    CHECK(r.bins() == ref.size());
  }
}

TEST_CASE("quantile edges reproduce numpy's linear interpolation", "[psi][unit]") {
  const std::vector<float> v = {1, 2, 3, 4};
  CHECK(drift::quantile_linear(v, 0.5) == 2.5);
  CHECK(drift::quantile_linear(v, 0.0) == 1.0);
  CHECK(drift::quantile_linear(v, 1.0) == 4.0);
  CHECK(drift::quantile_edges(std::vector<float>{5, 5, 5, 5}, 10) == std::vector<double>{5.0});
}

TEST_CASE("values equal to an edge fall in the bin that the edge closes", "[psi][unit]") {
  const std::vector<float> v = {1, 1, 2, 3, 3, 3};
  const std::vector<double> edges = {1.0, 2.0};
  CHECK(drift::count_in_upper_closed_bins(v, edges) == std::vector<std::uint64_t>{2, 1, 3});
}

TEST_CASE("PSI of a sample against itself is zero", "[psi][unit]") {
  const std::vector<float> v = {0.1f, 0.5f, 0.7f, 1.5f, 2.0f, 3.0f, 3.5f, 4.0f, 8.0f, 9.0f, 10.0f};
  CHECK(drift::psi_quantile(v, v, drift::quantile_edges(v, 10)).statistic == 0.0);
  CHECK(drift::psi_evidently(v, v).statistic == 0.0);
}
