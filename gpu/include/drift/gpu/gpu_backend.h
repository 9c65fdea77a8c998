#pragma once
/// The CUDA backend's entry points and backend selection. Without CUDA (DRIFT_WITH_CUDA=OFF)
/// or without a device, the GPU reports itself unavailable with a reason.

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "drift/detectors/backend.h"

namespace drift::gpu {

/// What the process can see of CUDA devices.
struct GpuStatus {
  bool available = false;
  std::string reason;  ///< why not, when unavailable
  int device_count = 0;
  std::string device_name;  ///< first device's name, when available
};

/// Probes the CUDA runtime once (cheap; safe from any thread).
GpuStatus probe();

/// The user's choice of backend.
enum class BackendChoice : std::uint8_t { kAuto, kCpu, kGpu };

/// Parses "auto" | "cpu" | "gpu"; throws std::invalid_argument otherwise.
BackendChoice parse_backend_choice(std::string_view text);

/// A backend that cannot be used, with the reason.
class BackendUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The one place where `auto` is resolved: kCpu gives the CPU backend; kGpu the CUDA backend
/// or BackendUnavailable; kAuto the GPU only when one is usable, else the CPU.
std::unique_ptr<Backend> select_backend(BackendChoice choice);

}  // namespace drift::gpu
