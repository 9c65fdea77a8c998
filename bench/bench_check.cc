// The per-window work of a large numeric window on the CPU backend: F features x n reference rows
// x m current rows; KS (asymptotic path above 10^4 rows) and quantile PSI on every feature.
// Reference-side preparation (sorting, quantile edges) is timed separately, as peers amortize it.
//
//   bench_check [--features 100] [--rows 1000000] [--current-rows N] [--runs 5] [--threads N]
//               [--write-data DIR] [--json FILE]
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>

#include "bench_common.h"
#include "drift/detectors/backend.h"

namespace {

struct Args {
  std::size_t features = 100;
  std::size_t rows = 1000000;
  std::size_t current_rows = 0;
  int runs = 5;
  int threads = 0;
  std::string write_data;
  std::string json;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string v = argv[i + 1];
    if (flag == "--features")
      a.features = std::stoul(v);
    else if (flag == "--rows")
      a.rows = std::stoul(v);
    else if (flag == "--current-rows")
      a.current_rows = std::stoul(v);
    else if (flag == "--runs")
      a.runs = std::stoi(v);
    else if (flag == "--threads")
      a.threads = std::stoi(v);
    else if (flag == "--write-data")
      a.write_data = v;
    else if (flag == "--json")
      a.json = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  if (a.current_rows == 0) a.current_rows = a.rows;
  return a;
}

// Column-major F x rows; every third feature drifts a little in the current window.
std::vector<float> generate(std::size_t features, std::size_t rows, bool current) {
  std::vector<float> data(features * rows);
  tbb::parallel_for(std::size_t{0}, features, [&](std::size_t f) {
    drift::bench::NormalSource source(f * 7919 + (current ? 1 : 0) * 104729 + 1);
    const float shift = current && f % 3 == 0 ? 0.01f : 0.0f;
    float* column = data.data() + f * rows;
    for (std::size_t k = 0; k < rows; ++k)
      column[k] = source.next(shift, 1.0f + 0.01f * static_cast<float>(f % 7));
  });
  return data;
}

drift::SampleView view_of(const std::vector<float>& data, std::size_t features, std::size_t rows,
                          std::vector<std::string>& names) {
  drift::SampleView v;
  for (std::size_t f = 0; f < features; ++f) {
    drift::ColumnView c;
    c.name = names[f];
    c.values = std::span<const float>(data.data() + f * rows, rows);
    v.columns.push_back(std::move(c));
  }
  return v;
}

void write_binary(const std::string& path, const std::vector<float>& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()),
            static_cast<std::streamsize>(data.size() * sizeof(float)));
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  std::optional<tbb::global_control> limit;
  if (args.threads > 0) {
    limit.emplace(tbb::global_control::max_allowed_parallelism,
                  static_cast<std::size_t>(args.threads));
  }
  std::vector<std::string> names;
  for (std::size_t f = 0; f < args.features; ++f) {
    std::string name = std::to_string(f);
    name.insert(0, 1, 'f');  // not "f" + ...: GCC 12 raises a false -Wrestrict on it
    names.push_back(std::move(name));
  }

  auto start = std::chrono::steady_clock::now();
  const auto reference = generate(args.features, args.rows, false);
  const auto current = generate(args.features, args.current_rows, true);
  const double generate_s = drift::bench::seconds_since(start);
  if (!args.write_data.empty()) {
    write_binary(args.write_data + "/reference.f32", reference);
    write_binary(args.write_data + "/current.f32", current);
  }
  const auto ref_view = view_of(reference, args.features, args.rows, names);
  const auto cur_view = view_of(current, args.features, args.current_rows, names);

  std::vector<double> profile_s;
  std::optional<drift::ReferenceProfile> profile;
  for (int r = 0; r < std::max(1, args.runs / 2); ++r) {
    profile.reset();
    start = std::chrono::steady_clock::now();
    profile.emplace(drift::ReferenceProfile::build(ref_view, {}));
    profile_s.push_back(drift::bench::seconds_since(start));
  }

  drift::EvaluationConfig config;
  config.tests = {true, true, false, false};
  const auto backend = drift::make_cpu_backend();
  std::vector<double> window_s;
  std::size_t drifted = 0;
  for (int r = 0; r < args.runs; ++r) {
    start = std::chrono::steady_clock::now();
    const auto result = backend->evaluate(*profile, cur_view, config);
    window_s.push_back(drift::bench::seconds_since(start));
    drifted = 0;
    for (const auto& f : result.features) drifted += f.ks->drift ? 1 : 0;
  }
  const double profile_med = drift::bench::median(profile_s);
  const double window_med = drift::bench::median(window_s);
  const double peak = drift::bench::peak_rss_mib();
  std::printf("bench_check: %zu features x %zu reference rows x %zu current rows, threads %d\n",
              args.features, args.rows, args.current_rows, args.threads);
  std::printf("  data generation            %8.3f s\n", generate_s);
  std::printf("  reference profile (median) %8.3f s\n", profile_med);
  std::printf("  per-window KS+PSI (median) %8.3f s   (%d runs, min %.3f, max %.3f)\n", window_med,
              args.runs, *std::min_element(window_s.begin(), window_s.end()),
              *std::max_element(window_s.begin(), window_s.end()));
  std::printf("  features flagged by KS     %8zu\n", drifted);
  std::printf("  peak RSS                   %8.0f MiB\n", peak);
  if (!args.json.empty()) {
    std::ofstream out(args.json);
    out << "{\"features\":" << args.features << ",\"rows\":" << args.rows
        << ",\"current_rows\":" << args.current_rows << ",\"profile_s\":" << profile_med
        << ",\"window_s\":" << window_med << ",\"peak_rss_mib\":" << peak << "}\n";
  }
  return 0;
}
