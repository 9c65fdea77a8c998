#pragma once
/// Small helpers every stage of the daemon needs: joining text pieces, the wall clock, and
/// naming threads (shown by `top -H`, `ps -L` and profilers).

#include <pthread.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <algorithm>

namespace drift::daemon {

/// Concatenates string-like pieces into one string.
template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::string out;
  (out.append(std::string_view(parts)), ...);
  return out;
}

/// Wall-clock time in milliseconds since the Unix epoch.
inline std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Names the calling thread `what`, cut to Linux's 15 characters (librdkafka's own threads
/// are "rdk:...", oneTBB's inherit their creator's name).
inline void name_this_thread(std::string_view what) {
  std::string name(what.substr(0, std::min<std::size_t>(what.size(), 15)));
  pthread_setname_np(pthread_self(), name.c_str());
}

}  // namespace drift::daemon
