#pragma once
/// The seam between "what to compute" and "where": the CPU backend here, the CUDA backend in
/// drift::gpu. `auto` selection lives in select_backend().

#include <cstdint>
#include <memory>
#include <string_view>

#include "drift/detectors/column.h"
#include "drift/detectors/evaluation.h"
#include "drift/detectors/reference_profile.h"

namespace drift {

/// Where a current sample comes from, when it is the newest rows of an append-only stream (a
/// count window): its rows are the stream's rows [end - rows, end). A backend that keeps
/// device-resident copies (the GPU) then sends only the rows it does not hold yet. `stream`
/// must change whenever the stream restarts (a window emptied or replaced).
struct WindowOrigin {
  std::uint64_t stream = 0;  ///< 0: unknown (no reuse)
  std::uint64_t end = 0;     ///< rows appended to the stream when the sample was taken
};

/// Evaluates all configured tests of one current sample against a profile.
class Backend {
 public:
  virtual ~Backend() = default;
  /// "cpu" or "gpu".
  virtual std::string_view name() const = 0;
  /// Runs the tests and applies decide(). Throws InputError for untestable input (missing
  /// column, kind mismatch, fewer than min_rows rows). Thread-safe: may be called concurrently.
  virtual EvaluationResult evaluate(const ReferenceProfile& profile, const SampleView& current,
                                    const EvaluationConfig& config) const = 0;
  /// The same, telling where `current` comes from; backends without resident state ignore it.
  virtual EvaluationResult evaluate(const ReferenceProfile& profile, const SampleView& current,
                                    const EvaluationConfig& config,
                                    const WindowOrigin& /*origin*/) const {
    return evaluate(profile, current, config);
  }
};

/// The oneTBB/Eigen backend; uses the calling thread's task arena.
std::unique_ptr<Backend> make_cpu_backend();

}  // namespace drift
