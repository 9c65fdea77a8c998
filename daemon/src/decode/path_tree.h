#pragma once
/// Private to the decode stage: JSON Pointers (RFC 6901) compiled into a tree, walked once per
/// JSON value with simdjson ondemand, capturing what each pointer addresses. One walk answers
/// every pointer of every model, and fields no pointer names are skipped without being read.

#include <simdjson.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace drift::daemon::decode {

class StructuralIndex;

inline constexpr std::uint32_t kNoSlot = 0xFFFFFFFFu;

/// The JSON type of a captured value; kAbsent: the pointer addressed nothing.
enum class ValueType : std::uint8_t { kAbsent, kNull, kBool, kNumber, kString, kObject, kArray };

/// A value a pointer captured. `data` views the record's bytes (a number: its literal as
/// written, not yet validated) or the parser's string buffer (a string, unescaped); a bool is
/// "true" / "false"; objects and arrays carry their type only. Valid until the parser starts
/// another document or rewinds. A value belongs to the row stamped with its generation.
struct Value {
  const char* data = nullptr;
  std::uint32_t size = 0;
  std::uint32_t generation = 0;
  ValueType type = ValueType::kAbsent;

  std::string_view text() const { return {data, size}; }
};

/// Splits an RFC 6901 pointer into its unescaped reference tokens ("" → none, "/a~1b/0" →
/// {"a/b", "0"}). False when the pointer is malformed (no leading '/', '~' not followed by 0/1).
bool split_pointer(std::string_view pointer, std::vector<std::string>& tokens);

/// The array index a reference token names (RFC 6901: "0" or digits without a leading zero);
/// false for any other token.
bool array_index(std::string_view token, std::uint64_t& index);

/// A set of pointers into one kind of JSON value (a flat record, a KServe row, a request body),
/// each with a slot; walk() stores what each pointer addresses in values[slot]. Immutable after
/// the pointers are added; walks are thread-safe.
class PathTree {
 public:
  PathTree();

  /// Adds the pointer with these tokens; returns its slot (the same slot for the same tokens).
  std::uint32_t add(std::span<const std::string> tokens);
  std::uint32_t slot_count() const { return slot_count_; }
  bool empty() const { return slot_count_ == 0; }

  /// Walks `value`, stamping the captured values with `generation`. Slots the walk does not
  /// reach keep their old stamp (absent for this generation). Returns simdjson's error for
  /// malformed JSON met on the way.
  simdjson::error_code walk(simdjson::ondemand::value& value, Value* values,
                            std::uint32_t generation) const;
  /// The same for a document's root object (already opened by the caller).
  simdjson::error_code walk_root_object(simdjson::ondemand::object& object, Value* values,
                                        std::uint32_t generation) const;

  /// What walk_indexed() made of a document.
  enum class Walked : std::uint8_t {
    kDone,        ///< captured; the document is one object and nothing follows it
    kInvalid,     ///< malformed JSON
    kUnsupported  ///< the root is not an object, or a key holds an escape: use walk()
  };
  /// The same walk as walk_root_object(), read straight from the structural index of `text`
  /// (see StructuralIndex; `text` lies in a padded buffer). Strings with escapes are unescaped
  /// into `unescaped`, which needs text's size plus simdjson::SIMDJSON_PADDING bytes. Unlike
  /// ondemand, values no pointer addresses are checked too (all but the escapes of strings).
  Walked walk_indexed(const char* text, const StructuralIndex& index, char* unescaped,
                      Value* values, std::uint32_t generation) const;

 private:
  /// A key as the lookup sees it: its first eight bytes (zero past its end), a hash of all of
  /// it, to be multiplied by the node's multiplier.
  struct Key {
    std::string_view text;
    std::uint64_t head = 0;
    std::uint64_t hash = 0;
  };
  struct Child {
    std::uint64_t head = 0;
    std::uint32_t size = 0;
    std::uint32_t node = 0;
    /// The token is at most kMaxPlainKey bytes without '"' or '\\': a raw key matches it when
    /// its bytes are the token's followed by the closing quote (see raw_is).
    bool plain = false;
  };
  static constexpr std::size_t kMaxPlainKey = 32;
  struct Node {
    std::uint32_t slot = kNoSlot;
    /// Buckets of the children's keys: child index + 1, 0 = empty; bucket of a key =
    /// (hash * multiplier) >> shift. The multiplier is chosen so that no two children share a
    /// bucket: a lookup reads one bucket.
    std::uint64_t multiplier = 1;
    unsigned shift = 62;
    std::vector<std::uint32_t> buckets;
    std::vector<Child> children;  ///< in insertion order
    /// Children whose token is an array index, sorted by index.
    std::vector<std::pair<std::uint64_t, std::uint32_t>> indexed;
  };

  static std::size_t bucket(const Node& node, const Key& key) {
    return static_cast<std::size_t>((key.hash * node.multiplier) >> node.shift);
  }
  /// The index in node.children of the child with this key, or kNoSlot.
  std::uint32_t child(const Node& node, const Key& key) const;
  bool same_key(const Child& child, const Key& key) const;
  /// Whether the raw key at `raw` (inside a padded buffer) is a plain `child`'s token.
  bool raw_is(const Child& child, const char* raw) const;
  void rebuild_buckets(Node& node);
  simdjson::error_code walk_value(simdjson::ondemand::value& value, const Node& node, Value* values,
                                  std::uint32_t generation) const;
  simdjson::error_code walk_object(simdjson::ondemand::object& object, const Node& node,
                                   Value* values, std::uint32_t generation) const;
  simdjson::error_code walk_array(simdjson::ondemand::array& array, const Node& node, Value* values,
                                  std::uint32_t generation) const;

  class IndexedWalker;  // indexed_walk.cc
  friend class IndexedWalker;

  std::vector<Node> nodes_;          ///< nodes_[0] is the root
  std::vector<std::string> tokens_;  ///< per node: the token leading to it
  std::uint32_t slot_count_ = 0;
};

/// Reads the scalar (or notes the container, unconsumed) at `value` into `out`. Errors:
/// malformed JSON.
simdjson::error_code capture(simdjson::ondemand::value& value, Value& out,
                             std::uint32_t generation);

/// `token` without the whitespace simdjson's raw_json_token() keeps after it.
std::string_view trim_token(std::string_view token);

}  // namespace drift::daemon::decode
