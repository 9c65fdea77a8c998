/// Record timestamps: epoch numbers (seconds or milliseconds) and RFC 3339 date-times.

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <system_error>

#include "decode/decoder.h"

namespace drift::daemon {
namespace {

constexpr std::int64_t kMsPerSecond = 1000;
/// Numbers above this are milliseconds, at or below it seconds (1e11 s is the year 5138,
/// 1e11 ms is 1973).
constexpr double kMillisecondsAbove = 1e11;

bool digit(char c) { return c >= '0' && c <= '9'; }

/// Reads exactly `count` digits at text[at].
bool read_digits(std::string_view text, std::size_t at, std::size_t count, unsigned& out) {
  if (at + count > text.size()) return false;
  out = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (!digit(text[i])) return false;
    out = out * 10 + static_cast<unsigned>(text[i] - '0');
  }
  return true;
}

/// Days from 1970-01-01 to the proleptic Gregorian date y-m-d (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

unsigned days_in_month(unsigned year, unsigned month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

/// `YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|(+|-)HH:MM)`; digits past milliseconds are
/// dropped (the time is floored to the millisecond).
bool parse_date_time(std::string_view text, std::int64_t& out_ms) {
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, 0, 4, year) || text[4] != '-' || !read_digits(text, 5, 2, month) ||
      text.size() < 11 || text[7] != '-' || !read_digits(text, 8, 2, day)) {
    return false;
  }
  const char separator = text[10];
  if (separator != 'T' && separator != 't' && separator != ' ') return false;
  if (!read_digits(text, 11, 2, hour) || text.size() < 20 || text[13] != ':' ||
      !read_digits(text, 14, 2, minute) || text[16] != ':' || !read_digits(text, 17, 2, second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return false;
  }
  std::size_t at = 19;
  unsigned millis = 0;
  if (at < text.size() && text[at] == '.') {
    const std::size_t first = ++at;
    for (; at < text.size() && digit(text[at]); ++at) {
      if (at - first < 3) millis = millis * 10 + static_cast<unsigned>(text[at] - '0');
    }
    if (at == first) return false;
    for (std::size_t n = at - first; n < 3; ++n) millis *= 10;
  }
  if (at >= text.size()) return false;  // RFC 3339 requires an offset
  std::int64_t offset_minutes = 0;
  if (text[at] == 'Z' || text[at] == 'z') {
    ++at;
  } else if (text[at] == '+' || text[at] == '-') {
    unsigned offset_hour = 0, offset_minute = 0;
    if (!read_digits(text, at + 1, 2, offset_hour) || at + 3 >= text.size() ||
        text[at + 3] != ':' || !read_digits(text, at + 4, 2, offset_minute) || offset_hour > 23 ||
        offset_minute > 59) {
      return false;
    }
    offset_minutes = static_cast<std::int64_t>(offset_hour * 60 + offset_minute);
    if (text[at] == '-') offset_minutes = -offset_minutes;
    at += 6;
  } else {
    return false;
  }
  if (at != text.size()) return false;
  const std::int64_t seconds = days_from_civil(year, month, day) * 86400 +
                               static_cast<std::int64_t>(hour * 3600 + minute * 60 + second) -
                               offset_minutes * 60;
  out_ms = seconds * kMsPerSecond + static_cast<std::int64_t>(millis);
  return true;
}

/// A JSON-grammar number: `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`. Plain decimals are
/// converted exactly (digits past milliseconds dropped, toward zero); exponent forms through a
/// double, rounded to the millisecond.
bool parse_epoch(std::string_view text, std::int64_t& out_ms) {
  const std::size_t n = text.size();
  // The common case, in one pass: an integer of 1 to 18 digits (no sign, no leading zero).
  if (n >= 1 && n <= 18 && (text[0] != '0' || n == 1)) {
    std::uint64_t integer = 0;
    bool digits = true;
    for (const char c : text) {
      const auto d = static_cast<unsigned>(static_cast<unsigned char>(c) - '0');
      digits = digits && d < 10;
      integer = integer * 10 + d;
    }
    if (digits) {
      const auto value = static_cast<std::int64_t>(integer);
      out_ms = static_cast<double>(integer) > kMillisecondsAbove ? value : value * kMsPerSecond;
      return true;
    }
  }
  std::size_t i = 0;
  const bool negative = i < n && text[i] == '-';
  if (negative) ++i;
  const std::size_t integer_begin = i;
  if (i < n && text[i] == '0') {
    ++i;
  } else {
    while (i < n && digit(text[i])) ++i;
  }
  const std::size_t integer_end = i;
  if (integer_end == integer_begin) return false;
  std::size_t fraction_begin = 0, fraction_end = 0;
  if (i < n && text[i] == '.') {
    fraction_begin = ++i;
    while (i < n && digit(text[i])) ++i;
    fraction_end = i;
    if (fraction_end == fraction_begin) return false;
  }
  bool exponent = false;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    exponent = true;
    ++i;
    if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
    const std::size_t exponent_begin = i;
    while (i < n && digit(text[i])) ++i;
    if (i == exponent_begin) return false;
  }
  if (i != n) return false;

  if (exponent) {
    double value = 0.0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + n, value);
    if (ec != std::errc{} || ptr != text.data() + n || !std::isfinite(value)) return false;
    const double ms = std::fabs(value) > kMillisecondsAbove ? value : value * 1000.0;
    if (!(std::fabs(ms) < 9.2e18)) return false;
    out_ms = std::llround(ms);
    return true;
  }
  std::uint64_t integer = 0;
  if (integer_end - integer_begin <= 18) {  // below 10^18: no overflow (the common case)
    for (std::size_t k = integer_begin; k < integer_end; ++k) {
      integer = integer * 10 + static_cast<unsigned>(text[k] - '0');
    }
  } else {
    const auto [ptr, ec] =
        std::from_chars(text.data() + integer_begin, text.data() + integer_end, integer);
    if (ec != std::errc{} || integer > static_cast<std::uint64_t>(INT64_MAX)) return false;
  }
  const bool milliseconds = static_cast<double>(integer) > kMillisecondsAbove;
  std::int64_t ms = static_cast<std::int64_t>(integer);
  if (!milliseconds) {
    unsigned millis = 0;
    for (std::size_t k = 0; k < 3; ++k) {
      const std::size_t at = fraction_begin + k;
      millis =
          millis * 10 +
          (fraction_begin != 0 && at < fraction_end ? static_cast<unsigned>(text[at] - '0') : 0u);
    }
    ms = ms * kMsPerSecond + static_cast<std::int64_t>(millis);
  }
  out_ms = negative ? -ms : ms;
  return true;
}

}  // namespace

bool parse_rfc3339_ms(std::string_view text, std::int64_t& out_ms) {
  if (text.size() >= 5 && text[4] == '-' && digit(text[0])) return parse_date_time(text, out_ms);
  return parse_epoch(text, out_ms);
}

}  // namespace drift::daemon
