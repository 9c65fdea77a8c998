#include "device_engine.h"

namespace drift::gpu::detail {

std::unique_ptr<Engine> make_device_engine(int /*device*/, std::uint64_t /*memory_limit*/) {
  throw DeviceError("built without CUDA (DRIFT_WITH_CUDA=OFF)");
}

}  // namespace drift::gpu::detail
