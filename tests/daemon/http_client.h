#pragma once
/// A small HTTP/1.1 client for tests (Boost.Beast over one keep-alive connection). Every
/// operation has a deadline, so a misbehaving server fails a test instead of hanging it.

#include <cctype>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace drift::test {

struct HttpReply {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  ///< names lower-case
  bool keep_alive = false;

  /// The first header with this lower-case name, or empty.
  std::string header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return value;
    }
    return {};
  }
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  /// Connects to 127.0.0.1:port (or the given host); throws when it cannot.
  explicit HttpClient(std::uint16_t port, std::string host = "127.0.0.1",
                      std::chrono::milliseconds timeout = std::chrono::seconds(20))
      : stream_(ioc_), timeout_(timeout) {
    boost::beast::error_code ec;
    const auto address = boost::asio::ip::make_address(host, ec);
    if (ec) throw std::runtime_error("bad host " + host);
    run([&](auto done) {
      stream_.expires_after(timeout_);
      stream_.async_connect(boost::asio::ip::tcp::endpoint(address, port), done);
    });
  }

  /// Sends one request and reads the reply. `body` non-empty sets Content-Length.
  HttpReply request(std::string_view method, std::string_view target, std::string body = {},
                    const HttpHeaders& headers = {}) {
    namespace http = boost::beast::http;
    http::request<http::string_body> req;
    req.version(11);
    const boost::beast::string_view method_text(method.data(), method.size());
    const http::verb verb = http::string_to_verb(method_text);
    if (verb == http::verb::unknown) {
      req.method_string(method_text);
    } else {
      req.method(verb);
    }
    req.target(boost::beast::string_view(target.data(), target.size()));
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) req.set(name, value);
    if (!body.empty() || method == "POST" || method == "PUT") {
      req.body() = std::move(body);
      req.prepare_payload();
    }
    run([&](auto done) {
      stream_.expires_after(timeout_);
      http::async_write(stream_, req, done);
    });
    return read_reply();
  }

  /// Writes bytes as they are (malformed or hand-made requests).
  void send_raw(std::string_view bytes) {
    run([&](auto done) {
      stream_.expires_after(timeout_);
      boost::asio::async_write(stream_, boost::asio::buffer(bytes.data(), bytes.size()), done);
    });
  }

  /// Reads one reply; throws when the connection ends first.
  HttpReply read_reply() {
    namespace http = boost::beast::http;
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    run([&](auto done) {
      stream_.expires_after(timeout_);
      http::async_read(stream_, buffer_, parser, done);
    });
    const auto& res = parser.get();
    HttpReply reply;
    reply.status = static_cast<int>(res.result_int());
    reply.body = res.body();
    reply.keep_alive = res.keep_alive();
    for (const auto& field : res) {
      std::string name(field.name_string().data(), field.name_string().size());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      reply.headers.emplace_back(std::move(name),
                                 std::string(field.value().data(), field.value().size()));
    }
    return reply;
  }

  /// True when the server has closed the connection (the next read sees end of stream).
  bool closed_by_peer() {
    char byte = 0;
    boost::beast::error_code ec;
    stream_.expires_after(timeout_);
    stream_.async_read_some(boost::asio::buffer(&byte, 1),
                            [&](boost::beast::error_code e, std::size_t) { ec = e; });
    ioc_.restart();
    ioc_.run();
    return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
  }

 private:
  /// Starts one async operation and runs it to completion; throws its error.
  template <typename Start>
  void run(Start start) {
    boost::beast::error_code result;
    bool finished = false;
    start([&](boost::beast::error_code ec, auto&&...) {
      result = ec;
      finished = true;
    });
    ioc_.restart();
    ioc_.run();
    if (!finished) throw std::runtime_error("HTTP client: operation did not complete");
    if (result) throw boost::beast::system_error(result);
  }

  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::chrono::milliseconds timeout_;
};

}  // namespace drift::test
