// The retraining event: its id, its JSON, the request bodies of every template (checked against
// the examples in exporters/WEBHOOKS.md), and webhook configuration checks.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "drift/exporters/webhook_config.h"
#include "drift/exporters/webhook_event.h"
#include "webhook_url.h"

using namespace drift::exporters;
using Json = nlohmann::json;

namespace {

constexpr std::int64_t kEpisodeStart = 1740830400000;  // 2025-03-01T12:00:00Z

// The example event of WEBHOOKS.md: model fraud, two drifted features, a window by time.
DriftEvent example_event(AlertEventKind kind = AlertEventKind::kFiring) {
  drift::EvaluationResult result;
  result.backend = "cpu";
  result.reference_rows = 10000;
  result.current_rows = 5000;
  result.correction = drift::Correction::kBonferroni;
  result.drift = true;

  AlertEvent alert;
  alert.kind = kind;
  alert.model = "fraud";
  alert.reference_version = "ref-2025-02-28";
  alert.episode_start_ms = kEpisodeStart;
  alert.since_ms = kEpisodeStart + 125000;
  alert.at_ms = kEpisodeStart + 245000;
  alert.windows = 3;
  alert.verdict.drift = true;
  alert.verdict.dataset_drift = true;
  alert.verdict.counted_features = 4;
  if (kind == AlertEventKind::kResolved) {  // a clean streak of two windows closed it
    alert.since_ms = kEpisodeStart + 1805000;
    alert.at_ms = kEpisodeStart + 1925000;
    alert.windows = 2;
    alert.verdict.drift = false;
    alert.verdict.dataset_drift = false;
    DriftEventContext context;
    context.model_version = "v7";
    context.window.rows = 5000;
    return make_drift_event(alert, result, context);
  }
  DriftedFeature amount{"amount",
                        {DriftedTest{AlertTest::kKs, 0.0712, 1.2e-5, 0.0125},
                         DriftedTest{AlertTest::kPsi, 0.31, std::nullopt, 0.2}}};
  DriftedFeature country{"country", {DriftedTest{AlertTest::kChi2, 31.2, 0.0004, 0.0125}}};
  alert.verdict.features = {amount, country};

  DriftEventContext context;
  context.model_version = "v7";
  context.window.rows = 5000;
  context.window.first_time_ms = kEpisodeStart + 5000;
  context.window.last_time_ms = kEpisodeStart + 244000;
  context.daemon_url = "http://driftd.monitoring:9108/";
  context.replica = "driftd-0";
  return make_drift_event(alert, result, context);
}

WebhookConfig example_config(WebhookTemplate t) {
  WebhookConfig config;
  config.template_kind = t;
  switch (t) {
    case WebhookTemplate::kGeneric:
      config.name = "retrain";
      config.url = "https://hooks.example.com/driftd";
      break;
    case WebhookTemplate::kArgoWorkflows:
      config.name = "argo";
      config.url = "https://argo-server.argo:2746/api/v1/workflows/ml/submit";
      config.params = {{"workflow_template", "retrain-{model}"},
                       {"generate_name", "retrain-"},
                       {"labels", "team=risk,trigger=driftd"}};
      break;
    case WebhookTemplate::kKubeflowPipelines:
      config.name = "kubeflow";
      config.url = "https://kfp.example.com/pipeline/apis/v2beta1/runs";
      config.params = {{"pipeline_id", "7c2e31d4-5f0b-4bd1-9c55-0a1b2c3d4e5f"},
                       {"pipeline_version_id", "0e9d8c7b-6a5f-4e3d-8c1b-a9f8e7d6c5b4"},
                       {"experiment_id", "3f1a2b4c-9d8e-4f70-a1b2-c3d4e5f60718"},
                       {"display_name", "retrain {model} {short_id}"}};
      break;
    case WebhookTemplate::kTekton:
      config.name = "tekton";
      config.url = "http://el-retrain.tekton-pipelines.svc:8080";
      break;
  }
  return config;
}

// The JSON block after each "<!-- webhook-example: NAME -->" line of WEBHOOKS.md.
std::map<std::string, Json> documented_examples() {
  const auto path =
      std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "exporters" / "WEBHOOKS.md";
  std::ifstream in(path);
  REQUIRE(in.good());
  std::map<std::string, Json> examples;
  std::string line;
  const std::string marker = "<!-- webhook-example: ";
  while (std::getline(in, line)) {
    if (!line.starts_with(marker)) continue;
    const std::string name = line.substr(marker.size(), line.find(" -->") - marker.size());
    std::getline(in, line);
    REQUIRE(line == "```json");
    std::string text;
    while (std::getline(in, line) && line != "```") text += line + "\n";
    examples[name] = Json::parse(text);
  }
  return examples;
}

}  // namespace

TEST_CASE("Event ids are stable for one episode and differ between episodes", "[webhook][unit]") {
  const std::string id = make_event_id("fraud", "ref-1", kEpisodeStart, AlertEventKind::kFiring);
  CHECK(id.size() == 64);
  CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(id == make_event_id("fraud", "ref-1", kEpisodeStart, AlertEventKind::kFiring));
  CHECK(id != make_event_id("fraud", "ref-1", kEpisodeStart + 3600000, AlertEventKind::kFiring));
  CHECK(id != make_event_id("fraud", "ref-2", kEpisodeStart, AlertEventKind::kFiring));
  CHECK(id != make_event_id("fraud2", "ref-1", kEpisodeStart, AlertEventKind::kFiring));
  CHECK(id != make_event_id("fraud", "ref-1", kEpisodeStart, AlertEventKind::kResolved));
  // Parts are length-prefixed: moving a character between them changes the id.
  CHECK(make_event_id("ab", "c", 0, AlertEventKind::kFiring) !=
        make_event_id("a", "bc", 0, AlertEventKind::kFiring));
}

TEST_CASE("Replicas raise the same event id for the same episode whatever they saw",
          "[webhook][unit]") {
  // Two replicas: different windows, statistics, times within the episode, replica names.
  DriftEvent a = example_event();
  AlertEvent alert;
  alert.model = "fraud";
  alert.reference_version = "ref-2025-02-28";
  alert.episode_start_ms = kEpisodeStart;  // the policy's cooldown-aligned start
  alert.since_ms = kEpisodeStart + 600000;
  alert.at_ms = kEpisodeStart + 900000;
  DriftEventContext context;
  context.replica = "driftd-1";
  const DriftEvent b = make_drift_event(alert, drift::EvaluationResult{}, context);
  CHECK(a.id == b.id);
  CHECK(a.id == make_event_id("fraud", "ref-2025-02-28", kEpisodeStart, AlertEventKind::kFiring));
  CHECK(example_event(AlertEventKind::kResolved).id != a.id);
}

TEST_CASE("The event JSON carries the documented schema", "[webhook][unit]") {
  const Json j = Json::parse(event_json(example_event()));
  CHECK(j["schema_version"] == 1);
  CHECK(j["event_id"] == example_event().id);
  CHECK(j["kind"] == "firing");
  CHECK(j["model"] == "fraud");
  CHECK(j["model_version"] == "v7");
  CHECK(j["reference_version"] == "ref-2025-02-28");
  CHECK(j["episode_start"] == "2025-03-01T12:00:00.000Z");
  CHECK(j["window"]["rows"] == 5000);
  CHECK(j["window"]["first_time"] == "2025-03-01T12:00:05.000Z");
  CHECK(j["window"]["first_position"].is_null());
  CHECK(j["dataset_drift"] == true);
  REQUIRE(j["drifted_features"].size() == 2);
  const Json& ks = j["drifted_features"][0]["tests"][0];
  CHECK(ks["test"] == "ks");
  CHECK(ks["statistic"] == 0.0712);
  CHECK(ks["p_value"] == 1.2e-5);
  CHECK(ks["threshold"] == 0.0125);
  CHECK(j["drifted_features"][0]["tests"][1]["p_value"].is_null());  // PSI
  CHECK(j["links"]["models"] == "http://driftd.monitoring:9108/v1/models");
  CHECK(j["links"]["window"] == "http://driftd.monitoring:9108/v1/models/fraud/window");
  CHECK(j["multivariate"].is_null());
}

TEST_CASE("Every template renders the body documented in WEBHOOKS.md", "[webhook][unit]") {
  const auto examples = documented_examples();
  const DriftEvent event = example_event();
  for (const auto t : {WebhookTemplate::kGeneric, WebhookTemplate::kArgoWorkflows,
                       WebhookTemplate::kKubeflowPipelines}) {
    INFO(template_name(t));
    const WebhookConfig config = example_config(t);
    REQUIRE_NOTHROW(validate_webhook_config(config));
    REQUIRE(examples.contains(std::string(template_name(t))));
    CHECK(Json::parse(render_body(config, event)) ==
          examples.at(std::string(template_name(t))));
  }
  // Tekton posts the generic event (a TriggerBinding reads $(body.model)).
  CHECK(render_body(example_config(WebhookTemplate::kTekton), event) == event_json(event));
  // The RESOLVED example is abridged: each key it shows has the rendered value.
  REQUIRE(examples.contains("resolved"));
  const Json resolved = Json::parse(event_json(example_event(AlertEventKind::kResolved)));
  for (const auto& [key, value] : examples.at("resolved").items()) {
    INFO(key);
    CHECK(resolved.at(key) == value);
  }
}

TEST_CASE("The Argo body is a WorkflowSubmitRequest of ECOSYSTEM.md §5", "[webhook][unit]") {
  const Json body = Json::parse(
      render_body(example_config(WebhookTemplate::kArgoWorkflows), example_event()));
  CHECK(body["resourceKind"] == "WorkflowTemplate");
  CHECK(body["resourceName"] == "retrain-fraud");
  CHECK(body["submitOptions"]["generateName"] == "retrain-");
  CHECK(body["submitOptions"]["labels"] == "team=risk,trigger=driftd");
  const Json& parameters = body["submitOptions"]["parameters"];
  REQUIRE(parameters.is_array());
  CHECK(parameters[0] == "model=fraud");
  CHECK(std::find(parameters.begin(), parameters.end(),
                  Json("drifted_features=amount,country")) != parameters.end());
  CHECK(body.size() == 3);

  // Defaults, a restricted parameter list, and names made fit for Kubernetes.
  WebhookConfig config;
  config.name = "argo";
  config.url = "http://argo:2746";
  config.template_kind = WebhookTemplate::kArgoWorkflows;
  config.params = {{"namespace", "ml"}, {"parameters", "model, event_id"}};
  REQUIRE_NOTHROW(validate_webhook_config(config));
  CHECK(webhook_request_url(config) == "http://argo:2746/api/v1/workflows/ml/submit");
  DriftEvent event = example_event();
  event.model = "Fraud_Model";
  const Json defaults = Json::parse(render_body(config, event));
  CHECK(defaults["resourceName"] == "retrain-fraud-model");
  CHECK(defaults["submitOptions"]["generateName"] == "retrain-fraud-model-");
  CHECK(defaults["submitOptions"]["parameters"] ==
        Json::array({"model=Fraud_Model", "event_id=" + event.id}));
  CHECK_FALSE(defaults["submitOptions"].contains("labels"));
}

TEST_CASE("The Kubeflow body is a v2beta1 run with runtime parameters", "[webhook][unit]") {
  const DriftEvent event = example_event();
  const Json body = Json::parse(
      render_body(example_config(WebhookTemplate::kKubeflowPipelines), event));
  CHECK(body["display_name"] == "retrain fraud " + event.id.substr(0, 12));
  CHECK(body["experiment_id"] == "3f1a2b4c-9d8e-4f70-a1b2-c3d4e5f60718");
  CHECK(body["pipeline_version_reference"]["pipeline_id"] ==
        "7c2e31d4-5f0b-4bd1-9c55-0a1b2c3d4e5f");
  const Json& parameters = body["runtime_config"]["parameters"];
  CHECK(parameters["model"] == "fraud");
  CHECK(parameters["event_id"] == event.id);
  CHECK(parameters["window_start"] == "2025-03-01T12:00:05.000Z");

  WebhookConfig minimal;
  minimal.name = "kfp";
  minimal.url = "http://ml-pipeline.kubeflow:8888/apis/v2beta1/runs";
  minimal.template_kind = WebhookTemplate::kKubeflowPipelines;
  minimal.params = {{"pipeline_id", "p"}};
  const Json m = Json::parse(render_body(minimal, event));
  CHECK_FALSE(m.contains("experiment_id"));
  CHECK(m["pipeline_version_reference"] == Json{{"pipeline_id", "p"}});
}

TEST_CASE("Webhook configurations are checked with the field named", "[webhook][unit]") {
  const auto message = [](const WebhookConfig& config) -> std::string {
    try {
      validate_webhook_config(config);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "valid";
  };
  WebhookConfig ok;
  ok.name = "hook";
  ok.url = "http://127.0.0.1:8080/x";
  CHECK(message(ok) == "valid");

  WebhookConfig c = ok;
  c.url = "ftp://x";
  CHECK_THAT(message(c), Catch::StartsWith("url: must start with http:// or https://"));
  c.url = "http://user:pw@host/";
  CHECK_THAT(message(c), Catch::StartsWith("url: user info"));
  c.url = "http://host:99999/";
  CHECK_THAT(message(c), Catch::StartsWith("url: port"));
  c = ok;
  c.ca_file = "/etc/ssl/ca.pem";
  CHECK_THAT(message(c), Catch::StartsWith("ca_file:"));
  c = ok;
  c.max_attempts = 0;
  CHECK_THAT(message(c), Catch::StartsWith("max_attempts:"));
  c = ok;
  c.timeout = std::chrono::milliseconds(0);
  CHECK_THAT(message(c), Catch::StartsWith("timeout:"));
  c = ok;
  c.secret = "whsec_***";
  CHECK_THAT(message(c), Catch::StartsWith("secret:"));
  c = ok;
  c.headers = {{"X-Hub-Signature-256", "forged"}};
  CHECK_THAT(message(c), Catch::StartsWith("headers.X-Hub-Signature-256:"));
  c = ok;
  c.headers = {{"Authorization", "Bearer a\r\nX: y"}};
  CHECK_THAT(message(c), Catch::StartsWith("headers.Authorization:"));
  c = ok;
  c.params = {{"namespace", "ml"}};
  CHECK_THAT(message(c), Catch::StartsWith("params.namespace: unknown for template generic"));

  c = ok;
  c.template_kind = WebhookTemplate::kArgoWorkflows;
  c.url = "http://argo:2746";
  CHECK_THAT(message(c), Catch::StartsWith("params.namespace: is required"));
  c.url = "http://argo:2746/api/v1/workflows/ml/submit";
  CHECK(message(c) == "valid");
  CHECK(argo_namespace(c) == "ml");
  CHECK(webhook_request_url(c) == c.url);
  c.params = {{"namespace", "other"}};
  CHECK_THAT(message(c), Catch::StartsWith("params.namespace: \"other\" differs"));
  c.params = {{"parameters", "model,nope"}};
  CHECK_THAT(message(c), Catch::StartsWith("params.parameters: unknown event field \"nope\""));
  c.params = {{"resource_kind", "Workflow"}};
  CHECK_THAT(message(c), Catch::StartsWith("params.resource_kind:"));
  c.url = "http://argo:2746/somewhere";
  c.params = {};
  CHECK_THAT(message(c), Catch::StartsWith("url: an argo-workflows URL"));

  c = ok;
  c.template_kind = WebhookTemplate::kKubeflowPipelines;
  CHECK_THAT(message(c), Catch::StartsWith("params.pipeline_id: is required"));

  CHECK(parse_webhook_template("kubeflow-pipelines") == WebhookTemplate::kKubeflowPipelines);
  CHECK_FALSE(parse_webhook_template("argo").has_value());
}

TEST_CASE("Webhook URLs are split into host, port and target", "[webhook][unit]") {
  const WebhookUrl a = parse_webhook_url("https://hooks.example.com/a/b?x=1#frag");
  CHECK(a.tls);
  CHECK(a.host == "hooks.example.com");
  CHECK(a.port == 443);
  CHECK(a.target == "/a/b?x=1");
  CHECK_FALSE(a.host_is_ip);
  CHECK(a.host_header == "hooks.example.com");
  const WebhookUrl b = parse_webhook_url("http://[::1]:8080");
  CHECK(b.host == "::1");
  CHECK(b.port == 8080);
  CHECK(b.target == "/");
  CHECK(b.host_is_ip);
  CHECK(b.host_header == "[::1]:8080");
  CHECK(parse_webhook_url("http://10.0.0.1?q").target == "/?q");
  CHECK(parse_webhook_url("http://10.0.0.1").host_is_ip);
  CHECK_THROWS_AS(parse_webhook_url("http://"), std::invalid_argument);
  CHECK_THROWS_AS(parse_webhook_url("http://host:/"), std::invalid_argument);
  CHECK_THROWS_AS(parse_webhook_url("http://ho st/"), std::invalid_argument);
}

TEST_CASE("Times are written as RFC 3339 UTC with milliseconds", "[webhook][unit]") {
  CHECK(format_rfc3339_ms(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_rfc3339_ms(kEpisodeStart + 5) == "2025-03-01T12:00:00.005Z");
  CHECK(format_rfc3339_ms(-1) == "1969-12-31T23:59:59.999Z");
}
