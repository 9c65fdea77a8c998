#pragma once
/// The composition root of `driftd run`: the only place that knows about threads, sources,
/// the HTTP server and the checkpoint timer (ARCHITECTURE.md, Threads).

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "http/http_server.h"
#include "server/exports.h"
#include "server/pipeline.h"
#include "sources/source.h"
#include "state/checkpoint_store.h"

namespace drift::daemon {

class HttpIngestSource;

class Daemon {
 public:
  /// Builds every component and binds the HTTP port; throws ConfigError or
  /// std::runtime_error (a port in use, an unwritable state.dir) — fatal at start-up.
  explicit Daemon(Config config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  /// Loads references, restores the checkpoint, starts the HTTP server, the sources and the
  /// checkpoint timer.
  void start();
  /// Graceful stop: no new requests, sources stop after their last batch, a final checkpoint,
  /// offsets acknowledged. Idempotent.
  void stop();
  /// Writes a checkpoint now and acknowledges the positions it covers.
  void checkpoint();
  /// SIGHUP: re-reads file references.
  void reload_references();

  /// "host:port" the HTTP server listens on.
  std::string address() const;
  Pipeline& pipeline() { return *pipeline_; }

 private:
  HttpResponse handle_readyz() const;
  HttpResponse handle_status() const;
  HttpResponse handle_models() const;
  HttpResponse handle_model(const HttpRequest& request);
  bool authorized(const HttpRequest& request) const;
  void checkpoint_loop();

  Config config_;
  std::unique_ptr<Exports> exports_;  // declared first: outlives the pipeline that calls it
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<CheckpointStore> store_;
  std::vector<std::unique_ptr<Source>> sources_;
  std::map<std::string, HttpIngestSource*, std::less<>> http_sources_;
  std::unique_ptr<HttpServer> http_;

  std::mutex checkpoint_mutex_;
  std::atomic<std::int64_t> last_checkpoint_ms_{0};
  std::mutex timer_mutex_;
  std::condition_variable timer_changed_;
  bool stopping_ = false;
  bool started_ = false;
  std::thread checkpointer_;
};

/// `driftd run --config FILE`: runs until SIGTERM/SIGINT, reloads references on SIGHUP.
int run_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

}  // namespace drift::daemon
