#pragma once
/// The seam between "what to compute" and "where": the CPU backend here, the CUDA backend in
/// drift::gpu. `auto` selection lives in select_backend().

#include <memory>
#include <string_view>

#include "drift/detectors/column.h"
#include "drift/detectors/evaluation.h"
#include "drift/detectors/reference_profile.h"

namespace drift {

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
};

/// The oneTBB/Eigen backend; uses the calling thread's task arena.
std::unique_ptr<Backend> make_cpu_backend();

}  // namespace drift
