#include "drift/exporters/webhook_config.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "drift/exporters/webhook_signing.h"
#include "webhook_template.h"
#include "webhook_url.h"

namespace drift::exporters {

namespace {

constexpr std::string_view kArgoPathPrefix = "/api/v1/workflows/";
constexpr std::string_view kArgoPathSuffix = "/submit";

// Parameters each template understands; others are refused so a typo does not go unnoticed.
const std::set<std::string, std::less<>>& known_params(WebhookTemplate t) {
  static const std::set<std::string, std::less<>> kNone;
  static const std::set<std::string, std::less<>> kArgo = {
      "namespace", "workflow_template", "resource_kind", "generate_name", "labels", "parameters"};
  static const std::set<std::string, std::less<>> kKubeflow = {
      "pipeline_id", "pipeline_version_id", "experiment_id", "display_name", "parameters"};
  switch (t) {
    case WebhookTemplate::kArgoWorkflows:
      return kArgo;
    case WebhookTemplate::kKubeflowPipelines:
      return kKubeflow;
    case WebhookTemplate::kGeneric:
    case WebhookTemplate::kTekton:
      break;
  }
  return kNone;
}

std::string param(const WebhookConfig& config, std::string_view name) {
  const auto it = config.params.find(std::string(name));
  return it == config.params.end() ? std::string() : it->second;
}

bool valid_header_name(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 32 || u >= 127 || std::strchr("()<>@,;:\\\"/[]?={}", c) != nullptr) return false;
  }
  return true;
}

bool valid_header_value(std::string_view value) {
  for (const char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The {ns} of ".../api/v1/workflows/{ns}/submit", or empty.
std::string namespace_from_path(std::string_view target) {
  const std::size_t query = target.find('?');
  if (query != std::string_view::npos) target = target.substr(0, query);
  if (!target.ends_with(kArgoPathSuffix)) return {};
  target.remove_suffix(kArgoPathSuffix.size());
  const std::size_t at = target.rfind(kArgoPathPrefix);
  if (at == std::string_view::npos) return {};
  const std::string_view ns = target.substr(at + kArgoPathPrefix.size());
  if (ns.empty() || ns.find('/') != std::string_view::npos) return {};
  return std::string(ns);
}

[[noreturn]] void invalid(std::string_view field, std::string_view reason) {
  throw std::invalid_argument(std::string(field) + ": " + std::string(reason));
}

}  // namespace

std::string_view template_name(WebhookTemplate t) {
  switch (t) {
    case WebhookTemplate::kGeneric:
      return "generic";
    case WebhookTemplate::kArgoWorkflows:
      return "argo-workflows";
    case WebhookTemplate::kKubeflowPipelines:
      return "kubeflow-pipelines";
    case WebhookTemplate::kTekton:
      return "tekton";
  }
  return "unknown";
}

std::optional<WebhookTemplate> parse_webhook_template(std::string_view name) {
  for (const WebhookTemplate t : {WebhookTemplate::kGeneric, WebhookTemplate::kArgoWorkflows,
                                  WebhookTemplate::kKubeflowPipelines, WebhookTemplate::kTekton}) {
    if (name == template_name(t)) return t;
  }
  return std::nullopt;
}

std::string read_secret_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read secret file " + path.string() + ": " +
                             std::strerror(errno));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read secret file " + path.string());
  std::string secret = buffer.str();
  if (secret.ends_with('\n')) {
    secret.pop_back();
    if (secret.ends_with('\r')) secret.pop_back();
  }
  if (secret.empty()) throw std::runtime_error("secret file " + path.string() + " is empty");
  return secret;
}

WebhookUrl parse_webhook_url(std::string_view url) {
  WebhookUrl out;
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    out.tls = true;
    rest = url.substr(8);
  } else {
    throw std::invalid_argument("must start with http:// or https:// (got \"" + std::string(url) +
                                "\")");
  }
  for (const char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 32 || u >= 127) throw std::invalid_argument("contains a space or control character");
  }
  const std::size_t fragment = rest.find('#');
  if (fragment != std::string_view::npos) rest = rest.substr(0, fragment);
  const std::size_t path_at = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, path_at);
  if (path_at != std::string_view::npos) {
    out.target = std::string(rest.substr(path_at));
    if (out.target.front() == '?') out.target.insert(0, 1, '/');
  }
  out.has_path = out.target != "/";
  if (authority.find('@') != std::string_view::npos) {
    throw std::invalid_argument("user info in the URL is not supported (use headers)");
  }
  std::string_view host = authority;
  std::string_view port_text;
  if (host.starts_with('[')) {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("unterminated [IPv6] host");
    const std::string_view after = host.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw std::invalid_argument("bad characters after ]");
      port_text = after.substr(1);
    }
    host = host.substr(1, close - 1);
    out.host_is_ip = true;
  } else {
    const std::size_t colon = host.rfind(':');
    if (colon != std::string_view::npos) {
      port_text = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
  }
  if (host.empty()) throw std::invalid_argument("has no host");
  out.host = std::string(host);
  if (!out.host_is_ip) {
    in_addr v4{};
    out.host_is_ip = ::inet_pton(AF_INET, out.host.c_str(), &v4) == 1;
  } else {
    in6_addr v6{};
    if (::inet_pton(AF_INET6, out.host.c_str(), &v6) != 1) {
      throw std::invalid_argument("bad IPv6 address [" + out.host + "]");
    }
  }
  out.port = out.tls ? 443 : 80;
  if (!port_text.empty() || authority.ends_with(':')) {
    if (port_text.empty() || port_text.size() > 5) throw std::invalid_argument("bad port");
    unsigned value = 0;
    for (const char c : port_text) {
      if (c < '0' || c > '9') throw std::invalid_argument("bad port");
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) throw std::invalid_argument("port out of range");
    out.port = static_cast<std::uint16_t>(value);
  }
  out.host_header = std::string(authority);
  return out;
}

void validate_webhook_config(const WebhookConfig& config) {
  if (config.name.empty()) invalid("name", "must not be empty");
  for (const char c : config.name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 32 || u == 127) invalid("name", "must not contain control characters");
  }
  WebhookUrl url;
  try {
    url = parse_webhook_url(config.url);
  } catch (const std::invalid_argument& e) {
    invalid("url", e.what());
  }
  const auto& known = known_params(config.template_kind);
  for (const auto& [key, value] : config.params) {
    if (!known.contains(key)) {
      std::string allowed;
      for (const auto& k : known) allowed += (allowed.empty() ? "" : ", ") + k;
      invalid("params." + key, "unknown for template " +
                                   std::string(template_name(config.template_kind)) +
                                   (allowed.empty() ? " (it takes none)" : " (known: " + allowed + ")"));
    }
  }
  if (config.template_kind == WebhookTemplate::kArgoWorkflows) {
    const std::string from_url = namespace_from_path(url.target);
    const std::string from_param = param(config, "namespace");
    if (url.has_path && from_url.empty()) {
      invalid("url", "an argo-workflows URL is the server's base URL or ends with "
                     "/api/v1/workflows/<namespace>/submit");
    }
    if (!url.has_path && from_param.empty()) {
      invalid("params.namespace", "is required when the argo-workflows URL has no submit path");
    }
    if (!from_url.empty() && !from_param.empty() && from_url != from_param) {
      invalid("params.namespace", "\"" + from_param + "\" differs from the URL's \"" + from_url +
                                      "\"");
    }
    if (from_param.find('/') != std::string::npos) invalid("params.namespace", "contains '/'");
    const std::string kind = param(config, "resource_kind");
    if (!kind.empty() && kind != "WorkflowTemplate" && kind != "ClusterWorkflowTemplate" &&
        kind != "CronWorkflow") {
      invalid("params.resource_kind",
              "must be WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow");
    }
  }
  if (config.template_kind == WebhookTemplate::kKubeflowPipelines &&
      param(config, "pipeline_id").empty()) {
    invalid("params.pipeline_id", "is required for kubeflow-pipelines");
  }
  if (config.template_kind == WebhookTemplate::kArgoWorkflows ||
      config.template_kind == WebhookTemplate::kKubeflowPipelines) {
    try {
      parameter_fields(config);
    } catch (const std::invalid_argument& e) {
      invalid("params.parameters", e.what());
    }
  }
  if (!config.secret.empty()) {
    try {
      standard_webhooks_key(config.secret);
    } catch (const std::invalid_argument& e) {
      invalid("secret", e.what());
    }
  }
  static const std::set<std::string, std::less<>> kReserved = {
      "host",           "content-length",      "content-type",      "transfer-encoding",
      "connection",     "x-hub-signature-256", "webhook-id",        "webhook-timestamp",
      "webhook-signature"};
  for (const auto& [name, value] : config.headers) {
    if (!valid_header_name(name)) invalid("headers", "bad header name \"" + name + "\"");
    if (!valid_header_value(value)) invalid("headers." + name, "contains a line break");
    if (kReserved.contains(lower(name))) {
      invalid("headers." + name, "is set by driftd and cannot be configured");
    }
  }
  if (config.timeout.count() <= 0) invalid("timeout", "must be positive");
  if (config.max_attempts < 1) invalid("max_attempts", "must be at least 1");
  if (config.ca_file && !url.tls) invalid("ca_file", "applies to https URLs only");
}

std::string argo_namespace(const WebhookConfig& config) {
  try {
    const std::string from_url = namespace_from_path(parse_webhook_url(config.url).target);
    if (!from_url.empty()) return from_url;
  } catch (const std::invalid_argument&) {
    // Unparseable URL: fall back to the parameter; validation reports the URL.
  }
  return param(config, "namespace");
}

std::string webhook_request_url(const WebhookConfig& config) {
  if (config.template_kind != WebhookTemplate::kArgoWorkflows) return config.url;
  const WebhookUrl url = parse_webhook_url(config.url);
  if (url.has_path) return config.url;
  std::string base = config.url;
  const std::size_t cut = base.find_first_of("?#", base.find("//") + 2);
  if (cut != std::string::npos) base.resize(cut);
  while (base.ends_with('/')) base.pop_back();
  return base + std::string(kArgoPathPrefix) + param(config, "namespace") +
         std::string(kArgoPathSuffix);
}

}  // namespace drift::exporters
