// MMD benchmark: build_mmd_reference (reference side, once per profile) and prepare_current +
// mmd_permutation_test (per window) on seeded normal data with a small mean shift.
//
//   bench_mmd [--n 10000] [--m 10000] [--d 10] [--permutations 1000] [--threads 0]
//             [--runs 5] [--shift 0.02] [--seed 1] [--kernel auto|portable|avx512]
//             [--json FILE] [--write-data DIR]
//
// --kernel picks the float32 product kernel (detectors/src/mmd_tiles.h): auto takes the
// run-time dispatched AVX-512 kernel where the CPU has it, portable is Eigen's GEMM at the
// build baseline (AVX2).
//
// Prints the median (and min/max) of --runs warm runs per side. --write-data DIR writes the raw
// samples (DIR/reference.f32, DIR/current.f32: row-major little-endian float32) and
// DIR/meta.json (sizes, options, driftd's sigma/statistic/p-value and timings) for
// bench/baseline_mmd.py.

#include <tbb/global_control.h>
#include <tbb/info.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "drift/detectors/column.h"
#include "drift/detectors/mmd.h"
#include "drift/detectors/random.h"
#include "mmd_tiles.h"  // float32 kernel selection (private to detectors)

namespace {

struct Args {
  std::size_t n = 10000;
  std::size_t m = 10000;
  std::size_t d = 10;
  std::size_t permutations = 1000;
  std::size_t threads = 0;  // 0: oneTBB's default
  std::size_t runs = 5;
  double shift = 0.02;
  std::uint64_t seed = 1;
  std::string kernel = "auto";
  std::string json;
  std::string write_data;
};

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr,
               "bench_mmd: %s\nusage: bench_mmd [--n N] [--m M] [--d D] [--permutations B] "
               "[--threads T] [--runs R] [--shift S] [--seed X] [--kernel auto|portable|avx512] "
               "[--json FILE] [--write-data DIR]\n",
               message);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + flag).c_str());
    const std::string value = argv[++i];
    const auto count = [&] { return static_cast<std::size_t>(std::stoull(value)); };
    if (flag == "--n") {
      a.n = count();
    } else if (flag == "--m") {
      a.m = count();
    } else if (flag == "--d") {
      a.d = count();
    } else if (flag == "--permutations") {
      a.permutations = count();
    } else if (flag == "--threads") {
      a.threads = count();
    } else if (flag == "--runs") {
      a.runs = std::max<std::size_t>(1, count());
    } else if (flag == "--shift") {
      a.shift = std::stod(value);
    } else if (flag == "--seed") {
      a.seed = std::stoull(value);
    } else if (flag == "--kernel") {
      a.kernel = value;
    } else if (flag == "--json") {
      a.json = value;
    } else if (flag == "--write-data") {
      a.write_data = value;
    } else {
      usage(("unknown flag " + flag).c_str());
    }
  }
  return a;
}

/// Column-major float32 normal samples (Box-Muller on SplitMix64), shifted by `shift`.
std::vector<std::vector<float>> normal_columns(std::size_t rows, std::size_t d, std::uint64_t seed,
                                               double shift) {
  auto rng =
      drift::random::SplitMix64::for_stream(seed, drift::random::Stream::kPermutation, 0xBE4C);
  const auto uniform = [&rng] { return (static_cast<double>(rng.next() >> 11) + 0.5) * 0x1.0p-53; };
  std::vector<std::vector<float>> columns(d, std::vector<float>(rows));
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t k = 0; k < d; ++k) {
      const double radius = std::sqrt(-2.0 * std::log(uniform()));
      columns[k][r] = static_cast<float>(radius * std::cos(6.283185307179586 * uniform()) + shift);
    }
  }
  return columns;
}

drift::SampleView view_of(const std::vector<std::vector<float>>& columns) {
  drift::SampleView view;
  for (std::size_t k = 0; k < columns.size(); ++k) {
    drift::ColumnView column;
    column.name = "f";
    column.name += std::to_string(k);  // (not "f" + ...: GCC 12 -Wrestrict false positive)
    column.values = columns[k];
    view.columns.push_back(column);
  }
  return view;
}

void write_rows(const std::filesystem::path& path, const std::vector<std::vector<float>>& cols) {
  const std::size_t rows = cols.empty() ? 0 : cols.front().size();
  std::vector<float> buffer(rows * cols.size());
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t k = 0; k < cols.size(); ++k) buffer[r * cols.size() + k] = cols[k][r];
  }
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(buffer.data()),
            static_cast<std::streamsize>(buffer.size() * sizeof(float)));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

struct Timing {
  double median = 0.0;
  double min = 0.0;
  double max = 0.0;
};

Timing summarize(std::vector<double> seconds) {
  std::sort(seconds.begin(), seconds.end());
  Timing t;
  t.min = seconds.front();
  t.max = seconds.back();
  const std::size_t mid = seconds.size() / 2;
  t.median = seconds.size() % 2 == 1 ? seconds[mid] : 0.5 * (seconds[mid - 1] + seconds[mid]);
  return t;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string timing_json(const Timing& t) {
  char buffer[160];
  std::snprintf(buffer, sizeof buffer, "{\"median_s\": %.6f, \"min_s\": %.6f, \"max_s\": %.6f}",
                t.median, t.min, t.max);
  return buffer;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  std::unique_ptr<tbb::global_control> limit;
  if (args.threads > 0) {
    limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                  args.threads);
  }
  using drift::mmd_detail::Float32Kernel;
  const Float32Kernel requested = args.kernel == "portable" ? Float32Kernel::kPortable
                                  : args.kernel == "avx512" ? Float32Kernel::kAvx512
                                  : args.kernel == "auto"
                                      ? Float32Kernel::kAuto
                                      : (usage("bad --kernel"), Float32Kernel::kAuto);
  if (!drift::mmd_detail::set_float32_kernel(requested)) usage("this CPU has no AVX-512 kernel");
  const char* kernel =
      drift::mmd_detail::float32_kernel() == Float32Kernel::kAvx512 ? "avx512" : "portable";
  const auto threads = static_cast<std::size_t>(
      tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));

  const auto reference_columns = normal_columns(args.n, args.d, 2 * args.seed, 0.0);
  const auto current_columns = normal_columns(args.m, args.d, 2 * args.seed + 1, args.shift);
  const drift::SampleView reference_view = view_of(reference_columns);
  const drift::SampleView current_view = view_of(current_columns);
  drift::MmdOptions options;
  options.seed = args.seed;
  options.max_rows = std::max<std::size_t>(options.max_rows, std::max(args.n, args.m));

  std::vector<double> reference_seconds;
  std::vector<double> test_seconds;
  drift::MmdReference reference;
  drift::MmdResult result;
  for (std::size_t run = 0; run < args.runs + 1; ++run) {  // run 0 warms up
    auto start = std::chrono::steady_clock::now();
    reference = drift::build_mmd_reference(reference_view, options);
    const double reference_s = seconds_since(start);
    start = std::chrono::steady_clock::now();
    const drift::RowMatrixF current =
        drift::prepare_current(reference, current_view, options.seed, options.max_rows);
    result = drift::mmd_permutation_test(reference, current, args.permutations, options.seed);
    const double test_s = seconds_since(start);
    if (run > 0) {
      reference_seconds.push_back(reference_s);
      test_seconds.push_back(test_s);
    }
  }
  const Timing ref_t = summarize(reference_seconds);
  const Timing test_t = summarize(test_seconds);
  const double flops = static_cast<double>(args.n + args.m) * static_cast<double>(args.n + args.m) *
                       static_cast<double>(args.permutations + 1);

  std::printf(
      "driftd MMD: n=%zu m=%zu d=%zu B=%zu shift=%g threads=%zu float32 kernel=%s runs=%zu "
      "(+1 warm-up)\n",
      args.n, args.m, args.d, args.permutations, args.shift, threads, kernel, args.runs);
  std::printf("%-34s %10s %10s %10s\n", "stage", "median s", "min s", "max s");
  std::printf("%-34s %10.3f %10.3f %10.3f\n", "reference (build_mmd_reference)", ref_t.median,
              ref_t.min, ref_t.max);
  std::printf("%-34s %10.3f %10.3f %10.3f\n", "test (prepare_current + perm test)", test_t.median,
              test_t.min, test_t.max);
  std::printf(
      "sigma=%.6g statistic=%.6g p=%.6g | permutation product %.3g flop (symmetric "
      "half), %.1f GFLOP/s at the median\n",
      result.sigma, result.statistic, result.p_value, flops, flops / test_t.median * 1e-9);

  char summary[1024];
  std::snprintf(summary, sizeof summary,
                "{\"benchmark\": \"mmd\", \"n\": %zu, \"m\": %zu, \"d\": %zu, "
                "\"permutations\": %zu, \"threads\": %zu, \"kernel\": \"%s\", \"runs\": %zu, "
                "\"shift\": %.17g, "
                "\"seed\": %llu, \"sigma_rows\": %zu, \"max_rows\": %zu, "
                "\"sigma\": %.17g, \"statistic\": %.17g, \"p_value\": %.17g, ",
                args.n, args.m, args.d, args.permutations, threads, kernel, args.runs, args.shift,
                static_cast<unsigned long long>(args.seed), options.sigma_rows, options.max_rows,
                result.sigma, result.statistic, result.p_value);
  const std::string json = std::string(summary) + "\"reference\": " + timing_json(ref_t) +
                           ", \"test\": " + timing_json(test_t) + "}\n";
  if (!args.json.empty()) {
    std::ofstream out(args.json);
    out << json;
    if (!out) {
      std::fprintf(stderr, "bench_mmd: cannot write %s\n", args.json.c_str());
      return 1;
    }
  }
  if (!args.write_data.empty()) {
    const std::filesystem::path dir(args.write_data);
    std::filesystem::create_directories(dir);
    write_rows(dir / "reference.f32", reference_columns);
    write_rows(dir / "current.f32", current_columns);
    std::ofstream meta(dir / "meta.json");
    meta << json;
    std::printf("wrote %s/{reference.f32,current.f32,meta.json}\n", args.write_data.c_str());
  }
  return 0;
}
