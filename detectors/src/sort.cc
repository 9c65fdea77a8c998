#include "drift/detectors/sort.h"

#include <hwy/contrib/sort/vqsort.h>

#include <cmath>

namespace drift {

void sort_floats(std::span<float> values) {
  if (values.size() < 2) return;
  // A Sorter owns scratch memory and is not meant to be shared between threads.
  thread_local const hwy::Sorter sorter;
  sorter(values.data(), values.size(), hwy::SortAscending());
}

std::size_t copy_finite(std::span<const float> values, std::vector<float>& out) {
  out.resize(values.size());
  std::size_t kept = 0;
  // Branch-free compaction: write every value, advance only past finite ones. -0 becomes +0:
  // they compare equal, and vqsort (random pivots) would leave them in any order, making equal
  // inputs give different profile bytes (and reference versions).
  for (const float v : values) {
    out[kept] = v + 0.0f;
    kept += std::isfinite(v) ? 1 : 0;
  }
  out.resize(kept);
  return values.size() - kept;
}

}  // namespace drift
