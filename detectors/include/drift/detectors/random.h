#pragma once
/// The one documented source of randomness in the detectors: every random choice is a pure
/// function of (seed, stream, index), so any thread or backend reproduces it exactly.
///
/// Generator: SplitMix64 (Steele, Lea & Flood 2014). The stream for (seed, stream, index)
/// starts at state = mix64(seed + mix64(stream + mix64(index))), where mix64(x) is SplitMix64's
/// output function applied to x + 0x9E3779B97F4A7C15. Bounded integers use Lemire's
/// multiply-shift with rejection. A subset of k of N items is a partial Fisher–Yates shuffle:
/// p = 0..N-1; for i in 0..k-1: j = i + bounded(N - i); swap(p[i], p[j]); the subset is
/// p[0..k-1]. tests/golden/drift_random.py re-implements this to produce reference values.

#include <cstdint>
#include <span>
#include <vector>

namespace drift::random {

/// Stream tags: which random choice a generator is for.
enum class Stream : std::uint64_t {
  kPermutation = 1,         ///< MMD permutation b (index = b)
  kReferenceSubsample = 2,  ///< MMD reference rows when n > max_rows (index 0)
  kCurrentSubsample = 3,    ///< MMD current rows when m > max_rows (index 0)
  kSigmaSubsample = 4,      ///< rows for the median heuristic when n' > sigma_rows (index 0)
};

/// SplitMix64's output function of x + golden gamma.
std::uint64_t mix64(std::uint64_t x);

/// SplitMix64 generator.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t state) : state_(state) {}
  /// The generator for one (seed, stream, index) triple.
  static SplitMix64 for_stream(std::uint64_t seed, Stream stream, std::uint64_t index);
  std::uint64_t next();
  /// Uniform integer in [0, bound), bound >= 1 (Lemire's method, unbiased).
  std::uint64_t bounded(std::uint64_t bound);

 private:
  std::uint64_t state_;
};

/// Fills `order` (size N) with the partial Fisher–Yates shuffle of 0..N-1 whose first k
/// entries are the chosen subset (k <= N). `order` is overwritten.
void partial_shuffle(SplitMix64& rng, std::span<std::uint32_t> order, std::size_t k);

/// A seeded uniform sample of k of the indices 0..N-1 without replacement, ascending.
std::vector<std::uint32_t> sample_indices(std::uint64_t seed, Stream stream, std::size_t n_total,
                                          std::size_t k);

}  // namespace drift::random
