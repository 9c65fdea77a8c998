#include "config/config_values.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

namespace drift::daemon::config_detail {

namespace {

constexpr std::uint64_t kMaxMilliseconds = 1'000'000'000'000'000;  // ~31,700 years
constexpr std::size_t kMaxDecimals = 6;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/// One "<number><unit>" term: digits, optional fraction, then letters (possibly none).
struct Term {
  std::string_view whole;
  std::string_view fraction;
  std::string_view unit;
};

/// Reads a term at `pos`; false when no number starts there.
bool read_term(std::string_view text, std::size_t& pos, Term& term, bool allow_space) {
  const std::size_t start = pos;
  while (pos < text.size() && is_digit(text[pos])) ++pos;
  term.whole = text.substr(start, pos - start);
  term.fraction = {};
  if (pos < text.size() && text[pos] == '.') {
    const std::size_t fraction_start = ++pos;
    while (pos < text.size() && is_digit(text[pos])) ++pos;
    term.fraction = text.substr(fraction_start, pos - fraction_start);
    if (term.fraction.empty()) return false;
  }
  if (term.whole.empty() && term.fraction.empty()) return false;
  if (allow_space && pos < text.size() && text[pos] == ' ') ++pos;
  const std::size_t unit_start = pos;
  while (pos < text.size() && is_alpha(text[pos])) ++pos;
  term.unit = text.substr(unit_start, pos - unit_start);
  return true;
}

/// whole.fraction * unit, which must come out whole; nullopt on overflow.
std::optional<std::uint64_t> scale(const Term& term, std::uint64_t unit, std::string_view text,
                                   std::string_view what) {
  std::uint64_t whole = 0;
  if (!term.whole.empty()) {
    const auto [ptr, ec] =
        std::from_chars(term.whole.data(), term.whole.data() + term.whole.size(), whole);
    if (ec != std::errc()) return std::nullopt;
  }
  if (whole > std::numeric_limits<std::uint64_t>::max() / unit) return std::nullopt;
  std::uint64_t total = whole * unit;
  if (!term.fraction.empty()) {
    if (term.fraction.size() > kMaxDecimals) {
      throw ValueError(cat("too many decimal places in '", text, "'"));
    }
    std::uint64_t fraction = 0;
    std::from_chars(term.fraction.data(), term.fraction.data() + term.fraction.size(), fraction);
    std::uint64_t denominator = 1;
    for (std::size_t i = 0; i < term.fraction.size(); ++i) denominator *= 10;
    // fraction < 10^6 and unit < 2^41 for every unit used, so this cannot overflow.
    const std::uint64_t scaled = fraction * unit;
    if (scaled % denominator != 0) {
      throw ValueError(cat("'", text, "' is not a whole number of ", what));
    }
    if (total > std::numeric_limits<std::uint64_t>::max() - scaled / denominator) {
      return std::nullopt;
    }
    total += scaled / denominator;
  }
  return total;
}

std::string_view bad_duration_hint() {
  return "expected a duration such as 500ms, 5s, 1m, 2h or 1h30m";
}

}  // namespace

Duration parse_duration(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 4> kUnits{
      {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}}};
  if (text.empty()) throw ValueError(cat(bad_duration_hint(), ", got ''"));
  std::uint64_t total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t term_start = pos;
    Term term;
    if (!read_term(text, pos, term, false)) {
      throw ValueError(cat(bad_duration_hint(), ", got '", text, "'"));
    }
    if (term.unit.empty()) {
      if (term_start == 0 && pos == text.size()) {
        throw ValueError(cat("a duration needs a unit (ms, s, m or h), got '", text, "'"));
      }
      throw ValueError(cat(bad_duration_hint(), ", got '", text, "'"));
    }
    const auto unit = std::find_if(kUnits.begin(), kUnits.end(),
                                   [&](const auto& u) { return u.first == term.unit; });
    if (unit == kUnits.end()) {
      throw ValueError(cat("unknown unit '", term.unit, "' in '", text, "' (use ms, s, m or h)"));
    }
    const auto value = scale(term, unit->second, text, "milliseconds");
    if (!value || *value > kMaxMilliseconds - total) {
      throw ValueError(cat("'", text, "' is too long a duration"));
    }
    total += *value;
  }
  return Duration(static_cast<Duration::rep>(total));
}

std::string format_duration(Duration duration) {
  auto ms = static_cast<std::uint64_t>(std::max<Duration::rep>(duration.count(), 0));
  if (ms == 0) return "0s";
  std::string out;
  const auto part = [&](std::uint64_t unit, std::string_view suffix) {
    if (ms >= unit) {
      out += std::to_string(ms / unit);
      out += suffix;
      ms %= unit;
    }
  };
  part(3'600'000, "h");
  part(60'000, "m");
  part(1000, "s");
  part(1, "ms");
  return out;
}

std::uint64_t parse_size(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 10> kUnits{{
      {"", 1},
      {"B", 1},
      {"KB", 1'000},
      {"MB", 1'000'000},
      {"GB", 1'000'000'000},
      {"TB", 1'000'000'000'000},
      {"KiB", 1ull << 10},
      {"MiB", 1ull << 20},
      {"GiB", 1ull << 30},
      {"TiB", 1ull << 40},
  }};
  std::size_t pos = 0;
  Term term;
  if (!read_term(text, pos, term, true) || pos != text.size()) {
    throw ValueError(cat("expected a byte size such as 4096, 512MiB or 8GiB, got '", text, "'"));
  }
  const auto unit = std::find_if(kUnits.begin(), kUnits.end(),
                                 [&](const auto& u) { return u.first == term.unit; });
  if (unit == kUnits.end()) {
    throw ValueError(cat("unknown unit '", term.unit, "' in '", text,
                         "' (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"));
  }
  const auto value = scale(term, unit->second, text, "bytes");
  if (!value) throw ValueError(cat("'", text, "' is too large"));
  return *value;
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<std::pair<std::string_view, unsigned>, 4> kUnits{
      {{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}}};
  if (bytes == 0) return "0";
  for (const auto& [suffix, shift] : kUnits) {
    const std::uint64_t unit = 1ull << shift;
    if (bytes % unit == 0) return cat(std::to_string(bytes / unit), suffix);
  }
  return std::to_string(bytes);
}

std::uint64_t parse_count(std::string_view text) {
  std::uint64_t value = 0;
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), is_digit);
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!digits || ptr != text.data() + text.size()) {
    throw ValueError(cat("expected a non-negative integer, got '", text, "'"));
  }
  if (ec == std::errc::result_out_of_range) throw ValueError(cat("'", text, "' is too large"));
  return value;
}

double parse_number(std::string_view text) {
  double value = 0.0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() ||
      !std::isfinite(value)) {
    throw ValueError(cat("expected a number, got '", text, "'"));
  }
  return value;
}

std::string format_number(double value) {
  std::array<char, 32> buffer{};
  const auto [ptr, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return std::string(buffer.data(), ec == std::errc() ? ptr : buffer.data());
}

std::string pointer_problem(std::string_view text) {
  if (text.empty()) return {};
  if (text.front() != '/') {
    return cat("a JSON pointer must be empty or start with '/' (RFC 6901), got '", text, "'");
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '~' && (i + 1 == text.size() || (text[i + 1] != '0' && text[i + 1] != '1'))) {
      return cat(
          "'~' must be followed by 0 or 1 in a JSON pointer (RFC 6901: ~0 is '~', ~1 is "
          "'/'), got '",
          text, "'");
    }
  }
  return {};
}

std::string substitute_env(
    std::string_view text,
    const std::function<std::optional<std::string>(const std::string&)>& lookup) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.substr(i, 3) == "$${") {
      out += "${";
      i += 3;
      continue;
    }
    if (text.substr(i, 2) != "${") {
      out += text[i++];
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      throw ValueError("unterminated '${' (write $${ for a literal ${)");
    }
    const std::string_view inner = text.substr(i + 2, close - i - 2);
    const std::size_t dash = inner.find(":-");
    const std::string name(inner.substr(0, dash));
    const bool valid_name = !name.empty() && !is_digit(name.front()) &&
                            std::all_of(name.begin(), name.end(), [](char c) {
                              return is_alpha(c) || is_digit(c) || c == '_';
                            });
    if (!valid_name) {
      throw ValueError(cat("bad environment variable name '", name, "' in '${", inner, "}'"));
    }
    const auto value = lookup(name);
    if (dash != std::string_view::npos) {
      out += value && !value->empty() ? std::string_view(*value) : inner.substr(dash + 2);
    } else if (value) {
      out += *value;
    } else {
      throw ValueError(cat("environment variable ", name, " is not set (write ${", name,
                           ":-default} to give a default)"));
    }
    i = close + 1;
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ValueError(cat("cannot read '", path, "': it is a directory"));
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    throw ValueError(cat("cannot read '", path,
                         "': ", error != 0 ? std::strerror(error) : "cannot open the file"));
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw ValueError(cat("cannot read '", path, "': read error"));
  return std::move(content).str();
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment: insertions, deletions, substitutions and adjacent swaps.
  const std::size_t width = b.size() + 1;
  std::vector<std::size_t> d((a.size() + 1) * width);
  const auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * width + j]; };
  for (std::size_t i = 0; i <= a.size(); ++i) at(i, 0) = i;
  for (std::size_t j = 0; j <= b.size(); ++j) at(0, j) = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
      }
    }
  }
  return at(a.size(), b.size());
}

std::optional<std::string> closest_match(std::string_view word,
                                         std::span<const std::string> candidates) {
  const auto lower = [](std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) {
      return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    });
    return out;
  };
  const std::string needle = lower(word);
  const std::size_t limit = needle.size() <= 4 ? 1 : 2;
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (const auto& candidate : candidates) {
    const std::size_t distance = edit_distance(needle, lower(candidate));
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

}  // namespace drift::daemon::config_detail
