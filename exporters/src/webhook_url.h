#pragma once
/// http(s) URLs as webhooks use them: scheme, host (DNS name, IPv4, or [IPv6]), optional port,
/// request target. No user info, no fragments sent.

#include <cstdint>
#include <string>
#include <string_view>

namespace drift::exporters {

struct WebhookUrl {
  bool tls = false;          ///< https
  std::string host;          ///< without IPv6 brackets
  std::uint16_t port = 0;    ///< explicit or the scheme's default
  std::string target = "/";  ///< path and query; "/" when the URL has no path
  bool has_path = false;     ///< the URL had a path other than "/"
  bool host_is_ip = false;
  std::string host_header;   ///< Host: as in the URL's authority (with port if given)
};

/// Throws std::invalid_argument with the reason ("must start with http:// or https://", ...).
WebhookUrl parse_webhook_url(std::string_view url);

}  // namespace drift::exporters
