#include "drift/detectors/mmd.h"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>

// x86-64 with GCC/Clang: the AVX2 reduction (build baseline) and the run-time dispatched
// AVX-512 float32 kernel (target attributes).
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define DRIFT_MMD_AVX512 1
#else
#define DRIFT_MMD_AVX512 0
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "drift/detectors/random.h"
#include "mmd_tiles.h"

namespace drift {

namespace {

using Eigen::Index;

template <typename Scalar>
using RowMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename Scalar>
using ColMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
template <typename Scalar>
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

Index to_index(std::size_t value) { return static_cast<Index>(value); }
std::size_t to_size(Index value) { return static_cast<std::size_t>(value); }
double to_double(std::size_t value) { return static_cast<double>(value); }

/// Neumaier's compensated sum: standardization constants that match an exactly rounded sum
/// (math.fsum in the golden scripts) in all but pathological cases.
class CompensatedSum {
 public:
  void add(double x) {
    const double t = sum_ + x;
    if (std::fabs(sum_) >= std::fabs(x)) {
      compensation_ += (sum_ - t) + x;
    } else {
      compensation_ += (x - t) + sum_;
    }
    sum_ = t;
  }
  double value() const { return sum_ + compensation_; }

 private:
  double sum_ = 0.0;
  double compensation_ = 0.0;
};

bool is_missing(float value) { return !std::isfinite(value); }

// ---------------------------------------------------------------------------------------------
// Kernel tiles and the batched product (mmd_tiles.h).

/// Pooled rows converted to the tile precision, with their squared norms.
template <typename Scalar>
struct PooledRows {
  RowMatrix<Scalar> rows;
  Vector<Scalar> norms;

  /// Centered on the pooled column means (in double) first: distances do not change, and
  /// |x|² + |y|² - 2·x·y loses far less to cancellation (uncentered data with large offsets).
  explicit PooledRows(const RowMatrixF& pooled) {
    const RowMatrix<double> x = pooled.cast<double>();
    const Eigen::RowVectorXd mean = x.colwise().mean();
    rows = (x.rowwise() - mean).template cast<Scalar>();
    norms = rows.rowwise().squaredNorm();
  }
};

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
void reduce_tile(const ColMatrix<Scalar>& product, const mmd_detail::Indicators& a, Index i0,
                 Index ti, const std::vector<double>& row_sums, bool off_diagonal, double* within,
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

/// K_IJ = exp(-gamma·max(0, |x_i|² + |x_j|² - 2·x_i·x_j)) for rows i0..i0+ti, j0..j0+tj into the
/// top-left corner of `kernel` (either storage order); the diagonal of a diagonal tile is zeroed.
template <typename Scalar, typename Tile>
void kernel_tile(const PooledRows<Scalar>& z, Index i0, Index ti, Index j0, Index tj, Scalar gamma,
                 Tile& kernel) {
  auto k = kernel.topLeftCorner(ti, tj);
  k.noalias() = z.rows.middleRows(i0, ti) * z.rows.middleRows(j0, tj).transpose();
  // Along the contiguous direction (vectorized), then exp over the block (vectorized):
  // one fused broadcast expression would fall back to scalar std::exp.
  if constexpr (Tile::IsRowMajor) {
    const auto norms_j = z.norms.segment(j0, tj).transpose().array();
    for (Index i = 0; i < ti; ++i) {
      k.row(i).array() =
          ((norms_j + z.norms(i0 + i)) - Scalar(2) * k.row(i).array()).max(Scalar(0)) * (-gamma);
    }
  } else {
    const auto norms_i = z.norms.segment(i0, ti).array();
    for (Index j = 0; j < tj; ++j) {
      k.col(j).array() =
          ((norms_i + z.norms(j0 + j)) - Scalar(2) * k.col(j).array()).max(Scalar(0)) * (-gamma);
    }
  }
  k.array() = k.array().exp();
  if (i0 == j0) {
    for (Index i = 0; i < ti; ++i) k(i, i) = Scalar(0);
  }
}

/// The tile loop shared by every pass. Task J (column tile J; largest tasks first, in
/// parallel) visits row tiles I = 0..J in order and calls
///   pair(workspace, i0, ti, j0, tj, within, cross) -> the tile's kernel total,
/// which adds the pair's contributions to the task's own `within` / `cross` (length `padded`).
/// `begin(workspace, j0, tj)` runs once per task. The tasks' sums are added in the order
/// J = 0, 1, ..., so the result does not depend on the thread count.
template <typename Workspace, typename Begin, typename Pair>
mmd_detail::BatchedSums run_tile_tasks(Index n_total, Index columns, Index padded, Index tile,
                                       tbb::enumerable_thread_specific<Workspace>& workspaces,
                                       const Begin& begin, const Pair& pair) {
  const Index tiles = (n_total + tile - 1) / tile;
  std::vector<std::vector<double>> within(to_size(tiles));
  std::vector<std::vector<double>> cross(to_size(tiles));
  std::vector<double> totals(to_size(tiles), 0.0);
  tbb::parallel_for(
      tbb::blocked_range<Index>(0, tiles, 1),
      [&](const tbb::blocked_range<Index>& range) {
        Workspace& ws = workspaces.local();
        for (Index task = range.begin(); task != range.end(); ++task) {
          const Index jt = tiles - 1 - task;
          const Index j0 = jt * tile;
          const Index tj = std::min(tile, n_total - j0);
          std::vector<double>& w = within[to_size(jt)];
          std::vector<double>& x = cross[to_size(jt)];
          w.assign(to_size(padded), 0.0);
          x.assign(to_size(padded), 0.0);
          begin(ws, j0, tj);
          double total = 0.0;
          for (Index it = 0; it <= jt; ++it) {
            const Index i0 = it * tile;
            const Index ti = std::min(tile, n_total - i0);
            total += pair(ws, i0, ti, j0, tj, w.data(), x.data());
          }
          totals[to_size(jt)] = total;
        }
      },
      tbb::simple_partitioner());

  mmd_detail::BatchedSums sums;
  sums.within.assign(to_size(columns), 0.0);
  sums.cross.assign(to_size(columns), 0.0);
  for (Index jt = 0; jt < tiles; ++jt) {
    const auto& w = within[to_size(jt)];
    const auto& x = cross[to_size(jt)];
    for (Index c = 0; c < columns; ++c) {
      sums.within[to_size(c)] += w[to_size(c)];
      sums.cross[to_size(c)] += x[to_size(c)];
    }
    sums.total += totals[to_size(jt)];
  }
  return sums;
}

Index checked_tile(const RowMatrixF& pooled, const mmd_detail::Indicators& a,
                   std::size_t tile_size) {
  if (a.rows() != pooled.rows()) {
    throw InputError("MMD: indicator rows do not match the pooled rows");
  }
  if (tile_size == 0) throw InputError("MMD: tile size must be positive");
  return std::min(to_index(tile_size), std::max<Index>(pooled.rows(), 1));
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
mmd_detail::BatchedSums batched_sums(const RowMatrixF& pooled, double sigma,
                                     const mmd_detail::Indicators& a, std::size_t tile_size) {
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

#if DRIFT_MMD_AVX512
// ---------------------------------------------------------------------------------------------
// The float32 pass with AVX-512, chosen at run time (the build baseline is AVX2). A is 0/1, so
// S = K_IJ·A_J needs no multiplications: with 16 columns per register and the indicator bits
// as lane masks, S[i, c..c+16] += K[i, j] is one masked add. A register block holds kRows rows
// x 64 columns (28 accumulators); after the j loop it is reduced against A_I straight from the
// registers, so S is never stored.
namespace avx512 {

#define DRIFT_AVX512_TARGET __attribute__((target("avx512f,avx512dq,avx512bw")))

constexpr int kRows = 7;       // rows per register block
constexpr Index kGroup = 64;   // columns per register block: 4 x 16 lanes
constexpr Index kWords = 4;    // 16-bit masks per row and group
constexpr Index kChunk = 128;  // j values summed in registers before they are spilled

/// Indicator bits in panels: group g (columns 64g..64g+63), row j: kWords masks at
/// bits[(g·N + j)·kWords + v], bit l of mask v = a(j, 64g + 16v + l). Padding columns are 0.
std::vector<std::uint16_t> indicator_bits(const mmd_detail::Indicators& a, Index groups) {
  const Index n_total = a.rows();
  std::vector<std::uint16_t> bits(to_size(groups * n_total * kWords), 0);
  tbb::parallel_for(
      tbb::blocked_range<Index>(0, groups), [&](const tbb::blocked_range<Index>& range) {
        for (Index g = range.begin(); g != range.end(); ++g) {
          std::uint16_t* panel = bits.data() + g * n_total * kWords;
          const Index c_end = std::min(a.cols(), (g + 1) * kGroup);
          for (Index c = g * kGroup; c < c_end; ++c) {
            const Index v = (c - g * kGroup) / 16;
            const auto bit = static_cast<std::uint16_t>(1u << ((c - g * kGroup) % 16));
            const std::uint8_t* col = a.col(c).data();
            for (Index j = 0; j < n_total; ++j) {
              if (col[j] != 0) panel[j * kWords + v] |= bit;
            }
          }
        }
      });
  return bits;
}

/// float -> double for 8 lanes (the zero-masking form: GCC 12 flags the undefined source
/// operand of _mm512_cvtps_pd as uninitialized).
DRIFT_AVX512_TARGET inline __m512d widen(__m256 x) {
  return _mm512_maskz_cvtps_pd(static_cast<__mmask8>(0xFF), x);
}

/// Row sums of a row-major tile in float64 (eight lanes, fixed order).
DRIFT_AVX512_TARGET void row_sums(const float* k, Index ld, Index ti, Index tj, double* rs) {
  for (Index i = 0; i < ti; ++i) {
    const float* row = k + i * ld;
    __m512d acc = _mm512_setzero_pd();
    Index j = 0;
    for (; j + 8 <= tj; j += 8) {
      acc = _mm512_add_pd(acc, widen(_mm256_loadu_ps(row + j)));
    }
    alignas(64) double lanes[8];
    _mm512_store_pd(lanes, acc);
    for (Index l = 0; j < tj; ++j, ++l) lanes[l] += static_cast<double>(row[j]);
    rs[i] = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
            ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  }
}

/// One register block: rows r < R of the tile (k: row-major, row stride ld), one group of 64
/// columns. Adds weight·(a_I·S) to within[0..64) and a_I·rs + (off diagonal) 1·S to cross.
template <int R>
DRIFT_AVX512_TARGET void block(const float* k, Index ld, Index tj, const std::uint16_t* bits_j,
                               const std::uint16_t* bits_i, const double* rs, bool off_diagonal,
                               double* within, double* cross) {
  // The j loop runs in chunks of kChunk whose register sums are added into `sums` (L1): a
  // float sum of kChunk terms and a few chunk sums rounds far less than one of T terms.
  alignas(64) float sums[R][kWords * 16];
  for (Index j_begin = 0; j_begin < tj; j_begin += kChunk) {
    __m512 acc[R][kWords];
    for (int r = 0; r < R; ++r) {
      for (Index v = 0; v < kWords; ++v) acc[r][v] = _mm512_setzero_ps();
    }
    const Index j_end = std::min(tj, j_begin + kChunk);
    for (Index j = j_begin; j < j_end; ++j) {
      const std::uint16_t* m = bits_j + j * kWords;
      const __mmask16 m0 = m[0];
      const __mmask16 m1 = m[1];
      const __mmask16 m2 = m[2];
      const __mmask16 m3 = m[3];
      for (int r = 0; r < R; ++r) {
        const __m512 kv = _mm512_set1_ps(k[r * ld + j]);
        acc[r][0] = _mm512_mask_add_ps(acc[r][0], m0, acc[r][0], kv);
        acc[r][1] = _mm512_mask_add_ps(acc[r][1], m1, acc[r][1], kv);
        acc[r][2] = _mm512_mask_add_ps(acc[r][2], m2, acc[r][2], kv);
        acc[r][3] = _mm512_mask_add_ps(acc[r][3], m3, acc[r][3], kv);
      }
    }
    for (int r = 0; r < R; ++r) {
      for (Index v = 0; v < kWords; ++v) {
        float* out = sums[r] + v * 16;
        _mm512_store_ps(out,
                        j_begin == 0 ? acc[r][v] : _mm512_add_ps(_mm512_load_ps(out), acc[r][v]));
      }
    }
  }
  const __m512d weight = _mm512_set1_pd(off_diagonal ? 2.0 : 1.0);
  for (int r = 0; r < R; ++r) {
    const __m512d row_sum = _mm512_set1_pd(rs[r]);
    for (Index v = 0; v < kWords; ++v) {
      const float* s = sums[r] + v * 16;
      const unsigned mask = bits_i[r * kWords + v];
      for (Index h = 0; h < 2; ++h) {
        const auto half = static_cast<__mmask8>((mask >> (8 * h)) & 0xFFu);
        const __m512d sv = widen(_mm256_load_ps(s + 8 * h));
        double* w = within + v * 16 + h * 8;
        double* x = cross + v * 16 + h * 8;
        const __m512d wv = _mm512_loadu_pd(w);
        _mm512_storeu_pd(w, _mm512_mask_add_pd(wv, half, wv, _mm512_mul_pd(weight, sv)));
        __m512d xv = _mm512_loadu_pd(x);
        if (off_diagonal) xv = _mm512_add_pd(xv, sv);
        _mm512_storeu_pd(x, _mm512_mask_add_pd(xv, half, xv, row_sum));
      }
    }
  }
}

DRIFT_AVX512_TARGET void tile_product(const float* k, Index ld, Index ti, Index tj,
                                      const std::uint16_t* bits, Index n_total, Index groups,
                                      Index i0, Index j0, const double* rs, bool off_diagonal,
                                      double* within, double* cross) {
  for (Index g = 0; g < groups; ++g) {
    const std::uint16_t* panel = bits + g * n_total * kWords;
    const std::uint16_t* bits_j = panel + j0 * kWords;
    double* w = within + g * kGroup;
    double* x = cross + g * kGroup;
    for (Index r0 = 0; r0 < ti; r0 += kRows) {
      const float* kr = k + r0 * ld;
      const std::uint16_t* bits_i = panel + (i0 + r0) * kWords;
      const double* rr = rs + r0;
      switch (std::min<Index>(kRows, ti - r0)) {
        case 7:
          block<7>(kr, ld, tj, bits_j, bits_i, rr, off_diagonal, w, x);
          break;
        case 6:
          block<6>(kr, ld, tj, bits_j, bits_i, rr, off_diagonal, w, x);
          break;
        case 5:
          block<5>(kr, ld, tj, bits_j, bits_i, rr, off_diagonal, w, x);
          break;
        case 4:
          block<4>(kr, ld, tj, bits_j, bits_i, rr, off_diagonal, w, x);
          break;
        case 3:
          block<3>(kr, ld, tj, bits_j, bits_i, rr, off_diagonal, w, x);
          break;
        case 2:
          block<2>(kr, ld, tj, bits_j, bits_i, rr, off_diagonal, w, x);
          break;
        default:
          block<1>(kr, ld, tj, bits_j, bits_i, rr, off_diagonal, w, x);
          break;
      }
    }
  }
}

#undef DRIFT_AVX512_TARGET

struct Workspace {
  RowMatrix<float> kernel;
  std::vector<double> row_sums;
  explicit Workspace(Index tile) : kernel(tile, tile), row_sums(to_size(tile)) {}
};

mmd_detail::BatchedSums batched_sums(const RowMatrixF& pooled, double sigma,
                                     const mmd_detail::Indicators& a, std::size_t tile_size) {
  const Index tile = checked_tile(pooled, a, tile_size);
  const Index n_total = pooled.rows();
  const Index columns = a.cols();
  const Index groups = (columns + kGroup - 1) / kGroup;
  const auto gamma = static_cast<float>(1.0 / (2.0 * sigma * sigma));
  const PooledRows<float> z(pooled);
  const std::vector<std::uint16_t> bits = indicator_bits(a, groups);
  tbb::enumerable_thread_specific<Workspace> workspaces(tile);
  const auto begin = [](Workspace&, Index, Index) {};
  const auto pair = [&](Workspace& ws, Index i0, Index ti, Index j0, Index tj, double* within,
                        double* cross) {
    kernel_tile(z, i0, ti, j0, tj, gamma, ws.kernel);
    const float* k = ws.kernel.data();
    const Index ld = ws.kernel.cols();
    row_sums(k, ld, ti, tj, ws.row_sums.data());
    double tile_total = 0.0;
    for (Index i = 0; i < ti; ++i) tile_total += ws.row_sums[to_size(i)];
    const bool off_diagonal = i0 != j0;
    tile_product(k, ld, ti, tj, bits.data(), n_total, groups, i0, j0, ws.row_sums.data(),
                 off_diagonal, within, cross);
    return off_diagonal ? 2.0 * tile_total : tile_total;
  };
  return run_tile_tasks(n_total, columns, groups * kGroup, tile, workspaces, begin, pair);
}

bool supported() {
  static const bool ok = __builtin_cpu_supports("avx512f") != 0 &&
                         __builtin_cpu_supports("avx512dq") != 0 &&
                         __builtin_cpu_supports("avx512bw") != 0;
  return ok;
}

}  // namespace avx512
#endif  // DRIFT_MMD_AVX512

std::atomic<mmd_detail::Float32Kernel> g_float32_kernel{mmd_detail::Float32Kernel::kAuto};

// ---------------------------------------------------------------------------------------------
// Splits: the observed one and permutation b (random.h, Stream::kPermutation, index b).

/// Column spec: kObserved or a permutation index.
constexpr std::int64_t kObserved = -1;

struct SplitBlock {
  mmd_detail::Indicators indicators;
  std::vector<std::uint8_t> tie;  ///< the split equals the observed one or (n == m) its mirror
};

SplitBlock make_splits(std::size_t n, std::size_t m, std::uint64_t seed,
                       std::span<const std::int64_t> columns) {
  const std::size_t n_total = n + m;
  SplitBlock block;
  block.indicators.setZero(to_index(n_total), to_index(columns.size()));
  block.tie.assign(columns.size(), 0);
  tbb::enumerable_thread_specific<std::vector<std::uint32_t>> orders(n_total);
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, columns.size(), 16),
                    [&](const tbb::blocked_range<std::size_t>& range) {
                      std::vector<std::uint32_t>& order = orders.local();
                      for (std::size_t c = range.begin(); c != range.end(); ++c) {
                        std::uint8_t* col = block.indicators.col(to_index(c)).data();
                        if (columns[c] == kObserved) {
                          std::fill(col, col + n, std::uint8_t{1});
                          block.tie[c] = 1;
                          continue;
                        }
                        auto rng =
                            random::SplitMix64::for_stream(seed, random::Stream::kPermutation,
                                                           static_cast<std::uint64_t>(columns[c]));
                        random::partial_shuffle(rng, order, n);
                        bool same = true;
                        bool mirror = n == m;
                        for (std::size_t i = 0; i < n; ++i) {
                          col[order[i]] = 1;
                          same = same && order[i] < n;
                          mirror = mirror && order[i] >= n;
                        }
                        block.tie[c] = (same || mirror) ? 1 : 0;
                      }
                    });
  return block;
}

/// Statistics of the listed splits from passes of at most kMaxColumnsPerPass columns.
struct SplitStatistics {
  std::vector<double> statistic;
  std::vector<std::uint8_t> tie;
  double mean_kernel = 0.0;  ///< 1·K·1 / (N(N-1)): the scale of the tolerances
};

SplitStatistics split_statistics(const RowMatrixF& pooled, std::size_t n, double sigma,
                                 std::uint64_t seed, std::span<const std::int64_t> columns,
                                 bool float64, std::size_t tile) {
  const std::size_t n_total = to_size(pooled.rows());
  const std::size_t m = n_total - n;
  SplitStatistics out;
  out.statistic.resize(columns.size());
  out.tie.resize(columns.size());
  double total = 0.0;
  for (std::size_t begin = 0; begin < columns.size(); begin += mmd_detail::kMaxColumnsPerPass) {
    const std::size_t count = std::min(mmd_detail::kMaxColumnsPerPass, columns.size() - begin);
    const SplitBlock block = make_splits(n, m, seed, columns.subspan(begin, count));
    const mmd_detail::BatchedSums sums =
        float64 ? mmd_detail::batched_sums_float64(pooled, sigma, block.indicators, tile)
                : mmd_detail::batched_sums_float32(pooled, sigma, block.indicators, tile);
    for (std::size_t c = 0; c < count; ++c) {
      out.statistic[begin + c] =
          mmd_detail::statistic_from_sums(sums.within[c], sums.cross[c], sums.total, n, m);
      out.tie[begin + c] = block.tie[c];
    }
    total = sums.total;
  }
  out.mean_kernel = total / (to_double(n_total) * to_double(n_total - 1));
  return out;
}

RowMatrixF pool(const RowMatrixF& x, const RowMatrixF& y) {
  RowMatrixF pooled(x.rows() + y.rows(), x.cols());
  pooled.topRows(x.rows()) = x;
  pooled.bottomRows(y.rows()) = y;
  return pooled;
}

void check_sigma(double sigma) {
  if (!std::isfinite(sigma) || sigma <= 0.0) {
    throw InputError("MMD: sigma must be a positive finite number, got " + std::to_string(sigma));
  }
}

// ---------------------------------------------------------------------------------------------
// Feature selection and the row transform.

struct SelectedColumns {
  std::vector<std::string> names;
  std::vector<const ColumnView*> columns;
  std::size_t rows = 0;
};

const ColumnView& numeric_column(const SampleView& sample, const std::string& name,
                                 const char* side) {
  const ColumnView* column = sample.find(name);
  if (column == nullptr) {
    throw InputError(std::string("MMD feature '") + name + "': not found in the " + side);
  }
  if (column->kind != FeatureKind::kNumeric) {
    throw InputError(std::string("MMD feature '") + name + "': categorical in the " + side +
                     "; MMD needs numeric features");
  }
  return *column;
}

SelectedColumns select_columns(const SampleView& sample, const std::vector<std::string>& names,
                               const char* side) {
  SelectedColumns out;
  if (names.empty()) {
    for (const ColumnView& column : sample.columns) {
      if (column.kind != FeatureKind::kNumeric) continue;
      out.names.push_back(column.name);
      out.columns.push_back(&column);
    }
    if (out.columns.empty()) {
      throw InputError(std::string("MMD: the ") + side + " has no numeric features");
    }
  } else {
    for (const std::string& name : names) {
      out.names.push_back(name);
      out.columns.push_back(&numeric_column(sample, name, side));
    }
  }
  out.rows = out.columns.front()->size();
  for (const ColumnView* column : out.columns) {
    if (column->size() != out.rows) {
      throw InputError("MMD feature '" + column->name + "': " + std::to_string(column->size()) +
                       " rows in the " + side + ", other features have " +
                       std::to_string(out.rows));
    }
  }
  return out;
}

/// Indices of the rows with no missing selected value, ascending.
std::vector<std::size_t> complete_rows(const SelectedColumns& selected) {
  std::vector<std::size_t> rows;
  rows.reserve(selected.rows);
  for (std::size_t r = 0; r < selected.rows; ++r) {
    bool complete = true;
    for (const ColumnView* column : selected.columns) {
      if (is_missing(column->values[r])) {
        complete = false;
        break;
      }
    }
    if (complete) rows.push_back(r);
  }
  return rows;
}

/// Keeps a seeded ascending sample of `max_rows` of `rows` when there are more.
void subsample(std::vector<std::size_t>& rows, std::uint64_t seed, random::Stream stream,
               std::size_t max_rows) {
  if (rows.size() <= max_rows) return;
  const std::vector<std::uint32_t> chosen =
      random::sample_indices(seed, stream, rows.size(), max_rows);
  std::vector<std::size_t> kept;
  kept.reserve(chosen.size());
  for (const std::uint32_t index : chosen) kept.push_back(rows[index]);
  rows = std::move(kept);
}

/// (x - mean) / scale in double, rounded to float, for the listed rows.
RowMatrixF transform_rows(const SelectedColumns& selected, const std::vector<std::size_t>& rows,
                          const std::vector<double>& mean, const std::vector<double>& scale) {
  RowMatrixF out(to_index(rows.size()), to_index(selected.columns.size()));
  for (std::size_t k = 0; k < selected.columns.size(); ++k) {
    const std::span<const float> values = selected.columns[k]->values;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const double v = (static_cast<double>(values[rows[r]]) - mean[k]) / scale[k];
      out(to_index(r), to_index(k)) = static_cast<float>(v);
    }
  }
  return out;
}

void check_rows_fit(std::size_t rows) {
  if (rows > std::numeric_limits<std::uint32_t>::max()) {
    throw InputError("MMD: too many rows (" + std::to_string(rows) + ")");
  }
}

}  // namespace

// -------------------------------------------------------------------------------------------------
// mmd_tiles.h

namespace mmd_detail {

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

double statistic_from_sums(double within, double cross, double total, std::size_t n,
                           std::size_t m) {
  const double nd = to_double(n);
  const double md = to_double(m);
  const double reference_reference = within;
  const double current_current = total - 2.0 * cross + within;
  const double reference_current = cross - within;
  return reference_reference / (nd * (nd - 1.0)) + current_current / (md * (md - 1.0)) -
         2.0 * reference_current / (nd * md);
}

MmdResult permutation_test(const RowMatrixF& reference, const RowMatrixF& current, double sigma,
                           std::size_t permutations, std::uint64_t seed, Precision precision,
                           std::size_t tile, Diagnostics* diagnostics) {
  if (reference.cols() != current.cols()) {
    throw InputError("MMD: the current rows have " + std::to_string(current.cols()) +
                     " features, the reference " + std::to_string(reference.cols()));
  }
  if (reference.cols() < 1) throw InputError("MMD: no features");
  if (reference.rows() < 2) throw InputError("MMD: fewer than 2 reference rows");
  if (current.rows() < 2) throw InputError("MMD: fewer than 2 current rows");
  check_sigma(sigma);
  const std::size_t n = to_size(reference.rows());
  const std::size_t m = to_size(current.rows());
  check_rows_fit(n + m);
  const RowMatrixF pooled = pool(reference, current);

  // Column 0 is the observed split, column 1 + b permutation b.
  std::vector<std::int64_t> columns(permutations + 1);
  columns[0] = kObserved;
  for (std::size_t b = 0; b < permutations; ++b) columns[b + 1] = static_cast<std::int64_t>(b);

  Diagnostics diag;
  std::vector<std::uint8_t> exceeds(permutations + 1, 0);
  double observed = 0.0;

  const auto count_with = [&](const SplitStatistics& s) {
    const double tolerance = kTieTolerance * s.mean_kernel;
    for (std::size_t c = 1; c < columns.size(); ++c) {
      exceeds[c] = (s.tie[c] != 0 || s.statistic[c] >= s.statistic[0] - tolerance) ? 1 : 0;
    }
    observed = s.statistic[0];
  };

  if (precision == Precision::kFloat64 || precision == Precision::kFloat32) {
    const SplitStatistics s =
        split_statistics(pooled, n, sigma, seed, columns, precision == Precision::kFloat64, tile);
    count_with(s);
    for (std::size_t c = 1; c < columns.size(); ++c) diag.ties += s.tie[c];
  } else {
    const SplitStatistics s32 = split_statistics(pooled, n, sigma, seed, columns, false, tile);
    const double band = kCandidateTolerance * s32.mean_kernel / to_double(std::min(n, m));
    diag.band = band;
    // Re-evaluated in float64: the observed split, candidates near it, a few probes.
    std::vector<std::size_t> recheck{0};
    std::size_t probes = 0;
    for (std::size_t c = 1; c < columns.size(); ++c) {
      if (s32.tie[c] != 0) {
        ++diag.ties;
        exceeds[c] = 1;
        continue;
      }
      const bool candidate = std::fabs(s32.statistic[c] - s32.statistic[0]) <= band;
      if (candidate || probes < kProbeColumns) {
        if (!candidate) ++probes;
        recheck.push_back(c);
      }
      exceeds[c] = s32.statistic[c] >= s32.statistic[0] ? 1 : 0;
    }
    std::vector<std::int64_t> recheck_columns;
    recheck_columns.reserve(recheck.size());
    for (const std::size_t c : recheck) recheck_columns.push_back(columns[c]);
    const SplitStatistics s64 =
        split_statistics(pooled, n, sigma, seed, recheck_columns, true, tile);
    diag.rechecked = recheck.size() - 1;
    for (std::size_t r = 0; r < recheck.size(); ++r) {
      const double error = std::fabs(s32.statistic[recheck[r]] - s64.statistic[r]);
      diag.max_float32_error = std::max(diag.max_float32_error, error / band);
    }
    if (!(diag.max_float32_error <= 0.25)) {
      // The float32 error is larger than the band assumes: evaluate everything in float64.
      diag.fell_back = true;
      const SplitStatistics full = split_statistics(pooled, n, sigma, seed, columns, true, tile);
      count_with(full);
    } else {
      const double tolerance = kTieTolerance * s64.mean_kernel;
      for (std::size_t r = 1; r < recheck.size(); ++r) {
        exceeds[recheck[r]] = s64.statistic[r] >= s64.statistic[0] - tolerance ? 1 : 0;
      }
      observed = s64.statistic[0];
    }
  }

  std::size_t count = 0;
  for (std::size_t c = 1; c < columns.size(); ++c) count += exceeds[c];
  MmdResult result;
  result.statistic = observed;
  result.p_value = (1.0 + to_double(count)) / (1.0 + to_double(permutations));
  result.permutations = permutations;
  result.sigma = sigma;
  result.reference_rows = n;
  result.current_rows = m;
  if (diagnostics != nullptr) *diagnostics = diag;
  return result;
}

}  // namespace mmd_detail

// -------------------------------------------------------------------------------------------------
// mmd.h

double median_heuristic_sigma(const RowMatrixF& rows) {
  const std::size_t count = to_size(rows.rows());
  if (count < 2) throw InputError("MMD median heuristic: needs at least 2 rows");
  const std::size_t pairs = count * (count - 1) / 2;
  const Index d = rows.cols();
  const RowMatrix<double> x = rows.cast<double>();
  std::vector<double> distances(pairs);
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, count - 1, 16),
                    [&](const tbb::blocked_range<std::size_t>& range) {
                      for (std::size_t i = range.begin(); i != range.end(); ++i) {
                        // Pairs (i, j > i) start after the rows above i: sum_{r<i} (count-1-r).
                        std::size_t offset = i * (count - 1) - i * (i - 1) / 2;
                        const double* xi = x.row(to_index(i)).data();
                        for (std::size_t j = i + 1; j < count; ++j, ++offset) {
                          const double* xj = x.row(to_index(j)).data();
                          double s = 0.0;
                          for (Index k = 0; k < d; ++k) {
                            const double diff = xi[k] - xj[k];
                            s += diff * diff;
                          }
                          distances[offset] = s;
                        }
                      }
                    });
  // The lower median: the ceil(P/2)-th smallest of the P squared distances.
  const std::size_t k = (pairs + 1) / 2 - 1;
  std::nth_element(distances.begin(), distances.begin() + static_cast<std::ptrdiff_t>(k),
                   distances.end());
  return std::sqrt(0.5 * distances[k]);
}

double mmd2_unbiased(const RowMatrixF& x, const RowMatrixF& y, double sigma) {
  if (x.cols() != y.cols()) throw InputError("MMD: samples with different feature counts");
  if (x.rows() < 2 || y.rows() < 2) throw InputError("MMD: each sample needs at least 2 rows");
  check_sigma(sigma);
  check_rows_fit(to_size(x.rows() + y.rows()));
  const RowMatrixF pooled = pool(x, y);
  mmd_detail::Indicators a = mmd_detail::Indicators::Zero(pooled.rows(), 1);
  a.topRows(x.rows()).setOnes();
  const mmd_detail::BatchedSums sums = mmd_detail::batched_sums_float64(pooled, sigma, a);
  return mmd_detail::statistic_from_sums(sums.within[0], sums.cross[0], sums.total,
                                         to_size(x.rows()), to_size(y.rows()));
}

MmdReference build_mmd_reference(const SampleView& reference, const MmdOptions& options) {
  const SelectedColumns selected = select_columns(reference, options.features, "reference");
  std::vector<std::size_t> rows = complete_rows(selected);
  const std::size_t d = selected.columns.size();

  MmdReference out;
  out.features = selected.names;
  out.rows_available = rows.size();
  if (rows.size() < 2) {
    throw InputError("MMD reference: " + std::to_string(rows.size()) +
                     " rows without missing values in the selected features; need at least 2");
  }
  out.mean.assign(d, 0.0);
  out.scale.assign(d, 1.0);
  if (options.standardize) {
    for (std::size_t k = 0; k < d; ++k) {
      const std::span<const float> values = selected.columns[k]->values;
      float lo = values[rows.front()];
      float hi = lo;
      CompensatedSum sum;
      for (const std::size_t r : rows) {
        lo = std::min(lo, values[r]);
        hi = std::max(hi, values[r]);
        sum.add(static_cast<double>(values[r]));
      }
      if (lo == hi) {  // constant: only centered (exactly, on its value)
        out.mean[k] = static_cast<double>(lo);
        continue;
      }
      const double mean = sum.value() / to_double(rows.size());
      CompensatedSum squares;
      for (const std::size_t r : rows) {
        const double diff = static_cast<double>(values[r]) - mean;
        squares.add(diff * diff);
      }
      const double sd = std::sqrt(squares.value() / to_double(rows.size()));
      out.mean[k] = mean;
      if (sd > 0.0 && std::isfinite(sd)) out.scale[k] = sd;
    }
  }

  subsample(rows, options.seed, random::Stream::kReferenceSubsample, options.max_rows);
  if (rows.size() < 2) {
    throw InputError("MMD reference: max_rows = " + std::to_string(options.max_rows) +
                     " leaves fewer than 2 rows");
  }
  check_rows_fit(rows.size());
  out.rows = transform_rows(selected, rows, out.mean, out.scale);

  if (options.sigma) {
    check_sigma(*options.sigma);
    out.sigma = *options.sigma;
  } else {
    const std::size_t used = to_size(out.rows.rows());
    if (options.sigma_rows < 2) throw InputError("MMD reference: sigma_rows must be at least 2");
    if (used > options.sigma_rows) {
      const std::vector<std::uint32_t> chosen = random::sample_indices(
          options.seed, random::Stream::kSigmaSubsample, used, options.sigma_rows);
      RowMatrixF subset(to_index(chosen.size()), out.rows.cols());
      for (std::size_t r = 0; r < chosen.size(); ++r) {
        subset.row(to_index(r)) = out.rows.row(to_index(chosen[r]));
      }
      out.sigma = median_heuristic_sigma(subset);
    } else {
      out.sigma = median_heuristic_sigma(out.rows);
    }
    if (!(out.sigma > 0.0) || !std::isfinite(out.sigma)) {
      throw InputError(
          "MMD reference: the median heuristic gives sigma = 0 (at least half of the row pairs "
          "are identical); set a fixed sigma");
    }
  }

  mmd_detail::Indicators ones = mmd_detail::Indicators::Ones(out.rows.rows(), 1);
  out.reference_kernel_sum = mmd_detail::batched_sums_float64(out.rows, out.sigma, ones).total;
  return out;
}

RowMatrixF prepare_current(const MmdReference& reference, const SampleView& current,
                           std::uint64_t seed, std::size_t max_rows) {
  const std::size_t d = reference.features.size();
  if (reference.mean.size() != d || reference.scale.size() != d ||
      to_size(reference.rows.cols()) != d) {
    throw InputError("MMD: the reference has inconsistent feature counts");
  }
  const SelectedColumns selected = select_columns(current, reference.features, "current window");
  std::vector<std::size_t> rows = complete_rows(selected);
  subsample(rows, seed, random::Stream::kCurrentSubsample, max_rows);
  return transform_rows(selected, rows, reference.mean, reference.scale);
}

MmdResult mmd_permutation_test(const MmdReference& reference, const RowMatrixF& current,
                               std::size_t permutations, std::uint64_t seed) {
  return mmd_detail::permutation_test(reference.rows, current, reference.sigma, permutations, seed,
                                      mmd_detail::Precision::kValidated);
}

}  // namespace drift
