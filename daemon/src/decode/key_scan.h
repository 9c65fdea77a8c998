#pragma once
/// Private to the decode stage: the byte-level helpers both PathTree walkers share (the
/// ondemand one in path_tree.cc, the structural-index one in indexed_walk.cc): key hashing,
/// scanning a string for its closing quote, and a value's type from its first byte.

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "decode/path_tree.h"

namespace drift::daemon::decode {

inline constexpr std::uint64_t kMixA = 0x9E3779B97F4A7C15ULL;
inline constexpr std::uint64_t kMixB = 0xBF58476D1CE4E5B9ULL;

/// The hash of a key from its first eight bytes (zero-filled past the key), its last eight
/// (zero for keys of at most eight bytes) and its length; a node multiplies it and keeps the
/// high bits.
inline std::uint64_t mix_key(std::uint64_t head, std::uint64_t tail, std::size_t size) {
  return head ^ std::rotl(tail * kMixA, 29) ^ size;
}

inline std::uint64_t head_mask(std::size_t size) {
  return size >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (size * 8)) - 1;
}

/// The first quote or backslash at or after `p`, inside a padded JSON buffer (a string's
/// closing quote is there). Eight bytes a step, by the "has a zero byte" trick (exact for the
/// first match, which is all that is used).
inline const char* quote_or_backslash(const char* p) {
  for (;; p += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, p, 8);
    const auto has_byte = [word](std::uint64_t byte) {
      const std::uint64_t v = word ^ (byte * 0x0101010101010101ULL);
      return (v - 0x0101010101010101ULL) & ~v & 0x8080808080808080ULL;
    };
    const std::uint64_t found = has_byte('"') | has_byte('\\');
    if (found != 0) return p + std::countr_zero(found) / 8;
  }
}

/// The raw (still escaped) key starting at `begin`: the bytes up to its closing quote. False
/// when the key holds an escape and must be unescaped.
inline bool raw_key(const char* begin, std::string_view& key) {
  const char* const end = quote_or_backslash(begin);
  key = std::string_view(begin, static_cast<std::size_t>(end - begin));
  return *end == '"';
}

/// `key` for lookups, reading only the key's own bytes.
template <class Key>
Key exact_key(std::string_view text) {
  Key key;
  key.text = text;
  std::uint64_t tail = 0;
  std::memcpy(&key.head, text.data(), std::min<std::size_t>(text.size(), 8));
  if (text.size() > 8) std::memcpy(&tail, text.data() + text.size() - 8, 8);
  key.hash = mix_key(key.head, tail, text.size());
  return key;
}

/// The same for a key inside a padded JSON buffer: reads 8 bytes from its start, which the
/// closing quote and the buffer's padding make safe.
template <class Key>
Key padded_key(std::string_view text) {
  Key key;
  key.text = text;
  std::uint64_t tail = 0;
  std::memcpy(&key.head, text.data(), 8);
  key.head &= head_mask(text.size());
  if (text.size() > 8) std::memcpy(&tail, text.data() + text.size() - 8, 8);
  key.hash = mix_key(key.head, tail, text.size());
  return key;
}

/// The type a JSON value's first byte announces; kAbsent: no value starts so (malformed).
constexpr ValueType type_of_first_byte(unsigned char c) {
  switch (c) {
    case '"':
      return ValueType::kString;
    case '{':
      return ValueType::kObject;
    case '[':
      return ValueType::kArray;
    case 't':
    case 'f':
      return ValueType::kBool;
    case 'n':
      return ValueType::kNull;
    case '-':
      return ValueType::kNumber;
    default:
      return c >= '0' && c <= '9' ? ValueType::kNumber : ValueType::kAbsent;
  }
}

inline constexpr std::array<ValueType, 256> kTypeOfFirstByte = [] {
  std::array<ValueType, 256> types{};
  for (unsigned c = 0; c < 256; ++c) types[c] = type_of_first_byte(static_cast<unsigned char>(c));
  return types;
}();

/// The type of the value whose raw token is `token`.
inline ValueType token_type(std::string_view token) {
  return token.empty() ? ValueType::kAbsent
                       : kTypeOfFirstByte[static_cast<unsigned char>(token.front())];
}

// PathTree's key matching, inline in both walkers.

[[gnu::always_inline]] inline bool PathTree::same_key(const Child& child, const Key& key) const {
  // Up to eight bytes, head and size are the key; longer keys compare the rest.
  return child.size == key.text.size() && child.head == key.head &&
         (child.size <= 8 ||
          std::memcmp(tokens_[child.node].data() + 8, key.text.data() + 8, child.size - 8) == 0);
}

[[gnu::always_inline]] inline bool PathTree::raw_is(const Child& child, const char* raw) const {
  // A plain token holds no quote or backslash, so equal bytes then a quote are the whole key,
  // unescaped. The bytes read (at most kMaxPlainKey + 1 from a key inside the document) stay
  // within the buffer's padding.
  std::uint64_t head = 0;
  std::memcpy(&head, raw, 8);
  return (head & head_mask(child.size)) == child.head &&
         (child.size <= 8 ||
          std::memcmp(tokens_[child.node].data() + 8, raw + 8, child.size - 8) == 0) &&
         raw[child.size] == '"';
}

[[gnu::always_inline]] inline std::uint32_t PathTree::child(const Node& node,
                                                            const Key& key) const {
  if (node.buckets.empty()) return kNoSlot;
  const std::uint32_t entry = node.buckets[bucket(node, key)];
  if (entry == 0 || !same_key(node.children[entry - 1], key)) return kNoSlot;
  return entry - 1;
}

}  // namespace drift::daemon::decode
