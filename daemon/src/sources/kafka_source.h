#pragma once
/// The Kafka source: one librdkafka consumer in a consumer group (cooperative-sticky), its own
/// poll thread delivering batches, offsets stored only once a checkpoint covers them
/// (at-least-once), consumer lag from librdkafka's statistics. librdkafka types stay in the .cc.

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "config/config.h"
#include "ingest/record.h"
#include "sources/source.h"

namespace drift::daemon {

/// Consumes `config.topics` in group `config.group_id` from `config.brokers`.
///
/// Properties: driftd sets partition.assignment.strategy=cooperative-sticky,
/// enable.auto.commit=true, enable.auto.offset.store=false, statistics.interval.ms=5000 and
/// auto.offset.reset=latest (librdkafka's own default: a first start monitors current traffic
/// instead of replaying the topic's retention into the window); every key of `config.kafka`
/// is applied after these and wins (SASL/SSL settings, `auto.offset.reset: earliest`,
/// `test.mock.num.brokers` for an in-process mock cluster, shorter session timeouts...).
///
/// Positions are {name, "topic/partition", last delivered offset + 1}. On assignment a
/// partition with a resume position starts there (the checkpoint is the truth; committed group
/// offsets may lag it), others at the group's committed offset (auto.offset.reset without one).
/// A resume position is used only for the partition's first assignment in this run; later
/// assignments start at the committed offset. acknowledge() stores offsets of currently
/// assigned partitions; auto-commit commits them (and on revoke and on stop()).
///
/// Thread safety: start/stop from one controlling thread; acknowledge, status, partition_lags
/// and dead_letter from any thread. The sink is called on the source's thread; a deliver() that
/// blocks longer than max.poll.interval.ms (default 300 s) makes the consumer leave the group.
class KafkaSource final : public Source {
 public:
  /// Creates the consumer (and, with `dead_letter_topic`, a producer) now, so bad properties
  /// fail at start-up: throws ConfigError "sources.<name>.kafka.<key>: <reason>" (or
  /// "sources.<name>: <reason>" when the client cannot be created).
  explicit KafkaSource(SourceConfig config);
  ~KafkaSource() override;
  KafkaSource(const KafkaSource&) = delete;
  KafkaSource& operator=(const KafkaSource&) = delete;

  const std::string& name() const override;
  /// Subscribes and starts the poll thread. Call once; a stopped source cannot be restarted.
  void start(RecordSink& sink, std::span<const SourcePosition> resume) override;
  /// Leaves the group (revoking stores the acknowledged offsets, which are committed), then
  /// joins the thread. Idempotent; also run by the destructor.
  void stop() override;
  /// Stores `offset` for each of this source's positions whose partition is assigned now.
  /// Positions of other sources, unknown streams and offsets not past the last stored one are
  /// ignored.
  void acknowledge(std::span<const SourcePosition> durable) override;
  /// connected: group joined or partitions assigned (false while every broker is down); lag:
  /// sum over assigned partitions of the known consumer lag (high watermark − committed
  /// offset), -1 while none is known; last_error: the latest client error.
  SourceStatus status() const override;

  /// Whether records need their Kafka headers (a header match rule, KServe's ce-* headers).
  /// Without, headers are never read: that saves an allocation and a cache miss per message.
  /// Call before start(); the default reads them.
  void set_headers_needed(bool needed);

  /// Consumer lag per assigned partition ("topic/partition"), from the latest statistics
  /// (partitions whose lag is unknown are absent).
  std::map<std::string, std::int64_t> partition_lags() const;
  /// Client errors seen (error callback and consumer errors) since construction.
  std::uint64_t error_count() const;

  /// Produces `body` to `dead_letter_topic` with a header "driftd-reason" = `reason` and
  /// "driftd-source" = name(); asynchronous, copies its arguments. No-op when no dead-letter
  /// topic is configured. Failures are counted in error_count() and last_error.
  void dead_letter(std::string_view body, std::string_view reason);

  /// With `test.mock.num.brokers` in `config.kafka`: the bootstrap servers of the in-process
  /// mock cluster the consumer hosts (a demo can produce there); empty otherwise.
  std::string mock_bootstrap_servers() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace drift::daemon
