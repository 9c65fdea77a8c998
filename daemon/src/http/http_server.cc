#include "http/http_server.h"
#include "ingest/text_and_time.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace drift::daemon {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

HttpResponse HttpResponse::error(int status, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body = nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                          nlohmann::json::error_handler_t::replace);
  return response;
}

HttpResponse HttpResponse::json(std::string body, int status) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

namespace {

constexpr std::uint32_t kHeaderLimit = 64u << 10;
/// How long a closing connection keeps reading (and discarding) what the client still sends,
/// so that the client sees our error response instead of a connection reset.
constexpr std::chrono::seconds kLingerTime{2};
constexpr std::size_t kLingerBytes = 8u << 20;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

/// "host:port", "[v6]:port" or ":port" → endpoint; throws with the reason.
tcp::endpoint parse_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("expected host:port");
  std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned long port = 0;
  try {
    std::size_t used = 0;
    port = std::stoul(port_text, &used);
    if (used != port_text.size() || port > 65535) throw std::invalid_argument("port");
  } catch (const std::exception&) {
    throw std::runtime_error("invalid port '" + port_text + "'");
  }
  if (host.empty()) host = "0.0.0.0";
  boost::system::error_code ec;
  const auto address = net::ip::make_address(host, ec);
  if (!ec) return {address, static_cast<std::uint16_t>(port)};
  // A host name: resolve it (passive, first result).
  net::io_context resolver_context;
  tcp::resolver resolver(resolver_context);
  const auto results = resolver.resolve(host, port_text, ec);
  if (ec || results.empty()) {
    throw std::runtime_error("cannot resolve '" + host + "': " + ec.message());
  }
  return results.begin()->endpoint();
}

std::string endpoint_text(const tcp::endpoint& endpoint) {
  std::string host = endpoint.address().to_string();
  if (endpoint.address().is_v6()) {
    host.insert(0, 1, '[');
    host.push_back(']');
  }
  host.push_back(':');
  host += std::to_string(endpoint.port());
  return host;
}

struct Route {
  std::string method;
  std::string prefix;
  HttpHandler handler;
};

bool prefix_matches(std::string_view prefix, std::string_view path) {
  if (path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || (!prefix.empty() && prefix.back() == '/') ||
         path[prefix.size()] == '/';
}

std::string_view sv(beast::string_view text) { return {text.data(), text.size()}; }

class Session;

/// Everything the server's threads share; HttpServer::Impl is just this.
struct ServerCore {
  explicit ServerCore(HttpServer::Options opts)
      : options(std::move(opts)), acceptor(net::make_strand(ioc)) {}

  HttpResponse dispatch(const HttpRequest& request) const;
  void do_accept();
  void register_session(Session* session, std::weak_ptr<Session> weak);
  void unregister_session(Session* session);

  HttpServer::Options options;
  std::vector<Route> routes;
  // Declared before the io_context: sessions destroyed with it still unregister here.
  std::mutex mu;
  std::condition_variable sessions_done;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  std::atomic<bool> stopping{false};
  bool started = false;
  bool stopped = false;

  net::io_context ioc;
  tcp::acceptor acceptor;
  tcp::endpoint bound;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::optional<net::steady_timer> accept_retry;
  std::vector<std::thread> threads;
};

/// One connection: reads requests one after another (keep-alive), runs the handler on the
/// connection's strand, writes the response.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ServerCore& server) : stream_(std::move(socket)), server_(server) {}
  ~Session() { server_.unregister_session(this); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void run() {
    server_.register_session(this, weak_from_this());
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
  }

  /// Posted by HttpServer::stop(): an idle connection closes now, a busy one after its response.
  void shutdown() {
    closing_ = true;
    if (!busy_) {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      stream_.close();
    }
  }

  net::any_io_executor executor() { return stream_.get_executor(); }

 private:
  void read_header() {
    busy_ = false;
    if (closing_ || server_.stopping) return close();
    parser_.emplace();
    parser_->body_limit(server_.options.max_body_bytes);
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(server_.options.idle_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    busy_ = true;
    const auto& req = parser_->get();
    if (iequals(sv(req[http::field::expect]), "100-continue")) {
      continue_.emplace(http::status::continue_, req.version());
      http::async_write(stream_, *continue_,
                        [self = shared_from_this()](beast::error_code wec, std::size_t) {
                          if (wec) return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(server_.options.idle_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_body(ec); });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return send_error(413, "request body larger than " +
                                 std::to_string(server_.options.max_body_bytes) + " bytes");
    }
    if (ec == http::error::header_limit) {
      return send_error(431,
                        "request header larger than " + std::to_string(kHeaderLimit) + " bytes");
    }
    // The client went away, timed out or we are closing: nothing to answer.
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        ec.category() != http::make_error_code(http::error::bad_method).category()) {
      return close();
    }
    send_error(400, "malformed HTTP request: " + ec.message());
  }

  /// An error response after which the connection closes (the request was not read whole).
  void send_error(int status, const std::string& message) {
    busy_ = true;
    const HttpResponse response = HttpResponse::error(status, message);
    write(response, 11, false, true);
  }

  void on_body(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    auto message = parser_->release();
    HttpRequest request;
    request.method = std::string(sv(message.method_string()));
    const std::string_view target = sv(message.target());
    const auto question = target.find('?');
    request.path = std::string(target.substr(0, question));
    if (question != std::string_view::npos)
      request.query = std::string(target.substr(question + 1));
    request.headers.reserve(
        static_cast<std::size_t>(std::distance(message.begin(), message.end())));
    for (const auto& field : message) {
      request.headers.emplace_back(lower(sv(field.name_string())), std::string(sv(field.value())));
    }
    request.body = std::move(message.body());

    HttpResponse response;
    if (request.path.empty() || request.path.front() != '/') {
      response = HttpResponse::error(400, "request target must be an absolute path");
    } else {
      try {
        response = server_.dispatch(request);
      } catch (const std::exception& e) {
        response = HttpResponse::error(500, std::string("internal error: ") + e.what());
      } catch (...) {
        response = HttpResponse::error(500, "internal error");
      }
    }
    const bool keep_alive = message.keep_alive() && !closing_ && !server_.stopping;
    write(response, message.version(), keep_alive, false);
  }

  void write(const HttpResponse& response, unsigned version, bool keep_alive, bool linger) {
    response_.emplace();
    auto& res = *response_;
    res.version(version);
    res.result(static_cast<unsigned>(response.status));
    res.set(http::field::server, "driftd");
    if (!response.content_type.empty()) res.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) res.insert(name, value);
    res.body() = response.body;
    res.keep_alive(keep_alive);
    res.prepare_payload();
    stream_.expires_after(server_.options.idle_timeout);
    http::async_write(
        stream_, res,
        [self = shared_from_this(), keep_alive, linger](beast::error_code ec, std::size_t) {
          self->response_.reset();
          if (ec) return self->close();
          if (linger) return self->linger();
          if (!keep_alive) return self->close();
          self->read_header();
        });
  }

  /// Half-closes, then drains what the client still sends for a short while before closing.
  void linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    stream_.expires_after(kLingerTime);
    drain();
  }

  void drain() {
    stream_.async_read_some(net::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > kLingerBytes) return self->close();
                              self->drain();
                            });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  ServerCore& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> response_;
  std::array<char, 16384> drain_buffer_{};
  std::size_t drained_ = 0;
  bool busy_ = false;     ///< a request is being read (past its header), handled or answered
  bool closing_ = false;  ///< the server is stopping: no further requests on this connection
};

HttpResponse ServerCore::dispatch(const HttpRequest& request) const {
  std::size_t best = 0;
  bool found = false;
  for (const auto& route : routes) {
    if (prefix_matches(route.prefix, request.path) && (!found || route.prefix.size() > best)) {
      best = route.prefix.size();
      found = true;
    }
  }
  if (!found) return HttpResponse::error(404, "no such path: " + request.path);
  std::string allowed;
  for (const auto& route : routes) {
    if (route.prefix.size() != best || !prefix_matches(route.prefix, request.path)) continue;
    if (route.method == request.method) return route.handler(request);
    if (!allowed.empty()) allowed += ", ";
    allowed += route.method;
  }
  HttpResponse response =
      HttpResponse::error(405, "method " + request.method + " not allowed on " + request.path);
  response.headers.emplace_back("Allow", allowed);
  return response;
}

void ServerCore::do_accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors or a similar transient failure: back off instead of spinning.
      accept_retry.emplace(acceptor.get_executor(), std::chrono::milliseconds(100));
      accept_retry->async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && acceptor.is_open()) do_accept();
      });
      return;
    }
    if (stopping) return;
    std::make_shared<Session>(std::move(socket), *this)->run();
    do_accept();
  });
}

void ServerCore::register_session(Session* session, std::weak_ptr<Session> weak) {
  std::lock_guard lock(mu);
  sessions.emplace(session, std::move(weak));
}

void ServerCore::unregister_session(Session* session) {
  std::lock_guard lock(mu);
  sessions.erase(session);
  if (sessions.empty()) sessions_done.notify_all();
}

}  // namespace

struct HttpServer::Impl : ServerCore {
  using ServerCore::ServerCore;
};

HttpServer::HttpServer(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {
  if (impl_->options.threads < 1) impl_->options.threads = 1;
  const std::string& listen = impl_->options.listen;
  try {
    const tcp::endpoint endpoint = parse_listen(listen);
    auto& acceptor = impl_->acceptor;
    acceptor.open(endpoint.protocol());
    acceptor.set_option(net::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(net::socket_base::max_listen_connections);
    impl_->bound = acceptor.local_endpoint();
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on " + listen + ": " + e.what());
  }
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(std::string method, std::string path_prefix, HttpHandler handler) {
  impl_->routes.push_back({std::move(method), std::move(path_prefix), std::move(handler)});
}

void HttpServer::start() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->started || impl_->stopped) return;
    impl_->started = true;
  }
  impl_->work.emplace(impl_->ioc.get_executor());
  net::dispatch(impl_->acceptor.get_executor(), [impl = impl_.get()] { impl->do_accept(); });
  for (int i = 0; i < impl_->options.threads; ++i) {
    impl_->threads.emplace_back([impl = impl_.get()] {
      name_this_thread("http");
      impl->ioc.run();
    });
  }
}

void HttpServer::stop() {
  Impl& impl = *impl_;
  {
    std::lock_guard lock(impl.mu);
    if (impl.stopped) return;
    impl.stopped = true;
  }
  impl.stopping = true;
  if (impl.threads.empty()) {
    beast::error_code ec;
    impl.acceptor.close(ec);
    return;
  }
  net::post(impl.acceptor.get_executor(), [&impl] {
    beast::error_code ec;
    impl.acceptor.close(ec);
    if (impl.accept_retry) impl.accept_retry->cancel();
  });
  std::vector<std::shared_ptr<Session>> alive;
  {
    std::lock_guard lock(impl.mu);
    for (const auto& [session, weak] : impl.sessions) {
      if (auto strong = weak.lock()) alive.push_back(std::move(strong));
    }
  }
  // Outside the lock: dropping the last reference here runs ~Session, which takes it.
  for (auto& session : alive) {
    net::post(session->executor(), [session] { session->shutdown(); });
  }
  alive.clear();
  {
    std::unique_lock lock(impl.mu);
    impl.sessions_done.wait_for(lock, impl.options.shutdown_timeout,
                                [&impl] { return impl.sessions.empty(); });
  }
  impl.work.reset();
  impl.ioc.stop();
  for (auto& thread : impl.threads) thread.join();
  impl.threads.clear();
}

std::uint16_t HttpServer::port() const { return impl_->bound.port(); }

std::string HttpServer::address() const { return endpoint_text(impl_->bound); }

}  // namespace drift::daemon
