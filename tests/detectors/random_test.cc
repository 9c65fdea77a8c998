#include "drift/detectors/random.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "golden.h"

namespace {

using drift::random::SplitMix64;
using drift::random::Stream;

Stream stream_of(const nlohmann::json& entry) {
  return static_cast<Stream>(entry.at("stream").get<std::uint64_t>());
}

}  // namespace

TEST_CASE("mix64 equals the Python re-implementation", "[random][unit]") {
  const auto golden = drift::test::load_golden("mmd_random.json");
  for (const auto& entry : golden.at("mix64")) {
    INFO("x = " << entry.at("x").get<std::uint64_t>());
    CHECK(drift::random::mix64(entry.at("x").get<std::uint64_t>()) ==
          entry.at("value").get<std::uint64_t>());
  }
}

TEST_CASE("a stream's outputs are a pure function of seed, stream and index", "[random][unit]") {
  const auto golden = drift::test::load_golden("mmd_random.json");
  for (const auto& entry : golden.at("next")) {
    auto rng = SplitMix64::for_stream(entry.at("seed").get<std::uint64_t>(), stream_of(entry),
                                      entry.at("index").get<std::uint64_t>());
    INFO("seed " << entry.at("seed").get<std::uint64_t>() << ", index "
                 << entry.at("index").get<std::uint64_t>());
    for (const auto& expected : entry.at("values")) {
      CHECK(rng.next() == expected.get<std::uint64_t>());
    }
  }
}

TEST_CASE("bounded draws equal Lemire's method in Python, rejections included", "[random][unit]") {
  const auto golden = drift::test::load_golden("mmd_random.json");
  for (const auto& entry : golden.at("bounded")) {
    const auto bound = entry.at("bound").get<std::uint64_t>();
    auto rng = SplitMix64::for_stream(entry.at("seed").get<std::uint64_t>(), stream_of(entry),
                                      entry.at("index").get<std::uint64_t>());
    INFO("bound " << bound);
    for (const auto& expected : entry.at("values")) {
      const std::uint64_t value = rng.bounded(bound);
      CHECK(value < bound);
      CHECK(value == expected.get<std::uint64_t>());
    }
  }
}

TEST_CASE("partial shuffles equal the Python shuffles", "[random][unit]") {
  const auto golden = drift::test::load_golden("mmd_random.json");
  for (const auto& entry : golden.at("partial_shuffle")) {
    auto rng = SplitMix64::for_stream(entry.at("seed").get<std::uint64_t>(), stream_of(entry),
                                      entry.at("index").get<std::uint64_t>());
    std::vector<std::uint32_t> order(entry.at("n").get<std::size_t>(), 7u);
    drift::random::partial_shuffle(rng, order, entry.at("k").get<std::size_t>());
    INFO("n " << order.size() << ", k " << entry.at("k").get<std::size_t>());
    CHECK(order == entry.at("order").get<std::vector<std::uint32_t>>());
  }
}

TEST_CASE("sample_indices equals the Python sample, ascending and capped at n", "[random][unit]") {
  const auto golden = drift::test::load_golden("mmd_random.json");
  for (const auto& entry : golden.at("sample_indices")) {
    const auto n_total = entry.at("n").get<std::size_t>();
    const auto k = entry.at("k").get<std::size_t>();
    const auto indices = drift::random::sample_indices(entry.at("seed").get<std::uint64_t>(),
                                                       stream_of(entry), n_total, k);
    INFO("n " << n_total << ", k " << k);
    CHECK(indices == entry.at("indices").get<std::vector<std::uint32_t>>());
    CHECK(indices.size() == std::min(n_total, k));
    CHECK(std::is_sorted(indices.begin(), indices.end()));
    CHECK(std::adjacent_find(indices.begin(), indices.end()) == indices.end());
  }
}

TEST_CASE("bounded draws are uniform over a small range", "[random][unit]") {
  auto rng = SplitMix64::for_stream(99, Stream::kPermutation, 0);
  constexpr std::size_t kBins = 7;
  constexpr std::size_t kDraws = 70000;
  std::vector<std::size_t> counts(kBins, 0);
  for (std::size_t i = 0; i < kDraws; ++i) ++counts[rng.bounded(kBins)];
  double chi2 = 0.0;
  const double expected = static_cast<double>(kDraws) / kBins;
  for (const std::size_t c : counts) {
    const double diff = static_cast<double>(c) - expected;
    chi2 += diff * diff / expected;
  }
  CHECK(chi2 < 22.46);  // chi-square, 6 dof, upper 0.001 quantile
}
