#include "mmd_avx512.h"

#if DRIFT_MMD_AVX512
#include <immintrin.h>
#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mmd_common.h"

// ---------------------------------------------------------------------------------------------
// The float32 pass with AVX-512, chosen at run time (the build baseline is AVX2). A is 0/1, so
// S = K_IJ·A_J needs no multiplications: with 16 columns per register and the indicator bits
// as lane masks, S[i, c..c+16] += K[i, j] is one masked add. A register block holds kRows rows
// x 64 columns (28 accumulators); after the j loop it is reduced against A_I straight from the
// registers, so S is never stored.
namespace drift::mmd_detail::avx512 {

namespace {

#define DRIFT_AVX512_TARGET __attribute__((target("avx512f,avx512dq,avx512bw")))

constexpr int kRows = 7;       // rows per register block
constexpr Index kGroup = 64;   // columns per register block: 4 x 16 lanes
constexpr Index kWords = 4;    // 16-bit masks per row and group
constexpr Index kChunk = 128;  // j values summed in registers before they are spilled

/// Indicator bits in panels: group g (columns 64g..64g+63), row j: kWords masks at
/// bits[(g·N + j)·kWords + v], bit l of mask v = a(j, 64g + 16v + l). Padding columns are 0.
std::vector<std::uint16_t> indicator_bits(const Indicators& a, Index groups) {
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

}  // namespace

BatchedSums batched_sums(const RowMatrixF& pooled, double sigma, const Indicators& a,
                         std::size_t tile_size) {
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

}  // namespace drift::mmd_detail::avx512
#endif  // DRIFT_MMD_AVX512
