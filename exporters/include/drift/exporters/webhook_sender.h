#pragma once
/// Delivers retraining events from the persistent outbox to their webhooks.
///
/// enqueue() renders the event's body for each configured webhook and persists it in the
/// outbox before any attempt. One worker thread per webhook (so a slow receiver delays only its
/// own deliveries) posts that webhook's due items, oldest due first, one at a time, over
/// HTTP/1.1 or HTTPS (peer verified against ca_file or the system store, SNI), signed in both
/// styles (webhook_signing.h) with the attempt's timestamp; webhook-id is the event id on every
/// attempt. Outcomes:
///   - 2xx: delivered, the file is deleted;
///   - connection or TLS error, timeout, 408, 429, 5xx: retried after
///     backoff_delay(attempts) or the Retry-After header, whichever is later, until
///     max_attempts attempts have failed, then dead-lettered;
///   - any other status (3xx, other 4xx): dead-lettered at once.
/// Deliveries whose webhook is no longer configured are dead-lettered at start().
///
/// Counters are running totals since construction (the metrics layer turns them into counters).
/// All public methods are thread-safe.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drift/exporters/webhook_config.h"
#include "drift/exporters/webhook_event.h"

namespace drift::exporters {

class WebhookOutbox;

/// Running totals of one webhook. Every attempt ends in exactly one of delivered, retried or
/// dead-lettered; failed_4xx counts the dead letters caused by a non-retryable status.
struct WebhookCounters {
  std::uint64_t attempts = 0;
  std::uint64_t delivered = 0;
  std::uint64_t retried = 0;        ///< failed attempts that will be retried
  std::uint64_t dead_lettered = 0;  ///< deliveries given up (failed_4xx included)
  std::uint64_t failed_4xx = 0;     ///< given up at once on a non-retryable 3xx/4xx status
};

struct WebhookSenderOptions {
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  /// Wall clock for scheduling, webhook-timestamp and created times; system_clock when empty.
  Clock clock;
  /// Backoff before retry n (n = attempts failed so far): base * 2^(n-1), capped at max_delay,
  /// then scaled by a random factor in [1 - jitter, 1 + jitter] (capped at max_delay again).
  std::chrono::milliseconds base_delay{1000};
  std::chrono::milliseconds max_delay{300000};
  double jitter = 0.2;
  /// A Retry-After longer than this is cut to it.
  std::chrono::milliseconds max_retry_after{3600000};
  /// Seed of the jitter; 0 = from std::random_device.
  std::uint64_t seed = 0;
  /// How often an idle or waiting worker re-reads `clock` (a test clock that jumps is noticed
  /// within this); enqueue() wakes workers at once.
  std::chrono::milliseconds poll_interval{1000};
  /// One line per notable event (dead letter, retry, set-aside file); stderr when empty. The
  /// daemon passes its rate-limited logger.
  std::function<void(std::string_view)> log;
};

/// The delay before the next attempt after `failed_attempts` (>= 1) failures; `u` in [0, 1)
/// draws the jitter (0.5 = none).
std::chrono::milliseconds backoff_delay(std::uint32_t failed_attempts,
                                        const WebhookSenderOptions& options, double u);

/// A Retry-After value: delta-seconds, or an HTTP-date relative to `now_s` (Unix seconds).
/// nullopt when it is neither; a date in the past gives 0.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::int64_t now_s);

class WebhookSender {
 public:
  using Options = WebhookSenderOptions;

  /// Validates every webhook (std::invalid_argument "webhooks[<name>].<field>: ...", also for
  /// duplicate names), loads their TLS trust anchors (std::runtime_error naming a bad ca_file)
  /// and opens the outbox in `outbox_dir` (WebhookOutbox). Sends nothing before start().
  WebhookSender(std::vector<WebhookConfig> webhooks, std::filesystem::path outbox_dir,
                Options options = {});
  /// Calls stop().
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  /// Starts the workers (once; later calls do nothing).
  void start();
  /// Stops the workers, interrupting attempts in flight (they stay pending, not counted).
  /// Idempotent; the sender cannot be restarted.
  void stop();

  /// Renders and persists the event for each webhook that wants it (FIRING: all;
  /// RESOLVED: send_resolved ones); returns how many deliveries were newly enqueued (one
  /// already pending for the same webhook and event id is kept as is). May be called before
  /// start(). Throws std::runtime_error when the outbox cannot be written.
  std::size_t enqueue(const DriftEvent& event);

  /// Running totals by webhook name (every configured webhook present, possibly all zero;
  /// plus names of dead-lettered unconfigured deliveries).
  std::map<std::string, WebhookCounters> counters() const;
  /// Pending deliveries in the outbox.
  std::size_t outbox_depth() const;
  /// Dead letters in the outbox's dead/ folder.
  std::size_t dead_letter_depth() const;

  WebhookOutbox& outbox();
  const std::vector<WebhookConfig>& webhooks() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace drift::exporters
