#pragma once
/// Private to the decode stage: a Decoder's compiled models, the per-thread scratch, and the
/// steps every format shares (claiming, routing, composing a row, counting). decoder.cc holds
/// the shared steps and the flat format, kserve.cc the two KServe formats.

#include <simdjson.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "decode/decoder.h"
#include "decode/path_tree.h"
#include "decode/structural_index.h"

namespace drift::daemon {
namespace decode {

/// compose()'s answer for a row it appended.
inline constexpr RejectReason kAccepted = RejectReason::kCount;

inline constexpr Value kAbsentValue{};

/// Where a feature reads: a slot of the row's values, or of its prediction's.
struct FeaturePlan {
  std::uint32_t slot = kNoSlot;
  bool prediction = false;
};

/// One model, compiled for the decoder's format.
struct ModelPlan {
  MatchRule::Kind match = MatchRule::Kind::kAll;
  std::uint32_t match_slot = kNoSlot;  ///< kPointer: a row slot (flat) or a body slot (KServe)
  std::string header;                  ///< kHeader: the header name, lower-case
  std::string equals;
  std::uint32_t timestamp_slot = kNoSlot;  ///< a row slot (flat) or a body slot (KServe)
  std::vector<FeaturePlan> numeric;
  std::vector<FeaturePlan> categorical;
  bool needs_prediction = false;
};

/// A kserve-v2 feature pointer: the tensor, then indices within one row of it.
struct TensorPointer {
  std::string tensor;
  std::vector<std::uint64_t> indices;
};

/// One tensor of a kserve-v2 message; its shape and data live in the Scratch.
struct Tensor {
  std::string_view name;
  std::size_t shape_begin = 0;  ///< into Scratch::dims
  std::size_t rank = 0;
  std::size_t data_begin = 0;  ///< into the message's data values
  std::size_t data_size = 0;
  bool named = false;
  bool shaped = false;
  bool has_data = false;
};

/// The values of one row: values[slot] when it carries the row's generation, else absent.
struct RowView {
  const Value* values = nullptr;
  std::uint32_t generation = 0;

  const Value& operator[](std::uint32_t slot) const {
    if (values == nullptr || slot == kNoSlot) return kAbsentValue;
    const Value& value = values[slot];
    return value.generation == generation ? value : kAbsentValue;
  }
};

/// Buffers one thread reuses across decode calls: parsers, padded copies, values, tallies.
struct Scratch {
  simdjson::ondemand::parser request_parser;
  simdjson::ondemand::parser response_parser;
  std::vector<char> request_buffer;
  std::vector<char> response_buffer;
  StructuralIndex request_index;  ///< flat records: walked from stage 1's index
  std::vector<char> unescaped;    ///< their strings with escapes, unescaped

  std::uint32_t generation = 0;
  std::vector<Value> row_values;         ///< a row's values (flat, v1, v2 inputs)
  std::vector<Value> prediction_values;  ///< v1: rows x slots; v2: one row's output values
  std::vector<Value> body_values;        ///< KServe: match and timestamp pointers
  std::string body_text;                 ///< owned copies of the body's strings
  std::uint32_t prediction_generation = 0;

  std::vector<std::uint8_t> claimed;  ///< per model: takes the message without reading it
  std::vector<std::uint8_t> active;   ///< per model: takes this KServe message
  std::vector<std::int64_t> times;    ///< per model: this KServe message's time

  struct Mark {
    std::size_t rows = 0;
    std::size_t arena = 0;
  };
  std::vector<Mark> marks;  ///< rows and arena bytes before the message (for rolling back)
  std::vector<std::uint64_t> saved_accepted;
  std::vector<std::array<std::uint64_t, kRejectReasons>> saved_rejected;
  std::array<std::uint64_t, kRejectReasons> saved_unmatched{};

  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs;
  std::vector<std::uint64_t> dims;
  std::vector<Value> input_data;
  std::vector<Value> output_data;

  /// A generation no value carries yet.
  std::uint32_t next_generation();
  /// Frees buffers a huge message grew, so that one message does not pin memory forever.
  void trim();
};

/// This thread's scratch.
Scratch& thread_scratch();

/// Copies `text` into `buffer`, followed by simdjson::SIMDJSON_PADDING spaces.
const char* padded_copy(std::vector<char>& buffer, std::string_view text);
/// Starts iterating `text` with `parser`, from a padded copy in `buffer`.
simdjson::error_code start_document(simdjson::ondemand::parser& parser, std::vector<char>& buffer,
                                    std::string_view text, simdjson::ondemand::document& document);
/// Starts loading the first bytes of `record`'s body into the cache.
void prefetch_body(const RawRecord& record);
/// Whether the document has nothing after what was iterated.
bool at_end(simdjson::ondemand::document& document);
/// Whether a document whose root is a scalar of `type` is valid JSON (`body` is its text).
bool valid_scalar_document(simdjson::ondemand::document& document,
                           simdjson::ondemand::json_type type, std::string_view body);
/// Whether `value` is a string, number or bool whose text is `equals`.
bool equals_text(const Value& value, std::string_view equals);
/// Reads a timestamp value into `time_ms` (left alone when absent or null); false when bad.
bool read_time(const Value& value, std::int64_t& time_ms);
/// The value of the first header named `name`, or nullptr.
const Header* find_header(const RawRecord& record, std::string_view name);

}  // namespace decode

struct Decoder::Impl {
  RecordFormat format = RecordFormat::kFlat;
  std::vector<decode::ModelPlan> plans;
  decode::PathTree row_tree;         ///< flat: the record; kserve-v1: a request row
  decode::PathTree prediction_tree;  ///< kserve-v1: a prediction
  decode::PathTree body_tree;        ///< KServe: the request body (match, timestamp)
  std::vector<decode::TensorPointer> input_pointers;   ///< kserve-v2 row slots
  std::vector<decode::TensorPointer> output_pointers;  ///< kserve-v2 prediction slots
  std::vector<std::string> input_tensors;              ///< kserve-v2: tensors some feature reads
  std::vector<std::string> output_tensors;
  bool pointer_rules = false;

  /// Sizes `out` and `counts` for the models, and `scratch` for the slots.
  void prepare(std::vector<DecodedRows>& out, DecodeCounts& counts, decode::Scratch& scratch) const;
  /// Fills scratch.claimed for `record` (kAll, and kHeader rules its headers satisfy).
  void claim(const RawRecord& record, decode::Scratch& scratch) const;
  /// Counts a rejection no model's content rule could see: under the claiming models, or
  /// under `unmatched` when there are none.
  void count_unrouted(RejectReason reason, DecodeCounts& counts,
                      const decode::Scratch& scratch) const;
  /// Appends one row to `out`, or says why the model rejects it (decode::kAccepted if not).
  RejectReason compose(const decode::ModelPlan& plan, decode::RowView record,
                       decode::RowView prediction, std::int64_t time_ms, DecodedRows& out) const;
  static void count(RejectReason outcome, std::size_t model, DecodeCounts& counts);

  /// Remembers `out` and `counts` before a message that may fail part-way...
  void save(const std::vector<DecodedRows>& out, const DecodeCounts& counts,
            decode::Scratch& scratch) const;
  /// ...and puts them back when it does.
  void roll_back(std::vector<DecodedRows>& out, DecodeCounts& counts,
                 const decode::Scratch& scratch) const;

  void decode_flat(const RawRecord& record, std::vector<DecodedRows>& out, DecodeCounts& counts,
                   decode::Scratch& scratch) const;
  void take_flat_row(decode::RowView row, const RawRecord& record, std::vector<DecodedRows>& out,
                     DecodeCounts& counts, decode::Scratch& scratch) const;
  void decode_flat_array(simdjson::ondemand::document& document, const RawRecord& record,
                         std::vector<DecodedRows>& out, DecodeCounts& counts,
                         decode::Scratch& scratch) const;

  void decode_kserve(const RawRecord& record, std::vector<DecodedRows>& out, DecodeCounts& counts,
                     decode::Scratch& scratch) const;
  void decode_v1(simdjson::ondemand::document& document, simdjson::ondemand::object& root,
                 const RawRecord& record, std::vector<DecodedRows>& out, DecodeCounts& counts,
                 decode::Scratch& scratch) const;
  void decode_v2(simdjson::ondemand::document& document, simdjson::ondemand::object& root,
                 const RawRecord& record, std::vector<DecodedRows>& out, DecodeCounts& counts,
                 decode::Scratch& scratch) const;
  /// kserve-v1: parses the response's predictions into scratch.prediction_values.
  RejectReason read_predictions(std::string_view response, std::size_t& rows,
                                decode::Scratch& scratch) const;
  /// Counts `reason` once for every active model (those needing predictions only, if asked)
  /// and deactivates them.
  void reject_active(RejectReason reason, bool prediction_only, DecodeCounts& counts,
                     decode::Scratch& scratch) const;
};

}  // namespace drift::daemon
