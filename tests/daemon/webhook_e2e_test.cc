// Retraining webhooks and /metrics end to end: the real driftd binary, real HTTP receivers that
// check both signatures (tests/exporters/test_receiver.h, plus an independent OpenSSL check
// here), kill -9 during a receiver outage, and scrapers that never read their replies.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http_client.h"
#include "process.h"
#include "test_receiver.h"

using drift::test::ChildProcess;
using drift::test::HttpClient;
using drift::test::ReceivedRequest;
using drift::test::ReceiverReply;
using drift::test::TempDir;
using drift::test::TestReceiver;
using drift::test::wait_until;

namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

// Generous: a loaded 2-core CI machine runs driftd, the receivers and this test at once.
constexpr int kWaitMs = 30000;

// ---------------------------------------------------------------------------------------------
// driftd as a child process.

class Driftd {
 public:
  Driftd(const std::string& config, const std::string& log_dir)
      : out_(log_dir + "/stdout.log"), err_(log_dir + "/stderr.log") {
    std::ofstream(out_, std::ios::trunc).flush();  // a restart must not read the old port
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{DRIFTD_BINARY, "run", "--config", config}, out_, err_);
    const std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
    const bool up = wait_until(
        [&] {
          std::smatch m;
          const std::string text = drift::test::read_file(out_);
          if (!std::regex_search(text, m, listening)) return false;
          port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
          return true;
        },
        kWaitMs);
    INFO(stderr_text());
    REQUIRE(up);
  }

  nlohmann::json get_json(const std::string& target) const {
    HttpClient client(port_);
    const auto reply = client.request("GET", target);
    REQUIRE(reply.status == 200);
    return nlohmann::json::parse(reply.body);
  }
  nlohmann::json model() const { return get_json("/v1/models")["models"][0]; }
  std::uint64_t evaluations() const { return model()["evaluations"].get<std::uint64_t>(); }
  std::string alert_state() const { return model()["alert"]["state"].get<std::string>(); }

  drift::test::HttpReply ingest(std::string body) const {
    HttpClient client(port_);
    return client.request("POST", "/v1/ingest/ingest", std::move(body),
                          {{"content-type", "application/x-ndjson"}});
  }
  std::string metrics() const {
    HttpClient client(port_);
    const auto reply = client.request("GET", "/metrics");
    REQUIRE(reply.status == 200);
    return reply.body;
  }

  ChildProcess& process() { return *process_; }
  std::uint16_t port() const { return port_; }
  std::string stderr_text() const { return drift::test::read_file(err_); }

  void kill9() {
    process_->signal(SIGKILL);
    REQUIRE(process_->wait(10000) == 128 + SIGKILL);
  }
  void terminate() {
    process_->signal(SIGTERM);
    CHECK(process_->wait(20000) == 0);
  }

 private:
  std::string out_;
  std::string err_;
  std::unique_ptr<ChildProcess> process_;
  std::uint16_t port_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Data. Values on an even grid make every window's verdict certain (no sampling luck): a clean
// window is the reference's distribution exactly, a drifting one is shifted by 0.6.

constexpr std::int64_t kT0 = 1764230000000;  // record time of row 0; rows are 10 ms apart
std::int64_t row_ms(int row) { return kT0 + 10LL * row; }

const char* const kColours[] = {"red", "green", "blue"};

std::string reference_csv(int rows = 2000) {
  std::string csv = "x,c\n";
  for (int k = 0; k < rows; ++k) {
    csv += std::to_string((k + 0.5) / rows) + "," + kColours[k % 3] + "\n";
  }
  return csv;
}

// NDJSON rows first..first+count-1 of model "m" (x, c); `drift` shifts x by 0.6.
std::string rows(int first, int count, bool drift) {
  std::string body;
  for (int j = 0; j < count; ++j) {
    const double x = (j + 0.5) / count + (drift ? 0.6 : 0.0);
    body += R"({"model":"m","ts":)" + std::to_string(row_ms(first + j)) + R"(,"x":)" +
            std::to_string(x) + R"(,"c":")" + kColours[j % 3] + "\"}\n";
  }
  return body;
}

constexpr int kWindow = 300;

std::string config_yaml(const TempDir& dir, const std::string& checkpoint_interval,
                        const std::string& alerts_yaml) {
  return "server: {listen: \"127.0.0.1:0\", shutdown_timeout: 20s}\n"
         "state: {dir: \"" +
         dir.path() + "/state\", checkpoint_interval: " + checkpoint_interval +
         "}\n"
         "sources:\n"
         "  - {name: ingest, type: http, format: flat}\n"
         "models:\n"
         "  - name: m\n"
         "    match: {pointer: /model, equals: m}\n"
         "    timestamp: /ts\n"
         "    features:\n"
         "      - {name: x, pointer: /x, type: numeric}\n"
         "      - {name: c, pointer: /c, type: categorical}\n"
         "    reference: {file: \"" +
         dir.path() +
         "/reference.csv\"}\n"
         "    window: {size: " +
         std::to_string(kWindow) + ", slide: " + std::to_string(kWindow) +
         "}\n"
         "    tests: {ks: {}, psi: {}, chi2: {}}\n" +
         alerts_yaml;
}

// One `alerts.webhooks` entry.
std::string webhook_yaml(const std::string& name, const std::string& url,
                         const std::string& extra) {
  return "    - {name: " + name + ", url: \"" + url + "\", " + extra + "}\n";
}

// ---------------------------------------------------------------------------------------------
// What a receiver checks, done here without the exporters' code (OpenSSL directly), following
// WEBHOOKS.md: so a bug shared by the signer and the verifier in exporters/ still shows.

std::string hmac_sha256(const std::string& key, const std::string& message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

std::string sha256_hex(const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), out, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int k = 0; k < length; ++k) {
    hex.push_back(kHex[out[k] >> 4]);
    hex.push_back(kHex[out[k] & 15]);
  }
  return hex;
}

std::string hex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(kHex[u >> 4]);
    out.push_back(kHex[u & 15]);
  }
  return out;
}

std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string unbase64(const std::string& text) {
  std::string out(3 * text.size() / 4 + 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  REQUIRE(n >= 0);
  std::size_t length = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts the bytes that padding stands for.
  for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) --length;
  out.resize(length);
  return out;
}

// Both signatures of one request, as the Python snippet in WEBHOOKS.md computes them.
void check_signed(const ReceivedRequest& r, const std::string& secret) {
  INFO("webhook-id " << r.header("webhook-id"));
  CHECK(r.github_valid);
  CHECK(r.standard_valid);
  CHECK(r.header("x-hub-signature-256") == "sha256=" + hex(hmac_sha256(secret, r.body)));
  const std::string key = secret.rfind("whsec_", 0) == 0 ? unbase64(secret.substr(6)) : secret;
  const std::string signed_text =
      r.header("webhook-id") + "." + r.header("webhook-timestamp") + "." + r.body;
  CHECK(r.header("webhook-signature") == "v1," + base64(hmac_sha256(key, signed_text)));
  // Receivers reject timestamps more than 5 minutes away.
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::string ts = r.header("webhook-timestamp");
  REQUIRE(std::regex_match(ts, std::regex("[0-9]+")));
  CHECK(std::llabs(std::stoll(ts) - now) < 300);
  CHECK(r.method == "POST");
  CHECK(r.header("content-type") == "application/json");
  CHECK(r.header("user-agent") == "driftd");
  CHECK(r.header("connection") == "close");  // a fresh connection per request
}

// WEBHOOKS.md "The event id".
std::string expected_event_id(const std::string& model, const std::string& reference_version,
                              std::int64_t episode_start_ms, const std::string& kind) {
  std::string material;
  for (const std::string& part : {std::string("driftd-event/v1"), model, reference_version,
                                  std::to_string(episode_start_ms), kind}) {
    material += std::to_string(part.size()) + ":" + part + ";";
  }
  return sha256_hex(material);
}

// WEBHOOKS.md "The outbox": the file name of one pending delivery.
std::string expected_outbox_key(const std::string& webhook, const std::string& event_id) {
  return sha256_hex(webhook + std::string(1, '\0') + event_id).substr(0, 32);
}

std::string rfc3339_ms(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[40];
  std::snprintf(out, sizeof out, "%s.%03dZ", text, static_cast<int>(ms % 1000));
  return out;
}

// The generic event's keys, in the schema's order (WEBHOOKS.md).
const std::vector<std::string> kEventKeys = {"schema_version",
                                             "event_id",
                                             "kind",
                                             "source",
                                             "model",
                                             "model_version",
                                             "reference_version",
                                             "episode_start",
                                             "since",
                                             "at",
                                             "windows",
                                             "window",
                                             "drift",
                                             "dataset_drift",
                                             "correction",
                                             "reference_rows",
                                             "current_rows",
                                             "features_tested",
                                             "drifted_features",
                                             "multivariate",
                                             "links",
                                             "replica"};

std::vector<std::string> keys_of(const nlohmann::ordered_json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Prometheus text: the value of the one sample of `name` whose labels include `labels`.

std::optional<double> sample(const std::string& text, const std::string& name,
                             const std::map<std::string, std::string>& labels = {}) {
  std::istringstream in(text);
  std::string line;
  static const std::regex kLabel(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)")re");
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t name_end = line.find_first_of("{ ");
    if (name_end == std::string::npos || line.substr(0, name_end) != name) continue;
    std::map<std::string, std::string> have;
    if (line[name_end] == '{') {
      const std::string label_text = line.substr(name_end, line.find('}') - name_end);
      for (std::sregex_iterator it(label_text.begin(), label_text.end(), kLabel), end; it != end;
           ++it) {
        have[(*it)[1].str()] = (*it)[2].str();
      }
    }
    bool match = true;
    for (const auto& [key, value] : labels) {
      const auto it = have.find(key);
      match = match && it != have.end() && it->second == value;
    }
    if (match) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return std::nullopt;
}

double deliveries(const std::string& metrics, const std::string& webhook,
                  const std::string& outcome) {
  return sample(metrics, "drift_webhook_deliveries_total",
                {{"webhook", webhook}, {"outcome", outcome}})
      .value_or(-1);
}

double outbox_depth(const std::string& metrics) {
  return sample(metrics, "drift_webhook_outbox_depth").value_or(-1);
}

// ---------------------------------------------------------------------------------------------
// Outbox files.

std::vector<fs::path> delivery_files(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".delivery") out.push_back(it->path());
  }
  return out;
}

// The event id inside a delivery file (it is in the body too: the first 64-hex run).
std::string event_id_in(const fs::path& file) {
  const std::string bytes = drift::test::read_file(file.string());
  std::smatch m;
  static const std::regex kId("[0-9a-f]{64}");
  return std::regex_search(bytes, m, kId) ? m.str() : std::string();
}

std::map<std::string, int> arrivals_by_id(const std::vector<ReceivedRequest>& requests,
                                          bool delivered_only) {
  std::map<std::string, int> count;
  for (const auto& r : requests) {
    if (!delivered_only || (r.answered >= 200 && r.answered < 300)) {
      ++count[r.header("webhook-id")];
    }
  }
  return count;
}

std::string describe(const std::string& webhook, const std::vector<ReceivedRequest>& requests) {
  std::string text = webhook + ": " + std::to_string(requests.size()) + " raw arrival(s)";
  for (const auto& r : requests) {
    nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
    const std::string kind = body.is_object() && body.contains("kind") ? body["kind"].dump() : "?";
    text += "\n  " + r.header("webhook-id").substr(0, 12) + " " + kind + " -> " +
            std::to_string(r.answered);
  }
  return text;
}

}  // namespace

// =============================================================================================

TEST_CASE("The retraining webhook arrives signed, once per firing", "[e2e][webhook]") {
  const std::string plain_secret = "It's a Secret to Everybody";
  const std::string whsec_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const std::string argo_secret = "argo signing secret";
  TestReceiver plain(plain_secret);
  TestReceiver whsec(whsec_secret);
  TestReceiver argo(argo_secret);
  TempDir dir;
  dir.write("reference.csv", reference_csv());
  // One trailing newline (\n or \r\n) is not part of the secret.
  const std::string plain_file = dir.write("plain.secret", plain_secret + "\n");
  const std::string whsec_file = dir.write("whsec.secret", whsec_secret + "\r\n");
  const std::string argo_file = dir.write("argo.secret", argo_secret);
  const std::string alerts =
      "alerts:\n"
      "  policy: {consecutive: 1, resolve_after: 1}\n"
      "  daemon_url: \"http://driftd.example:9108/\"\n"
      "  webhooks:\n" +
      webhook_yaml("plain", plain.url("/hooks/retrain"),
                   "template: generic, secret_file: \"" + plain_file +
                       "\", send_resolved: true, headers: {X-Team: ml}") +
      webhook_yaml("whsec", whsec.url("/"),
                   "secret_file: \"" + whsec_file + "\", send_resolved: true") +
      // The server's base URL: the namespace param makes the submit path.
      webhook_yaml("argo", "http://127.0.0.1:" + std::to_string(argo.port()),
                   "template: argo-workflows, secret_file: \"" + argo_file +
                       "\", headers: {Authorization: \"Bearer argo-token\"}, "
                       "params: {namespace: ml, workflow_template: \"retrain-{model}\", "
                       "labels: \"team=risk,trigger=driftd\"}");
  const std::string config = dir.write("driftd.yaml", config_yaml(dir, "1s", alerts));
  Driftd driftd(config, dir.path());

  // A clean window first: evaluated, nothing sent.
  REQUIRE(driftd.ingest(rows(0, kWindow, false)).status == 202);
  REQUIRE(wait_until([&] { return driftd.evaluations() == 1; }, kWaitMs));
  CHECK(driftd.alert_state() == "ok");

  // The drifting window fires.
  REQUIRE(driftd.ingest(rows(kWindow, kWindow, true)).status == 202);
  REQUIRE(wait_until([&] { return driftd.evaluations() == 2; }, kWaitMs));
  const nlohmann::json model = driftd.model();
  CHECK(model["alert"]["state"] == "firing");
  const std::string reference_version = model["reference_version"].get<std::string>();
  CHECK(std::regex_match(reference_version, std::regex("[0-9a-f]{16}")));
  const nlohmann::json evaluation = model["last_evaluation"];
  REQUIRE(plain.wait_for_requests(1, kWaitMs));
  REQUIRE(whsec.wait_for_requests(1, kWaitMs));
  REQUIRE(argo.wait_for_requests(1, kWaitMs));

  const std::int64_t fired_at = row_ms(2 * kWindow - 1);  // newest row of the drifting window
  const std::string firing_id = expected_event_id("m", reference_version, fired_at, "firing");
  std::string plain_firing_body;
  for (auto* receiver : {&plain, &whsec}) {
    const ReceivedRequest r = receiver->requests().at(0);
    INFO(r.body);
    check_signed(r, receiver == &plain ? plain_secret : whsec_secret);
    CHECK(r.target == (receiver == &plain ? "/hooks/retrain" : "/"));
    CHECK(r.header("webhook-id") == firing_id);
    const auto event = nlohmann::ordered_json::parse(r.body);
    CHECK(keys_of(event) == kEventKeys);
    CHECK(event["schema_version"] == 1);
    CHECK(event["event_id"] == firing_id);
    CHECK(event["kind"] == "firing");
    CHECK(event["source"] == "driftd");
    CHECK(event["model"] == "m");
    CHECK(event["model_version"].is_null());
    CHECK(event["reference_version"] == reference_version);
    // consecutive: 1 and no cooldown: the episode starts at the one drifting window.
    CHECK(event["episode_start"] == rfc3339_ms(fired_at));
    CHECK(event["since"] == rfc3339_ms(fired_at));
    CHECK(event["at"] == rfc3339_ms(fired_at));
    CHECK(event["windows"] == 1);
    CHECK(event["window"] == nlohmann::ordered_json{{"rows", kWindow},
                                                    {"first_time", rfc3339_ms(row_ms(kWindow))},
                                                    {"last_time", rfc3339_ms(fired_at)},
                                                    {"first_position", nullptr},
                                                    {"last_position", nullptr}});
    CHECK(event["drift"] == true);
    CHECK(event["dataset_drift"] == true);
    CHECK(event["correction"] == "bonferroni");
    CHECK(event["reference_rows"] == 2000);
    CHECK(event["current_rows"] == kWindow);
    CHECK(event["features_tested"] == 2);
    // x drifted by KS and PSI; c (the same colours) did not. The numbers are the evaluation's.
    REQUIRE(event["drifted_features"].size() == 1);
    const auto& x = event["drifted_features"][0];
    CHECK(x["name"] == "x");
    REQUIRE(x["tests"].size() == 2);
    nlohmann::json x_tests;
    for (const auto& feature : evaluation["features"]) {
      if (feature["name"] == "x") x_tests = feature["tests"];
    }
    CHECK(x["tests"][0]["test"] == "ks");
    CHECK(x["tests"][0]["statistic"].get<double>() == Approx(0.6).margin(0.01));
    CHECK(x["tests"][0]["statistic"].get<double>() ==
          Approx(x_tests["ks"]["statistic"].get<double>()));
    CHECK(x["tests"][0]["p_value"].get<double>() < x["tests"][0]["threshold"].get<double>());
    CHECK(x["tests"][0]["threshold"].get<double>() ==
          Approx(x_tests["ks"]["threshold"].get<double>()));
    CHECK(x["tests"][0]["threshold"].get<double>() == Approx(0.025));  // 0.05 / 2 p-value tests
    CHECK(x["tests"][1]["test"] == "psi");
    CHECK(x["tests"][1]["p_value"].is_null());
    CHECK(x["tests"][1]["threshold"].get<double>() == Approx(0.2));
    CHECK(x["tests"][1]["statistic"].get<double>() ==
          Approx(x_tests["psi"]["statistic"].get<double>()));
    CHECK(x["tests"][1]["statistic"].get<double>() > 0.2);
    CHECK(event["multivariate"].is_null());
    CHECK(event["links"] ==
          nlohmann::ordered_json{{"models", "http://driftd.example:9108/v1/models"},
                                 {"window", "http://driftd.example:9108/v1/models/m/window"}});
    CHECK((event["replica"].is_string() && !event["replica"].get<std::string>().empty()));
    if (receiver == &plain) {
      CHECK(r.header("x-team") == "ml");
      plain_firing_body = r.body;
    }
  }
  // Same event, same bytes for every generic webhook.
  CHECK(whsec.requests().at(0).body == plain_firing_body);

  {
    // Argo Workflows: a WorkflowSubmitRequest for WorkflowTemplate retrain-{model}. (WEBHOOKS.md
    // makes that the default, but the config parser requires workflow_template.)
    const ReceivedRequest r = argo.requests().at(0);
    INFO(r.body);
    check_signed(r, argo_secret);
    CHECK(r.target == "/api/v1/workflows/ml/submit");
    CHECK(r.header("authorization") == "Bearer argo-token");
    CHECK(r.header("webhook-id") == firing_id);
    const auto body = nlohmann::ordered_json::parse(r.body);
    CHECK(keys_of(body) ==
          std::vector<std::string>{"resourceKind", "resourceName", "submitOptions"});
    CHECK(body["resourceKind"] == "WorkflowTemplate");
    CHECK(body["resourceName"] == "retrain-m");
    CHECK(keys_of(body["submitOptions"]) ==
          std::vector<std::string>{"generateName", "parameters", "labels"});
    CHECK(body["submitOptions"]["generateName"] == "retrain-m-");
    CHECK(body["submitOptions"]["labels"] == "team=risk,trigger=driftd");
    CHECK(
        body["submitOptions"]["parameters"] ==
        nlohmann::ordered_json::array(
            {"model=m", "model_version=", "reference_version=" + reference_version,
             "event_id=" + firing_id, "kind=firing", "drifted_features=x",
             "window_start=" + rfc3339_ms(row_ms(kWindow)), "window_end=" + rfc3339_ms(fired_at)}));
  }

  // A clean window resolves: RESOLVED to the send_resolved webhooks only, same episode.
  REQUIRE(driftd.ingest(rows(2 * kWindow, kWindow, false)).status == 202);
  REQUIRE(plain.wait_for_requests(2, kWaitMs));
  REQUIRE(whsec.wait_for_requests(2, kWaitMs));
  // The state commits just after the event is enqueued, so it may trail the delivery.
  CHECK(wait_until([&] { return driftd.alert_state() == "resolved"; }, kWaitMs));
  const std::int64_t resolved_at = row_ms(3 * kWindow - 1);
  const std::string resolved_id = expected_event_id("m", reference_version, fired_at, "resolved");
  CHECK(resolved_id != firing_id);
  for (auto* receiver : {&plain, &whsec}) {
    const ReceivedRequest r = receiver->requests().at(1);
    INFO(r.body);
    check_signed(r, receiver == &plain ? plain_secret : whsec_secret);
    CHECK(r.header("webhook-id") == resolved_id);
    const auto event = nlohmann::ordered_json::parse(r.body);
    CHECK(keys_of(event) == kEventKeys);
    CHECK(event["event_id"] == resolved_id);
    CHECK(event["kind"] == "resolved");
    CHECK(event["model"] == "m");
    CHECK(event["reference_version"] == reference_version);
    CHECK(event["episode_start"] == rfc3339_ms(fired_at));
    CHECK(event["since"] == rfc3339_ms(resolved_at));
    CHECK(event["at"] == rfc3339_ms(resolved_at));
    CHECK(event["windows"] == 1);
    CHECK(event["drift"] == false);
    CHECK(event["dataset_drift"] == false);
    CHECK(event["drifted_features"] == nlohmann::ordered_json::array());
    CHECK(event["window"]["first_time"] == rfc3339_ms(row_ms(2 * kWindow)));
    CHECK(event["window"]["last_time"] == rfc3339_ms(resolved_at));
  }

  // Everything sent and nothing else: one FIRING per webhook, one RESOLVED per send_resolved.
  std::string metrics;
  REQUIRE(wait_until(
      [&] {
        metrics = driftd.metrics();
        return outbox_depth(metrics) == 0 && deliveries(metrics, "plain", "delivered") == 2 &&
               deliveries(metrics, "whsec", "delivered") == 2 &&
               deliveries(metrics, "argo", "delivered") == 1;
      },
      kWaitMs));
  for (const std::string webhook : {"plain", "whsec", "argo"}) {
    CHECK(deliveries(metrics, webhook, "retried") == 0);
    CHECK(deliveries(metrics, webhook, "dead_lettered") == 0);
    CHECK(deliveries(metrics, webhook, "rejected") == 0);
  }
  CHECK(plain.requests().size() == 2);
  CHECK(whsec.requests().size() == 2);
  CHECK(argo.requests().size() == 1);
  CHECK(delivery_files(dir.path() + "/state/webhooks").empty());
  CHECK(delivery_files(dir.path() + "/state/webhooks/dead").empty());
  driftd.terminate();
}

TEST_CASE("Deliveries survive a receiver outage and a daemon restart", "[e2e][webhook]") {
  // Not checkpointed: the restart rebuilds the window from the write-ahead log and evaluates
  // the drifting window again. Checkpointed: the checkpoint holds the fired alert state.
  const bool checkpointed = GENERATE(false, true);
  const std::string checkpoint_interval = checkpointed ? "200ms" : "1h";
  INFO("checkpoint_interval " << checkpoint_interval);
  const std::string secret = "outage secret";
  TestReceiver refusing(secret);  // down: connections refused, the port kept for later
  TestReceiver busy(secret);      // up, but answers 503
  refusing.down();
  busy.set_default(ReceiverReply(503));
  TempDir dir;
  dir.write("reference.csv", reference_csv());
  const std::string secret_file = dir.write("hook.secret", secret);
  const std::string alerts =
      "alerts:\n"
      "  policy: {consecutive: 1, resolve_after: 1}\n"
      "  webhooks:\n" +
      webhook_yaml("refusing", refusing.url(),
                   "secret_file: \"" + secret_file + "\", send_resolved: true, timeout: 5s") +
      webhook_yaml("busy", busy.url(),
                   "secret_file: \"" + secret_file + "\", send_resolved: true, timeout: 5s");
  const std::string config =
      dir.write("driftd.yaml", config_yaml(dir, checkpoint_interval, alerts));
  const fs::path outbox = dir.path() + "/state/webhooks";
  const auto started = SteadyClock::now();

  std::map<std::string, std::string> pending_ids;  // webhook -> event id in its outbox file
  {
    Driftd driftd(config, dir.path());
    REQUIRE(driftd.ingest(rows(0, kWindow, true)).status == 202);
    // Enqueued, and at least one attempt of each failed.
    std::string metrics;
    const bool failing = wait_until(
        [&] {
          metrics = driftd.metrics();
          return delivery_files(outbox).size() == 2 &&
                 deliveries(metrics, "refusing", "retried") >= 1 &&
                 deliveries(metrics, "busy", "retried") >= 1;
        },
        kWaitMs);
    INFO(metrics);
    REQUIRE(failing);
    CHECK(outbox_depth(metrics) == 2);
    CHECK(deliveries(metrics, "busy", "delivered") == 0);
    CHECK(busy.requests().size() >= 1);
    if (checkpointed) {
      // Two checkpoints finished after the evaluation: the second one began after it.
      const auto checkpoint_ms = [&] {
        return driftd.get_json("/v1/status")["checkpoint"]["last_ms"].get<std::int64_t>();
      };
      std::int64_t after_ms = driftd.model()["last_evaluation_ms"].get<std::int64_t>();
      for (int k = 0; k < 2; ++k) {
        REQUIRE(wait_until([&] { return checkpoint_ms() > after_ms; }, kWaitMs));
        after_ms = checkpoint_ms();
      }
    }
    driftd.kill9();
  }
  for (const auto& file : delivery_files(outbox)) {
    const std::string id = event_id_in(file);
    for (const std::string webhook : {"refusing", "busy"}) {
      if (file.stem() == expected_outbox_key(webhook, id)) pending_ids[webhook] = id;
    }
  }
  REQUIRE(pending_ids.size() == 2);
  CHECK(pending_ids["refusing"] == pending_ids["busy"]);
  const std::string firing_id = pending_ids["refusing"];

  Driftd driftd(config, dir.path());
  // Let the restarted daemon finish its replay and re-evaluation before the receivers come
  // back: a re-raised event must join the pending delivery, not queue a new one.
  REQUIRE(wait_until([&] { return driftd.evaluations() >= 1 && driftd.alert_state() == "firing"; },
                     kWaitMs));
  CHECK(delivery_files(outbox).size() == 2);
  // The alert log line counts raisings: the replay raised FIRING again (the same id, so the
  // pending delivery was kept), or the checkpoint's fired state was restored (no raising).
  const std::string log = driftd.stderr_text();
  std::size_t raised = 0;
  for (std::size_t at = log.find("firing after"); at != std::string::npos;
       at = log.find("firing after", at + 1)) {
    ++raised;
  }
  CHECK(raised == (checkpointed ? 1u : 2u));
  refusing.up();
  busy.set_default(ReceiverReply(200));
  REQUIRE(refusing.wait_for_requests(1, kWaitMs));
  REQUIRE(wait_until(
      [&] { return refusing.delivered_ids().size() == 1 && busy.delivered_ids().size() == 1; },
      kWaitMs));
  CHECK(refusing.delivered_ids() == std::set<std::string>{firing_id});
  CHECK(busy.delivered_ids() == std::set<std::string>{firing_id});
  std::string metrics;
  REQUIRE(wait_until(
      [&] {
        metrics = driftd.metrics();
        return outbox_depth(metrics) == 0 && deliveries(metrics, "refusing", "delivered") == 1 &&
               deliveries(metrics, "busy", "delivered") == 1;
      },
      kWaitMs));

  // The episode resolves on the restarted daemon.
  REQUIRE(driftd.ingest(rows(kWindow, kWindow, false)).status == 202);
  REQUIRE(wait_until(
      [&] { return refusing.delivered_ids().size() == 2 && busy.delivered_ids().size() == 2; },
      kWaitMs));
  REQUIRE(wait_until(
      [&] {
        metrics = driftd.metrics();
        return outbox_depth(metrics) == 0 && deliveries(metrics, "refusing", "delivered") == 2 &&
               deliveries(metrics, "busy", "delivered") == 2;
      },
      kWaitMs));
  const std::string reference_version = driftd.model()["reference_version"].get<std::string>();
  const std::string resolved_id =
      expected_event_id("m", reference_version, row_ms(kWindow - 1), "resolved");
  CHECK(firing_id == expected_event_id("m", reference_version, row_ms(kWindow - 1), "firing"));

  for (auto* receiver : {&refusing, &busy}) {
    const auto requests = receiver->requests();
    const std::string name = receiver == &refusing ? "refusing" : "busy";
    WARN(describe(name, requests) << "\n  (" << checkpoint_interval << ", "
                                  << std::chrono::duration_cast<std::chrono::milliseconds>(
                                         SteadyClock::now() - started)
                                         .count()
                                  << " ms)");
    // Deduplicated by webhook-id: the FIRING and the RESOLVED event, each once.
    CHECK(receiver->delivered_ids() == std::set<std::string>{firing_id, resolved_id});
    // No other id was ever attempted: the restart raised no second FIRING id.
    std::set<std::string> attempted;
    for (const auto& r : requests) attempted.insert(r.header("webhook-id"));
    CHECK(attempted == std::set<std::string>{firing_id, resolved_id});
    // Nothing was delivered twice either: the kill hit no request in flight.
    for (const auto& [id, count] : arrivals_by_id(requests, true)) {
      INFO(id);
      CHECK(count == 1);
    }
    // Every attempt of an event, before and after the restart, carried the same body.
    std::map<std::string, std::string> body_of;
    for (const auto& r : requests) {
      check_signed(r, secret);
      const auto [it, first] = body_of.emplace(r.header("webhook-id"), r.body);
      CHECK((first || it->second == r.body));
      const auto event = nlohmann::json::parse(r.body);
      CHECK(event["episode_start"] == rfc3339_ms(row_ms(kWindow - 1)));
    }
  }
  CHECK(deliveries(metrics, "refusing", "dead_lettered") == 0);
  CHECK(deliveries(metrics, "busy", "dead_lettered") == 0);
  CHECK(delivery_files(outbox).empty());
  CHECK(delivery_files(outbox / "dead").empty());
  driftd.terminate();
}

TEST_CASE("A 4xx other than 408/429 is never retried", "[e2e][webhook]") {
  const std::string secret = "rejecting secret";
  TestReceiver receiver(secret);
  receiver.set_default(ReceiverReply(400));
  TempDir dir;
  dir.write("reference.csv", reference_csv());
  const std::string secret_file = dir.write("hook.secret", secret);
  const std::string alerts =
      "alerts:\n"
      "  policy: {consecutive: 1}\n"
      "  webhooks:\n" +
      webhook_yaml("strict", receiver.url(), "secret_file: \"" + secret_file + "\"");
  const std::string config = dir.write("driftd.yaml", config_yaml(dir, "1s", alerts));
  const fs::path outbox = dir.path() + "/state/webhooks";
  Driftd driftd(config, dir.path());
  REQUIRE(driftd.ingest(rows(0, kWindow, true)).status == 202);
  REQUIRE(receiver.wait_for_requests(1, kWaitMs));
  std::string metrics;
  REQUIRE(wait_until(
      [&] {
        metrics = driftd.metrics();
        return deliveries(metrics, "strict", "rejected") == 1 && outbox_depth(metrics) == 0 &&
               delivery_files(outbox / "dead").size() == 1;
      },
      kWaitMs));
  const std::string id = receiver.requests().at(0).header("webhook-id");
  const auto dead = delivery_files(outbox / "dead");
  CHECK(dead.at(0).stem() == expected_outbox_key("strict", id));
  CHECK(event_id_in(dead.at(0)) == id);
  CHECK(delivery_files(outbox).empty());
  // A retry would come after the first backoff, 1 s +20% at most: wait well past it.
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  metrics = driftd.metrics();
  CHECK(receiver.requests().size() == 1);
  CHECK(deliveries(metrics, "strict", "rejected") == 1);
  CHECK(deliveries(metrics, "strict", "retried") == 0);
  CHECK(deliveries(metrics, "strict", "delivered") == 0);
  CHECK(outbox_depth(metrics) == 0);
  check_signed(receiver.requests().at(0), secret);
  driftd.terminate();
}

namespace {

// A scraper that sends pipelined GET /metrics and never reads: once its receive buffer and
// driftd's send buffer are full, driftd's write to it cannot progress.
class StalledScraper {
 public:
  StalledScraper(std::uint16_t port, int requests) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    const int small = 4096;  // before connect: the window stays small
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    sockaddr_in local{};
    socklen_t length = sizeof local;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &length) == 0);
    local_port_ = ntohs(local.sin_port);
    std::string pipelined;
    for (int k = 0; k < requests; ++k)
      pipelined += "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    std::size_t sent = 0;
    while (sent < pipelined.size()) {
      const ssize_t n = ::send(fd_, pipelined.data() + sent, pipelined.size() - sent, MSG_NOSIGNAL);
      REQUIRE(n > 0);
      sent += static_cast<std::size_t>(n);
    }
  }
  ~StalledScraper() { ::close(fd_); }
  StalledScraper(const StalledScraper&) = delete;
  StalledScraper& operator=(const StalledScraper&) = delete;

  std::uint16_t local_port() const { return local_port_; }
  /// Reply bytes waiting unread in our receive buffer.
  int unread() const {
    int n = 0;
    ::ioctl(fd_, FIONREAD, &n);
    return n;
  }

 private:
  int fd_ = -1;
  std::uint16_t local_port_ = 0;
};

// Bytes that driftd's end of the connection server_port <-> client_port has queued and the
// peer has not acknowledged (tx_queue in /proc/net/tcp); nullopt when there is no such socket.
std::optional<std::uint64_t> server_send_queue(std::uint16_t server_port,
                                               std::uint16_t client_port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  const auto port_of = [](const std::string& address) {
    return static_cast<std::uint16_t>(
        std::stoul(address.substr(address.find(':') + 1), nullptr, 16));
  };
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues;
    fields >> slot >> local >> remote >> state >> queues;
    if (queues.empty() || port_of(local) != server_port || port_of(remote) != client_port) continue;
    return std::stoull(queues.substr(0, queues.find(':')), nullptr, 16);
  }
  return std::nullopt;
}

// The largest send buffer TCP autotuning may give driftd's socket.
std::uint64_t max_send_buffer() {
  std::ifstream in("/proc/sys/net/ipv4/tcp_wmem");
  std::uint64_t low = 0, initial = 0, high = 0;
  in >> low >> initial >> high;
  return high > 0 ? high : 4u << 20;
}

constexpr int kWideFeatures = 40;

std::string wide_reference_csv() {
  std::string csv;
  for (int f = 0; f < kWideFeatures; ++f) csv += (f ? ",f" : "f") + std::to_string(f);
  csv += "\n";
  for (int k = 0; k < 2000; ++k) {
    for (int f = 0; f < kWideFeatures; ++f) {
      if (f) csv += ",";
      csv += std::to_string(((k * (2 * f + 1)) % 2000 + 0.5) / 2000);  // a permuted grid each
    }
    csv += "\n";
  }
  return csv;
}

std::string wide_rows(int batch, int count) {
  std::string body;
  for (int j = 0; j < count; ++j) {
    body += R"({"model":"wide")";
    for (int f = 0; f < kWideFeatures; ++f) {
      // Half the features drift in odd batches: the exported values keep changing.
      const double shift = (batch % 2 == 1 && f % 2 == 0) ? 0.3 : 0.0;
      body += ",\"f" + std::to_string(f) +
              "\":" + std::to_string(((j * (2 * f + 1)) % count + 0.5) / count + shift);
    }
    body += "}\n";
  }
  return body;
}

}  // namespace

TEST_CASE("A stalled scraper never stalls ingestion or evaluation", "[e2e][metrics]") {
  TempDir dir;
  dir.write("reference.csv", wide_reference_csv());
  std::string yaml =
      "server: {listen: \"127.0.0.1:0\", shutdown_timeout: 5s}\n"
      "state: {dir: \"" +
      dir.path() +
      "/state\", checkpoint_interval: 500ms}\n"
      "sources:\n"
      "  - {name: ingest, type: http, format: flat}\n"
      "models:\n"
      "  - name: wide\n"
      "    match: {pointer: /model, equals: wide}\n"
      "    features:\n";
  for (int f = 0; f < kWideFeatures; ++f) {
    yaml += "      - {name: f" + std::to_string(f) + ", pointer: /f" + std::to_string(f) + "}\n";
  }
  yaml += "    reference: {file: \"" + dir.path() +
          "/reference.csv\"}\n"
          "    window: {size: 200, slide: 200}\n"
          "    tests: {ks: {}, psi: {bins: 20}}\n";
  const std::string config = dir.write("driftd.yaml", yaml);
  Driftd driftd(config, dir.path());

  // One evaluation first, so every series exists and a scrape is large.
  REQUIRE(driftd.ingest(wide_rows(0, 200)).status == 202);
  REQUIRE(wait_until([&] { return driftd.evaluations() == 1; }, kWaitMs));
  const std::string first_scrape = driftd.metrics();
  INFO("scrape bytes " << first_scrape.size());
  REQUIRE(first_scrape.size() > 100000);

  // Stalled scrapers: enough pipelined requests that their replies are twice what the largest
  // send buffer holds, so driftd's writes must stop (and not merely sit in kernel buffers).
  const int pipelined = static_cast<int>(
      std::min<std::uint64_t>(2 * max_send_buffer() / first_scrape.size() + 8, 1000));
  INFO("pipelined requests per connection " << pipelined);
  std::vector<std::unique_ptr<StalledScraper>> stalled;
  for (int k = 0; k < 8; ++k) {
    stalled.push_back(std::make_unique<StalledScraper>(driftd.port(), pipelined));
  }
  // Stalled: each got the start of a reply, and driftd's end holds queued bytes that no longer
  // change (its writes stopped; renders of the replies that fitted in the buffers are over).
  std::uint64_t last_total = 0;
  auto last_change = SteadyClock::now();
  const bool settled = wait_until(
      [&] {
        std::uint64_t total = 0;
        for (const auto& s : stalled) {
          const auto queued = server_send_queue(driftd.port(), s->local_port());
          if (s->unread() == 0 || !queued || *queued == 0) {
            last_change = SteadyClock::now();
            return false;
          }
          total += *queued;
        }
        if (total != last_total) {
          last_total = total;
          last_change = SteadyClock::now();
        }
        return SteadyClock::now() - last_change > std::chrono::milliseconds(500);
      },
      kWaitMs);
  REQUIRE(settled);

  constexpr int kBatches = 40;
  double slowest_ingest_ms = 0;
  for (int batch = 1; batch <= kBatches; ++batch) {
    const auto start = SteadyClock::now();
    const auto reply = driftd.ingest(wide_rows(batch, 200));
    const double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
    slowest_ingest_ms = std::max(slowest_ingest_ms, ms);
    INFO("batch " << batch << ": " << reply.status << " after " << ms << " ms");
    REQUIRE(reply.status == 202);
    CHECK(ms < 5000);
  }
  // Every batch is one tumbling window: evaluations keep up.
  REQUIRE(wait_until([&] { return driftd.evaluations() == 1 + kBatches; }, kWaitMs));
  const auto scrape_start = SteadyClock::now();
  const std::string scrape = driftd.metrics();
  const double scrape_ms =
      std::chrono::duration<double, std::milli>(SteadyClock::now() - scrape_start).count();
  CHECK(scrape_ms < 5000);
  CHECK(scrape.size() > 100000);
  CHECK(sample(scrape, "drift_evaluation_duration_seconds_count", {{"model", "wide"}}) ==
        Approx(1 + kBatches));
  // The scrapers stayed stalled all along: their connections open, driftd's bytes still queued.
  std::uint64_t queued_total = 0;
  for (const auto& s : stalled) {
    const auto queued = server_send_queue(driftd.port(), s->local_port());
    REQUIRE(queued);
    CHECK(*queued > 0);
    queued_total += *queued;
  }
  WARN("slowest ingest " << slowest_ingest_ms << " ms, scrape " << scrape_ms << " ms ("
                         << scrape.size() << " bytes); " << stalled.size() << " stalled scrapers x "
                         << pipelined << " requests, " << queued_total
                         << " bytes stuck in driftd's send queues");
  driftd.terminate();
}
