#pragma once
/// Pieces shared by the CSV and JSONL readers: parallel chunked parsing, per-chunk column
/// buffers merged into Table columns, category interning, float parsing and one-line errors
/// that name file:line. Private to drift::daemon.

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "drift/daemon/table.h"

namespace drift::daemon::detail {

inline constexpr std::size_t kNoOffset = std::numeric_limits<std::size_t>::max();

// ---------------------------------------------------------------------------------------------
// Errors

/// `text` for an error message: quoted, one line, at most 40 characters.
inline std::string quote_for_message(std::string_view text) {
  constexpr std::size_t kMaxChars = 40;
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < kMaxChars; ++i) {
    const char c = text[i];
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  if (text.size() > kMaxChars) out += "...";
  out += "'";
  return out;
}

/// The 1-based line of byte `offset` in `text`.
inline std::size_t line_of(std::string_view text, std::size_t offset) {
  return 1 + static_cast<std::size_t>(std::count(
                 text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

/// Throws `source:LINE: message`, LINE being the line of byte `offset` in `text`.
[[noreturn]] inline void throw_at(std::string_view source, std::string_view text,
                                  std::size_t offset, std::string_view message) {
  throw TableError(std::string(source) + ":" + std::to_string(line_of(text, offset)) + ": " +
                   std::string(message));
}

/// Throws `source: message` (no line: the problem is the whole file).
[[noreturn]] inline void throw_file_error(std::string_view source, std::string_view message) {
  throw TableError(std::string(source) + ": " + std::string(message));
}

/// The first error a chunk met: where (byte offset of its row) and why.
struct ChunkError {
  std::size_t offset = 0;
  std::string message;
};

// ---------------------------------------------------------------------------------------------
// Kinds the caller asked for

/// How a column's kind is decided: inferred from the values, or fixed by ReadOptions.
enum class KindRule : std::uint8_t { kInfer, kNumeric, kCategorical };

/// Rejects options that contradict themselves: a column both listed as categorical and expected
/// numeric.
inline void check_options(const ReadOptions& options, std::string_view source) {
  for (const auto& name : options.categorical) {
    const auto it = options.expected_kinds.find(name);
    if (it != options.expected_kinds.end() && it->second == FeatureKind::kNumeric) {
      throw_file_error(source,
                       "column '" + name + "' is listed as categorical but expected to be numeric");
    }
  }
}

/// The rule for column `name`.
inline KindRule kind_rule(const ReadOptions& options, std::string_view name) {
  if (std::find(options.categorical.begin(), options.categorical.end(), name) !=
      options.categorical.end()) {
    return KindRule::kCategorical;
  }
  const auto it = options.expected_kinds.find(name);
  if (it == options.expected_kinds.end()) return KindRule::kInfer;
  return it->second == FeatureKind::kNumeric ? KindRule::kNumeric : KindRule::kCategorical;
}

/// Rejects a name in ReadOptions::categorical that is not one of the file's columns.
inline void check_categorical_names(const ReadOptions& options, std::span<const std::string> names,
                                    std::string_view source) {
  for (const auto& wanted : options.categorical) {
    if (std::find(names.begin(), names.end(), wanted) == names.end()) {
      throw_file_error(source, "no column '" + wanted + "' (listed as categorical)");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Numbers

/// What a field holds when read as a number.
enum class NumberKind : std::uint8_t { kNumber, kMissing, kNotANumber };

/// Decides a literal that from_chars<float> found out of float range: overflow is missing,
/// underflow rounds to (signed) zero or a subnormal.
[[gnu::noinline, gnu::cold]] inline NumberKind parse_out_of_range(const char* first,
                                                                  const char* last, float& value) {
  double wide = 0.0;
  const auto [ptr, ec] = std::from_chars(first, last, wide);
  if (ec == std::errc{} && ptr == last) {
    if (!std::isfinite(wide) ||
        std::fabs(wide) > static_cast<double>(std::numeric_limits<float>::max())) {
      return NumberKind::kMissing;
    }
    value = static_cast<float>(wide);
    return NumberKind::kNumber;
  }
  // Out of double range too: the decimal exponent of the leading digit decides.
  const char* p = first;
  const bool negative = *p == '-';
  if (negative) ++p;
  std::int64_t magnitude = -1;
  bool significant = false;
  for (; p != last && *p >= '0' && *p <= '9'; ++p) {
    if (significant || *p != '0') {
      significant = true;
      ++magnitude;
    }
  }
  if (p != last && *p == '.') {
    for (++p; p != last && *p >= '0' && *p <= '9'; ++p) {
      if (significant) continue;
      --magnitude;
      significant = *p != '0';
    }
  }
  if (!significant) magnitude = 0;
  if (p != last && (*p == 'e' || *p == 'E')) {
    ++p;
    const bool negative_exponent = p != last && *p == '-';
    if (p != last && (*p == '-' || *p == '+')) ++p;
    std::int64_t exponent = 0;
    for (; p != last && *p >= '0' && *p <= '9'; ++p) {
      exponent = std::min<std::int64_t>(exponent * 10 + (*p - '0'), 1'000'000'000);
    }
    magnitude += negative_exponent ? -exponent : exponent;
  }
  if (magnitude > 0) return NumberKind::kMissing;
  value = negative ? -0.0f : 0.0f;
  return NumberKind::kNumber;
}

/// Reads a plain decimal `[-]digits[.digits][(e|E)[+-]digits]` at `first` when the quick exact
/// route applies (at most 19 digits: m * 10^e with m <= 2^53 and |e| <= 22, one correctly
/// rounded double operation, and a double that is not halfway between two floats, so that
/// rounding it to float rounds the exact value). Returns the end of the number, or nullptr when
/// the text needs std::from_chars. The result equals from_chars<float>'s.
inline const char* parse_plain_decimal(const char* first, const char* last, float& value) {
  static constexpr double kPowersOf10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                           1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                           1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const auto digit = [](char c) { return static_cast<unsigned char>(c - '0') < 10; };
  const char* p = first;
  const bool negative = p != last && *p == '-';
  if (negative) ++p;
  std::uint64_t mantissa = 0;
  const char* const integer = p;
  for (; p != last && digit(*p); ++p) mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
  std::ptrdiff_t digits = p - integer;
  std::ptrdiff_t exponent = 0;
  if (p != last && *p == '.') {
    const char* const fraction = ++p;
    for (; p != last && digit(*p); ++p) {
      mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
    }
    exponent = fraction - p;
    digits += p - fraction;
  }
  if (digits == 0 || digits > 19) return nullptr;
  if (p != last && (*p == 'e' || *p == 'E')) {
    ++p;
    const bool negative_exponent = p != last && *p == '-';
    if (p != last && (*p == '-' || *p == '+')) ++p;
    const char* const start = p;
    std::ptrdiff_t written = 0;
    for (; p != last && digit(*p) && p - start < 4; ++p) written = written * 10 + (*p - '0');
    if (p == start || (p != last && digit(*p))) return nullptr;
    exponent += negative_exponent ? -written : written;
  }
  if (mantissa > (std::uint64_t{1} << 53) || exponent < -22 || exponent > 22) return nullptr;
  double exact = static_cast<double>(mantissa);
  exact = exponent < 0 ? exact / kPowersOf10[-exponent] : exact * kPowersOf10[exponent];
  if ((std::bit_cast<std::uint64_t>(exact) & 0x1FFFFFFF) == 0x10000000) return nullptr;
  value = static_cast<float>(negative ? -exact : exact);
  return p;
}

/// Reads [first, last) as a float32: surrounding spaces/tabs ignored, a leading '+' accepted.
/// Blank, nan, ±inf and literals that overflow float32 are missing.
inline NumberKind parse_float(const char* first, const char* last, float& value) {
  while (first != last && (*first == ' ' || *first == '\t')) ++first;
  while (last != first && (last[-1] == ' ' || last[-1] == '\t')) --last;
  if (first == last) return NumberKind::kMissing;
  if (*first == '+') {
    ++first;
    if (first == last || *first == '-') return NumberKind::kNotANumber;
  }
  if (parse_plain_decimal(first, last, value) == last) return NumberKind::kNumber;
  const auto [ptr, ec] = std::from_chars(first, last, value);
  if (ptr != last) return NumberKind::kNotANumber;
  if (ec == std::errc::result_out_of_range) return parse_out_of_range(first, last, value);
  if (ec != std::errc{}) return NumberKind::kNotANumber;
  return std::isfinite(value) ? NumberKind::kNumber : NumberKind::kMissing;
}

// ---------------------------------------------------------------------------------------------
// Per-chunk columns

/// Category texts in first-seen order, with a code for each. Codes stay below kMissingCode.
class Dictionary {
 public:
  Dictionary() = default;
  Dictionary(const Dictionary&) = delete;  // the index views the entries
  Dictionary& operator=(const Dictionary&) = delete;
  Dictionary(Dictionary&&) = default;
  Dictionary& operator=(Dictionary&&) = default;

  /// The code of `text`, adding it when new.
  std::uint32_t intern(std::string_view text) {
    const auto it = index_.find(text);
    if (it != index_.end()) return it->second;
    if (entries_.size() >= kMissingCode) throw TableError("more than 2^32-1 categories");
    const auto code = static_cast<std::uint32_t>(entries_.size());
    const std::string& stored = entries_.emplace_back(text);
    index_.emplace(stored, code);
    return code;
  }

  const std::deque<std::string>& entries() const { return entries_; }

 private:
  std::deque<std::string> entries_;  // a deque keeps the index's views valid as it grows
  std::unordered_map<std::string_view, std::uint32_t> index_;
};

/// One column's cells from one chunk of the file. A cell is the float's bits (numeric) or a
/// code into `dictionary` (categorical); kMissingCode is missing either way (as float bits it
/// is a NaN, so a column whose kind is settled only after the chunk needs one buffer).
struct ChunkColumn {
  std::vector<std::uint32_t> cells;
  Dictionary dictionary;
  std::size_t first_number = kNoOffset;  ///< byte offset of the row of the first number
  std::size_t first_text = kNoOffset;    ///< byte offset of the row of the first non-number
};

inline std::uint32_t float_cell(float value) { return std::bit_cast<std::uint32_t>(value); }

/// One chunk's share of a column: its cells (nullptr when the column never appeared in the
/// chunk: all missing) and the chunk's row count.
struct ChunkPart {
  const ChunkColumn* column = nullptr;
  std::size_t rows = 0;
};

/// Concatenates the parts of a numeric column.
inline Column merge_numeric(std::string name, std::span<const ChunkPart> parts, std::size_t rows) {
  Column out;
  out.name = std::move(name);
  out.kind = FeatureKind::kNumeric;
  out.values.resize(rows);
  float* dst = out.values.data();
  constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
  for (const auto& part : parts) {
    if (part.column == nullptr) {
      std::fill_n(dst, part.rows, kNaN);
    } else {
      const std::uint32_t* src = part.column->cells.data();
      for (std::size_t i = 0; i < part.rows; ++i) {
        dst[i] = src[i] == kMissingCode ? kNaN : std::bit_cast<float>(src[i]);
      }
    }
    dst += part.rows;
  }
  return out;
}

/// Concatenates the parts of a categorical column: one dictionary in first-seen order over the
/// whole file (the chunks' dictionaries in chunk order), codes remapped to it.
inline Column merge_categorical(std::string name, std::span<const ChunkPart> parts,
                                std::size_t rows) {
  Column out;
  out.name = std::move(name);
  out.kind = FeatureKind::kCategorical;
  out.codes.resize(rows);
  Dictionary merged;
  std::vector<std::uint32_t> remap;
  std::uint32_t* dst = out.codes.data();
  for (const auto& part : parts) {
    if (part.column == nullptr) {
      std::fill_n(dst, part.rows, kMissingCode);
    } else {
      remap.clear();
      for (const auto& text : part.column->dictionary.entries()) {
        remap.push_back(merged.intern(text));
      }
      const std::uint32_t* src = part.column->cells.data();
      for (std::size_t i = 0; i < part.rows; ++i) {
        dst[i] = src[i] == kMissingCode ? kMissingCode : remap[src[i]];
      }
    }
    dst += part.rows;
  }
  out.dictionary.reserve(merged.entries().size());
  for (const auto& text : merged.entries()) out.dictionary.push_back(text);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parallelism

/// Runs loops over indices on ReadOptions::threads threads (0 = oneTBB's default); with one
/// thread, inline on the caller's. More threads than the machine has split the work as asked
/// but run on the threads there are (oneTBB would warn and ignore the excess).
class ParallelRunner {
 public:
  explicit ParallelRunner(int threads)
      : concurrency_(threads > 0 ? threads : tbb::info::default_concurrency()) {
    const int usable = std::min(concurrency_, tbb::info::default_concurrency());
    if (usable > 1) arena_.emplace(usable);
  }

  /// The parallelism asked for: what the work is split for.
  int concurrency() const { return concurrency_; }

  /// Calls body(i) for every i in [0, count), one task per index.
  template <class Body>
  void for_each(std::size_t count, const Body& body) {
    if (!arena_ || count <= 1) {
      for (std::size_t i = 0; i < count; ++i) body(i);
      return;
    }
    arena_->execute([&] {
      tbb::parallel_for(
          tbb::blocked_range<std::size_t>(0, count, 1),
          [&](const tbb::blocked_range<std::size_t>& range) {
            for (std::size_t i = range.begin(); i != range.end(); ++i) body(i);
          },
          tbb::simple_partitioner());
    });
  }

 private:
  int concurrency_;
  std::optional<tbb::task_arena> arena_;
};

/// Bytes below which a chunk is not worth its own task.
inline constexpr std::size_t kMinChunkBytes = 256 * 1024;

/// Splits text[begin, text.size()) into about `concurrency * 4` chunks (one when
/// concurrency is 1), each boundary just after a '\n'. With `quote_aware`, a boundary is a
/// '\n' outside double quotes as counted from `begin` (exact for RFC 4180 text; the CSV reader
/// checks each chunk ends where the next begins). Returns the boundaries, first `begin`, last
/// text.size().
inline std::vector<std::size_t> split_lines(std::string_view text, std::size_t begin,
                                            bool quote_aware, ParallelRunner& runner) {
  const std::size_t size = text.size() - begin;
  std::size_t chunks = 1;
  if (runner.concurrency() > 1) {
    chunks = std::clamp<std::size_t>(size / kMinChunkBytes, 1,
                                     static_cast<std::size_t>(runner.concurrency()) * 4);
  }
  std::vector<std::size_t> nominal(chunks + 1);
  for (std::size_t k = 0; k <= chunks; ++k) nominal[k] = begin + size / chunks * k;
  nominal[chunks] = text.size();

  const auto count_quotes = [&](std::size_t from, std::size_t to) {
    return static_cast<std::size_t>(std::count(text.data() + from, text.data() + to, '"'));
  };
  std::vector<std::size_t> quotes(chunks, 0);  // quotes[k]: in [nominal[k], nominal[k + 1])
  if (quote_aware) {
    runner.for_each(chunks,
                    [&](std::size_t k) { quotes[k] = count_quotes(nominal[k], nominal[k + 1]); });
  }

  std::vector<std::size_t> bounds{begin};
  std::size_t quotes_before = 0;  // in [begin, nominal[k])
  for (std::size_t k = 1; k < chunks; ++k) {
    quotes_before += quotes[k - 1];
    std::size_t pos = std::max(nominal[k], bounds.back());
    if (quote_aware) {
      bool inside = (quotes_before + count_quotes(nominal[k], pos)) % 2 != 0;
      for (; pos < text.size(); ++pos) {
        if (text[pos] == '"') {
          inside = !inside;
        } else if (text[pos] == '\n' && !inside) {
          break;
        }
      }
    } else {
      const void* newline = std::memchr(text.data() + pos, '\n', text.size() - pos);
      pos = newline == nullptr
                ? text.size()
                : static_cast<std::size_t>(static_cast<const char*>(newline) - text.data());
    }
    if (pos + 1 >= text.size()) break;
    bounds.push_back(pos + 1);
  }
  bounds.push_back(text.size());
  return bounds;
}

/// Whether `token` is a number by JSON's grammar (simdjson only looks at its first character).
inline bool is_json_number(std::string_view token) {
  std::size_t i = 0;
  const std::size_t n = token.size();
  const auto digit = [&] { return i < n && token[i] >= '0' && token[i] <= '9'; };
  if (i < n && token[i] == '-') ++i;
  if (i < n && token[i] == '0') {
    ++i;
  } else {
    if (!digit()) return false;
    while (digit()) ++i;
  }
  if (i < n && token[i] == '.') {
    ++i;
    if (!digit()) return false;
    while (digit()) ++i;
  }
  if (i < n && (token[i] == 'e' || token[i] == 'E')) {
    ++i;
    if (i < n && (token[i] == '+' || token[i] == '-')) ++i;
    if (!digit()) return false;
    while (digit()) ++i;
  }
  return i == n;
}

}  // namespace drift::daemon::detail
