#include "drift/detectors/mmd.h"

#include <tbb/global_control.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "drift/detectors/column.h"
#include "drift/detectors/random.h"
#include "golden.h"
#include "mmd_tiles.h"

namespace {

using drift::RowMatrixF;
using drift::mmd_detail::Precision;

/// Owns the values behind a SampleView.
struct OwnedSample {
  std::vector<std::vector<float>> values;
  std::vector<std::vector<std::uint32_t>> codes;
  std::vector<std::string> dictionary{"a", "b"};
  drift::SampleView view;

  void add_numeric(const std::string& name, std::vector<float> column) {
    values.push_back(std::move(column));
    rebuild_later.push_back({name, drift::FeatureKind::kNumeric, values.size() - 1});
  }
  void add_categorical(const std::string& name, std::vector<std::uint32_t> column) {
    codes.push_back(std::move(column));
    rebuild_later.push_back({name, drift::FeatureKind::kCategorical, codes.size() - 1});
  }
  /// Call after the last add_*: spans into `values` are taken here.
  const drift::SampleView& finish() {
    view.columns.clear();
    for (const auto& [name, kind, index] : rebuild_later) {
      drift::ColumnView column;
      column.name = name;
      column.kind = kind;
      if (kind == drift::FeatureKind::kNumeric) {
        column.values = values[index];
      } else {
        column.codes = codes[index];
        column.dictionary = dictionary;
      }
      view.columns.push_back(column);
    }
    return view;
  }

 private:
  struct Pending {
    std::string name;
    drift::FeatureKind kind;
    std::size_t index;
  };
  std::vector<Pending> rebuild_later;
};

OwnedSample golden_sample(const nlohmann::json& columns) {
  OwnedSample sample;
  for (const auto& column : columns) {
    sample.add_numeric(column.at("name").get<std::string>(),
                       drift::test::decode_floats(column.at("values").get<std::string>()));
  }
  sample.finish();
  return sample;
}

drift::MmdOptions golden_options(const nlohmann::json& o) {
  drift::MmdOptions options;
  options.features = o.at("features").get<std::vector<std::string>>();
  options.standardize = o.at("standardize").get<bool>();
  options.max_rows = o.at("max_rows").get<std::size_t>();
  if (!o.at("sigma").is_null()) options.sigma = o.at("sigma").get<double>();
  options.sigma_rows = o.at("sigma_rows").get<std::size_t>();
  options.seed = o.at("seed").get<std::uint64_t>();
  return options;
}

/// Standard normal rows from SplitMix64 (Box-Muller), shifted by `shift` in every feature.
RowMatrixF normal_rows(std::size_t rows, std::size_t d, std::uint64_t seed, double shift = 0.0) {
  auto rng =
      drift::random::SplitMix64::for_stream(seed, drift::random::Stream::kPermutation, 0xDA7A);
  const auto uniform = [&rng] { return (static_cast<double>(rng.next() >> 11) + 0.5) * 0x1.0p-53; };
  RowMatrixF x(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(d));
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (Eigen::Index k = 0; k < x.cols(); ++k) {
      const double radius = std::sqrt(-2.0 * std::log(uniform()));
      x(i, k) = static_cast<float>(radius * std::cos(6.283185307179586 * uniform()) + shift);
    }
  }
  return x;
}

OwnedSample sample_from_rows(const RowMatrixF& rows) {
  OwnedSample sample;
  for (Eigen::Index k = 0; k < rows.cols(); ++k) {
    std::vector<float> column(static_cast<std::size_t>(rows.rows()));
    for (Eigen::Index i = 0; i < rows.rows(); ++i) column[static_cast<std::size_t>(i)] = rows(i, k);
    std::string name = "f";
    name += std::to_string(k);  // (not "f" + ...: GCC 12 -Wrestrict false positive at -O3)
    sample.add_numeric(name, std::move(column));
  }
  sample.finish();
  return sample;
}

/// Direct float64 double loop: sum over i != j of k(z_i, z_j) restricted by masks.
double brute_sum(const RowMatrixF& z, double sigma, const std::vector<int>& left,
                 const std::vector<int>& right) {
  double total = 0.0;
  for (Eigen::Index i = 0; i < z.rows(); ++i) {
    for (Eigen::Index j = 0; j < z.rows(); ++j) {
      if (i == j || left[static_cast<std::size_t>(i)] == 0 ||
          right[static_cast<std::size_t>(j)] == 0) {
        continue;
      }
      const double d2 = (z.row(i).cast<double>() - z.row(j).cast<double>()).squaredNorm();
      total += std::exp(-d2 / (2.0 * sigma * sigma));
    }
  }
  return total;
}

/// Selects a float32 kernel for the scope of a test section.
class KernelChoice {
 public:
  explicit KernelChoice(drift::mmd_detail::Float32Kernel kernel) {
    REQUIRE(drift::mmd_detail::set_float32_kernel(kernel));
  }
  ~KernelChoice() {
    drift::mmd_detail::set_float32_kernel(drift::mmd_detail::Float32Kernel::kAuto);
  }
  KernelChoice(const KernelChoice&) = delete;
  KernelChoice& operator=(const KernelChoice&) = delete;
};

/// The float32 kernels this machine can run (the AVX-512 one only where the CPU has it).
std::vector<drift::mmd_detail::Float32Kernel> float32_kernels() {
  std::vector<drift::mmd_detail::Float32Kernel> kernels{
      drift::mmd_detail::Float32Kernel::kPortable};
  if (drift::mmd_detail::avx512_kernel_available()) {
    kernels.push_back(drift::mmd_detail::Float32Kernel::kAvx512);
  }
  return kernels;
}

const char* kernel_name(drift::mmd_detail::Float32Kernel kernel) {
  return kernel == drift::mmd_detail::Float32Kernel::kAvx512 ? "avx512" : "portable";
}

bool statistic_close(double actual, double expected) {
  return drift::test::close_rel(actual, expected, 1e-4, 1e-7) &&
         (std::fabs(expected) >= 1e-3 || std::fabs(actual - expected) <= 1e-7);
}

}  // namespace

TEST_CASE("MMD matches the numpy reference on every golden case", "[mmd][unit]") {
  const auto golden = drift::test::load_golden("mmd.json");
  REQUIRE(golden.at("tie_tolerance").get<double>() == drift::mmd_detail::kTieTolerance);
  for (const auto& c : golden.at("cases")) {
    const std::string name = c.at("name").get<std::string>();
    INFO("case: " << name);
    const auto& expected = c.at("expected");
    OwnedSample reference = golden_sample(c.at("reference"));
    OwnedSample current = golden_sample(c.at("current"));
    const drift::MmdOptions options = golden_options(c.at("options"));
    const auto permutations = c.at("options").at("permutations").get<std::size_t>();

    const drift::MmdReference ref = drift::build_mmd_reference(reference.view, options);
    CHECK(ref.features == expected.at("features").get<std::vector<std::string>>());
    const auto mean = expected.at("mean").get<std::vector<double>>();
    const auto scale = expected.at("scale").get<std::vector<double>>();
    REQUIRE(ref.mean.size() == mean.size());
    for (std::size_t k = 0; k < mean.size(); ++k) {
      CHECK(drift::test::close_rel(ref.mean[k], mean[k], 1e-12, 1e-300));
      CHECK(drift::test::close_rel(ref.scale[k], scale[k], 1e-12));
    }
    CHECK(ref.rows_available == expected.at("rows_available").get<std::size_t>());
    CHECK(static_cast<std::size_t>(ref.rows.rows()) ==
          expected.at("reference_rows").get<std::size_t>());
    CHECK(drift::test::close_rel(ref.sigma, expected.at("sigma").get<double>(), 1e-4));
    CHECK(drift::test::close_rel(ref.reference_kernel_sum,
                                 expected.at("reference_kernel_sum").get<double>(), 1e-9));

    const RowMatrixF cur =
        drift::prepare_current(ref, current.view, options.seed, options.max_rows);
    CHECK(static_cast<std::size_t>(cur.rows()) == expected.at("current_rows").get<std::size_t>());

    const drift::MmdResult result =
        drift::mmd_permutation_test(ref, cur, permutations, options.seed);
    const double statistic = expected.at("statistic").get<double>();
    INFO("statistic " << result.statistic << " expected " << statistic);
    CHECK(statistic_close(result.statistic, statistic));
    CHECK(result.p_value == expected.at("p_value").get<double>());
    CHECK(result.permutations == permutations);
    CHECK(result.sigma == ref.sigma);
    CHECK(result.reference_rows == static_cast<std::size_t>(ref.rows.rows()));
    CHECK(result.current_rows == static_cast<std::size_t>(cur.rows()));

    // The float64 statistic agrees with the direct computation far below the tolerance.
    CHECK(drift::test::close_rel(drift::mmd2_unbiased(ref.rows, cur, ref.sigma), statistic, 1e-9,
                                 1e-13));
  }
}

TEST_CASE("the float32 and float64 tile paths give the golden p-values for any tile size",
          "[mmd][unit]") {
  const auto golden = drift::test::load_golden("mmd.json");
  for (const auto& c : golden.at("cases")) {
    const std::string name = c.at("name").get<std::string>();
    const auto& expected = c.at("expected");
    OwnedSample reference = golden_sample(c.at("reference"));
    OwnedSample current = golden_sample(c.at("current"));
    const drift::MmdOptions options = golden_options(c.at("options"));
    const auto permutations = c.at("options").at("permutations").get<std::size_t>();
    const drift::MmdReference ref = drift::build_mmd_reference(reference.view, options);
    const RowMatrixF cur =
        drift::prepare_current(ref, current.view, options.seed, options.max_rows);
    const std::size_t pooled = static_cast<std::size_t>(ref.rows.rows() + cur.rows());
    // Tiles smaller than N and not dividing it, exactly N / 2 when even, larger than N.
    const std::vector<std::size_t> tiles{7, 64, pooled / 2 + pooled % 2, 512, 4096};
    // Exact ties between different splits (duplicate rows) are where float32 alone may
    // break ties the wrong way: only the validated and float64 paths must match there.
    const bool exact_value_ties = expected.at("value_ties").get<int>() > 0;
    for (const auto kernel : float32_kernels()) {
      const KernelChoice choice(kernel);
      for (const std::size_t tile : tiles) {
        INFO("case: " << name << ", N = " << pooled << ", tile " << tile << ", float32 kernel "
                      << kernel_name(kernel));
        drift::mmd_detail::Diagnostics diagnostics;
        const auto f64 = drift::mmd_detail::permutation_test(
            ref.rows, cur, ref.sigma, permutations, options.seed, Precision::kFloat64, tile);
        const auto f32 = drift::mmd_detail::permutation_test(
            ref.rows, cur, ref.sigma, permutations, options.seed, Precision::kFloat32, tile);
        const auto validated = drift::mmd_detail::permutation_test(
            ref.rows, cur, ref.sigma, permutations, options.seed, Precision::kValidated, tile,
            &diagnostics);
        CHECK(f64.p_value == expected.at("p_value").get<double>());
        CHECK(validated.p_value == expected.at("p_value").get<double>());
        if (!exact_value_ties) CHECK(f32.p_value == expected.at("p_value").get<double>());
        CHECK(drift::test::close_rel(validated.statistic, f64.statistic, 1e-12, 1e-15));
        CHECK(statistic_close(f32.statistic, expected.at("statistic").get<double>()));
        CHECK(diagnostics.ties == expected.at("ties").get<std::size_t>());
        CHECK_FALSE(diagnostics.fell_back);
        CHECK(diagnostics.max_float32_error <= 0.25);
        if (exact_value_ties) CHECK(diagnostics.rechecked > 0);
      }
    }
  }
}

TEST_CASE("the batched sums equal a direct double loop for every split and tile size",
          "[mmd][unit]") {
  const RowMatrixF z = normal_rows(150, 3, 17);
  const double sigma = 1.3;
  constexpr Eigen::Index kColumns = 70;  // more than one 64-column group of the AVX-512 kernel
  drift::mmd_detail::Indicators a = drift::mmd_detail::Indicators::Zero(z.rows(), kColumns);
  auto rng = drift::random::SplitMix64(4242);
  for (Eigen::Index c = 0; c < kColumns; ++c) {
    for (Eigen::Index i = 0; i < z.rows(); ++i) a(i, c) = rng.bounded(3) == 0 ? 1 : 0;
  }
  a.col(0).setZero();  // an empty part
  a.col(kColumns - 1).setOnes();
  std::vector<int> all(static_cast<std::size_t>(z.rows()), 1);
  const double total = brute_sum(z, sigma, all, all);
  std::vector<double> within(kColumns);
  std::vector<double> cross(kColumns);
  for (Eigen::Index c = 0; c < kColumns; ++c) {
    std::vector<int> in(all.size());
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = a(static_cast<Eigen::Index>(i), c);
    within[static_cast<std::size_t>(c)] = brute_sum(z, sigma, in, in);
    cross[static_cast<std::size_t>(c)] = brute_sum(z, sigma, in, all);
  }
  for (const auto kernel : float32_kernels()) {
    const KernelChoice choice(kernel);
    for (const std::size_t tile :
         {std::size_t{1}, std::size_t{7}, std::size_t{50}, std::size_t{150}, std::size_t{512}}) {
      INFO("tile " << tile << ", float32 kernel " << kernel_name(kernel));
      const auto f64 = drift::mmd_detail::batched_sums_float64(z, sigma, a, tile);
      const auto f32 = drift::mmd_detail::batched_sums_float32(z, sigma, a, tile);
      CHECK(f64.total == Approx(total).epsilon(1e-12));
      CHECK(f32.total == Approx(total).epsilon(1e-5));
      for (std::size_t c = 0; c < within.size(); ++c) {
        CHECK(f64.within[c] == Approx(within[c]).epsilon(1e-12).margin(1e-12));
        CHECK(f64.cross[c] == Approx(cross[c]).epsilon(1e-12).margin(1e-12));
        CHECK(f32.within[c] == Approx(within[c]).epsilon(1e-5).margin(1e-5));
        CHECK(f32.cross[c] == Approx(cross[c]).epsilon(1e-5).margin(1e-5));
      }
    }
  }
}

TEST_CASE("the p-value does not depend on the thread count and repeats run to run", "[mmd][unit]") {
  const RowMatrixF x = normal_rows(700, 4, 1);
  const RowMatrixF y = normal_rows(650, 4, 2, 0.05);
  const double sigma = drift::median_heuristic_sigma(x);
  const auto run = [&](Precision precision, std::size_t tile) {
    return drift::mmd_detail::permutation_test(x, y, sigma, 200, 77, precision, tile);
  };
  for (const auto kernel : float32_kernels()) {
    const KernelChoice choice(kernel);
    for (const Precision precision :
         {Precision::kValidated, Precision::kFloat32, Precision::kFloat64}) {
      for (const std::size_t tile : {std::size_t{96}, drift::mmd_detail::kDefaultTile}) {
        INFO("precision " << static_cast<int>(precision) << ", tile " << tile << ", float32 kernel "
                          << kernel_name(kernel));
        const drift::MmdResult baseline = run(precision, tile);
        CHECK(run(precision, tile).statistic == baseline.statistic);
        for (const std::size_t threads : {std::size_t{1}, std::size_t{2}, std::size_t{3}}) {
          tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
          const drift::MmdResult r = run(precision, tile);
          CHECK(r.statistic == baseline.statistic);
          CHECK(r.p_value == baseline.p_value);
        }
      }
    }
  }
  // And through the public API.
  drift::MmdReference ref;
  ref.rows = x;
  ref.sigma = sigma;
  const drift::MmdResult first = drift::mmd_permutation_test(ref, y, 300, 5);
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
    const drift::MmdResult single = drift::mmd_permutation_test(ref, y, 300, 5);
    CHECK(single.p_value == first.p_value);
    CHECK(single.statistic == first.statistic);
  }
  CHECK(drift::mmd_permutation_test(ref, y, 300, 5).p_value == first.p_value);
}

TEST_CASE("under no drift the false-alarm rate stays within the binomial bound", "[mmd][unit]") {
  constexpr std::size_t kTrials = 500;
  constexpr double kAlpha = 0.05;
  std::size_t alarms = 0;
  double p_sum = 0.0;
  for (std::size_t trial = 0; trial < kTrials; ++trial) {
    OwnedSample reference = sample_from_rows(normal_rows(40, 3, 1000 + 2 * trial));
    OwnedSample current = sample_from_rows(normal_rows(40, 3, 1001 + 2 * trial));
    drift::MmdOptions options;
    options.seed = trial;
    const drift::MmdReference ref = drift::build_mmd_reference(reference.view, options);
    const RowMatrixF cur = drift::prepare_current(ref, current.view, trial, options.max_rows);
    const drift::MmdResult r = drift::mmd_permutation_test(ref, cur, 100, trial);
    alarms += r.p_value < kAlpha ? 1 : 0;
    p_sum += r.p_value;
  }
  const double rate = static_cast<double>(alarms) / kTrials;
  const double bound = kAlpha + 3.0 * std::sqrt(kAlpha * (1.0 - kAlpha) / kTrials);
  INFO("false-alarm rate " << rate << ", bound " << bound << ", mean p " << p_sum / kTrials);
  CHECK(rate <= bound);
  CHECK(p_sum / kTrials == Approx(0.5).margin(0.08));  // p is uniform under the null
}

TEST_CASE("under a mean shift the power rises with the sample size", "[mmd][unit]") {
  const auto power = [](std::size_t rows) {
    constexpr std::size_t kTrials = 100;
    std::size_t detected = 0;
    for (std::size_t trial = 0; trial < kTrials; ++trial) {
      OwnedSample reference = sample_from_rows(normal_rows(rows, 3, 5000 + 2 * trial));
      OwnedSample current = sample_from_rows(normal_rows(rows, 3, 5001 + 2 * trial, 0.4));
      drift::MmdOptions options;
      options.seed = trial;
      const drift::MmdReference ref = drift::build_mmd_reference(reference.view, options);
      const RowMatrixF cur = drift::prepare_current(ref, current.view, trial, options.max_rows);
      detected += drift::mmd_permutation_test(ref, cur, 100, trial).p_value < 0.05 ? 1 : 0;
    }
    return static_cast<double>(detected) / kTrials;
  };
  const double small = power(20);
  const double large = power(80);
  INFO("power with 20 + 20 rows " << small << ", with 80 + 80 rows " << large);
  CHECK(large > small + 0.2);
  CHECK(large >= 0.8);
}

TEST_CASE("the median heuristic takes the lower median of the squared distances", "[mmd][unit]") {
  RowMatrixF three(3, 1);
  three << 0.0F, 1.0F, 3.0F;  // squared distances 1, 9, 4: the 2nd smallest is 4
  CHECK(drift::median_heuristic_sigma(three) == Approx(std::sqrt(2.0)).epsilon(1e-15));
  RowMatrixF four(4, 1);
  four << 0.0F, 1.0F, 3.0F, 7.0F;  // 1, 9, 49, 4, 36, 16: the 3rd smallest is 9, not 12.5
  CHECK(drift::median_heuristic_sigma(four) == Approx(std::sqrt(4.5)).epsilon(1e-15));
  RowMatrixF two(2, 2);
  two << 0.0F, 0.0F, 3.0F, 4.0F;
  CHECK(drift::median_heuristic_sigma(two) == Approx(std::sqrt(12.5)).epsilon(1e-15));
  CHECK_THROWS_AS(drift::median_heuristic_sigma(RowMatrixF(1, 2)), drift::InputError);
}

TEST_CASE("mmd2_unbiased equals the formula evaluated by hand", "[mmd][unit]") {
  RowMatrixF x(2, 1);
  x << 0.0F, 1.0F;
  RowMatrixF y(3, 1);
  y << 0.0F, 2.0F, 3.0F;
  const double sigma = 1.5;
  const auto k = [sigma](double a, double b) {
    return std::exp(-(a - b) * (a - b) / (2.0 * sigma * sigma));
  };
  const double xx = 2.0 * k(0, 1) / 2.0;
  const double yy = 2.0 * (k(0, 2) + k(0, 3) + k(2, 3)) / 6.0;
  const double xy = (k(0, 0) + k(0, 2) + k(0, 3) + k(1, 0) + k(1, 2) + k(1, 3)) / 6.0;
  REQUIRE(std::fabs(xx + yy - 2.0 * xy) > 0.01);
  CHECK(drift::mmd2_unbiased(x, y, sigma) == Approx(xx + yy - 2.0 * xy).epsilon(1e-14));
  CHECK(drift::mmd2_unbiased(x, x, sigma) == Approx(k(0, 1) - 1.0).epsilon(1e-14));
  CHECK_THROWS_AS(drift::mmd2_unbiased(x, RowMatrixF(1, 1), sigma), drift::InputError);
  CHECK_THROWS_AS(drift::mmd2_unbiased(x, y, 0.0), drift::InputError);
}

TEST_CASE("features default to every numeric column in order and bad ones are rejected",
          "[mmd][unit]") {
  OwnedSample sample;
  sample.add_numeric("a", {1.0F, 2.0F, 3.0F, 4.0F});
  sample.add_categorical("colour", {0, 1, 0, 1});
  sample.add_numeric("b", {0.5F, -1.0F, 2.0F, 0.0F});
  sample.finish();

  const drift::MmdReference all = drift::build_mmd_reference(sample.view, {});
  CHECK(all.features == std::vector<std::string>{"a", "b"});
  CHECK(all.rows.cols() == 2);

  drift::MmdOptions unknown;
  unknown.features = {"a", "nope"};
  CHECK_THROWS_WITH(drift::build_mmd_reference(sample.view, unknown),
                    Catch::Contains("nope") && Catch::Contains("not found"));
  drift::MmdOptions categorical;
  categorical.features = {"colour"};
  CHECK_THROWS_WITH(drift::build_mmd_reference(sample.view, categorical),
                    Catch::Contains("colour") && Catch::Contains("categorical"));
  CHECK_THROWS_AS(drift::build_mmd_reference(sample.view, categorical), drift::InputError);

  OwnedSample current;
  current.add_numeric("b", {1.0F, 2.0F});
  current.finish();
  CHECK_THROWS_WITH(drift::prepare_current(all, current.view, 0, 100),
                    Catch::Contains("'a'") && Catch::Contains("not found"));
}

TEST_CASE("fewer than two complete rows is an input error", "[mmd][unit]") {
  const float nan = std::nanf("");
  OwnedSample sample;
  sample.add_numeric("a", {1.0F, nan, 3.0F});
  sample.add_numeric("b", {1.0F, 2.0F, INFINITY});
  sample.finish();
  CHECK_THROWS_AS(drift::build_mmd_reference(sample.view, {}), drift::InputError);

  drift::MmdOptions tiny;
  tiny.max_rows = 1;
  OwnedSample enough = sample_from_rows(normal_rows(5, 2, 3));
  CHECK_THROWS_AS(drift::build_mmd_reference(enough.view, tiny), drift::InputError);

  const drift::MmdReference ref = drift::build_mmd_reference(enough.view, {});
  CHECK_THROWS_AS(drift::mmd_permutation_test(ref, RowMatrixF(1, 2), 10, 0), drift::InputError);
  CHECK_THROWS_AS(drift::mmd_permutation_test(ref, normal_rows(4, 3, 1), 10, 0), drift::InputError);
}

TEST_CASE("subsamples are seeded and cap the rows on both sides", "[mmd][unit]") {
  OwnedSample reference = sample_from_rows(normal_rows(300, 2, 8));
  OwnedSample current = sample_from_rows(normal_rows(250, 2, 9));
  drift::MmdOptions options;
  options.max_rows = 120;
  options.sigma_rows = 50;
  options.seed = 31;
  const drift::MmdReference a = drift::build_mmd_reference(reference.view, options);
  const drift::MmdReference b = drift::build_mmd_reference(reference.view, options);
  CHECK(a.rows_available == 300);
  CHECK(a.rows.rows() == 120);
  CHECK(a.rows == b.rows);
  CHECK(a.sigma == b.sigma);
  // The rows used are the seeded sample of the standardized rows, in ascending order.
  const auto chosen =
      drift::random::sample_indices(31, drift::random::Stream::kReferenceSubsample, 300, 120);
  const float first = reference.values[0][chosen[0]];
  CHECK(a.rows(0, 0) == static_cast<float>((static_cast<double>(first) - a.mean[0]) / a.scale[0]));

  const RowMatrixF cur = drift::prepare_current(a, current.view, 31, 120);
  CHECK(cur.rows() == 120);
  CHECK(drift::prepare_current(a, current.view, 31, 1000).rows() == 250);
  CHECK_FALSE(drift::prepare_current(a, current.view, 32, 120) == cur);
}

TEST_CASE("a p-value is never zero and no permutations give p = 1", "[mmd][unit]") {
  const RowMatrixF x = normal_rows(30, 2, 1);
  const RowMatrixF y = normal_rows(30, 2, 2, 5.0);
  drift::MmdReference ref;
  ref.rows = x;
  ref.sigma = 1.0;
  const drift::MmdResult shifted = drift::mmd_permutation_test(ref, y, 99, 0);
  CHECK(shifted.p_value == Approx(0.01));
  CHECK(shifted.statistic > 0.5);
  const drift::MmdResult none = drift::mmd_permutation_test(ref, y, 0, 0);
  CHECK(none.p_value == 1.0);
  CHECK(none.permutations == 0);
  CHECK(none.statistic == shifted.statistic);
}
