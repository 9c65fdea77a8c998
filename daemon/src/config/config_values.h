#pragma once
/// Scalar syntax of the configuration file: durations, byte sizes, numbers, JSON pointers,
/// names, ${ENV} substitution, and the small text helpers the parser and the reference share.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "ingest/text_and_time.h"
#include <string_view>

#include "config/config.h"

namespace drift::daemon::config_detail {

using drift::daemon::cat;

/// A value that does not parse; what() is the reason without the key path.
class ValueError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};


/// "500ms", "5s", "1m", "2h", "1h30m", "1.5s": one or more number+unit terms (units ms, s, m,
/// h), a whole number of milliseconds. A bare number has no unit and is refused.
Duration parse_duration(std::string_view text);
/// The shortest form parse_duration reads back: "0s", "200ms", "10s", "1m", "1h30m".
std::string format_duration(Duration duration);

/// "512MiB", "8GiB", "1.5GB", "4096": a whole number of bytes; units B, KB, MB, GB, TB
/// (powers of 1000) and KiB, MiB, GiB, TiB (powers of 1024); no unit = bytes.
std::uint64_t parse_size(std::string_view text);
/// The largest binary unit that divides `bytes`: "16MiB", "1000", "0".
std::string format_size(std::uint64_t bytes);

/// A non-negative decimal integer without sign, exponent or separators.
std::uint64_t parse_count(std::string_view text);
/// A finite decimal number.
double parse_number(std::string_view text);
/// The shortest text that reads back as `value`: "0.05", "1000", "1e-06".
std::string format_number(double value);

/// Why `text` is not an RFC 6901 JSON Pointer ("" or "/"-separated tokens with ~0 and ~1
/// escapes); empty when it is one.
std::string pointer_problem(std::string_view text);

/// Replaces ${VAR} and ${VAR:-default} (default when VAR is unset or empty); `$${` is a literal
/// `${`. `lookup` returns nullopt for an unset variable. Throws ValueError naming the variable.
std::string substitute_env(
    std::string_view text,
    const std::function<std::optional<std::string>(const std::string&)>& lookup);

/// Reads a whole file; throws ValueError "cannot read '<path>': <reason>".
std::string read_file(const std::string& path);

/// Edit distance with adjacent swaps (optimal string alignment), for "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b);
/// The candidate closest to `word` when it is a plausible typo of it; nullopt otherwise.
std::optional<std::string> closest_match(std::string_view word,
                                         std::span<const std::string> candidates);

}  // namespace drift::daemon::config_detail
