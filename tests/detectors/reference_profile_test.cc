#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "drift/detectors/reference_profile.h"

namespace {

struct Sample {
  std::vector<float> a, b;
  std::vector<std::uint32_t> codes;
  std::vector<std::string> dictionary = {"red", "green", "blue", "never used"};

  drift::SampleView view() const {
    drift::SampleView v;
    v.columns.push_back({"a", drift::FeatureKind::kNumeric, a, {}, {}});
    v.columns.push_back({"b", drift::FeatureKind::kNumeric, b, {}, {}});
    v.columns.push_back({"color", drift::FeatureKind::kCategorical, {}, codes, dictionary});
    return v;
  }
};

Sample make_sample(std::size_t rows) {
  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal;
  Sample s;
  for (std::size_t k = 0; k < rows; ++k) {
    s.a.push_back(k % 17 == 0 ? std::numeric_limits<float>::quiet_NaN() : normal(rng));
    s.b.push_back(2.0f * normal(rng) + 1.0f);
    s.codes.push_back(k % 11 == 0 ? drift::kMissingCode : static_cast<std::uint32_t>(k % 3));
  }
  return s;
}

drift::ReferenceProfile make_profile(const Sample& s) {
  drift::ProfileOptions options;
  options.psi_bins = 8;
  options.build_mmd = true;
  options.mmd.features = {"a", "b"};
  options.mmd.seed = 9;
  return drift::ReferenceProfile::build(s.view(), options);
}

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

}  // namespace

TEST_CASE("a reference profile holds sorted values, bins, categories and missing counts",
          "[profile][unit]") {
  const Sample s = make_sample(340);
  const auto profile = make_profile(s);
  REQUIRE(profile.features().size() == 3);
  const auto& a = *profile.find("a");
  CHECK(a.missing == 20);
  CHECK(a.numeric.sorted.size() == 320);
  CHECK(std::is_sorted(a.numeric.sorted.begin(), a.numeric.sorted.end()));
  CHECK(a.numeric.inner_edges.size() == 7);
  CHECK(a.numeric.proportions.size() == 8);
  const auto& color = *profile.find("color");
  CHECK(color.missing == 31);
  CHECK(color.categorical.categories == std::vector<std::string>{"red", "green", "blue"});
  REQUIRE(profile.mmd().has_value());
  CHECK(profile.mmd()->features == std::vector<std::string>{"a", "b"});
  CHECK(profile.mmd()->rows.rows() == 320);
}

TEST_CASE("a serialized profile loads back bit-identical", "[profile][unit]") {
  const auto profile = make_profile(make_sample(500));
  const std::string blob = profile.serialize();
  const auto loaded = drift::ReferenceProfile::deserialize(bytes_of(blob));
  CHECK(loaded == profile);
  CHECK(loaded.serialize() == blob);
}

TEST_CASE("every truncation of a profile is reported, never crashes", "[profile][unit]") {
  const std::string blob = make_profile(make_sample(60)).serialize();
  for (std::size_t length = 0; length < blob.size(); ++length) {
    INFO("length " << length);
    CHECK_THROWS_AS(drift::ReferenceProfile::deserialize(bytes_of(blob.substr(0, length))),
                    drift::ProfileFormatError);
  }
}

TEST_CASE("a flipped byte anywhere in a profile is reported", "[profile][unit]") {
  const std::string blob = make_profile(make_sample(60)).serialize();
  for (std::size_t k = 0; k < blob.size(); ++k) {
    std::string corrupt = blob;
    corrupt[k] = static_cast<char>(corrupt[k] ^ 0x5A);
    INFO("byte " << k);
    // The reserved flags word (bytes 12..15) is not interpreted; everything else is checked.
    if (k >= 12 && k < 16) continue;
    CHECK_THROWS_AS(drift::ReferenceProfile::deserialize(bytes_of(corrupt)),
                    drift::ProfileFormatError);
  }
}

TEST_CASE("a profile from a newer format version is refused with both versions named",
          "[profile][unit]") {
  std::string blob = make_profile(make_sample(30)).serialize();
  const std::uint32_t future = drift::ReferenceProfile::kFormatVersion + 1;
  std::memcpy(blob.data() + 8, &future, sizeof future);
  try {
    (void)drift::ReferenceProfile::deserialize(bytes_of(blob));
    FAIL("expected ProfileFormatError");
  } catch (const drift::ProfileFormatError& e) {
    CHECK(std::string(e.what()).find("version 2") != std::string::npos);
  }
}

TEST_CASE("equal inputs give byte-identical profiles, signed zeros included", "[profile][unit]") {
  // Many ±0 ties: the vectorized sort's random pivots could order -0 and +0 either way, which
  // would change the bytes (and the daemon's reference version) of the same reference.
  Sample s = make_sample(20000);
  for (std::size_t k = 0; k < s.b.size(); k += 3) s.b[k] = (k % 2 == 0) ? -0.0f : 0.0f;
  const std::string first = make_profile(s).serialize();
  for (int run = 0; run < 8; ++run) {
    INFO("build " << run);
    CHECK(make_profile(s).serialize() == first);
  }
  for (const float x : make_profile(s).features()[1].numeric.sorted) {
    if (x == 0.0f) REQUIRE_FALSE(std::signbit(x));
  }
}
