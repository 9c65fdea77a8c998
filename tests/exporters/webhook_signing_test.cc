// Webhook signatures: the published GitHub and Standard Webhooks vectors, verification, and the
// secret file.

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "drift/exporters/webhook_config.h"
#include "drift/exporters/webhook_signing.h"
#include "process.h"

using namespace drift::exporters;

namespace {

constexpr const char* kSwSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr const char* kSwId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t kSwTimestamp = 1614265330;
constexpr const char* kSwBody = R"({"test": 2432232314})";
constexpr const char* kSwSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

}  // namespace

TEST_CASE("GitHub signature matches the published vector", "[webhook][unit]") {
  CHECK(github_signature("It's a Secret to Everybody", "Hello, World!") ==
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}

TEST_CASE("Standard Webhooks signature matches the published vector", "[webhook][unit]") {
  CHECK(standard_webhooks_signature(kSwSecret, kSwId, kSwTimestamp, kSwBody) == kSwSignature);
}

TEST_CASE("GitHub verification accepts the right signature only", "[webhook][unit]") {
  const std::string secret = "It's a Secret to Everybody";
  const std::string good = github_signature(secret, "Hello, World!");
  CHECK(verify_github_signature(secret, "Hello, World!", good));
  std::string upper = good;
  for (std::size_t i = 7; i < upper.size(); ++i) {
    upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
  }
  CHECK(verify_github_signature(secret, "Hello, World!", upper));
  CHECK_FALSE(verify_github_signature(secret, "Hello, World?", good));
  CHECK_FALSE(verify_github_signature("another secret", "Hello, World!", good));
  CHECK_FALSE(verify_github_signature(secret, "Hello, World!", good.substr(7)));
  CHECK_FALSE(verify_github_signature(secret, "Hello, World!", "sha256="));
}

TEST_CASE("Standard Webhooks verification checks every signed part and the time window",
          "[webhook][unit]") {
  const std::string ts = std::to_string(kSwTimestamp);
  CHECK(verify_standard_webhooks_signature(kSwSecret, kSwId, ts, kSwBody, kSwSignature));
  // Rotation: a list of signatures, one of them valid.
  CHECK(verify_standard_webhooks_signature(kSwSecret, kSwId, ts, kSwBody,
                                           std::string("v1,AAAA ") + kSwSignature));
  CHECK_FALSE(verify_standard_webhooks_signature(kSwSecret, "msg_other", ts, kSwBody,
                                                 kSwSignature));
  CHECK_FALSE(verify_standard_webhooks_signature(kSwSecret, kSwId, "1614265331", kSwBody,
                                                 kSwSignature));
  CHECK_FALSE(verify_standard_webhooks_signature(kSwSecret, kSwId, ts, R"({"test": 1})",
                                                 kSwSignature));
  CHECK_FALSE(verify_standard_webhooks_signature(kSwSecret, kSwId, "x1614265330", kSwBody,
                                                 kSwSignature));
  CHECK(verify_standard_webhooks_signature(kSwSecret, kSwId, ts, kSwBody, kSwSignature,
                                           kSwTimestamp + 299));
  CHECK_FALSE(verify_standard_webhooks_signature(kSwSecret, kSwId, ts, kSwBody, kSwSignature,
                                                 kSwTimestamp + 301));
}

TEST_CASE("Standard Webhooks keys: whsec_ secrets are base64-decoded, others used as they are",
          "[webhook][unit]") {
  CHECK(standard_webhooks_key("whsec_aGVsbG8=") == "hello");
  CHECK(standard_webhooks_key("plain secret") == "plain secret");
  CHECK_THROWS_AS(standard_webhooks_key("whsec_not*base64"), std::invalid_argument);
  // A plain secret signs with its own bytes: the same as a whsec_ secret of those bytes.
  CHECK(standard_webhooks_signature("hello", "id", 1, "{}") ==
        standard_webhooks_signature("whsec_" + base64_encode("hello"), "id", 1, "{}"));
  // GitHub style always signs with the secret's bytes, prefix included.
  CHECK(github_signature(kSwSecret, "x") != github_signature(standard_webhooks_key(kSwSecret), "x"));
}

TEST_CASE("base64 round-trips every length and rejects non-base64", "[webhook][unit]") {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    const std::string encoded = base64_encode(bytes);
    CHECK(encoded.size() % 4 == 0);
    REQUIRE(base64_decode(encoded).has_value());
    CHECK(*base64_decode(encoded) == bytes);
    bytes.push_back(static_cast<char>(i * 37 + 200));
  }
  CHECK(base64_encode("hello") == "aGVsbG8=");
  CHECK(base64_decode("aGVsbG8") == std::optional<std::string>("hello"));
  CHECK_FALSE(base64_decode("a").has_value());
  CHECK_FALSE(base64_decode("aGVs bG8=").has_value());
}

TEST_CASE("A secret file is read without its trailing newline", "[webhook][unit]") {
  drift::test::TempDir dir;
  CHECK(read_secret_file(dir.write("a", "s3cret\n")) == "s3cret");
  CHECK(read_secret_file(dir.write("b", "s3cret\r\n")) == "s3cret");
  CHECK(read_secret_file(dir.write("c", "s3cret")) == "s3cret");
  CHECK(read_secret_file(dir.write("d", "s3cret\n\n")) == "s3cret\n");
  CHECK(read_secret_file(dir.write("e", " spaced \n")) == " spaced ");
  try {
    read_secret_file(dir.path() + "/missing");
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Catch::Contains(dir.path() + "/missing"));
  }
  try {
    read_secret_file(dir.write("empty", "\n"));
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("empty"));
  }
}
