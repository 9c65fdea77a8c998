#include "device_probe.h"

namespace drift::gpu::detail {

DeviceQuery query_devices() {
  DeviceQuery query;
  query.reason = "built without CUDA (DRIFT_WITH_CUDA=OFF)";
  return query;
}

}  // namespace drift::gpu::detail
