#pragma once
/// The `http` source: prediction logs POSTed to /v1/ingest/<source name>, made durable in a
/// write-ahead log before they are acknowledged, then delivered by the source's own thread.
///
/// Bodies: NDJSON (one JSON object per line), a JSON array of objects, or one JSON object; or a
/// CloudEvent in binary mode (a `ce-type` header; the body is the event data, the ce-* headers
/// travel with it). KServe / Seldon inference request and response events with the same ce-id
/// are joined into one record; a request whose response does not come within join_ttl is
/// delivered alone, a response without its request is dropped (both counted).
///
/// Answers: 202 {"accepted": N} once the records are in the log (fsynced, group commit),
/// 400 for a bad body (nothing stored), 401 without the bearer token, 503 + Retry-After when
/// the queue to the source thread is full or the source is not running.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "config/config.h"
#include "http/http_server.h"
#include "sources/source.h"

namespace drift::daemon {

class HttpIngestSource final : public Source {
 public:
  struct Options {
    std::uint64_t wal_segment_bytes = 64u << 20;  ///< write-ahead log segment size
    std::size_t max_batch_records = 1000;         ///< records per RecordSink::deliver
  };

  /// Join outcomes of CloudEvents inference events, since construction.
  struct JoinStats {
    std::uint64_t joined = 0;             ///< request + response delivered as one record
    std::uint64_t orphan_requests = 0;    ///< requests delivered without a response
    std::uint64_t dropped_responses = 0;  ///< responses whose request never came
    std::uint64_t pending = 0;            ///< events waiting for their partner now
  };

  /// Opens (or creates) the write-ahead log in `wal_dir`, repairing a torn tail; throws
  /// std::runtime_error naming the folder when it cannot. `auth_token` empty = no auth.
  HttpIngestSource(SourceConfig config, std::filesystem::path wal_dir, std::string auth_token,
                   Options options);
  HttpIngestSource(SourceConfig config, std::filesystem::path wal_dir, std::string auth_token);
  ~HttpIngestSource() override;
  HttpIngestSource(const HttpIngestSource&) = delete;
  HttpIngestSource& operator=(const HttpIngestSource&) = delete;

  const std::string& name() const override;
  /// Replays the log from the resume position ({name, "wal", offset}; none = the whole log),
  /// then delivers new records. Requests are refused with 503 until start() is called.
  void start(RecordSink& sink, std::span<const SourcePosition> resume) override;
  /// Refuses new requests, delivers what was accepted, joins the threads. Idempotent.
  void stop() override;
  /// Deletes log segments that a checkpoint no longer needs. Thread-safe.
  void acknowledge(std::span<const SourcePosition> durable) override;
  SourceStatus status() const override;
  JoinStats join_stats() const;
  /// Group commits of the write-ahead log so far (one fdatasync each).
  std::uint64_t wal_syncs() const;

  /// The handler for POST /v1/ingest/<name>; thread-safe, blocks until the log is synced.
  HttpResponse handle(const HttpRequest& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace drift::daemon
