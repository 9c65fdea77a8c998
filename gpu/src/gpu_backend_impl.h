#pragma once
/// Construction of the GPU backend around an Engine (device_engine.h), so tests can inject a
/// fake engine and exercise the fallback path without a device.

#include <memory>

#include "device_engine.h"
#include "drift/detectors/backend.h"

namespace drift::gpu::detail {

/// The GPU backend over `engine`. With `auto_mode`, evaluations below the auto thresholds
/// run on the CPU (gpu_backend.h).
std::unique_ptr<Backend> make_gpu_backend(std::unique_ptr<Engine> engine, bool auto_mode);

/// A fingerprint of the profile's numeric reference state, the key of the device cache.
std::uint64_t profile_key(const ReferenceProfile& profile);

}  // namespace drift::gpu::detail
