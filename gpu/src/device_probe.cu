#include <cuda_runtime.h>

#include "device_probe.h"

namespace drift::gpu::detail {

DeviceQuery query_devices() {
  DeviceQuery query;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    query.reason = std::string("no usable CUDA device: ") + cudaGetErrorString(err);
    return query;
  }
  query.count = count;
  if (count == 0) {
    query.reason = "no CUDA device present";
    return query;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) query.first_name = prop.name;
  query.ok = true;
  return query;
}

}  // namespace drift::gpu::detail
