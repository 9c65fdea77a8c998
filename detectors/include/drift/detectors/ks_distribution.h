#pragma once
/// Distribution functions behind the KS p-value, written from the published algorithms
/// (Hodges 1958 / Viehmann 2021 for the two-sample exact test; Simard & L'Ecuyer 2011,
/// Marsaglia–Tsang–Wang 2003, Pomeranz 1974, Pelz–Good 1976, Birnbaum–Tingey 1951 for the
/// one-sample distributions). Pure functions of their arguments; thread-safe.

#include <cstdint>

namespace drift::ks {

/// Exact two-sided two-sample tail P(D_{n,m} >= h / lcm(n, m)) for h >= 1.
/// Returns NaN when the computation fails numerically (callers then use the asymptotic path).
double two_sample_exact_sf(std::uint64_t n, std::uint64_t m, std::uint64_t h);

/// Upper tail of the one-sample two-sided KS statistic D_N: scipy.stats.kstwo.sf(d, N), with
/// scipy's choice of algorithm per region (STATISTICS.md lists them). N >= 1.
double kolmogorov_sf(double d, std::uint64_t n);

/// One-sided one-sample tail P(D_N^+ >= d): scipy.special.smirnov(N, d).
double smirnov_sf(std::uint64_t n, double d);

/// numpy's round(): nearest integer, halves to even (std::round rounds halves away from zero).
double round_half_even(double x);

}  // namespace drift::ks
