#include "http/write_ahead_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <iterator>
#include <limits>

#include <boost/crc.hpp>

namespace drift::daemon {

namespace {

static_assert(std::endian::native == std::endian::little, "the log is written little-endian");

constexpr std::string_view kMagic = "DRIFTWAL";
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kFileHeaderBytes = 24;
constexpr std::size_t kEntryHeaderBytes = 16;
constexpr std::uint32_t kMaxPayload = 1u << 30;

std::string errno_text() { return std::strerror(errno); }

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path) {
  throw WalError(what + " " + path.string() + ": " + errno_text());
}

template <typename T>
void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

template <typename T>
T get(const char* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return value;
}

std::uint32_t crc32(std::string_view a, std::string_view b) {
  boost::crc_32_type crc;
  crc.process_bytes(a.data(), a.size());
  crc.process_bytes(b.data(), b.size());
  return crc.checksum();
}

std::size_t payload_size(const WalEntry& entry) {
  std::size_t size = 1 + 8 + 8 + 2 + entry.body.size();
  for (const auto& [name, value] : entry.headers) size += 2 + name.size() + 4 + value.size();
  return size;
}

void encode(std::string& out, const WalEntry& entry, std::uint64_t seq) {
  const std::size_t size = payload_size(entry);
  if (size > kMaxPayload || entry.headers.size() > std::numeric_limits<std::uint16_t>::max()) {
    throw WalError("write-ahead log entry too large (" + std::to_string(size) + " bytes)");
  }
  const std::size_t start = out.size();
  put<std::uint32_t>(out, static_cast<std::uint32_t>(size));
  put<std::uint32_t>(out, 0);  // the CRC, filled in below
  put<std::uint64_t>(out, seq);
  put<std::uint8_t>(out, static_cast<std::uint8_t>(entry.kind));
  put<std::uint64_t>(out, entry.ref);
  put<std::int64_t>(out, entry.arrival_ms);
  put<std::uint16_t>(out, static_cast<std::uint16_t>(entry.headers.size()));
  for (const auto& [name, value] : entry.headers) {
    put<std::uint16_t>(out, static_cast<std::uint16_t>(name.size()));
    out += name;
    put<std::uint32_t>(out, static_cast<std::uint32_t>(value.size()));
    out += value;
  }
  out += entry.body;
  const std::string_view all(out.data() + start, out.size() - start);
  // CRC over (length, seq) and the payload: everything but the CRC field itself.
  std::string covered(all.substr(0, 4));
  covered.append(all.substr(8, 8));
  const std::uint32_t crc = crc32(covered, all.substr(kEntryHeaderBytes));
  std::memcpy(out.data() + start + 4, &crc, sizeof(crc));
}

/// Parses a payload; false when it is malformed (which a matching CRC makes unlikely).
bool decode_payload(std::string_view p, WalEntry& entry) {
  std::size_t at = 0;
  auto need = [&](std::size_t n) { return p.size() - at >= n; };
  if (!need(19)) return false;
  const auto kind = get<std::uint8_t>(p.data());
  if (kind < 1 || kind > 5) return false;
  entry.kind = static_cast<WalEntryKind>(kind);
  entry.ref = get<std::uint64_t>(p.data() + 1);
  entry.arrival_ms = get<std::int64_t>(p.data() + 9);
  const auto count = get<std::uint16_t>(p.data() + 17);
  at = 19;
  entry.headers.clear();
  entry.headers.reserve(count);
  for (std::uint16_t i = 0; i < count; ++i) {
    if (!need(2)) return false;
    const auto name_size = get<std::uint16_t>(p.data() + at);
    at += 2;
    if (!need(name_size + 4u)) return false;
    std::string name(p.substr(at, name_size));
    at += name_size;
    const auto value_size = get<std::uint32_t>(p.data() + at);
    at += 4;
    if (!need(value_size)) return false;
    entry.headers.emplace_back(std::move(name), std::string(p.substr(at, value_size)));
    at += value_size;
  }
  entry.body.assign(p.substr(at));
  return true;
}

struct ParsedEntry {
  bool ok = false;
  std::size_t end = 0;  ///< byte offset just past the entry
};

/// Checks the entry at `offset` of `file` expecting sequence number `seq`; fills `entry`
/// when `entry` is given.
ParsedEntry parse_entry(std::string_view file, std::size_t offset, std::uint64_t seq,
                        WalEntry* entry) {
  if (file.size() - offset < kEntryHeaderBytes) return {};
  const char* at = file.data() + offset;
  const auto size = get<std::uint32_t>(at);
  const auto crc = get<std::uint32_t>(at + 4);
  if (get<std::uint64_t>(at + 8) != seq || size > kMaxPayload ||
      file.size() - offset - kEntryHeaderBytes < size) {
    return {};
  }
  std::string covered(at, 4);
  covered.append(at + 8, 8);
  const std::string_view payload(at + kEntryHeaderBytes, size);
  if (crc32(covered, payload) != crc) return {};
  if (entry != nullptr) {
    if (!decode_payload(payload, *entry)) return {};
    entry->seq = seq;
  }
  return {true, offset + kEntryHeaderBytes + size};
}

std::string file_header(std::uint64_t first_seq) {
  std::string header(kMagic);
  put<std::uint32_t>(header, kVersion);
  put<std::uint32_t>(header, 0);
  put<std::uint64_t>(header, first_seq);
  return header;
}

bool header_ok(std::string_view file, std::uint64_t first_seq) {
  return file.size() >= kFileHeaderBytes &&
         file.substr(0, kFileHeaderBytes) == file_header(first_seq);
}

std::string read_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open", path);
  std::string data;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      ::close(fd);
      errno = saved;
      fail("cannot read", path);
    }
    if (n == 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return data;
}

void write_all(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write", path);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void sync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::filesystem::path segment_path(const std::filesystem::path& dir, std::uint64_t first_seq) {
  std::string name = std::to_string(first_seq);
  name.insert(0, 20 - std::min<std::size_t>(20, name.size()), '0');
  name += ".wal";
  return dir / name;
}

/// "00000000000000000042.wal" → 42; false for other names.
bool segment_seq(const std::string& name, std::uint64_t& seq) {
  if (name.size() != 24 || name.substr(20) != ".wal") return false;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + 20, seq);
  return ec == std::errc() && end == name.data() + 20;
}

}  // namespace

WriteAheadLog::WriteAheadLog(std::filesystem::path dir, Options options)
    : dir_(std::move(dir)), options_(options) {
  try {
    open();
  } catch (...) {
    close_active();
    if (lock_fd_ >= 0) ::close(lock_fd_);
    throw;
  }
}

void WriteAheadLog::open() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw WalError("cannot create " + dir_.string() + ": " + ec.message());
  // One writer per folder: a second daemon (or source) on it would interleave entries.
  const std::filesystem::path lock_path = dir_ / "LOCK";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) fail("cannot open", lock_path);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int saved = errno;
    ::close(lock_fd_);
    errno = saved;
    fail("cannot lock (is another driftd using it?)", lock_path);
  }
  for (const auto& item : std::filesystem::directory_iterator(dir_, ec)) {
    std::uint64_t seq = 0;
    if (item.is_regular_file() && segment_seq(item.path().filename().string(), seq)) {
      segments_.emplace(seq, item.path());
    }
  }
  if (ec) throw WalError("cannot list " + dir_.string() + ": " + ec.message());
  if (segments_.empty()) {
    open_segment(0);
    return;
  }

  // Only the last segment can have a torn tail: earlier ones were synced before it was created.
  const auto [first, path] = *segments_.rbegin();
  const std::string data = read_file(path);
  std::size_t good = kFileHeaderBytes;
  std::uint64_t seq = first;
  if (!header_ok(data, first)) {
    recovery_notes_.push_back(path.string() + ": bad segment header, rewritten (" +
                              std::to_string(data.size()) + " bytes dropped)");
    segments_.erase(first);
    open_segment(first);
    next_seq_ = first;
    return;
  }
  for (;;) {
    const ParsedEntry parsed = parse_entry(data, good, seq, nullptr);
    if (!parsed.ok) break;
    good = parsed.end;
    ++seq;
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd_ < 0) fail("cannot open", path);
  if (good < data.size()) {
    if (::ftruncate(fd_, static_cast<off_t>(good)) != 0 || ::fdatasync(fd_) != 0) {
      fail("cannot truncate the torn tail of", path);
    }
    recovery_notes_.push_back(path.string() + ": truncated a torn tail of " +
                              std::to_string(data.size() - good) + " bytes after seq " +
                              (seq == first ? std::string("(none)") : std::to_string(seq - 1)));
  }
  if (::lseek(fd_, static_cast<off_t>(good), SEEK_SET) < 0) fail("cannot seek in", path);
  active_bytes_ = good;
  active_first_ = first;
  next_seq_ = seq;
}

WriteAheadLog::~WriteAheadLog() {
  close_active();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void WriteAheadLog::close_active() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void WriteAheadLog::open_segment(std::uint64_t first_seq) {
  const std::filesystem::path path = segment_path(dir_, first_seq);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create", path);
  try {
    write_all(fd, file_header(first_seq), path);
    if (::fdatasync(fd) != 0) fail("cannot sync", path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  sync_dir(dir_);
  close_active();
  fd_ = fd;
  active_bytes_ = kFileHeaderBytes;
  active_first_ = first_seq;
  std::lock_guard lock(mu_);
  segments_[first_seq] = path;
}

void WriteAheadLog::append(std::span<WalEntry* const> entries) {
  if (!failed_.empty()) throw WalError("write-ahead log unusable after an error: " + failed_);
  try {
    std::uint64_t seq = next_seq();
    std::string buffer;
    const auto flush = [&] {
      if (buffer.empty()) return;
      const std::filesystem::path path = segment_path(dir_, active_first_);
      write_all(fd_, buffer, path);
      if (::fdatasync(fd_) != 0) fail("cannot sync", path);
      active_bytes_ += buffer.size();
      buffer.clear();
    };
    for (WalEntry* entry : entries) {
      const std::size_t size = kEntryHeaderBytes + payload_size(*entry);
      const std::uint64_t used = active_bytes_ + buffer.size();
      if (used > kFileHeaderBytes && used + size > options_.segment_bytes) {
        flush();
        {
          std::lock_guard lock(mu_);
          next_seq_ = seq;
        }
        open_segment(seq);
      }
      encode(buffer, *entry, seq);
      entry->seq = seq++;
    }
    flush();
    ++syncs_;
    std::lock_guard lock(mu_);
    next_seq_ = seq;
  } catch (const std::exception& e) {
    failed_ = e.what();
    throw WalError(failed_);
  }
}

void WriteAheadLog::advance_to(std::uint64_t seq) {
  if (seq <= next_seq()) return;
  if (active_bytes_ == kFileHeaderBytes) {
    // The active segment holds nothing: replace it by one that starts at `seq`.
    const std::filesystem::path path = segment_path(dir_, active_first_);
    close_active();
    ::unlink(path.c_str());
    std::lock_guard lock(mu_);
    segments_.erase(active_first_);
  }
  open_segment(seq);
  std::lock_guard lock(mu_);
  next_seq_ = seq;
}

std::uint64_t WriteAheadLog::next_seq() const {
  std::lock_guard lock(mu_);
  return next_seq_;
}

std::uint64_t WriteAheadLog::first_seq() const {
  std::lock_guard lock(mu_);
  return segments_.empty() ? next_seq_ : segments_.begin()->first;
}

void WriteAheadLog::trim_below(std::uint64_t seq) {
  std::lock_guard lock(mu_);
  while (segments_.size() > 1) {
    const auto oldest = segments_.begin();
    const auto next = std::next(oldest);
    if (next->first > seq) break;
    ::unlink(oldest->second.c_str());
    segments_.erase(oldest);
  }
}

std::vector<std::string> WriteAheadLog::for_each(std::uint64_t end,
                                                 const std::function<void(WalEntry&&)>& fn) const {
  std::vector<std::pair<std::uint64_t, std::filesystem::path>> segments;
  {
    std::lock_guard lock(mu_);
    segments.assign(segments_.begin(), segments_.end());
  }
  std::vector<std::string> problems;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto& [first, path] = segments[i];
    if (first >= end) break;
    // A segment's entries end where the next one starts (or at `end`).
    const std::uint64_t last = i + 1 < segments.size() ? std::min(end, segments[i + 1].first) : end;
    std::string data;
    try {
      data = read_file(path);
    } catch (const WalError& e) {
      // Trimmed meanwhile: its entries are acknowledged, nothing is missing.
      std::error_code exists_ec;
      if (std::filesystem::exists(path, exists_ec)) problems.emplace_back(e.what());
      continue;
    }
    if (!header_ok(data, first)) {
      problems.push_back(path.string() + ": bad segment header, segment skipped");
      continue;
    }
    std::size_t offset = kFileHeaderBytes;
    for (std::uint64_t seq = first; seq < last; ++seq) {
      WalEntry entry;
      const ParsedEntry parsed = parse_entry(data, offset, seq, &entry);
      if (!parsed.ok) {
        problems.push_back(path.string() + ": bad entry at byte " + std::to_string(offset) +
                           " (seq " + std::to_string(seq) + "); entries " + std::to_string(seq) +
                           " to " + std::to_string(last - 1) + " lost");
        break;
      }
      offset = parsed.end;
      fn(std::move(entry));
    }
  }
  return problems;
}

}  // namespace drift::daemon
