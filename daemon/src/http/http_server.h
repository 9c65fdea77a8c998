#pragma once
/// The daemon's one HTTP port (Boost.Beast over Asio): health, status, models, ingest, control,
/// and later /metrics. Beast types stay inside http/; handlers see these plain structs.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace drift::daemon {

struct HttpRequest {
  std::string method;  ///< "GET", "POST", ...
  std::string path;    ///< target without the query string
  std::string query;   ///< after '?', without it
  std::vector<std::pair<std::string, std::string>> headers;  ///< names lower-case, in order
  std::string body;

  /// The first header with this (lower-case) name, or empty.
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra response headers

  /// {"error": "<message>"} with the given status.
  static HttpResponse error(int status, std::string_view message);
  static HttpResponse json(std::string body, int status = 200);
};

/// Runs on one of the server's threads; may block briefly (e.g. a write-ahead log fsync).
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

/// A small multi-threaded HTTP/1.1 server with keep-alive. Routes match by method and path
/// prefix (the longest prefix wins); unknown paths get 404, a known path with another method
/// 405, bodies over the limit 413 (before they are read whole).
class HttpServer {
 public:
  struct Options {
    std::string listen = "127.0.0.1:0";  ///< host:port; port 0 picks a free port
    std::uint64_t max_body_bytes = 16u << 20;
    int threads = 2;
    /// An idle keep-alive connection (or one that stalls mid-request) is closed after this.
    std::chrono::milliseconds idle_timeout{60000};
    /// stop() waits at most this long for in-flight requests before closing them.
    std::chrono::milliseconds shutdown_timeout{10000};
  };

  /// Binds the listening socket now (so port() is known and bind errors surface at start-up);
  /// throws std::runtime_error with the address and the reason.
  explicit HttpServer(Options options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Registers a handler; call before start(). A prefix matches at a segment boundary:
  /// "/v1/ingest/a" matches "/v1/ingest/a" and "/v1/ingest/a/x" but not "/v1/ingest/ab"; a
  /// prefix ending in '/' matches every path that starts with it.
  void route(std::string method, std::string path_prefix, HttpHandler handler);
  /// Starts accepting on the server's threads.
  void start();
  /// Stops accepting, finishes in-flight requests (bounded by Options::shutdown_timeout), closes
  /// idle keep-alive connections, joins the threads. Idempotent; never call it from a handler.
  void stop();
  std::uint16_t port() const;
  /// "host:port" actually bound.
  std::string address() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace drift::daemon
