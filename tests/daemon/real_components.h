#pragma once
/// Real components around a real `driftd run` (driftd_process.h) for end-to-end tests:
/// Prometheus and Alertmanager (Debian's binaries, each on a port the OS picks, read back from
/// its log) and a webhook sink that records what Alertmanager posts. Every wait has a deadline
/// and a failure prints the logs of everything involved.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "exposition.h"
#include "http_client.h"
#include "process.h"

namespace drift::test::e2e {

using drift::test::find_program;
using drift::test::url_encode;

/// The last `n` bytes of a text (logs can be long; the end is what explains a failure).
inline std::string tail(const std::string& text, std::size_t n = 4000) {
  return text.size() <= n ? text : "[...]" + text.substr(text.size() - n);
}

/// One time budget for a whole test: every wait takes what is left, so a stuck test fails
/// within the budget however many steps it has.
class Deadline {
 public:
  explicit Deadline(std::chrono::seconds budget)
      : end_(std::chrono::steady_clock::now() + budget) {}
  std::chrono::milliseconds left() const {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        end_ - std::chrono::steady_clock::now()));
  }

 private:
  std::chrono::steady_clock::time_point end_;
};

/// Polls `done` every 100 ms (not 20: Prometheus queries are not free on a loaded CI machine)
/// until it holds or the deadline passes; then fails with `what` and `context()` (logs).
inline void eventually(const Deadline& deadline, const std::string& what,
                       const std::function<bool()>& done,
                       const std::function<std::string()>& context) {
  const auto started = std::chrono::steady_clock::now();
  while (true) {
    if (done()) return;
    if (deadline.left().count() == 0) break;
    std::this_thread::sleep_for(std::min(deadline.left(), std::chrono::milliseconds(100)));
  }
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  std::string details;
  try {
    details = context();
  } catch (const std::exception& e) {
    details = std::string("(context unavailable: ") + e.what() + ")";
  }
  FAIL("timed out after " << waited.count() << " ms waiting for: " << what << "\n" << details);
}

/// A child process that logs `msg="Listening on" address=127.0.0.1:PORT` (Prometheus and
/// Alertmanager started with --web.listen-address=127.0.0.1:0): no port race.
class ListeningProgram {
 public:
  ListeningProgram(std::string name, const std::vector<std::string>& argv, const std::string& dir,
                   const Deadline& deadline)
      : name_(std::move(name)), log_(dir + "/" + name_ + ".log") {
    process_ = std::make_unique<ChildProcess>(argv, dir + "/" + name_ + ".out", log_);
    const std::regex listening(R"(msg="Listening on" address=127\.0\.0\.1:(\d+))");
    eventually(
        deadline, name_ + " to log its address",
        [&] {
          std::smatch match;
          const std::string text = read_file(log_);
          if (std::regex_search(text, match, listening)) {
            port_ = static_cast<std::uint16_t>(std::stoi(match[1].str()));
            return true;
          }
          return !process_->running();  // exited: reported below, not after the deadline
        },
        [&] { return log(); });
    if (port_ == 0) FAIL(name_ << " exited at start-up:\n" << log());
    // Both answer 503 on /-/ready until they have started (Prometheus: its TSDB).
    eventually(
        deadline, name_ + " to be ready",
        [&] {
          try {
            return HttpClient(port_).request("GET", "/-/ready").status == 200;
          } catch (const std::exception&) {
            return false;
          }
        },
        [&] { return log(); });
  }

  ~ListeningProgram() {
    process_->signal(SIGTERM);
    process_->wait(10000);  // then ChildProcess's destructor kills what is left
  }
  ListeningProgram(const ListeningProgram&) = delete;
  ListeningProgram& operator=(const ListeningProgram&) = delete;

  std::uint16_t port() const { return port_; }
  std::string log() const { return "--- " + name_ + " log:\n" + tail(read_file(log_)) + "\n"; }

  nlohmann::json get_json(const std::string& target) const {
    const auto reply = HttpClient(port_).request("GET", target);
    if (reply.status != 200) FAIL(name_ << " GET " << target << ": " << reply.status << " " << reply.body);
    return nlohmann::json::parse(reply.body);
  }

 private:
  std::string name_;
  std::string log_;
  std::unique_ptr<ChildProcess> process_;
  std::uint16_t port_ = 0;
};

/// Prometheus with the given prometheus.yml (and any rule files already in `dir`).
class Prometheus : public ListeningProgram {
 public:
  Prometheus(const std::string& binary, const std::string& dir, const std::string& config,
             const Deadline& deadline)
      : ListeningProgram("prometheus",
                         {binary, "--config.file=" + write(dir, config),
                          "--storage.tsdb.path=" + dir + "/tsdb",
                          "--web.listen-address=127.0.0.1:0",
                          // Default 1m: a failed first send to Alertmanager would wait that long.
                          "--rules.alert.resend-delay=1s"},
                         dir, deadline) {}

  /// An instant query's `data.result` (a vector of {metric, value: [time, "text"]}).
  nlohmann::json query(const std::string& promql) const {
    const auto json = get_json("/api/v1/query?query=" + url_encode(promql));
    if (json.at("status") != "success") FAIL("query " << promql << ": " << json.dump());
    return json.at("data").at("result");
  }

  /// The single sample of `promql` as Prometheus holds it, or NaN when there is none (yet).
  double scalar(const std::string& promql) const {
    const auto result = query(promql);
    if (result.size() != 1) return std::numeric_limits<double>::quiet_NaN();
    return std::stod(result[0].at("value").at(1).get<std::string>());
  }

 private:
  static std::string write(const std::string& dir, const std::string& config) {
    std::filesystem::create_directories(dir);
    const std::string path = dir + "/prometheus.yml";
    std::ofstream(path) << config;
    return path;
  }
};

/// Alertmanager with the given alertmanager.yml; clustering off (else it binds :9094).
class Alertmanager : public ListeningProgram {
 public:
  Alertmanager(const std::string& binary, const std::string& dir, const std::string& config,
               const Deadline& deadline)
      : ListeningProgram("alertmanager",
                         {binary, "--config.file=" + write(dir, config),
                          "--storage.path=" + dir + "/data", "--web.listen-address=127.0.0.1:0",
                          "--cluster.listen-address="},
                         dir, deadline) {}

 private:
  static std::string write(const std::string& dir, const std::string& config) {
    std::filesystem::create_directories(dir);
    const std::string path = dir + "/alertmanager.yml";
    std::ofstream(path) << config;
    return path;
  }
};

/// An HTTP server on 127.0.0.1 (port from the OS) that answers 200 to everything and keeps the
/// bodies of POSTs: an Alertmanager webhook receiver.
class WebhookSink {
 public:
  WebhookSink() : acceptor_(ioc_, {boost::asio::ip::address_v4::loopback(), 0}) {
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~WebhookSink() {
    ioc_.stop();
    thread_.join();
  }
  WebhookSink(const WebhookSink&) = delete;
  WebhookSink& operator=(const WebhookSink&) = delete;

  std::uint16_t port() const { return port_; }
  std::vector<std::string> bodies() const {
    std::lock_guard lock(mutex_);
    return bodies_;
  }

 private:
  struct Session : std::enable_shared_from_this<Session> {
    Session(boost::asio::ip::tcp::socket socket, WebhookSink& sink)
        : stream(std::move(socket)), owner(sink) {}
    boost::beast::tcp_stream stream;
    WebhookSink& owner;
    boost::beast::flat_buffer buffer;
    boost::beast::http::request<boost::beast::http::string_body> request;
    boost::beast::http::response<boost::beast::http::string_body> response;

    void read() {
      request = {};
      stream.expires_after(std::chrono::seconds(60));
      boost::beast::http::async_read(
          stream, buffer, request,
          [self = shared_from_this()](boost::beast::error_code ec, std::size_t) {
            if (!ec) self->respond();
          });
    }
    void respond() {
      if (request.method() == boost::beast::http::verb::post) {
        std::lock_guard lock(owner.mutex_);
        owner.bodies_.push_back(request.body());
      }
      response = {};
      response.version(request.version());
      response.keep_alive(request.keep_alive());
      response.result(boost::beast::http::status::ok);
      response.prepare_payload();
      boost::beast::http::async_write(
          stream, response, [self = shared_from_this()](boost::beast::error_code ec, std::size_t) {
            if (!ec && self->response.keep_alive()) self->read();
          });
    }
  };

  void accept() {
    acceptor_.async_accept([this](boost::beast::error_code ec, boost::asio::ip::tcp::socket socket) {
      if (ec) return;
      std::make_shared<Session>(std::move(socket), *this)->read();
      accept();
    });
  }

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = acceptor_.local_endpoint().port();
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> bodies_;
};

}  // namespace drift::test::e2e
