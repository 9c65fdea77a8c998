#include "drift/detectors/ks.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>

#include "ks_internal.h"

#include "drift/detectors/ks_distribution.h"

namespace drift {

namespace {
// scipy.stats.ks_2samp: `auto` takes the exact path up to this many rows per sample.
constexpr std::uint64_t kMaxAutoExactN = 10000;
}  // namespace

std::string_view to_string(KsMethod method) {
  switch (method) {
    case KsMethod::kAuto:
      return "auto";
    case KsMethod::kExact:
      return "exact";
    case KsMethod::kAsymp:
      return "asymp";
  }
  return "auto";
}

namespace {

// GCC/Clang vector extensions: AVX2 at the x86-64-v3 baseline, plain SIMD elsewhere.
using V8f = float __attribute__((vector_size(32)));
using V8i = std::int32_t __attribute__((vector_size(32)));
using V4i = std::int32_t __attribute__((vector_size(16)));
using V4d = double __attribute__((vector_size(32)));
using V4l = std::int64_t __attribute__((vector_size(32)));

// Largest sample size for which rank * size is exact in a double (< 2^53).
constexpr std::size_t kMaxVectorSize = std::size_t{1} << 26;

// The KS statistic from ranks. For each value v = b_j of the walked sample b (ascending):
// L = #{a < v} and U = #{a <= v}. The ECDFs only change at pooled values, so the supremum of
// |F_a - F_b| is reached either at v itself after its ties (|U/n - (j+1)/m|, where j is the
// last of v's ties in b) or just below v, at the largest pooled value under it
// (|L/n - j/m|, where j is the first of v's ties). Scaled by n*m, both are integers.
struct RankWalk {
  const float* a;
  std::size_t n;
  const float* b;
  std::size_t m;
  std::size_t lower = 0;  // #{a < previous b}: ranks never go back
  std::int64_t best = 0;  // max |F_a - F_b| * n * m so far

  // One value of b at a time, with binary searches: any sizes, any spacing.
  void scalar_step(std::size_t j) {
    const float v = b[j];
    const std::size_t l = static_cast<std::size_t>(std::lower_bound(a + lower, a + n, v) - a);
    const std::size_t u = static_cast<std::size_t>(std::upper_bound(a + l, a + n, v) - a);
    lower = l;
    const auto ni = static_cast<std::int64_t>(n);
    const auto mi = static_cast<std::int64_t>(m);
    const auto ji = static_cast<std::int64_t>(j);
    if (j + 1 == m || b[j + 1] != v) {
      best = std::max(best, std::abs(static_cast<std::int64_t>(u) * mi - (ji + 1) * ni));
    }
    if (j == 0 || b[j - 1] != v) {
      best = std::max(best, std::abs(static_cast<std::int64_t>(l) * mi - ji * ni));
    }
  }

  // Eight values of b at once: when the 16 values of a from `lower` on cover their ranks, the
  // ranks are counts of comparisons (no searches, no branches); candidates are exact doubles.
  std::size_t vector_steps() {
    const double dn = static_cast<double>(n);
    const double dm = static_cast<double>(m);
    const V4d lane = {0.0, 1.0, 2.0, 3.0};
    const V4d zero = {0.0, 0.0, 0.0, 0.0};
    V4d high = zero;
    V4d low = zero;
    std::size_t j = 1;  // b[j - 1] and b[j + 8] must be readable
    for (; j + 9 <= m; j += 8) {
      V8f values;
      V8f next;
      V8f previous;
      std::memcpy(&values, b + j, sizeof values);
      std::memcpy(&next, b + j + 1, sizeof next);
      std::memcpy(&previous, b + j - 1, sizeof previous);
      V8i l;
      V8i u;
      if (lower + 16 <= n && a[lower + 15] > b[j + 7]) {
        V8i below = {};
        V8i not_above = {};
        for (std::size_t t = 0; t < 16; ++t) {
          const V8f candidate = V8f{} + a[lower + t];
          below -= candidate < values;
          not_above -= candidate <= values;
        }
        l = below + static_cast<std::int32_t>(lower);
        u = not_above + static_cast<std::int32_t>(lower);
      } else {
        std::size_t q = lower;
        for (int k = 0; k < 8; ++k) {
          const float v = b[j + static_cast<std::size_t>(k)];
          q = static_cast<std::size_t>(std::lower_bound(a + q, a + n, v) - a);
          l[k] = static_cast<std::int32_t>(q);
          u[k] = static_cast<std::int32_t>(std::upper_bound(a + q, a + n, v) - a);
        }
      }
      lower = static_cast<std::size_t>(l[7]);
      const V8i last_of_ties = next != values;
      const V8i first_of_ties = previous != values;
      for (int half = 0; half < 2; ++half) {
        V4i u4, l4, last4, first4;
        std::memcpy(&u4, reinterpret_cast<const char*>(&u) + 16 * half, 16);
        std::memcpy(&l4, reinterpret_cast<const char*>(&l) + 16 * half, 16);
        std::memcpy(&last4, reinterpret_cast<const char*>(&last_of_ties) + 16 * half, 16);
        std::memcpy(&first4, reinterpret_cast<const char*>(&first_of_ties) + 16 * half, 16);
        const V4d jj = lane + static_cast<double>(j + 4 * static_cast<std::size_t>(half));
        V4d at = __builtin_convertvector(u4, V4d) * dm - (jj + 1.0) * dn;
        V4d below = __builtin_convertvector(l4, V4d) * dm - jj * dn;
        at = __builtin_convertvector(last4, V4l) ? at : zero;
        below = __builtin_convertvector(first4, V4l) ? below : zero;
        high = high > at ? high : at;
        low = low < at ? low : at;
        high = high > below ? high : below;
        low = low < below ? low : below;
      }
    }
    for (int k = 0; k < 4; ++k) {
      best = std::max(best, static_cast<std::int64_t>(std::max(high[k], -low[k])));
    }
    return j;
  }
};

double statistic_from_walk(std::span<const float> x, std::span<const float> y, bool allow_vector) {
  if (x.empty() || y.empty()) return std::numeric_limits<double>::quiet_NaN();
  // Walk the shorter sample and rank its values in the longer one: O(m log(n/m)) when a small
  // window meets a large reference. The statistic is symmetric.
  const auto& longer = x.size() >= y.size() ? x : y;
  const auto& shorter = x.size() >= y.size() ? y : x;
  RankWalk walk{longer.data(), longer.size(), shorter.data(), shorter.size()};
  std::size_t j = 0;
  if (allow_vector && walk.n < kMaxVectorSize && walk.m >= 10) {
    walk.scalar_step(0);
    j = walk.vector_steps();
  }
  for (; j < walk.m; ++j) walk.scalar_step(j);
  return static_cast<double>(walk.best) /
         (static_cast<double>(walk.n) * static_cast<double>(walk.m));
}

}  // namespace

double ks_statistic_sorted(std::span<const float> a_sorted, std::span<const float> b_sorted) {
  return statistic_from_walk(a_sorted, b_sorted, true);
}

namespace ks_detail {

double statistic_scalar(std::span<const float> a_sorted, std::span<const float> b_sorted) {
  return statistic_from_walk(a_sorted, b_sorted, false);
}

}  // namespace ks_detail

KsResult ks_p_value(double d, std::uint64_t n, std::uint64_t m, KsMethod method) {
  KsResult result;
  result.statistic = d;
  if (method == KsMethod::kAuto) {
    method = std::max(n, m) <= kMaxAutoExactN ? KsMethod::kExact : KsMethod::kAsymp;
  } else if (method == KsMethod::kExact) {
    // As scipy: when lcm(n, m) would not fit a 32-bit lattice, use the asymptotic path.
    const std::uint64_t g = std::gcd(n, m);
    const double n1g = static_cast<double>(n / g);
    const double n2g = static_cast<double>(m / g);
    if (n1g >= static_cast<double>(std::numeric_limits<std::int32_t>::max()) / n2g) {
      method = KsMethod::kAsymp;
    }
  }
  if (method == KsMethod::kExact) {
    const std::uint64_t g = std::gcd(n, m);
    const double lcm = static_cast<double>((n / g) * m);
    const double h = ks::round_half_even(d * lcm);
    result.statistic = h / lcm;
    result.method = KsMethod::kExact;
    if (h == 0.0) {
      result.p_value = 1.0;
      return result;
    }
    const double p = ks::two_sample_exact_sf(n, m, static_cast<std::uint64_t>(h));
    if (std::isfinite(p) && p >= 0.0 && p <= 1.0) {
      result.p_value = p;
      return result;
    }
    // Numerical failure: scipy falls back to the asymptotic distribution, and so do we.
  }
  result.method = KsMethod::kAsymp;
  const double big = static_cast<double>(std::max(n, m));
  const double small = static_cast<double>(std::min(n, m));
  const double effective_n = ks::round_half_even(big * small / (big + small));
  // n = m = 1 rounds to N = 0, where scipy answers NaN; N = 1 is the meaningful limit.
  const auto n_eff = static_cast<std::uint64_t>(std::max(effective_n, 1.0));
  result.p_value = std::clamp(ks::kolmogorov_sf(result.statistic, n_eff), 0.0, 1.0);
  return result;
}

KsResult ks_test_sorted(std::span<const float> reference_sorted,
                        std::span<const float> current_sorted, KsMethod method) {
  const double d = ks_statistic_sorted(reference_sorted, current_sorted);
  return ks_p_value(d, reference_sorted.size(), current_sorted.size(), method);
}

}  // namespace drift
