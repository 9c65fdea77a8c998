#pragma once
/// Two-sample Kolmogorov–Smirnov test with scipy.stats.ks_2samp's semantics (STATISTICS.md).

#include <cstdint>
#include <span>
#include <string_view>

namespace drift {

/// How the KS p-value is computed. kAuto: exact when max(n, m) <= 10000, else asymptotic.
enum class KsMethod : std::uint8_t { kAuto, kExact, kAsymp };

/// "auto" | "exact" | "asymp".
std::string_view to_string(KsMethod method);

/// Outcome of one KS test. `method` is the path actually taken (never kAuto).
struct KsResult {
  double statistic = 0.0;  ///< D in [0, 1]
  double p_value = 1.0;    ///< two-sided
  KsMethod method = KsMethod::kExact;
};

/// D = max_x |F_a(x) - F_b(x)| of two ascending samples without missing values, with
/// right-continuous ECDFs (ties evaluated after all equal values). Both must be non-empty.
double ks_statistic_sorted(std::span<const float> a_sorted, std::span<const float> b_sorted);

/// The two-sided p-value of statistic `d` for sample sizes n and m (both >= 1), following
/// ks_2samp: with an exact request, D is snapped to h / lcm(n, m); a failing exact path falls
/// back to the asymptotic one and says so in `method`.
KsResult ks_p_value(double d, std::uint64_t n, std::uint64_t m, KsMethod method);

/// ks_statistic_sorted + ks_p_value.
KsResult ks_test_sorted(std::span<const float> reference_sorted,
                        std::span<const float> current_sorted, KsMethod method);

}  // namespace drift
