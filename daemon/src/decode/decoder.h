#pragma once
/// Decoding raw records into per-model columnar rows: routing (`match`), JSON Pointers for
/// features, formats flat / kserve-v1 / kserve-v2, timestamps. The hot path of ingestion.
///
/// Formats (RecordFormat):
/// - flat: the body is one JSON object (a row) or an array of objects (a row each). Pointers
///   (features, match, timestamp) address the row. `from: prediction` reads the row too.
/// - kserve-v1: body `{"instances": [row...]}` (or `"inputs"`), response_body
///   `{"predictions": [p...]}` (or `"outputs"`); row i joins prediction i. Feature pointers
///   address the row (`/3`, `/amount`, "" = the whole row) or, `from: prediction`, the
///   prediction. Match and timestamp pointers address the request body.
/// - kserve-v2 (Open Inference Protocol): body `{"inputs": [tensor...]}`, response
///   `{"outputs": [tensor...]}`, a tensor being `{"name", "shape": [n, ...], "datatype",
///   "data": [...]}` (data row-major, flat or nested); rows = shape[0], the same for every
///   tensor. A feature pointer is `/<tensor>` (a 1-D tensor's row value, or the one element of
///   a row of shape [n, 1]) or `/<tensor>/<j>...` (an element of a row of a higher-rank tensor;
///   an index out of range is missing). Match and timestamp pointers address the request body.
/// Without a response (empty response_body) prediction features are missing.
///
/// Values: numbers become float32 (a literal beyond float range is missing), bools 1 / 0;
/// null or an absent pointer is missing; a string, object or array for a numeric feature
/// rejects the row for that model (kWrongType). A categorical value is a string's text, a
/// number's literal as written ("2.5"), "true" / "false"; an object or array is kWrongType.
/// Values are validated as they are read: a malformed number a feature reads is kInvalidJson.
///
/// Timestamps: the timestamp pointer's value (epoch seconds or milliseconds, or RFC 3339; see
/// parse_rfc3339_ms); absent or null → arrival_ms; anything else → kBadTimestamp. KServe
/// formats without a timestamp pointer use the `ce-time` header (RFC 3339) when present.
///
/// Counting: every outcome counts once per unit it concerns. Rows: accepted rows, rows
/// rejected for their values (wrong_type, a flat row's bad_timestamp, ...), flat rows no model
/// matched. Messages (one RawRecord): invalid_json, not_an_object of the whole body,
/// shape_mismatch, too_large, a KServe message no model matched or whose timestamp is bad.
/// A message-level rejection is counted for the models that claim the message without reading
/// it (match kAll, or a matching kHeader rule), or under `unmatched` when there are none. A
/// message found malformed part-way adds no rows at all.

#include <array>
#include <cstddef>
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
  /// Removes every row; keeps the columns and their capacity.
  void clear();
};

/// Bodies (request plus response) above this size are rejected with kTooLarge.
inline constexpr std::size_t kMaxRecordBytes = std::size_t{64} << 20;

/// Why a record (or a model's share of it) was rejected.
enum class RejectReason : std::uint8_t {
  kInvalidJson,    ///< not parseable JSON
  kNotAnObject,    ///< the record (or a KServe row) has the wrong shape
  kNoModel,        ///< no model's `match` selects it
  kWrongType,      ///< a feature holds the wrong JSON type (a string for a numeric feature)
  kBadTimestamp,   ///< the timestamp pointer holds something that is not a time
  kShapeMismatch,  ///< KServe: predictions/outputs do not match instances/inputs
  kTooLarge,       ///< over the size limit
  kCount
};
inline constexpr std::size_t kRejectReasons = static_cast<std::size_t>(RejectReason::kCount);

/// "invalid_json", "not_an_object", "no_model", "wrong_type", "bad_timestamp",
/// "shape_mismatch", "too_large" (stable: they become metric label values).
std::string_view to_string(RejectReason reason);

/// Per-model outcome counters of a decode call (added to by each call).
struct DecodeCounts {
  std::vector<std::uint64_t> accepted_rows;                         ///< per model
  std::vector<std::array<std::uint64_t, kRejectReasons>> rejected;  ///< per model, per reason
  std::array<std::uint64_t, kRejectReasons> unmatched{};  ///< records no model took, by reason
};

/// Decodes one source's records for the models it feeds. Immutable after construction;
/// decode() is thread-safe (callers may run it in parallel on disjoint outputs). Each thread
/// keeps its own parser and scratch buffers (thread_local), reused across calls.
class Decoder {
 public:
  /// Compiles the models' pointers for `format`. Throws ConfigError for a pointer that is not
  /// RFC 6901, or a kserve-v2 feature pointer that is not `/<tensor>[/<index>...]`.
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
/// RFC 3339: `2026-11-27T10:00:00Z`, `...+01:00`, fractional seconds (`.5`, `.123456`); `t` or a
/// space may separate date and time; an offset is required. Epoch numbers use JSON's grammar
/// (`1764237600`, `1764237600.25`, `1.7642376e9`). Sub-millisecond digits are dropped.
bool parse_rfc3339_ms(std::string_view text, std::int64_t& out_ms);

}  // namespace drift::daemon
