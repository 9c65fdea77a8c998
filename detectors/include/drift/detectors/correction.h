#pragma once
/// Multiple-testing correction across the per-feature p-value tests of one evaluation.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace drift {

enum class Correction : std::uint8_t { kNone, kBonferroni, kFdr };

/// "none" | "bonferroni" | "fdr".
std::string_view to_string(Correction correction);

/// The corrected decisions for a family of p-values.
struct CorrectedDecisions {
  double cutoff = 0.0;         ///< effective cutoff (the `threshold` reported for p-value tests)
  std::vector<bool> rejected;  ///< one per input p-value: the test drifts (before min-effect)
};

/// Applies `correction` at level alpha (STATISTICS.md, Multiple testing): strict comparisons;
/// Benjamini–Hochberg for kFdr. NaN p-values never reject. An empty family has cutoff alpha.
CorrectedDecisions correct(std::span<const double> p_values, double alpha, Correction correction);

}  // namespace drift
