/// The decode stage: compiling models, the steps all formats share, and the flat format.
///
/// Parser choice (bench_decode, flat 24-feature records of ~440 bytes, one core of the 2-core
/// Xeon development machine): simdjson DOM alone — parse and visit every field, nothing
/// extracted — ran at ≈ 1.7 M records/s, about what this whole decoder reaches on ondemand
/// (≈ 1.6 M/s with routing, float32 conversion and columnar output), while ondemand alone
/// visiting every raw token ran at ≈ 8.6 M/s: the navigation is cheap and the rest is our
/// work, which a DOM front end would add on top. Ondemand also keeps the number literals, which
/// categorical values ("2.50" as written) and float32 rounding from the text need; DOM keeps
/// only doubles. The bodies are views without padding, so each is copied into a per-thread
/// padded buffer; parsing in place (where the bytes after a body happened to be readable)
/// measured no faster. A flat record that is one object skips ondemand's iterator and is walked
/// straight from simdjson's stage-1 index (indexed_walk.cc: 1.89 → 2.07 M records/s); arrays
/// of rows, KServe bodies and keys with escapes take ondemand.

#include <simdjson.h>

#if defined(__SSE4_1__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "column_builder.h"
#include "decode/decoder.h"
#include "decode/decoder_impl.h"
#include "decode/path_tree.h"

namespace drift::daemon {

void DecodedRows::clear() {
  for (auto& column : numeric) column.clear();
  for (auto& column : categorical) column.clear();
  arena.clear();
  timestamp_ms.clear();
}

std::string_view to_string(RejectReason reason) {
  switch (reason) {
    case RejectReason::kInvalidJson:
      return "invalid_json";
    case RejectReason::kNotAnObject:
      return "not_an_object";
    case RejectReason::kNoModel:
      return "no_model";
    case RejectReason::kWrongType:
      return "wrong_type";
    case RejectReason::kBadTimestamp:
      return "bad_timestamp";
    case RejectReason::kShapeMismatch:
      return "shape_mismatch";
    case RejectReason::kTooLarge:
      return "too_large";
    case RejectReason::kCount:
      break;
  }
  return "unknown";
}

namespace decode {
namespace {

namespace ondemand = simdjson::ondemand;

/// Records ahead of the one being decoded whose bodies are prefetched.
constexpr std::size_t kPrefetchAhead = 2;
/// Bytes of a body prefetched (a longer one streams in through the hardware prefetcher).
constexpr std::size_t kPrefetchBytes = 1024;

/// Buffers above this are released after a decode call.
constexpr std::size_t kKeepScratchBytes = std::size_t{4} << 20;
/// CategoryRef offsets are 32-bit; kMissingLength marks a missing value.
constexpr std::size_t kMaxArenaBytes = CategoryRef::kMissingLength - 1;


enum class NumberRead : std::uint8_t { kNumber, kMissing, kInvalid };

constexpr double kPowersOf10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/// `m * 10^exponent` (|exponent| <= 22, m <= 2^53) as float32 when one double operation and
/// the rounding to float round the exact value, as parse_plain_decimal in column_builder.h
/// does (a double halfway between two floats is left to the exact parser).
bool quick_float(std::uint64_t mantissa, std::int64_t exponent, bool negative, float& value) {
  double exact = static_cast<double>(mantissa);
  exact = exponent < 0 ? exact / kPowersOf10[-exponent] : exact * kPowersOf10[exponent];
  const auto bits = std::bit_cast<std::uint64_t>(exact);
  if ((bits & 0x1FFFFFFF) == 0x10000000) return false;
  // The sign without a branch: signs are random in real data.
  value = static_cast<float>(std::bit_cast<double>(bits | std::uint64_t{negative} << 63));
  return true;
}

/// A JSON number literal as float32, validated by JSON's grammar in the same pass, digit by
/// digit: any literal.
NumberRead read_number_slow(std::string_view token, float& value) {
  const auto digit = [](char c) { return static_cast<unsigned char>(c - '0') < 10; };
  const char* p = token.data();
  const char* const end = p + token.size();
  const bool negative = p != end && *p == '-';
  if (negative) ++p;
  const char* const integer = p;
  std::uint64_t mantissa = 0;
  if (p != end && *p == '0') {
    ++p;
  } else {
    for (; p != end && digit(*p); ++p) mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
    if (p == integer) return NumberRead::kInvalid;
  }
  std::ptrdiff_t digits = p - integer;
  std::int64_t exponent = 0;
  if (p != end && *p == '.') {
    const char* const fraction = ++p;
    for (; p != end && digit(*p); ++p) mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
    if (p == fraction) return NumberRead::kInvalid;
    digits += p - fraction;
    exponent = fraction - p;
  }
  if (p != end && (*p == 'e' || *p == 'E')) {
    ++p;
    const bool negative_exponent = p != end && *p == '-';
    if (p != end && (*p == '-' || *p == '+')) ++p;
    const char* const first = p;
    std::int64_t written = 0;
    for (; p != end && digit(*p); ++p) {
      if (written < 1'000'000) written = written * 10 + (*p - '0');
    }
    if (p == first) return NumberRead::kInvalid;
    exponent += negative_exponent ? -written : written;
  }
  if (p != end) return NumberRead::kInvalid;
  // Within float range on this route: at most 2^53 * 1e22, at least 1e-22 unless zero.
  if (digits <= 19 && mantissa <= (std::uint64_t{1} << 53) && exponent >= -22 && exponent <= 22 &&
      quick_float(mantissa, exponent, negative, value)) {
    return NumberRead::kNumber;
  }
  return detail::parse_float(token.data(), end, value) == detail::NumberKind::kNumber
             ? NumberRead::kNumber
             : NumberRead::kMissing;
}

/// read_number_slow's answer, quicker for the common `-ddd.ddd` (up to 7 digits on each side
/// of the point): the token's bytes checked and converted 16 at a time (SSE), no branch per
/// digit. Reads 16 bytes from the token's start, which lies in a padded simdjson buffer.
NumberRead read_number(std::string_view token, float& value) {
#if !defined(__SSE4_1__)
  return read_number_slow(token, value);  // builds below x86-64-v2 (the CMake baseline is v3)
#else
  if (token.empty()) return NumberRead::kInvalid;
  const char* p = token.data();
  const bool negative = *p == '-';
  p += negative ? 1 : 0;
  const std::size_t n = token.size() - (negative ? 1 : 0);
  // At most 7 + '.' + 7 bytes; longer or shorter forms take the exact route.
  if (n == 0 || n > 15) return read_number_slow(token, value);
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i digits = _mm_sub_epi8(bytes, _mm_set1_epi8('0'));
  const auto digit_lanes = static_cast<unsigned>(
      _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(digits, _mm_set1_epi8(9)), digits)));
  const auto dot_lanes =
      static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('.'))));
  const unsigned in_token = (1u << n) - 1;
  // Every byte a digit but at most one, which is the point.
  const unsigned other = ~digit_lanes & in_token;
  if (other != (dot_lanes & in_token) || (other & (other - 1)) != 0) {
    return read_number_slow(token, value);
  }
  const unsigned integer_digits = other != 0 ? static_cast<unsigned>(std::countr_zero(other))
                                             : static_cast<unsigned>(n);
  const unsigned fraction_digits = other != 0 ? static_cast<unsigned>(n) - integer_digits - 1 : 0;
  // (Bitwise: the digit counts are random in real data, branches on them would mispredict.)
  if ((integer_digits - 1 > 6) | ((other != 0) & (fraction_digits - 1 > 6)) |
      ((integer_digits > 1) & (*p == '0'))) {
    return read_number_slow(token, value);
  }
  // Right-align the digits without the point: lane j of the result takes source lane
  // j + n - 16, one lane further left for the integer part when there is a point; negative
  // indices (the high bit set) give zeros.
  const __m128i lane = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __m128i index = _mm_add_epi8(lane, _mm_set1_epi8(static_cast<char>(static_cast<int>(n) - 16)));
  const int integer_lanes_end = other != 0 ? 16 - static_cast<int>(fraction_digits) : 0;
  index = _mm_add_epi8(index,
                       _mm_cmpgt_epi8(_mm_set1_epi8(static_cast<char>(integer_lanes_end)), lane));
  const __m128i aligned = _mm_shuffle_epi8(digits, index);
  // Pairs, quads, then eights of digits (at most 14 digits: the high eight hold at most 6).
  const __m128i pairs = _mm_maddubs_epi16(aligned, _mm_set1_epi16(0x010A));
  const __m128i quads = _mm_madd_epi16(pairs, _mm_set1_epi32(0x00010064));
  const __m128i packed = _mm_packus_epi32(quads, quads);
  const __m128i eights = _mm_madd_epi16(packed, _mm_set1_epi32(0x00012710));
  const auto high = static_cast<std::uint32_t>(_mm_cvtsi128_si32(eights));
  const auto low = static_cast<std::uint32_t>(_mm_extract_epi32(eights, 1));
  const std::uint64_t mantissa = std::uint64_t{high} * 100000000 + low;
  // At most 14 digits: below 2^53, and within float range.
  if (!quick_float(mantissa, -static_cast<std::int64_t>(fraction_digits), negative, value)) {
    return read_number_slow(token, value);
  }
  return NumberRead::kNumber;
#endif
}

template <class T>
void shrink_if_large(std::vector<T>& buffer) {
  if (buffer.capacity() * sizeof(T) > kKeepScratchBytes) std::vector<T>().swap(buffer);
}

}  // namespace

void prefetch_body(const RawRecord& record) {
  prefetch_bytes(record.body.data(), std::min(record.body.size(), kPrefetchBytes));
}

std::uint32_t Scratch::next_generation() {
  if (++generation == 0) {
    for (auto* values : {&row_values, &prediction_values, &body_values}) {
      for (Value& value : *values) value.generation = 0;
    }
    generation = 1;
  }
  return generation;
}

void Scratch::trim() {
  if (request_parser.capacity() > kKeepScratchBytes) request_parser = ondemand::parser{};
  if (response_parser.capacity() > kKeepScratchBytes) response_parser = ondemand::parser{};
  shrink_if_large(request_buffer);
  shrink_if_large(unescaped);
  request_index.trim(kKeepScratchBytes);
  shrink_if_large(response_buffer);
  shrink_if_large(prediction_values);
  shrink_if_large(input_data);
  shrink_if_large(output_data);
  if (body_text.capacity() > kKeepScratchBytes) std::string().swap(body_text);
}

Scratch& thread_scratch() {
  thread_local Scratch scratch;
  return scratch;
}

const char* padded_copy(std::vector<char>& buffer, std::string_view text) {
  const std::size_t needed = text.size() + simdjson::SIMDJSON_PADDING;
  if (buffer.size() < needed) buffer.resize(std::max<std::size_t>(needed, 4096));
  std::memcpy(buffer.data(), text.data(), text.size());
  std::memset(buffer.data() + text.size(), ' ', simdjson::SIMDJSON_PADDING);
  return buffer.data();
}

simdjson::error_code start_document(ondemand::parser& parser, std::vector<char>& buffer,
                                    std::string_view text, ondemand::document& document) {
  padded_copy(buffer, text);
  return parser.iterate(buffer.data(), text.size(), buffer.size()).get(document);
}

bool at_end(ondemand::document& document) {
  const char* location = nullptr;
  return document.current_location().get(location) != simdjson::SUCCESS;
}

bool valid_scalar_document(ondemand::document& document, ondemand::json_type type,
                           std::string_view body) {
  switch (type) {
    case ondemand::json_type::number: {
      const std::size_t first = body.find_first_not_of(" \t\r\n");
      const std::size_t last = body.find_last_not_of(" \t\r\n");
      return first != std::string_view::npos &&
             detail::is_json_number(body.substr(first, last - first + 1));
    }
    case ondemand::json_type::string: {
      std::string_view text;
      if (document.get_string().get(text) != simdjson::SUCCESS) return false;
      break;
    }
    case ondemand::json_type::boolean: {
      bool flag = false;
      if (document.get_bool().get(flag) != simdjson::SUCCESS) return false;
      break;
    }
    case ondemand::json_type::null: {
      bool null = false;
      if (document.is_null().get(null) != simdjson::SUCCESS || !null) return false;
      break;
    }
    case ondemand::json_type::object:
    case ondemand::json_type::array:
      return false;
  }
  return at_end(document);
}

bool equals_text(const Value& value, std::string_view equals) {
  return (value.type == ValueType::kString || value.type == ValueType::kNumber ||
          value.type == ValueType::kBool) &&
         value.text() == equals;
}

bool read_time(const Value& value, std::int64_t& time_ms) {
  switch (value.type) {
    case ValueType::kAbsent:
    case ValueType::kNull:
      return true;
    case ValueType::kNumber:
    case ValueType::kString:
      return parse_rfc3339_ms(value.text(), time_ms);
    case ValueType::kBool:
    case ValueType::kObject:
    case ValueType::kArray:
      break;
  }
  return false;
}

const Header* find_header(const RawRecord& record, std::string_view name) {
  for (const Header& header : record.headers) {
    if (header.name == name) return &header;
  }
  return nullptr;
}

}  // namespace decode

namespace {

using decode::FeaturePlan;
using decode::kNoSlot;
using decode::ModelPlan;
using decode::PathTree;
using decode::RowView;
using decode::Scratch;
using decode::TensorPointer;
using decode::Value;
using decode::ValueType;
namespace ondemand = simdjson::ondemand;

std::string lower_case(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

[[noreturn]] void bad_pointer(const ModelConfig& model, std::string_view what,
                              std::string_view pointer, std::string_view reason) {
  std::string message = "models[";
  message += model.name;
  message += "].";
  message += what;
  message += ": ";
  message += reason;
  message += " '";
  message += pointer;
  message += "'";
  throw ConfigError(message);
}

std::vector<std::string> pointer_tokens(const ModelConfig& model, std::string_view what,
                                        std::string_view pointer) {
  std::vector<std::string> tokens;
  if (!decode::split_pointer(pointer, tokens)) {
    bad_pointer(model, what, pointer, "not a JSON Pointer (RFC 6901)");
  }
  return tokens;
}

/// The slot of a kserve-v2 pointer among `pointers` (added when new).
std::uint32_t tensor_slot(std::vector<TensorPointer>& pointers, std::vector<std::string>& names,
                          const ModelConfig& model, std::string_view what,
                          std::string_view pointer) {
  const std::vector<std::string> tokens = pointer_tokens(model, what, pointer);
  if (tokens.empty() || tokens.front().empty()) {
    bad_pointer(model, what, pointer, "kserve-v2 pointers are /<tensor>[/<index>...], not");
  }
  TensorPointer compiled;
  compiled.tensor = tokens.front();
  for (std::size_t k = 1; k < tokens.size(); ++k) {
    std::uint64_t index = 0;
    if (!decode::array_index(tokens[k], index)) {
      bad_pointer(model, what, pointer, "kserve-v2 indices within a row must be integers in");
    }
    compiled.indices.push_back(index);
  }
  for (std::size_t slot = 0; slot < pointers.size(); ++slot) {
    if (pointers[slot].tensor == compiled.tensor && pointers[slot].indices == compiled.indices) {
      return static_cast<std::uint32_t>(slot);
    }
  }
  if (std::find(names.begin(), names.end(), compiled.tensor) == names.end()) {
    names.push_back(compiled.tensor);
  }
  pointers.push_back(std::move(compiled));
  return static_cast<std::uint32_t>(pointers.size() - 1);
}

}  // namespace

Decoder::Decoder(std::vector<ModelConfig> models, RecordFormat format)
    : impl_(std::make_unique<Impl>()) {
  Impl& impl = *impl_;
  impl.format = format;
  const bool flat = format == RecordFormat::kFlat;
  const bool v2 = format == RecordFormat::kKserveV2;
  for (const ModelConfig& model : models) {
    ModelPlan plan;
    plan.match = model.match.kind;
    plan.equals = model.match.equals;
    if (plan.match == MatchRule::Kind::kPointer) {
      const auto tokens = pointer_tokens(model, "match.key", model.match.key);
      plan.match_slot = flat ? impl.row_tree.add(tokens) : impl.body_tree.add(tokens);
      impl.pointer_rules = true;
    } else if (plan.match == MatchRule::Kind::kHeader) {
      plan.header = lower_case(model.match.key);
    }
    if (!model.timestamp_pointer.empty()) {
      const auto tokens = pointer_tokens(model, "timestamp_pointer", model.timestamp_pointer);
      plan.timestamp_slot = flat ? impl.row_tree.add(tokens) : impl.body_tree.add(tokens);
    }
    for (const FeatureConfig& feature : model.features) {
      const std::string what = "features[" + feature.name + "].pointer";
      // Flat records hold their predictions: `from: prediction` reads the record too.
      const bool prediction = !flat && feature.from == FeatureOrigin::kPrediction;
      FeaturePlan compiled;
      compiled.prediction = prediction;
      if (v2) {
        compiled.slot = prediction ? tensor_slot(impl.output_pointers, impl.output_tensors, model,
                                                 what, feature.pointer)
                                   : tensor_slot(impl.input_pointers, impl.input_tensors, model,
                                                 what, feature.pointer);
      } else {
        const auto tokens = pointer_tokens(model, what, feature.pointer);
        compiled.slot = prediction ? impl.prediction_tree.add(tokens) : impl.row_tree.add(tokens);
      }
      plan.needs_prediction = plan.needs_prediction || prediction;
      (feature.kind == FeatureKind::kNumeric ? plan.numeric : plan.categorical).push_back(compiled);
    }
    impl.plans.push_back(std::move(plan));
  }
}

Decoder::~Decoder() = default;
Decoder::Decoder(Decoder&&) noexcept = default;
Decoder& Decoder::operator=(Decoder&&) noexcept = default;

std::size_t Decoder::model_count() const { return impl_->plans.size(); }

void Decoder::decode(std::span<const RawRecord> records, std::vector<DecodedRows>& out,
                     DecodeCounts& counts) const {
  const Impl& impl = *impl_;
  Scratch& scratch = decode::thread_scratch();
  impl.prepare(out, counts, scratch);
  for (std::size_t i = 0; i < records.size(); ++i) {
    // Bodies fresh from a source are often in another core's cache or in memory: start loading
    // the ones a few records ahead while this one is parsed.
    if (i + decode::kPrefetchAhead < records.size()) {
      decode::prefetch_body(records[i + decode::kPrefetchAhead]);
    }
    const RawRecord& record = records[i];
    impl.claim(record, scratch);
    if (impl.format == RecordFormat::kFlat) {
      impl.decode_flat(record, out, counts, scratch);
    } else {
      impl.decode_kserve(record, out, counts, scratch);
    }
  }
  scratch.trim();
}

void Decoder::Impl::prepare(std::vector<DecodedRows>& out, DecodeCounts& counts,
                            Scratch& scratch) const {
  const std::size_t models = plans.size();
  out.resize(models);
  for (std::size_t m = 0; m < models; ++m) {
    DecodedRows& rows = out[m];
    const std::size_t existing = rows.rows();
    if (rows.numeric.size() != plans[m].numeric.size()) {
      rows.numeric.resize(plans[m].numeric.size());
      for (auto& column : rows.numeric) {
        column.resize(existing, std::numeric_limits<float>::quiet_NaN());
      }
    }
    if (rows.categorical.size() != plans[m].categorical.size()) {
      rows.categorical.resize(plans[m].categorical.size());
      for (auto& column : rows.categorical) column.resize(existing);
    }
  }
  if (counts.accepted_rows.size() < models) counts.accepted_rows.resize(models, 0);
  if (counts.rejected.size() < models) counts.rejected.resize(models, {});

  const auto grow = [](std::vector<Value>& values, std::size_t size) {
    if (values.size() < size) values.resize(size);
  };
  grow(scratch.row_values, std::max<std::size_t>(row_tree.slot_count(), input_pointers.size()));
  grow(scratch.prediction_values, output_pointers.size());
  grow(scratch.body_values, body_tree.slot_count());
  scratch.claimed.resize(models);
  scratch.active.resize(models);
  scratch.times.resize(models);
  scratch.marks.resize(models);
}

void Decoder::Impl::claim(const RawRecord& record, Scratch& scratch) const {
  for (std::size_t m = 0; m < plans.size(); ++m) {
    const ModelPlan& plan = plans[m];
    bool claimed = plan.match == MatchRule::Kind::kAll;
    if (plan.match == MatchRule::Kind::kHeader) {
      const Header* header = decode::find_header(record, plan.header);
      claimed = header != nullptr && header->value == plan.equals;
    }
    scratch.claimed[m] = claimed ? 1 : 0;
  }
}

void Decoder::Impl::count_unrouted(RejectReason reason, DecodeCounts& counts,
                                   const Scratch& scratch) const {
  bool claimed = false;
  for (std::size_t m = 0; m < plans.size(); ++m) {
    if (scratch.claimed[m] == 0) continue;
    ++counts.rejected[m][static_cast<std::size_t>(reason)];
    claimed = true;
  }
  if (!claimed) ++counts.unmatched[static_cast<std::size_t>(reason)];
}

void Decoder::Impl::count(RejectReason outcome, std::size_t model, DecodeCounts& counts) {
  if (outcome == decode::kAccepted) {
    ++counts.accepted_rows[model];
  } else {
    ++counts.rejected[model][static_cast<std::size_t>(outcome)];
  }
}

RejectReason Decoder::Impl::compose(const ModelPlan& plan, RowView record, RowView prediction,
                                    std::int64_t time_ms, DecodedRows& out) const {
  // Categorical values first: checked, and their bytes counted for one arena resize.
  std::size_t text_bytes = 0;
  for (const FeaturePlan& feature : plan.categorical) {
    const Value& value = feature.prediction ? prediction[feature.slot] : record[feature.slot];
    switch (value.type) {
      case ValueType::kAbsent:
      case ValueType::kNull:
        break;
      case ValueType::kNumber:
        if (!detail::is_json_number(value.text())) return RejectReason::kInvalidJson;
        text_bytes += value.size;
        break;
      case ValueType::kString:
      case ValueType::kBool:
        text_bytes += value.size;
        break;
      case ValueType::kObject:
      case ValueType::kArray:
        return RejectReason::kWrongType;
    }
  }
  if (out.arena.size() + text_bytes > decode::kMaxArenaBytes) return RejectReason::kTooLarge;

  // Numeric values straight into their columns; a rejection takes the row's values back.
  // (Locals: the compiler cannot tell that the columns do not alias the plan.)
  RejectReason problem = decode::kAccepted;
  const FeaturePlan* const features = plan.numeric.data();
  const std::size_t count = plan.numeric.size();
  std::vector<float>* const columns = out.numeric.data();
  std::size_t k = 0;
  for (; k < count; ++k) {
    const FeaturePlan& feature = features[k];
    const Value& value = feature.prediction ? prediction[feature.slot] : record[feature.slot];
    float number = std::numeric_limits<float>::quiet_NaN();
    if (value.type == ValueType::kNumber) {
      const decode::NumberRead read = decode::read_number(value.text(), number);
      if (read == decode::NumberRead::kInvalid) {
        problem = RejectReason::kInvalidJson;
        break;
      }
      if (read == decode::NumberRead::kMissing) number = std::numeric_limits<float>::quiet_NaN();
    } else if (value.type == ValueType::kBool) {
      number = value.size == 4 ? 1.0f : 0.0f;  // "true" / "false"
    } else if (value.type != ValueType::kAbsent && value.type != ValueType::kNull) {
      problem = RejectReason::kWrongType;
      break;
    }
    columns[k].push_back(number);
  }
  if (problem != decode::kAccepted) {
    while (k > 0) columns[--k].pop_back();
    return problem;
  }

  if (!plan.categorical.empty()) {
    std::size_t at = out.arena.size();
    out.arena.resize(at + text_bytes);  // one resize for the row, then plain copies
    char* const arena = out.arena.data();
    for (std::size_t c = 0; c < plan.categorical.size(); ++c) {
      const FeaturePlan& feature = plan.categorical[c];
      const Value& value = feature.prediction ? prediction[feature.slot] : record[feature.slot];
      CategoryRef ref;
      if (value.type != ValueType::kAbsent && value.type != ValueType::kNull) {
        ref.offset = static_cast<std::uint32_t>(at);
        ref.length = value.size;
        std::memcpy(arena + at, value.data, value.size);
        at += value.size;
      }
      out.categorical[c].push_back(ref);
    }
  }
  out.timestamp_ms.push_back(time_ms);
  return decode::kAccepted;
}

void Decoder::Impl::save(const std::vector<DecodedRows>& out, const DecodeCounts& counts,
                         Scratch& scratch) const {
  for (std::size_t m = 0; m < plans.size(); ++m) {
    scratch.marks[m] = {out[m].rows(), out[m].arena.size()};
  }
  scratch.saved_accepted = counts.accepted_rows;
  scratch.saved_rejected = counts.rejected;
  scratch.saved_unmatched = counts.unmatched;
}

void Decoder::Impl::roll_back(std::vector<DecodedRows>& out, DecodeCounts& counts,
                              const Scratch& scratch) const {
  for (std::size_t m = 0; m < plans.size(); ++m) {
    DecodedRows& rows = out[m];
    const Scratch::Mark& mark = scratch.marks[m];
    if (rows.rows() == mark.rows) continue;
    for (auto& column : rows.numeric) column.resize(mark.rows);
    for (auto& column : rows.categorical) column.resize(mark.rows);
    rows.timestamp_ms.resize(mark.rows);
    rows.arena.resize(mark.arena);
  }
  counts.accepted_rows = scratch.saved_accepted;
  counts.rejected = scratch.saved_rejected;
  counts.unmatched = scratch.saved_unmatched;
}

void Decoder::Impl::decode_flat(const RawRecord& record, std::vector<DecodedRows>& out,
                                DecodeCounts& counts, Scratch& scratch) const {
  if (record.body.size() > kMaxRecordBytes) {
    count_unrouted(RejectReason::kTooLarge, counts, scratch);
    return;
  }
  // The common case, a record that is one object: walked from stage 1's index. Other roots
  // (arrays of rows, scalars) and keys with escapes take ondemand below.
  const char* const text = decode::padded_copy(scratch.request_buffer, record.body);
  if (scratch.request_index.index(text, record.body.size()) != simdjson::SUCCESS) {
    count_unrouted(RejectReason::kInvalidJson, counts, scratch);
    return;
  }
  const std::size_t unescaped = record.body.size() + simdjson::SIMDJSON_PADDING;
  if (scratch.unescaped.size() < unescaped) scratch.unescaped.resize(unescaped);
  const std::uint32_t row_generation = scratch.next_generation();
  switch (row_tree.walk_indexed(text, scratch.request_index, scratch.unescaped.data(),
                                scratch.row_values.data(), row_generation)) {
    case PathTree::Walked::kDone:
      take_flat_row(RowView{scratch.row_values.data(), row_generation}, record, out, counts,
                    scratch);
      return;
    case PathTree::Walked::kInvalid:
      count_unrouted(RejectReason::kInvalidJson, counts, scratch);
      return;
    case PathTree::Walked::kUnsupported:
      break;
  }

  ondemand::document document;
  ondemand::json_type type{};
  if (decode::start_document(scratch.request_parser, scratch.request_buffer, record.body,
                             document) ||
      document.type().get(type)) {
    count_unrouted(RejectReason::kInvalidJson, counts, scratch);
    return;
  }
  if (type == ondemand::json_type::array) {
    decode_flat_array(document, record, out, counts, scratch);
    return;
  }
  if (type != ondemand::json_type::object) {
    count_unrouted(decode::valid_scalar_document(document, type, record.body)
                       ? RejectReason::kNotAnObject
                       : RejectReason::kInvalidJson,
                   counts, scratch);
    return;
  }
  ondemand::object object;
  const std::uint32_t generation = scratch.next_generation();
  if (document.get_object().get(object) ||
      row_tree.walk_root_object(object, scratch.row_values.data(), generation) ||
      !decode::at_end(document)) {
    count_unrouted(RejectReason::kInvalidJson, counts, scratch);
    return;
  }
  take_flat_row(RowView{scratch.row_values.data(), generation}, record, out, counts, scratch);
}

void Decoder::Impl::take_flat_row(RowView row, const RawRecord& record,
                                  std::vector<DecodedRows>& out, DecodeCounts& counts,
                                  Scratch& scratch) const {
  bool taken = false;
  for (std::size_t m = 0; m < plans.size(); ++m) {
    const ModelPlan& plan = plans[m];
    if (scratch.claimed[m] == 0 && (plan.match != MatchRule::Kind::kPointer ||
                                    !decode::equals_text(row[plan.match_slot], plan.equals))) {
      continue;
    }
    taken = true;
    std::int64_t time_ms = record.arrival_ms;
    if (plan.timestamp_slot != kNoSlot && !decode::read_time(row[plan.timestamp_slot], time_ms)) {
      ++counts.rejected[m][static_cast<std::size_t>(RejectReason::kBadTimestamp)];
      continue;
    }
    count(compose(plan, row, RowView{}, time_ms, out[m]), m, counts);
  }
  if (!taken) ++counts.unmatched[static_cast<std::size_t>(RejectReason::kNoModel)];
}

void Decoder::Impl::decode_flat_array(ondemand::document& document, const RawRecord& record,
                                      std::vector<DecodedRows>& out, DecodeCounts& counts,
                                      Scratch& scratch) const {
  save(out, counts, scratch);
  ondemand::array array;
  simdjson::error_code error = document.get_array().get(array);
  if (!error) {
    for (auto result : array) {
      if ((error = result.error())) break;
      ondemand::value&& element = std::move(result).value_unsafe();
      Value scalar;
      if ((error = decode::capture(element, scalar, 0))) break;
      if (scalar.type != ValueType::kObject) {
        count_unrouted(RejectReason::kNotAnObject, counts, scratch);
        continue;
      }
      ondemand::object object;
      const std::uint32_t generation = scratch.next_generation();
      if ((error = element.get_object().get(object)) ||
          (error = row_tree.walk_root_object(object, scratch.row_values.data(), generation))) {
        break;
      }
      take_flat_row(RowView{scratch.row_values.data(), generation}, record, out, counts, scratch);
    }
  }
  if (error || !decode::at_end(document)) {
    roll_back(out, counts, scratch);
    count_unrouted(RejectReason::kInvalidJson, counts, scratch);
  }
}

}  // namespace drift::daemon
