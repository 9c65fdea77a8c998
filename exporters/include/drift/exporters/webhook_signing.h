#pragma once
/// Webhook signatures (ECOSYSTEM.md §6), HMAC-SHA256 over the exact bytes sent:
///   - GitHub style: `X-Hub-Signature-256: sha256=<hex HMAC(secret, body)>`;
///   - Standard Webhooks: `webhook-signature: v1,<base64 HMAC(key, "<id>.<timestamp>.<body>")>`
///     where key = base64-decode(secret without "whsec_") for a `whsec_` secret, else the
///     secret's bytes.
/// Verification compares in constant time. All functions are thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace drift::exporters {

/// Raw 32-byte HMAC-SHA256.
std::string hmac_sha256(std::string_view key, std::string_view message);
/// Lowercase hex of SHA-256.
std::string sha256_hex(std::string_view data);
/// Lowercase hex of bytes.
std::string to_hex(std::string_view bytes);
/// Standard base64 with padding.
std::string base64_encode(std::string_view bytes);
/// Standard base64 (padding optional); nullopt when `text` is not base64.
std::optional<std::string> base64_decode(std::string_view text);

/// "sha256=<lowercase hex>" for X-Hub-Signature-256.
std::string github_signature(std::string_view secret, std::string_view body);

/// The Standard Webhooks key of a secret (see the file comment). Throws std::invalid_argument
/// when a `whsec_` secret's remainder is not base64.
std::string standard_webhooks_key(std::string_view secret);

/// "v1,<base64>" for webhook-signature. `timestamp` is Unix seconds of the attempt.
std::string standard_webhooks_signature(std::string_view secret, std::string_view id,
                                        std::int64_t timestamp, std::string_view body);

/// Whether `header` ("sha256=<hex>", hex in either case) is the body's GitHub signature.
bool verify_github_signature(std::string_view secret, std::string_view body,
                             std::string_view header);

/// Whether any "v1,<base64>" entry of the space-separated `header` signs (id, timestamp, body).
/// `timestamp` is the webhook-timestamp header as received; when `now` is given, a timestamp
/// more than `tolerance_s` away from it is rejected too.
bool verify_standard_webhooks_signature(std::string_view secret, std::string_view id,
                                        std::string_view timestamp, std::string_view body,
                                        std::string_view header,
                                        std::optional<std::int64_t> now = std::nullopt,
                                        std::int64_t tolerance_s = 300);

}  // namespace drift::exporters
