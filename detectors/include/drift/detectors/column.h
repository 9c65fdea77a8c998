#pragma once
/// Read-only columnar views that every detector consumes. Views never own memory: the caller
/// (a window snapshot, a table read from disk) keeps the buffers alive for the call.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace drift {

/// Whether a feature is tested as a number (KS, PSI on quantile bins) or a category (chi-square,
/// PSI on categories).
enum class FeatureKind : std::uint8_t { kNumeric, kCategorical };

/// Dictionary code that marks a missing categorical value.
inline constexpr std::uint32_t kMissingCode = std::numeric_limits<std::uint32_t>::max();

/// One feature's values in one sample. Numeric: float32, NaN/±Inf are missing. Categorical:
/// codes into `dictionary`, kMissingCode is missing; codes need not be dense or sorted.
struct ColumnView {
  std::string name;
  FeatureKind kind = FeatureKind::kNumeric;
  std::span<const float> values;            ///< kind == kNumeric
  std::span<const std::uint32_t> codes;     ///< kind == kCategorical
  std::span<const std::string> dictionary;  ///< kind == kCategorical: code -> category text

  std::size_t size() const { return kind == FeatureKind::kNumeric ? values.size() : codes.size(); }
};

/// All features of one sample (a reference data set or a current window), in a fixed order.
struct SampleView {
  std::vector<ColumnView> columns;

  /// The column named `name`, or nullptr.
  const ColumnView* find(std::string_view name) const;
};

/// How often each dictionary code occurs in a categorical column, and how many values are
/// missing.
struct CodeCounts {
  std::vector<std::uint64_t> per_code;  ///< one entry per dictionary entry
  std::uint64_t missing = 0;
};

/// Counts the codes of a categorical column. Throws InputError for a code outside the
/// dictionary.
CodeCounts count_codes(const ColumnView& column);

/// Input the detectors cannot test: too few rows, a column of the wrong kind, an unknown
/// feature. The message names the feature and the reason.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace drift
