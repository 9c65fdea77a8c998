#pragma once
/// The ingest side of the daemon: decodes what sources deliver, appends it to each model's
/// window, hands due snapshots to the evaluator thread, and captures/restores all of it as one
/// consistent checkpoint (windows and source positions from the same instant).

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <set>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "decode/decoder.h"
#include "drift/daemon/table.h"
#include "drift/detectors/backend.h"
#include "drift/exporters/alert_policy.h"
#include "ingest/record.h"
#include "server/log.h"
#include "window/model_window.h"

namespace drift::daemon {

/// What /v1/models reports about one model (a copy, safe to read anywhere).
struct ModelReport {
  std::string name;
  std::uint64_t reference_rows = 0;
  bool reference_ready = false;
  std::string reference_origin;  ///< "file", "bootstrap", "api" or "" while bootstrapping
  std::uint64_t bootstrap_rows = 0;
  std::uint64_t current_rows = 0;
  std::uint64_t records_accepted = 0;
  std::uint64_t records_rejected = 0;
  std::array<std::uint64_t, kRejectReasons> rejected_by_reason{};
  WindowCounters window;
  std::uint64_t evaluations = 0;
  std::uint64_t evaluations_skipped = 0;  ///< evaluator busy, or no reference yet
  std::uint64_t evaluations_failed = 0;
  std::string last_error;
  std::string last_evaluation_json;  ///< the `driftd check` object, or empty
  std::uint64_t last_evaluation_position = 0;
  std::int64_t last_evaluation_ms = 0;  ///< wall clock when it finished
  std::string version;                  ///< newest row's model version (version pointer)
  std::uint64_t version_changes = 0;
  exporters::AlertState alert_state = exporters::AlertState::kOk;
  bool alert_firing = false;
  std::string reference_version;  ///< of the last evaluated reference (see EvaluationReport)
  /// Per source feeding the model: rows accepted and records rejected by reason.
  struct SourceCounts {
    std::uint64_t accepted = 0;
    std::array<std::uint64_t, kRejectReasons> rejected{};
  };
  std::map<std::string, SourceCounts, std::less<>> by_source;
};

/// One finished evaluation, as the evaluator hands it to its observer.
struct EvaluationReport {
  const ModelConfig& model;
  const EvaluationResult& result;
  double duration_seconds = 0;
  std::int64_t finished_ms = 0;  ///< wall clock
  /// The evaluation's time for the alert policy: the time window's end, else the record time
  /// of the newest row (arrival time when records carry none). The same after a restart.
  std::int64_t at_ms = 0;
  /// First 16 hex digits of the SHA-256 of the reference profile's bytes: equal references
  /// (e.g. the same file on every replica) have equal versions.
  std::string reference_version;
  std::string model_version;  ///< the newest row's (version pointer), or empty
  std::uint64_t window_rows = 0;
  std::int64_t first_row_ms = 0;  ///< record time of the oldest row in the window (0: unknown)
  std::int64_t last_row_ms = 0;
  const exporters::AlertPolicy& policy;      ///< after this evaluation
  const std::optional<exporters::AlertEvent>& alert;  ///< what the policy raised, if anything
  const ReferenceProfile& reference;
  const Table& window;  ///< the evaluated rows
};

/// Receives every successful evaluation on the evaluator thread, before the alert policy's new
/// state is committed (and so before any checkpoint can hold it): whatever it persists about an
/// alert event (the webhook outbox) is durable before the state that raised it. When it throws,
/// the policy's step is not committed and the next evaluation tries again.
class EvaluationObserver {
 public:
  virtual ~EvaluationObserver() = default;
  virtual void evaluated(const EvaluationReport& report) = 0;
};

/// Whether the records of `source` need their headers: a KServe format (ce-* headers) or a
/// model fed by it that matches on a header.
bool source_needs_headers(const Config& config, std::string_view source);

/// The daemon's alert settings as the exporters' policy config.
exporters::AlertPolicyConfig to_policy_config(const AlertPolicySettings& settings);

/// Where a reference posted to /v1/models/<model>/reference is kept.
std::filesystem::path api_reference_path(const Config& config, std::string_view model);

class Pipeline final : public RecordSink {
 public:
  struct Options {
    std::uint64_t time_window_max_rows = 1000000;
    /// Snapshots waiting for the evaluator, per model. When a model has this many, its next
    /// delivery waits for the evaluator (back-pressure) rather than skip an evaluation: every
    /// evaluation point is evaluated, so results never depend on timing.
    std::size_t max_pending_evaluations = 8;
  };

  Pipeline(Config config, std::unique_ptr<Backend> backend, Options options);
  ~Pipeline() override;
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  /// Loads every model's reference: a configured file (CSV, JSONL or a saved profile) or a
  /// bootstrap finished earlier (state.dir/references/<model>.profile). Throws ConfigError with
  /// the model's key path when a configured file cannot be used.
  void load_references();

  void deliver(std::string_view source, std::span<const RawRecord> records,
               std::span<const SourcePosition> positions) override;

  /// The checkpoint payload: windows, bootstrap progress, counters, pending evaluations and
  /// source positions, all from one instant (ingestion pauses for the copy).
  std::string capture(std::vector<SourcePosition>& positions);
  /// Restores a payload from capture() before sources start. A model whose part does not fit
  /// the current config starts empty (logged); the rest is kept.
  void restore(std::span<const std::byte> payload);
  /// Positions restored for (or delivered by) one source.
  std::vector<SourcePosition> positions_of(std::string_view source) const;

  /// Replaces a model's reference; `origin` is reported ("api", "file"). Throws InputError for
  /// an unknown model.
  void set_reference(std::string_view model, std::shared_ptr<const ReferenceProfile> profile,
                     std::string origin);
  /// Re-reads file references (SIGHUP).
  void reload_references();
  /// Drops a posted reference: back to the configured file, or a new bootstrap.
  void reset_reference(std::string_view model);
  /// Builds a profile for `model` from a table (its features by name, kinds from the config).
  std::shared_ptr<const ReferenceProfile> profile_from_table(std::string_view model,
                                                             const Table& table) const;

  std::vector<ModelReport> reports() const;
  /// The window's rows as CSV (timestamp_ms, then features), or nullopt for an unknown model.
  std::optional<std::string> window_csv(std::string_view model) const;
  bool references_ready() const;
  /// Records that no model took, by reason.
  std::array<std::uint64_t, kRejectReasons> unmatched() const;
  /// The same per source.
  std::map<std::string, std::array<std::uint64_t, kRejectReasons>, std::less<>>
  unmatched_by_source() const;
  /// Called with each record that no model could use (invalid, unmatched, or rejected by every
  /// model that matched it), for sources that keep such records (a Kafka dead-letter topic).
  /// Set before sources start; runs on the delivering source's thread.
  using DeadLetterSink = std::function<void(std::string_view source, const RawRecord& record,
                                            RejectReason reason)>;
  void set_dead_letter_sink(std::set<std::string, std::less<>> sources, DeadLetterSink sink);

  /// Set before restore() and before sources start; not owned.
  void set_observer(EvaluationObserver* observer) { observer_ = observer; }

  /// Blocks until every queued evaluation has finished (tests, shutdown).
  void drain_evaluations();
  const Config& config() const { return config_; }

 private:
  struct Model;
  struct SourceDecoder;
  struct Job {
    std::size_t model = 0;
    /// Shared with checkpoints while they capture it; non-const so the evaluator can hand the
    /// table back to the window (ModelWindow::recycle) when it holds the last reference.
    std::shared_ptr<WindowSnapshot> snapshot;
  };

  /// Appends under the model's lock; due snapshots are returned for enqueue(). Splits the rows
  /// at model version changes (version pointer).
  void append(std::size_t model_index, const DecodedRows& rows, std::vector<WindowSnapshot>& due);
  void append_rows(std::size_t model_index, const DecodedRows& rows,
                   std::vector<WindowSnapshot>& due);
  /// A new model version: empty window, and a bootstrapped reference bootstraps again.
  void restart_for_version(Model& model, std::string_view version);
  /// Finds the records of a batch that no model used and hands them to the dead-letter sink.
  void dead_letter(std::string_view source, SourceDecoder& decoder,
                   std::span<const RawRecord> records);
  /// Queues a snapshot for evaluation, waiting while the model's queue is full (unless
  /// `wait` is false: restored snapshots). Call without the model's lock.
  void enqueue(std::size_t model_index, WindowSnapshot snapshot, bool wait);
  void evaluator_loop();
  void evaluate(Job& job);
  void finish_bootstrap(Model& model, const WindowSnapshot& rows);
  std::shared_ptr<const ReferenceProfile> load_reference_file(const ModelConfig& model,
                                                              std::size_t index) const;

  Config config_;
  std::unique_ptr<Backend> backend_;
  Options options_;
  std::vector<std::unique_ptr<Model>> models_;
  std::map<std::string, std::unique_ptr<SourceDecoder>, std::less<>> decoders_;

  /// Shared by deliveries, exclusive for a checkpoint capture: windows and positions are then
  /// consistent with each other.
  mutable std::shared_mutex ingest_gate_;
  mutable std::mutex positions_mutex_;
  std::map<std::pair<std::string, std::string>, std::int64_t> positions_;
  mutable std::mutex unmatched_mutex_;
  std::array<std::uint64_t, kRejectReasons> unmatched_{};

  mutable std::mutex jobs_mutex_;
  std::condition_variable jobs_changed_;
  std::deque<Job> jobs_;
  std::vector<std::size_t> pending_;  ///< per model: queued or running
  std::optional<Job> running_;
  bool stopping_ = false;
  std::thread evaluator_;
  RateLimitedLog rate_limited_;
  std::set<std::string, std::less<>> dead_letter_sources_;
  DeadLetterSink dead_letter_sink_;
  EvaluationObserver* observer_ = nullptr;
  /// Under unmatched_mutex_: unmatched_ per source.
  std::map<std::string, std::array<std::uint64_t, kRejectReasons>, std::less<>> unmatched_by_source_;
};

}  // namespace drift::daemon
