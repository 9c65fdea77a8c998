#pragma once
/// The daemon's Prometheus metric catalogue (exporters/METRICS.md): a prometheus-cpp registry
/// behind a small, thread-safe API that the daemon feeds with plain values — evaluation
/// results, window sizes, ingest totals, source state, alert and webhook state — and that the
/// HTTP layer turns into a `/metrics` body.
///
/// Concurrency. Every setter and serialize() may be called from any thread. Two mutexes guard
/// the catalogue's own maps: the evaluation lock (record_evaluation, set_window, set_alert)
/// and the ingest lock (records, sources, webhooks, process metrics); setters hold them for
/// map look-ups and atomic stores only. serialize() holds the evaluation lock only while
/// prometheus-cpp copies the registry (Registry::Collect), so a scrape never sees an
/// evaluation half-applied; it never takes the ingest lock. The text is then built into a
/// std::string with no lock held, and the HTTP layer writes that string to the socket
/// (compressing it first if asked) with no metrics lock held: a stalled or slow scraper never
/// stalls the evaluator or ingestion. The evaluator waits at most for one registry copy
/// (bench/bench_scrape.cc: ~4 ms at 10,000 series, ~100 ms at 100,000); ingest setters wait
/// only when they add a series to the family being copied at that instant.
///
/// Counters from running totals. The daemon already keeps running totals (records accepted and
/// rejected, bytes, deliveries); the set_* calls take those totals and advance prometheus-cpp
/// counters by the difference from the previous call. A total lower than the previous one is
/// read as a reset of the daemon's own count (the counter advances by the new total), so
/// exported counters never go backwards.
///
/// Cardinality. Series with a `feature` label (per-test gauges, missing ratios, PSI bin
/// proportions) are capped per model (MetricsOptions::max_series_per_model). Features are
/// admitted in result order, each whole or not at all: first every feature's test and missing
/// series, then each feature's PSI bins. What does not fit is not exported and is added to
/// drift_series_dropped_total{model} at each evaluation.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "drift/detectors/evaluation.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace drift::exporters {

/// The Content-Type of serialize()'s output (text exposition format 0.0.4).
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

/// The daemon's reject reasons (daemon/src/decode/decoder.h to_string(RejectReason)); each one
/// is exported as 0 for every (source, model) and source as soon as the pair is known.
inline constexpr std::string_view kDefaultRejectReasons[] = {
    "invalid_json", "not_an_object", "no_model",      "wrong_type",
    "bad_timestamp", "shape_mismatch", "too_large"};

struct MetricsOptions {
  /// Most series with a `feature` label per model (tests, missing ratios, PSI bins).
  std::size_t max_series_per_model = 10000;
  /// Reasons pre-exported as 0 in drift_records_rejected_total / drift_records_unmatched_total.
  std::vector<std::string> reject_reasons{std::begin(kDefaultRejectReasons),
                                          std::end(kDefaultRejectReasons)};
  /// Upper bounds (seconds) of drift_evaluation_duration_seconds; ascending.
  std::vector<double> evaluation_duration_buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                  0.25,  0.5,    1.0,   2.5,  5.0,   10.0, 30.0,
                                                  60.0,  120.0};
};

/// A running total for one label value (a reject reason, a delivery outcome).
struct ReasonTotal {
  std::string_view reason;
  std::uint64_t total = 0;
};

/// Consumer lag of one Kafka topic-partition, in records.
struct PartitionLag {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t lag = -1;  ///< negative: unknown, not exported
};

/// The state of one source, with running totals (what /v1/status shows).
struct SourceMetrics {
  std::string name;
  std::string type;  ///< "kafka" | "http" | "file"
  bool up = false;   ///< kafka: group joined; file: open; http: listening
  std::uint64_t queue_depth = 0;       ///< records read but not yet delivered to the pipeline
  std::uint64_t records_received = 0;  ///< running total
  std::uint64_t bytes_received = 0;    ///< running total
  std::uint64_t records_dropped = 0;   ///< running total, refused for back-pressure (HTTP 503)
  /// Every partition currently assigned; partitions missing from a later call are removed.
  std::vector<PartitionLag> lag;
};

/// Optional label values for PSI bins, by feature name: one per bin in PsiResult order (for a
/// categorical feature: the reference's categories, then the window-only ones). Features not
/// listed (or with a different number of bins) use the bin index "0", "1", ...
using BinLabels = std::unordered_map<std::string, std::vector<std::string>>;

/// What the HTTP layer sends for GET /metrics.
struct MetricsResponse {
  std::string body;              ///< the exposition text, gzip-compressed when `gzip`
  bool gzip = false;             ///< send `Content-Encoding: gzip`
  std::string_view content_type = kMetricsContentType;
};

class MetricsRegistry {
 public:
  static constexpr std::string_view content_type = kMetricsContentType;

  explicit MetricsRegistry(MetricsOptions options = {});
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  /// drift_build_info{version,backend} = 1; `backend` is the backend in use ("cpu" | "gpu").
  /// A later call replaces the series.
  void set_build_info(std::string_view version, std::string_view backend);

  /// One finished evaluation of `model`: per-feature/per-test gauges, PSI bin proportions,
  /// missing ratios, the model verdict, MMD (its series are removed when MMD did not run),
  /// reference/window rows from the result, the finish time (Unix ms) and the duration
  /// histogram. Series of features, tests or bins absent from `result` are removed.
  void record_evaluation(std::string_view model, const EvaluationResult& result,
                         double duration_seconds, std::int64_t finished_ms,
                         const BinLabels* bin_labels = nullptr);
  /// Rows in the model's reference and current window (between evaluations).
  void set_window(std::string_view model, std::uint64_t reference_rows,
                  std::uint64_t current_rows);
  /// Running totals of one (source, model) pair: rows accepted and records rejected by reason.
  /// drift_records_total{outcome="rejected"} is the sum over reasons.
  void set_records(std::string_view source, std::string_view model,
                   std::uint64_t accepted_total, std::span<const ReasonTotal> rejected_totals);
  /// Running totals of records from `source` that no model took, by reason.
  void set_unmatched(std::string_view source, std::span<const ReasonTotal> totals);
  void set_source(const SourceMetrics& source);
  /// The alert policy's state for `model` (a small fixed set, e.g. "inactive", "pending",
  /// "firing") and whether it fires. The current state's series is 1, states seen before 0.
  void set_alert(std::string_view model, std::string_view state, bool firing);
  /// Running total of deliveries to `webhook` with `outcome` (e.g. "success", "failure").
  void set_webhook_deliveries(std::string_view webhook, std::string_view outcome,
                              std::uint64_t total);
  /// Webhook notifications waiting in the persistent outbox.
  void set_outbox_depth(std::uint64_t entries);
  /// When the last checkpoint became durable (Unix ms); its age is
  /// `time() - drift_last_checkpoint_timestamp_seconds`. Not exported before the first call.
  void set_last_checkpoint(std::int64_t unix_ms);
  /// GPU memory held by the backend, in bytes (0 on the CPU backend).
  void set_gpu_memory_bytes(std::uint64_t bytes);
  /// Running total of evaluations the GPU backend gave to the CPU after a GPU error.
  void set_gpu_fallbacks(std::uint64_t total);

  /// Removes every series of a model (no longer configured).
  void remove_model(std::string_view model);
  /// Removes every series of a source (no longer configured), its record counters included.
  void remove_source(std::string_view source);

  /// The whole registry as text exposition format 0.0.4, built into a string; no lock is held
  /// once it returns (see the file comment).
  std::string serialize() const;
  /// serialize(), gzip-compressed when `accept_encoding` (the request's Accept-Encoding value)
  /// accepts gzip.
  MetricsResponse render(std::string_view accept_encoding) const;

  /// The prometheus-cpp registry (for tests and benchmarks; the catalogue owns its families).
  const prometheus::Registry& registry() const;

 private:
  struct State;
  mutable std::mutex evaluation_mutex_;  // models: per-feature, per-model and alert series
  std::mutex ingest_mutex_;              // records, sources, webhooks, process metrics
  std::unique_ptr<State> state_;
};

/// gzip (RFC 1952) of `data` with zlib at `level` (1 fastest .. 9 smallest).
std::string gzip(std::string_view data, int level = 1);

/// Whether an Accept-Encoding header value accepts gzip (`gzip`, `x-gzip` or `*` with q > 0).
bool accepts_gzip(std::string_view accept_encoding);

/// A label value as the exposition format needs it: valid UTF-8 (invalid bytes become U+FFFD),
/// at most `max_bytes` bytes (cut at a character boundary).
std::string sanitize_label_value(std::string_view value, std::size_t max_bytes = 256);

}  // namespace drift::exporters
