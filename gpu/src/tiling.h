#pragma once
/// Index math of the CUDA kernels, kept free of CUDA so the host tests check it without a
/// device: tile counts, indicator bit packing, launch shapes and the device-memory estimate.
/// Compiled by g++ (the backend, the tests) and nvcc (the kernels): plain C++17.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace drift::gpu::tiling {

/// MMD kernel tile edge T: one thread block builds one T x T kernel tile at a time, and one
/// 64-bit word holds a tile's rows of one indicator column.
inline constexpr std::size_t kMmdTile = 64;
/// Threads per MMD block.
inline constexpr std::size_t kMmdThreads = 256;
/// Largest MMD dimension d the kernel's shared memory takes (both tiles' rows in float64).
inline constexpr std::size_t kMmdMaxDimensions = 64;
/// Largest indicator column count of one MMD pass (mmd_detail::kMaxColumnsPerPass).
inline constexpr std::size_t kMmdMaxColumns = 1024;
/// PSI bins counted in a block's shared memory; more bins are counted in global memory.
inline constexpr std::size_t kPsiSharedBins = 4096;

/// ceil(a / b) for b > 0.
constexpr std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

/// Number of row tiles of N pooled rows.
constexpr std::size_t mmd_tiles(std::size_t rows) { return ceil_div(rows, kMmdTile); }

/// Tile pairs (I <= J) the MMD pass visits: K is symmetric, so half the tiles and the diagonal.
constexpr std::size_t mmd_tile_pairs(std::size_t rows) {
  const std::size_t t = mmd_tiles(rows);
  return t * (t + 1) / 2;
}

/// Dynamic shared memory of the MMD block: the kernel tile (padded rows), two tiles of rows,
/// row and column sums, and a float64 pair (within, cross) per indicator column.
constexpr std::size_t mmd_shared_bytes(std::size_t scalar_bytes, std::size_t dimensions,
                                       std::size_t columns) {
  return scalar_bytes * (kMmdTile * (kMmdTile + 1) + 2 * kMmdTile * dimensions + 2 * kMmdTile) +
         2 * sizeof(double) * columns;
}

/// Packs a column-major N x C 0/1 matrix (`column_major[c * rows + i]`) into C columns of
/// mmd_tiles(rows) 64-bit words each: bit (i mod 64) of word (c, i / 64) is row i. Rows past
/// N are zero, so padded tile rows never count.
std::vector<std::uint64_t> pack_indicator_bits(const std::uint8_t* column_major, std::size_t rows,
                                               std::size_t columns);

/// Device bytes one numeric evaluation needs besides the resident reference: the window twice
/// (keys in, sorted keys out), the sort's scratch, and per-feature offsets, counts and bins.
std::uint64_t numeric_window_bytes(std::uint64_t elements, std::uint64_t features,
                                   std::uint64_t bins, std::uint64_t sort_scratch);

/// Device bytes one MMD pass needs: the pooled rows, the indicator bits, and per column tile a
/// float64 (within, cross) pair per column plus a total.
std::uint64_t mmd_pass_bytes(std::uint64_t rows, std::uint64_t dimensions, std::uint64_t columns);

/// How a window that holds rows [end - rows, end) of an append-only stream reuses the device copy
/// of the previous window of that stream, rows [prev_end - prev_rows, prev_end): its first
/// `kept` rows are the previous copy's rows from index `from`; the remaining rows - kept (the
/// newest) are uploaded. kept == 0 when nothing can be reused (a restart, a gap, going back).
struct WindowReuse {
  std::size_t from = 0;
  std::size_t kept = 0;
};
WindowReuse plan_window_reuse(std::uint64_t prev_end, std::size_t prev_rows, std::uint64_t end,
                              std::size_t rows);

/// Blocks per feature for an elementwise kernel over `elements` values: enough to fill the
/// device, at most `max_blocks`, at least one.
std::size_t blocks_per_feature(std::size_t elements, std::size_t threads, std::size_t max_blocks);

}  // namespace drift::gpu::tiling
