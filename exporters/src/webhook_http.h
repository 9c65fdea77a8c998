#pragma once
/// The webhook sender's HTTP seam: one POST per attempt on a fresh connection, over HTTP/1.1
/// (Boost.Beast) or HTTPS (Beast + OpenSSL: SNI, peer and host name verified against a CA file
/// or the system store). Every step (resolve, connect, handshake, write, read) shares one
/// deadline. Beast and OpenSSL types stay in the .cc.

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "webhook_url.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace drift::exporters {

struct HttpAttemptResult {
  enum class Kind { kResponse, kConnectionError, kTimeout, kCancelled };
  Kind kind = Kind::kConnectionError;
  int status = 0;           ///< kResponse
  std::string retry_after;  ///< the Retry-After header, if any
  std::string error;        ///< what failed otherwise ("connect 127.0.0.1:8080: Connection refused")
};

/// One per webhook; post() is called from one thread at a time, cancel() from any.
class WebhookHttpClient {
 public:
  /// Loads ca_file (or the system trust store) for https URLs; throws std::runtime_error naming
  /// the file when it cannot be used.
  WebhookHttpClient(WebhookUrl url, std::chrono::milliseconds timeout,
                    const std::optional<std::filesystem::path>& ca_file);
  ~WebhookHttpClient();
  WebhookHttpClient(const WebhookHttpClient&) = delete;
  WebhookHttpClient& operator=(const WebhookHttpClient&) = delete;

  /// POSTs `body` with `headers` (Host, Content-Length, User-Agent and Connection: close are
  /// added).
  HttpAttemptResult post(const std::string& body,
                         const std::vector<std::pair<std::string, std::string>>& headers);

  /// Interrupts a post() in flight and makes later ones return kCancelled at once.
  void cancel();

 private:
  struct Tls;

  WebhookUrl url_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Tls> tls_;
  std::mutex mutex_;
  boost::asio::io_context* current_ = nullptr;  ///< the post() in flight
  bool cancelled_ = false;
};

}  // namespace drift::exporters
