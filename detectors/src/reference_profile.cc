#include "drift/detectors/reference_profile.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "drift/detectors/psi.h"
#include "drift/detectors/sort.h"

namespace drift {

std::uint64_t ReferenceProfile::next_instance_id() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

namespace {

FeatureProfile profile_numeric(const ColumnView& column, int psi_bins) {
  FeatureProfile feature;
  feature.name = column.name;
  feature.kind = FeatureKind::kNumeric;
  feature.rows = column.values.size();
  feature.missing = copy_finite(column.values, feature.numeric.sorted);
  sort_floats(feature.numeric.sorted);
  const auto& sorted = feature.numeric.sorted;
  if (!sorted.empty()) {
    feature.numeric.inner_edges = quantile_edges(sorted, psi_bins);
    const auto counts = count_in_upper_closed_bins(sorted, feature.numeric.inner_edges);
    feature.numeric.proportions.reserve(counts.size());
    for (const auto c : counts) {
      feature.numeric.proportions.push_back(static_cast<double>(c) /
                                            static_cast<double>(sorted.size()));
    }
  }
  return feature;
}

FeatureProfile profile_categorical(const ColumnView& column) {
  FeatureProfile feature;
  feature.name = column.name;
  feature.kind = FeatureKind::kCategorical;
  feature.rows = column.codes.size();
  const CodeCounts counts = count_codes(column);
  const auto& per_code = counts.per_code;
  feature.missing = counts.missing;
  for (std::size_t code = 0; code < per_code.size(); ++code) {
    if (per_code[code] == 0) continue;
    feature.categorical.categories.push_back(column.dictionary[code]);
    feature.categorical.counts.push_back(per_code[code]);
  }
  return feature;
}

template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

bool same_mmd(const MmdReference& a, const MmdReference& b) {
  return a.features == b.features && same_bits(a.mean, b.mean) && same_bits(a.scale, b.scale) &&
         a.rows.rows() == b.rows.rows() && a.rows.cols() == b.rows.cols() &&
         (a.rows.size() == 0 ||
          std::memcmp(a.rows.data(), b.rows.data(), sizeof(float) * a.rows.size()) == 0) &&
         a.rows_available == b.rows_available &&
         std::memcmp(&a.sigma, &b.sigma, sizeof(double)) == 0 &&
         std::memcmp(&a.reference_kernel_sum, &b.reference_kernel_sum, sizeof(double)) == 0;
}

}  // namespace

ReferenceProfile ReferenceProfile::build(const SampleView& reference,
                                         const ProfileOptions& options) {
  if (options.psi_bins < 1) throw InputError("psi bins must be at least 1");
  ReferenceProfile profile;
  profile.options_ = options;
  profile.features_.resize(reference.columns.size());
  for (const auto& column : reference.columns) {
    profile.rows_ = std::max<std::uint64_t>(profile.rows_, column.size());
  }
  tbb::parallel_for(std::size_t{0}, reference.columns.size(), [&](std::size_t k) {
    const ColumnView& column = reference.columns[k];
    profile.features_[k] = column.kind == FeatureKind::kNumeric
                               ? profile_numeric(column, options.psi_bins)
                               : profile_categorical(column);
  });
  if (options.build_mmd) profile.mmd_ = build_mmd_reference(reference, options.mmd);
  return profile;
}

const FeatureProfile* ReferenceProfile::find(std::string_view name) const {
  for (const auto& feature : features_) {
    if (feature.name == name) return &feature;
  }
  return nullptr;
}

bool ReferenceProfile::operator==(const ReferenceProfile& other) const {
  const auto& a = options_;
  const auto& b = other.options_;
  const bool same_options = a.psi_bins == b.psi_bins && a.build_mmd == b.build_mmd &&
                            a.mmd.features == b.mmd.features &&
                            a.mmd.standardize == b.mmd.standardize &&
                            a.mmd.max_rows == b.mmd.max_rows && a.mmd.sigma == b.mmd.sigma &&
                            a.mmd.sigma_rows == b.mmd.sigma_rows && a.mmd.seed == b.mmd.seed;
  if (!same_options || rows_ != other.rows_ || features_.size() != other.features_.size()) {
    return false;
  }
  for (std::size_t k = 0; k < features_.size(); ++k) {
    const auto& x = features_[k];
    const auto& y = other.features_[k];
    if (x.name != y.name || x.kind != y.kind || x.rows != y.rows || x.missing != y.missing ||
        !same_bits(x.numeric.sorted, y.numeric.sorted) ||
        !same_bits(x.numeric.inner_edges, y.numeric.inner_edges) ||
        !same_bits(x.numeric.proportions, y.numeric.proportions) ||
        x.categorical.categories != y.categorical.categories ||
        x.categorical.counts != y.categorical.counts) {
      return false;
    }
  }
  if (mmd_.has_value() != other.mmd_.has_value()) return false;
  return !mmd_ || same_mmd(*mmd_, *other.mmd_);
}

}  // namespace drift
