#pragma once
/// What an evaluation is asked to do and what it reports: the types shared by both backends,
/// `driftd check` and the daemon.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "drift/detectors/chi2.h"
#include "drift/detectors/column.h"
#include "drift/detectors/correction.h"
#include "drift/detectors/ks.h"
#include "drift/detectors/mmd.h"
#include "drift/detectors/psi.h"

namespace drift {

/// Which tests run.
struct TestSelection {
  bool ks = true;    ///< numeric features
  bool psi = true;   ///< numeric and categorical features
  bool chi2 = true;  ///< categorical features
  bool mmd = false;  ///< multivariate, needs a profile built with build_mmd
};

/// Minimum effect sizes a test must also reach to drift (default 0: p-value alone decides).
struct MinEffect {
  double ks = 0.0;    ///< D
  double chi2 = 0.0;  ///< Cramér's V
  double mmd = 0.0;   ///< MMD^2
};

/// Per-evaluation settings (the reference-side ones live in ProfileOptions).
struct EvaluationConfig {
  TestSelection tests;
  double alpha = 0.05;
  Correction correction = Correction::kBonferroni;
  KsMethod ks_method = KsMethod::kAuto;
  PsiBinning psi_binning = PsiBinning::kQuantile;  ///< numeric features
  double psi_threshold = 0.2;
  MinEffect min_effect;
  std::uint64_t min_rows = 1;  ///< fewer non-missing rows on either side is an InputError
  std::size_t mmd_permutations = 1000;
  std::uint64_t seed = 0;  ///< permutations and current-window subsample
};

/// A p-value test after correction.
struct KsOutcome {
  KsResult result;
  double threshold = 0.0;  ///< effective corrected cutoff
  bool drift = false;
};

struct Chi2Outcome {
  Chi2Result result;
  double threshold = 0.0;  ///< effective corrected cutoff
  bool drift = false;
};

struct PsiOutcome {
  PsiResult result;
  double threshold = 0.0;
  bool drift = false;
};

struct MmdOutcome {
  MmdResult result;
  std::vector<std::string> features;
  bool drift = false;
};

/// All results for one feature; a test that did not run is empty.
struct FeatureResult {
  std::string name;
  FeatureKind kind = FeatureKind::kNumeric;
  std::uint64_t missing_reference = 0;
  std::uint64_t missing_current = 0;
  std::uint64_t rows_reference = 0;  ///< non-missing rows tested
  std::uint64_t rows_current = 0;
  std::optional<KsOutcome> ks;
  std::optional<PsiOutcome> psi;
  std::optional<Chi2Outcome> chi2;
};

/// One evaluation of a current sample against a profile.
struct EvaluationResult {
  std::string backend;  ///< "cpu" or "gpu"
  std::uint64_t reference_rows = 0;
  std::uint64_t current_rows = 0;
  Correction correction = Correction::kBonferroni;
  std::vector<FeatureResult> features;
  std::optional<MmdOutcome> mmd;
  bool drift = false;  ///< dataset verdict: any test drifts
};

/// Applies the multiple-testing correction and min-effect rules to the raw per-test results in
/// `result` and sets every `drift` flag and threshold, plus the dataset verdict. Shared by both
/// backends so decisions never differ between them.
void decide(EvaluationResult& result, const EvaluationConfig& config);

}  // namespace drift
