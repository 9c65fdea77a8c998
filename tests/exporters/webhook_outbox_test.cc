// The persistent webhook outbox (files, restarts, corrupt files, dead letters) and the retry
// schedule (backoff with jitter, Retry-After).

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "drift/detectors/binary_codec.h"
#include "drift/exporters/webhook_outbox.h"
#include "drift/exporters/webhook_sender.h"
#include "process.h"

using namespace drift::exporters;
namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

OutboxItem item(std::string event_id, std::string webhook = "hook") {
  OutboxItem i;
  i.event_id = std::move(event_id);
  i.webhook = std::move(webhook);
  i.body = R"({"model":"fraud"})";
  i.next_attempt_ms = 1000;
  i.created_ms = 1000;
  return i;
}

std::size_t files_in(const fs::path& dir) {
  if (!fs::exists(dir)) return 0;
  return static_cast<std::size_t>(
      std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

}  // namespace

TEST_CASE("Outbox deliveries survive a reopen with the same id and body", "[webhook][unit]") {
  drift::test::TempDir dir;
  const fs::path outbox_dir = fs::path(dir.path()) / "outbox";
  {
    WebhookOutbox outbox(outbox_dir);
    CHECK(outbox.enqueue(item("e1")));
    CHECK(outbox.enqueue(item("e2")));
    CHECK(outbox.enqueue(item("e1", "other")));
    CHECK_FALSE(outbox.enqueue(item("e1")));  // already pending: kept as is
    CHECK(outbox.depth() == 3);
    CHECK(outbox.depth("hook") == 2);
    CHECK(fs::exists(outbox_dir / (WebhookOutbox::key("hook", "e1") + ".delivery")));
  }
  WebhookOutbox reopened(outbox_dir);
  CHECK(reopened.depth() == 3);
  const auto next = reopened.next("other");
  REQUIRE(next.has_value());
  CHECK(next->event_id == "e1");
  CHECK(next->body == R"({"model":"fraud"})");
  CHECK(next->created_ms == 1000);
}

TEST_CASE("Outbox reschedules, removes and dead-letters deliveries on disk", "[webhook][unit]") {
  drift::test::TempDir dir;
  const fs::path outbox_dir = fs::path(dir.path()) / "outbox";
  WebhookOutbox outbox(outbox_dir);
  OutboxItem a = item("a");
  OutboxItem b = item("b");
  b.next_attempt_ms = 500;
  outbox.enqueue(a);
  outbox.enqueue(b);
  CHECK(outbox.next("hook")->event_id == "b");  // due first
  b.attempts = 3;
  b.next_attempt_ms = 9000;
  b.last_error = "HTTP 503";
  outbox.reschedule(b);
  CHECK(outbox.next("hook")->event_id == "a");
  outbox.remove(a);
  outbox.dead_letter(b);
  CHECK(outbox.depth() == 0);
  CHECK(outbox.dead_letters() == 1);
  CHECK(files_in(outbox_dir) == 1);  // dead/ only
  const fs::path dead = outbox_dir / "dead" / (WebhookOutbox::key("hook", "b") + ".delivery");
  const OutboxItem dead_item = WebhookOutbox::decode(drift::test::read_file(dead.string()));
  CHECK(dead_item.attempts == 3);
  CHECK(dead_item.last_error == "HTTP 503");

  WebhookOutbox reopened(outbox_dir);
  CHECK(reopened.depth() == 0);
  CHECK(reopened.dead_letters() == 1);
}

TEST_CASE("Corrupt, foreign and half-written outbox files are set aside, never loaded",
          "[webhook][unit]") {
  drift::test::TempDir dir;
  const fs::path outbox_dir = fs::path(dir.path()) / "outbox";
  std::string valid_bytes;
  {
    WebhookOutbox outbox(outbox_dir);
    outbox.enqueue(item("good"));
    valid_bytes = WebhookOutbox::encode(item("other"));
  }
  const auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(outbox_dir / name, std::ios::binary) << bytes;
  };
  write("garbage.delivery", "not an envelope");
  write("truncated.delivery", valid_bytes.substr(0, valid_bytes.size() - 3));
  std::string flipped = valid_bytes;
  flipped[30] = static_cast<char>(flipped[30] ^ 0x40);
  write("flipped.delivery", flipped);
  write(WebhookOutbox::key("hook", "x") + ".delivery", valid_bytes);  // name of another item
  write(".half.delivery.ab12Cd", "temporary file of a crash");

  std::vector<std::string> logged;
  WebhookOutbox outbox(outbox_dir, [&](std::string_view line) { logged.emplace_back(line); });
  CHECK(outbox.depth() == 1);
  CHECK(outbox.next("hook")->event_id == "good");
  CHECK(outbox.corrupt_files() == 4);
  CHECK(logged.size() == 4);
  CHECK(files_in(outbox_dir / "corrupt") == 4);
  CHECK_FALSE(fs::exists(outbox_dir / ".half.delivery.ab12Cd"));
  CHECK_THROWS_AS(WebhookOutbox::decode(flipped), drift::FormatError);
}

TEST_CASE("Backoff doubles from the base delay up to the cap, with bounded jitter",
          "[webhook][unit]") {
  WebhookSenderOptions options;
  options.base_delay = milliseconds(1000);
  options.max_delay = milliseconds(300000);
  options.jitter = 0.2;
  CHECK(backoff_delay(1, options, 0.5) == milliseconds(1000));
  CHECK(backoff_delay(2, options, 0.5) == milliseconds(2000));
  CHECK(backoff_delay(3, options, 0.5) == milliseconds(4000));
  CHECK(backoff_delay(9, options, 0.5) == milliseconds(256000));
  CHECK(backoff_delay(10, options, 0.5) == milliseconds(300000));
  CHECK(backoff_delay(4000000000u, options, 0.5) == milliseconds(300000));
  CHECK(backoff_delay(1, options, 0.0) == milliseconds(800));
  CHECK(backoff_delay(3, options, 0.999999) >= milliseconds(4799));
  CHECK(backoff_delay(20, options, 0.999999) == milliseconds(300000));  // never past the cap
  CHECK(backoff_delay(20, options, 0.0) == milliseconds(240000));
}

TEST_CASE("Retry-After is read as seconds or as an HTTP date", "[webhook][unit]") {
  const std::int64_t now = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  CHECK(parse_retry_after("120", now) == std::chrono::seconds(120));
  CHECK(parse_retry_after(" 0 ", now) == std::chrono::seconds(0));
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now) == std::chrono::seconds(30));
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now) == std::chrono::seconds(0));
  CHECK_FALSE(parse_retry_after("soon", now).has_value());
  CHECK_FALSE(parse_retry_after("", now).has_value());
  CHECK_FALSE(parse_retry_after("-5", now).has_value());
}
