#pragma once
/// The vendor seam: the only place that asks the CUDA runtime about devices. Compiled by nvcc,
/// so it sees none of the project's C++20 headers.

#include <string>

namespace drift::gpu::detail {

/// What the CUDA runtime says about devices.
struct DeviceQuery {
  bool ok = false;
  std::string reason;  ///< when !ok
  int count = 0;
  std::string first_name;
};

/// Queries the CUDA runtime (or reports that CUDA was not compiled in).
DeviceQuery query_devices();

}  // namespace drift::gpu::detail
