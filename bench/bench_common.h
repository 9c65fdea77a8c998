#pragma once
// Small helpers shared by the benchmark programs: timing, medians, synthetic data.

#include <algorithm>
#include <charconv>
#include <string_view>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

namespace drift::bench {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Peak resident set size of this process so far, in MiB.
inline double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

/// A positive integer command-line value; `fail(message)` (which does not return) otherwise.
template <typename Fail>
std::size_t parse_positive(std::string_view text, Fail fail) {
  std::size_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || value == 0) {
    fail("expected a positive integer");
  }
  return value;
}

/// Resident set size of this process now, in MiB (Linux /proc/self/statm).
inline double current_rss_mib() {
  long pages = 0;
  long resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

/// Fast deterministic normal variates (SplitMix64 + Box–Muller), for data generation only.
class NormalSource {
 public:
  explicit NormalSource(std::uint64_t seed) : state_(seed) {}
  float next(float mean, float sd) {
    if (has_spare_) {
      has_spare_ = false;
      return mean + sd * spare_;
    }
    const double u1 = (static_cast<double>(raw() >> 11) + 0.5) * 0x1.0p-53;
    const double u2 = static_cast<double>(raw() >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = static_cast<float>(r * std::sin(6.283185307179586 * u2));
    has_spare_ = true;
    return mean + sd * static_cast<float>(r * std::cos(6.283185307179586 * u2));
  }

 private:
  std::uint64_t raw() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::uint64_t state_;
  float spare_ = 0.0f;
  bool has_spare_ = false;
};

}  // namespace drift::bench
