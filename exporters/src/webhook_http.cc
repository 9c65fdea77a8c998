#include "webhook_http.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace drift::exporters {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::uint64_t kMaxResponseBody = 1u << 20;

std::string describe(std::string_view step, const WebhookUrl& url, const beast::error_code& ec) {
  return std::string(step) + " " + url.host + ":" + std::to_string(url.port) + ": " + ec.message();
}

}  // namespace

struct WebhookHttpClient::Tls {
  asio::ssl::context context{asio::ssl::context::tls_client};
};

WebhookHttpClient::WebhookHttpClient(WebhookUrl url, std::chrono::milliseconds timeout,
                                     const std::optional<std::filesystem::path>& ca_file)
    : url_(std::move(url)), timeout_(timeout) {
  if (!url_.tls) return;
  tls_ = std::make_unique<Tls>();
  SSL_CTX_set_min_proto_version(tls_->context.native_handle(), TLS1_2_VERSION);
  beast::error_code ec;
  if (ca_file) {
    tls_->context.load_verify_file(ca_file->string(), ec);
    if (ec) {
      throw std::runtime_error("cannot load CA file " + ca_file->string() + ": " + ec.message());
    }
  } else {
    tls_->context.set_default_verify_paths(ec);
    if (ec) throw std::runtime_error("cannot load the system CA store: " + ec.message());
  }
  tls_->context.set_verify_mode(asio::ssl::verify_peer);
}

WebhookHttpClient::~WebhookHttpClient() = default;

void WebhookHttpClient::cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  if (current_ != nullptr) current_->stop();
}

HttpAttemptResult WebhookHttpClient::post(
    const std::string& body, const std::vector<std::pair<std::string, std::string>>& headers) {
  // Declared first, destroyed last: pending handlers are destroyed (not run) with it.
  asio::io_context ioc;
  HttpAttemptResult result;
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) {
      result.kind = HttpAttemptResult::Kind::kCancelled;
      result.error = "cancelled";
      return result;
    }
    current_ = &ioc;
  }

  http::request<http::string_body> req{http::verb::post, url_.target, 11};
  req.set(http::field::host, url_.host_header);
  req.set(http::field::user_agent, "driftd");
  req.keep_alive(false);  // one request per connection
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();

  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBody);
  beast::flat_buffer buffer;
  bool finished = false;

  const auto fail = [&](std::string_view step, const beast::error_code& ec) {
    result.kind = HttpAttemptResult::Kind::kConnectionError;
    result.error = describe(step, url_, ec);
    finished = true;
    ioc.stop();
  };
  const auto respond = [&] {
    const auto& res = parser.get();
    result.kind = HttpAttemptResult::Kind::kResponse;
    result.status = static_cast<int>(res.result_int());
    const auto retry_after = res[http::field::retry_after];
    result.retry_after.assign(retry_after.data(), retry_after.size());
    finished = true;
    ioc.stop();
  };
  // Write the request and read the reply on a connected (and, for https, handshaken) stream.
  const auto exchange = [&](auto& stream) {
    http::async_write(stream, req, [&](const beast::error_code& ec, std::size_t) {
      if (ec) return fail("write to", ec);
      http::async_read(stream, buffer, parser, [&](const beast::error_code& read_ec, std::size_t) {
        // A reply whose body is too long or cut short still has a status.
        if (read_ec && !parser.is_header_done()) return fail("read from", read_ec);
        respond();
      });
    });
  };

  tcp::resolver resolver(ioc);
  beast::tcp_stream plain(ioc);
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  if (tls_) {
    secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc, tls_->context);
    SSL* ssl = secure->native_handle();
    if (url_.host_is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url_.host.c_str());
    } else {
      // SNI, and the certificate must name this host.
      SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(url_.host.c_str()));
      SSL_set1_host(ssl, url_.host.c_str());
    }
  }
  beast::tcp_stream& lowest = secure ? beast::get_lowest_layer(*secure) : plain;

  resolver.async_resolve(
      url_.host, std::to_string(url_.port),
      [&](const beast::error_code& ec, const tcp::resolver::results_type& endpoints) {
        if (ec) return fail("resolve", ec);
        lowest.expires_after(timeout_);
        lowest.async_connect(endpoints, [&](const beast::error_code& connect_ec,
                                            const tcp::endpoint&) {
          if (connect_ec) return fail("connect", connect_ec);
          if (!secure) return exchange(plain);
          secure->async_handshake(asio::ssl::stream_base::client,
                                  [&](const beast::error_code& handshake_ec) {
                                    if (handshake_ec) return fail("TLS handshake with", handshake_ec);
                                    exchange(*secure);
                                  });
        });
      });
  ioc.run_for(timeout_);

  bool cancelled = false;
  {
    std::lock_guard lock(mutex_);
    current_ = nullptr;
    cancelled = cancelled_;
  }
  if (!finished) {
    result.kind = cancelled ? HttpAttemptResult::Kind::kCancelled : HttpAttemptResult::Kind::kTimeout;
    result.error = cancelled ? "cancelled"
                             : "no reply from " + url_.host + ":" + std::to_string(url_.port) +
                                   " within " + std::to_string(timeout_.count()) + " ms";
    resolver.cancel();
    beast::error_code ignored;
    lowest.socket().close(ignored);
  }
  return result;
}

}  // namespace drift::exporters
