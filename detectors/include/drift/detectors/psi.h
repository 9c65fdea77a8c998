#pragma once
/// Population stability index (STATISTICS.md, PSI).

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace drift {

/// How PSI bins are made. kCategories is implied for categorical features.
enum class PsiBinning : std::uint8_t { kQuantile, kEvidently, kCategories };

/// "quantile" | "evidently" | "categories".
std::string_view to_string(PsiBinning binning);

/// Proportions floor used by the quantile and category binnings.
inline constexpr double kPsiFloor = 1e-4;

/// PSI and the binned distributions it came from (proportions before any flooring/filling,
/// so exporters can show the real shares).
struct PsiResult {
  double statistic = 0.0;
  PsiBinning binning = PsiBinning::kQuantile;
  std::vector<double> edges;                  ///< inner edges (quantile) or all edges (evidently)
  std::vector<double> reference_proportions;  ///< one per bin
  std::vector<double> current_proportions;    ///< one per bin
  std::size_t bins() const { return reference_proportions.size(); }
};

/// Inner quantile edges Q_R(k/B), k = 1..B-1 (numpy's linear method, type 7), duplicates
/// dropped, from an ascending sample without missing values (non-empty).
std::vector<double> quantile_edges(std::span<const float> sorted, int bins);

/// numpy.quantile(sorted, q) with the default linear method, reproduced bit for bit.
double quantile_linear(std::span<const float> sorted, double q);

/// Counts of an ascending sample in the bins (-inf, e_1], (e_1, e_2], ..., (e_{B-1}, +inf).
std::vector<std::uint64_t> count_in_upper_closed_bins(std::span<const float> sorted,
                                                      std::span<const double> inner_edges);

/// Sum_k (q_k - p_k) ln(q_k / p_k) after flooring both vectors at kPsiFloor.
double psi_floored(std::span<const double> reference, std::span<const double> current);

/// PSI of a numeric feature on the reference's quantile bins (`inner_edges`, from
/// quantile_edges) given both ascending samples without missing values.
PsiResult psi_quantile(std::span<const float> reference_sorted,
                       std::span<const float> current_sorted, std::span<const double> inner_edges);

/// The same when the bins are already counted: the reference's shares (a profile's
/// `proportions`) and the current sample's counts per bin out of `current_total`.
PsiResult psi_quantile_counts(std::span<const double> inner_edges,
                              std::span<const double> reference_proportions,
                              std::span<const std::uint64_t> current_counts,
                              std::uint64_t current_total);

/// PSI with Evidently's binning (Sturges bins over R ∪ C, or one bin per distinct value when
/// the reference has <= 20 distinct values) and Evidently's zero fill.
PsiResult psi_evidently(std::span<const float> reference_sorted,
                        std::span<const float> current_sorted);

/// PSI over categories given the count of each category in both samples (same order, a
/// category unseen on one side has count 0 there). Both totals must be > 0.
PsiResult psi_categories(std::span<const std::uint64_t> reference_counts,
                         std::span<const std::uint64_t> current_counts);

}  // namespace drift
