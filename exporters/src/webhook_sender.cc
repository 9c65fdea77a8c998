#include "drift/exporters/webhook_sender.h"

#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <ctime>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

#include "drift/exporters/webhook_outbox.h"
#include "drift/exporters/webhook_signing.h"
#include "webhook_http.h"
#include "webhook_url.h"

namespace drift::exporters {

namespace {

using std::chrono::milliseconds;

std::int64_t to_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

bool retryable_status(int status) { return status == 408 || status == 429 || status >= 500; }

}  // namespace

milliseconds backoff_delay(std::uint32_t failed_attempts, const WebhookSenderOptions& options,
                           double u) {
  const double base = static_cast<double>(std::max<std::int64_t>(options.base_delay.count(), 0));
  const double cap = static_cast<double>(std::max<std::int64_t>(options.max_delay.count(), 0));
  const std::uint32_t doublings = failed_attempts == 0 ? 0 : std::min(failed_attempts - 1, 62u);
  const double nominal = std::min(cap, std::ldexp(base, static_cast<int>(doublings)));
  const double jitter = std::clamp(options.jitter, 0.0, 1.0);
  const double factor = 1.0 + jitter * (2.0 * std::clamp(u, 0.0, 1.0) - 1.0);
  return milliseconds(static_cast<std::int64_t>(std::min(cap, nominal * factor)));
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::int64_t now_s) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 12) return std::chrono::seconds(999999999999);
    std::int64_t s = 0;
    for (const char c : value) s = s * 10 + (c - '0');
    return std::chrono::seconds(s);
  }
  // IMF-fixdate, the form RFC 9110 requires senders to use: "Sun, 06 Nov 1994 08:49:37 GMT".
  const std::string text(value);
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const std::int64_t at = ::timegm(&tm);
  return std::chrono::seconds(std::max<std::int64_t>(0, at - now_s));
}

struct WebhookSender::Impl {
  struct Worker {
    const WebhookConfig* config = nullptr;
    std::unique_ptr<WebhookHttpClient> client;
    std::thread thread;
  };

  Impl(std::vector<WebhookConfig> configs, std::filesystem::path dir, Options opts)
      : options(std::move(opts)),
        webhooks(std::move(configs)),
        outbox(std::move(dir), [this](std::string_view line) { log(line); }) {}

  std::chrono::system_clock::time_point now() const {
    return options.clock ? options.clock() : std::chrono::system_clock::now();
  }

  void log(std::string_view line) const {
    if (options.log) {
      options.log(line);
    } else {
      std::cerr << line << '\n';
    }
  }

  void run(Worker& worker);
  void attempt(Worker& worker, OutboxItem item);
  void give_up(OutboxItem& item, bool rejected);

  Options options;
  std::vector<WebhookConfig> webhooks;
  WebhookOutbox outbox;
  std::vector<std::unique_ptr<Worker>> workers;

  mutable std::mutex mutex;  ///< guards everything below
  std::condition_variable wake;
  bool started = false;
  bool stopping = false;
  std::uint64_t generation = 0;  ///< bumped by enqueue() so waiting workers look again
  std::map<std::string, WebhookCounters> counters;
  std::mt19937_64 rng;
};

void WebhookSender::Impl::run(Worker& worker) {
  const std::string& name = worker.config->name;
  for (;;) {
    std::uint64_t seen = 0;
    {
      std::lock_guard lock(mutex);
      if (stopping) return;
      seen = generation;
    }
    milliseconds wait = options.poll_interval;
    try {
      const std::optional<OutboxItem> item = outbox.next(name);
      const std::int64_t now_ms = to_ms(now());
      if (item && item->next_attempt_ms <= now_ms) {
        attempt(worker, *item);
        continue;
      }
      if (item) wait = std::min(wait, milliseconds(item->next_attempt_ms - now_ms));
    } catch (const std::exception& e) {
      // The outbox could not be written (disk full, permissions): try again after a pause.
      log("webhook " + name + ": " + e.what());
    }
    std::unique_lock lock(mutex);
    wake.wait_for(lock, std::max(wait, milliseconds(1)),
                  [&] { return stopping || generation != seen; });
  }
}

void WebhookSender::Impl::give_up(OutboxItem& item, bool rejected) {
  outbox.dead_letter(item);
  {
    std::lock_guard lock(mutex);
    WebhookCounters& c = counters[item.webhook];
    ++c.dead_lettered;
    if (rejected) ++c.failed_4xx;
  }
  log("webhook " + item.webhook + ": event " + item.event_id + " dead-lettered after " +
      std::to_string(item.attempts) + " attempt(s): " + item.last_error);
}

void WebhookSender::Impl::attempt(Worker& worker, OutboxItem item) {
  const WebhookConfig& config = *worker.config;
  const std::int64_t timestamp =
      std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
  std::vector<std::pair<std::string, std::string>> headers = config.headers;
  headers.emplace_back("Content-Type", "application/json");
  headers.emplace_back("webhook-id", item.event_id);
  headers.emplace_back("webhook-timestamp", std::to_string(timestamp));
  if (!config.secret.empty()) {
    headers.emplace_back("X-Hub-Signature-256", github_signature(config.secret, item.body));
    headers.emplace_back("webhook-signature", standard_webhooks_signature(
                                                  config.secret, item.event_id, timestamp, item.body));
  }

  const HttpAttemptResult result = worker.client->post(item.body, headers);
  if (result.kind == HttpAttemptResult::Kind::kCancelled) return;  // stop(): stays pending

  ++item.attempts;
  {
    std::lock_guard lock(mutex);
    ++counters[config.name].attempts;
  }
  const bool response = result.kind == HttpAttemptResult::Kind::kResponse;
  if (response && result.status >= 200 && result.status < 300) {
    outbox.remove(item);
    std::lock_guard lock(mutex);
    ++counters[config.name].delivered;
    return;
  }
  item.last_error = response ? "HTTP " + std::to_string(result.status) : result.error;
  if (response && !retryable_status(result.status)) return give_up(item, true);
  if (item.attempts >= config.max_attempts) return give_up(item, false);

  const auto after = now();
  double u = 0.5;
  {
    std::lock_guard lock(mutex);
    u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  }
  milliseconds delay = backoff_delay(item.attempts, options, u);
  if (response && !result.retry_after.empty()) {
    const auto asked = parse_retry_after(
        result.retry_after,
        std::chrono::duration_cast<std::chrono::seconds>(after.time_since_epoch()).count());
    if (asked) {
      const milliseconds honoured =
          std::min<milliseconds>(options.max_retry_after,
                                 std::chrono::duration_cast<milliseconds>(
                                     std::min(*asked, std::chrono::seconds(1LL << 40))));
      delay = std::max(delay, honoured);
    }
  }
  item.next_attempt_ms = to_ms(after) + delay.count();
  outbox.reschedule(item);
  {
    std::lock_guard lock(mutex);
    ++counters[config.name].retried;
  }
  log("webhook " + config.name + ": event " + item.event_id + " attempt " +
      std::to_string(item.attempts) + " failed (" + item.last_error + "), retry in " +
      std::to_string(delay.count()) + " ms");
}

WebhookSender::WebhookSender(std::vector<WebhookConfig> webhooks,
                             std::filesystem::path outbox_dir, Options options) {
  std::set<std::string, std::less<>> names;
  for (const WebhookConfig& config : webhooks) {
    try {
      validate_webhook_config(config);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("webhooks[" + config.name + "]." + e.what());
    }
    if (!names.insert(config.name).second) {
      throw std::invalid_argument("webhooks[" + config.name + "].name: used twice");
    }
  }
  impl_ = std::make_unique<Impl>(std::move(webhooks), std::move(outbox_dir), std::move(options));
  std::uint64_t seed = impl_->options.seed;
  if (seed == 0) seed = (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  impl_->rng.seed(seed);
  for (const WebhookConfig& config : impl_->webhooks) {
    auto worker = std::make_unique<Impl::Worker>();
    worker->config = &config;
    worker->client = std::make_unique<WebhookHttpClient>(
        parse_webhook_url(webhook_request_url(config)), config.timeout, config.ca_file);
    impl_->workers.push_back(std::move(worker));
    impl_->counters[config.name];
  }
}

WebhookSender::~WebhookSender() { stop(); }

void WebhookSender::start() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->started || impl_->stopping) return;
    impl_->started = true;
  }
  for (OutboxItem item : impl_->outbox.pending()) {
    const bool configured = std::any_of(impl_->webhooks.begin(), impl_->webhooks.end(),
                                        [&](const auto& w) { return w.name == item.webhook; });
    if (configured) continue;
    item.last_error = "webhook \"" + item.webhook + "\" is no longer configured";
    try {
      impl_->give_up(item, false);
    } catch (const std::exception& e) {
      impl_->log("webhook " + item.webhook + ": " + e.what());
    }
  }
  for (auto& worker : impl_->workers) {
    Impl::Worker* w = worker.get();
    w->thread = std::thread([this, w] {
      pthread_setname_np(pthread_self(), "webhook");  // shown by top -H and ps -L
      impl_->run(*w);
    });
  }
}

void WebhookSender::stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  for (auto& worker : impl_->workers) worker->client->cancel();
  for (auto& worker : impl_->workers) {
    if (worker->thread.joinable()) worker->thread.join();
  }
}

std::size_t WebhookSender::enqueue(const DriftEvent& event) {
  const std::int64_t now_ms = to_ms(impl_->now());
  std::size_t added = 0;
  for (const WebhookConfig& config : impl_->webhooks) {
    if (event.kind == AlertEventKind::kResolved && !config.send_resolved) continue;
    OutboxItem item;
    item.event_id = event.id;
    item.webhook = config.name;
    item.body = render_body(config, event);
    item.next_attempt_ms = now_ms;
    item.created_ms = now_ms;
    if (impl_->outbox.enqueue(item)) ++added;
  }
  {
    std::lock_guard lock(impl_->mutex);
    ++impl_->generation;
  }
  impl_->wake.notify_all();
  return added;
}

std::map<std::string, WebhookCounters> WebhookSender::counters() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->counters;
}

std::size_t WebhookSender::outbox_depth() const { return impl_->outbox.depth(); }

std::size_t WebhookSender::dead_letter_depth() const { return impl_->outbox.dead_letters(); }

WebhookOutbox& WebhookSender::outbox() { return impl_->outbox; }

const std::vector<WebhookConfig>& WebhookSender::webhooks() const { return impl_->webhooks; }

}  // namespace drift::exporters
