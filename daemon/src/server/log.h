#pragma once
/// Minimal structured logging to stderr: one line per event, `time level component message`.
/// Data-plane problems go through RateLimitedLog so a flood of bad records cannot flood logs.

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace drift::daemon {

enum class LogLevel : std::uint8_t { kInfo, kWarning, kError };

/// Writes one line; thread-safe.
void log_line(LogLevel level, std::string_view component, std::string_view message);

/// Logs a key at most once per interval, then says how many were suppressed.
class RateLimitedLog {
 public:
  explicit RateLimitedLog(std::chrono::seconds interval = std::chrono::seconds(10))
      : interval_(interval) {}
  void warn(std::string_view key, std::string_view component, std::string_view message);

 private:
  struct Entry {
    std::chrono::steady_clock::time_point last{};
    std::uint64_t suppressed = 0;
  };
  std::chrono::seconds interval_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace drift::daemon
