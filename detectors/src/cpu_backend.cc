#include <tbb/parallel_for.h>

#include <algorithm>
#include <vector>

#include "drift/detectors/backend.h"
#include "drift/detectors/backend_support.h"
#include "drift/detectors/mmd.h"
#include "drift/detectors/sort.h"

namespace drift {

namespace {

void evaluate_numeric(const FeatureProfile& profile, const ColumnView& column,
                      const EvaluationConfig& config, FeatureResult& out) {
  // Reused per worker thread: a fresh multi-megabyte buffer per feature costs page faults that
  // rival the sort itself.
  thread_local std::vector<float> current;
  out.missing_current = copy_finite(column.values, current);
  out.rows_current = current.size();
  require_rows(profile.name, out.rows_reference, out.rows_current, config.min_rows);
  if (!config.tests.ks && !config.tests.psi) return;
  sort_floats(current);
  const std::span<const float> reference = profile.numeric.sorted;
  if (config.tests.ks) {
    out.ks.emplace();
    out.ks->result = ks_test_sorted(reference, current, config.ks_method);
  }
  if (config.tests.psi) {
    out.psi.emplace();
    out.psi->result = config.psi_binning == PsiBinning::kEvidently
                          ? psi_evidently(reference, current)
                          : psi_quantile(reference, current, profile.numeric.inner_edges);
  }
}

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }
  using Backend::evaluate;  // the WindowOrigin overload: nothing resident to reuse here

  EvaluationResult evaluate(const ReferenceProfile& profile, const SampleView& current,
                            const EvaluationConfig& config) const override {
    const auto& features = profile.features();
    const std::vector<const ColumnView*> columns = match_columns(profile, current);

    EvaluationResult result = result_skeleton(profile, columns, "cpu");
    tbb::parallel_for(std::size_t{0}, features.size(), [&](std::size_t k) {
      const FeatureProfile& feature = features[k];
      FeatureResult& out = result.features[k];
      if (feature.kind == FeatureKind::kNumeric) {
        evaluate_numeric(feature, *columns[k], config, out);
      } else {
        evaluate_categorical(feature, *columns[k], config, out);
      }
    });

    if (config.tests.mmd) {
      if (!profile.mmd()) throw InputError("MMD was requested but the profile has no MMD part");
      const MmdReference& reference = *profile.mmd();
      const RowMatrixF prepared =
          prepare_current(reference, current, config.seed, profile.options().mmd.max_rows);
      result.mmd.emplace();
      result.mmd->features = reference.features;
      result.mmd->result =
          mmd_permutation_test(reference, prepared, config.mmd_permutations, config.seed);
    }
    decide(result, config);
    return result;
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace drift
