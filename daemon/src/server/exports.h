#pragma once
/// What the daemon tells the outside world about drift: the Prometheus catalogue behind
/// GET /metrics and the retraining webhooks. Observes every evaluation (metrics, alert events
/// into the persistent outbox) and refreshes the ingest-side series at each scrape from the
/// pipeline's and the sources' running totals.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "drift/exporters/metrics.h"
#include "drift/exporters/webhook_config.h"
#include "drift/exporters/webhook_sender.h"
#include "server/pipeline.h"
#include "sources/source.h"

namespace drift::daemon {

/// The exporters' form of the configured webhooks. Throws ConfigError naming
/// `alerts.webhooks[<i>].<field>` when one is invalid.
std::vector<exporters::WebhookConfig> to_webhook_configs(const AlertsConfig& alerts);

class Exports final : public EvaluationObserver {
 public:
  /// Opens the webhook outbox in state.dir/webhooks (when webhooks are configured); sends
  /// nothing before start(). `backend` is the detector backend's name ("cpu" | "gpu").
  Exports(const Config& config, std::string_view backend);
  ~Exports() override;

  void start();
  void stop();

  void evaluated(const EvaluationReport& report) override;

  /// GET /metrics: refreshes the ingest, alert and process series, then renders (gzip when
  /// `accept_encoding` allows). Never holds a lock of the data path once it returns.
  exporters::MetricsResponse scrape(const Pipeline& pipeline,
                                    const std::vector<std::unique_ptr<Source>>& sources,
                                    std::int64_t last_checkpoint_ms, std::string_view accept_encoding);

  exporters::MetricsRegistry& metrics() { return metrics_; }
  /// Null when no webhook is configured.
  exporters::WebhookSender* webhooks() { return sender_.get(); }

 private:
  const Config& config_;
  exporters::MetricsRegistry metrics_;
  std::unique_ptr<exporters::WebhookSender> sender_;
  std::string replica_;
};

}  // namespace drift::daemon
