#pragma once
/// The retraining event (schema in exporters/WEBHOOKS.md) and the request bodies rendered from
/// it for each webhook template. Pure functions: no I/O, no clock.
///
/// Event id. hex(SHA-256("driftd-event/v1" | model | reference_version | episode_start_ms |
/// kind)), each part preceded by its length (make_event_id). The episode start is the alert
/// policy's cooldown-aligned time, so replicas watching one model raise the same id for the same
/// episode, and every retry of a delivery carries it: receivers dedupe on it (webhook-id).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "drift/detectors/evaluation.h"
#include "drift/exporters/alert_policy.h"
#include "drift/exporters/webhook_config.h"

namespace drift::exporters {

/// Where the evaluated window starts and ends; what is unknown stays empty (JSON null).
struct EventWindow {
  std::uint64_t rows = 0;
  std::optional<std::int64_t> first_time_ms;  ///< record time of the oldest row, ms since epoch
  std::optional<std::int64_t> last_time_ms;   ///< record time of the newest row
  std::optional<std::string> first_position;  ///< source position of the oldest row ("topic/0@42")
  std::optional<std::string> last_position;   ///< source position of the newest row
};

/// What the daemon knows beside the alert event.
struct DriftEventContext {
  std::string model_version;  ///< of the served model; empty when unknown
  EventWindow window;
  /// The daemon's externally reachable base URL (e.g. "http://driftd.monitoring:9108"); links
  /// are omitted when empty.
  std::string daemon_url;
  std::string replica;  ///< the emitting replica (pod name); informational, not in the id
};

/// The event a webhook posts (WEBHOOKS.md). Times are ms since the epoch.
struct DriftEvent {
  std::string id;  ///< make_event_id(model, reference_version, episode_start_ms, kind)
  AlertEventKind kind = AlertEventKind::kFiring;
  std::string model;
  std::string model_version;
  std::string reference_version;
  std::int64_t episode_start_ms = 0;  ///< cooldown-aligned start of the alert episode
  std::int64_t since_ms = 0;          ///< first window of the streak that raised the event
  std::int64_t at_ms = 0;             ///< the window that raised it
  std::uint64_t windows = 0;          ///< length of that streak
  EventWindow window;
  bool drift = false;          ///< the alert policy's verdict of that window
  bool dataset_drift = false;  ///< the detectors' verdict (any test drifted)
  std::string correction;      ///< "none", "bonferroni", "fdr"
  std::uint64_t reference_rows = 0;
  std::uint64_t current_rows = 0;
  std::uint64_t features_tested = 0;           ///< features the policy counted
  std::vector<DriftedFeature> drifted_features;  ///< with their drifted tests
  std::optional<DriftedTest> mmd;              ///< multivariate drift, when counted
  std::vector<std::string> mmd_features;       ///< the features MMD ran on
  std::vector<std::pair<std::string, std::string>> links;  ///< name -> URL, in order
  std::string replica;
};

/// The stable event id (64 lowercase hex digits; no '.'), see the file comment.
std::string make_event_id(std::string_view model, std::string_view reference_version,
                          std::int64_t episode_start_ms, AlertEventKind kind);

/// Builds the event for an alert policy event and the evaluation result that caused it.
DriftEvent make_drift_event(const AlertEvent& alert, const EvaluationResult& result,
                            const DriftEventContext& context);

/// The event's generic JSON (WEBHOOKS.md), compact, keys in schema order.
std::string event_json(const DriftEvent& event);

/// The request body of `config`'s template for `event` (WEBHOOKS.md, ECOSYSTEM.md §5).
/// Assumes validate_webhook_config(config) passed.
std::string render_body(const WebhookConfig& config, const DriftEvent& event);

/// RFC 3339 UTC with milliseconds: "2025-03-01T12:00:05.000Z".
std::string format_rfc3339_ms(std::int64_t ms_since_epoch);

}  // namespace drift::exporters
