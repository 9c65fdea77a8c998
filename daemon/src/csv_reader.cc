/// CSV reader (RFC 4180). The header is read first; the records after it are split into
/// line-aligned chunks parsed in parallel straight into per-chunk column buffers: a first pass
/// reads every column that may be numeric, a second pass (only when some column turns out
/// categorical) interns the text of the categorical columns. The chunks are then concatenated.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "column_builder.h"
#include "drift/daemon/table.h"

namespace drift::daemon {
namespace {

using detail::ChunkColumn;
using detail::ChunkError;
using detail::ChunkPart;
using detail::KindRule;
using detail::NumberKind;

/// One field as written: for a quoted field the text between the quotes (doubled quotes still
/// doubled when `escaped`), otherwise the raw text (a CR before the LF excluded).
struct Field {
  std::string_view text;
  bool quoted = false;
  bool escaped = false;
};

enum class RecordStatus : std::uint8_t { kOk, kUnterminatedQuote, kTextAfterQuote };

/// Reads the record at `p` (before `end`) and leaves `p` past the record's line end; `fields`
/// receives the number of fields read. For each field, try_number(index, p) may consume it as
/// a number (true: `p` then at the ',' or '\n' after it, or at `end`); otherwise the field is
/// split here and handed to on_field(index, field).
template <class TryNumber, class OnField>
RecordStatus read_record(const char*& p, const char* const end, std::size_t& fields,
                         TryNumber&& try_number, OnField&& on_field) {
  std::size_t index = 0;
  while (true) {
    if (try_number(index, p)) {
      ++index;
      if (p == end || *p++ == '\n') break;
      continue;
    }
    Field field;
    if (p != end && *p == '"') {
      const char* const open = p + 1;
      const char* close = open;
      while (true) {
        const void* hit = std::memchr(close, '"', static_cast<std::size_t>(end - close));
        if (hit == nullptr) {
          fields = index;
          return RecordStatus::kUnterminatedQuote;
        }
        close = static_cast<const char*>(hit);
        if (close + 1 == end || close[1] != '"') break;
        field.escaped = true;
        close += 2;
      }
      field.text = std::string_view(open, close);
      field.quoted = true;
      p = close + 1;
      while (p != end && (*p == ' ' || *p == '\t')) ++p;
      if (p != end && *p == '\r' && (p + 1 == end || p[1] == '\n')) ++p;
      if (p != end && *p != ',' && *p != '\n') {
        fields = index;
        return RecordStatus::kTextAfterQuote;
      }
    } else {
      const char* const start = p;
      while (p != end && *p != ',' && *p != '\n') ++p;
      const char* stop = p;
      if (stop != start && stop[-1] == '\r' && (p == end || *p == '\n')) --stop;
      field.text = std::string_view(start, stop);
    }
    on_field(index++, field);
    if (p == end || *p++ == '\n') break;
  }
  fields = index;
  return RecordStatus::kOk;
}

/// A read_record hook that leaves every field to be split.
constexpr auto no_number = [](std::size_t, const char*&) { return false; };

/// The field's text with doubled quotes undone (in `scratch` when there were any).
std::string_view field_text(const Field& field, std::string& scratch) {
  if (!field.escaped) return field.text;
  scratch.clear();
  for (std::size_t i = 0; i < field.text.size(); ++i) {
    scratch += field.text[i];
    if (field.text[i] == '"') ++i;
  }
  return scratch;
}

/// An empty field, or an unquoted one of spaces and tabs: missing.
bool is_blank(const Field& field) {
  if (field.quoted) return field.text.empty();
  return field.text.find_first_not_of(" \t") == std::string_view::npos;
}

std::string count_of(std::size_t count, std::string_view noun) {
  return std::to_string(count) + " " + std::string(noun) + (count == 1 ? "" : "s");
}

class CsvReader {
 public:
  CsvReader(std::string_view text, const ReadOptions& options, std::string_view source)
      : text_(text), options_(options), source_(source) {}

  Table read() {
    detail::check_options(options_, source_);
    const std::size_t begin = text_.starts_with("\xEF\xBB\xBF") ? 3 : 0;
    if (begin == text_.size()) {
      detail::throw_file_error(source_, "empty file: no header and no data rows");
    }
    read_header(begin);
    if (data_begin_ == text_.size()) detail::throw_file_error(source_, "header only, no data rows");

    detail::ParallelRunner runner(options_.threads);
    // Quotes matter only to where the chunks are cut.
    const bool quote_aware =
        runner.concurrency() > 1 &&
        std::memchr(text_.data() + data_begin_, '"', text_.size() - data_begin_) != nullptr;
    const auto bounds = detail::split_lines(text_, data_begin_, quote_aware, runner);
    std::vector<Chunk> chunks(bounds.size() - 1);
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      chunks[i].begin = bounds[i];
      chunks[i].end = bounds[i + 1];
    }
    runner.for_each(chunks.size(), [&](std::size_t i) { first_pass(chunks[i]); });
    settle_chunks(chunks);

    std::size_t rows = 0;
    for (const auto& chunk : chunks) rows += chunk.rows;
    const std::size_t columns = names_.size();
    std::vector<bool> categorical(columns);
    bool any_categorical = false;
    for (std::size_t j = 0; j < columns; ++j) {
      categorical[j] = rules_[j] == KindRule::kCategorical;
      for (const auto& chunk : chunks) {
        if (rules_[j] == KindRule::kInfer && chunk.columns[j].first_text != detail::kNoOffset) {
          categorical[j] = true;
        }
      }
      any_categorical = any_categorical || categorical[j];
    }
    if (any_categorical) {
      runner.for_each(chunks.size(), [&](std::size_t i) { second_pass(chunks[i], categorical); });
    }

    Table table;
    table.rows = rows;
    table.columns.resize(columns);
    runner.for_each(columns, [&](std::size_t j) {
      std::vector<ChunkPart> parts;
      parts.reserve(chunks.size());
      for (const auto& chunk : chunks) parts.push_back({&chunk.columns[j], chunk.rows});
      table.columns[j] = categorical[j] ? detail::merge_categorical(names_[j], parts, rows)
                                        : detail::merge_numeric(names_[j], parts, rows);
    });
    return table;
  }

 private:
  /// How the first pass treats a column.
  enum class Mode : std::uint8_t {
    kTry,     ///< numbers while they last; the first other text makes it categorical
    kStrict,  ///< numbers or an error
    kSkip,    ///< categorical: left to the second pass
  };

  struct Chunk {
    std::size_t begin = 0;  ///< byte offsets in the text, each at the start of a line
    std::size_t end = 0;
    std::size_t rows = 0;
    std::vector<ChunkColumn> columns;
    std::optional<ChunkError> error;
    /// False when the chunk's last record ran on past `end` inside quotes: the split point was
    /// not a record boundary (a '"' inside an unquoted field fools the quote-parity split).
    bool ends_on_record = true;
  };

  void read_header(std::size_t begin) {
    const char* p = text_.data() + begin;
    std::size_t fields = 0;
    std::string scratch;
    const auto status = read_record(
        p, text_.data() + text_.size(), fields, no_number, [&](std::size_t, const Field& field) {
          std::string_view name = field_text(field, scratch);
          const auto first = name.find_first_not_of(" \t");
          name = first == std::string_view::npos
                     ? std::string_view()
                     : name.substr(first, name.find_last_not_of(" \t") - first + 1);
          names_.emplace_back(name);
        });
    if (status == RecordStatus::kUnterminatedQuote) {
      detail::throw_at(source_, text_, begin, "header: unterminated quoted field");
    }
    if (status == RecordStatus::kTextAfterQuote) {
      detail::throw_at(
          source_, text_, begin,
          "header field " + std::to_string(fields + 1) + ": text after the closing quote");
    }
    std::unordered_set<std::string_view> seen;
    for (std::size_t j = 0; j < names_.size(); ++j) {
      if (names_[j].empty()) {
        detail::throw_at(source_, text_, begin,
                         "header field " + std::to_string(j + 1) + " is an empty column name");
      }
      if (!seen.insert(names_[j]).second) {
        detail::throw_at(source_, text_, begin, "duplicate column name '" + names_[j] + "'");
      }
    }
    detail::check_categorical_names(options_, names_, source_);
    for (const auto& name : names_) rules_.push_back(detail::kind_rule(options_, name));
    data_begin_ = static_cast<std::size_t>(p - text_.data());
  }

  /// Reads the numbers of the chunk's non-categorical columns; records the first error.
  void first_pass(Chunk& chunk) const {
    const std::size_t columns = names_.size();
    const char* p = text_.data() + chunk.begin;
    const char* const end = text_.data() + chunk.end;
    const bool last_chunk = chunk.end == text_.size();
    std::vector<Mode> modes(columns);
    for (std::size_t j = 0; j < columns; ++j) {
      modes[j] = rules_[j] == KindRule::kInfer     ? Mode::kTry
                 : rules_[j] == KindRule::kNumeric ? Mode::kStrict
                                                   : Mode::kSkip;
    }
    chunk.columns = std::vector<ChunkColumn>(columns);
    const auto lines = static_cast<std::size_t>(std::count(p, end, '\n')) + 1;
    for (std::size_t j = 0; j < columns; ++j) {
      if (modes[j] != Mode::kSkip) chunk.columns[j].cells.reserve(lines);
    }

    // The common case: a plain number, parsed and delimited in one go.
    const auto try_number = [&](std::size_t j, const char*& q) {
      if (j >= columns || modes[j] == Mode::kSkip) return false;
      float value = 0.0f;
      const char* stop = detail::parse_plain_decimal(q, end, value);
      if (stop == nullptr) return false;
      if (stop != end && *stop != ',' && *stop != '\n') {
        if (*stop != '\r' || (stop + 1 != end && stop[1] != '\n')) return false;
        ++stop;  // the CR of a CRLF
      }
      chunk.columns[j].cells.push_back(detail::float_cell(value));
      q = stop;
      return true;
    };
    while (p != end) {
      const auto row = static_cast<std::size_t>(p - text_.data());
      std::size_t fields = 0;
      bool failed = false;
      const auto status =
          read_record(p, end, fields, try_number, [&](std::size_t j, const Field& field) {
            if (j >= columns || modes[j] == Mode::kSkip || failed) return;
            ChunkColumn& column = chunk.columns[j];
            float value = 0.0f;
            switch (detail::parse_float(field.text.data(), field.text.data() + field.text.size(),
                                        value)) {
              case NumberKind::kNumber:
                column.cells.push_back(detail::float_cell(value));
                return;
              case NumberKind::kMissing:
                column.cells.push_back(kMissingCode);
                return;
              case NumberKind::kNotANumber:
                if (modes[j] == Mode::kStrict) {
                  chunk.error = ChunkError{row, "column '" + names_[j] + "' is numeric but " +
                                                    detail::quote_for_message(field.text) +
                                                    " is not a number"};
                  failed = true;
                  return;
                }
                column.first_text = row;
                modes[j] = Mode::kSkip;
                return;
            }
          });
      if (failed) return;
      if (status == RecordStatus::kUnterminatedQuote) {
        if (last_chunk) {
          chunk.error = ChunkError{
              row, "unterminated quoted field (field " + std::to_string(fields + 1) + ")"};
        } else {
          chunk.ends_on_record = false;
        }
        return;
      }
      if (status == RecordStatus::kTextAfterQuote) {
        chunk.error = ChunkError{
            row, "field " + std::to_string(fields + 1) + ": text after the closing quote"};
        return;
      }
      if (fields != columns) {
        chunk.error = ChunkError{row, "row has " + count_of(fields, "field") + ", header has " +
                                          std::to_string(columns)};
        return;
      }
      ++chunk.rows;
    }
  }

  /// Throws the first error in file order. A chunk's error counts only when every chunk before
  /// it ended on a record boundary (so it began on one); from the first chunk that did not,
  /// the rest of the file is parsed again as one chunk.
  void settle_chunks(std::vector<Chunk>& chunks) const {
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      if (!chunks[i].error && chunks[i].ends_on_record) continue;
      if (!chunks[i].error) {
        Chunk rest;
        rest.begin = chunks[i].begin;
        rest.end = text_.size();
        first_pass(rest);
        chunks.resize(i);
        chunks.push_back(std::move(rest));
      }
      if (chunks[i].error) {
        detail::throw_at(source_, text_, chunks[i].error->offset, chunks[i].error->message);
      }
      return;
    }
  }

  /// Interns the text of the categorical columns (all rows of the chunk were read cleanly by
  /// the first pass).
  void second_pass(Chunk& chunk, const std::vector<bool>& categorical) const {
    const std::size_t columns = names_.size();
    for (std::size_t j = 0; j < columns; ++j) {
      if (!categorical[j]) continue;
      chunk.columns[j].cells.clear();
      chunk.columns[j].cells.reserve(chunk.rows);
    }
    const char* p = text_.data() + chunk.begin;
    const char* const end = text_.data() + chunk.end;
    std::string scratch;
    std::size_t fields = 0;
    while (p != end) {
      read_record(p, end, fields, no_number, [&](std::size_t j, const Field& field) {
        if (j >= columns || !categorical[j]) return;
        ChunkColumn& column = chunk.columns[j];
        column.cells.push_back(
            is_blank(field) ? kMissingCode : column.dictionary.intern(field_text(field, scratch)));
      });
    }
  }

  std::string_view text_;
  const ReadOptions& options_;
  std::string_view source_;
  std::vector<std::string> names_;
  std::vector<KindRule> rules_;
  std::size_t data_begin_ = 0;
};

}  // namespace

Table parse_csv(std::string_view text, const ReadOptions& options, std::string_view source) {
  return CsvReader(text, options, source).read();
}

}  // namespace drift::daemon
