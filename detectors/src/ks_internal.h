#pragma once
/// Internals of ks.cc that tests reach: the scalar rank walk behind ks_statistic_sorted, which
/// the vectorized path must agree with and which takes over above 2^26 rows.

#include <span>

namespace drift::ks_detail {

/// ks_statistic_sorted without the eight-wide steps.
double statistic_scalar(std::span<const float> a_sorted, std::span<const float> b_sorted);

}  // namespace drift::ks_detail
