#pragma once
/// The file source: tails a JSONL file (a sidecar reading a shared volume), one record per
/// complete line, surviving rotation and truncation.

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "config/config.h"
#include "ingest/record.h"
#include "sources/source.h"

namespace drift::daemon {

/// Tails `config.path`, polling every `config.poll_interval`.
///
/// - Records: each complete line (ended by LF; a CR before it is dropped) is one RawRecord
///   with no headers; blank lines are skipped. A last line without its newline waits for it.
/// - Positions: {name, "<dev>:<inode>", byte offset just after the last complete line}.
/// - Start: at offset 0 of the file, or at a resume position whose identity the file at
///   `path` has. When it has another identity (rotated while driftd was down), the old file is
///   looked for among the regular files of the same directory (e.g. `app.jsonl.1`) and read
///   from the checkpointed offset to its end first, then the new file from 0; lines written to
///   the old file after the checkpoint are lost only when the old file is gone (deleted or
///   compressed). A resume offset past the file's end means truncation: read from 0.
/// - Rotation: when `path` names another file (device/inode), the old file is read to its end
///   (a final line without a newline is delivered as it is), then the new one from 0.
///   Truncation (size below the read position, e.g. copytruncate) restarts at 0; a file
///   truncated and regrown past the read position between two polls is not noticed.
/// - Missing or unreadable file: waits for it (connected = false, last_error says why).
/// - Lines longer than `max_line_bytes` are skipped (counted in lines_skipped()).
///
/// Thread safety: start/stop from one controlling thread; status from any thread.
class FileSource final : public Source {
 public:
  static constexpr std::size_t kDefaultMaxLineBytes = 16u << 20;

  explicit FileSource(SourceConfig config, std::size_t max_line_bytes = kDefaultMaxLineBytes);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  const std::string& name() const override;
  /// Starts the reading thread. Call once.
  void start(RecordSink& sink, std::span<const SourcePosition> resume) override;
  /// Stops polling; returns after the thread delivered its last batch. Idempotent.
  void stop() override;
  /// Nothing upstream to acknowledge: a file keeps its bytes.
  void acknowledge(std::span<const SourcePosition> durable) override;
  /// connected: a file is open; lag: -1 (records behind are not known for a file).
  SourceStatus status() const override;

  /// Over-long lines skipped since start.
  std::uint64_t lines_skipped() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace drift::daemon
