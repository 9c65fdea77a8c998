#include <stdexcept>
#include <string>

#include "device_probe.h"
#include "drift/gpu/gpu_backend.h"
#include "gpu_backend_impl.h"

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

std::unique_ptr<Backend> select_backend(BackendChoice choice, const GpuOptions& options) {
  if (choice == BackendChoice::kCpu) return make_cpu_backend();
  const GpuStatus status = probe();
  if (!status.available) {
    if (choice == BackendChoice::kGpu) {
      throw BackendUnavailable("GPU backend unavailable: " + status.reason);
    }
    return make_cpu_backend();
  }
  try {
    return detail::make_gpu_backend(detail::make_device_engine(options.device, options.memory_limit),
                                    choice == BackendChoice::kAuto);
  } catch (const detail::DeviceError& e) {
    if (choice == BackendChoice::kGpu) {
      throw BackendUnavailable(std::string("GPU backend unavailable: ") + e.what());
    }
    return make_cpu_backend();
  }
}

}  // namespace drift::gpu
