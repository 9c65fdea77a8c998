// GPU backend benchmark (issue 5 workloads) beside the CPU backend in the same run:
//   KS+PSI, 100 features x 1M current rows against 1M reference rows, window resident;
//   MMD 100k + 100k, d = 10, B = 100 (GPU only: the CPU takes minutes);
//   MMD 10k + 10k, d = 10, B = 1000.
// GPU times: median of 5 warm runs, host clock after the engine's stream synchronization.
// `--quick` shrinks every size 10x (a smoke run); `--crossover` times the CPU and GPU backends
// (upload included) over window sizes, to set kAutoMinNumericValues (gpu_backend.h).
// Needs a CUDA device; prints why not and exits 2 without one.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "device_engine.h"
#include "drift/detectors/backend.h"
#include "drift/detectors/mmd.h"
#include "drift/detectors/reference_profile.h"
#include "drift/gpu/gpu_backend.h"
#include "mmd_tiles.h"
#include "tiling.h"

namespace {

using Clock = std::chrono::steady_clock;

// About the median heuristic of standard normal rows in d = 10 (median squared distance 2d).
const double kSigma = std::sqrt(10.0);

double median_ms(int runs, const std::function<void()>& body) {
  body();  // warm-up
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    const auto start = Clock::now();
    body();
    times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

struct Row {
  std::string workload;
  double gpu_ms;
  double cpu_ms;  // < 0: not run
  double floor_ms;
  double target_ms;
};

struct Columns {
  std::vector<std::string> names;
  std::vector<std::vector<float>> values;
  drift::SampleView view() const {
    drift::SampleView v;
    for (std::size_t k = 0; k < values.size(); ++k) {
      drift::ColumnView c;
      c.name = names[k];
      c.values = values[k];
      v.columns.push_back(c);
    }
    return v;
  }
};

Columns random_columns(std::size_t features, std::size_t rows, std::uint32_t seed, float shift) {
  Columns c;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(shift, 1.0f);
  for (std::size_t k = 0; k < features; ++k) {
    c.names.push_back("f" + std::to_string(k));
    c.values.emplace_back(rows);
    for (float& x : c.values.back()) x = normal(rng);
  }
  return c;
}

drift::RowMatrixF random_rows(std::size_t rows, std::size_t d, std::uint32_t seed, float shift) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(shift, 1.0f);
  drift::RowMatrixF m(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(d));
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  return m;
}

/// The MMD permutation test with the engine as the sums provider (what GpuBackend does).
drift::MmdResult gpu_mmd(drift::gpu::detail::Engine& engine, const drift::RowMatrixF& x,
                         const drift::RowMatrixF& y, std::size_t permutations) {
  const drift::RowMatrixF* loaded = nullptr;
  const drift::mmd_detail::SumsProvider provider =
      [&](const drift::RowMatrixF& pooled, double sigma, const drift::mmd_detail::Indicators& a,
          bool float64) {
        if (loaded != &pooled) {
          engine.load_pooled(pooled.data(), static_cast<std::size_t>(pooled.rows()),
                             static_cast<std::size_t>(pooled.cols()));
          loaded = &pooled;
        }
        const auto n = static_cast<std::size_t>(a.rows());
        const auto c = static_cast<std::size_t>(a.cols());
        const auto sums = engine.mmd_sums(
            sigma, drift::gpu::tiling::pack_indicator_bits(a.data(), n, c), c, float64);
        drift::mmd_detail::BatchedSums out;
        out.within = sums.within;
        out.cross = sums.cross;
        out.total = sums.total;
        return out;
      };
  return drift::mmd_detail::permutation_test_with(x, y, kSigma, permutations, 7,
                                                  drift::mmd_detail::Precision::kValidated,
                                                  provider);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  bool crossover = false;
  for (int k = 1; k < argc; ++k) {
    quick = quick || std::strcmp(argv[k], "--quick") == 0;
    crossover = crossover || std::strcmp(argv[k], "--crossover") == 0;
  }
  const auto status = drift::gpu::probe();
  if (!status.available) {
    std::printf("bench_gpu: no usable CUDA device: %s\n", status.reason.c_str());
    return 2;
  }
  std::printf("device: %s\n", status.device_name.c_str());
  const std::size_t scale = quick ? 10 : 1;
  std::vector<Row> table;
  auto engine = drift::gpu::detail::make_device_engine(0, 0);
  const auto cpu = drift::make_cpu_backend();
  const auto gpu = drift::gpu::select_backend(drift::gpu::BackendChoice::kGpu);

  if (crossover) {
    std::printf("%-28s %12s %12s\n", "crossover (10 features)", "gpu ms", "cpu ms");
    const Columns ref = random_columns(10, 1'000'000 / scale, 1, 0.0f);
    drift::ProfileOptions options;
    const auto profile = drift::ReferenceProfile::build(ref.view(), options);
    drift::EvaluationConfig config;
    for (const std::size_t rows : {1'000u, 10'000u, 100'000u, 1'000'000u}) {
      const Columns cur = random_columns(10, rows / scale, 2, 0.05f);
      const double g = median_ms(5, [&] { (void)gpu->evaluate(profile, cur.view(), config); });
      const double c = median_ms(5, [&] { (void)cpu->evaluate(profile, cur.view(), config); });
      std::printf("%-28zu %12.3f %12.3f\n", rows / scale * 10, g, c);
    }
  }

  {  // KS + PSI, window resident.
    const std::size_t features = 100;
    const std::size_t rows = 1'000'000 / scale;
    const Columns ref = random_columns(features, rows, 1, 0.0f);
    const Columns cur = random_columns(features, rows, 2, 0.02f);
    drift::ProfileOptions options;
    const auto profile = drift::ReferenceProfile::build(ref.view(), options);
    std::vector<drift::gpu::detail::NumericReference> refs;
    std::vector<const float*> values;
    std::vector<std::size_t> sizes;
    for (std::size_t k = 0; k < features; ++k) {
      const auto& f = profile.features()[k];
      refs.push_back({f.numeric.sorted.data(), f.numeric.sorted.size(), f.numeric.inner_edges.data(),
                      f.numeric.inner_edges.size()});
      values.push_back(cur.values[k].data());
      sizes.push_back(rows);
    }
    engine->load_reference(1, refs);
    const double upload = median_ms(3, [&] { engine->upload_window(values, sizes, 0, 0); });
    // A count window sliding by 10 %: the resident 90 % is copied on the device, 10 % is sent.
    std::uint64_t end = rows;
    engine->upload_window(values, sizes, 1, end);
    const double sliding = median_ms(3, [&] {
      end += rows / 10;
      engine->upload_window(values, sizes, 1, end);
    });
    const double resident = median_ms(5, [&] { (void)engine->run_numeric(true, true); });
    drift::EvaluationConfig config;
    const double full_gpu = median_ms(3, [&] { (void)gpu->evaluate(profile, cur.view(), config); });
    const double full_cpu = median_ms(1, [&] { (void)cpu->evaluate(profile, cur.view(), config); });
    const std::string size = std::to_string(features) + "x" + std::to_string(rows);
    table.push_back({"KS+PSI resident " + size, resident, -1, 1.32 / static_cast<double>(scale), 10});
    table.push_back({"KS+PSI upload only " + size, upload, -1, 8.0 / static_cast<double>(scale), -1});
    table.push_back({"KS+PSI upload, window slid 10% " + size, sliding, -1, -1, -1});
    table.push_back({"KS+PSI evaluate() " + size, full_gpu, full_cpu, -1, -1});
  }
  {  // MMD 100k + 100k, d = 10, B = 100.
    const std::size_t n = 100'000 / scale;
    const auto x = random_rows(n, 10, 3, 0.0f);
    const auto y = random_rows(n, 10, 4, 0.01f);
    drift::MmdResult r;
    const double t = median_ms(quick ? 3 : 2, [&] { r = gpu_mmd(*engine, x, y, 100); });
    const double nn = 2.0 * static_cast<double>(n);
    table.push_back({"MMD " + std::to_string(n) + "+" + std::to_string(n) + " d10 B100", t, -1,
                     1e3 * 2.0 * nn * nn * 101 / 67e12, 500});
    std::printf("MMD large: statistic %.9g p %.4f\n", r.statistic, r.p_value);
  }
  {  // MMD 10k + 10k, d = 10, B = 1000, beside the CPU.
    const std::size_t n = 10'000 / scale;
    const auto x = random_rows(n, 10, 5, 0.0f);
    const auto y = random_rows(n, 10, 6, 0.01f);
    drift::MmdResult g;
    drift::MmdResult c;
    const double tg = median_ms(5, [&] { g = gpu_mmd(*engine, x, y, 1000); });
    const double tc = median_ms(1, [&] {
      c = drift::mmd_detail::permutation_test(x, y, kSigma, 1000, 7,
                                              drift::mmd_detail::Precision::kValidated);
    });
    const double nn = 2.0 * static_cast<double>(n);
    table.push_back({"MMD " + std::to_string(n) + "+" + std::to_string(n) + " d10 B1000", tg, tc,
                     1e3 * 2.0 * nn * nn * 1001 / 67e12, 50});
    std::printf("MMD small: gpu statistic %.12g p %.4f | cpu statistic %.12g p %.4f | %s\n",
                g.statistic, g.p_value, c.statistic, c.p_value,
                g.p_value == c.p_value ? "p-values identical" : "P-VALUES DIFFER");
  }

  std::printf("\n%-36s %10s %10s %10s %10s\n", "workload", "gpu ms", "cpu ms", "floor ms",
              "target ms");
  for (const Row& r : table) {
    std::printf("%-36s %10.3f %10s %10s %10s\n", r.workload.c_str(), r.gpu_ms,
                r.cpu_ms < 0 ? "-" : std::to_string(r.cpu_ms).c_str(),
                r.floor_ms < 0 ? "-" : std::to_string(r.floor_ms).c_str(),
                r.target_ms < 0 ? "-" : std::to_string(r.target_ms).c_str());
  }
  return 0;
}
