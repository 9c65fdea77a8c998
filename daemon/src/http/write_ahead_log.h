#pragma once
/// The HTTP ingest source's write-ahead log: numbered entries in segment files, appended and
/// fsynced in groups, read back in order after a restart, trimmed once a checkpoint covers them.
///
/// On disk (all integers little-endian):
///   segment file  <wal_dir>/<first seq, 20 digits>.wal
///   file header   "DRIFTWAL" | u32 version (1) | u32 flags (0) | u64 first seq        (24 bytes)
///   entry         u32 payload length | u32 CRC-32 | u64 seq | payload
///                 (the CRC covers the length, the seq and the payload)
///   payload       u8 kind | u64 ref | i64 arrival_ms | u16 header count
///                 | (u16 name length, name, u32 value length, value) per header | body (the rest)
/// Sequence numbers are consecutive across segments. A torn tail (a crash mid-append) is
/// detected by length and CRC when the log opens and truncated away; nothing after the first
/// bad entry of a segment is ever returned.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace drift::daemon {

/// An I/O failure of the log; what() names the file and the reason.
class WalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class WalEntryKind : std::uint8_t {
  kRecord = 1,         ///< a plain record (or a CloudEvent of another type), delivered as is
  kEventRequest = 2,   ///< a CloudEvent inference request, joined on its ce-id
  kEventResponse = 3,  ///< a CloudEvent inference response, joined on its ce-id
  kJoined = 4,         ///< marker: the event `ref` (key = body) was joined to its partner
  kExpired = 5,        ///< marker: the event `ref` (key = body) waited past the join TTL
};

struct WalEntry {
  WalEntryKind kind = WalEntryKind::kRecord;
  std::uint64_t seq = 0;  ///< assigned by WriteAheadLog::append
  std::uint64_t ref = 0;  ///< markers: the seq of the event they resolve; 0 otherwise
  std::int64_t arrival_ms = 0;
  std::vector<std::pair<std::string, std::string>> headers;  ///< lower-case names
  std::string body;  ///< the record's or event's bytes; markers: the join key
};

/// Not copyable. append() and advance_to() belong to one writer thread; trim_below(),
/// for_each() and the accessors may run on other threads concurrently with it.
class WriteAheadLog {
 public:
  struct Options {
    std::uint64_t segment_bytes = 64u << 20;  ///< a segment rolls over past this size
  };

  /// Opens the log in `dir` (created if missing), truncating a torn tail of the last segment,
  /// and holds an exclusive lock on `dir`/LOCK until destroyed. Throws WalError when the
  /// folder or a segment cannot be used or another log holds the folder.
  WriteAheadLog(std::filesystem::path dir, Options options);
  ~WriteAheadLog();
  WriteAheadLog(const WriteAheadLog&) = delete;
  WriteAheadLog& operator=(const WriteAheadLog&) = delete;

  /// Appends the entries with consecutive sequence numbers (written into each entry's seq),
  /// in one write and one fdatasync per segment touched; when it returns they are durable.
  /// Throws WalError; after a failure the log refuses further appends (restart to recover).
  void append(std::span<WalEntry* const> entries);

  /// Sequence numbers start at `seq` from now on if that is ahead of next_seq() (a log folder
  /// emptied under a checkpoint that remembers a later position).
  void advance_to(std::uint64_t seq);

  /// The sequence number the next appended entry gets; everything below it is durable.
  std::uint64_t next_seq() const;

  /// Deletes the segments whose entries are all below `seq`; never the segment being written.
  void trim_below(std::uint64_t seq);

  /// Calls `fn` for every entry with seq < `end`, oldest first. A segment that cannot be read
  /// or holds a bad entry stops there; the problems are returned (one line each), empty if none.
  std::vector<std::string> for_each(std::uint64_t end,
                                    const std::function<void(WalEntry&&)>& fn) const;

  /// Completed append() calls, i.e. fdatasyncs of appended data (group commit makes it fewer
  /// than the requests).
  std::uint64_t syncs() const { return syncs_; }
  /// The first seq still on disk (== next_seq() when the log is empty).
  std::uint64_t first_seq() const;
  /// What opening the log repaired (a truncated tail), one line each.
  const std::vector<std::string>& recovery_notes() const { return recovery_notes_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  void open();
  void open_segment(std::uint64_t first_seq);
  void close_active();

  std::filesystem::path dir_;
  Options options_;
  mutable std::mutex mu_;                                    // guards segments_ and next_seq_
  std::map<std::uint64_t, std::filesystem::path> segments_;  // first seq → file
  std::uint64_t next_seq_ = 0;
  int lock_fd_ = -1;  // <dir>/LOCK, flock()ed while the log is open
  int fd_ = -1;       // the active (last) segment, opened for appending
  std::uint64_t active_bytes_ = 0;
  std::uint64_t active_first_ = 0;
  std::atomic<std::uint64_t> syncs_{0};
  std::string failed_;  // non-empty once an append failed
  std::vector<std::string> recovery_notes_;
};

}  // namespace drift::daemon
