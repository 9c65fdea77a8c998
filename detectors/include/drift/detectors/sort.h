#pragma once
/// Sorting float columns, the dominant cost of KS on large windows.

#include <cstddef>
#include <span>
#include <vector>

namespace drift {

/// Sorts ascending in place (no NaN allowed). Uses a run-time-dispatched vectorized sort
/// (Highway vqsort: AVX-512 where the CPU has it), single-threaded: callers parallelize across
/// features.
void sort_floats(std::span<float> values);

/// Copies the non-missing (finite) values of `values` into `out`, -0 as +0, and returns how many
/// were missing. `out` is resized.
std::size_t copy_finite(std::span<const float> values, std::vector<float>& out);

}  // namespace drift
