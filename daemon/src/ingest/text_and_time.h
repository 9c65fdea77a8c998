#pragma once
/// Two small helpers every stage of the daemon needs: joining text pieces and the wall clock.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

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

}  // namespace drift::daemon
