#include "decode/path_tree.h"

#include "decode/key_scan.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace drift::daemon::decode {
namespace {

namespace ondemand = simdjson::ondemand;

/// Reads the value at `value` (raw token `token`, of `type`) into `out`. Numbers and strings
/// without escapes are views of the input (stage 1 has checked UTF-8 and control characters);
/// strings with escapes are unescaped into the parser's buffer. Scalars left unconsumed are
/// skipped by ondemand as the walk moves on. Errors: malformed JSON.
[[gnu::always_inline]] inline simdjson::error_code capture_token(ondemand::value& value,
                                                                 std::string_view token,
                                                                 ValueType type, Value& out,
                                                                 std::uint32_t generation) {
  out.generation = generation;
  out.type = type;
  switch (type) {
    case ValueType::kNumber: {
      token = trim_token(token);
      out.data = token.data();
      out.size = static_cast<std::uint32_t>(token.size());
      return simdjson::SUCCESS;
    }
    case ValueType::kString: {
      const char* const begin = token.data() + 1;
      const char* const end = quote_or_backslash(begin);
      if (*end == '"') {
        out.data = begin;
        out.size = static_cast<std::uint32_t>(end - begin);
        return simdjson::SUCCESS;
      }
      std::string_view text;
      if (auto error = value.get_string().get(text)) return error;
      out.data = text.data();
      out.size = static_cast<std::uint32_t>(text.size());
      return simdjson::SUCCESS;
    }
    case ValueType::kBool: {
      bool flag = false;
      if (auto error = value.get_bool().get(flag)) return error;
      const std::string_view text = flag ? std::string_view("true") : std::string_view("false");
      out.data = text.data();
      out.size = static_cast<std::uint32_t>(text.size());
      return simdjson::SUCCESS;
    }
    case ValueType::kNull: {
      bool null = false;
      if (auto error = value.is_null().get(null)) return error;
      if (!null) return simdjson::N_ATOM_ERROR;
      out.size = 0;
      return simdjson::SUCCESS;
    }
    case ValueType::kObject:
    case ValueType::kArray:
      out.size = 0;
      return simdjson::SUCCESS;
    case ValueType::kAbsent:
      break;
  }
  return simdjson::INCORRECT_TYPE;
}

}  // namespace

bool split_pointer(std::string_view pointer, std::vector<std::string>& tokens) {
  tokens.clear();
  if (pointer.empty()) return true;
  if (pointer.front() != '/') return false;
  std::size_t i = 1;
  tokens.emplace_back();
  for (; i < pointer.size(); ++i) {
    const char c = pointer[i];
    if (c == '/') {
      tokens.emplace_back();
    } else if (c == '~') {
      if (i + 1 >= pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1')) {
        return false;
      }
      tokens.back() += pointer[++i] == '0' ? '~' : '/';
    } else {
      tokens.back() += c;
    }
  }
  return true;
}

bool array_index(std::string_view token, std::uint64_t& index) {
  if (token.empty() || token.size() > 18 || (token.size() > 1 && token.front() == '0')) {
    return false;
  }
  index = 0;
  for (const char c : token) {
    if (c < '0' || c > '9') return false;
    index = index * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return true;
}

std::string_view trim_token(std::string_view token) {
  if (token.empty() || static_cast<unsigned char>(token.back()) > ' ') return token;  // common
  std::size_t size = token.size();
  while (size > 0 && (token[size - 1] == ' ' || token[size - 1] == '\n' ||
                      token[size - 1] == '\r' || token[size - 1] == '\t')) {
    --size;
  }
  return token.substr(0, size);
}

PathTree::PathTree() : nodes_(1), tokens_(1) {}

std::uint32_t PathTree::add(std::span<const std::string> tokens) {
  std::uint32_t at = 0;
  for (const std::string& token : tokens) {
    const Key key = exact_key<Key>(token);
    const std::uint32_t found = child(nodes_[at], key);
    if (found != kNoSlot) {
      at = nodes_[at].children[found].node;
      continue;
    }
    const auto added = static_cast<std::uint32_t>(nodes_.size());
    nodes_.emplace_back();
    tokens_.push_back(token);
    Node& parent = nodes_[at];
    const bool plain = token.size() <= kMaxPlainKey &&
                       token.find_first_of("\"\\") == std::string::npos;
    parent.children.push_back({key.head, static_cast<std::uint32_t>(token.size()), added, plain});
    std::uint64_t index = 0;
    if (array_index(token, index)) {
      parent.indexed.emplace_back(index, added);
      std::sort(parent.indexed.begin(), parent.indexed.end());
    }
    rebuild_buckets(parent);
    at = added;
  }
  if (nodes_[at].slot == kNoSlot) nodes_[at].slot = slot_count_++;
  return nodes_[at].slot;
}

void PathTree::rebuild_buckets(Node& node) {
  // Try multipliers (a fixed pseudo-random sequence) and table sizes from 2 to 64 buckets per
  // child until every child has a bucket of its own. Keys are few and known in advance.
  std::uint64_t state = 0x243F6A8885A308D3ULL;
  const auto next_multiplier = [&state] {
    std::uint64_t z = (state += kMixA);
    z = (z ^ (z >> 30)) * kMixB;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (z ^ (z >> 31)) | 1;
  };
  for (std::size_t size = 4;; size *= 2) {
    if (size < node.children.size() * 2) continue;
    node.shift = 64 - static_cast<unsigned>(std::countr_zero(size));
    for (int attempt = 0; attempt < 256; ++attempt) {
      node.multiplier = next_multiplier();
      node.buckets.assign(size, 0);
      bool clash = false;
      for (std::size_t c = 0; c < node.children.size() && !clash; ++c) {
        const Child& entry = node.children[c];
        const std::string_view token = tokens_[entry.node];
        const std::size_t b = bucket(node, exact_key<Key>(token));
        clash = node.buckets[b] != 0;
        node.buckets[b] = static_cast<std::uint32_t>(c + 1);
      }
      if (!clash) return;
    }
  }
}

simdjson::error_code capture(ondemand::value& value, Value& out, std::uint32_t generation) {
  const std::string_view token = value.raw_json_token();
  return capture_token(value, token, token_type(token), out, generation);
}

simdjson::error_code PathTree::walk(ondemand::value& value, Value* values,
                                    std::uint32_t generation) const {
  return walk_value(value, nodes_.front(), values, generation);
}

simdjson::error_code PathTree::walk_root_object(ondemand::object& object, Value* values,
                                                std::uint32_t generation) const {
  const Node& root = nodes_.front();
  if (root.slot != kNoSlot) {
    Value& out = values[root.slot];
    out.generation = generation;
    out.type = ValueType::kObject;
    out.size = 0;
  }
  return walk_object(object, root, values, generation);
}

// The walkers take simdjson's results by reference (error(), then value_unsafe()) rather than
// with get(), which copies the iterator through memory in pieces that the next load cannot
// forward from: a stall on every field.

simdjson::error_code PathTree::walk_value(ondemand::value& value, const Node& node, Value* values,
                                          std::uint32_t generation) const {
  const std::string_view token = value.raw_json_token();
  const ValueType type = token_type(token);
  if (type == ValueType::kObject && !node.children.empty()) {
    if (node.slot != kNoSlot) capture_token(value, token, type, values[node.slot], generation);
    auto result = value.get_object();
    if (result.error()) return result.error();
    ondemand::object&& object = std::move(result).value_unsafe();
    return walk_object(object, node, values, generation);
  }
  if (type == ValueType::kArray && !node.indexed.empty()) {
    if (node.slot != kNoSlot) capture_token(value, token, type, values[node.slot], generation);
    auto result = value.get_array();
    if (result.error()) return result.error();
    ondemand::array&& array = std::move(result).value_unsafe();
    return walk_array(array, node, values, generation);
  }
  if (node.slot == kNoSlot)
    return type == ValueType::kAbsent ? simdjson::INCORRECT_TYPE : simdjson::SUCCESS;
  return capture_token(value, token, type, values[node.slot], generation);
}

simdjson::error_code PathTree::walk_object(ondemand::object& object, const Node& node,
                                           Value* values, std::uint32_t generation) const {
  // Keys tend to come in the order their pointers were configured: try the child after the
  // last one found before the hash.
  std::size_t expected = 0;
  const std::size_t children = node.children.size();
  for (auto result : object) {
    if (result.error()) return result.error();
    ondemand::field&& field = std::move(result).value_unsafe();
    const char* const raw = field.key().raw();
    std::size_t found = expected;
    // The expected key, compared in place: no scan for the closing quote, no hash.
    if (found >= children || !node.children[found].plain || !raw_is(node.children[found], raw)) {
      std::string_view text;
      Key key;
      if (raw_key(raw, text)) {
        key = padded_key<Key>(text);
      } else {
        if (auto error = field.unescaped_key().get(text)) return error;
        key = exact_key<Key>(text);
      }
      if (found >= children || !same_key(node.children[found], key)) {
        found = child(node, key);
        if (found == kNoSlot) continue;  // not addressed: ondemand skips the value unread
      }
    }
    expected = found + 1;
    const Node& target = nodes_[node.children[found].node];
    ondemand::value& value = field.value();
    if (target.children.empty()) {  // a leaf (always with a slot): no recursion
      const std::string_view token = value.raw_json_token();
      if (auto error =
              capture_token(value, token, token_type(token), values[target.slot], generation)) {
        return error;
      }
      continue;
    }
    if (auto error = walk_value(value, target, values, generation)) return error;
  }
  return simdjson::SUCCESS;
}

simdjson::error_code PathTree::walk_array(ondemand::array& array, const Node& node, Value* values,
                                          std::uint32_t generation) const {
  std::uint64_t index = 0;
  auto wanted = node.indexed.begin();
  for (auto result : array) {
    if (result.error()) return result.error();
    ondemand::value&& element = std::move(result).value_unsafe();
    if (index == wanted->first) {
      if (auto error = walk_value(element, nodes_[wanted->second], values, generation)) {
        return error;
      }
      if (++wanted == node.indexed.end()) break;  // the rest is skipped unread
    }
    ++index;
  }
  return simdjson::SUCCESS;
}

}  // namespace drift::daemon::decode
