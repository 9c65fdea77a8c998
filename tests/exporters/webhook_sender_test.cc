// Webhook delivery end to end against a real HTTP(S) receiver (test_receiver.h): signatures,
// retries and their schedule, dead letters, restarts on the same outbox, TLS with a CA file.

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "drift/exporters/webhook_outbox.h"
#include "drift/exporters/webhook_sender.h"
#include "process.h"
#include "test_receiver.h"

using namespace drift::exporters;
namespace fs = std::filesystem;
using drift::test::ReceiverReply;
using drift::test::TestReceiver;
using drift::test::wait_until;
using std::chrono::milliseconds;

namespace {

constexpr const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr int kWaitMs = 10000;

WebhookConfig hook(const std::string& url, std::string name = "retrain") {
  WebhookConfig config;
  config.name = std::move(name);
  config.url = url;
  config.secret = kSecret;
  config.timeout = milliseconds(2000);
  return config;
}

DriftEvent event(std::int64_t episode_start_ms = 1740830400000,
                 AlertEventKind kind = AlertEventKind::kFiring) {
  AlertEvent alert;
  alert.kind = kind;
  alert.model = "fraud";
  alert.reference_version = "ref-1";
  alert.episode_start_ms = episode_start_ms;
  alert.since_ms = episode_start_ms;
  alert.at_ms = episode_start_ms + 60000;
  alert.verdict.drift = true;
  alert.verdict.dataset_drift = true;
  alert.verdict.features = {{"amount", {{AlertTest::kKs, 0.2, 1e-9, 0.025}}}};
  DriftEventContext context;
  context.window.rows = 100;
  return make_drift_event(alert, drift::EvaluationResult{}, context);
}

// Fast retries: tests scale every delay down.
struct Fixture {
  drift::test::TempDir dir;
  fs::path outbox_dir = fs::path(dir.path()) / "outbox";
  std::mutex log_mutex;
  std::vector<std::string> log_lines;

  WebhookSender::Options options() {
    WebhookSender::Options o;
    o.base_delay = milliseconds(20);
    o.max_delay = milliseconds(200);
    o.poll_interval = milliseconds(10);
    o.seed = 7;
    o.log = [this](std::string_view line) {
      std::lock_guard lock(log_mutex);
      log_lines.emplace_back(line);
    };
    return o;
  }
  std::string log_text() {
    std::lock_guard lock(log_mutex);
    std::string all;
    for (const auto& l : log_lines) all += l + "\n";
    return all;
  }
};

WebhookCounters counters_of(const WebhookSender& sender, const std::string& name = "retrain") {
  return sender.counters().at(name);
}

}  // namespace

TEST_CASE("A delivery is posted once with both signatures valid", "[webhook][integration]") {
  Fixture f;
  TestReceiver receiver(kSecret);
  WebhookConfig config = hook(receiver.url());
  config.headers = {{"Authorization", "Bearer t0ken"}};
  WebhookSender sender({config}, f.outbox_dir, f.options());
  sender.start();
  const DriftEvent e = event();
  CHECK(sender.enqueue(e) == 1);
  REQUIRE(wait_until([&] { return counters_of(sender).delivered == 1; }, kWaitMs));

  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  const auto& r = requests[0];
  CHECK(r.method == "POST");
  CHECK(r.target == "/hook");
  CHECK(r.body == render_body(config, e));
  CHECK(r.header("content-type") == "application/json");
  CHECK(r.header("user-agent") == "driftd");
  CHECK(r.header("authorization") == "Bearer t0ken");
  CHECK(r.header("webhook-id") == e.id);
  CHECK(r.github_valid);
  CHECK(r.standard_valid);
  const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  CHECK(std::abs(std::stoll(r.header("webhook-timestamp")) - now_s) < 60);
  CHECK(sender.outbox_depth() == 0);
  CHECK(counters_of(sender).attempts == 1);
  CHECK_FALSE(fs::exists(f.outbox_dir / (WebhookOutbox::key("retrain", e.id) + ".delivery")));
}

TEST_CASE("Server errors are retried with the same id and body until delivered once",
          "[webhook][integration]") {
  Fixture f;
  TestReceiver receiver(kSecret);
  receiver.script({{500}, {502}, {200}});
  WebhookSender sender({hook(receiver.url())}, f.outbox_dir, f.options());
  sender.start();
  const DriftEvent e = event();
  sender.enqueue(e);
  REQUIRE(wait_until([&] { return counters_of(sender).delivered == 1; }, kWaitMs));
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 3);
  for (const auto& r : requests) {
    CHECK(r.header("webhook-id") == e.id);
    CHECK(r.body == requests[0].body);
    CHECK(r.github_valid);
    CHECK(r.standard_valid);
  }
  CHECK(receiver.delivered_ids() == std::set<std::string>{e.id});
  const WebhookCounters c = counters_of(sender);
  CHECK(c.attempts == 3);
  CHECK(c.retried == 2);
  CHECK(c.dead_lettered == 0);
  CHECK(sender.outbox_depth() == 0);
}

TEST_CASE("The injected clock schedules retries and stamps each attempt",
          "[webhook][integration]") {
  Fixture f;
  TestReceiver receiver(kSecret);
  receiver.script({{503}, {200}});
  std::atomic<std::int64_t> now_ms{1'900'000'000'000};
  WebhookSender::Options options = f.options();
  options.clock = [&] {
    return std::chrono::system_clock::time_point(milliseconds(now_ms.load()));
  };
  options.base_delay = milliseconds(10000);
  options.max_delay = milliseconds(10000);
  options.jitter = 0;
  WebhookSender sender({hook(receiver.url())}, f.outbox_dir, options);
  sender.start();
  sender.enqueue(event());
  REQUIRE(receiver.wait_for_requests(1, kWaitMs));
  REQUIRE(wait_until([&] { return counters_of(sender).retried == 1; }, kWaitMs));
  // The retry is due 10 s later on the injected clock: nothing happens until it moves.
  CHECK_FALSE(receiver.wait_for_requests(2, 200));
  now_ms += 10000;
  REQUIRE(wait_until([&] { return counters_of(sender).delivered == 1; }, kWaitMs));
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].header("webhook-timestamp") == "1900000000");
  CHECK(requests[1].header("webhook-timestamp") == "1900000010");
  CHECK(requests[1].standard_valid);
  CHECK(requests[0].header("webhook-signature") != requests[1].header("webhook-signature"));
}

TEST_CASE("A 404 is never retried: the delivery is dead-lettered at once",
          "[webhook][integration]") {
  Fixture f;
  TestReceiver receiver(kSecret);
  receiver.set_default({404});
  WebhookSender sender({hook(receiver.url())}, f.outbox_dir, f.options());
  sender.start();
  const DriftEvent e = event();
  sender.enqueue(e);
  REQUIRE(wait_until([&] { return counters_of(sender).dead_lettered == 1; }, kWaitMs));
  CHECK_FALSE(receiver.wait_for_requests(2, 200));
  const WebhookCounters c = counters_of(sender);
  CHECK(c.attempts == 1);
  CHECK(c.failed_4xx == 1);
  CHECK(c.retried == 0);
  CHECK(sender.outbox_depth() == 0);
  CHECK(sender.dead_letter_depth() == 1);
  CHECK(fs::exists(f.outbox_dir / "dead" / (WebhookOutbox::key("retrain", e.id) + ".delivery")));
  CHECK_THAT(f.log_text(), Catch::Contains("HTTP 404"));
}

TEST_CASE("A 429 with Retry-After waits as long as asked", "[webhook][integration]") {
  Fixture f;
  TestReceiver receiver(kSecret);
  receiver.script({{429, {{"Retry-After", "1"}}}, {200}});
  WebhookSender sender({hook(receiver.url())}, f.outbox_dir, f.options());
  sender.start();
  sender.enqueue(event());
  REQUIRE(wait_until([&] { return counters_of(sender).delivered == 1; }, kWaitMs));
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 2);
  // The backoff alone would be about 20 ms.
  CHECK(requests[1].at - requests[0].at >= milliseconds(950));
  CHECK(counters_of(sender).retried == 1);
}

TEST_CASE("A receiver that is down is retried until it is back", "[webhook][integration]") {
  Fixture f;
  TestReceiver receiver(kSecret);
  receiver.down();
  WebhookSender sender({hook(receiver.url())}, f.outbox_dir, f.options());
  sender.start();
  const DriftEvent e = event();
  sender.enqueue(e);
  REQUIRE(wait_until([&] { return counters_of(sender).retried >= 2; }, kWaitMs));
  CHECK(receiver.requests().empty());
  CHECK_THAT(f.log_text(), Catch::Contains("connect 127.0.0.1"));
  receiver.up();
  REQUIRE(wait_until([&] { return counters_of(sender).delivered == 1; }, kWaitMs));
  CHECK(receiver.delivered_ids() == std::set<std::string>{e.id});
}

TEST_CASE("A slow receiver times out and the delivery is retried", "[webhook][integration]") {
  Fixture f;
  TestReceiver receiver(kSecret);
  receiver.script({{200, {}, milliseconds(1500)}, {200}});
  WebhookConfig config = hook(receiver.url());
  config.timeout = milliseconds(300);
  WebhookSender sender({config}, f.outbox_dir, f.options());
  sender.start();
  sender.enqueue(event());
  REQUIRE(wait_until([&] { return counters_of(sender).delivered == 1; }, kWaitMs));
  CHECK(counters_of(sender).retried == 1);
  CHECK_THAT(f.log_text(), Catch::Contains("within 300 ms"));
}

TEST_CASE("Deliveries pending at stop are sent by a new sender with the same id and body",
          "[webhook][integration]") {
  Fixture f;
  TestReceiver receiver(kSecret);
  receiver.set_default({503});
  WebhookConfig config = hook(receiver.url());
  config.max_attempts = 1000;
  const DriftEvent first = event(1740830400000);
  const DriftEvent second = event(1740834000000);
  {
    WebhookSender sender({config}, f.outbox_dir, f.options());
    // Persisted before any attempt: the file is there before the sender even starts.
    CHECK(sender.enqueue(first) == 1);
    CHECK(fs::exists(f.outbox_dir / (WebhookOutbox::key("retrain", first.id) + ".delivery")));
    sender.start();
    CHECK(sender.enqueue(second) == 1);
    REQUIRE(wait_until([&] { return counters_of(sender).retried >= 4; }, kWaitMs));
    sender.stop();
    CHECK(sender.outbox_depth() == 2);
  }
  const auto before = receiver.requests();
  receiver.set_default({200});
  WebhookSender restarted({config}, f.outbox_dir, f.options());
  CHECK(restarted.outbox_depth() == 2);
  restarted.start();
  REQUIRE(wait_until([&] { return counters_of(restarted).delivered == 2; }, kWaitMs));
  CHECK(receiver.delivered_ids() == std::set<std::string>{first.id, second.id});
  for (const auto& r : receiver.requests()) {
    CHECK(r.standard_valid);
    if (r.answered != 200) continue;
    CHECK(r.body == render_body(config, r.header("webhook-id") == first.id ? first : second));
    bool seen_before = false;
    for (const auto& b : before) {
      if (b.header("webhook-id") == r.header("webhook-id")) seen_before = b.body == r.body;
    }
    CHECK(seen_before);
  }
  CHECK(restarted.outbox_depth() == 0);
}

TEST_CASE("After max_attempts failures the delivery is dead-lettered and counted",
          "[webhook][integration]") {
  Fixture f;
  TestReceiver receiver(kSecret);
  receiver.set_default({500});
  WebhookConfig config = hook(receiver.url());
  config.max_attempts = 3;
  WebhookSender sender({config}, f.outbox_dir, f.options());
  sender.start();
  sender.enqueue(event());
  REQUIRE(wait_until([&] { return counters_of(sender).dead_lettered == 1; }, kWaitMs));
  CHECK_FALSE(receiver.wait_for_requests(4, 200));
  CHECK(receiver.requests().size() == 3);
  const WebhookCounters c = counters_of(sender);
  CHECK(c.attempts == 3);
  CHECK(c.retried == 2);
  CHECK(c.failed_4xx == 0);
  CHECK(sender.dead_letter_depth() == 1);
  CHECK(sender.outbox_depth() == 0);
  CHECK_THAT(f.log_text(), Catch::Contains("dead-lettered after 3 attempt(s): HTTP 500"));
}

TEST_CASE("Replicas that raise the same episode reach a deduplicating receiver once",
          "[webhook][integration]") {
  Fixture a;
  Fixture b;
  TestReceiver receiver(kSecret);
  WebhookSender replica_a({hook(receiver.url())}, a.outbox_dir, a.options());
  WebhookSender replica_b({hook(receiver.url())}, b.outbox_dir, b.options());
  replica_a.start();
  replica_b.start();
  replica_a.enqueue(event());
  replica_b.enqueue(event());
  REQUIRE(receiver.wait_for_requests(2, kWaitMs));
  CHECK(receiver.delivered_ids().size() == 1);
}

TEST_CASE("RESOLVED events go only to webhooks that ask for them", "[webhook][unit]") {
  Fixture f;
  WebhookConfig quiet = hook("http://127.0.0.1:9/", "quiet");
  WebhookConfig chatty = hook("http://127.0.0.1:9/", "chatty");
  chatty.send_resolved = true;
  WebhookSender sender({quiet, chatty}, f.outbox_dir, f.options());
  CHECK(sender.enqueue(event()) == 2);
  CHECK(sender.enqueue(event()) == 0);  // already pending
  const DriftEvent resolved = event(1740830400000, AlertEventKind::kResolved);
  CHECK(sender.enqueue(resolved) == 1);
  CHECK(sender.outbox().depth("chatty") == 2);
  CHECK(sender.outbox().depth("quiet") == 1);
}

TEST_CASE("Deliveries of a webhook no longer configured are dead-lettered at start",
          "[webhook][unit]") {
  Fixture f;
  {
    WebhookOutbox outbox(f.outbox_dir);
    OutboxItem item;
    item.event_id = "e";
    item.webhook = "gone";
    item.body = "{}";
    outbox.enqueue(item);
  }
  WebhookSender sender({hook("http://127.0.0.1:9/")}, f.outbox_dir, f.options());
  CHECK(sender.outbox_depth() == 1);
  sender.start();
  CHECK(sender.outbox_depth() == 0);
  CHECK(sender.dead_letter_depth() == 1);
  CHECK(sender.counters().at("gone").dead_lettered == 1);
  CHECK_THAT(f.log_text(), Catch::Contains("no longer configured"));
}

TEST_CASE("Invalid webhooks and duplicate names are refused with the webhook named",
          "[webhook][unit]") {
  Fixture f;
  WebhookConfig bad = hook("ftp://x");
  CHECK_THROWS_WITH(WebhookSender({bad}, f.outbox_dir, f.options()),
                    Catch::StartsWith("webhooks[retrain].url:"));
  CHECK_THROWS_WITH(WebhookSender({hook("http://a/"), hook("http://b/")}, f.outbox_dir,
                                  f.options()),
                    Catch::StartsWith("webhooks[retrain].name: used twice"));
  WebhookConfig tls = hook("https://localhost/");
  tls.ca_file = fs::path(f.dir.path()) / "missing.pem";
  CHECK_THROWS_WITH(WebhookSender({tls}, f.outbox_dir, f.options()),
                    Catch::Contains("missing.pem"));
}

TEST_CASE("HTTPS delivery verifies the receiver against the CA file", "[webhook][integration]") {
  Fixture f;
  const drift::test::TlsIdentity identity = drift::test::make_self_signed_identity();
  const std::string ca_file = f.dir.write("ca.pem", identity.cert_pem);
  TestReceiver receiver(kSecret, identity);
  REQUIRE(receiver.url().starts_with("https://localhost:"));

  WebhookConfig trusted = hook(receiver.url());
  trusted.ca_file = ca_file;
  WebhookSender sender({trusted}, f.outbox_dir, f.options());
  sender.start();
  const DriftEvent e = event();
  sender.enqueue(e);
  REQUIRE(wait_until([&] { return counters_of(sender).delivered == 1; }, kWaitMs));
  REQUIRE(receiver.requests().size() == 1);
  CHECK(receiver.requests()[0].github_valid);
  CHECK(receiver.requests()[0].standard_valid);
  CHECK(receiver.requests()[0].header("host") == "localhost:" + std::to_string(receiver.port()));

  // By IP address too (the certificate names 127.0.0.1).
  Fixture by_ip;
  WebhookConfig ip = hook("https://127.0.0.1:" + std::to_string(receiver.port()) + "/hook");
  ip.ca_file = ca_file;
  WebhookSender ip_sender({ip}, by_ip.outbox_dir, by_ip.options());
  ip_sender.start();
  ip_sender.enqueue(e);
  REQUIRE(wait_until([&] { return counters_of(ip_sender).delivered == 1; }, kWaitMs));

  // Without the CA file the self-signed certificate is not trusted: no request gets through.
  Fixture untrusted_fixture;
  WebhookConfig untrusted = hook(receiver.url());
  untrusted.max_attempts = 1;
  WebhookSender untrusted_sender({untrusted}, untrusted_fixture.outbox_dir,
                                 untrusted_fixture.options());
  untrusted_sender.start();
  untrusted_sender.enqueue(e);
  REQUIRE(wait_until([&] { return counters_of(untrusted_sender).dead_lettered == 1; }, kWaitMs));
  CHECK(receiver.requests().size() == 2);
  CHECK_THAT(untrusted_fixture.log_text(), Catch::Contains("certificate verify failed"));
}
