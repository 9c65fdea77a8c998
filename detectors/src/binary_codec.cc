#include "drift/detectors/binary_codec.h"

#include <boost/crc.hpp>

namespace drift {

namespace {
constexpr std::size_t kMagicBytes = 8;
constexpr std::size_t kHeaderBytes = kMagicBytes + 4 + 4 + 8;
constexpr std::size_t kTrailerBytes = 4;
}  // namespace

std::uint32_t crc32(std::span<const std::byte> bytes) {
  boost::crc_32_type crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

std::size_t BinaryReader::count(std::size_t element_bytes) {
  const auto n = scalar<std::uint64_t>();
  if (n > (bytes_.size() - pos_) / element_bytes) {
    fail("a count of " + std::to_string(n) + " exceeds the bytes left at offset " +
         std::to_string(pos_));
  }
  return static_cast<std::size_t>(n);
}

void BinaryReader::fail(std::string_view reason) const {
  std::string message = what_;
  message += " payload is inconsistent: ";
  message += reason;
  throw FormatError(message);
}

const std::byte* BinaryReader::take(std::size_t n) {
  if (n > bytes_.size() - pos_) {
    std::string message = what_;
    message += " payload is truncated at offset " + std::to_string(pos_);
    throw FormatError(message);
  }
  const std::byte* p = bytes_.data() + pos_;
  pos_ += n;
  return p;
}

std::string seal(std::string_view magic, std::uint32_t version, const std::string& payload) {
  if (magic.size() != kMagicBytes) throw std::invalid_argument("magic must be 8 bytes");
  BinaryWriter out;
  out.bytes().append(magic);
  out.scalar<std::uint32_t>(version);
  out.scalar<std::uint32_t>(0);
  out.scalar<std::uint64_t>(payload.size());
  out.bytes().append(payload);
  out.scalar<std::uint32_t>(crc32(as_bytes(payload)));
  return std::move(out.bytes());
}

std::span<const std::byte> unseal(std::span<const std::byte> bytes, std::string_view magic,
                                  std::uint32_t version, std::string_view what) {
  const std::string name(what);
  if (bytes.size() < kHeaderBytes + kTrailerBytes) {
    throw FormatError("not a driftd " + name + ": " + std::to_string(bytes.size()) +
                      " bytes is shorter than the header");
  }
  if (std::memcmp(bytes.data(), magic.data(), kMagicBytes) != 0) {
    throw FormatError("not a driftd " + name + ": bad magic");
  }
  BinaryReader header(bytes.subspan(kMagicBytes, kHeaderBytes - kMagicBytes), name);
  const auto found = header.scalar<std::uint32_t>();
  if (found != version) {
    throw FormatError("unsupported " + name + " format version " + std::to_string(found) +
                      " (this build reads version " + std::to_string(version) + ")");
  }
  (void)header.scalar<std::uint32_t>();  // flags: reserved
  const auto payload_size = header.scalar<std::uint64_t>();
  const std::size_t available = bytes.size() - kHeaderBytes - kTrailerBytes;
  if (payload_size != available) {
    throw FormatError(name + " is truncated or has trailing bytes: header says " +
                      std::to_string(payload_size) + " payload bytes, file has " +
                      std::to_string(available));
  }
  const auto payload = bytes.subspan(kHeaderBytes, available);
  std::uint32_t stored;
  std::memcpy(&stored, bytes.data() + kHeaderBytes + available, sizeof stored);
  if (crc32(payload) != stored) throw FormatError(name + " checksum mismatch: the file is corrupt");
  return payload;
}

}  // namespace drift
