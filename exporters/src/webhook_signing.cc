#include "drift/exporters/webhook_signing.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <array>
#include <stdexcept>

namespace drift::exporters {

namespace {

constexpr std::string_view kHexDigits = "0123456789abcdef";
constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kWhsecPrefix = "whsec_";

const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string hmac_sha256(std::string_view key, std::string_view message) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int length = 0;
  // An empty key is valid HMAC; OpenSSL wants a non-null pointer for it.
  static const unsigned char kEmpty = 0;
  const unsigned char* key_bytes = key.empty() ? &kEmpty : bytes_of(key);
  if (HMAC(EVP_sha256(), key_bytes, static_cast<int>(key.size()), bytes_of(message),
           message.size(), out.data(), &length) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(out.data()), length);
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(bytes_of(data), data.size(), digest.data());
  return to_hex(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::string to_hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0x0f]);
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                            (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                            std::uint32_t{static_cast<unsigned char>(bytes[i + 2])};
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(kBase64Alphabet[(v >> 6) & 63]);
    out.push_back(kBase64Alphabet[v & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    if (rest == 2) v |= std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8;
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  std::size_t padding = 0;
  while (!text.empty() && text.back() == '=' && padding < 2) {
    text.remove_suffix(1);
    ++padding;
  }
  if (text.size() % 4 == 1) return std::nullopt;
  if (padding > 0 && (text.size() + padding) % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const int v = base64_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero in canonical base64; be lenient as the libraries are.
  return out;
}

std::string github_signature(std::string_view secret, std::string_view body) {
  return "sha256=" + to_hex(hmac_sha256(secret, body));
}

std::string standard_webhooks_key(std::string_view secret) {
  if (!secret.starts_with(kWhsecPrefix)) return std::string(secret);
  auto key = base64_decode(secret.substr(kWhsecPrefix.size()));
  if (!key || key->empty()) {
    throw std::invalid_argument("a whsec_ secret must be followed by base64 key bytes");
  }
  return *key;
}

namespace {

// Signs the timestamp's text as given, so a verifier checks exactly what was sent.
std::string sign_standard(std::string_view secret, std::string_view id, std::string_view timestamp,
                          std::string_view body) {
  std::string content;
  content.reserve(id.size() + timestamp.size() + body.size() + 2);
  content.append(id);
  content.push_back('.');
  content.append(timestamp);
  content.push_back('.');
  content.append(body);
  return "v1," + base64_encode(hmac_sha256(standard_webhooks_key(secret), content));
}

}  // namespace

std::string standard_webhooks_signature(std::string_view secret, std::string_view id,
                                        std::int64_t timestamp, std::string_view body) {
  return sign_standard(secret, id, std::to_string(timestamp), body);
}

bool verify_github_signature(std::string_view secret, std::string_view body,
                             std::string_view header) {
  constexpr std::string_view kPrefix = "sha256=";
  if (!header.starts_with(kPrefix)) return false;
  std::string given(header.substr(kPrefix.size()));
  for (char& c : given) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return constant_time_equal(given, to_hex(hmac_sha256(secret, body)));
}

bool verify_standard_webhooks_signature(std::string_view secret, std::string_view id,
                                        std::string_view timestamp, std::string_view body,
                                        std::string_view header, std::optional<std::int64_t> now,
                                        std::int64_t tolerance_s) {
  if (timestamp.empty() || timestamp.size() > 18) return false;
  std::int64_t ts = 0;
  for (const char c : timestamp) {
    if (c < '0' || c > '9') return false;
    ts = ts * 10 + (c - '0');
  }
  if (now && (ts < *now - tolerance_s || ts > *now + tolerance_s)) return false;
  std::string expected;
  try {
    expected = sign_standard(secret, id, timestamp, body);
  } catch (const std::invalid_argument&) {
    return false;
  }
  bool ok = false;
  std::size_t start = 0;
  while (start <= header.size()) {
    std::size_t end = header.find(' ', start);
    if (end == std::string_view::npos) end = header.size();
    const std::string_view entry = header.substr(start, end - start);
    // Check every entry so the time taken does not depend on which one matches.
    if (!entry.empty() && constant_time_equal(entry, expected)) ok = true;
    start = end + 1;
  }
  return ok;
}

}  // namespace drift::exporters
