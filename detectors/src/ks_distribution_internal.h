#pragma once
/// Internals of ks_distribution.cc exposed to tests only (not part of the library's API).

#include <cstdint>

namespace drift::ks::internal {

/// smirnov_sf(n, d) with the Birnbaum–Tingey sum (used for 1/n < d < 1 - 1/n, n <= 10^6) either
/// evaluated as smirnov_sf does (`subsample`: every 2^k-th term while the terms vary smoothly,
/// refined until two successive refinements agree) or over every term (the reference).
double smirnov_sum(std::uint64_t n, double d, bool subsample);

/// Pr(D_n <= d) by Durbin's matrix method as Marsaglia, Tsang & Wang (2003) evaluate it.
double durbin_matrix_cdf(std::uint64_t n, double d);

/// scipy's Pelz–Good approximation of Pr(D_n <= d) (scipy.stats._ksstats._kolmogn_PelzGood).
double pelz_good_cdf(std::uint64_t n, double d);

}  // namespace drift::ks::internal
