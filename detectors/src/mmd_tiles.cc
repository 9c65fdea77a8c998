// The tiled batched product of mmd_tiles.h: the portable pass (Eigen's GEMM, float32 or
// float64), the float32 kernel selection and the dispatch to the AVX-512 kernel
// (mmd_avx512.cc). The tile loop itself is in mmd_common.h.
#include "mmd_tiles.h"

#include <tbb/enumerable_thread_specific.h>

// The AVX2 float32 column reduction (the build baseline).
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "mmd_avx512.h"
#include "mmd_common.h"

namespace drift::mmd_detail {

namespace {

/// One column of reduce_tile: u = a·s, t = column_weight·(1·s) + a·rs, in float64.
template <typename Scalar>
void reduce_column(const Scalar* s, const std::uint8_t* a, const double* rs, Index ti,
                   double column_weight, double& u_out, double& t_out) {
  constexpr Index kLanes = 4;
  double u[kLanes] = {};
  double t[kLanes] = {};
  Index i = 0;
  for (; i + kLanes <= ti; i += kLanes) {
    for (Index l = 0; l < kLanes; ++l) {
      const double sv = static_cast<double>(s[i + l]);
      const double av = static_cast<double>(a[i + l]);
      u[l] += av * sv;
      t[l] += column_weight * sv + av * rs[i + l];
    }
  }
  for (Index l = 0; i < ti; ++i, ++l) {
    const double sv = static_cast<double>(s[i]);
    const double av = static_cast<double>(a[i]);
    u[l] += av * sv;
    t[l] += column_weight * sv + av * rs[i];
  }
  u_out = (u[0] + u[1]) + (u[2] + u[3]);
  t_out = (t[0] + t[1]) + (t[2] + t[3]);
}

#if defined(__AVX2__) && defined(__FMA__)
/// The float32 column reduction with AVX2 (the hot loop next to the GEMM): four float64 lanes,
/// the same lane assignment and combination order as the portable loop above.
template <>
void reduce_column<float>(const float* s, const std::uint8_t* a, const double* rs, Index ti,
                          double column_weight, double& u_out, double& t_out) {
  __m256d u = _mm256_setzero_pd();
  __m256d t = _mm256_setzero_pd();
  const __m256d weight = _mm256_set1_pd(column_weight);
  Index i = 0;
  for (; i + 4 <= ti; i += 4) {
    std::int32_t bytes = 0;
    std::memcpy(&bytes, a + i, sizeof bytes);
    const __m256d av = _mm256_cvtepi32_pd(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(bytes)));
    const __m256d sv = _mm256_cvtps_pd(_mm_loadu_ps(s + i));
    u = _mm256_fmadd_pd(av, sv, u);
    t = _mm256_fmadd_pd(av, _mm256_loadu_pd(rs + i), _mm256_fmadd_pd(weight, sv, t));
  }
  alignas(32) double ul[4];
  alignas(32) double tl[4];
  _mm256_store_pd(ul, u);
  _mm256_store_pd(tl, t);
  for (Index l = 0; i < ti; ++i, ++l) {
    const double sv = static_cast<double>(s[i]);
    const double av = static_cast<double>(a[i]);
    ul[l] += av * sv;
    tl[l] = std::fma(av, rs[i], std::fma(column_weight, sv, tl[l]));
  }
  u_out = (ul[0] + ul[1]) + (ul[2] + ul[3]);
  t_out = (tl[0] + tl[1]) + (tl[2] + tl[3]);
}
#endif

/// Reduces S = K_IJ·A_J (ti x C) against A_I: per column c,
///   within[c] += weight · a_I·S,   cross[c] += a_I·rows + (off diagonal) 1·S,
/// in float64 (fixed lane order, so deterministic).
template <typename Scalar>
void reduce_tile(const ColMatrix<Scalar>& product, const Indicators& a, Index i0, Index ti,
                 const std::vector<double>& row_sums, bool off_diagonal, double* within,
                 double* cross) {
  const double weight = off_diagonal ? 2.0 : 1.0;
  const double column_weight = off_diagonal ? 1.0 : 0.0;
  for (Index c = 0; c < a.cols(); ++c) {
    double u = 0.0;
    double t = 0.0;
    reduce_column(product.col(c).data(), a.col(c).data() + i0, row_sums.data(), ti, column_weight,
                  u, t);
    within[c] += weight * u;
    cross[c] += t;
  }
}

/// Per-thread scratch of the portable pass: one kernel tile, the indicator block A_J in the
/// tile precision, the product S = K_IJ·A_J and the tile's row sums.
template <typename Scalar>
struct TileWorkspace {
  ColMatrix<Scalar> kernel;
  ColMatrix<Scalar> indicators;
  ColMatrix<Scalar> product;
  std::vector<double> row_sums;

  TileWorkspace(Index tile, Index columns)
      : kernel(tile, tile),
        indicators(tile, columns),
        product(tile, columns),
        row_sums(to_size(tile)) {}
};

/// The portable pass (float32 or float64): Eigen's GEMM for S = K_IJ·A_J, then reduce_tile.
template <typename Scalar>
BatchedSums batched_sums(const RowMatrixF& pooled, double sigma, const Indicators& a,
                         std::size_t tile_size) {
  const Index tile = checked_tile(pooled, a, tile_size);
  const Index columns = a.cols();
  const auto gamma = static_cast<Scalar>(1.0 / (2.0 * sigma * sigma));
  const PooledRows<Scalar> z(pooled);
  tbb::enumerable_thread_specific<TileWorkspace<Scalar>> workspaces(tile, columns);
  const auto begin = [&a](TileWorkspace<Scalar>& ws, Index j0, Index tj) {
    ws.indicators.topRows(tj) = a.middleRows(j0, tj).template cast<Scalar>();
  };
  const auto pair = [&](TileWorkspace<Scalar>& ws, Index i0, Index ti, Index j0, Index tj,
                        double* within, double* cross) {
    kernel_tile(z, i0, ti, j0, tj, gamma, ws.kernel);
    const auto k = ws.kernel.topLeftCorner(ti, tj);
    double* rs = ws.row_sums.data();
    std::fill(rs, rs + ti, 0.0);
    for (Index j = 0; j < tj; ++j) {
      const Scalar* kj = k.col(j).data();
      for (Index i = 0; i < ti; ++i) rs[i] += static_cast<double>(kj[i]);
    }
    double tile_total = 0.0;
    for (Index i = 0; i < ti; ++i) tile_total += rs[i];
    const bool off_diagonal = i0 != j0;
    ws.product.topRows(ti).noalias() = k * ws.indicators.topRows(tj);
    reduce_tile(ws.product, a, i0, ti, ws.row_sums, off_diagonal, within, cross);
    return off_diagonal ? 2.0 * tile_total : tile_total;
  };
  return run_tile_tasks(pooled.rows(), columns, columns, tile, workspaces, begin, pair);
}

std::atomic<Float32Kernel> g_float32_kernel{Float32Kernel::kAuto};

}  // namespace

bool avx512_kernel_available() {
#if DRIFT_MMD_AVX512
  return avx512::supported();
#else
  return false;
#endif
}

bool set_float32_kernel(Float32Kernel kernel) {
  if (kernel == Float32Kernel::kAvx512 && !avx512_kernel_available()) return false;
  g_float32_kernel.store(kernel);
  return true;
}

Float32Kernel float32_kernel() {
  const Float32Kernel chosen = g_float32_kernel.load();
  if (chosen != Float32Kernel::kAuto) return chosen;
  return avx512_kernel_available() ? Float32Kernel::kAvx512 : Float32Kernel::kPortable;
}

BatchedSums batched_sums_float32(const RowMatrixF& pooled, double sigma, const Indicators& a,
                                 std::size_t tile) {
#if DRIFT_MMD_AVX512
  if (float32_kernel() == Float32Kernel::kAvx512) {
    return avx512::batched_sums(pooled, sigma, a, tile);
  }
#endif
  return batched_sums<float>(pooled, sigma, a, tile);
}

BatchedSums batched_sums_float64(const RowMatrixF& pooled, double sigma, const Indicators& a,
                                 std::size_t tile) {
  return batched_sums<double>(pooled, sigma, a, tile);
}

}  // namespace drift::mmd_detail
