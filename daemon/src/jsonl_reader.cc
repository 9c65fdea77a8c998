/// JSONL / NDJSON reader. The lines are split into chunks parsed in parallel with simdjson
/// ondemand (each line copied into a padded buffer); each chunk keeps its own columns in the
/// order their keys first appear, and the chunks are merged in file order, which keeps both the
/// column order and every dictionary in first-seen order.

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "column_builder.h"
#include "drift/daemon/table.h"

namespace drift::daemon {
namespace {

using detail::ChunkColumn;
using detail::ChunkError;
using detail::ChunkPart;
using detail::KindRule;
using detail::kNoOffset;

namespace ondemand = simdjson::ondemand;


std::string invalid_json(simdjson::error_code error) {
  return std::string("invalid JSON (") + simdjson::error_message(error) + ")";
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const noexcept {
    return std::hash<std::string_view>{}(text);
  }
};

class JsonlReader {
 public:
  JsonlReader(std::string_view text, const ReadOptions& options, std::string_view source)
      : text_(text), options_(options), source_(source) {}

  Table read() {
    detail::check_options(options_, source_);
    const std::size_t begin = text_.starts_with("\xEF\xBB\xBF") ? 3 : 0;
    detail::ParallelRunner runner(options_.threads);
    const auto bounds = detail::split_lines(text_, begin, false, runner);
    std::vector<Chunk> chunks(bounds.size() - 1);
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      chunks[i].begin = bounds[i];
      chunks[i].end = bounds[i + 1];
    }
    runner.for_each(chunks.size(), [&](std::size_t i) { parse_chunk(chunks[i]); });

    // Columns in order of first appearance over the whole file; parts[g][i]: chunk i's share.
    std::vector<std::string> names;
    std::unordered_map<std::string, std::size_t, StringHash, std::equal_to<>> index;
    std::vector<std::vector<ChunkPart>> parts;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      for (std::size_t j = 0; j < chunks[i].names.size(); ++j) {
        const std::string& name = chunks[i].names[j];
        auto [it, added] = index.try_emplace(name, names.size());
        if (added) {
          names.push_back(name);
          parts.emplace_back(chunks.size());
          for (std::size_t k = 0; k < chunks.size(); ++k) parts.back()[k].rows = chunks[k].rows;
        }
        parts[it->second][i].column = &chunks[i].columns[j];
      }
    }
    // The first problem in file order: a line that failed (the first chunk with one) or a
    // column mixing kinds (every chunk is read independently, so both are sound up to there).
    Kinds kinds = settle_kinds(names, parts);
    const ChunkError* problem = kinds.conflict ? &*kinds.conflict : nullptr;
    for (const auto& chunk : chunks) {
      if (!chunk.error) continue;
      if (problem == nullptr || chunk.error->offset < problem->offset) problem = &*chunk.error;
      break;
    }
    if (problem != nullptr) detail::throw_at(source_, text_, problem->offset, problem->message);

    std::size_t rows = 0;
    for (const auto& chunk : chunks) rows += chunk.rows;
    if (rows == 0) {
      detail::throw_file_error(source_, begin == text_.size() ? "empty file: no data rows"
                                                              : "no data rows (only blank lines)");
    }
    if (names.empty()) detail::throw_file_error(source_, "no keys: every object is empty");
    detail::check_categorical_names(options_, names, source_);
    const std::vector<bool>& categorical = kinds.categorical;

    Table table;
    table.rows = rows;
    table.columns.resize(names.size());
    runner.for_each(names.size(), [&](std::size_t g) {
      table.columns[g] = categorical[g] ? detail::merge_categorical(names[g], parts[g], rows)
                                        : detail::merge_numeric(names[g], parts[g], rows);
    });
    return table;
  }

 private:
  struct Chunk {
    std::size_t begin = 0;  ///< byte offsets in the text, each at the start of a line
    std::size_t end = 0;
    std::size_t rows = 0;
    std::size_t lines = 0;           ///< '\n' in the chunk: a bound on its rows, for reserving
    std::vector<std::string> names;  ///< this chunk's columns, in first-appearance order
    std::vector<KindRule> rules;
    std::vector<ChunkColumn> columns;
    std::unordered_map<std::string, std::size_t, StringHash, std::equal_to<>> index;
    std::optional<ChunkError> error;
  };

  void parse_chunk(Chunk& chunk) const {
    ondemand::parser parser;
    std::vector<char> buffer;
    const char* p = text_.data() + chunk.begin;
    const char* const end = text_.data() + chunk.end;
    chunk.lines = static_cast<std::size_t>(std::count(p, end, '\n')) + 1;
    while (p != end) {
      const void* newline = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
      const char* const line_end = newline == nullptr ? end : static_cast<const char*>(newline);
      const std::string_view line(p, line_end);
      const auto offset = static_cast<std::size_t>(p - text_.data());
      p = line_end == end ? end : line_end + 1;
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;

      if (buffer.size() < line.size() + simdjson::SIMDJSON_PADDING) {
        buffer.resize(line.size() + simdjson::SIMDJSON_PADDING);
      }
      std::memcpy(buffer.data(), line.data(), line.size());
      std::memset(buffer.data() + line.size(), ' ', simdjson::SIMDJSON_PADDING);
      if (auto error = parse_line(chunk, parser, buffer, line.size(), offset)) {
        chunk.error = ChunkError{offset, std::move(*error)};
        return;
      }
      ++chunk.rows;
    }
    for (auto& column : chunk.columns) column.cells.resize(chunk.rows, kMissingCode);
  }

  /// Appends the object on one line (in `buffer`) as the chunk's next row; the reason when it
  /// cannot.
  std::optional<std::string> parse_line(Chunk& chunk, ondemand::parser& parser,
                                        std::vector<char>& buffer, std::size_t length,
                                        std::size_t offset) const {
    ondemand::document document;
    if (auto error = parser.iterate(buffer.data(), length, buffer.size()).get(document)) {
      return invalid_json(error);
    }
    ondemand::object object;
    if (auto error = document.get_object().get(object)) {
      if (error == simdjson::INCORRECT_TYPE) return "the line is not a JSON object";
      return invalid_json(error);
    }
    std::size_t previous = std::numeric_limits<std::size_t>::max();
    for (auto field : object) {
      std::string_view key;
      if (auto error = field.unescaped_key().get(key)) return invalid_json(error);
      ondemand::value value;
      if (auto error = field.value().get(value)) return invalid_json(error);
      ondemand::json_type type;
      if (auto error = value.type().get(type)) return invalid_json(error);
      if (key.empty()) return "empty key";

      const std::size_t j = column_for(chunk, key, previous);
      previous = j;
      ChunkColumn& column = chunk.columns[j];
      if (column.cells.size() > chunk.rows) return "duplicate key '" + std::string(key) + "'";
      column.cells.resize(chunk.rows, kMissingCode);  // rows where the key was absent
      const KindRule rule = chunk.rules[j];

      switch (type) {
        case ondemand::json_type::number: {
          std::string_view token = value.raw_json_token();
          token = token.substr(0, token.find_last_not_of(" \t\r\n") + 1);
          if (!detail::is_json_number(token)) {
            return "invalid JSON (bad number " + detail::quote_for_message(token) + ")";
          }
          if (rule == KindRule::kCategorical) {
            column.cells.push_back(column.dictionary.intern(token));
            break;
          }
          float number = 0.0f;
          const bool finite = detail::parse_float(token.data(), token.data() + token.size(),
                                                  number) == detail::NumberKind::kNumber;
          column.cells.push_back(finite ? detail::float_cell(number) : kMissingCode);
          if (column.first_number == kNoOffset) column.first_number = offset;
          break;
        }
        case ondemand::json_type::string: {
          std::string_view text;
          if (auto error = value.get_string().get(text)) return invalid_json(error);
          if (rule == KindRule::kNumeric) {
            return "column '" + std::string(key) + "' is numeric but holds the string " +
                   detail::quote_for_message(text);
          }
          push_text(column, text, offset);
          break;
        }
        case ondemand::json_type::boolean: {
          bool flag = false;
          if (auto error = value.get_bool().get(flag)) return invalid_json(error);
          if (rule == KindRule::kNumeric) {
            return "column '" + std::string(key) + "' is numeric but holds " +
                   (flag ? "true" : "false");
          }
          push_text(column, flag ? "true" : "false", offset);
          break;
        }
        case ondemand::json_type::null: {
          bool null = false;
          if (auto error = value.is_null().get(null)) return invalid_json(error);
          if (!null) return invalid_json(simdjson::N_ATOM_ERROR);
          column.cells.push_back(kMissingCode);
          break;
        }
        case ondemand::json_type::object:
        case ondemand::json_type::array:
          return "key '" + std::string(key) + "' holds " +
                 (type == ondemand::json_type::object ? "an object" : "an array") +
                 "; only flat objects are supported";
      }
    }
    const char* trailing = nullptr;
    if (document.current_location().get(trailing) == simdjson::SUCCESS) {
      return "invalid JSON (text after the object)";
    }
    return std::nullopt;
  }

  /// The chunk's column for `key`, added when new; `previous` is the column of the previous key
  /// on the line (keys usually come in the same order on every line).
  std::size_t column_for(Chunk& chunk, std::string_view key, std::size_t previous) const {
    const std::size_t guess = previous + 1;
    if (guess < chunk.names.size() && chunk.names[guess] == key) return guess;
    const auto it = chunk.index.find(key);
    if (it != chunk.index.end()) return it->second;
    const std::size_t j = chunk.names.size();
    chunk.names.emplace_back(key);
    chunk.rules.push_back(detail::kind_rule(options_, key));
    chunk.columns.emplace_back().cells.reserve(chunk.lines);
    chunk.index.emplace(std::string(key), j);
    return j;
  }

  static void push_text(ChunkColumn& column, std::string_view text, std::size_t offset) {
    column.cells.push_back(column.dictionary.intern(text));
    if (column.first_text == kNoOffset) column.first_text = offset;
  }

  struct Kinds {
    std::vector<bool> categorical;
    std::optional<ChunkError> conflict;  ///< the first line where a column mixes kinds
  };

  /// Which columns are categorical, and the first line (in file order) where an inferred column
  /// holding numbers gets a string, or the other way round.
  Kinds settle_kinds(const std::vector<std::string>& names,
                     const std::vector<std::vector<ChunkPart>>& parts) const {
    Kinds kinds;
    kinds.categorical.assign(names.size(), false);
    for (std::size_t g = 0; g < names.size(); ++g) {
      const KindRule rule = detail::kind_rule(options_, names[g]);
      if (rule != KindRule::kInfer) {
        kinds.categorical[g] = rule == KindRule::kCategorical;
        continue;
      }
      std::optional<bool> text;  // the column's kind, once a chunk holds a value
      std::size_t established = kNoOffset;
      for (const auto& part : parts[g]) {
        if (part.column == nullptr) continue;
        const std::size_t numbers = part.column->first_number;
        const std::size_t texts = part.column->first_text;
        if (!text) {
          if (numbers == kNoOffset && texts == kNoOffset) continue;
          text = texts < numbers;
          established = std::min(numbers, texts);
        }
        const std::size_t clash = *text ? numbers : texts;
        if (clash == kNoOffset) continue;
        if (!kinds.conflict || clash < kinds.conflict->offset) {
          kinds.conflict =
              ChunkError{clash, "column '" + names[g] + "' mixes numbers and strings (" +
                                    (*text ? "a string" : "a number") + " on line " +
                                    std::to_string(detail::line_of(text_, established)) + ", " +
                                    (*text ? "a number" : "a string") + " here)"};
        }
        break;
      }
      kinds.categorical[g] = text.value_or(false);
    }
    return kinds;
  }

  std::string_view text_;
  const ReadOptions& options_;
  std::string_view source_;
};

}  // namespace

Table parse_jsonl(std::string_view text, const ReadOptions& options, std::string_view source) {
  return JsonlReader(text, options, source).read();
}

}  // namespace drift::daemon
