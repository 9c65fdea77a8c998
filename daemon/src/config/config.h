#pragma once
/// The daemon's configuration: parsed once at start-up into these immutable structs. One
/// schema (config_schema.cc) drives parsing, validation, error messages and CONFIGURATION.md.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "drift/detectors/evaluation.h"
#include "drift/detectors/reference_profile.h"

namespace drift::daemon {

using Duration = std::chrono::milliseconds;

/// A configuration that cannot be used. what() is one line: "<origin>: <key path>: <reason>"
/// from parse_config/load_config, e.g. "driftd.yaml: models[0].window.size: must be at least 1,
/// got 0" (the origin is the file name, or parse_config's `origin`).
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ServerConfig {
  std::string listen = "127.0.0.1:9108";  ///< host:port; port 0 = any free port
  std::string auth_token;                 ///< bearer token for ingest and control; empty = none
  std::uint64_t max_body_bytes = 16u << 20;
  Duration shutdown_timeout{10000};
  /// Extra readiness conditions ("sources", "references"); empty = ready once listening.
  std::vector<std::string> ready_requires;
};

struct StateConfig {
  std::filesystem::path dir;  ///< checkpoints, write-ahead log, bootstrapped references
  Duration checkpoint_interval{5000};
};

/// Settings for the GPU backend (`backend: gpu` or `auto` on a machine with a GPU).
struct GpuConfig {
  int device = 0;                  ///< CUDA device ordinal
  std::uint64_t memory_limit = 0;  ///< bytes of device memory driftd may use; 0 = no limit
};

enum class SourceType : std::uint8_t { kKafka, kHttp, kFile };
enum class RecordFormat : std::uint8_t { kFlat, kKserveV1, kKserveV2 };

std::string_view to_string(SourceType type);
std::string_view to_string(RecordFormat format);

struct SourceConfig {
  std::string name;
  SourceType type = SourceType::kHttp;
  RecordFormat format = RecordFormat::kFlat;
  // kafka
  std::string brokers;
  std::vector<std::string> topics;
  std::string group_id;
  std::map<std::string, std::string> kafka;  ///< librdkafka properties, passed through
  std::string dead_letter_topic;             ///< empty = no dead-letter output
  // file
  std::filesystem::path path;
  Duration poll_interval{200};
  // http
  std::uint64_t queue_records = 100000;  ///< bounded queue; 503 when full
  Duration join_ttl{60000};  ///< CloudEvents request/response join: wait this long for a partner
};

/// Which records belong to a model. kAll: every record of the model's sources.
struct MatchRule {
  enum class Kind : std::uint8_t { kAll, kPointer, kHeader };
  Kind kind = Kind::kAll;
  std::string key;     ///< JSON pointer (kPointer) or header name, lower-case (kHeader)
  std::string equals;  ///< the value that selects the model (strings compare as text)
};

/// Where a feature's value comes from. KServe formats: kRecord is the request row
/// (instances[i] / the inputs' row i), kPrediction the matching response row (predictions[i] /
/// the outputs' row i). Flat records have only kRecord.
enum class FeatureOrigin : std::uint8_t { kRecord, kPrediction };

struct FeatureConfig {
  std::string name;
  /// RFC 6901 JSON Pointer. Flat: into the record. kserve-v1: into the row (`/3` for array
  /// rows, `/amount` for object rows; "" = the whole row, e.g. a scalar prediction).
  /// kserve-v2: `/<tensor name>` then indices within the row (`/features/2`).
  std::string pointer;
  FeatureKind kind = FeatureKind::kNumeric;
  FeatureOrigin from = FeatureOrigin::kRecord;
};

struct ReferenceConfig {
  std::filesystem::path file;   ///< CSV, JSONL or a saved profile
  std::uint64_t bootstrap = 0;  ///< > 0: the first N rows of the stream become the reference
};

struct WindowConfig {
  std::uint64_t size = 0;   ///< count window: rows kept
  std::uint64_t slide = 0;  ///< count window: rows between evaluations (== size: tumbling)
  Duration duration{0};     ///< time window: span kept
  Duration every{0};        ///< time window: time between evaluations
  std::uint64_t min_rows = 1;
  bool time_based() const { return duration.count() > 0; }
};

/// When a model's alert fires and resolves (drift::exporters::AlertPolicy reads these).
struct AlertPolicySettings {
  std::uint32_t consecutive = 1;    ///< drifting windows in a row before FIRING
  std::uint32_t resolve_after = 1;  ///< clean windows in a row before RESOLVED
  Duration cooldown{0};             ///< minimum time between the starts of two firings
  bool on_ks = true;                ///< which tests count
  bool on_psi = true;
  bool on_chi2 = true;
  bool on_mmd = true;
  std::uint32_t min_drifted_features = 1;
  double min_drifted_share = 0.0;   ///< of the model's features, 0..1
};

/// A receiver of drift events (a retraining pipeline).
struct WebhookSettings {
  std::string name;
  std::string url;                  ///< http:// or https://
  std::string template_name = "generic";  ///< generic|argo-workflows|kubeflow-pipelines|tekton
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> headers;
  std::filesystem::path secret_file;
  std::string secret;               ///< the file's content without its trailing newline
  std::filesystem::path ca_file;    ///< HTTPS: extra trusted CAs
  Duration timeout{15000};
  std::uint32_t max_attempts = 8;
  bool send_resolved = false;
};

struct AlertsConfig {
  AlertPolicySettings policy;       ///< the default for every model
  std::vector<WebhookSettings> webhooks;
  std::string daemon_url;           ///< links in events; empty = none
};

struct MetricsConfig {
  std::uint64_t max_series_per_model = 10000;  ///< cardinality guard for feature/category series
};

struct ModelConfig {
  std::string name;
  std::vector<std::string> sources;  ///< source names feeding the model; empty = all
  MatchRule match;
  std::string timestamp_pointer;  ///< empty = arrival time
  std::string version_pointer;    ///< a change of this value resets a bootstrapped reference
  std::vector<FeatureConfig> features;
  ReferenceConfig reference;
  WindowConfig window;
  ProfileOptions profile;       ///< PSI bins, MMD features/sigma/max_rows...
  EvaluationConfig evaluation;  ///< tests, p_value, correction, ks method, thresholds
  /// alerts.policy with the keys of this model's own alerts.policy on top.
  AlertPolicySettings alert_policy;
};

struct Config {
  ServerConfig server;
  StateConfig state;
  std::string backend = "auto";  ///< "auto" | "cpu" | "gpu"
  GpuConfig gpu;
  std::vector<SourceConfig> sources;
  std::vector<ModelConfig> models;
  AlertsConfig alerts;
  MetricsConfig metrics;
};

/// Parses YAML or JSON text (JSON is YAML). Applies ${ENV} substitution and *_file secrets,
/// checks every key against the schema. `origin` names the input in messages. Throws ConfigError.
Config parse_config(std::string_view text, std::string_view origin = "config");

/// Reads and parses a file. Throws ConfigError.
Config load_config(const std::filesystem::path& path);

/// The configuration reference (Markdown), generated from the schema: daemon/CONFIGURATION.md
/// is this text, and a test keeps the two equal.
std::string configuration_reference();

}  // namespace drift::daemon
