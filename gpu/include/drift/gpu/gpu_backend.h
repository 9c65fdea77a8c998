#pragma once
/// The CUDA backend's entry points and backend selection. Without CUDA (DRIFT_WITH_CUDA=OFF)
/// or without a device, the GPU reports itself unavailable with a reason.

#include <cstdint>
#include <functional>
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

/// The `gpu:` section of the config (daemon GpuConfig).
struct GpuOptions {
  int device = 0;                  ///< CUDA device ordinal
  std::uint64_t memory_limit = 0;  ///< device bytes the backend may use; 0 = the free memory
};

/// How much work one evaluation is, for `auto`.
struct WorkSize {
  std::uint64_t numeric_values = 0;  ///< current values of numeric features (KS/PSI)
  std::uint64_t mmd_products = 0;    ///< N² · (B + 1) of the MMD permutation product
};

/// `auto` evaluates on the GPU from this many numeric current values (all features together).
/// A placeholder until measured on a device: `bench_gpu --crossover` prints the CPU and GPU
/// times over window sizes, and the constant is the smallest size where the GPU (upload
/// included) wins (gpu/README.md).
inline constexpr std::uint64_t kAutoMinNumericValues = std::uint64_t{1} << 22;
/// `auto` evaluates on the GPU from this N² · (B + 1) of the MMD product (about 3000 pooled rows
/// at B = 100); to be measured like kAutoMinNumericValues.
inline constexpr std::uint64_t kAutoMinMmdProducts = 1'000'000'000;

/// The work of evaluating `current` against `profile` with `config`.
WorkSize estimate_work(const ReferenceProfile& profile, const SampleView& current,
                       const EvaluationConfig& config);

/// Whether `auto` sends work of this size to the GPU (given a usable device).
bool auto_prefers_gpu(const WorkSize& work);

/// The one place where the backend is chosen: kCpu gives the CPU backend; kGpu the CUDA backend
/// or BackendUnavailable (no device, no CUDA in this build); kAuto, with a usable device, a
/// backend that runs large evaluations on the GPU and small ones on the CPU, else the CPU
/// backend. Every GPU-capable backend falls back to the CPU for an evaluation that hits a CUDA
/// error or does not fit the memory budget (warning, gpu_fallback_count()); the result's
/// `backend` field says which one ran.
std::unique_ptr<Backend> select_backend(BackendChoice choice, const GpuOptions& options = {});

/// Evaluations that fell back from the GPU to the CPU since the process started.
std::uint64_t gpu_fallback_count();

/// Device memory the GPU backend holds now, in bytes (0 without a GPU backend).
std::uint64_t gpu_memory_in_use();

/// Where fallback warnings go (one line each, no newline); the default writes to stderr.
/// Not thread-safe against concurrent evaluations: set it at start-up.
void set_warning_sink(std::function<void(std::string_view)> sink);

}  // namespace drift::gpu
