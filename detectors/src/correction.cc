#include "drift/detectors/correction.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace drift {

std::string_view to_string(Correction correction) {
  switch (correction) {
    case Correction::kNone:
      return "none";
    case Correction::kBonferroni:
      return "bonferroni";
    case Correction::kFdr:
      return "fdr";
  }
  return "bonferroni";
}

CorrectedDecisions correct(std::span<const double> p_values, double alpha, Correction correction) {
  CorrectedDecisions out;
  out.rejected.assign(p_values.size(), false);
  std::vector<std::size_t> family;  // indices of the real p-values
  for (std::size_t k = 0; k < p_values.size(); ++k) {
    if (!std::isnan(p_values[k])) family.push_back(k);
  }
  const double f = static_cast<double>(std::max<std::size_t>(family.size(), 1));
  switch (correction) {
    case Correction::kNone:
      out.cutoff = alpha;
      break;
    case Correction::kBonferroni:
      out.cutoff = alpha / f;
      break;
    case Correction::kFdr: {
      // Benjamini–Hochberg: the largest k with p_(k) < alpha k / F; when none, report the cutoff
      // the smallest p-value would have had to beat.
      std::vector<std::size_t> order = family;
      std::stable_sort(order.begin(), order.end(),
                       [&](std::size_t a, std::size_t b) { return p_values[a] < p_values[b]; });
      out.cutoff = alpha / f;
      double largest_passing_p = -1.0;
      for (std::size_t rank = order.size(); rank >= 1; --rank) {
        const double cut = alpha * static_cast<double>(rank) / f;
        if (p_values[order[rank - 1]] < cut) {
          out.cutoff = cut;
          largest_passing_p = p_values[order[rank - 1]];
          break;
        }
      }
      for (const std::size_t k : family) out.rejected[k] = p_values[k] <= largest_passing_p;
      return out;
    }
  }
  for (const std::size_t k : family) out.rejected[k] = p_values[k] < out.cutoff;
  return out;
}

}  // namespace drift
