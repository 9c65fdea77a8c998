#pragma once
/// A webhook receiver for tests: a small Beast HTTP(S) server on 127.0.0.1 (port chosen by the
/// OS) that records every request, checks both signatures against its secret, and answers from
/// a script (status, headers, delay) before falling back to a default reply. It can go down
/// (connections refused) and come back up on the same port. Also: a self-signed TLS identity
/// made with the OpenSSL API, for HTTPS tests.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "drift/exporters/webhook_signing.h"

namespace drift::test {

/// A certificate (PEM) for "localhost" and 127.0.0.1, and its private key (PEM).
struct TlsIdentity {
  std::string cert_pem;
  std::string key_pem;
};

/// Generates a fresh self-signed P-256 identity valid for an hour around now.
inline TlsIdentity make_self_signed_identity() {
  const auto check = [](bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("self-signed certificate: ") + what);
  };
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr), EVP_PKEY_CTX_free);
  check(ctx != nullptr, "EVP_PKEY_CTX_new_id");
  check(EVP_PKEY_keygen_init(ctx.get()) > 0, "keygen_init");
  check(EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_X9_62_prime256v1) > 0, "curve");
  EVP_PKEY* raw_key = nullptr;
  check(EVP_PKEY_keygen(ctx.get(), &raw_key) > 0, "keygen");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(raw_key, EVP_PKEY_free);

  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX v3{};
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : {std::pair{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
                                   std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    check(ext != nullptr, "extension");
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "sign");

  const auto pem = [&](auto write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    check(write(bio.get()) > 0, "PEM");
    std::string out(BIO_ctrl_pending(bio.get()), '\0');
    check(BIO_read(bio.get(), out.data(), static_cast<int>(out.size())) ==
              static_cast<int>(out.size()),
          "BIO_read");
    return out;
  };
  TlsIdentity identity;
  identity.cert_pem = pem([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
  identity.key_pem = pem([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  return identity;
}

/// One request as received.
struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::string body;
  bool github_valid = false;    ///< X-Hub-Signature-256 verifies
  bool standard_valid = false;  ///< webhook-signature verifies (id, timestamp, body)
  int answered = 0;             ///< the status the receiver chose
  std::chrono::steady_clock::time_point at;

  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

/// How to answer one request.
struct ReceiverReply {
  ReceiverReply(int status_code = 200,  // NOLINT: {500} reads well in scripts
                std::vector<std::pair<std::string, std::string>> reply_headers = {},
                std::chrono::milliseconds reply_delay = std::chrono::milliseconds(0))
      : status(status_code), headers(std::move(reply_headers)), delay(reply_delay) {}

  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};  ///< before answering (past a client timeout: a timeout)
};

class TestReceiver {
 public:
  explicit TestReceiver(std::string secret, std::optional<TlsIdentity> tls = std::nullopt)
      : secret_(std::move(secret)), work_(boost::asio::make_work_guard(ioc_)) {
    if (tls) {
      tls_ = std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
      tls_->use_certificate_chain(boost::asio::buffer(tls->cert_pem));
      tls_->use_private_key(boost::asio::buffer(tls->key_pem), boost::asio::ssl::context::pem);
    }
    thread_ = std::thread([this] { ioc_.run(); });
    up();
  }

  ~TestReceiver() {
    down();
    work_.reset();
    ioc_.stop();
    thread_.join();
  }

  TestReceiver(const TestReceiver&) = delete;
  TestReceiver& operator=(const TestReceiver&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path = "/hook") const {
    return std::string(tls_ ? "https://localhost:" : "http://127.0.0.1:") + std::to_string(port_) +
           std::string(path);
  }

  /// Replies for the next requests, in order; then the default reply.
  void script(std::vector<ReceiverReply> replies) {
    std::lock_guard lock(mutex_);
    script_.assign(replies.begin(), replies.end());
  }
  void set_default(ReceiverReply reply) {
    std::lock_guard lock(mutex_);
    default_ = std::move(reply);
  }

  /// Stops listening: new connections are refused.
  void down() {
    on_io([this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
    });
  }
  /// Listens (again) on the same port (the first time: a port the OS picks).
  void up() {
    on_io([this] {
      using boost::asio::ip::tcp;
      const tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"), port_);
      acceptor_.open(endpoint.protocol());
      acceptor_.set_option(tcp::acceptor::reuse_address(true));
      acceptor_.bind(endpoint);
      acceptor_.listen();
      port_ = acceptor_.local_endpoint().port();
      accept();
    });
  }

  std::vector<ReceivedRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  /// Waits until at least `n` requests have been answered; false on timeout.
  bool wait_for_requests(std::size_t n, int timeout_ms) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                             [&] { return requests_.size() >= n; });
  }

  /// Distinct webhook-ids answered with 2xx: what a deduplicating receiver would act on.
  std::set<std::string> delivered_ids() const {
    std::lock_guard lock(mutex_);
    std::set<std::string> ids;
    for (const auto& r : requests_) {
      if (r.answered >= 200 && r.answered < 300) ids.insert(r.header("webhook-id"));
    }
    return ids;
  }

 private:
  template <bool kTls>
  struct Session : std::enable_shared_from_this<Session<kTls>> {
    using Stream = std::conditional_t<kTls, boost::beast::ssl_stream<boost::beast::tcp_stream>,
                                      boost::beast::tcp_stream>;

    Session(TestReceiver& owner, boost::asio::ip::tcp::socket socket)
        : owner_(owner), stream_(make_stream(owner, std::move(socket))), timer_(owner.ioc_) {}

    static Stream make_stream(TestReceiver& owner, boost::asio::ip::tcp::socket socket) {
      if constexpr (kTls) {
        return Stream(std::move(socket), *owner.tls_);
      } else {
        return Stream(std::move(socket));
      }
    }

    void start() {
      if constexpr (kTls) {
        stream_.async_handshake(boost::asio::ssl::stream_base::server,
                                [self = this->shared_from_this()](boost::system::error_code ec) {
                                  if (!ec) self->read();
                                });
      } else {
        read();
      }
    }

    void read() {
      request_ = {};
      boost::beast::http::async_read(
          stream_, buffer_, request_,
          [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
            if (!ec) self->answer();
          });
    }

    void answer() {
      const ReceiverReply reply = owner_.record(request_);
      response_ = {};
      response_.version(11);
      response_.result(static_cast<unsigned>(reply.status));
      for (const auto& [name, value] : reply.headers) response_.set(name, value);
      response_.body() = "{}";
      response_.prepare_payload();
      response_.keep_alive(request_.keep_alive());
      timer_.expires_after(reply.delay);
      timer_.async_wait([self = this->shared_from_this()](boost::system::error_code) {
        boost::beast::http::async_write(
            self->stream_, self->response_,
            [self](boost::system::error_code ec, std::size_t) {
              if (!ec && self->response_.keep_alive()) self->read();
            });
      });
    }

    TestReceiver& owner_;
    Stream stream_;
    boost::asio::steady_timer timer_;
    boost::beast::flat_buffer buffer_;
    boost::beast::http::request<boost::beast::http::string_body> request_;
    boost::beast::http::response<boost::beast::http::string_body> response_;
  };

  template <typename F>
  void on_io(F f) {
    std::promise<void> done;
    boost::asio::post(ioc_, [&] {
      try {
        f();
        done.set_value();
      } catch (...) {
        done.set_exception(std::current_exception());
      }
    });
    done.get_future().get();
  }

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec,
                                  boost::asio::ip::tcp::socket socket) {
      if (ec) return;  // closed by down()
      if (tls_) {
        std::make_shared<Session<true>>(*this, std::move(socket))->start();
      } else {
        std::make_shared<Session<false>>(*this, std::move(socket))->start();
      }
      accept();
    });
  }

  ReceiverReply record(const boost::beast::http::request<boost::beast::http::string_body>& req) {
    ReceivedRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(field.value());
    }
    r.body = req.body();
    r.github_valid =
        exporters::verify_github_signature(secret_, r.body, r.header("x-hub-signature-256"));
    r.standard_valid = exporters::verify_standard_webhooks_signature(
        secret_, r.header("webhook-id"), r.header("webhook-timestamp"), r.body,
        r.header("webhook-signature"));
    r.at = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    ReceiverReply reply = default_;
    if (!script_.empty()) {
      reply = script_.front();
      script_.pop_front();
    }
    r.answered = reply.status;
    requests_.push_back(std::move(r));
    changed_.notify_all();
    return reply;
  }

  std::string secret_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::ip::tcp::acceptor acceptor_{ioc_};
  std::unique_ptr<boost::asio::ssl::context> tls_;
  std::uint16_t port_ = 0;
  std::thread thread_;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::deque<ReceiverReply> script_;
  ReceiverReply default_;
  std::vector<ReceivedRequest> requests_;
};

}  // namespace drift::test
