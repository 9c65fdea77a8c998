#include "device_engine.h"

namespace drift::gpu::detail {

std::uint64_t device_bytes_in_use() { return 0; }

std::unique_ptr<Engine> make_device_engine(int /*device*/, std::uint64_t /*memory_limit*/) {
  throw DeviceError("built without CUDA (DRIFT_WITH_CUDA=OFF)");
}

}  // namespace drift::gpu::detail
