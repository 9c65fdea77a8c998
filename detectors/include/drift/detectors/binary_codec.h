#pragma once
/// The little-endian binary form shared by every persisted object (reference profiles,
/// checkpoints): an envelope "<8-byte magic> | u32 version | u32 flags | u64 payload length |
/// payload | u32 CRC-32(payload)" around a payload of scalars, and of vectors and strings
/// written as a u64 count followed by their elements. Readers check every count against the
/// bytes left, so corrupt input can neither crash nor make them allocate more than its size.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace drift {

static_assert(std::endian::native == std::endian::little, "the binary formats are little-endian");

/// Bytes that do not hold what their reader expects; the message says what and where.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// CRC-32 (IEEE 802.3) of a byte range.
std::uint32_t crc32(std::span<const std::byte> bytes);

/// Appends fields to a payload.
class BinaryWriter {
 public:
  template <typename T>
  void scalar(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&value), sizeof(T));
  }
  void text(std::string_view s) {
    scalar<std::uint64_t>(s.size());
    out_.append(s);
  }
  template <typename T>
  void array(std::span<const T> v) {
    static_assert(std::is_trivially_copyable_v<T>);
    scalar<std::uint64_t>(v.size());
    out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  template <typename T>
  void array(const std::vector<T>& v) {
    array(std::span<const T>(v));
  }
  void texts(const std::vector<std::string>& v) {
    scalar<std::uint64_t>(v.size());
    for (const auto& s : v) text(s);
  }
  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

/// Reads fields back; throws FormatError("<what> payload is truncated at offset N", ...).
class BinaryReader {
 public:
  BinaryReader(std::span<const std::byte> bytes, std::string what)
      : bytes_(bytes), what_(std::move(what)) {}

  template <typename T>
  T scalar() {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    std::memcpy(&value, take(sizeof(T)), sizeof(T));
    return value;
  }
  std::string text() {
    const std::size_t n = count(1);
    return std::string(reinterpret_cast<const char*>(take(n)), n);
  }
  template <typename T>
  std::vector<T> array() {
    const std::size_t n = count(sizeof(T));
    std::vector<T> v(n);
    if (n > 0) std::memcpy(v.data(), take(n * sizeof(T)), n * sizeof(T));
    return v;
  }
  std::vector<std::string> texts() {
    const std::size_t n = count(sizeof(std::uint64_t));  // each string costs its length at least
    std::vector<std::string> v;
    v.reserve(n);
    for (std::size_t k = 0; k < n; ++k) v.push_back(text());
    return v;
  }
  /// A count that the remaining bytes can hold, each element taking at least `element_bytes`.
  std::size_t count(std::size_t element_bytes);
  bool done() const { return pos_ == bytes_.size(); }
  /// Throws FormatError("<what> payload is inconsistent: <reason>").
  [[noreturn]] void fail(std::string_view reason) const;

 private:
  const std::byte* take(std::size_t n);

  std::span<const std::byte> bytes_;
  std::string what_;
  std::size_t pos_ = 0;
};

/// Wraps a payload in the envelope.
std::string seal(std::string_view magic, std::uint32_t version, const std::string& payload);

/// Checks the envelope (magic, version, length, checksum) and returns the payload. `what`
/// names the object in messages ("profile", "checkpoint"). Throws FormatError.
std::span<const std::byte> unseal(std::span<const std::byte> bytes, std::string_view magic,
                                  std::uint32_t version, std::string_view what);

/// Bytes of a string, for unseal/BinaryReader.
inline std::span<const std::byte> as_bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

}  // namespace drift
