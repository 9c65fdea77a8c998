#include "drift/detectors/chi2.h"

#include <boost/math/special_functions/gamma.hpp>
#include <cmath>
#include <stdexcept>

namespace drift {

Chi2Result chi2_homogeneity(std::span<const std::uint64_t> reference_counts,
                            std::span<const std::uint64_t> current_counts) {
  if (reference_counts.size() != current_counts.size()) {
    throw std::invalid_argument("chi-square: count vectors differ in length");
  }
  std::uint64_t n = 0;
  std::uint64_t m = 0;
  for (const auto c : reference_counts) n += c;
  for (const auto c : current_counts) m += c;
  if (n == 0 || m == 0) throw std::invalid_argument("chi-square: an empty sample");

  Chi2Result result;
  const std::size_t categories = reference_counts.size();
  if (categories < 2) return result;  // one cell: statistic 0, p = 1 (scipy's dof == 0 case)

  const double total = static_cast<double>(n + m);
  const double rn = static_cast<double>(n);
  const double rm = static_cast<double>(m);
  double statistic = 0.0;
  for (std::size_t k = 0; k < categories; ++k) {
    const double column = static_cast<double>(reference_counts[k] + current_counts[k]);
    if (column == 0.0) throw std::invalid_argument("chi-square: a category with no observations");
    // Expected counts from the margins, as scipy.stats.contingency.expected_freq.
    const double expected_ref = rn * column / total;
    const double expected_cur = rm * column / total;
    const double dr = static_cast<double>(reference_counts[k]) - expected_ref;
    const double dc = static_cast<double>(current_counts[k]) - expected_cur;
    statistic += dr * dr / expected_ref + dc * dc / expected_cur;
  }
  result.statistic = statistic;
  result.dof = categories - 1;
  result.p_value = boost::math::gamma_q(static_cast<double>(result.dof) / 2.0, statistic / 2.0);
  result.cramers_v = std::sqrt(statistic / total);
  return result;
}

}  // namespace drift
