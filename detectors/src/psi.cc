#include "drift/detectors/psi.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace drift {

namespace {

// Evidently switches from per-value bins to Sturges bins above this many distinct values.
constexpr std::size_t kEvidentlyMaxDiscreteValues = 20;

std::vector<double> shares(std::span<const std::uint64_t> counts, std::uint64_t total) {
  std::vector<double> out(counts.size());
  const auto denominator = static_cast<double>(total);
  for (std::size_t k = 0; k < counts.size(); ++k) {
    out[k] = static_cast<double>(counts[k]) / denominator;
  }
  return out;
}

// Evidently's zero fill: zeros become (smallest non-zero share) / 1e6 when that share is at
// most 1e-4, else 1e-4.
std::vector<double> evidently_fill(std::vector<double> proportions) {
  double smallest = 0.0;
  for (const double p : proportions) {
    if (p != 0.0 && (smallest == 0.0 || p < smallest)) smallest = p;
  }
  const double fill = smallest <= kPsiFloor ? smallest / 1e6 : kPsiFloor;
  for (double& p : proportions) {
    if (p == 0.0) p = fill;
  }
  return proportions;
}

double psi_sum(std::span<const double> p, std::span<const double> q) {
  double total = 0.0;
  for (std::size_t k = 0; k < p.size(); ++k) total += (q[k] - p[k]) * std::log(q[k] / p[k]);
  return total;
}

// Counts of every distinct value of the pooled samples, one bin per value, ascending.
void count_distinct(std::span<const float> ref, std::span<const float> cur,
                    std::vector<std::uint64_t>& ref_counts,
                    std::vector<std::uint64_t>& cur_counts) {
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < ref.size() || j < cur.size()) {
    float v;
    if (j == cur.size() || (i < ref.size() && ref[i] <= cur[j])) {
      v = ref[i];
    } else {
      v = cur[j];
    }
    std::uint64_t cr = 0;
    std::uint64_t cc = 0;
    while (i < ref.size() && ref[i] == v) ++i, ++cr;
    while (j < cur.size() && cur[j] == v) ++j, ++cc;
    ref_counts.push_back(cr);
    cur_counts.push_back(cc);
  }
}

std::size_t distinct_count(std::span<const float> sorted) {
  if (sorted.empty()) return 0;
  std::size_t count = 1;
  for (std::size_t k = 1; k < sorted.size(); ++k) count += sorted[k] != sorted[k - 1] ? 1 : 0;
  return count;
}

// numpy.histogram counts on explicit edges: [e_i, e_{i+1}), the last bin closed.
std::vector<std::uint64_t> histogram_counts(std::span<const float> sorted,
                                            std::span<const double> edges) {
  std::vector<std::uint64_t> cumulative(edges.size());
  for (std::size_t k = 0; k < edges.size(); ++k) {
    const double e = edges[k];
    const auto it = k + 1 < edges.size()
                        ? std::lower_bound(sorted.begin(), sorted.end(), e,
                                           [](float x, double edge) { return x < edge; })
                        : std::upper_bound(sorted.begin(), sorted.end(), e,
                                           [](double edge, float x) { return edge < x; });
    cumulative[k] = static_cast<std::uint64_t>(it - sorted.begin());
  }
  std::vector<std::uint64_t> counts(edges.size() - 1);
  for (std::size_t k = 0; k + 1 < edges.size(); ++k) counts[k] = cumulative[k + 1] - cumulative[k];
  return counts;
}

}  // namespace

std::string_view to_string(PsiBinning binning) {
  switch (binning) {
    case PsiBinning::kQuantile:
      return "quantile";
    case PsiBinning::kEvidently:
      return "evidently";
    case PsiBinning::kCategories:
      return "categories";
  }
  return "quantile";
}

double quantile_linear(std::span<const float> sorted, double q) {
  const std::size_t n = sorted.size();
  if (n == 0) throw std::invalid_argument("quantile of an empty sample");
  // numpy's "linear" method: virtual index (n - 1) q, neighbours clamped, and _lerp's two
  // formulas (the second for gamma >= 0.5) so the result is bit-identical.
  const double virtual_index = static_cast<double>(n - 1) * q;
  if (virtual_index >= static_cast<double>(n - 1)) return sorted[n - 1];
  if (virtual_index < 0.0) return sorted[0];
  const double previous = std::floor(virtual_index);
  const auto lo = static_cast<std::size_t>(previous);
  const double gamma = virtual_index - previous;
  const double a = sorted[lo];
  const double b = sorted[lo + 1];
  const double diff = b - a;
  return gamma >= 0.5 ? b - diff * (1.0 - gamma) : a + diff * gamma;
}

std::vector<double> quantile_edges(std::span<const float> sorted, int bins) {
  if (bins < 1) throw std::invalid_argument("PSI needs at least one bin");
  std::vector<double> edges;
  edges.reserve(static_cast<std::size_t>(bins));
  for (int k = 1; k < bins; ++k) {
    const double e = quantile_linear(sorted, static_cast<double>(k) / static_cast<double>(bins));
    if (edges.empty() || e != edges.back()) edges.push_back(e);
  }
  return edges;
}

std::vector<std::uint64_t> count_in_upper_closed_bins(std::span<const float> sorted,
                                                      std::span<const double> inner_edges) {
  std::vector<std::uint64_t> counts(inner_edges.size() + 1);
  std::size_t below = 0;
  for (std::size_t k = 0; k < inner_edges.size(); ++k) {
    // #{x <= e}: the bin (e_{k-1}, e_k] ends here.
    const auto it = std::upper_bound(sorted.begin(), sorted.end(), inner_edges[k],
                                     [](double edge, float x) { return edge < x; });
    const auto upto = static_cast<std::size_t>(it - sorted.begin());
    counts[k] = upto - below;
    below = upto;
  }
  counts.back() = sorted.size() - below;
  return counts;
}

double psi_floored(std::span<const double> reference, std::span<const double> current) {
  std::vector<double> p(reference.begin(), reference.end());
  std::vector<double> q(current.begin(), current.end());
  for (double& v : p) v = std::max(v, kPsiFloor);
  for (double& v : q) v = std::max(v, kPsiFloor);
  return psi_sum(p, q);
}

PsiResult psi_quantile(std::span<const float> reference_sorted,
                       std::span<const float> current_sorted, std::span<const double> inner_edges) {
  return psi_quantile_counts(
      inner_edges,
      shares(count_in_upper_closed_bins(reference_sorted, inner_edges), reference_sorted.size()),
      count_in_upper_closed_bins(current_sorted, inner_edges), current_sorted.size());
}

PsiResult psi_quantile_counts(std::span<const double> inner_edges,
                              std::span<const double> reference_proportions,
                              std::span<const std::uint64_t> current_counts,
                              std::uint64_t current_total) {
  PsiResult result;
  result.binning = PsiBinning::kQuantile;
  result.edges.assign(inner_edges.begin(), inner_edges.end());
  result.reference_proportions.assign(reference_proportions.begin(), reference_proportions.end());
  result.current_proportions = shares(current_counts, current_total);
  result.statistic = psi_floored(result.reference_proportions, result.current_proportions);
  return result;
}

PsiResult psi_evidently(std::span<const float> reference_sorted,
                        std::span<const float> current_sorted) {
  PsiResult result;
  result.binning = PsiBinning::kEvidently;
  const std::size_t n = reference_sorted.size();
  const std::size_t m = current_sorted.size();
  std::vector<std::uint64_t> ref_counts;
  std::vector<std::uint64_t> cur_counts;
  if (distinct_count(reference_sorted) > kEvidentlyMaxDiscreteValues) {
    // numpy.histogram_bin_edges(R ∪ C, bins="sturges") in numpy's own double arithmetic.
    const double lo = std::min(reference_sorted.front(), current_sorted.front());
    const double hi = std::max(reference_sorted.back(), current_sorted.back());
    const double width = (hi - lo) / (std::log2(static_cast<double>(n + m)) + 1.0);
    const auto bins = static_cast<std::size_t>(std::ceil((hi - lo) / width));
    const double step = (hi - lo) / static_cast<double>(bins);
    result.edges.resize(bins + 1);
    for (std::size_t k = 0; k < bins; ++k) result.edges[k] = static_cast<double>(k) * step + lo;
    result.edges[bins] = hi;
    ref_counts = histogram_counts(reference_sorted, result.edges);
    cur_counts = histogram_counts(current_sorted, result.edges);
  } else {
    count_distinct(reference_sorted, current_sorted, ref_counts, cur_counts);
  }
  result.reference_proportions = shares(ref_counts, n);
  result.current_proportions = shares(cur_counts, m);
  result.statistic = psi_sum(evidently_fill(result.reference_proportions),
                             evidently_fill(result.current_proportions));
  return result;
}

PsiResult psi_categories(std::span<const std::uint64_t> reference_counts,
                         std::span<const std::uint64_t> current_counts) {
  PsiResult result;
  result.binning = PsiBinning::kCategories;
  std::uint64_t n = 0;
  std::uint64_t m = 0;
  for (const auto c : reference_counts) n += c;
  for (const auto c : current_counts) m += c;
  result.reference_proportions = shares(reference_counts, n);
  result.current_proportions = shares(current_counts, m);
  result.statistic = psi_floored(result.reference_proportions, result.current_proportions);
  return result;
}

}  // namespace drift
