#pragma once
/// Tables read from CSV or JSONL files for `driftd check`: owning columnar storage whose
/// view() feeds the detectors.

#include <cstdint>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "drift/detectors/column.h"

namespace drift::daemon {

/// One column: float32 values (NaN = missing) or dictionary codes (kMissingCode = missing).
struct Column {
  std::string name;
  FeatureKind kind = FeatureKind::kNumeric;
  std::vector<float> values;            ///< kind == kNumeric
  std::vector<std::uint32_t> codes;     ///< kind == kCategorical
  std::vector<std::string> dictionary;  ///< kind == kCategorical, first-seen order
};

/// A whole file, column by column, in the file's column order.
struct Table {
  std::vector<Column> columns;
  std::size_t rows = 0;

  /// Views of every column (valid while the table lives).
  SampleView view() const;
  const Column* find(std::string_view name) const;
};

/// How a file is read.
struct ReadOptions {
  /// Columns read as categorical even when every value is a number.
  std::vector<std::string> categorical;
  /// When not empty, the kinds the columns must have (the reference's): a numeric column with
  /// a value that is not a number is an error, a categorical one takes numbers as text.
  std::map<std::string, FeatureKind, std::less<>> expected_kinds;
  /// Parallelism for parsing; 0 = oneTBB's default.
  int threads = 0;
};

/// A file that cannot be read as a table: the message names the file, the line (1-based) and
/// the column where it knows them, and the reason.
class TableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// CSV (RFC 4180: header row, comma separator, double-quoted fields, CRLF or LF). An empty
/// field is missing; a column whose non-empty fields all parse as numbers is numeric, any other
/// is categorical. `source` names the input in error messages.
Table parse_csv(std::string_view text, const ReadOptions& options, std::string_view source);

/// JSONL / NDJSON: one flat JSON object per line (blank lines skipped). Numbers are numeric;
/// strings and booleans categorical; null and absent keys missing; a column mixing numbers and
/// strings, or a nested value, is an error.
Table parse_jsonl(std::string_view text, const ReadOptions& options, std::string_view source);

/// Reads a file: `.jsonl` / `.ndjson` as JSONL, anything else as CSV.
Table read_table(const std::filesystem::path& path, const ReadOptions& options);

}  // namespace drift::daemon
