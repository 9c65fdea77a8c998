#include "server/daemon.h"
#include "ingest/text_and_time.h"

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <ostream>

#include "drift/daemon/profile_file.h"
#include "drift/daemon/table.h"
#include "drift/gpu/gpu_backend.h"
#include "http/http_ingest_source.h"
#include "server/log.h"
#include "sources/file_source.h"
#include "sources/kafka_source.h"

namespace drift::daemon {

namespace {


std::unique_ptr<Source> make_source(const SourceConfig& source, const Config& config,
                                    HttpIngestSource*& http) {
  switch (source.type) {
    case SourceType::kKafka: return std::make_unique<KafkaSource>(source);
    case SourceType::kFile: return std::make_unique<FileSource>(source);
    case SourceType::kHttp: {
      auto ingest = std::make_unique<HttpIngestSource>(source, config.state.dir / "wal" / source.name,
                                                       config.server.auth_token);
      http = ingest.get();
      return ingest;
    }
  }
  throw ConfigError("sources: unknown type");
}

nlohmann::json report_json(const ModelReport& r) {
  nlohmann::json rejected = nlohmann::json::object();
  for (std::size_t k = 0; k < kRejectReasons; ++k) {
    rejected[std::string(to_string(static_cast<RejectReason>(k)))] = r.rejected_by_reason[k];
  }
  nlohmann::json model = {
      {"name", r.name},
      {"reference_rows", r.reference_rows},
      {"reference_ready", r.reference_ready},
      {"reference_origin", r.reference_origin},
      {"bootstrap_rows", r.bootstrap_rows},
      {"current_rows", r.current_rows},
      {"records_accepted", r.records_accepted},
      {"records_rejected", r.records_rejected},
      {"rejected_by_reason", rejected},
      {"rows_appended", r.window.appended},
      {"late_rows", r.window.late_rows},
      {"category_overflow", r.window.category_overflow},
      {"evaluations", r.evaluations},
      {"evaluations_skipped", r.evaluations_skipped + r.window.skipped_min_rows},
      {"evaluations_failed", r.evaluations_failed},
      {"last_error", r.last_error},
      {"last_evaluation_position", r.last_evaluation_position},
      {"last_evaluation_ms", r.last_evaluation_ms},
      {"version", r.version},
      {"version_changes", r.version_changes},
      {"reference_version", r.reference_version},
      {"alert", {{"state", exporters::state_name(r.alert_state)}, {"firing", r.alert_firing}}},
  };
  model["last_evaluation"] = r.last_evaluation_json.empty()
                                 ? nlohmann::json(nullptr)
                                 : nlohmann::json::parse(r.last_evaluation_json);
  return model;
}

}  // namespace

Daemon::Daemon(Config config) : config_(std::move(config)) {
  store_ = std::make_unique<CheckpointStore>(config_.state.dir);
  // GPU fallback warnings in the daemon's own log format.
  gpu::set_warning_sink([](std::string_view line) { log_line(LogLevel::kWarning, "gpu", line); });
  gpu::GpuOptions gpu_options;
  gpu_options.device = config_.gpu.device;
  gpu_options.memory_limit = config_.gpu.memory_limit;
  auto backend = gpu::select_backend(gpu::parse_backend_choice(config_.backend), gpu_options);
  const std::string backend_name(backend->name());
  pipeline_ = std::make_unique<Pipeline>(config_, std::move(backend), Pipeline::Options{});
  exports_ = std::make_unique<Exports>(config_, backend_name);
  pipeline_->set_observer(exports_.get());
  for (const auto& source : config_.sources) {
    HttpIngestSource* http = nullptr;
    sources_.push_back(make_source(source, config_, http));
    if (http != nullptr) http_sources_.emplace(source.name, http);
  }
  // Records no model can use go to a Kafka source's dead-letter topic when it has one.
  std::set<std::string, std::less<>> dead_letter_sources;
  std::map<std::string, KafkaSource*, std::less<>> kafka_sources;
  for (std::size_t k = 0; k < sources_.size(); ++k) {
    const SourceConfig& source = config_.sources[k];
    if (source.type == SourceType::kKafka) {
      static_cast<KafkaSource*>(sources_[k].get())
          ->set_headers_needed(source_needs_headers(config_, source.name));
    }
    if (source.type == SourceType::kKafka && !source.dead_letter_topic.empty()) {
      dead_letter_sources.insert(source.name);
      kafka_sources.emplace(source.name, static_cast<KafkaSource*>(sources_[k].get()));
    }
  }
  if (!dead_letter_sources.empty()) {
    pipeline_->set_dead_letter_sink(
        std::move(dead_letter_sources),
        [kafka_sources](std::string_view source, const RawRecord& record, RejectReason reason) {
          const auto it = kafka_sources.find(source);
          if (it != kafka_sources.end()) it->second->dead_letter(record.body, to_string(reason));
        });
  }
  HttpServer::Options options;
  options.listen = config_.server.listen;
  options.max_body_bytes = config_.server.max_body_bytes;
  options.threads = 4;
  // In-flight requests (a stalled scraper among them) get a third of the shutdown budget: the
  // rest is for the sources and the final checkpoint, before run_main's watchdog exits.
  options.shutdown_timeout =
      std::chrono::milliseconds(config_.server.shutdown_timeout.count() / 3);
  http_ = std::make_unique<HttpServer>(options);
}

Daemon::~Daemon() { stop(); }

std::string Daemon::address() const { return http_->address(); }

bool Daemon::authorized(const HttpRequest& request) const {
  if (config_.server.auth_token.empty()) return true;
  const std::string expected = "Bearer " + config_.server.auth_token;
  const std::string_view given = request.header("authorization");
  if (given.size() != expected.size()) return false;
  unsigned char diff = 0;  // constant time in the token's length
  for (std::size_t k = 0; k < given.size(); ++k) {
    diff = static_cast<unsigned char>(diff | (static_cast<unsigned char>(given[k]) ^
                                              static_cast<unsigned char>(expected[k])));
  }
  return diff == 0;
}

HttpResponse Daemon::handle_readyz() const {
  // A sidecar's readiness gates its model's Pod: by default nothing here depends on data or
  // on Kafka; a DaemonSet can ask for more with server.ready_requires.
  for (const auto& need : config_.server.ready_requires) {
    if (need == "references" && !pipeline_->references_ready()) {
      return HttpResponse::error(503, "references are not ready");
    }
    if (need == "sources") {
      for (const auto& source : sources_) {
        if (!source->status().connected) {
          return HttpResponse::error(503, "source '" + source->name() + "' is not connected");
        }
      }
    }
  }
  return HttpResponse::json(R"({"status":"ready"})");
}

HttpResponse Daemon::handle_status() const {
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& source : sources_) {
    const SourceStatus s = source->status();
    sources.push_back({{"name", s.name}, {"type", s.type}, {"connected", s.connected},
                       {"lag", s.lag}, {"records_received", s.records_received},
                       {"bytes_received", s.bytes_received}, {"records_dropped", s.records_dropped},
                       {"last_error", s.last_error}});
  }
  const auto unmatched = pipeline_->unmatched();
  nlohmann::json unmatched_json = nlohmann::json::object();
  for (std::size_t k = 0; k < kRejectReasons; ++k) {
    unmatched_json[std::string(to_string(static_cast<RejectReason>(k)))] = unmatched[k];
  }
  const std::int64_t last = last_checkpoint_ms_.load();
  nlohmann::json status = {
      {"version", DRIFT_VERSION},
      {"backend", config_.backend},
      {"sources", sources},
      {"references_ready", pipeline_->references_ready()},
      {"records_unmatched", unmatched_json},
      {"checkpoint", {{"last_ms", last},
                      {"age_seconds", last == 0 ? nlohmann::json(nullptr)
                                                : nlohmann::json(static_cast<double>(wall_clock_ms() - last) / 1000.0)}}},
  };
  return HttpResponse::json(status.dump());
}

HttpResponse Daemon::handle_models() const {
  nlohmann::json models = nlohmann::json::array();
  for (const auto& report : pipeline_->reports()) models.push_back(report_json(report));
  return HttpResponse::json(nlohmann::json{{"models", models}}.dump());
}

HttpResponse Daemon::handle_model(const HttpRequest& request) {
  // /v1/models/<model>/<what>
  const std::string_view prefix = "/v1/models/";
  std::string_view rest = std::string_view(request.path).substr(prefix.size());
  const std::size_t slash = rest.find('/');
  const std::string model(rest.substr(0, slash));
  const std::string_view what = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  if (request.method == "GET" && what == "window") {
    auto csv = pipeline_->window_csv(model);
    if (!csv) return HttpResponse::error(404, "unknown model '" + model + "'");
    HttpResponse response;
    response.content_type = "text/csv";
    response.body = std::move(*csv);
    return response;
  }
  if (request.method == "POST" && what == "reference") {
    if (!authorized(request)) return HttpResponse::error(401, "missing or wrong bearer token");
    const bool known = std::any_of(config_.models.begin(), config_.models.end(),
                                   [&](const ModelConfig& m) { return m.name == model; });
    if (!known) return HttpResponse::error(404, "unknown model '" + model + "'");
    try {
      if (request.body.empty()) {
        pipeline_->reset_reference(model);
        return HttpResponse::json(R"({"reference":"reset"})");
      }
      const std::string_view type = request.header("content-type");
      const bool jsonl = type.find("json") != std::string_view::npos;
      ReadOptions read;
      for (const auto& m : config_.models) {
        if (m.name != model) continue;
        for (const auto& f : m.features) read.expected_kinds[f.name] = f.kind;
      }
      const Table table = jsonl ? parse_jsonl(request.body, read, "request body")
                                : parse_csv(request.body, read, "request body");
      auto profile = pipeline_->profile_from_table(model, table);
      const auto path = api_reference_path(config_, model);
      std::filesystem::create_directories(path.parent_path());
      write_profile_file(path, *profile);
      const std::uint64_t rows = profile->rows();
      pipeline_->set_reference(model, std::move(profile), "api");
      return HttpResponse::json(nlohmann::json{{"reference_rows", rows}}.dump());
    } catch (const InputError& e) {
      return HttpResponse::error(400, e.what());
    } catch (const TableError& e) {
      return HttpResponse::error(400, e.what());
    }
  }
  return HttpResponse::error(404, "no such resource");
}

void Daemon::start() {
  pipeline_->load_references();
  if (auto payload = store_->read()) {
    try {
      pipeline_->restore(as_bytes(*payload));
      log_line(LogLevel::kInfo, "checkpoint", "restored " + store_->path().string());
    } catch (const FormatError& e) {
      log_line(LogLevel::kError, "checkpoint", std::string(e.what()) + "; starting empty");
    }
  }
  http_->route("GET", "/healthz", [](const HttpRequest&) {
    return HttpResponse::json(R"({"status":"ok"})");
  });
  http_->route("GET", "/readyz", [this](const HttpRequest&) { return handle_readyz(); });
  http_->route("GET", "/v1/status", [this](const HttpRequest&) { return handle_status(); });
  http_->route("GET", "/metrics", [this](const HttpRequest& request) {
    // Rendered into a string here; the server writes it with no lock of ours held, so a
    // scraper that stops reading stalls nothing but its own connection.
    auto rendered = exports_->scrape(*pipeline_, sources_, last_checkpoint_ms_.load(),
                                     request.header("accept-encoding"));
    HttpResponse response;
    response.content_type = std::string(rendered.content_type);
    response.body = std::move(rendered.body);
    if (rendered.gzip) response.headers.emplace_back("Content-Encoding", "gzip");
    response.headers.emplace_back("Vary", "Accept-Encoding");
    return response;
  });
  http_->route("GET", "/v1/models", [this](const HttpRequest& request) {
    return request.path == "/v1/models" || request.path == "/v1/models/" ? handle_models()
                                                                         : handle_model(request);
  });
  http_->route("POST", "/v1/models", [this](const HttpRequest& request) {
    return handle_model(request);
  });
  for (const auto& [name, source] : http_sources_) {
    HttpIngestSource* ingest = source;
    http_->route("POST", "/v1/ingest/" + name,
                 [ingest](const HttpRequest& request) { return ingest->handle(request); });
  }
  for (const auto& source : sources_) {
    source->start(*pipeline_, pipeline_->positions_of(source->name()));
  }
  exports_->start();
  http_->start();
  started_ = true;
  checkpointer_ = std::thread([this] {
    name_this_thread("checkpoint");
    checkpoint_loop();
  });
  log_line(LogLevel::kInfo, "server", "listening on http://" + address());
}

void Daemon::checkpoint() {
  const std::lock_guard lock(checkpoint_mutex_);
  std::vector<SourcePosition> positions;
  const std::string payload = pipeline_->capture(positions);
  store_->write(payload);
  last_checkpoint_ms_ = wall_clock_ms();
  exports_->metrics().set_last_checkpoint(last_checkpoint_ms_.load());
  for (const auto& source : sources_) {
    std::vector<SourcePosition> mine;
    for (const auto& p : positions) {
      if (p.source == source->name()) mine.push_back(p);
    }
    if (!mine.empty()) source->acknowledge(mine);
  }
}

void Daemon::checkpoint_loop() {
  std::unique_lock lock(timer_mutex_);
  while (!timer_changed_.wait_for(lock, config_.state.checkpoint_interval,
                                  [this] { return stopping_; })) {
    lock.unlock();
    try {
      checkpoint();
    } catch (const std::exception& e) {
      log_line(LogLevel::kError, "checkpoint", e.what());
    }
    lock.lock();
  }
}

void Daemon::reload_references() { pipeline_->reload_references(); }

void Daemon::stop() {
  if (!started_) return;
  started_ = false;
  {
    const std::lock_guard lock(timer_mutex_);
    stopping_ = true;
  }
  timer_changed_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  http_->stop();
  for (const auto& source : sources_) source->stop();
  try {
    checkpoint();
  } catch (const std::exception& e) {
    log_line(LogLevel::kError, "checkpoint", std::string("final checkpoint failed: ") + e.what());
  }
  exports_->stop();
  log_line(LogLevel::kInfo, "server", "stopped");
}

int run_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  std::string config_path;
  for (std::size_t k = 0; k < args.size(); ++k) {
    if (args[k] == "--config" && k + 1 < args.size()) {
      config_path = args[++k];
    } else {
      err << "usage: driftd run --config FILE\n";
      return 2;
    }
  }
  if (config_path.empty()) {
    err << "usage: driftd run --config FILE\n";
    return 2;
  }
  // Signals are taken synchronously by this thread; every thread started below inherits the
  // mask, so none of them is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::unique_ptr<Daemon> daemon;
  Duration shutdown_timeout{10000};
  try {
    Config config = load_config(config_path);
    shutdown_timeout = config.server.shutdown_timeout;
    daemon = std::make_unique<Daemon>(std::move(config));
    daemon->start();
  } catch (const std::exception& e) {
    err << "driftd run: " << e.what() << "\n";
    return 1;
  }
  out << "driftd listening on http://" << daemon->address() << std::endl;
  for (;;) {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) continue;
    if (signal == SIGHUP) {
      daemon->reload_references();
      continue;
    }
    break;
  }
  // Past the deadline, leave anyway: Kubernetes would kill us a little later regardless.
  std::thread watchdog([shutdown_timeout] {
    std::this_thread::sleep_for(shutdown_timeout);
    log_line(LogLevel::kError, "server", "shutdown_timeout reached; exiting now");
    std::_Exit(1);
  });
  watchdog.detach();
  daemon->stop();
  daemon.reset();
  return 0;
}

}  // namespace drift::daemon
