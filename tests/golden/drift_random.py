"""Python re-implementation of drift::random (detectors/include/drift/detectors/random.h).

Every random choice driftd makes is a pure function of (seed, stream, index); this module makes
the same choices so golden scripts can reproduce subsamples and MMD permutations exactly.

- mix64(x): SplitMix64's output function applied to x + 0x9E3779B97F4A7C15.
- SplitMix64.for_stream(seed, stream, index): state = mix64(seed + mix64(stream + mix64(index))).
- next(): returns mix64(state), then state += 0x9E3779B97F4A7C15 (SplitMix64's next()).
- bounded(bound): Lemire's multiply-shift with rejection, uniform in [0, bound).
- partial_shuffle(rng, n_total, k): order = 0..N-1; for i < k: j = i + bounded(N - i); swap.
- sample_indices(seed, stream, n_total, k): first min(k, N) entries of that shuffle, ascending.

Pure Python integers (masked to 64 bits); no numpy needed.
"""

MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15

# Stream tags (random.h, enum class Stream).
PERMUTATION = 1
REFERENCE_SUBSAMPLE = 2
CURRENT_SUBSAMPLE = 3
SIGMA_SUBSAMPLE = 4


def mix64(x):
    z = (x + GOLDEN_GAMMA) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


class SplitMix64:
    def __init__(self, state):
        self.state = state & MASK64

    @classmethod
    def for_stream(cls, seed, stream, index):
        return cls(mix64((seed + mix64((stream + mix64(index)) & MASK64)) & MASK64))

    def next(self):
        out = mix64(self.state)
        self.state = (self.state + GOLDEN_GAMMA) & MASK64
        return out

    def bounded(self, bound):
        """Uniform integer in [0, bound), 1 <= bound < 2**64 (Lemire, unbiased)."""
        if not 1 <= bound <= MASK64:
            raise ValueError("bound out of range")
        product = self.next() * bound
        low = product & MASK64
        if low < bound:
            threshold = ((1 << 64) - bound) % bound  # (0 - bound) % bound in uint64
            while low < threshold:
                product = self.next() * bound
                low = product & MASK64
        return product >> 64


def partial_shuffle(rng, n_total, k):
    """The order array after the partial Fisher-Yates shuffle: its first k entries are the subset."""
    order = list(range(n_total))
    for i in range(min(k, n_total)):
        j = i + rng.bounded(n_total - i)
        order[i], order[j] = order[j], order[i]
    return order


def sample_indices(seed, stream, n_total, k):
    k = min(k, n_total)
    rng = SplitMix64.for_stream(seed, stream, 0)
    return sorted(partial_shuffle(rng, n_total, k)[:k])


def permutation_split(seed, b, n_total, n):
    """Rows that MMD permutation b assigns to the reference part (in shuffle order)."""
    rng = SplitMix64.for_stream(seed, PERMUTATION, b)
    return partial_shuffle(rng, n_total, n)[:n]
