#include <tbb/parallel_for.h>

#include <string>
#include <unordered_map>

#include "drift/detectors/backend.h"
#include "drift/detectors/mmd.h"
#include "drift/detectors/sort.h"

namespace drift {

namespace {

void require_rows(const std::string& feature, std::uint64_t reference, std::uint64_t current,
                  std::uint64_t min_rows) {
  const std::uint64_t needed = std::max<std::uint64_t>(min_rows, 1);
  if (reference < needed || current < needed) {
    const bool ref_short = reference < needed;
    throw InputError("feature '" + feature + "' has " +
                     std::to_string(ref_short ? reference : current) + " non-missing rows in the " +
                     (ref_short ? "reference" : "current") +
                     " sample, fewer than min_rows = " + std::to_string(needed));
  }
}

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

void evaluate_categorical(const FeatureProfile& profile, const ColumnView& column,
                          const EvaluationConfig& config, FeatureResult& out) {
  // Map the window's dictionary onto the profile's categories; categories the reference never
  // saw get cells of their own after the reference's, in the window's dictionary order.
  const auto& categories = profile.categorical.categories;
  std::unordered_map<std::string_view, std::size_t> index;
  index.reserve(categories.size());
  for (std::size_t k = 0; k < categories.size(); ++k) index.emplace(categories[k], k);
  const CodeCounts counts = count_codes(column);
  const auto& per_code = counts.per_code;
  out.missing_current = counts.missing;
  std::vector<std::uint64_t> reference_counts = profile.categorical.counts;
  std::vector<std::uint64_t> current_counts(reference_counts.size(), 0);
  for (std::size_t code = 0; code < per_code.size(); ++code) {
    if (per_code[code] == 0) continue;
    const auto it = index.find(column.dictionary[code]);
    if (it != index.end()) {
      current_counts[it->second] += per_code[code];
    } else {
      index.emplace(column.dictionary[code], reference_counts.size());
      reference_counts.push_back(0);
      current_counts.push_back(per_code[code]);
    }
    out.rows_current += per_code[code];
  }
  require_rows(profile.name, out.rows_reference, out.rows_current, config.min_rows);
  if (config.tests.chi2) {
    out.chi2.emplace();
    out.chi2->result = chi2_homogeneity(reference_counts, current_counts);
  }
  if (config.tests.psi) {
    out.psi.emplace();
    out.psi->result = psi_categories(reference_counts, current_counts);
  }
}

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }

  EvaluationResult evaluate(const ReferenceProfile& profile, const SampleView& current,
                            const EvaluationConfig& config) const override {
    const auto& features = profile.features();
    std::vector<const ColumnView*> columns(features.size());
    for (std::size_t k = 0; k < features.size(); ++k) {
      columns[k] = current.find(features[k].name);
      if (columns[k] == nullptr) {
        throw InputError("feature '" + features[k].name + "' is missing from the current sample");
      }
      if (columns[k]->kind != features[k].kind) {
        const bool numeric = features[k].kind == FeatureKind::kNumeric;
        throw InputError("feature '" + features[k].name + "' is " +
                         (numeric ? "numeric" : "categorical") + " in the reference but " +
                         (numeric ? "categorical" : "numeric") + " in the current sample");
      }
    }

    EvaluationResult result;
    result.backend = "cpu";
    result.reference_rows = profile.rows();
    for (const auto* column : columns) {
      result.current_rows = std::max<std::uint64_t>(result.current_rows, column->size());
    }
    result.features.resize(features.size());
    tbb::parallel_for(std::size_t{0}, features.size(), [&](std::size_t k) {
      const FeatureProfile& feature = features[k];
      FeatureResult& out = result.features[k];
      out.name = feature.name;
      out.kind = feature.kind;
      out.missing_reference = feature.missing;
      out.rows_reference = feature.rows - feature.missing;
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
