#pragma once
/// What one retraining webhook is: where it posts, which request body it renders (template),
/// how it signs and how long it retries. Built by the daemon's config layer; the exporters
/// only validate and use it. The body schema and templates are documented in
/// exporters/WEBHOOKS.md.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace drift::exporters {

/// The request body a webhook renders for an event.
enum class WebhookTemplate : std::uint8_t {
  kGeneric,            ///< the event JSON itself (WEBHOOKS.md)
  kArgoWorkflows,      ///< Argo Workflows WorkflowSubmitRequest (submit a WorkflowTemplate)
  kKubeflowPipelines,  ///< Kubeflow Pipelines v2beta1 run
  kTekton,             ///< the event JSON, for an EventListener whose TriggerBinding reads $(body.x)
};

/// "generic", "argo-workflows", "kubeflow-pipelines", "tekton".
std::string_view template_name(WebhookTemplate t);
/// The inverse of template_name; nullopt for any other string.
std::optional<WebhookTemplate> parse_webhook_template(std::string_view name);

/// One receiver. Plain data; validate_webhook_config() checks it.
struct WebhookConfig {
  std::string name;  ///< unique among webhooks; labels counters and outbox items
  std::string url;   ///< http:// or https://; Argo: the submit URL or the server's base URL
  WebhookTemplate template_kind = WebhookTemplate::kGeneric;
  /// Template parameters (WEBHOOKS.md): argo-workflows: namespace, workflow_template,
  /// resource_kind, generate_name, labels, parameters; kubeflow-pipelines: pipeline_id,
  /// pipeline_version_id, experiment_id, display_name, parameters; generic/tekton: none.
  std::map<std::string, std::string> params;
  /// The signing secret's bytes (read_secret_file); empty = unsigned requests.
  std::string secret;
  /// Extra request headers (e.g. Authorization: Bearer ...); they cannot replace the
  /// Content-Type, Content-Length, Host or signature headers.
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds timeout{15000};  ///< per attempt: connect, TLS, write, read
  std::uint32_t max_attempts = 8;            ///< then the delivery is dead-lettered, >= 1
  bool send_resolved = false;                ///< also post RESOLVED events
  std::optional<std::filesystem::path> ca_file;  ///< PEM trust anchors for https (else system)
};

/// Reads a secret file: its content without one trailing newline ("\n" or "\r\n"). Throws
/// std::runtime_error naming the path when the file cannot be read or the secret is empty.
std::string read_secret_file(const std::filesystem::path& path);

/// Checks a webhook: name, URL (scheme, host, port), template parameters, secret (a `whsec_`
/// secret must carry valid base64), timeout > 0, max_attempts >= 1, ca_file only for https.
/// Throws std::invalid_argument whose message starts with the field's name ("url: ...").
void validate_webhook_config(const WebhookConfig& config);

/// The URL the request goes to: `url` itself, except for argo-workflows when `url` is a base
/// URL (no path): then <url>/api/v1/workflows/<namespace>/submit. Assumes a valid config.
std::string webhook_request_url(const WebhookConfig& config);

/// The Argo namespace: the {ns} of a .../api/v1/workflows/{ns}/submit URL, else the `namespace`
/// parameter; empty when neither gives one.
std::string argo_namespace(const WebhookConfig& config);

}  // namespace drift::exporters
