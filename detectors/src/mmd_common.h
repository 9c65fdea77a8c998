#pragma once
/// Helpers shared by the MMD sources (mmd.cc, mmd_tiles.cc, mmd_avx512.cc): the Eigen aliases
/// and index conversions, and the tile machinery of the batched passes (mmd_tiles.h) that both
/// float32 kernels use: the pooled rows in tile precision, one kernel tile, the parallel loop
/// over tile pairs. Private to drift::detectors.

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <vector>

#include "drift/detectors/column.h"
#include "drift/detectors/mmd.h"
#include "mmd_tiles.h"

namespace drift::mmd_detail {

using Eigen::Index;

template <typename Scalar>
using RowMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename Scalar>
using ColMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
template <typename Scalar>
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

inline Index to_index(std::size_t value) { return static_cast<Index>(value); }
inline std::size_t to_size(Index value) { return static_cast<std::size_t>(value); }

// ---------------------------------------------------------------------------------------------
// Kernel tiles and the tile loop of the batched passes (mmd_tiles.cc, mmd_avx512.cc).

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
BatchedSums run_tile_tasks(Index n_total, Index columns, Index padded, Index tile,
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

  BatchedSums sums;
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

/// Checks a pass's arguments and returns its tile edge: tile_size, at most max(rows, 1).
inline Index checked_tile(const RowMatrixF& pooled, const Indicators& a, std::size_t tile_size) {
  if (a.rows() != pooled.rows()) {
    throw InputError("MMD: indicator rows do not match the pooled rows");
  }
  if (tile_size == 0) throw InputError("MMD: tile size must be positive");
  return std::min(to_index(tile_size), std::max<Index>(pooled.rows(), 1));
}

}  // namespace drift::mmd_detail
