#include "server/exports.h"

#include <unistd.h>

#include <array>
#include <cstdlib>
#include <set>
#include <stdexcept>

#include "drift/gpu/gpu_backend.h"
#include "server/log.h"

namespace drift::daemon {

namespace {

/// The replica's name in events: the pod's name when Kubernetes sets HOSTNAME, else the host's.
std::string replica_name() {
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') return pod;
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) == 0) return host.data();
  return {};
}

std::vector<exporters::ReasonTotal> reason_totals(
    const std::array<std::uint64_t, kRejectReasons>& counts) {
  std::vector<exporters::ReasonTotal> totals;
  totals.reserve(kRejectReasons);
  for (std::size_t r = 0; r < kRejectReasons; ++r) {
    totals.push_back({to_string(static_cast<RejectReason>(r)), counts[r]});
  }
  return totals;
}

/// The categories of each categorical feature's PSI bins, in the detectors' order: the
/// reference's categories, then the window's own that occur, in its dictionary order
/// (detectors/src/cpu_backend.cc). Numeric features keep bin indices.
exporters::BinLabels category_bins(const EvaluationResult& result,
                                   const ReferenceProfile& reference, const Table& window) {
  exporters::BinLabels labels;
  for (const FeatureResult& feature : result.features) {
    if (feature.kind != FeatureKind::kCategorical || !feature.psi) continue;
    const FeatureProfile* profile = reference.find(feature.name);
    const Column* column = window.find(feature.name);
    if (profile == nullptr || column == nullptr) continue;
    const auto& categories = profile->categorical.categories;
    const std::set<std::string_view> known(categories.begin(), categories.end());
    std::vector<std::string> bins = categories;
    std::vector<bool> seen(column->dictionary.size(), false);
    for (const std::uint32_t code : column->codes) {
      if (code < seen.size()) seen[code] = true;
    }
    for (std::size_t code = 0; code < seen.size(); ++code) {
      if (seen[code] && !known.contains(column->dictionary[code])) {
        bins.push_back(column->dictionary[code]);
      }
    }
    if (bins.size() == feature.psi->result.bins()) labels.emplace(feature.name, std::move(bins));
  }
  return labels;
}

}  // namespace

std::vector<exporters::WebhookConfig> to_webhook_configs(const AlertsConfig& alerts) {
  std::vector<exporters::WebhookConfig> out;
  for (std::size_t k = 0; k < alerts.webhooks.size(); ++k) {
    const WebhookSettings& w = alerts.webhooks[k];
    const std::string key = "alerts.webhooks[" + std::to_string(k) + "]";
    exporters::WebhookConfig c;
    c.name = w.name;
    c.url = w.url;
    const auto kind = exporters::parse_webhook_template(w.template_name);
    if (!kind) throw ConfigError(key + ".template: unknown template '" + w.template_name + "'");
    c.template_kind = *kind;
    c.params = w.params;
    c.secret = w.secret;
    for (const auto& [name, value] : w.headers) c.headers.emplace_back(name, value);
    c.timeout = std::chrono::milliseconds(w.timeout.count());
    c.max_attempts = w.max_attempts;
    c.send_resolved = w.send_resolved;
    if (!w.ca_file.empty()) c.ca_file = w.ca_file;
    try {
      exporters::validate_webhook_config(c);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(key + "." + e.what());
    }
    out.push_back(std::move(c));
  }
  return out;
}

Exports::Exports(const Config& config, std::string_view backend)
    : config_(config),
      metrics_([&] {
        exporters::MetricsOptions options;
        options.max_series_per_model = config.metrics.max_series_per_model;
        return options;
      }()),
      replica_(replica_name()) {
  metrics_.set_build_info(DRIFT_VERSION, backend);
  metrics_.set_gpu_memory_bytes(0);
  if (!config.alerts.webhooks.empty()) {
    exporters::WebhookSenderOptions options;
    options.log = [](std::string_view line) { log_line(LogLevel::kWarning, "webhook", line); };
    try {
      sender_ = std::make_unique<exporters::WebhookSender>(to_webhook_configs(config.alerts),
                                                           config.state.dir / "webhooks", options);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(std::string("alerts.webhooks: ") + e.what());
    }
  }
}

Exports::~Exports() { stop(); }

void Exports::start() {
  if (sender_) sender_->start();
}

void Exports::stop() {
  if (sender_) sender_->stop();
}

void Exports::evaluated(const EvaluationReport& report) {
  const exporters::BinLabels bins = category_bins(report.result, report.reference, report.window);
  metrics_.record_evaluation(report.model.name, report.result, report.duration_seconds,
                             report.finished_ms, &bins);
  metrics_.set_alert(report.model.name, exporters::state_name(report.policy.state()),
                     report.policy.firing());
  if (!report.alert) return;
  const exporters::AlertEvent& alert = *report.alert;
  log_line(LogLevel::kInfo, "alert",
           "model '" + report.model.name + "': " + std::string(event_kind_name(alert.kind)) +
               " after " + std::to_string(alert.windows) + " window(s)");
  if (!sender_) return;
  exporters::DriftEventContext context;
  context.model_version = report.model_version;
  context.window.rows = report.window_rows;
  if (report.first_row_ms != 0) context.window.first_time_ms = report.first_row_ms;
  if (report.last_row_ms != 0) context.window.last_time_ms = report.last_row_ms;
  context.daemon_url = config_.alerts.daemon_url;
  context.replica = replica_;
  // Durable before the policy's new state can reach a checkpoint (EvaluationObserver).
  sender_->enqueue(exporters::make_drift_event(alert, report.result, context));
}

exporters::MetricsResponse Exports::scrape(const Pipeline& pipeline,
                                           const std::vector<std::unique_ptr<Source>>& sources,
                                           std::int64_t last_checkpoint_ms,
                                           std::string_view accept_encoding) {
  for (const ModelReport& model : pipeline.reports()) {
    metrics_.set_window(model.name, model.reference_rows, model.current_rows);
    metrics_.set_alert(model.name, exporters::state_name(model.alert_state), model.alert_firing);
    for (const auto& [source, counts] : model.by_source) {
      const auto totals = reason_totals(counts.rejected);
      metrics_.set_records(source, model.name, counts.accepted, totals);
    }
  }
  for (const auto& [source, counts] : pipeline.unmatched_by_source()) {
    const auto totals = reason_totals(counts);
    metrics_.set_unmatched(source, totals);
  }
  for (const auto& source : sources) {
    const SourceStatus status = source->status();
    exporters::SourceMetrics m;
    m.name = status.name;
    m.type = status.type;
    m.up = status.connected;
    m.records_received = status.records_received;
    m.bytes_received = status.bytes_received;
    m.records_dropped = status.records_dropped;
    m.queue_depth = status.queue_depth;
    for (const auto& [stream, lag] : status.partition_lags) {
      const std::size_t slash = stream.rfind('/');
      if (slash == std::string::npos) continue;
      m.lag.push_back({stream.substr(0, slash),
                       static_cast<std::int32_t>(std::stol(stream.substr(slash + 1))), lag});
    }
    metrics_.set_source(m);
  }
  if (sender_) {
    for (const auto& [name, c] : sender_->counters()) {
      metrics_.set_webhook_deliveries(name, "delivered", c.delivered);
      metrics_.set_webhook_deliveries(name, "retried", c.retried);
      metrics_.set_webhook_deliveries(name, "dead_lettered", c.dead_lettered - c.failed_4xx);
      metrics_.set_webhook_deliveries(name, "rejected", c.failed_4xx);
    }
    metrics_.set_outbox_depth(sender_->outbox_depth());
  } else {
    metrics_.set_outbox_depth(0);
  }
  metrics_.set_gpu_fallbacks(gpu::gpu_fallback_count());
  metrics_.set_gpu_memory_bytes(gpu::gpu_memory_in_use());
  if (last_checkpoint_ms != 0) metrics_.set_last_checkpoint(last_checkpoint_ms);
  return metrics_.render(accept_encoding);
}

}  // namespace drift::daemon
