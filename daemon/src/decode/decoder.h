#pragma once
/// Decoding raw records into per-model columnar rows: routing (`match`), JSON Pointers for
/// features, formats flat / kserve-v1 / kserve-v2, timestamps. The hot path of ingestion.

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "ingest/record.h"

namespace drift::daemon {

/// A categorical value in DecodedRows::arena; length kMissingLength = missing.
struct CategoryRef {
  static constexpr std::uint32_t kMissingLength = 0xFFFFFFFFu;
  std::uint32_t offset = 0;
  std::uint32_t length = kMissingLength;
};

/// Rows decoded for one model, column by column, in the model's feature order split by kind:
/// numeric[k] is the k-th numeric feature (NaN = missing), categorical[k] the k-th categorical.
struct DecodedRows {
  std::vector<std::vector<float>> numeric;
  std::vector<std::vector<CategoryRef>> categorical;
  std::string arena;                       ///< bytes of the categorical values
  std::vector<std::int64_t> timestamp_ms;  ///< record time, or arrival time without one

  std::size_t rows() const { return timestamp_ms.size(); }
  std::string_view category(const CategoryRef& ref) const {
    return std::string_view(arena).substr(ref.offset, ref.length);
  }
  void clear();
};

/// Why a record (or a model's share of it) was rejected.
enum class RejectReason : std::uint8_t {
  kInvalidJson,      ///< not parseable JSON
  kNotAnObject,      ///< the record (or a KServe row) has the wrong shape
  kNoModel,          ///< no model's `match` selects it
  kWrongType,        ///< a feature holds the wrong JSON type (a string for a numeric feature)
  kBadTimestamp,     ///< the timestamp pointer holds something that is not a time
  kShapeMismatch,    ///< KServe: predictions/outputs do not match instances/inputs
  kTooLarge,         ///< over the size limit
  kCount
};
inline constexpr std::size_t kRejectReasons = static_cast<std::size_t>(RejectReason::kCount);

/// "invalid_json", "not_an_object", "no_model", "wrong_type", "bad_timestamp",
/// "shape_mismatch", "too_large" (stable: they become metric label values).
std::string_view to_string(RejectReason reason);

/// Per-model outcome counters of a decode call (added to by each call).
struct DecodeCounts {
  std::vector<std::uint64_t> accepted_rows;  ///< per model
  std::vector<std::array<std::uint64_t, kRejectReasons>> rejected;  ///< per model, per reason
  std::array<std::uint64_t, kRejectReasons> unmatched{};  ///< records no model took, by reason
};

/// Decodes one source's records for the models it feeds. Immutable after construction;
/// decode() is thread-safe (callers may run it in parallel on disjoint outputs).
class Decoder {
 public:
  Decoder(std::vector<ModelConfig> models, RecordFormat format);
  ~Decoder();
  Decoder(Decoder&&) noexcept;
  Decoder& operator=(Decoder&&) noexcept;

  std::size_t model_count() const;
  /// Decodes `records`, appending rows to out[m] for model m (out is resized to model_count())
  /// and adding to `counts`. Never throws for bad input: bad records are counted and skipped.
  void decode(std::span<const RawRecord> records, std::vector<DecodedRows>& out,
              DecodeCounts& counts) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Parses a record timestamp: epoch seconds or milliseconds (numbers above 1e11 are taken as
/// milliseconds) or an RFC 3339 string. Returns false when the text is not a time.
bool parse_rfc3339_ms(std::string_view text, std::int64_t& out_ms);

}  // namespace drift::daemon
