#include "tiling.h"

#include <algorithm>

namespace drift::gpu::tiling {

std::vector<std::uint64_t> pack_indicator_bits(const std::uint8_t* column_major, std::size_t rows,
                                               std::size_t columns) {
  const std::size_t words = mmd_tiles(rows);
  std::vector<std::uint64_t> bits(words * columns, 0);
  for (std::size_t c = 0; c < columns; ++c) {
    const std::uint8_t* col = column_major + c * rows;
    std::uint64_t* out = bits.data() + c * words;
    for (std::size_t i = 0; i < rows; ++i) {
      if (col[i] != 0) out[i / kMmdTile] |= std::uint64_t{1} << (i % kMmdTile);
    }
  }
  return bits;
}

std::uint64_t numeric_window_bytes(std::uint64_t elements, std::uint64_t features,
                                   std::uint64_t bins, std::uint64_t sort_scratch) {
  return 2 * sizeof(float) * elements + sort_scratch +
         features * (2 * sizeof(std::uint64_t) + sizeof(std::int64_t)) +
         bins * sizeof(std::uint64_t);
}

std::uint64_t mmd_pass_bytes(std::uint64_t rows, std::uint64_t dimensions, std::uint64_t columns) {
  const std::uint64_t tiles = mmd_tiles(rows);
  return sizeof(float) * rows * dimensions + sizeof(std::uint64_t) * tiles * columns +
         sizeof(double) * (tiles * (2 * columns + 1) + 2 * columns + 1);
}

WindowReuse plan_window_reuse(std::uint64_t prev_end, std::size_t prev_rows, std::uint64_t end,
                              std::size_t rows) {
  if (prev_rows == 0 || rows == 0 || prev_end < prev_rows || end < rows || end < prev_end) {
    return {};
  }
  const std::uint64_t prev_start = prev_end - prev_rows;
  const std::uint64_t start = end - rows;
  if (start < prev_start || start >= prev_end) return {};
  return {static_cast<std::size_t>(start - prev_start), static_cast<std::size_t>(prev_end - start)};
}

std::size_t blocks_per_feature(std::size_t elements, std::size_t threads, std::size_t max_blocks) {
  return std::clamp<std::size_t>(ceil_div(elements, threads), 1, std::max<std::size_t>(max_blocks, 1));
}

}  // namespace drift::gpu::tiling
