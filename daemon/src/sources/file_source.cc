#include "sources/file_source.h"
#include "ingest/text_and_time.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace drift::daemon {
namespace {

constexpr std::size_t kReadChunk = 64u << 10;
constexpr std::size_t kMaxBatchRecords = 1000;



std::string identity_of(const struct stat& st) {
  return cat(std::to_string(st.st_dev), ":", std::to_string(st.st_ino));
}

bool blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

/// One open file being read: the bytes after its last complete line sit in `buf`.
struct Reader {
  int fd = -1;
  std::string identity;
  std::vector<char> buf;
  std::size_t len = 0;      // bytes in buf
  std::size_t scanned = 0;  // bytes of buf known to hold no newline
  std::int64_t base = 0;    // file offset of buf[0] = just after the last complete line
  bool skipping = false;    // inside an over-long line: drop bytes up to its newline

  Reader() = default;
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  ~Reader() { close(); }

  bool open() const { return fd >= 0; }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
    identity.clear();
    reset(0);
  }
  /// Forgets buffered bytes; the next read starts at `offset`.
  void reset(std::int64_t offset) {
    len = 0;
    scanned = 0;
    base = offset;
    skipping = false;
  }
  /// File offset of the next byte read().
  std::int64_t read_pos() const { return base + static_cast<std::int64_t>(len); }
};

}  // namespace

struct FileSource::Impl {
  SourceConfig config;
  std::size_t max_line_bytes;
  RecordSink* sink = nullptr;
  std::thread thread;
  bool started = false;
  bool stopped = false;

  std::mutex wake_mu;
  std::condition_variable wake;
  bool stopping = false;  // guarded by wake_mu

  /// Resume positions of this source not yet applied (the first open applies them).
  std::vector<SourcePosition> resume;
  bool resume_pending = false;

  mutable std::mutex status_mu;
  bool connected = false;
  std::string last_error;
  std::atomic<std::uint64_t> records{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> skipped{0};

  // Batch buffers (reader thread only).
  std::vector<RawRecord> batch;
  std::uint64_t batch_bytes = 0;

  void set_status(bool is_connected, std::optional<std::string> error) {
    std::lock_guard lock(status_mu);
    connected = is_connected;
    if (error) last_error = std::move(*error);
  }

  std::string path_error(const std::filesystem::path& path, int err, std::string_view what) {
    return cat(path.string(), ": ", std::strerror(err), what);
  }

  bool should_stop() {
    std::lock_guard lock(wake_mu);
    return stopping;
  }

  void run() {
    Reader current;
    const auto interval = std::max(config.poll_interval, Duration(1));
    for (;;) {
      poll_once(current);
      std::unique_lock lock(wake_mu);
      if (wake.wait_for(lock, interval, [this] { return stopping; })) break;
    }
    set_status(false, std::nullopt);
  }

  /// Opens `path` into `r` at offset 0; false (with the reason in last_error) if it cannot.
  bool open_at_path(Reader& r) {
    const int fd = ::open(config.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      set_status(false, path_error(config.path, err, " (waiting for it)"));
      return false;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      set_status(false, path_error(config.path, err, ""));
      return false;
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      set_status(false, cat(config.path.string(), ": not a regular file (waiting for one)"));
      return false;
    }
    r.close();
    r.fd = fd;
    r.identity = identity_of(st);
    r.reset(0);
    set_status(true, std::nullopt);
    return true;
  }

  /// Applies the checkpoint to the file just opened at `path`.
  void apply_resume(Reader& r) {
    resume_pending = false;
    if (resume.empty()) return;
    struct stat st {};
    if (::fstat(r.fd, &st) != 0) return;
    for (const SourcePosition& p : resume) {
      if (p.stream != r.identity) continue;
      // Past the end: truncated while we were down; read it all.
      const std::int64_t offset = p.offset <= st.st_size && p.offset >= 0 ? p.offset : 0;
      if (::lseek(r.fd, offset, SEEK_SET) == offset) r.reset(offset);
      return;
    }
    // Rotated while down: finish the old file if it is still in the directory.
    for (const SourcePosition& p : resume) {
      if (std::optional<std::filesystem::path> old = find_in_directory(p.stream)) {
        Reader previous;
        previous.fd = ::open(old->c_str(), O_RDONLY | O_CLOEXEC);
        if (previous.fd < 0) continue;
        previous.identity = p.stream;
        if (::lseek(previous.fd, p.offset, SEEK_SET) != p.offset) continue;
        previous.reset(p.offset);
        read_available(previous);
        finish(previous);
        return;
      }
    }
  }

  /// A regular file in the directory of `path` with identity `stream`.
  std::optional<std::filesystem::path> find_in_directory(std::string_view stream) const {
    std::error_code ec;
    std::filesystem::path dir = config.path.parent_path();
    if (dir.empty()) dir = ".";
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      struct stat st {};
      if (::stat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
          identity_of(st) == stream) {
        return it->path();
      }
    }
    return std::nullopt;
  }

  void poll_once(Reader& current) {
    if (!current.open()) {
      if (!open_at_path(current)) return;
      if (resume_pending) apply_resume(current);
    }
    struct stat st {};
    if (::fstat(current.fd, &st) == 0 && st.st_size < current.read_pos()) {
      // Truncated (copytruncate or a writer starting over): read again from the start.
      if (::lseek(current.fd, 0, SEEK_SET) == 0) current.reset(0);
    }
    read_available(current);

    struct stat at_path {};
    if (::stat(config.path.c_str(), &at_path) != 0) return;  // renamed away, new one not yet
    if (identity_of(at_path) == current.identity) return;
    // Rotated: the old file may have grown since the read above; finish it, then switch.
    read_available(current);
    finish(current);
    if (open_at_path(current)) read_available(current);
  }

  /// Reads `r` to its end, delivering every complete line.
  void read_available(Reader& r) {
    for (;;) {
      if (should_stop()) return;
      if (r.len == r.buf.size()) {
        if (r.len >= max_line_bytes) {
          begin_skip(r);
        } else {
          const std::size_t want = std::max(r.buf.size() * 2, kReadChunk);
          r.buf.resize(std::min(want, max_line_bytes + kReadChunk));
        }
      }
      const ssize_t n = ::read(r.fd, r.buf.data() + r.len, r.buf.size() - r.len);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        set_status(true, path_error(config.path, err, " (read failed)"));
        return;
      }
      if (n == 0) return;
      r.len += static_cast<std::size_t>(n);
      split_lines(r);
    }
  }

  /// Drops the buffered start of an over-long line; bytes up to its newline follow it.
  void begin_skip(Reader& r) {
    if (!r.skipping) {
      skipped.fetch_add(1, std::memory_order_relaxed);
      set_status(true, cat(config.path.string(), ": line at byte ", std::to_string(r.base),
                           " is longer than ", std::to_string(max_line_bytes), " bytes; skipped"));
    }
    r.skipping = true;
    r.base += static_cast<std::int64_t>(r.len);
    r.len = 0;
    r.scanned = 0;
  }

  void split_lines(Reader& r) {
    std::size_t start = 0;
    std::int64_t position = -1;  // after the last complete line handled here
    const char* data = r.buf.data();
    for (;;) {
      const void* hit = std::memchr(data + r.scanned, '\n', r.len - r.scanned);
      if (hit == nullptr) break;
      const auto nl = static_cast<std::size_t>(static_cast<const char*>(hit) - data);
      std::string_view line(data + start, nl - start);
      if (r.skipping) {
        r.skipping = false;  // this newline ends the over-long line
      } else if (line.size() > max_line_bytes) {
        begin_skip_count(r, start);
      } else {
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!blank(line)) add(line);
      }
      start = nl + 1;
      r.scanned = start;
      position = r.base + static_cast<std::int64_t>(start);
      if (batch.size() >= kMaxBatchRecords) deliver(r.identity, position);
    }
    if (!batch.empty()) deliver(r.identity, position);
    // Keep the partial last line at the front of the buffer.
    if (start > 0) {
      std::memmove(r.buf.data(), r.buf.data() + start, r.len - start);
      r.len -= start;
      r.base += static_cast<std::int64_t>(start);
    }
    r.scanned = r.len;
  }

  /// Counts a complete over-long line found whole in the buffer.
  void begin_skip_count(const Reader& r, std::size_t start) {
    skipped.fetch_add(1, std::memory_order_relaxed);
    set_status(true, cat(config.path.string(), ": line at byte ",
                         std::to_string(r.base + static_cast<std::int64_t>(start)),
                         " is longer than ", std::to_string(max_line_bytes), " bytes; skipped"));
  }

  /// The file is done (rotated away): deliver its unterminated last line as it is, close it.
  void finish(Reader& r) {
    if (!r.skipping && r.len > 0) {
      std::string_view line(r.buf.data(), r.len);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!blank(line)) {
        add(line);
        deliver(r.identity, r.read_pos());
      }
    }
    r.close();
  }

  void add(std::string_view line) {
    RawRecord rec;
    rec.body = line;
    batch.push_back(rec);
    batch_bytes += line.size();
  }

  void deliver(const std::string& identity, std::int64_t position) {
    const std::int64_t arrival = wall_clock_ms();
    for (RawRecord& r : batch) r.arrival_ms = arrival;
    const SourcePosition pos{config.name, identity, position};
    try {
      sink->deliver(config.name, batch, std::span<const SourcePosition>(&pos, 1));
      records.fetch_add(batch.size(), std::memory_order_relaxed);
      bytes.fetch_add(batch_bytes, std::memory_order_relaxed);
    } catch (const std::exception& e) {
      set_status(true, cat("record sink failed, batch dropped: ", e.what()));
    } catch (...) {
      set_status(true, std::string("record sink failed, batch dropped"));
    }
    batch.clear();
    batch_bytes = 0;
  }
};

FileSource::FileSource(SourceConfig config, std::size_t max_line_bytes)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->max_line_bytes = std::max<std::size_t>(max_line_bytes, 1);
}

FileSource::~FileSource() { stop(); }

const std::string& FileSource::name() const { return impl_->config.name; }

void FileSource::start(RecordSink& sink, std::span<const SourcePosition> resume) {
  Impl& s = *impl_;
  if (s.started) throw std::logic_error("FileSource::start called twice");
  s.started = true;
  s.sink = &sink;
  for (const SourcePosition& p : resume) {
    if (p.source == s.config.name) s.resume.push_back(p);
  }
  s.resume_pending = true;
  {
    std::lock_guard lock(s.status_mu);
    s.last_error.clear();
  }
  s.thread = std::thread([&s] {
    name_this_thread(cat("file:", s.config.name));
    try {
      s.run();
    } catch (const std::exception& e) {
      s.set_status(false, cat("file source thread failed: ", e.what()));
    }
  });
}

void FileSource::stop() {
  Impl& s = *impl_;
  if (!s.started || s.stopped) return;
  s.stopped = true;
  {
    std::lock_guard lock(s.wake_mu);
    s.stopping = true;
  }
  s.wake.notify_all();
  if (s.thread.joinable()) s.thread.join();
}

void FileSource::acknowledge(std::span<const SourcePosition>) {}

SourceStatus FileSource::status() const {
  const Impl& s = *impl_;
  SourceStatus st;
  st.name = s.config.name;
  st.type = "file";
  st.records_received = s.records.load(std::memory_order_relaxed);
  st.bytes_received = s.bytes.load(std::memory_order_relaxed);
  std::lock_guard lock(s.status_mu);
  st.connected = s.connected;
  st.last_error = s.last_error;
  return st;
}

std::uint64_t FileSource::lines_skipped() const {
  return impl_->skipped.load(std::memory_order_relaxed);
}

}  // namespace drift::daemon
