/// Read throughput of `read_table`: writes a numeric CSV (default 500k rows x 100 columns,
/// about 0.5 GB) and a JSONL file with the same columns, reads each several times with 1 and 2
/// threads and prints the median MB/s (MB = 10^6 bytes of file) and the median process CPU
/// seconds per read (all threads; on a busy machine MB/s falls while CPU seconds stay put). The
/// files are read from the page cache: this measures parsing, not the disk.
///
///   bench_read [--rows N] [--cols N] [--jsonl-rows N] [--repeats N] [--threads 1,2]
///              [--dir DIR] [--json FILE]
///
/// Without --dir the files go to a fresh temporary directory that is removed afterwards.

#include "bench_common.h"
#include <stdlib.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "drift/daemon/table.h"

namespace {

struct Options {
  std::size_t rows = 500'000;
  std::size_t cols = 100;
  std::size_t jsonl_rows = 0;  ///< 0: rows / 5 (JSONL repeats every key on every line)
  int repeats = 5;
  std::vector<int> threads{1, 2};
  std::string dir;
  std::string json;
};

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr,
               "bench_read: %s\nusage: bench_read [--rows N] [--cols N] [--jsonl-rows N] "
               "[--repeats N] [--threads 1,2] [--dir DIR] [--json FILE]\n",
               message);
  std::exit(2);
}

std::size_t parse_count(std::string_view text) {
  return drift::bench::parse_positive(text, [](const char* message) { usage(message); });
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage("missing value after a flag");
    const std::string_view value = argv[++i];
    if (flag == "--rows") {
      options.rows = parse_count(value);
    } else if (flag == "--cols") {
      options.cols = parse_count(value);
    } else if (flag == "--jsonl-rows") {
      options.jsonl_rows = parse_count(value);
    } else if (flag == "--repeats") {
      options.repeats = static_cast<int>(parse_count(value));
    } else if (flag == "--threads") {
      options.threads.clear();
      std::size_t start = 0;
      while (start <= value.size()) {
        const std::size_t comma = std::min(value.find(',', start), value.size());
        options.threads.push_back(
            static_cast<int>(parse_count(value.substr(start, comma - start))));
        start = comma + 1;
      }
    } else if (flag == "--dir") {
      options.dir = value;
    } else if (flag == "--json") {
      options.json = value;
    } else {
      usage("unknown flag");
    }
  }
  if (options.jsonl_rows == 0) options.jsonl_rows = std::max<std::size_t>(options.rows / 5, 1);
  return options;
}

/// Writes `rows` rows of `cols` random values (4 decimals, about 9 characters each) as CSV or
/// JSONL; returns the file size in bytes.
std::size_t write_data(const std::filesystem::path& path, std::size_t rows, std::size_t cols,
                       bool jsonl) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<float> uniform(-1000.0f, 1000.0f);
  std::vector<std::string> keys;
  for (std::size_t c = 0; c < cols; ++c) {
    keys.push_back(std::string(1, 'f').append(std::to_string(c)));
  }

  std::ofstream out(path, std::ios::binary);
  std::string buffer;
  if (!jsonl) {
    for (std::size_t c = 0; c < cols; ++c) {
      buffer += keys[c];
      buffer += c + 1 == cols ? '\n' : ',';
    }
  }
  std::size_t bytes = 0;
  char number[32];
  for (std::size_t r = 0; r < rows; ++r) {
    if (jsonl) buffer += '{';
    for (std::size_t c = 0; c < cols; ++c) {
      if (jsonl) {
        buffer += '"';
        buffer += keys[c];
        buffer += "\":";
      }
      const auto end =
          std::to_chars(number, number + sizeof number, uniform(rng), std::chars_format::fixed, 4)
              .ptr;
      buffer.append(number, end);
      if (c + 1 != cols) buffer += ',';
    }
    buffer += jsonl ? "}\n" : "\n";
    if (buffer.size() > (1u << 22)) {
      out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      bytes += buffer.size();
      buffer.clear();
    }
  }
  out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  bytes += buffer.size();
  if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
  return bytes;
}

struct Result {
  std::string format;
  int threads = 0;
  std::size_t bytes = 0;
  std::vector<double> seconds;
  std::vector<double> cpu_seconds;
  double median = 0.0;
  double median_cpu = 0.0;
  double mb_per_s = 0.0;
};

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

Result measure(const std::filesystem::path& path, std::string format, std::size_t bytes,
               std::size_t rows, std::size_t cols, int threads, int repeats) {
  Result result;
  result.format = std::move(format);
  result.threads = threads;
  result.bytes = bytes;
  drift::daemon::ReadOptions options;
  options.threads = threads;
  for (int i = 0; i < repeats; ++i) {
    const std::clock_t cpu_start = std::clock();
    const auto start = std::chrono::steady_clock::now();
    const auto table = drift::daemon::read_table(path, options);
    const auto stop = std::chrono::steady_clock::now();
    const std::clock_t cpu_stop = std::clock();
    if (table.rows != rows || table.columns.size() != cols) {
      throw std::runtime_error("read back a table of the wrong shape from " + path.string());
    }
    result.seconds.push_back(std::chrono::duration<double>(stop - start).count());
    result.cpu_seconds.push_back(static_cast<double>(cpu_stop - cpu_start) / CLOCKS_PER_SEC);
  }
  result.median = median_of(result.seconds);
  result.median_cpu = median_of(result.cpu_seconds);
  result.mb_per_s = static_cast<double>(bytes) / 1e6 / result.median;
  return result;
}

void write_json(const std::string& file, const Options& options,
                const std::vector<Result>& results) {
  std::FILE* out = std::fopen(file.c_str(), "w");
  if (out == nullptr) throw std::runtime_error("cannot write " + file);
  std::fprintf(out, "{\n  \"benchmark\": \"read_table\",\n  \"rows\": %zu,\n  \"cols\": %zu,\n",
               options.rows, options.cols);
  std::fprintf(out, "  \"jsonl_rows\": %zu,\n  \"repeats\": %d,\n  \"results\": [\n",
               options.jsonl_rows, options.repeats);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    std::fprintf(out,
                 "    {\"format\": \"%s\", \"threads\": %d, \"bytes\": %zu, "
                 "\"median_seconds\": %.6f, \"median_cpu_seconds\": %.6f, \"mb_per_s\": %.1f, "
                 "\"seconds\": [",
                 r.format.c_str(), r.threads, r.bytes, r.median, r.median_cpu, r.mb_per_s);
    for (std::size_t k = 0; k < r.seconds.size(); ++k) {
      std::fprintf(out, "%s%.6f", k == 0 ? "" : ", ", r.seconds[k]);
    }
    std::fprintf(out, "]}%s\n", i + 1 == results.size() ? "" : ",");
  }
  std::fprintf(out, "  ]\n}\n");
  std::fclose(out);
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  std::filesystem::path dir = options.dir;
  const bool temporary = dir.empty();
  if (temporary) {
    std::string pattern = (std::filesystem::temp_directory_path() / "bench_read_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("bench_read: mkdtemp");
      return 1;
    }
    dir = pattern;
  } else {
    std::filesystem::create_directories(dir);
  }

  int status = 0;
  try {
    const auto csv_path = dir / "bench.csv";
    const auto jsonl_path = dir / "bench.jsonl";
    const std::size_t csv_bytes = write_data(csv_path, options.rows, options.cols, false);
    const std::size_t jsonl_bytes = write_data(jsonl_path, options.jsonl_rows, options.cols, true);
    std::printf(
        "bench_read: CSV %zu rows x %zu cols (%.1f MB), JSONL %zu rows (%.1f MB), "
        "median of %d reads\n",
        options.rows, options.cols, static_cast<double>(csv_bytes) / 1e6, options.jsonl_rows,
        static_cast<double>(jsonl_bytes) / 1e6, options.repeats);
    std::printf("%-6s %7s %10s %9s %8s\n", "format", "threads", "median_s", "MB/s", "cpu_s");
    std::vector<Result> results;
    for (const bool jsonl : {false, true}) {
      for (const int threads : options.threads) {
        results.push_back(jsonl ? measure(jsonl_path, "jsonl", jsonl_bytes, options.jsonl_rows,
                                          options.cols, threads, options.repeats)
                                : measure(csv_path, "csv", csv_bytes, options.rows, options.cols,
                                          threads, options.repeats));
        const Result& r = results.back();
        std::printf("%-6s %7d %10.3f %9.1f %8.3f\n", r.format.c_str(), r.threads, r.median,
                    r.mb_per_s, r.median_cpu);
        std::fflush(stdout);
      }
    }
    if (!options.json.empty()) write_json(options.json, options, results);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_read: %s\n", error.what());
    status = 1;
  }
  if (temporary) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  return status;
}
