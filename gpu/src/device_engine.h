#pragma once
/// The CUDA seam: everything that touches the CUDA runtime sits behind Engine. Plain C++17
/// types only, so device_engine.cu (nvcc) and gpu_backend.cc (g++, C++20) share it, and tests
/// can feed GpuBackend a fake engine (for example one that fails like an out-of-memory device).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace drift::gpu::detail {

/// A CUDA runtime failure (out of memory, a lost device, a failed launch) or a window over the
/// memory budget. GpuBackend answers it by evaluating on the CPU.
class DeviceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One numeric feature of the reference, as the engine keeps it on the device.
struct NumericReference {
  const float* sorted = nullptr;  ///< ascending, finite
  std::size_t rows = 0;
  const double* edges = nullptr;  ///< PSI inner edges
  std::size_t edge_count = 0;
};

/// What one numeric pass returns, per feature in request order.
struct NumericOutput {
  std::vector<std::uint64_t> finite;            ///< non-missing current values
  std::vector<std::int64_t> ks_scaled;          ///< max |F_R - F_C| · n · m (KS requested)
  std::vector<std::uint64_t> bin_counts;        ///< current counts per PSI bin, concatenated
  std::vector<std::size_t> bin_offsets;         ///< F + 1 offsets into bin_counts
};

/// The batched MMD sums of one pass (mmd_detail::BatchedSums without the detectors' types).
struct MmdSums {
  std::vector<double> within;
  std::vector<double> cross;
  double total = 0.0;
};

/// Device state and kernels. Not thread-safe: GpuBackend serializes calls.
class Engine {
 public:
  virtual ~Engine() = default;
  /// The device's name.
  virtual std::string device_name() const = 0;
  /// Makes `features` the resident reference under `key`; a no-op when `key` is resident.
  virtual void load_reference(std::uint64_t key, const std::vector<NumericReference>& features) = 0;
  /// Uploads the current columns of the resident reference's features (one per feature, in
  /// order; a null pointer with 0 rows for a feature that is not evaluated) through pinned
  /// buffers. With `stream` != 0 the columns hold rows [end - rows, end) of that append-only
  /// stream, and rows the previous window of the same stream (and reference) already put on
  /// the device are copied there instead of sent again (tiling::plan_window_reuse).
  virtual void upload_window(const std::vector<const float*>& columns,
                             const std::vector<std::size_t>& rows, std::uint64_t stream,
                             std::uint64_t end) = 0;
  /// Current values sent from the host so far (all uploads).
  virtual std::uint64_t values_uploaded() const = 0;
  /// KS (ranks of the sorted window in the sorted reference) and PSI counts of the uploaded
  /// window against the resident reference.
  virtual NumericOutput run_numeric(bool ks, bool psi) = 0;
  /// Uploads the pooled MMD rows (row-major, rows x dimensions).
  virtual void load_pooled(const float* rows, std::size_t count, std::size_t dimensions) = 0;
  /// One batched pass over the loaded pooled rows with packed indicator bits
  /// (tiling::pack_indicator_bits) for `columns` splits.
  virtual MmdSums mmd_sums(double sigma, const std::vector<std::uint64_t>& bits,
                           std::size_t columns, bool float64) = 0;
};

/// Device bytes the engines hold now (their buffers; 0 without CUDA).
std::uint64_t device_bytes_in_use();

/// The CUDA engine on `device` with a budget of `memory_limit` bytes (0: the device's free
/// memory). Throws DeviceError when CUDA is not compiled in or the device cannot be used.
std::unique_ptr<Engine> make_device_engine(int device, std::uint64_t memory_limit);

}  // namespace drift::gpu::detail
