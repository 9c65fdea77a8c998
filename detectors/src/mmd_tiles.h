#pragma once
/// Internals of the MMD permutation test: the tiled batched product K·A in float32 or float64
/// (detectors/src/mmd_tiles.cc; the AVX-512 kernel in mmd_avx512.cc, the tile loop in
/// mmd_common.h) and the precision policy (permutation_test, statistic_from_sums:
/// detectors/src/mmd.cc). Private to drift::detectors; the tests include it to compare the
/// float32 path against the float64 one.
///
/// The product. Z is the pooled sample (N rows), K its Gaussian kernel matrix with a zeroed
/// diagonal, A an N x C 0/1 indicator matrix (one column per split: the reference part). For
/// each column a_c the pass returns within_c = a_c·K·a_c and cross_c = a_c·K·1, and once
/// 1·K·1; STATISTICS.md turns these into MMD^2 of the split. K is generated in T x T tiles
/// K_IJ (I <= J only: K is symmetric) and multiplied at once into S = K_IJ·A_J, which is
/// reduced against A_I right away (Float32Kernel::kAvx512 keeps S in registers):
///   within += a_I·S (twice off the diagonal), cross += a_I·(K_IJ·1) + (off the diagonal)
///   1·S, total += 1·K_IJ·1 (twice off the diagonal).
/// Work: N²/2 kernel values and N²·C multiply-adds; memory: A (N·C bytes) plus one
/// T x T tile and two T x C blocks per thread, never N x N. The parallel loop runs over
/// column tiles J (task J visits I = 0..J); each task writes its own partial sums, which are
/// added in the order J = 0, 1, ... so the result does not depend on the thread count.

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "drift/detectors/mmd.h"

namespace drift::mmd_detail {

/// How the batched product is evaluated by permutation_test.
enum class Precision : std::uint8_t {
  /// float32 tiles for every column; then float64 tiles for the observed split, a few probe
  /// permutations and every permutation whose float32 statistic lies within the
  /// kCandidateTolerance band of the observed one. Falls back to kFloat64 for all columns when
  /// any re-evaluated column shows a float32 error above a quarter of the band. The default.
  kValidated,
  /// float32 tiles only (for tests: they must give the float64 p-values).
  kFloat32,
  /// float64 tiles for every column: the reference path.
  kFloat64,
};

/// Tile edge T (rows and columns of one kernel tile).
inline constexpr std::size_t kDefaultTile = 512;
/// Indicator columns handled by one pass over the tiles (more permutations: more passes).
inline constexpr std::size_t kMaxColumnsPerPass = 1024;
/// Two statistics closer than this times the mean pooled kernel value are a tie, counted as
/// MMD²_b >= MMD²_obs: float64 rounding (order of summation) stays far below it, so splits that
/// are equal in exact arithmetic (the observed split drawn again, its mirror when n == m,
/// duplicate rows swapped) count the same in every implementation.
inline constexpr double kTieTolerance = 1e-11;
/// Half-width of the band in which float32 statistics are re-evaluated in float64
/// (kValidated), in units of mean pooled kernel value / min(n, m): the float32 error of a
/// statistic shrinks like 1/min(n, m) (it averages over ~min(n, m)² kernel values); measured
/// at most 7e-5 of that unit (both float32 kernels) on standardized normal data, d = 1..10,
/// n = m = 50..10000. A quarter of the band, the fallback threshold, is 7x that.
inline constexpr double kCandidateTolerance = 2e-3;
/// Probe permutations re-evaluated in float64 to check the float32 error (kValidated).
inline constexpr std::size_t kProbeColumns = 4;

/// 0/1 indicators, N x C, column-major: column c marks the reference part of split c.
using Indicators = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>;

/// Per-column results of one batched pass.
struct BatchedSums {
  std::vector<double> within;  ///< a_c·K·a_c: sum over i != j both in the reference part
  std::vector<double> cross;   ///< a_c·K·1: sum over i in the reference part, any j != i
  double total = 0.0;          ///< 1·K·1: sum over all i != j
};

/// The float32 product kernel. kPortable: Eigen's GEMM S = K_IJ·A_J (AVX2 at the build
/// baseline) and a float64 reduction of S against A_I. kAvx512 (x86-64 CPUs with AVX-512
/// F/DQ/BW, chosen at run time): A as bit masks, S[i, 16 columns] += K[i, j] as one masked add,
/// reduced from the registers; about 1.8x the portable kernel's throughput.
enum class Float32Kernel : std::uint8_t { kAuto, kPortable, kAvx512 };

/// Whether this build and CPU can run Float32Kernel::kAvx512.
bool avx512_kernel_available();
/// Selects the float32 kernel for the whole process (tests, benchmarks); kAuto (the default)
/// takes kAvx512 where available. Returns false, changing nothing, for an unavailable kernel.
bool set_float32_kernel(Float32Kernel kernel);
/// The kernel batched_sums_float32 uses now (never kAuto).
Float32Kernel float32_kernel();

/// The batched pass with float32 tiles (float64 accumulation across tiles).
BatchedSums batched_sums_float32(const RowMatrixF& pooled, double sigma, const Indicators& a,
                                 std::size_t tile = kDefaultTile);
/// The batched pass with float64 tiles.
BatchedSums batched_sums_float64(const RowMatrixF& pooled, double sigma, const Indicators& a,
                                 std::size_t tile = kDefaultTile);

/// MMD²_u of a split from its sums: n reference rows, m current rows.
double statistic_from_sums(double within, double cross, double total, std::size_t n, std::size_t m);

/// What permutation_test did (tests and benchmarks).
struct Diagnostics {
  std::size_t ties = 0;          ///< permutations that reproduce the observed split (or mirror)
  std::size_t rechecked = 0;     ///< permutation columns evaluated again in float64
  double max_float32_error = 0;  ///< largest |float32 - float64| statistic, in band units
  double band = 0;               ///< the candidate band, absolute
  bool fell_back = false;        ///< kValidated recomputed every column in float64
};

/// Evaluates the batched pass for the pooled rows, a bandwidth and an indicator block, in
/// float64 tiles when the flag is set, else float32 tiles (float64 accumulation). The CPU
/// passes above are one provider; the CUDA backend (gpu/) is another.
using SumsProvider = std::function<BatchedSums(const RowMatrixF& pooled, double sigma,
                                               const Indicators& a, bool float64)>;

/// permutation_test with the batched passes delegated to `provider`: the splits (permutation
/// generation), the precision policy, the tie rule and the p-value stay here, shared by every
/// backend, so backends differ only in how they evaluate K·A.
MmdResult permutation_test_with(const RowMatrixF& reference, const RowMatrixF& current,
                                double sigma, std::size_t permutations, std::uint64_t seed,
                                Precision precision, const SumsProvider& provider,
                                Diagnostics* diagnostics = nullptr);

/// The permutation test of mmd_permutation_test with an explicit precision and tile size.
MmdResult permutation_test(const RowMatrixF& reference, const RowMatrixF& current, double sigma,
                           std::size_t permutations, std::uint64_t seed, Precision precision,
                           std::size_t tile = kDefaultTile, Diagnostics* diagnostics = nullptr);

}  // namespace drift::mmd_detail
