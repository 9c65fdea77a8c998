#include "drift/exporters/webhook_event.h"

#include <cstdio>
#include <ctime>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "drift/exporters/webhook_signing.h"
#include "webhook_template.h"

namespace drift::exporters {

namespace {

using Json = nlohmann::ordered_json;

constexpr int kSchemaVersion = 1;
constexpr std::size_t kShortIdLength = 12;

std::string param(const WebhookConfig& config, std::string_view name,
                  std::string_view fallback = {}) {
  const auto it = config.params.find(std::string(name));
  return it == config.params.end() || it->second.empty() ? std::string(fallback) : it->second;
}

// Compact; names and values from data may hold invalid UTF-8, which becomes U+FFFD.
std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json optional_time(const std::optional<std::int64_t>& ms) {
  return ms ? Json(format_rfc3339_ms(*ms)) : Json(nullptr);
}

Json optional_text(const std::optional<std::string>& s) { return s ? Json(*s) : Json(nullptr); }

Json text_or_null(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

Json test_json(const DriftedTest& t) {
  Json j;
  j["test"] = std::string(test_name(t.test));
  j["statistic"] = t.statistic;
  j["p_value"] = t.p_value ? Json(*t.p_value) : Json(nullptr);
  j["threshold"] = t.threshold ? Json(*t.threshold) : Json(nullptr);
  return j;
}

// Percent-encodes a path segment (RFC 3986 unreserved characters stay).
std::string encode_segment(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

// A value made fit for a Kubernetes object name: lowercase, [a-z0-9-], no leading/trailing '-'.
std::string dns_label(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out.push_back(c);
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

// Replaces {model}, {model_version}, {event_id}, {short_id} and {kind}; unknown braces stay.
std::string expand(std::string_view text, const DriftEvent& event, bool kubernetes_name) {
  const auto value = [&](std::string_view name) -> std::optional<std::string> {
    std::string v;
    if (name == "model") {
      v = event.model;
    } else if (name == "model_version") {
      v = event.model_version;
    } else if (name == "event_id") {
      v = event.id;
    } else if (name == "short_id") {
      v = event.id.substr(0, kShortIdLength);
    } else if (name == "kind") {
      v = std::string(event_kind_name(event.kind));
    } else {
      return std::nullopt;
    }
    return kubernetes_name ? dns_label(v) : v;
  };
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t open = text.find('{', pos);
    const std::size_t close = open == std::string_view::npos ? open : text.find('}', open);
    if (close == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, open - pos));
    const auto v = value(text.substr(open + 1, close - open - 1));
    out.append(v ? *v : std::string(text.substr(open, close - open + 1)));
    pos = close + 1;
  }
  return out;
}

std::string window_bound(const std::optional<std::int64_t>& time,
                         const std::optional<std::string>& position) {
  if (time) return format_rfc3339_ms(*time);
  return position ? *position : std::string();
}

std::string parameter_value(std::string_view field, const DriftEvent& event) {
  if (field == "model") return event.model;
  if (field == "model_version") return event.model_version;
  if (field == "reference_version") return event.reference_version;
  if (field == "event_id") return event.id;
  if (field == "kind") return std::string(event_kind_name(event.kind));
  if (field == "dataset_drift") return event.dataset_drift ? "true" : "false";
  if (field == "drifted_features") {
    std::string names;
    for (const auto& f : event.drifted_features) {
      if (!names.empty()) names.push_back(',');
      names += f.name;
    }
    return names;
  }
  if (field == "episode_start") return format_rfc3339_ms(event.episode_start_ms);
  if (field == "window_start") {
    return window_bound(event.window.first_time_ms, event.window.first_position);
  }
  if (field == "window_end") {
    return window_bound(event.window.last_time_ms, event.window.last_position);
  }
  throw std::invalid_argument("unknown event field \"" + std::string(field) + "\"");
}

Json event_object(const DriftEvent& event) {
  Json j;
  j["schema_version"] = kSchemaVersion;
  j["event_id"] = event.id;
  j["kind"] = std::string(event_kind_name(event.kind));
  j["source"] = "driftd";
  j["model"] = event.model;
  j["model_version"] = text_or_null(event.model_version);
  j["reference_version"] = text_or_null(event.reference_version);
  j["episode_start"] = format_rfc3339_ms(event.episode_start_ms);
  j["since"] = format_rfc3339_ms(event.since_ms);
  j["at"] = format_rfc3339_ms(event.at_ms);
  j["windows"] = event.windows;
  Json window;
  window["rows"] = event.window.rows;
  window["first_time"] = optional_time(event.window.first_time_ms);
  window["last_time"] = optional_time(event.window.last_time_ms);
  window["first_position"] = optional_text(event.window.first_position);
  window["last_position"] = optional_text(event.window.last_position);
  j["window"] = std::move(window);
  j["drift"] = event.drift;
  j["dataset_drift"] = event.dataset_drift;
  j["correction"] = event.correction;
  j["reference_rows"] = event.reference_rows;
  j["current_rows"] = event.current_rows;
  j["features_tested"] = event.features_tested;
  Json features = Json::array();
  for (const auto& f : event.drifted_features) {
    Json feature;
    feature["name"] = f.name;
    Json tests = Json::array();
    for (const auto& t : f.tests) tests.push_back(test_json(t));
    feature["tests"] = std::move(tests);
    features.push_back(std::move(feature));
  }
  j["drifted_features"] = std::move(features);
  if (event.mmd) {
    Json mmd = test_json(*event.mmd);
    mmd["features"] = event.mmd_features;
    j["multivariate"] = std::move(mmd);
  } else {
    j["multivariate"] = nullptr;
  }
  Json links = Json::object();
  for (const auto& [name, url] : event.links) links[name] = url;
  j["links"] = std::move(links);
  j["replica"] = text_or_null(event.replica);
  return j;
}

std::string render_argo(const WebhookConfig& config, const DriftEvent& event) {
  Json body;
  body["resourceKind"] = param(config, "resource_kind", "WorkflowTemplate");
  const std::string resource = expand(param(config, "workflow_template", "retrain-{model}"), event,
                                      /*kubernetes_name=*/true);
  body["resourceName"] = resource;
  Json options;
  options["generateName"] = expand(param(config, "generate_name", resource + "-"), event, true);
  Json parameters = Json::array();
  for (const auto& field : parameter_fields(config)) {
    parameters.push_back(field + "=" + parameter_value(field, event));
  }
  options["parameters"] = std::move(parameters);
  const std::string labels = expand(param(config, "labels"), event, true);
  if (!labels.empty()) options["labels"] = labels;
  body["submitOptions"] = std::move(options);
  return dump(body);
}

std::string render_kubeflow(const WebhookConfig& config, const DriftEvent& event) {
  Json body;
  body["display_name"] =
      expand(param(config, "display_name", "retrain-{model}-{short_id}"), event, false);
  const std::string experiment = param(config, "experiment_id");
  if (!experiment.empty()) body["experiment_id"] = experiment;
  Json reference;
  reference["pipeline_id"] = param(config, "pipeline_id");
  const std::string version = param(config, "pipeline_version_id");
  if (!version.empty()) reference["pipeline_version_id"] = version;
  body["pipeline_version_reference"] = std::move(reference);
  Json parameters = Json::object();
  for (const auto& field : parameter_fields(config)) {
    parameters[field] = parameter_value(field, event);
  }
  body["runtime_config"]["parameters"] = std::move(parameters);
  return dump(body);
}

}  // namespace

std::vector<std::string> parameter_fields(const WebhookConfig& config) {
  const std::string list = param(config, "parameters", kDefaultParameterFields);
  std::vector<std::string> fields;
  std::set<std::string, std::less<>> seen;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string field = list.substr(start, end - start);
    const std::size_t first = field.find_first_not_of(' ');
    field = first == std::string::npos ? std::string()
                                       : field.substr(first, field.find_last_not_of(' ') + 1 - first);
    bool known = false;
    for (const auto f : kParameterFields) known = known || f == field;
    if (!known) throw std::invalid_argument("unknown event field \"" + field + "\"");
    if (!seen.insert(field).second) {
      throw std::invalid_argument("event field \"" + field + "\" named twice");
    }
    fields.push_back(std::move(field));
    start = end + 1;
  }
  return fields;
}

std::string format_rfc3339_ms(std::int64_t ms_since_epoch) {
  std::int64_t seconds = ms_since_epoch / 1000;
  std::int64_t millis = ms_since_epoch % 1000;
  if (millis < 0) {
    millis += 1000;
    --seconds;
  }
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) return "invalid-time";
  char text[48];
  const int n = std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                              tm.tm_sec, static_cast<int>(millis));
  return std::string(text, n > 0 ? static_cast<std::size_t>(n) : 0);
}

std::string make_event_id(std::string_view model, std::string_view reference_version,
                          std::int64_t episode_start_ms, AlertEventKind kind) {
  // Each part is length-prefixed so no two different inputs share an encoding.
  std::string material;
  const auto part = [&](std::string_view s) {
    material += std::to_string(s.size());
    material.push_back(':');
    material.append(s);
    material.push_back(';');
  };
  part("driftd-event/v1");
  part(model);
  part(reference_version);
  part(std::to_string(episode_start_ms));
  part(event_kind_name(kind));
  return sha256_hex(material);
}

DriftEvent make_drift_event(const AlertEvent& alert, const EvaluationResult& result,
                            const DriftEventContext& context) {
  DriftEvent event;
  event.id =
      make_event_id(alert.model, alert.reference_version, alert.episode_start_ms, alert.kind);
  event.kind = alert.kind;
  event.model = alert.model;
  event.model_version = context.model_version;
  event.reference_version = alert.reference_version;
  event.episode_start_ms = alert.episode_start_ms;
  event.since_ms = alert.since_ms;
  event.at_ms = alert.at_ms;
  event.windows = alert.windows;
  event.window = context.window;
  event.drift = alert.verdict.drift;
  event.dataset_drift = alert.verdict.dataset_drift;
  event.correction = std::string(to_string(result.correction));
  event.reference_rows = result.reference_rows;
  event.current_rows = result.current_rows;
  event.features_tested = alert.verdict.counted_features;
  event.drifted_features = alert.verdict.features;
  event.mmd = alert.verdict.mmd;
  if (event.mmd && result.mmd) event.mmd_features = result.mmd->features;
  if (!context.daemon_url.empty()) {
    std::string base = context.daemon_url;
    while (base.ends_with('/')) base.pop_back();
    event.links.emplace_back("models", base + "/v1/models");
    event.links.emplace_back("window", base + "/v1/models/" + encode_segment(alert.model) + "/window");
  }
  event.replica = context.replica;
  return event;
}

std::string event_json(const DriftEvent& event) { return dump(event_object(event)); }

std::string render_body(const WebhookConfig& config, const DriftEvent& event) {
  switch (config.template_kind) {
    case WebhookTemplate::kArgoWorkflows:
      return render_argo(config, event);
    case WebhookTemplate::kKubeflowPipelines:
      return render_kubeflow(config, event);
    case WebhookTemplate::kGeneric:
    case WebhookTemplate::kTekton:
      break;
  }
  return event_json(event);
}

}  // namespace drift::exporters
