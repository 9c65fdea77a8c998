#pragma once
/// Chi-square test of homogeneity for categorical features (STATISTICS.md, Chi-square).

#include <cstdint>
#include <span>

namespace drift {

/// Outcome of the 2 x K homogeneity test.
struct Chi2Result {
  double statistic = 0.0;
  double p_value = 1.0;
  std::uint64_t dof = 0;
  double cramers_v = 0.0;  ///< sqrt(chi2 / (n + m))
};

/// Test on per-category counts of both samples (same category order; a category may have zero
/// count on one side but not on both). Matches scipy.stats.chi2_contingency(correction=False).
Chi2Result chi2_homogeneity(std::span<const std::uint64_t> reference_counts,
                            std::span<const std::uint64_t> current_counts);

}  // namespace drift
