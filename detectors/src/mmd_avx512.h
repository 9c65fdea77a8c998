#pragma once
/// The float32 batched pass with AVX-512 (Float32Kernel::kAvx512 in mmd_tiles.h), defined in
/// mmd_avx512.cc with target attributes (the build baseline is AVX2) and chosen at run time by
/// mmd_tiles.cc. Private to drift::detectors.

#include <cstddef>

#include "drift/detectors/mmd.h"
#include "mmd_tiles.h"

// x86-64 with GCC/Clang: the run-time dispatched AVX-512 float32 kernel (target attributes).
#if defined(__x86_64__) && defined(__GNUC__)
#define DRIFT_MMD_AVX512 1
#else
#define DRIFT_MMD_AVX512 0
#endif

#if DRIFT_MMD_AVX512
namespace drift::mmd_detail::avx512 {

/// Whether this CPU has AVX-512 F/DQ/BW (checked once).
bool supported();

/// batched_sums_float32 with the AVX-512 mask kernel; only where supported().
BatchedSums batched_sums(const RowMatrixF& pooled, double sigma, const Indicators& a,
                         std::size_t tile_size);

}  // namespace drift::mmd_detail::avx512
#endif  // DRIFT_MMD_AVX512
