// The public MMD API (mmd.h) and the permutation test with its precision policy (mmd_tiles.h);
// the batched passes are in mmd_tiles.cc and mmd_avx512.cc.
#include "drift/detectors/mmd.h"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "drift/detectors/random.h"
#include "mmd_common.h"
#include "mmd_tiles.h"

namespace drift {

namespace {

using mmd_detail::Index;
using mmd_detail::RowMatrix;
using mmd_detail::to_index;
using mmd_detail::to_size;

double to_double(std::size_t value) { return static_cast<double>(value); }

/// Neumaier's compensated sum: standardization constants that match an exactly rounded sum
/// (math.fsum in the golden scripts) in all but pathological cases.
class CompensatedSum {
 public:
  void add(double x) {
    const double t = sum_ + x;
    if (std::fabs(sum_) >= std::fabs(x)) {
      compensation_ += (sum_ - t) + x;
    } else {
      compensation_ += (x - t) + sum_;
    }
    sum_ = t;
  }
  double value() const { return sum_ + compensation_; }

 private:
  double sum_ = 0.0;
  double compensation_ = 0.0;
};

bool is_missing(float value) { return !std::isfinite(value); }

// ---------------------------------------------------------------------------------------------
// Splits: the observed one and permutation b (random.h, Stream::kPermutation, index b).

/// Column spec: kObserved or a permutation index.
constexpr std::int64_t kObserved = -1;

struct SplitBlock {
  mmd_detail::Indicators indicators;
  std::vector<std::uint8_t> tie;  ///< the split equals the observed one or (n == m) its mirror
};

SplitBlock make_splits(std::size_t n, std::size_t m, std::uint64_t seed,
                       std::span<const std::int64_t> columns) {
  const std::size_t n_total = n + m;
  SplitBlock block;
  block.indicators.setZero(to_index(n_total), to_index(columns.size()));
  block.tie.assign(columns.size(), 0);
  tbb::enumerable_thread_specific<std::vector<std::uint32_t>> orders(n_total);
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, columns.size(), 16),
                    [&](const tbb::blocked_range<std::size_t>& range) {
                      std::vector<std::uint32_t>& order = orders.local();
                      for (std::size_t c = range.begin(); c != range.end(); ++c) {
                        std::uint8_t* col = block.indicators.col(to_index(c)).data();
                        if (columns[c] == kObserved) {
                          std::fill(col, col + n, std::uint8_t{1});
                          block.tie[c] = 1;
                          continue;
                        }
                        auto rng =
                            random::SplitMix64::for_stream(seed, random::Stream::kPermutation,
                                                           static_cast<std::uint64_t>(columns[c]));
                        random::partial_shuffle(rng, order, n);
                        bool same = true;
                        bool mirror = n == m;
                        for (std::size_t i = 0; i < n; ++i) {
                          col[order[i]] = 1;
                          same = same && order[i] < n;
                          mirror = mirror && order[i] >= n;
                        }
                        block.tie[c] = (same || mirror) ? 1 : 0;
                      }
                    });
  return block;
}

/// Statistics of the listed splits from passes of at most kMaxColumnsPerPass columns.
struct SplitStatistics {
  std::vector<double> statistic;
  std::vector<std::uint8_t> tie;
  double mean_kernel = 0.0;  ///< 1·K·1 / (N(N-1)): the scale of the tolerances
};

SplitStatistics split_statistics(const RowMatrixF& pooled, std::size_t n, double sigma,
                                 std::uint64_t seed, std::span<const std::int64_t> columns,
                                 bool float64, const mmd_detail::SumsProvider& provider) {
  const std::size_t n_total = to_size(pooled.rows());
  const std::size_t m = n_total - n;
  SplitStatistics out;
  out.statistic.resize(columns.size());
  out.tie.resize(columns.size());
  double total = 0.0;
  for (std::size_t begin = 0; begin < columns.size(); begin += mmd_detail::kMaxColumnsPerPass) {
    const std::size_t count = std::min(mmd_detail::kMaxColumnsPerPass, columns.size() - begin);
    const SplitBlock block = make_splits(n, m, seed, columns.subspan(begin, count));
    const mmd_detail::BatchedSums sums = provider(pooled, sigma, block.indicators, float64);
    for (std::size_t c = 0; c < count; ++c) {
      out.statistic[begin + c] =
          mmd_detail::statistic_from_sums(sums.within[c], sums.cross[c], sums.total, n, m);
      out.tie[begin + c] = block.tie[c];
    }
    total = sums.total;
  }
  out.mean_kernel = total / (to_double(n_total) * to_double(n_total - 1));
  return out;
}

RowMatrixF pool(const RowMatrixF& x, const RowMatrixF& y) {
  RowMatrixF pooled(x.rows() + y.rows(), x.cols());
  pooled.topRows(x.rows()) = x;
  pooled.bottomRows(y.rows()) = y;
  return pooled;
}

void check_sigma(double sigma) {
  if (!std::isfinite(sigma) || sigma <= 0.0) {
    throw InputError("MMD: sigma must be a positive finite number, got " + std::to_string(sigma));
  }
}

// ---------------------------------------------------------------------------------------------
// Feature selection and the row transform.

struct SelectedColumns {
  std::vector<std::string> names;
  std::vector<const ColumnView*> columns;
  std::size_t rows = 0;
};

const ColumnView& numeric_column(const SampleView& sample, const std::string& name,
                                 const char* side) {
  const ColumnView* column = sample.find(name);
  if (column == nullptr) {
    throw InputError(std::string("MMD feature '") + name + "': not found in the " + side);
  }
  if (column->kind != FeatureKind::kNumeric) {
    throw InputError(std::string("MMD feature '") + name + "': categorical in the " + side +
                     "; MMD needs numeric features");
  }
  return *column;
}

SelectedColumns select_columns(const SampleView& sample, const std::vector<std::string>& names,
                               const char* side) {
  SelectedColumns out;
  if (names.empty()) {
    for (const ColumnView& column : sample.columns) {
      if (column.kind != FeatureKind::kNumeric) continue;
      out.names.push_back(column.name);
      out.columns.push_back(&column);
    }
    if (out.columns.empty()) {
      throw InputError(std::string("MMD: the ") + side + " has no numeric features");
    }
  } else {
    for (const std::string& name : names) {
      out.names.push_back(name);
      out.columns.push_back(&numeric_column(sample, name, side));
    }
  }
  out.rows = out.columns.front()->size();
  for (const ColumnView* column : out.columns) {
    if (column->size() != out.rows) {
      throw InputError("MMD feature '" + column->name + "': " + std::to_string(column->size()) +
                       " rows in the " + side + ", other features have " +
                       std::to_string(out.rows));
    }
  }
  return out;
}

/// Indices of the rows with no missing selected value, ascending.
std::vector<std::size_t> complete_rows(const SelectedColumns& selected) {
  std::vector<std::size_t> rows;
  rows.reserve(selected.rows);
  for (std::size_t r = 0; r < selected.rows; ++r) {
    bool complete = true;
    for (const ColumnView* column : selected.columns) {
      if (is_missing(column->values[r])) {
        complete = false;
        break;
      }
    }
    if (complete) rows.push_back(r);
  }
  return rows;
}

/// Keeps a seeded ascending sample of `max_rows` of `rows` when there are more.
void subsample(std::vector<std::size_t>& rows, std::uint64_t seed, random::Stream stream,
               std::size_t max_rows) {
  if (rows.size() <= max_rows) return;
  const std::vector<std::uint32_t> chosen =
      random::sample_indices(seed, stream, rows.size(), max_rows);
  std::vector<std::size_t> kept;
  kept.reserve(chosen.size());
  for (const std::uint32_t index : chosen) kept.push_back(rows[index]);
  rows = std::move(kept);
}

/// (x - mean) / scale in double, rounded to float, for the listed rows.
RowMatrixF transform_rows(const SelectedColumns& selected, const std::vector<std::size_t>& rows,
                          const std::vector<double>& mean, const std::vector<double>& scale) {
  RowMatrixF out(to_index(rows.size()), to_index(selected.columns.size()));
  for (std::size_t k = 0; k < selected.columns.size(); ++k) {
    const std::span<const float> values = selected.columns[k]->values;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const double v = (static_cast<double>(values[rows[r]]) - mean[k]) / scale[k];
      out(to_index(r), to_index(k)) = static_cast<float>(v);
    }
  }
  return out;
}

void check_rows_fit(std::size_t rows) {
  if (rows > std::numeric_limits<std::uint32_t>::max()) {
    throw InputError("MMD: too many rows (" + std::to_string(rows) + ")");
  }
}

}  // namespace

// -------------------------------------------------------------------------------------------------
// mmd_tiles.h: the statistic of a split and the permutation test (the batched passes:
// mmd_tiles.cc).

namespace mmd_detail {

double statistic_from_sums(double within, double cross, double total, std::size_t n,
                           std::size_t m) {
  const double nd = to_double(n);
  const double md = to_double(m);
  const double reference_reference = within;
  const double current_current = total - 2.0 * cross + within;
  const double reference_current = cross - within;
  return reference_reference / (nd * (nd - 1.0)) + current_current / (md * (md - 1.0)) -
         2.0 * reference_current / (nd * md);
}

MmdResult permutation_test(const RowMatrixF& reference, const RowMatrixF& current, double sigma,
                           std::size_t permutations, std::uint64_t seed, Precision precision,
                           std::size_t tile, Diagnostics* diagnostics) {
  const SumsProvider cpu = [tile](const RowMatrixF& pooled, double s, const Indicators& a,
                                  bool float64) {
    return float64 ? batched_sums_float64(pooled, s, a, tile)
                   : batched_sums_float32(pooled, s, a, tile);
  };
  return permutation_test_with(reference, current, sigma, permutations, seed, precision, cpu,
                               diagnostics);
}

MmdResult permutation_test_with(const RowMatrixF& reference, const RowMatrixF& current,
                                double sigma, std::size_t permutations, std::uint64_t seed,
                                Precision precision, const SumsProvider& provider,
                                Diagnostics* diagnostics) {
  if (reference.cols() != current.cols()) {
    throw InputError("MMD: the current rows have " + std::to_string(current.cols()) +
                     " features, the reference " + std::to_string(reference.cols()));
  }
  if (reference.cols() < 1) throw InputError("MMD: no features");
  if (reference.rows() < 2) throw InputError("MMD: fewer than 2 reference rows");
  if (current.rows() < 2) throw InputError("MMD: fewer than 2 current rows");
  check_sigma(sigma);
  const std::size_t n = to_size(reference.rows());
  const std::size_t m = to_size(current.rows());
  check_rows_fit(n + m);
  const RowMatrixF pooled = pool(reference, current);

  // Column 0 is the observed split, column 1 + b permutation b.
  std::vector<std::int64_t> columns(permutations + 1);
  columns[0] = kObserved;
  for (std::size_t b = 0; b < permutations; ++b) columns[b + 1] = static_cast<std::int64_t>(b);

  Diagnostics diag;
  std::vector<std::uint8_t> exceeds(permutations + 1, 0);
  double observed = 0.0;

  const auto count_with = [&](const SplitStatistics& s) {
    const double tolerance = kTieTolerance * s.mean_kernel;
    for (std::size_t c = 1; c < columns.size(); ++c) {
      exceeds[c] = (s.tie[c] != 0 || s.statistic[c] >= s.statistic[0] - tolerance) ? 1 : 0;
    }
    observed = s.statistic[0];
  };

  if (precision == Precision::kFloat64 || precision == Precision::kFloat32) {
    const SplitStatistics s =
        split_statistics(pooled, n, sigma, seed, columns, precision == Precision::kFloat64, provider);
    count_with(s);
    for (std::size_t c = 1; c < columns.size(); ++c) diag.ties += s.tie[c];
  } else {
    const SplitStatistics s32 = split_statistics(pooled, n, sigma, seed, columns, false, provider);
    const double band = kCandidateTolerance * s32.mean_kernel / to_double(std::min(n, m));
    diag.band = band;
    // Re-evaluated in float64: the observed split, candidates near it, a few probes.
    std::vector<std::size_t> recheck{0};
    std::size_t probes = 0;
    for (std::size_t c = 1; c < columns.size(); ++c) {
      if (s32.tie[c] != 0) {
        ++diag.ties;
        exceeds[c] = 1;
        continue;
      }
      const bool candidate = std::fabs(s32.statistic[c] - s32.statistic[0]) <= band;
      if (candidate || probes < kProbeColumns) {
        if (!candidate) ++probes;
        recheck.push_back(c);
      }
      exceeds[c] = s32.statistic[c] >= s32.statistic[0] ? 1 : 0;
    }
    std::vector<std::int64_t> recheck_columns;
    recheck_columns.reserve(recheck.size());
    for (const std::size_t c : recheck) recheck_columns.push_back(columns[c]);
    const SplitStatistics s64 =
        split_statistics(pooled, n, sigma, seed, recheck_columns, true, provider);
    diag.rechecked = recheck.size() - 1;
    for (std::size_t r = 0; r < recheck.size(); ++r) {
      const double error = std::fabs(s32.statistic[recheck[r]] - s64.statistic[r]);
      diag.max_float32_error = std::max(diag.max_float32_error, error / band);
    }
    if (!(diag.max_float32_error <= 0.25)) {
      // The float32 error is larger than the band assumes: evaluate everything in float64.
      diag.fell_back = true;
      const SplitStatistics full = split_statistics(pooled, n, sigma, seed, columns, true, provider);
      count_with(full);
    } else {
      const double tolerance = kTieTolerance * s64.mean_kernel;
      for (std::size_t r = 1; r < recheck.size(); ++r) {
        exceeds[recheck[r]] = s64.statistic[r] >= s64.statistic[0] - tolerance ? 1 : 0;
      }
      observed = s64.statistic[0];
    }
  }

  std::size_t count = 0;
  for (std::size_t c = 1; c < columns.size(); ++c) count += exceeds[c];
  MmdResult result;
  result.statistic = observed;
  result.p_value = (1.0 + to_double(count)) / (1.0 + to_double(permutations));
  result.permutations = permutations;
  result.sigma = sigma;
  result.reference_rows = n;
  result.current_rows = m;
  if (diagnostics != nullptr) *diagnostics = diag;
  return result;
}

}  // namespace mmd_detail

// -------------------------------------------------------------------------------------------------
// mmd.h

double median_heuristic_sigma(const RowMatrixF& rows) {
  const std::size_t count = to_size(rows.rows());
  if (count < 2) throw InputError("MMD median heuristic: needs at least 2 rows");
  const std::size_t pairs = count * (count - 1) / 2;
  const Index d = rows.cols();
  const RowMatrix<double> x = rows.cast<double>();
  std::vector<double> distances(pairs);
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, count - 1, 16),
                    [&](const tbb::blocked_range<std::size_t>& range) {
                      for (std::size_t i = range.begin(); i != range.end(); ++i) {
                        // Pairs (i, j > i) start after the rows above i: sum_{r<i} (count-1-r).
                        std::size_t offset = i * (count - 1) - i * (i - 1) / 2;
                        const double* xi = x.row(to_index(i)).data();
                        for (std::size_t j = i + 1; j < count; ++j, ++offset) {
                          const double* xj = x.row(to_index(j)).data();
                          double s = 0.0;
                          for (Index k = 0; k < d; ++k) {
                            const double diff = xi[k] - xj[k];
                            s += diff * diff;
                          }
                          distances[offset] = s;
                        }
                      }
                    });
  // The lower median: the ceil(P/2)-th smallest of the P squared distances.
  const std::size_t k = (pairs + 1) / 2 - 1;
  std::nth_element(distances.begin(), distances.begin() + static_cast<std::ptrdiff_t>(k),
                   distances.end());
  return std::sqrt(0.5 * distances[k]);
}

double mmd2_unbiased(const RowMatrixF& x, const RowMatrixF& y, double sigma) {
  if (x.cols() != y.cols()) throw InputError("MMD: samples with different feature counts");
  if (x.rows() < 2 || y.rows() < 2) throw InputError("MMD: each sample needs at least 2 rows");
  check_sigma(sigma);
  check_rows_fit(to_size(x.rows() + y.rows()));
  const RowMatrixF pooled = pool(x, y);
  mmd_detail::Indicators a = mmd_detail::Indicators::Zero(pooled.rows(), 1);
  a.topRows(x.rows()).setOnes();
  const mmd_detail::BatchedSums sums = mmd_detail::batched_sums_float64(pooled, sigma, a);
  return mmd_detail::statistic_from_sums(sums.within[0], sums.cross[0], sums.total,
                                         to_size(x.rows()), to_size(y.rows()));
}

MmdReference build_mmd_reference(const SampleView& reference, const MmdOptions& options) {
  const SelectedColumns selected = select_columns(reference, options.features, "reference");
  std::vector<std::size_t> rows = complete_rows(selected);
  const std::size_t d = selected.columns.size();

  MmdReference out;
  out.features = selected.names;
  out.rows_available = rows.size();
  if (rows.size() < 2) {
    throw InputError("MMD reference: " + std::to_string(rows.size()) +
                     " rows without missing values in the selected features; need at least 2");
  }
  out.mean.assign(d, 0.0);
  out.scale.assign(d, 1.0);
  if (options.standardize) {
    for (std::size_t k = 0; k < d; ++k) {
      const std::span<const float> values = selected.columns[k]->values;
      float lo = values[rows.front()];
      float hi = lo;
      CompensatedSum sum;
      for (const std::size_t r : rows) {
        lo = std::min(lo, values[r]);
        hi = std::max(hi, values[r]);
        sum.add(static_cast<double>(values[r]));
      }
      if (lo == hi) {  // constant: only centered (exactly, on its value)
        out.mean[k] = static_cast<double>(lo);
        continue;
      }
      const double mean = sum.value() / to_double(rows.size());
      CompensatedSum squares;
      for (const std::size_t r : rows) {
        const double diff = static_cast<double>(values[r]) - mean;
        squares.add(diff * diff);
      }
      const double sd = std::sqrt(squares.value() / to_double(rows.size()));
      out.mean[k] = mean;
      if (sd > 0.0 && std::isfinite(sd)) out.scale[k] = sd;
    }
  }

  subsample(rows, options.seed, random::Stream::kReferenceSubsample, options.max_rows);
  if (rows.size() < 2) {
    throw InputError("MMD reference: max_rows = " + std::to_string(options.max_rows) +
                     " leaves fewer than 2 rows");
  }
  check_rows_fit(rows.size());
  out.rows = transform_rows(selected, rows, out.mean, out.scale);

  if (options.sigma) {
    check_sigma(*options.sigma);
    out.sigma = *options.sigma;
  } else {
    const std::size_t used = to_size(out.rows.rows());
    if (options.sigma_rows < 2) throw InputError("MMD reference: sigma_rows must be at least 2");
    if (used > options.sigma_rows) {
      const std::vector<std::uint32_t> chosen = random::sample_indices(
          options.seed, random::Stream::kSigmaSubsample, used, options.sigma_rows);
      RowMatrixF subset(to_index(chosen.size()), out.rows.cols());
      for (std::size_t r = 0; r < chosen.size(); ++r) {
        subset.row(to_index(r)) = out.rows.row(to_index(chosen[r]));
      }
      out.sigma = median_heuristic_sigma(subset);
    } else {
      out.sigma = median_heuristic_sigma(out.rows);
    }
    if (!(out.sigma > 0.0) || !std::isfinite(out.sigma)) {
      throw InputError(
          "MMD reference: the median heuristic gives sigma = 0 (at least half of the row pairs "
          "are identical); set a fixed sigma");
    }
  }

  mmd_detail::Indicators ones = mmd_detail::Indicators::Ones(out.rows.rows(), 1);
  out.reference_kernel_sum = mmd_detail::batched_sums_float64(out.rows, out.sigma, ones).total;
  return out;
}

RowMatrixF prepare_current(const MmdReference& reference, const SampleView& current,
                           std::uint64_t seed, std::size_t max_rows) {
  const std::size_t d = reference.features.size();
  if (reference.mean.size() != d || reference.scale.size() != d ||
      to_size(reference.rows.cols()) != d) {
    throw InputError("MMD: the reference has inconsistent feature counts");
  }
  const SelectedColumns selected = select_columns(current, reference.features, "current window");
  std::vector<std::size_t> rows = complete_rows(selected);
  subsample(rows, seed, random::Stream::kCurrentSubsample, max_rows);
  return transform_rows(selected, rows, reference.mean, reference.scale);
}

MmdResult mmd_permutation_test(const MmdReference& reference, const RowMatrixF& current,
                               std::size_t permutations, std::uint64_t seed) {
  return mmd_detail::permutation_test(reference.rows, current, reference.sigma, permutations, seed,
                                      mmd_detail::Precision::kValidated);
}

}  // namespace drift
