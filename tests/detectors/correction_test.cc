#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "drift/detectors/correction.h"
#include "golden.h"

TEST_CASE("corrections give the same cutoffs and decisions as the reference implementation",
          "[correction][unit]") {
  const auto golden = drift::test::load_golden("detectors.json");
  const std::pair<const char*, drift::Correction> modes[] = {
      {"none", drift::Correction::kNone},
      {"bonferroni", drift::Correction::kBonferroni},
      {"fdr", drift::Correction::kFdr}};
  for (const auto& c : golden["correction"]) {
    const auto p = c["p_values"].get<std::vector<double>>();
    for (const auto& [name, mode] : modes) {
      INFO(name << " on " << c["p_values"].dump());
      const auto d = drift::correct(p, c["alpha"].get<double>(), mode);
      CHECK(d.cutoff == Approx(c[name]["cutoff"].get<double>()).epsilon(1e-15));
      CHECK(d.rejected == c[name]["rejected"].get<std::vector<bool>>());
    }
  }
}

TEST_CASE("missing p-values are not part of the family and never reject", "[correction][unit]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> p = {0.01, nan, 0.02};
  const auto d = drift::correct(p, 0.05, drift::Correction::kBonferroni);
  CHECK(d.cutoff == 0.025);
  CHECK(d.rejected == std::vector<bool>{true, false, true});
}

TEST_CASE("Benjamini-Hochberg with nothing below the line reports alpha over F",
          "[correction][unit]") {
  const std::vector<double> p = {0.5, 0.7};
  const auto d = drift::correct(p, 0.05, drift::Correction::kFdr);
  CHECK(d.cutoff == 0.025);
  CHECK(d.rejected == std::vector<bool>{false, false});
}
