#pragma once
/// Maximum mean discrepancy with a Gaussian kernel and a batched permutation test
/// (STATISTICS.md, MMD). Kernel matrices are generated tile by tile and never stored whole.

#include <Eigen/Core>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "drift/detectors/column.h"

namespace drift {

/// Row-major float32 matrix: one row per observation, one column per feature.
using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// How the multivariate test is set up.
struct MmdOptions {
  std::vector<std::string> features;  ///< numeric features; empty = all numeric, in order
  bool standardize = true;            ///< center/scale by the reference mean and population sd
  std::size_t max_rows = 10000;       ///< seeded subsample above this many rows, per side
  std::optional<double> sigma;        ///< fixed bandwidth; nullopt = median heuristic
  std::size_t sigma_rows = 4000;      ///< reference rows used by the median heuristic
  std::uint64_t seed = 0;             ///< seeds subsamples (profile) and permutations
};

/// Reference side of the MMD test: O(n) state computed once per reference profile.
struct MmdReference {
  std::vector<std::string> features;
  std::vector<double> mean;        ///< per feature, subtracted before scaling
  std::vector<double> scale;       ///< per feature divisor (1 for a constant column or no scaling)
  RowMatrixF rows;                 ///< the reference rows used, transformed (n' x d)
  std::size_t rows_available = 0;  ///< reference rows with no missing selected feature
  double sigma = 1.0;
  double reference_kernel_sum = 0.0;  ///< sum_{i != j} k(r_i, r_j) over `rows`
};

/// Outcome of one MMD permutation test.
struct MmdResult {
  double statistic = 0.0;  ///< unbiased MMD^2 of the observed split
  double p_value = 1.0;    ///< (1 + #{b : MMD^2_b >= observed}) / (1 + B)
  std::size_t permutations = 0;
  double sigma = 1.0;
  std::size_t reference_rows = 0;  ///< rows used on each side
  std::size_t current_rows = 0;
};

/// Builds the reference side from the selected numeric columns (rows with any missing value
/// dropped, standardized, subsampled, sigma by the median heuristic unless fixed).
/// Throws InputError when a feature is unknown or not numeric, or fewer than 2 rows remain.
MmdReference build_mmd_reference(const SampleView& reference, const MmdOptions& options);

/// Median heuristic: sigma = sqrt(lower median of the squared pairwise distances / 2) over
/// all pairs i < j of `rows` (at least 2 rows).
double median_heuristic_sigma(const RowMatrixF& rows);

/// Unbiased MMD^2 of two samples (rows are observations) with bandwidth sigma; float64
/// accumulation. Both samples need at least 2 rows.
double mmd2_unbiased(const RowMatrixF& x, const RowMatrixF& y, double sigma);

/// The current window transformed like the reference (selected features, missing rows
/// dropped, standardized, subsampled with `seed`).
RowMatrixF prepare_current(const MmdReference& reference, const SampleView& current,
                           std::uint64_t seed, std::size_t max_rows);

/// Permutation test of transformed samples: the observed statistic and B permuted ones from
/// one tiled batched product K·A (STATISTICS.md, batched permutations). Permutation b is
/// random::partial_shuffle of the pooled rows with (seed, kPermutation, b). Parallel over
/// tiles with oneTBB; the result does not depend on the thread count.
MmdResult mmd_permutation_test(const MmdReference& reference, const RowMatrixF& current,
                               std::size_t permutations, std::uint64_t seed);

}  // namespace drift
