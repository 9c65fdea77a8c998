/// PathTree::walk_indexed: a flat record walked straight from simdjson's stage-1 index.
///
/// Why: on the flat records of the ingest benchmark, stage 1 plus the padded copy take
/// ≈ 0.09 µs a record and ondemand's iteration over the index ≈ 0.03 µs, but the decoder's walk
/// through ondemand's general iterator (field and value objects, depth bookkeeping, skipping of
/// unread values) cost ≈ 0.2 µs. Here each step reads the next position and the byte there.
///
/// Grammar: stage 1 records every structural character ({ } [ ] : ,) and the first byte of
/// every other token (strings by their opening quote), and checks UTF-8, string termination and
/// control characters. Anything not whitespace after a string's closing quote or a scalar's end
/// starts a position of its own, so checking each position's byte against the grammar — a key,
/// then ':', then a value, then ',' or '}' — checks the structure of the whole text. The
/// positions end with two sentinels at the text's end, whose byte (padding: a space) starts no
/// token: a walk that reaches them fails there and never reads past them.

#include <string_view>

#include "column_builder.h"
#include "decode/key_scan.h"
#include "decode/path_tree.h"
#include "decode/structural_index.h"

namespace drift::daemon::decode {

class PathTree::IndexedWalker {
 public:
  IndexedWalker(const PathTree& tree, const char* text, const StructuralIndex& index,
                char* unescaped, Value* values, std::uint32_t generation)
      : tree_(tree),
        text_(text),
        index_(index),
        unescaped_(unescaped),
        values_(values),
        generation_(generation) {}

  Walked root() {
    const Pos first = index_.positions();
    if (text_[*first] != '{') return Walked::kUnsupported;
    const Node& root = tree_.nodes_.front();
    if (root.slot != kNoSlot) mark(values_[root.slot], ValueType::kObject);
    const Pos end = object(root, first, 1);
    if (end == nullptr) return failure_;
    return end == first + index_.count() ? Walked::kDone : Walked::kInvalid;  // trailing text
  }

 private:
  /// A position in the index. The walkers pass it by value and return the next one (nullptr
  /// on failure, failure_ saying which): held in a register, not in this object, where every
  /// step would wait for the previous step's store.
  using Pos = const std::uint32_t*;

  /// simdjson's default nesting limit, so both walkers reject the same depths.
  static constexpr int kMaxDepth = static_cast<int>(simdjson::DEFAULT_MAX_DEPTH);

  Pos fail(Walked why) {
    failure_ = why;
    return nullptr;
  }
  static ValueType type_at(const char* text, Pos at) {
    return kTypeOfFirstByte[static_cast<unsigned char>(text[*at])];
  }
  /// The scalar at `at`: its bytes up to the next position, without trailing whitespace.
  static std::string_view scalar(const char* text, Pos at) {
    return trim_token(std::string_view(text + at[0], at[1] - at[0]));
  }
  void mark(Value& out, ValueType type) const {
    out.generation = generation_;
    out.type = type;
    out.size = 0;
  }

  /// At '{': walks the object's fields for `node`'s children.
  Pos object(const Node& node, Pos at, int depth) {
    if (depth > kMaxDepth) return fail(Walked::kInvalid);
    const char* const text = text_;
    ++at;
    if (text[*at] == '}') return at + 1;
    // Keys tend to come in the order their pointers were configured: try the child after the
    // last one found before the hash (as the ondemand walker does).
    std::size_t expected = 0;
    const std::size_t children = node.children.size();
    for (;;) {
      if (text[*at] != '"' || text[at[1]] != ':') return fail(Walked::kInvalid);
      const char* const raw = text + *at + 1;
      at += 2;
      std::size_t found = expected;
      if (found >= children || !node.children[found].plain ||
          !tree_.raw_is(node.children[found], raw)) {
        std::string_view key_text;
        if (!raw_key(raw, key_text)) return fail(Walked::kUnsupported);  // an escaped key
        const Key key = padded_key<Key>(key_text);
        if (found >= children || !tree_.same_key(node.children[found], key)) {
          found = tree_.child(node, key);
        }
      }
      if (found == kNoSlot) {
        at = skip(at, depth);
      } else {
        expected = found + 1;
        const Node& target = tree_.nodes_[node.children[found].node];
        at = target.children.empty() ? capture(values_[target.slot], text, at, depth)
                                     : value(target, at, depth);
      }
      if (at == nullptr) return nullptr;
      const char next = text[*at];
      ++at;
      if (next == ',') continue;
      return next == '}' ? at : fail(Walked::kInvalid);
    }
  }

  /// At '[': walks the elements `node`'s indexed children address.
  Pos array(const Node& node, Pos at, int depth) {
    if (depth > kMaxDepth) return fail(Walked::kInvalid);
    const char* const text = text_;
    ++at;
    if (text[*at] == ']') return at + 1;
    std::uint64_t index = 0;
    auto wanted = node.indexed.begin();
    for (;; ++index) {
      if (wanted != node.indexed.end() && wanted->first == index) {
        at = value(tree_.nodes_[wanted->second], at, depth);
        ++wanted;
      } else {
        at = skip(at, depth);
      }
      if (at == nullptr) return nullptr;
      const char next = text[*at];
      ++at;
      if (next == ',') continue;
      return next == ']' ? at : fail(Walked::kInvalid);
    }
  }

  /// A value for `node`: descends where the node has children, captures where it has a slot.
  Pos value(const Node& node, Pos at, int depth) {
    const ValueType type = type_at(text_, at);
    if (type == ValueType::kObject && !node.children.empty()) {
      if (node.slot != kNoSlot) mark(values_[node.slot], type);
      return object(node, at, depth + 1);
    }
    if (type == ValueType::kArray && !node.indexed.empty()) {
      if (node.slot != kNoSlot) mark(values_[node.slot], type);
      return array(node, at, depth + 1);
    }
    if (node.slot == kNoSlot) return skip(at, depth);
    return capture(values_[node.slot], text_, at, depth);
  }

  /// Reads the value at `at` into `out`, as the ondemand walker's capture does.
  [[gnu::always_inline]] Pos capture(Value& out, const char* text, Pos at, int depth) {
    const ValueType type = type_at(text, at);
    out.generation = generation_;
    out.type = type;
    switch (type) {
      case ValueType::kNumber: {
        const std::string_view token = scalar(text, at);
        out.data = token.data();
        out.size = static_cast<std::uint32_t>(token.size());
        return at + 1;
      }
      case ValueType::kString: {
        const char* const begin = text + *at + 1;
        const char* const end = quote_or_backslash(begin);
        if (*end == '"') {
          out.data = begin;
          out.size = static_cast<std::uint32_t>(end - begin);
          return at + 1;
        }
        return unescape(out, begin, at);
      }
      case ValueType::kBool: {
        const std::string_view token = scalar(text, at);
        if (token != "true" && token != "false") return fail(Walked::kInvalid);
        out.data = token.data();
        out.size = static_cast<std::uint32_t>(token.size());
        return at + 1;
      }
      case ValueType::kNull:
        if (scalar(text, at) != "null") return fail(Walked::kInvalid);
        out.size = 0;
        return at + 1;
      case ValueType::kObject:
      case ValueType::kArray:
        out.size = 0;
        return skip(at, depth);
      case ValueType::kAbsent:
        break;
    }
    return fail(Walked::kInvalid);
  }

  /// A string with escapes, unescaped after the previous ones.
  Pos unescape(Value& out, const char* begin, Pos at) {
    char* const written = index_.unescape(begin, unescaped_);
    if (written == nullptr) return fail(Walked::kInvalid);
    out.data = unescaped_;
    out.size = static_cast<std::uint32_t>(written - unescaped_);
    unescaped_ = written;
    return at + 1;
  }

  /// Steps over the value at `at`, checking its structure and its scalars (but not the escapes
  /// of strings nothing reads).
  Pos skip(Pos at, int depth) {
    const char* const text = text_;
    const char first = text[*at];
    if (first != '{' && first != '[') {
      bool valid = true;
      switch (type_at(text, at)) {
        case ValueType::kNumber:
          valid = detail::is_json_number(scalar(text, at));
          break;
        case ValueType::kBool:
          valid = scalar(text, at) == "true" || scalar(text, at) == "false";
          break;
        case ValueType::kNull:
          valid = scalar(text, at) == "null";
          break;
        case ValueType::kString:
          break;  // stage 1 checked it (its escapes are checked only where it is read)
        default:
          valid = false;
      }
      return valid ? at + 1 : fail(Walked::kInvalid);
    }
    if (depth + 1 > kMaxDepth) return fail(Walked::kInvalid);
    const char close = first == '{' ? '}' : ']';
    ++at;
    if (text[*at] == close) return at + 1;
    for (;;) {
      if (first == '{') {
        if (text[*at] != '"' || text[at[1]] != ':') return fail(Walked::kInvalid);
        at += 2;
      }
      at = skip(at, depth + 1);
      if (at == nullptr) return nullptr;
      const char next = text[*at];
      ++at;
      if (next == ',') continue;
      return next == close ? at : fail(Walked::kInvalid);
    }
  }

  const PathTree& tree_;
  const char* const text_;
  const StructuralIndex& index_;
  char* unescaped_;
  Value* const values_;
  const std::uint32_t generation_;
  Walked failure_ = Walked::kInvalid;
};

PathTree::Walked PathTree::walk_indexed(const char* text, const StructuralIndex& index,
                                        char* unescaped, Value* values,
                                        std::uint32_t generation) const {
  return IndexedWalker(*this, text, index, unescaped, values, generation).root();
}

}  // namespace drift::daemon::decode
