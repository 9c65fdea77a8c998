#include "drift/detectors/ks.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>

#include "drift/detectors/ks_distribution.h"

namespace drift {

namespace {
// scipy.stats.ks_2samp: `auto` takes the exact path up to this many rows per sample.
constexpr std::uint64_t kMaxAutoExactN = 10000;
}  // namespace

std::string_view to_string(KsMethod method) {
  switch (method) {
    case KsMethod::kAuto: return "auto";
    case KsMethod::kExact: return "exact";
    case KsMethod::kAsymp: return "asymp";
  }
  return "auto";
}

double ks_statistic_sorted(std::span<const float> a_sorted, std::span<const float> b_sorted) {
  const std::size_t n = a_sorted.size();
  const std::size_t m = b_sorted.size();
  if (n == 0 || m == 0) return std::numeric_limits<double>::quiet_NaN();
  const float* a = a_sorted.data();
  const float* b = b_sorted.data();
  constexpr float kPastEnd = std::numeric_limits<float>::infinity();
  // Merge walk over the pooled sorted values. |F_a - F_b| = |i*m - j*n| / (n*m) is tracked in
  // integers and evaluated only where the next pooled value differs from the current one, i.e.
  // after all ties. Loads are clamped and selected so the loop has no data-dependent branches.
  const auto nm = static_cast<std::int64_t>(n);
  const auto mm = static_cast<std::int64_t>(m);
  std::int64_t best = 0;
  std::size_t best_i = 0;
  std::size_t best_j = 0;
  std::size_t i = 0;
  std::size_t j = 0;
  float x = a[0];
  float y = b[0];
  for (std::size_t step = 0; step < n + m; ++step) {
    const bool take_a = x <= y;
    const float v = take_a ? x : y;
    i += take_a ? 1 : 0;
    j += take_a ? 0 : 1;
    x = i < n ? a[i < n ? i : n - 1] : kPastEnd;
    y = j < m ? b[j < m ? j : m - 1] : kPastEnd;
    const float next = x < y ? x : y;
    const std::int64_t diff =
        std::abs(static_cast<std::int64_t>(i) * mm - static_cast<std::int64_t>(j) * nm);
    // `&`, not `&&`: both sides are cheap and a short-circuit branch mispredicts at ties.
    const bool better = (next != v) & (diff > best);
    best = better ? diff : best;
    best_i = better ? i : best_i;
    best_j = better ? j : best_j;
  }
  // The same double expression scipy evaluates, so D agrees to the last bit.
  return std::abs(static_cast<double>(best_i) / static_cast<double>(n) -
                  static_cast<double>(best_j) / static_cast<double>(m));
}

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
