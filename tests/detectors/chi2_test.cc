#include <catch2/catch.hpp>

#include <cmath>

#include "drift/detectors/chi2.h"
#include "golden.h"

TEST_CASE("chi-square matches scipy.stats.chi2_contingency without continuity correction",
          "[chi2][unit]") {
  const auto golden = drift::test::load_golden("detectors.json");
  for (const auto& c : golden["chi2"]) {
    INFO(c["name"].get<std::string>());
    const auto ref = c["reference_counts"].get<std::vector<std::uint64_t>>();
    const auto cur = c["current_counts"].get<std::vector<std::uint64_t>>();
    const auto r = drift::chi2_homogeneity(ref, cur);
    CHECK(drift::test::close_rel(r.statistic, c["statistic"].get<double>(), 1e-9, 1e-12));
    CHECK(drift::test::close_rel(r.p_value, c["p_value"].get<double>(), 1e-9, 1e-300));
    CHECK(r.dof == c["dof"].get<std::uint64_t>());
    CHECK(drift::test::close_rel(r.cramers_v, c["cramers_v"].get<double>(), 1e-9, 1e-12));
  }
}

TEST_CASE("chi-square rejects an empty sample", "[chi2][unit]") {
  const std::vector<std::uint64_t> empty = {0, 0};
  const std::vector<std::uint64_t> some = {3, 4};
  CHECK_THROWS_AS(drift::chi2_homogeneity(empty, some), std::invalid_argument);
}
