#pragma once
/// What crosses from a source to the pipeline: raw records (bytes plus headers) and the stream
/// positions they end at. Views only: the source keeps the bytes alive during deliver().

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace drift::daemon {

/// A header of a record (Kafka header, HTTP/CloudEvents header). Names are lower-case.
struct Header {
  std::string_view name;
  std::string_view value;
};

/// One message as a source received it.
struct RawRecord {
  std::string_view body;           ///< JSON: a flat record, or a KServe request
  std::string_view response_body;  ///< KServe response joined to the request (empty if none)
  std::span<const Header> headers;
  std::int64_t arrival_ms = 0;     ///< wall clock at receipt, ms since the Unix epoch
};

/// Starts loading the first `bytes` bytes at `data` into the cache, a line at a time (a record
/// body read soon; the hardware prefetcher streams in the rest once it is read).
inline void prefetch_bytes(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const char*>(data);
  for (std::size_t at = 0; at < bytes; at += 64) __builtin_prefetch(p + at);
}

/// A point in one stream of a source: the position just after the last record delivered.
/// Kafka: stream "topic/partition", offset = last offset + 1. File: stream = the file's
/// identity ("dev:inode"), offset = byte offset. HTTP: stream "wal", offset = WAL sequence + 1.
struct SourcePosition {
  std::string source;
  std::string stream;
  std::int64_t offset = 0;

  bool operator==(const SourcePosition&) const = default;
};

/// Where sources deliver records. Called on the source's own thread; blocks while the pipeline
/// is busy (that is the back-pressure). When it returns, the records' rows are in the windows
/// and the positions are recorded for the next checkpoint.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void deliver(std::string_view source, std::span<const RawRecord> records,
                       std::span<const SourcePosition> positions) = 0;
};

}  // namespace drift::daemon
