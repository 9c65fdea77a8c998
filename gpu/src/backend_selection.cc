#include <stdexcept>
#include <string>

#include "device_probe.h"
#include "drift/gpu/gpu_backend.h"

namespace drift::gpu {

GpuStatus probe() {
  // The runtime query costs milliseconds (driver initialization); devices do not come and go
  // during a process's life in the ways we handle, so ask once.
  static const GpuStatus status = [] {
    const detail::DeviceQuery query = detail::query_devices();
    return GpuStatus{query.ok, query.reason, query.count, query.first_name};
  }();
  return status;
}

BackendChoice parse_backend_choice(std::string_view text) {
  if (text == "auto") return BackendChoice::kAuto;
  if (text == "cpu") return BackendChoice::kCpu;
  if (text == "gpu") return BackendChoice::kGpu;
  throw std::invalid_argument("backend must be auto, cpu or gpu, not '" + std::string(text) + "'");
}

std::unique_ptr<Backend> select_backend(BackendChoice choice) {
  if (choice == BackendChoice::kCpu) return make_cpu_backend();
  const GpuStatus status = probe();
  // The CUDA kernels arrive with the GPU backend issue; until then a present device is
  // reported, not used, and `auto` stays on the CPU.
  const std::string reason = status.available ? "CUDA device '" + status.device_name +
                                                    "' found, but this build has no GPU kernels yet"
                                              : status.reason;
  if (choice == BackendChoice::kGpu) throw BackendUnavailable("GPU backend unavailable: " + reason);
  return make_cpu_backend();
}

}  // namespace drift::gpu
