/// The KServe formats: v1 (instances / predictions) and v2, the Open Inference Protocol
/// (named tensors with a shape). A message is claimed, parsed, routed on its body, timed, and
/// then split into rows; the response is joined to the request row by row.

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "decode/decoder.h"
#include "decode/decoder_impl.h"
#include "decode/path_tree.h"

namespace drift::daemon {
namespace {

using decode::kNoSlot;
using decode::ModelPlan;
using decode::RowView;
using decode::Scratch;
using decode::Tensor;
using decode::TensorPointer;
using decode::Value;
using decode::ValueType;
namespace ondemand = simdjson::ondemand;

/// A type problem (a string where a shape was expected) is the message's shape; anything else
/// is malformed JSON.
RejectReason shape_or_json(simdjson::error_code error) {
  return error == simdjson::INCORRECT_TYPE || error == simdjson::NUMBER_OUT_OF_RANGE
             ? RejectReason::kNotAnObject
             : RejectReason::kInvalidJson;
}

/// Copies the body's strings into scratch.body_text: a rewind of the document reuses the
/// parser's string buffer they live in.
void own_body_strings(Scratch& scratch, std::uint32_t generation) {
  std::size_t bytes = 0;
  for (const Value& value : scratch.body_values) {
    if (value.generation == generation && value.type == ValueType::kString) bytes += value.size;
  }
  scratch.body_text.clear();
  scratch.body_text.reserve(bytes);
  for (Value& value : scratch.body_values) {
    if (value.generation != generation || value.type != ValueType::kString) continue;
    const std::size_t offset = scratch.body_text.size();
    scratch.body_text.append(value.data, value.size);
    value.data = scratch.body_text.data() + offset;  // reserved: no reallocation
  }
}

/// Appends every scalar of `value` (nested arrays flattened, row-major) to `data`.
simdjson::error_code flatten(ondemand::value& value, std::vector<Value>& data) {
  Value& scalar = data.emplace_back();
  if (auto error = decode::capture(value, scalar, 0)) return error;
  if (scalar.type != ValueType::kArray) return simdjson::SUCCESS;
  data.pop_back();
  // error() and value_unsafe() rather than get(), which copies simdjson's iterators through
  // memory and stalls (see path_tree.cc).
  auto array = value.get_array();
  if (array.error()) return array.error();
  for (auto result : array) {
    if (result.error()) return result.error();
    ondemand::value&& element = std::move(result).value_unsafe();
    if (auto error = flatten(element, data)) return error;
  }
  return simdjson::SUCCESS;
}

bool wanted(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

/// Reads one tensor object. Its data is read only when its name is unknown yet or wanted.
RejectReason read_tensor(ondemand::object& object, const std::vector<std::string>& names,
                         Tensor& tensor, std::vector<Value>& data,
                         std::vector<std::uint64_t>& dims) {
  for (auto result : object) {
    ondemand::field field;
    std::string_view key;
    if (auto error = std::move(result).get(field)) return shape_or_json(error);
    if (auto error = field.unescaped_key().get(key)) return shape_or_json(error);
    ondemand::value& value = field.value();
    if (key == "name") {
      if (auto error = value.get_string().get(tensor.name)) return shape_or_json(error);
      tensor.named = true;
    } else if (key == "shape") {
      ondemand::array shape;
      if (auto error = value.get_array().get(shape)) return shape_or_json(error);
      tensor.shape_begin = dims.size();
      for (auto element : shape) {
        std::uint64_t dim = 0;
        if (auto error = std::move(element).get_uint64().get(dim)) return shape_or_json(error);
        dims.push_back(dim);
      }
      tensor.rank = dims.size() - tensor.shape_begin;
      tensor.shaped = true;
    } else if (key == "data") {
      if (tensor.named && !wanted(names, tensor.name)) continue;  // skipped unread
      tensor.data_begin = data.size();
      if (auto error = flatten(value, data)) return shape_or_json(error);
      tensor.data_size = data.size() - tensor.data_begin;
      tensor.has_data = true;
    }
  }
  return tensor.named && tensor.shaped ? decode::kAccepted : RejectReason::kNotAnObject;
}

/// Reads the tensor list under `list_key` of a v2 message's root object and checks their shapes;
/// `rows` is their common shape[0].
RejectReason read_tensors(ondemand::document& document, ondemand::object& root,
                          std::string_view list_key, const std::vector<std::string>& names,
                          std::vector<Tensor>& tensors, std::vector<Value>& data,
                          std::vector<std::uint64_t>& dims, std::size_t& rows) {
  tensors.clear();
  data.clear();
  bool found = false;
  for (auto result : root) {
    ondemand::field field;
    std::string_view key;
    if (auto error = std::move(result).get(field)) return shape_or_json(error);
    if (auto error = field.unescaped_key().get(key)) return shape_or_json(error);
    if (found || key != list_key) continue;
    found = true;
    ondemand::array list;
    if (auto error = field.value().get_array().get(list)) return shape_or_json(error);
    for (auto element : list) {
      ondemand::object object;
      if (auto error = std::move(element).get_object().get(object)) return shape_or_json(error);
      Tensor tensor;
      const RejectReason problem = read_tensor(object, names, tensor, data, dims);
      if (problem != decode::kAccepted) return problem;
      tensors.push_back(tensor);
    }
  }
  if (!decode::at_end(document)) return RejectReason::kInvalidJson;
  if (!found) return RejectReason::kNotAnObject;

  rows = 0;
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    const Tensor& tensor = tensors[t];
    if (tensor.rank == 0) return RejectReason::kShapeMismatch;
    const std::uint64_t first = dims[tensor.shape_begin];
    if (t == 0) rows = first;
    if (first != rows) return RejectReason::kShapeMismatch;
    if (!tensor.has_data) continue;
    std::uint64_t elements = 1;
    for (std::size_t d = 0; d < tensor.rank; ++d) {
      const std::uint64_t dim = dims[tensor.shape_begin + d];
      if (dim != 0 && elements > std::numeric_limits<std::uint64_t>::max() / dim) {
        return RejectReason::kShapeMismatch;
      }
      elements *= dim;
    }
    if (elements != tensor.data_size) return RejectReason::kShapeMismatch;
  }
  return decode::kAccepted;
}

/// Where a kserve-v2 pointer finds its value in row i: data[begin + i * stride + offset], or
/// always absent, or always a (sub-)array.
struct Resolved {
  const Value* begin = nullptr;
  std::size_t stride = 0;
  std::size_t offset = 0;
  ValueType fixed = ValueType::kAbsent;  ///< kAbsent or kArray when `begin` is null
};

Resolved resolve(const TensorPointer& pointer, const std::vector<Tensor>& tensors,
                 const std::vector<Value>& data, const std::vector<std::uint64_t>& dims) {
  Resolved resolved;
  const auto it = std::find_if(tensors.begin(), tensors.end(),
                               [&](const Tensor& t) { return t.name == pointer.tensor; });
  if (it == tensors.end() || !it->has_data) return resolved;
  const std::uint64_t* shape = dims.data() + it->shape_begin;
  const std::size_t rank = it->rank;
  if (pointer.indices.size() > rank - 1) return resolved;
  std::size_t stride = 1;  // of one row
  for (std::size_t d = 1; d < rank; ++d) stride *= shape[d];
  std::size_t offset = 0;
  std::size_t step = stride;
  for (std::size_t k = 0; k < pointer.indices.size(); ++k) {
    if (pointer.indices[k] >= shape[k + 1]) return resolved;
    step /= shape[k + 1];
    offset += pointer.indices[k] * step;
  }
  // Fewer indices than the row's rank: a sub-array, unless it holds one element ([n, 1]).
  if (step != 1) {
    resolved.fixed = ValueType::kArray;
    return resolved;
  }
  resolved.begin = data.data() + it->data_begin;
  resolved.stride = stride;
  resolved.offset = offset;
  return resolved;
}

void fill_row(const std::vector<Resolved>& resolved, std::size_t row, Value* values,
              std::uint32_t generation) {
  for (std::size_t slot = 0; slot < resolved.size(); ++slot) {
    const Resolved& r = resolved[slot];
    Value& value = values[slot];
    if (r.begin != nullptr) {
      value = r.begin[row * r.stride + r.offset];
    } else {
      value = Value{};
      value.type = r.fixed;
    }
    value.generation = generation;
  }
}

}  // namespace

void Decoder::Impl::reject_active(RejectReason reason, bool prediction_only, DecodeCounts& counts,
                                  Scratch& scratch) const {
  for (std::size_t m = 0; m < plans.size(); ++m) {
    if (scratch.active[m] == 0 || (prediction_only && !plans[m].needs_prediction)) continue;
    ++counts.rejected[m][static_cast<std::size_t>(reason)];
    scratch.active[m] = 0;
  }
}

void Decoder::Impl::decode_kserve(const RawRecord& record, std::vector<DecodedRows>& out,
                                  DecodeCounts& counts, Scratch& scratch) const {
  const bool claimed = std::any_of(scratch.claimed.begin(), scratch.claimed.end(),
                                   [](std::uint8_t c) { return c != 0; });
  if (!claimed && !pointer_rules) {
    ++counts.unmatched[static_cast<std::size_t>(RejectReason::kNoModel)];
    return;
  }
  if (record.body.size() + record.response_body.size() > kMaxRecordBytes) {
    count_unrouted(RejectReason::kTooLarge, counts, scratch);
    return;
  }
  ondemand::document document;
  ondemand::json_type type{};
  if (decode::start_document(scratch.request_parser, scratch.request_buffer, record.body,
                             document) ||
      document.type().get(type)) {
    count_unrouted(RejectReason::kInvalidJson, counts, scratch);
    return;
  }
  if (type != ondemand::json_type::object) {
    const bool valid = type == ondemand::json_type::array ||
                       decode::valid_scalar_document(document, type, record.body);
    count_unrouted(valid ? RejectReason::kNotAnObject : RejectReason::kInvalidJson, counts,
                   scratch);
    return;
  }
  ondemand::object root;
  if (document.get_object().get(root)) {
    count_unrouted(RejectReason::kInvalidJson, counts, scratch);
    return;
  }

  // Routing and timestamps read the body: walk it once for those pointers, then rewind.
  std::uint32_t body_generation = 0;
  if (!body_tree.empty()) {
    body_generation = scratch.next_generation();
    if (body_tree.walk_root_object(root, scratch.body_values.data(), body_generation) ||
        !decode::at_end(document)) {
      count_unrouted(RejectReason::kInvalidJson, counts, scratch);
      return;
    }
    own_body_strings(scratch, body_generation);
    document.rewind();
    if (document.get_object().get(root)) {
      count_unrouted(RejectReason::kInvalidJson, counts, scratch);
      return;
    }
  }
  const RowView body{scratch.body_values.data(), body_generation};
  bool any = false;
  for (std::size_t m = 0; m < plans.size(); ++m) {
    const ModelPlan& plan = plans[m];
    const bool active =
        scratch.claimed[m] != 0 || (plan.match == MatchRule::Kind::kPointer &&
                                    decode::equals_text(body[plan.match_slot], plan.equals));
    scratch.active[m] = active ? 1 : 0;
    any = any || active;
  }
  if (!any) {
    ++counts.unmatched[static_cast<std::size_t>(RejectReason::kNoModel)];
    return;
  }
  const Header* ce_time = decode::find_header(record, "ce-time");
  for (std::size_t m = 0; m < plans.size(); ++m) {
    if (scratch.active[m] == 0) continue;
    const ModelPlan& plan = plans[m];
    std::int64_t time_ms = record.arrival_ms;
    const bool good = plan.timestamp_slot != kNoSlot
                          ? decode::read_time(body[plan.timestamp_slot], time_ms)
                          : ce_time == nullptr || parse_rfc3339_ms(ce_time->value, time_ms);
    if (!good) {
      ++counts.rejected[m][static_cast<std::size_t>(RejectReason::kBadTimestamp)];
      scratch.active[m] = 0;
    }
    scratch.times[m] = time_ms;
  }
  if (std::none_of(scratch.active.begin(), scratch.active.end(),
                   [](std::uint8_t a) { return a != 0; })) {
    return;
  }
  if (format == RecordFormat::kKserveV1) {
    decode_v1(document, root, record, out, counts, scratch);
  } else {
    decode_v2(document, root, record, out, counts, scratch);
  }
}

RejectReason Decoder::Impl::read_predictions(std::string_view response, std::size_t& rows,
                                             Scratch& scratch) const {
  ondemand::document document;
  ondemand::json_type type{};
  if (decode::start_document(scratch.response_parser, scratch.response_buffer, response,
                             document) ||
      document.type().get(type)) {
    return RejectReason::kInvalidJson;
  }
  if (type != ondemand::json_type::object) {
    return type == ondemand::json_type::array ||
                   decode::valid_scalar_document(document, type, response)
               ? RejectReason::kNotAnObject
               : RejectReason::kInvalidJson;
  }
  ondemand::object root;
  if (document.get_object().get(root)) return RejectReason::kInvalidJson;
  const std::size_t slots = prediction_tree.slot_count();
  const std::uint32_t generation = scratch.next_generation();
  scratch.prediction_generation = generation;
  rows = 0;
  bool found = false;
  for (auto result : root) {
    ondemand::field field;
    std::string_view key;
    if (auto error = std::move(result).get(field)) return shape_or_json(error);
    if (auto error = field.unescaped_key().get(key)) return shape_or_json(error);
    if (found || (key != "predictions" && key != "outputs")) continue;
    ondemand::array predictions;
    if (auto error = field.value().get_array().get(predictions)) return shape_or_json(error);
    found = true;
    for (auto element : predictions) {
      if (element.error()) return RejectReason::kInvalidJson;
      ondemand::value&& prediction = std::move(element).value_unsafe();
      std::vector<Value>& values = scratch.prediction_values;
      if (values.size() < (rows + 1) * slots) {
        values.resize(std::max(values.size() * 2, (rows + 1) * slots));
      }
      if (prediction_tree.walk(prediction, values.data() + rows * slots, generation)) {
        return RejectReason::kInvalidJson;
      }
      ++rows;
    }
  }
  if (!decode::at_end(document)) return RejectReason::kInvalidJson;
  return found ? decode::kAccepted : RejectReason::kNotAnObject;
}

void Decoder::Impl::decode_v1(ondemand::document& document, ondemand::object& root,
                              const RawRecord& record, std::vector<DecodedRows>& out,
                              DecodeCounts& counts, Scratch& scratch) const {
  bool predictions = false;
  std::size_t prediction_rows = 0;
  bool needed = false;
  for (std::size_t m = 0; m < plans.size(); ++m) {
    needed = needed || (scratch.active[m] != 0 && plans[m].needs_prediction);
  }
  if (needed && !record.response_body.empty()) {
    const RejectReason problem = read_predictions(record.response_body, prediction_rows, scratch);
    if (problem == decode::kAccepted) {
      predictions = true;
    } else {
      reject_active(problem, true, counts, scratch);
    }
  }
  if (std::none_of(scratch.active.begin(), scratch.active.end(),
                   [](std::uint8_t a) { return a != 0; })) {
    return;
  }
  const std::size_t slots = prediction_tree.slot_count();

  save(out, counts, scratch);
  simdjson::error_code error = simdjson::SUCCESS;
  RejectReason problem = decode::kAccepted;
  bool found = false;
  for (auto result : root) {
    ondemand::field field;
    std::string_view key;
    if ((error = std::move(result).get(field)) || (error = field.unescaped_key().get(key))) break;
    if (found || (key != "instances" && key != "inputs")) continue;
    ondemand::array rows;
    if ((error = field.value().get_array().get(rows))) {
      if (error == simdjson::INCORRECT_TYPE) {
        problem = RejectReason::kNotAnObject;
        error = simdjson::SUCCESS;
      }
      break;
    }
    found = true;
    if (predictions) {
      std::size_t count_rows = 0;
      if ((error = rows.count_elements().get(count_rows))) break;
      if (count_rows != prediction_rows) {
        reject_active(RejectReason::kShapeMismatch, true, counts, scratch);
        save(out, counts, scratch);
      }
    }
    std::size_t i = 0;
    for (auto row_result : rows) {
      if ((error = row_result.error())) break;
      ondemand::value&& row = std::move(row_result).value_unsafe();
      const std::uint32_t generation = scratch.next_generation();
      if ((error = row_tree.walk(row, scratch.row_values.data(), generation))) break;
      const RowView values{scratch.row_values.data(), generation};
      for (std::size_t m = 0; m < plans.size(); ++m) {
        if (scratch.active[m] == 0) continue;
        const ModelPlan& plan = plans[m];
        const RowView prediction = predictions && plan.needs_prediction
                                       ? RowView{scratch.prediction_values.data() + i * slots,
                                                 scratch.prediction_generation}
                                       : RowView{};
        count(compose(plan, values, prediction, scratch.times[m], out[m]), m, counts);
      }
      ++i;
    }
    if (error) break;
  }
  if (!error && problem == decode::kAccepted && !decode::at_end(document)) {
    error = simdjson::TRAILING_CONTENT;
  }
  if (error) {
    roll_back(out, counts, scratch);
    reject_active(RejectReason::kInvalidJson, false, counts, scratch);
  } else if (problem != decode::kAccepted || !found) {
    reject_active(RejectReason::kNotAnObject, false, counts, scratch);
  }
}

void Decoder::Impl::decode_v2(ondemand::document& document, ondemand::object& root,
                              const RawRecord& record, std::vector<DecodedRows>& out,
                              DecodeCounts& counts, Scratch& scratch) const {
  scratch.dims.clear();
  std::size_t rows = 0;
  const RejectReason problem = read_tensors(document, root, "inputs", input_tensors, scratch.inputs,
                                            scratch.input_data, scratch.dims, rows);
  if (problem != decode::kAccepted) {
    reject_active(problem, false, counts, scratch);
    return;
  }
  bool outputs = false;
  bool needed = false;
  for (std::size_t m = 0; m < plans.size(); ++m) {
    needed = needed || (scratch.active[m] != 0 && plans[m].needs_prediction);
  }
  if (needed && !record.response_body.empty()) {
    ondemand::document response;
    ondemand::json_type type{};
    ondemand::object response_root;
    RejectReason response_problem = decode::kAccepted;
    if (decode::start_document(scratch.response_parser, scratch.response_buffer,
                               record.response_body, response) ||
        response.type().get(type)) {
      response_problem = RejectReason::kInvalidJson;
    } else if (type != ondemand::json_type::object) {
      response_problem = type == ondemand::json_type::array ||
                                 decode::valid_scalar_document(response, type, record.response_body)
                             ? RejectReason::kNotAnObject
                             : RejectReason::kInvalidJson;
    } else if (response.get_object().get(response_root)) {
      response_problem = RejectReason::kInvalidJson;
    } else {
      std::size_t output_rows = 0;
      response_problem =
          read_tensors(response, response_root, "outputs", output_tensors, scratch.outputs,
                       scratch.output_data, scratch.dims, output_rows);
      if (response_problem == decode::kAccepted && output_rows != rows) {
        response_problem = RejectReason::kShapeMismatch;
      }
    }
    if (response_problem == decode::kAccepted) {
      outputs = true;
    } else {
      reject_active(response_problem, true, counts, scratch);
    }
  }

  // Per thread and reused, like the Scratch (whose header does not know this type).
  thread_local std::vector<Resolved> inputs;
  thread_local std::vector<Resolved> predictions;
  inputs.clear();
  predictions.clear();
  for (const TensorPointer& pointer : input_pointers) {
    inputs.push_back(resolve(pointer, scratch.inputs, scratch.input_data, scratch.dims));
  }
  if (outputs) {
    for (const TensorPointer& pointer : output_pointers) {
      predictions.push_back(resolve(pointer, scratch.outputs, scratch.output_data, scratch.dims));
    }
  }
  for (std::size_t i = 0; i < rows; ++i) {
    const std::uint32_t generation = scratch.next_generation();
    fill_row(inputs, i, scratch.row_values.data(), generation);
    if (outputs) fill_row(predictions, i, scratch.prediction_values.data(), generation);
    const RowView values{scratch.row_values.data(), generation};
    for (std::size_t m = 0; m < plans.size(); ++m) {
      if (scratch.active[m] == 0) continue;
      const ModelPlan& plan = plans[m];
      const RowView prediction = outputs && plan.needs_prediction
                                     ? RowView{scratch.prediction_values.data(), generation}
                                     : RowView{};
      count(compose(plan, values, prediction, scratch.times[m], out[m]), m, counts);
    }
  }
}

}  // namespace drift::daemon
