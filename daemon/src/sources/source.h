#pragma once
/// A source of prediction logs (Kafka, HTTP ingest, a tailed file): one thread of its own,
/// delivering batches to a RecordSink, acknowledging positions once a checkpoint covers them.

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "ingest/record.h"

namespace drift::daemon {

/// What /v1/status shows about a source.
struct SourceStatus {
  std::string name;
  std::string type;                 ///< "kafka" | "http" | "file"
  bool connected = false;           ///< kafka: group joined; file: file open; http: listening
  std::int64_t lag = -1;            ///< records behind (kafka consumer lag), -1 unknown
  /// Kafka: the known lag of each assigned partition, by stream ("topic/partition").
  std::map<std::string, std::int64_t> partition_lags;
  std::uint64_t records_received = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t records_dropped = 0;  ///< refused for back-pressure (HTTP 503)
  std::uint64_t queue_depth = 0;      ///< records read but not yet delivered to the pipeline
  std::string last_error;
};

class Source {
 public:
  virtual ~Source() = default;
  virtual const std::string& name() const = 0;
  /// Starts the source's thread. `resume` holds the checkpointed positions of this source:
  /// reading continues right after them (nothing checkpointed is read twice).
  virtual void start(RecordSink& sink, std::span<const SourcePosition> resume) = 0;
  /// Stops reading; returns once the thread has delivered its last batch and exited.
  virtual void stop() = 0;
  /// These positions are durable in a checkpoint: Kafka stores offsets, HTTP trims its log.
  virtual void acknowledge(std::span<const SourcePosition> durable) = 0;
  virtual SourceStatus status() const = 0;
};

}  // namespace drift::daemon
