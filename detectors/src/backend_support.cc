#include "drift/detectors/backend_support.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>

namespace drift {

std::vector<const ColumnView*> match_columns(const ReferenceProfile& profile,
                                             const SampleView& current) {
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
  return columns;
}

EvaluationResult result_skeleton(const ReferenceProfile& profile,
                                 const std::vector<const ColumnView*>& columns,
                                 std::string_view backend) {
  EvaluationResult result;
  result.backend = std::string(backend);
  result.reference_rows = profile.rows();
  for (const auto* column : columns) {
    result.current_rows = std::max<std::uint64_t>(result.current_rows, column->size());
  }
  result.features.resize(profile.features().size());
  for (std::size_t k = 0; k < result.features.size(); ++k) {
    const FeatureProfile& feature = profile.features()[k];
    FeatureResult& out = result.features[k];
    out.name = feature.name;
    out.kind = feature.kind;
    out.missing_reference = feature.missing;
    out.rows_reference = feature.rows - feature.missing;
  }
  return result;
}

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

}  // namespace drift
