#include "drift/detectors/evaluation.h"

#include <vector>

namespace drift {

void decide(EvaluationResult& result, const EvaluationConfig& config) {
  // One family: every per-feature p-value test of this evaluation (KS and chi-square).
  std::vector<double> p_values;
  for (const auto& feature : result.features) {
    if (feature.ks) p_values.push_back(feature.ks->result.p_value);
    if (feature.chi2) p_values.push_back(feature.chi2->result.p_value);
  }
  const CorrectedDecisions decisions = correct(p_values, config.alpha, config.correction);
  result.correction = config.correction;

  bool any = false;
  std::size_t k = 0;
  for (auto& feature : result.features) {
    if (feature.ks) {
      feature.ks->threshold = decisions.cutoff;
      feature.ks->drift =
          decisions.rejected[k++] && feature.ks->result.statistic >= config.min_effect.ks;
      any = any || feature.ks->drift;
    }
    if (feature.chi2) {
      feature.chi2->threshold = decisions.cutoff;
      feature.chi2->drift =
          decisions.rejected[k++] && feature.chi2->result.cramers_v >= config.min_effect.chi2;
      any = any || feature.chi2->drift;
    }
    if (feature.psi) {
      feature.psi->threshold = config.psi_threshold;
      feature.psi->drift = feature.psi->result.statistic >= config.psi_threshold;
      any = any || feature.psi->drift;
    }
  }
  if (result.mmd) {
    // A single test at alpha: not part of the corrected family.
    result.mmd->drift = result.mmd->result.p_value < config.alpha &&
                        result.mmd->result.statistic >= config.min_effect.mmd;
    any = any || result.mmd->drift;
  }
  result.drift = any;
}

}  // namespace drift
