#include "server/log.h"

#include <cstdio>
#include <ctime>

namespace drift::daemon {

namespace {
std::mutex g_log_mutex;

std::string_view level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}
}  // namespace

void log_line(LogLevel level, std::string_view component, std::string_view message) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                          now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  const std::lock_guard lock(g_log_mutex);
  std::fprintf(stderr, "%s.%03dZ %.*s %.*s: %.*s\n", stamp, static_cast<int>(millis),
               static_cast<int>(level_name(level).size()), level_name(level).data(),
               static_cast<int>(component.size()), component.data(),
               static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
}

void RateLimitedLog::warn(std::string_view key, std::string_view component,
                          std::string_view message) {
  const auto now = std::chrono::steady_clock::now();
  std::uint64_t suppressed = 0;
  {
    const std::lock_guard lock(mutex_);
    Entry& entry = entries_[std::string(key)];
    if (entry.last != std::chrono::steady_clock::time_point{} && now - entry.last < interval_) {
      ++entry.suppressed;
      return;
    }
    suppressed = entry.suppressed;
    entry.suppressed = 0;
    entry.last = now;
  }
  std::string line(message);
  if (suppressed > 0) line += " (" + std::to_string(suppressed) + " similar suppressed)";
  log_line(LogLevel::kWarning, component, line);
}

}  // namespace drift::daemon
