#pragma once
/// Host-side steps every Backend shares, so the CPU and CUDA backends validate input and finish
/// categorical features identically: matching columns to the profile, the min_rows rule and
/// the categorical tests (a dictionary mapping plus O(categories) arithmetic).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "drift/detectors/column.h"
#include "drift/detectors/evaluation.h"
#include "drift/detectors/reference_profile.h"

namespace drift {

/// The current sample's column for each profile feature, in profile order. Throws InputError
/// when a feature is missing or its kind differs from the reference's.
std::vector<const ColumnView*> match_columns(const ReferenceProfile& profile,
                                             const SampleView& current);

/// The result both backends fill: `backend`, the reference's rows, the largest current column's
/// size, and one FeatureResult per profile feature with its name, kind and reference counts.
EvaluationResult result_skeleton(const ReferenceProfile& profile,
                                 const std::vector<const ColumnView*>& columns,
                                 std::string_view backend);

/// Throws InputError when either side has fewer than max(min_rows, 1) non-missing rows.
void require_rows(const std::string& feature, std::uint64_t reference, std::uint64_t current,
                  std::uint64_t min_rows);

/// Chi-square and PSI of one categorical feature (counts, category mapping, min_rows); fills
/// `out.missing_current`, `out.rows_current`, `out.chi2`, `out.psi` as the tests ask.
void evaluate_categorical(const FeatureProfile& profile, const ColumnView& column,
                          const EvaluationConfig& config, FeatureResult& out);

}  // namespace drift
