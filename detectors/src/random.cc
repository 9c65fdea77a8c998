#include "drift/detectors/random.h"

#include <algorithm>
#include <numeric>
#include <utility>

namespace drift::random {

namespace {
constexpr std::uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ULL;
__extension__ using Uint128 = unsigned __int128;  // GCC/Clang: the 64x64->128 multiply
}  // namespace

std::uint64_t mix64(std::uint64_t x) {
  std::uint64_t z = x + kGoldenGamma;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

SplitMix64 SplitMix64::for_stream(std::uint64_t seed, Stream stream, std::uint64_t index) {
  return SplitMix64(mix64(seed + mix64(static_cast<std::uint64_t>(stream) + mix64(index))));
}

std::uint64_t SplitMix64::next() {
  // mix64 adds the gamma itself: advancing the state by the gamma and mixing the old state is
  // exactly SplitMix64's next().
  const std::uint64_t out = mix64(state_);
  state_ += kGoldenGamma;
  return out;
}

std::uint64_t SplitMix64::bounded(std::uint64_t bound) {
  Uint128 product = static_cast<Uint128>(next()) * bound;
  auto low = static_cast<std::uint64_t>(product);
  if (low < bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      product = static_cast<Uint128>(next()) * bound;
      low = static_cast<std::uint64_t>(product);
    }
  }
  return static_cast<std::uint64_t>(product >> 64);
}

void partial_shuffle(SplitMix64& rng, std::span<std::uint32_t> order, std::size_t k) {
  std::iota(order.begin(), order.end(), std::uint32_t{0});
  const std::size_t n = order.size();
  for (std::size_t i = 0; i < k && i < n; ++i) {
    const std::size_t j = i + static_cast<std::size_t>(rng.bounded(n - i));
    std::swap(order[i], order[j]);
  }
}

std::vector<std::uint32_t> sample_indices(std::uint64_t seed, Stream stream, std::size_t n_total,
                                          std::size_t k) {
  std::vector<std::uint32_t> order(n_total);
  auto rng = SplitMix64::for_stream(seed, stream, 0);
  partial_shuffle(rng, order, std::min(k, n_total));
  order.resize(std::min(k, n_total));
  std::sort(order.begin(), order.end());
  return order;
}

}  // namespace drift::random
