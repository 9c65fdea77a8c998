// Backend selection, the GPU backend's host logic (index math, fallback, the finishing of
// device counts into statistics) without a device, and [gpu] parity against the CPU backend
// on a device. Without a device the [gpu] cases say so (WARN) and pass.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <type_traits>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "device_engine.h"
#include "drift/detectors/backend.h"
#include "drift/detectors/reference_profile.h"
#include "drift/gpu/gpu_backend.h"
#include "gpu_backend_impl.h"
#include "tiling.h"

using drift::gpu::BackendChoice;
namespace tiling = drift::gpu::tiling;
namespace detail = drift::gpu::detail;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

/// Owns the columns behind a SampleView.
struct Table {
  std::vector<std::string> names;
  std::vector<std::vector<float>> numeric;
  std::vector<std::vector<std::uint32_t>> codes;
  std::vector<std::string> dictionary{"a", "b", "c", "d"};

  drift::SampleView view() const {
    drift::SampleView v;
    for (std::size_t k = 0; k < numeric.size(); ++k) {
      drift::ColumnView c;
      c.name = names[k];
      c.kind = drift::FeatureKind::kNumeric;
      c.values = numeric[k];
      v.columns.push_back(c);
    }
    for (std::size_t k = 0; k < codes.size(); ++k) {
      drift::ColumnView c;
      c.name = "cat" + std::to_string(k);
      c.kind = drift::FeatureKind::kCategorical;
      c.codes = codes[k];
      c.dictionary = dictionary;
      v.columns.push_back(c);
    }
    return v;
  }
};

/// Numeric columns: a normal one, a tied one (rounded), one with NaN/Inf, a constant one; and a
/// categorical column. `shift` moves the normal columns.
Table make_table(std::size_t rows, std::uint32_t seed, float shift) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(shift, 1.0f);
  Table t;
  t.names = {"normal", "ties", "missing", "constant"};
  t.numeric.assign(4, std::vector<float>(rows));
  t.codes.assign(1, std::vector<std::uint32_t>(rows));
  for (std::size_t r = 0; r < rows; ++r) {
    t.numeric[0][r] = normal(rng);
    t.numeric[1][r] = std::round(normal(rng) * 2.0f) / 2.0f;
    const float x = normal(rng);
    t.numeric[2][r] = r % 7 == 3 ? kNaN : (r % 11 == 5 ? std::numeric_limits<float>::infinity() : x);
    t.numeric[3][r] = 1.5f;
    t.codes[0][r] = r % 13 == 0 ? drift::kMissingCode : static_cast<std::uint32_t>(rng() % 4);
  }
  // Never all missing: a window of one row keeps its value.
  if (rows > 0) {
    t.numeric[2][0] = 0.25f;
    t.codes[0][0] = 1;
  }
  return t;
}

/// An Engine computed on the host by brute force from the semantics the kernels promise: lets
/// the backend's host side (finishing counts into statistics, MMD plumbing) run without CUDA.
class HostEngine final : public detail::Engine {
 public:
  std::string device_name() const override { return "host"; }
  void load_reference(std::uint64_t, const std::vector<detail::NumericReference>& f) override {
    reference_ = f;
  }
  // Keeps rows of the previous window of the same stream as the CUDA engine does, so the
  // backend's stream bookkeeping and the reuse plan are checked against whole uploads.
  void upload_window(const std::vector<const float*>& columns, const std::vector<std::size_t>& rows,
                     std::uint64_t stream, std::uint64_t end) override {
    std::vector<std::vector<float>> next(columns.size());
    for (std::size_t k = 0; k < columns.size(); ++k) {
      tiling::WindowReuse reuse;
      if (stream != 0 && stream == stream_ && k < window_.size()) {
        reuse = tiling::plan_window_reuse(end_, window_[k].size(), end, rows[k]);
      }
      next[k].assign(window_.empty() ? nullptr : window_[k].data() + reuse.from,
                     window_.empty() ? nullptr : window_[k].data() + reuse.from + reuse.kept);
      next[k].insert(next[k].end(), columns[k] + reuse.kept, columns[k] + rows[k]);
      uploaded_ += rows[k] - reuse.kept;
    }
    window_ = std::move(next);
    stream_ = stream;
    end_ = end;
  }
  std::uint64_t values_uploaded() const override { return uploaded_; }
  detail::NumericOutput run_numeric(bool ks, bool psi) override {
    detail::NumericOutput out;
    out.bin_offsets.push_back(0);
    for (std::size_t k = 0; k < window_.size(); ++k) {
      std::vector<float> c;
      for (const float x : window_[k]) {
        if (std::isfinite(x)) c.push_back(x);
      }
      out.finite.push_back(c.size());
      const auto& r = reference_[k];
      // Brute force over all pooled values: max |#{r <= x}·m - #{c <= x}·n|.
      std::int64_t best = 0;
      if (ks) {
        std::vector<float> pooled(c);
        pooled.insert(pooled.end(), r.sorted, r.sorted + r.rows);
        for (const float x : pooled) {
          std::int64_t cr = 0, cc = 0;
          for (std::size_t i = 0; i < r.rows; ++i) cr += r.sorted[i] <= x ? 1 : 0;
          for (const float y : c) cc += y <= x ? 1 : 0;
          best = std::max(best, std::abs(cr * static_cast<std::int64_t>(c.size()) -
                                         cc * static_cast<std::int64_t>(r.rows)));
        }
        out.ks_scaled.push_back(best);
      }
      std::vector<std::uint64_t> bins(r.edge_count + 1, 0);
      if (psi) {
        for (const float x : c) {
          std::size_t b = 0;
          for (std::size_t e = 0; e < r.edge_count; ++e) b += r.edges[e] < static_cast<double>(x) ? 1 : 0;
          ++bins[b];
        }
      }
      out.bin_counts.insert(out.bin_counts.end(), bins.begin(), bins.end());
      out.bin_offsets.push_back(out.bin_counts.size());
    }
    return out;
  }
  void load_pooled(const float* rows, std::size_t count, std::size_t dimensions) override {
    pooled_.assign(rows, rows + count * dimensions);
    rows_ = count;
    d_ = dimensions;
  }
  detail::MmdSums mmd_sums(double sigma, const std::vector<std::uint64_t>& bits,
                           std::size_t columns, bool) override {
    const std::size_t words = tiling::mmd_tiles(rows_);
    const auto bit = [&](std::size_t c, std::size_t i) {
      return (bits[c * words + i / 64] >> (i % 64)) & 1u;
    };
    detail::MmdSums s;
    s.within.assign(columns, 0.0);
    s.cross.assign(columns, 0.0);
    for (std::size_t i = 0; i < rows_; ++i) {
      for (std::size_t j = 0; j < rows_; ++j) {
        if (i == j) continue;
        double dist = 0.0;
        for (std::size_t q = 0; q < d_; ++q) {
          const double diff = double{pooled_[i * d_ + q]} - double{pooled_[j * d_ + q]};
          dist += diff * diff;
        }
        const double k = std::exp(-dist / (2.0 * sigma * sigma));
        s.total += k;
        for (std::size_t c = 0; c < columns; ++c) {
          if (bit(c, i) == 0) continue;
          s.cross[c] += k;
          if (bit(c, j) != 0) s.within[c] += k;
        }
      }
    }
    return s;
  }

 private:
  std::vector<detail::NumericReference> reference_;
  std::vector<std::vector<float>> window_;
  std::uint64_t stream_ = 0;
  std::uint64_t end_ = 0;
  std::uint64_t uploaded_ = 0;
  std::vector<float> pooled_;
  std::size_t rows_ = 0;
  std::size_t d_ = 0;
};

/// An Engine that fails like a device that ran out of memory.
class FailingEngine final : public detail::Engine {
 public:
  std::string device_name() const override { return "failing"; }
  void load_reference(std::uint64_t, const std::vector<detail::NumericReference>&) override {
    throw detail::DeviceError("CUDA error in cudaMalloc: out of memory");
  }
  void upload_window(const std::vector<const float*>&, const std::vector<std::size_t>&,
                     std::uint64_t, std::uint64_t) override {}
  std::uint64_t values_uploaded() const override { return 0; }
  detail::NumericOutput run_numeric(bool, bool) override { return {}; }
  void load_pooled(const float*, std::size_t, std::size_t) override {
    throw detail::DeviceError("CUDA error in cudaMalloc: out of memory");
  }
  detail::MmdSums mmd_sums(double, const std::vector<std::uint64_t>&, std::size_t, bool) override {
    return {};
  }
};

/// Rows [begin, begin + rows) of `t`: a count window over a stream that `t` holds.
Table slice(const Table& t, std::size_t begin, std::size_t rows) {
  Table out;
  out.names = t.names;
  out.dictionary = t.dictionary;
  const auto cut = [&](const auto& column) {
    using Column = std::decay_t<decltype(column)>;
    return Column(column.begin() + static_cast<std::ptrdiff_t>(begin),
                  column.begin() + static_cast<std::ptrdiff_t>(begin + rows));
  };
  for (const auto& column : t.numeric) out.numeric.push_back(cut(column));
  for (const auto& column : t.codes) out.codes.push_back(cut(column));
  return out;
}

drift::ReferenceProfile make_profile(const Table& t, bool mmd) {
  drift::ProfileOptions options;
  options.build_mmd = mmd;
  options.mmd.features = {"normal", "ties"};
  return drift::ReferenceProfile::build(t.view(), options);
}

/// Every statistic and decision of two results, exactly (KS, PSI) or within the MMD tolerance.
void require_same(const drift::EvaluationResult& gpu, const drift::EvaluationResult& cpu) {
  REQUIRE(gpu.features.size() == cpu.features.size());
  for (std::size_t k = 0; k < cpu.features.size(); ++k) {
    const auto& g = gpu.features[k];
    const auto& c = cpu.features[k];
    INFO("feature " << c.name);
    CHECK(g.rows_current == c.rows_current);
    CHECK(g.missing_current == c.missing_current);
    REQUIRE(g.ks.has_value() == c.ks.has_value());
    if (c.ks) {
      CHECK(g.ks->result.statistic == c.ks->result.statistic);
      CHECK(g.ks->result.p_value == c.ks->result.p_value);
      CHECK(g.ks->drift == c.ks->drift);
    }
    REQUIRE(g.psi.has_value() == c.psi.has_value());
    if (c.psi) {
      CHECK(std::fabs(g.psi->result.statistic - c.psi->result.statistic) <= 1e-9);
      CHECK(g.psi->result.current_proportions == c.psi->result.current_proportions);
      CHECK(g.psi->drift == c.psi->drift);
    }
    REQUIRE(g.chi2.has_value() == c.chi2.has_value());
    if (c.chi2) CHECK(g.chi2->result.statistic == c.chi2->result.statistic);
  }
  REQUIRE(gpu.mmd.has_value() == cpu.mmd.has_value());
  if (cpu.mmd) {
    const double a = gpu.mmd->result.statistic;
    const double b = cpu.mmd->result.statistic;
    const double tolerance = std::fabs(b) < 1e-3 ? 1e-7 : 1e-4 * std::fabs(b);
    CHECK(std::fabs(a - b) <= tolerance);
    CHECK(gpu.mmd->result.p_value == cpu.mmd->result.p_value);
  }
  CHECK(gpu.drift == cpu.drift);
}

drift::EvaluationConfig all_tests(bool mmd, std::size_t permutations) {
  drift::EvaluationConfig config;
  config.tests.mmd = mmd;
  config.mmd_permutations = permutations;
  config.seed = 7;
  return config;
}

}  // namespace

TEST_CASE("backend choice parses the three documented names", "[unit]") {
  CHECK(drift::gpu::parse_backend_choice("auto") == BackendChoice::kAuto);
  CHECK(drift::gpu::parse_backend_choice("cpu") == BackendChoice::kCpu);
  CHECK(drift::gpu::parse_backend_choice("gpu") == BackendChoice::kGpu);
  CHECK_THROWS_AS(drift::gpu::parse_backend_choice("tpu"), std::invalid_argument);
}

TEST_CASE("cpu selects the CPU backend and auto does without a device", "[unit]") {
  CHECK(drift::gpu::select_backend(BackendChoice::kCpu)->name() == "cpu");
  if (!drift::gpu::probe().available) {
    CHECK(drift::gpu::select_backend(BackendChoice::kAuto)->name() == "cpu");
  }
}

TEST_CASE("asking for the GPU backend without a device explains why", "[unit]") {
  const auto status = drift::gpu::probe();
  if (status.available) {
    WARN("a GPU is present (" << status.device_name << "): the no-device path is not exercised");
    return;
  }
  WARN("no GPU here: " << status.reason);
  try {
    (void)drift::gpu::select_backend(BackendChoice::kGpu);
    FAIL("expected BackendUnavailable");
  } catch (const drift::gpu::BackendUnavailable& e) {
    CHECK(std::string(e.what()).find("GPU backend unavailable: ") == 0);
  }
}

TEST_CASE("indicator bits pack rows into 64-row tile words, padding rows zero", "[unit]") {
  for (const std::size_t rows : {1u, 63u, 64u, 65u, 200u}) {
    const std::size_t columns = 3;
    std::vector<std::uint8_t> a(rows * columns);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = (i * 7 + i / 5) % 3 == 0 ? 1 : 0;
    const auto bits = tiling::pack_indicator_bits(a.data(), rows, columns);
    const std::size_t words = tiling::mmd_tiles(rows);
    REQUIRE(bits.size() == words * columns);
    for (std::size_t c = 0; c < columns; ++c) {
      for (std::size_t i = 0; i < words * 64; ++i) {
        const auto bit = (bits[c * words + i / 64] >> (i % 64)) & 1u;
        CHECK(bit == (i < rows ? a[c * rows + i] : 0u));
      }
    }
  }
}

TEST_CASE("MMD tiling covers each tile pair once and fits shared memory", "[unit]") {
  CHECK(tiling::mmd_tiles(1) == 1);
  CHECK(tiling::mmd_tiles(64) == 1);
  CHECK(tiling::mmd_tiles(65) == 2);
  CHECK(tiling::mmd_tile_pairs(200000) == 3125u * 3126u / 2);
  // Hopper gives a block up to 227 KiB of shared memory; the worst case must fit.
  CHECK(tiling::mmd_shared_bytes(sizeof(double), tiling::kMmdMaxDimensions, tiling::kMmdMaxColumns) <=
        227u * 1024u);
  CHECK(tiling::blocks_per_feature(0, 256, 8) == 1);
  CHECK(tiling::blocks_per_feature(1000000, 256, 8) == 8);
  CHECK(tiling::blocks_per_feature(300, 256, 8) == 2);
  CHECK(tiling::numeric_window_bytes(100, 2, 10, 1000) >= 2 * 4 * 100 + 1000);
}

TEST_CASE("auto sends only large work to the GPU", "[unit]") {
  CHECK_FALSE(drift::gpu::auto_prefers_gpu({1000, 0}));
  CHECK(drift::gpu::auto_prefers_gpu({drift::gpu::kAutoMinNumericValues, 0}));
  CHECK(drift::gpu::auto_prefers_gpu({0, drift::gpu::kAutoMinMmdProducts}));
  const Table t = make_table(500, 1, 0.0f);
  const auto profile = make_profile(t, true);
  const auto work = drift::gpu::estimate_work(profile, t.view(), all_tests(true, 100));
  CHECK(work.numeric_values == 4u * 500u);
  CHECK(work.mmd_products == 1000u * 1000u * 101u);
}

TEST_CASE("the device cache key tells different profiles apart", "[unit]") {
  const Table a = make_table(300, 1, 0.0f);
  const Table b = make_table(300, 2, 0.0f);
  const auto pa = make_profile(a, false);
  const auto pb = make_profile(b, false);
  CHECK(detail::profile_key(pa) == detail::profile_key(pa));
  CHECK(detail::profile_key(pa) != detail::profile_key(pb));
  // An equal profile built again (it may sit where a freed one was) is a new key too; a copy,
  // being the same immutable content, shares it.
  const auto again = make_profile(a, false);
  CHECK(again == pa);
  CHECK(detail::profile_key(again) != detail::profile_key(pa));
  const auto copy = pa;
  CHECK(detail::profile_key(copy) == detail::profile_key(pa));
}

TEST_CASE("a device error falls back to the CPU with a warning and a count", "[unit]") {
  const Table ref = make_table(400, 1, 0.0f);
  const Table cur = make_table(300, 2, 0.3f);
  const auto profile = make_profile(ref, true);
  std::vector<std::string> warnings;
  drift::gpu::set_warning_sink([&](std::string_view line) { warnings.emplace_back(line); });
  const auto backend = detail::make_gpu_backend(std::make_unique<FailingEngine>(), false);
  const std::uint64_t before = drift::gpu::gpu_fallback_count();
  const auto config = all_tests(true, 50);
  const auto result = backend->evaluate(profile, cur.view(), config);
  drift::gpu::set_warning_sink([](std::string_view line) { WARN(std::string(line)); });
  CHECK(result.backend == "cpu");
  CHECK(drift::gpu::gpu_fallback_count() == before + 1);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("out of memory") != std::string::npos);
  require_same(result, drift::make_cpu_backend()->evaluate(profile, cur.view(), config));
}

TEST_CASE("untestable input is an error on the GPU backend, not a fallback", "[unit]") {
  const Table ref = make_table(100, 1, 0.0f);
  Table cur = make_table(100, 2, 0.0f);
  cur.names[0] = "renamed";
  const auto profile = make_profile(ref, false);
  const auto backend = detail::make_gpu_backend(std::make_unique<HostEngine>(), false);
  const std::uint64_t before = drift::gpu::gpu_fallback_count();
  CHECK_THROWS_AS(backend->evaluate(profile, cur.view(), all_tests(false, 0)), drift::InputError);
  CHECK(drift::gpu::gpu_fallback_count() == before);
}

TEST_CASE("window reuse keeps the rows two windows of a stream share", "[unit]") {
  // Sliding by 250 in a window of 1000: the first 750 rows are the previous copy's last 750.
  auto r = tiling::plan_window_reuse(1000, 1000, 1250, 1000);
  CHECK(r.from == 250);
  CHECK(r.kept == 750);
  // Growing (a count window filling up): everything so far is kept.
  r = tiling::plan_window_reuse(300, 300, 500, 500);
  CHECK(r.from == 0);
  CHECK(r.kept == 300);
  // Tumbling, a gap, going back, an empty side: nothing to reuse.
  for (const auto& [pe, pr, e, n] : std::vector<std::array<std::uint64_t, 4>>{
           {1000, 1000, 2000, 1000}, {1000, 500, 2000, 500}, {1000, 1000, 900, 500},
           {1000, 0, 1100, 100}, {1000, 1000, 1100, 0}, {100, 200, 300, 100}, {1000, 1000, 1000, 1100}}) {
    INFO(pe << " " << pr << " " << e << " " << n);
    CHECK(tiling::plan_window_reuse(pe, pr, e, n).kept == 0);
  }
  // The same window again: all of it.
  r = tiling::plan_window_reuse(1000, 400, 1000, 400);
  CHECK(r.from == 0);
  CHECK(r.kept == 400);
}

TEST_CASE("sliding windows of one stream send only their new rows and match the CPU", "[unit]") {
  auto engine = std::make_unique<HostEngine>();
  const HostEngine* host = engine.get();
  const auto backend = detail::make_gpu_backend(std::move(engine), false);
  const auto cpu = drift::make_cpu_backend();
  const Table ref = make_table(200, 3, 0.0f);
  const Table stream = make_table(700, 9, 0.3f);
  const auto profile = make_profile(ref, false);
  const auto config = all_tests(false, 0);
  const std::size_t numeric = stream.numeric.size();
  std::uint64_t expected = 0;
  std::size_t previous_end = 0;
  // A count window of 300 rows sliding by 100 (the first two evaluations still filling).
  for (const std::size_t end : {100u, 200u, 300u, 400u, 500u, 700u}) {
    const std::size_t rows = std::min<std::size_t>(end, 300);
    const Table window = slice(stream, end - rows, rows);
    INFO("window ending at " << end);
    const auto g = backend->evaluate(profile, window.view(), config, drift::WindowOrigin{42, end});
    require_same(g, cpu->evaluate(profile, window.view(), config));
    // Only the rows appended since the previous window (all of them while it fills).
    expected += numeric * (end - previous_end < rows ? end - previous_end : rows);
    previous_end = end;
    CHECK(host->values_uploaded() == expected);
  }
  // Another stream (or a restarted one) sends the whole window.
  const Table other = slice(stream, 400, 300);
  const auto g = backend->evaluate(profile, other.view(), config, drift::WindowOrigin{43, 700});
  require_same(g, cpu->evaluate(profile, other.view(), config));
  CHECK(host->values_uploaded() == expected + numeric * 300);
}

TEST_CASE("the GPU backend's host side turns device counts into the CPU's results", "[unit]") {
  // HostEngine returns what the kernels promise, computed by brute force: any difference here
  // is in the host finishing code (KS division, PSI shares, MMD plumbing and bit packing).
  const auto backend = detail::make_gpu_backend(std::make_unique<HostEngine>(), false);
  const auto cpu = drift::make_cpu_backend();
  for (const std::size_t rows : {1u, 2u, 65u, 150u}) {
    INFO("current rows " << rows);
    const Table ref = make_table(130, 3, 0.0f);
    const Table cur = make_table(rows, 4, 0.4f);
    const auto profile = make_profile(ref, true);
    const auto config = all_tests(rows >= 2, 40);
    const auto g = backend->evaluate(profile, cur.view(), config);
    CHECK(g.backend == "gpu");
    require_same(g, cpu->evaluate(profile, cur.view(), config));
  }
}

// ---- [gpu]: the CUDA engine against the CPU backend ---------------------------------------

namespace {

std::unique_ptr<drift::Backend> device_backend_or_skip() {
  const auto status = drift::gpu::probe();
  if (!status.available) {
    WARN("SKIPPED [gpu]: no usable CUDA device (" << status.reason << ")");
    return nullptr;
  }
  setenv("DRIFT_GPU_POISON", "1", 1);
  return drift::gpu::select_backend(BackendChoice::kGpu);
}

}  // namespace

TEST_CASE("GPU KS and PSI match the CPU on random and adversarial windows", "[gpu]") {
  const auto gpu = device_backend_or_skip();
  if (!gpu) return;
  const auto cpu = drift::make_cpu_backend();
  const Table ref = make_table(5000, 11, 0.0f);
  const auto profile = make_profile(ref, false);
  for (const std::size_t rows : {1u, 63u, 64u, 65u, 1000u, 4096u, 70001u}) {
    for (const float shift : {0.0f, 0.2f}) {
      INFO("rows " << rows << " shift " << shift);
      const Table cur = make_table(rows, static_cast<std::uint32_t>(rows) + 5, shift);
      const auto config = all_tests(false, 0);
      const auto g = gpu->evaluate(profile, cur.view(), config);
      CHECK(g.backend == "gpu");
      require_same(g, cpu->evaluate(profile, cur.view(), config));
    }
  }
}

TEST_CASE("GPU KS handles a window identical to the reference and large windows", "[gpu]") {
  const auto gpu = device_backend_or_skip();
  if (!gpu) return;
  const auto cpu = drift::make_cpu_backend();
  const Table ref = make_table(200000, 21, 0.0f);
  const auto profile = make_profile(ref, false);
  for (const Table* cur : {&ref}) {
    const auto g = gpu->evaluate(profile, cur->view(), all_tests(false, 0));
    require_same(g, cpu->evaluate(profile, cur->view(), all_tests(false, 0)));
  }
  const Table big = make_table(300000, 22, 0.01f);
  require_same(gpu->evaluate(profile, big.view(), all_tests(false, 0)),
               cpu->evaluate(profile, big.view(), all_tests(false, 0)));
}

TEST_CASE("GPU MMD matches the CPU statistic and p-value for the same seed", "[gpu]") {
  const auto gpu = device_backend_or_skip();
  if (!gpu) return;
  const auto cpu = drift::make_cpu_backend();
  for (const std::size_t rows : {2u, 63u, 65u, 700u, 3000u}) {
    for (const float shift : {0.0f, 0.15f}) {
      INFO("rows " << rows << " shift " << shift);
      const Table ref = make_table(rows + 37, 31, 0.0f);
      const Table cur = make_table(rows, 32, shift);
      const auto profile = make_profile(ref, true);
      const auto config = all_tests(true, 200);
      const auto g = gpu->evaluate(profile, cur.view(), config);
      CHECK(g.backend == "gpu");
      require_same(g, cpu->evaluate(profile, cur.view(), config));
    }
  }
}

TEST_CASE("GPU sliding windows reuse their resident rows and match the CPU", "[gpu]") {
  const auto gpu = device_backend_or_skip();
  if (!gpu) return;
  const auto cpu = drift::make_cpu_backend();
  const Table ref = make_table(5000, 21, 0.0f);
  const Table stream = make_table(60000, 22, 0.1f);
  const auto profile = make_profile(ref, false);
  const auto config = all_tests(false, 0);
  // Window 20000 sliding by 7000 (not a multiple of any tile), then a restart of the stream.
  for (const std::size_t end : {7000u, 14000u, 21000u, 28000u, 35000u, 60000u}) {
    const std::size_t rows = std::min<std::size_t>(end, 20000);
    const Table window = slice(stream, end - rows, rows);
    INFO("window ending at " << end);
    const auto g = gpu->evaluate(profile, window.view(), config, drift::WindowOrigin{5, end});
    CHECK(g.backend == "gpu");
    require_same(g, cpu->evaluate(profile, window.view(), config));
  }
  const Table restarted = slice(stream, 1000, 20000);
  require_same(gpu->evaluate(profile, restarted.view(), config, drift::WindowOrigin{6, 21000}),
               cpu->evaluate(profile, restarted.view(), config));
}

TEST_CASE("a window over the GPU memory budget falls back to the CPU", "[gpu]") {
  if (!drift::gpu::probe().available) {
    WARN("SKIPPED [gpu]: no usable CUDA device (" << drift::gpu::probe().reason << ")");
    return;
  }
  drift::gpu::GpuOptions options;
  options.memory_limit = 1 << 20;  // 1 MiB: the reference fits, this window does not
  const auto gpu = drift::gpu::select_backend(BackendChoice::kGpu, options);
  const Table ref = make_table(2000, 41, 0.0f);
  const Table cur = make_table(200000, 42, 0.0f);
  const auto profile = make_profile(ref, false);
  const std::uint64_t before = drift::gpu::gpu_fallback_count();
  const auto result = gpu->evaluate(profile, cur.view(), all_tests(false, 0));
  CHECK(result.backend == "cpu");
  CHECK(drift::gpu::gpu_fallback_count() == before + 1);
}
