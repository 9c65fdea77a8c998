#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "window/model_window.h"

using drift::daemon::CategoryRef;
using drift::daemon::DecodedRows;
using drift::daemon::FeatureConfig;
using drift::daemon::ModelWindow;
using drift::daemon::WindowConfig;
using drift::daemon::WindowSnapshot;

namespace {

std::vector<FeatureConfig> features() {
  return {{"x", "/x", drift::FeatureKind::kNumeric, {}},
          {"c", "/c", drift::FeatureKind::kCategorical, {}}};
}

// Rows whose x is the row number and c is "k<row % 3>", timestamps as given.
DecodedRows rows(int first, int count, std::int64_t ts0 = 0, std::int64_t ts_step = 0) {
  DecodedRows d;
  d.numeric.resize(1);
  d.categorical.resize(1);
  for (int r = first; r < first + count; ++r) {
    d.numeric[0].push_back(static_cast<float>(r));
    const std::string text = "k" + std::to_string(r % 3);
    CategoryRef ref;
    ref.offset = static_cast<std::uint32_t>(d.arena.size());
    ref.length = static_cast<std::uint32_t>(text.size());
    d.arena += text;
    d.categorical[0].push_back(ref);
    d.timestamp_ms.push_back(ts0 + ts_step * (r - first));
  }
  return d;
}

std::vector<float> xs(const WindowSnapshot& s) { return s.table.columns[0].values; }

std::vector<std::string> cs(const WindowSnapshot& s) {
  std::vector<std::string> out;
  for (const auto code : s.table.columns[1].codes) out.push_back(s.table.columns[1].dictionary[code]);
  return out;
}

WindowConfig count_window(std::uint64_t size, std::uint64_t slide, std::uint64_t min_rows = 1) {
  WindowConfig w;
  w.size = size;
  w.slide = slide;
  w.min_rows = min_rows;
  return w;
}

}  // namespace

TEST_CASE("a tumbling count window evaluates every size rows on exactly those rows",
          "[window][unit]") {
  ModelWindow window(features(), count_window(4, 4), 0);
  std::vector<WindowSnapshot> due;
  window.append(rows(0, 10), due);
  REQUIRE(due.size() == 2);
  CHECK(xs(due[0]) == std::vector<float>{0, 1, 2, 3});
  CHECK(xs(due[1]) == std::vector<float>{4, 5, 6, 7});
  CHECK(due[1].position == 8);
  CHECK(cs(due[1]) == std::vector<std::string>{"k1", "k2", "k0", "k1"});
  CHECK(window.size() == 4);
}

TEST_CASE("a sliding count window evaluates at every slide whatever the batch sizes",
          "[window][unit]") {
  ModelWindow window(features(), count_window(5, 2), 0);
  std::vector<WindowSnapshot> due;
  window.append(rows(0, 3), due);
  window.append(rows(3, 3), due);
  window.append(rows(6, 1), due);
  REQUIRE(due.size() == 3);
  CHECK(xs(due[0]) == std::vector<float>{0, 1});
  CHECK(xs(due[1]) == std::vector<float>{0, 1, 2, 3});
  CHECK(xs(due[2]) == std::vector<float>{1, 2, 3, 4, 5});
}

TEST_CASE("a batch larger than the window keeps only its newest rows", "[window][unit]") {
  ModelWindow window(features(), count_window(3, 10), 0);
  std::vector<WindowSnapshot> due;
  window.append(rows(0, 25), due);
  REQUIRE(due.size() == 2);
  CHECK(xs(due[0]) == std::vector<float>{7, 8, 9});
  CHECK(xs(due[1]) == std::vector<float>{17, 18, 19});
  CHECK(xs(window.contents()) == std::vector<float>{22, 23, 24});
}

TEST_CASE("evaluation points with fewer than min_rows rows are skipped and counted",
          "[window][unit]") {
  ModelWindow window(features(), count_window(10, 2, 3), 0);
  std::vector<WindowSnapshot> due;
  window.append(rows(0, 4), due);
  CHECK(due.size() == 1);
  CHECK(window.counters().skipped_min_rows == 1);
  CHECK(window.counters().evaluations_due == 2);
}

TEST_CASE("categories past the cap share the overflow category", "[window][unit]") {
  ModelWindow window(features(), count_window(20000, 20000), 0);
  DecodedRows d;
  d.numeric.resize(1);
  d.categorical.resize(1);
  for (std::uint32_t r = 0; r < ModelWindow::kMaxCategories + 5; ++r) {
    const std::string text = std::to_string(r);
    d.numeric[0].push_back(0.0f);
    d.categorical[0].push_back({static_cast<std::uint32_t>(d.arena.size()), static_cast<std::uint32_t>(text.size())});
    d.arena += text;
    d.timestamp_ms.push_back(0);
  }
  d.categorical[0].push_back({});  // missing
  d.numeric[0].push_back(std::nanf(""));
  d.timestamp_ms.push_back(0);
  std::vector<WindowSnapshot> due;
  window.append(d, due);
  const auto all = window.contents();
  CHECK(all.table.columns[1].dictionary.size() == ModelWindow::kMaxCategories + 1);
  CHECK(all.table.columns[1].dictionary.back() == ModelWindow::kOverflowCategory);
  CHECK(window.counters().category_overflow == 5);
  CHECK(all.table.columns[1].codes.back() == drift::kMissingCode);
}

TEST_CASE("a time window evaluates at each boundary on the rows of its span", "[window][unit]") {
  WindowConfig config;
  config.duration = std::chrono::milliseconds(10000);
  config.every = std::chrono::milliseconds(5000);
  ModelWindow window(features(), config, 1000);
  std::vector<WindowSnapshot> due;
  // One row a second from t = 1 s to t = 21 s.
  window.append(rows(1, 21, 1000, 1000), due);
  // Boundaries 5, 10, 15, 20 s: windows (b - 10 s, b].
  REQUIRE(due.size() == 4);
  CHECK(xs(due[0]) == std::vector<float>{1, 2, 3, 4, 5});
  CHECK(xs(due[1]).size() == 10);
  CHECK(xs(due[3]).front() == 11);
  CHECK(xs(due[3]).back() == 20);
  CHECK(due[3].boundary_ms == 20000);
  // A row from before the current window's start is late.
  window.append(rows(30, 1, 9000, 0), due);
  CHECK(window.counters().late_rows == 1);
}

TEST_CASE("a restored window continues exactly like the original", "[window][unit]") {
  ModelWindow original(features(), count_window(6, 4), 0);
  std::vector<WindowSnapshot> due;
  original.append(rows(0, 9), due);
  drift::BinaryWriter out;
  original.save(out);
  ModelWindow restored(features(), count_window(6, 4), 0);
  drift::BinaryReader in(drift::as_bytes(out.bytes()), "checkpoint");
  restored.restore(in);
  CHECK(in.done());
  std::vector<WindowSnapshot> a;
  std::vector<WindowSnapshot> b;
  original.append(rows(9, 7), a);
  restored.append(rows(9, 7), b);
  REQUIRE(a.size() == b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    CHECK(xs(a[k]) == xs(b[k]));
    CHECK(cs(a[k]) == cs(b[k]));
    CHECK(a[k].position == b[k].position);
  }
}

TEST_CASE("restoring a checkpoint of other features fails and leaves the window empty",
          "[window][unit]") {
  ModelWindow original(features(), count_window(6, 4), 0);
  std::vector<WindowSnapshot> due;
  original.append(rows(0, 3), due);
  drift::BinaryWriter out;
  original.save(out);
  auto other = features();
  other[0].name = "y";
  ModelWindow restored(other, count_window(6, 4), 0);
  drift::BinaryReader in(drift::as_bytes(out.bytes()), "checkpoint");
  CHECK_THROWS_AS(restored.restore(in), drift::FormatError);
  CHECK(restored.size() == 0);
}

TEST_CASE("a window that grows while its ring wraps keeps its rows in order", "[window][unit]") {
  WindowConfig config;
  config.duration = std::chrono::milliseconds(1000);
  config.every = std::chrono::milliseconds(1000);
  ModelWindow window(features(), config, 100000);
  std::vector<WindowSnapshot> due;
  // One row a millisecond: the first boundary evicts the ring's front, and the rows after it
  // wrap around and then outgrow the ring (it is reallocated while wrapped).
  window.append(rows(0, 1500, 0, 1), due);
  window.append(rows(1500, 2000, 1500, 1), due);
  REQUIRE(due.size() == 3);
  for (std::size_t k = 0; k < due.size(); ++k) {
    const auto x = xs(due[k]);
    REQUIRE(!x.empty());
    CHECK(x.back() == static_cast<float>(1000 * (k + 1)));
    for (std::size_t r = 1; r < x.size(); ++r) REQUIRE(x[r] == x[r - 1] + 1);
    CHECK(due[k].first_row_ms == static_cast<std::int64_t>(x.front()));
    for (std::size_t r = 0; r < x.size(); ++r) {
      REQUIRE(cs(due[k])[r] == "k" + std::to_string(static_cast<int>(x[r]) % 3));
    }
  }
  const WindowSnapshot all = window.contents();
  const auto x = xs(all);
  REQUIRE(x.size() == 499);
  CHECK(x.front() == 3001);
  CHECK(x.back() == 3499);
  for (std::size_t r = 1; r < x.size(); ++r) REQUIRE(x[r] == x[r - 1] + 1);
  CHECK(all.first_row_ms == 3001);
}

TEST_CASE("categories keep their codes across many values and repeats", "[window][unit]") {
  // Short values, and long ones that share their first eight bytes (and often their length):
  // the recent-codes cache must tell them apart by the rest.
  const std::string prefix = GENERATE(as<std::string>{}, "v", "long-shared-prefix-");
  INFO("prefix " << prefix);
  ModelWindow window(features(), count_window(3000, 3000), 0);
  DecodedRows d;
  d.numeric.resize(1);
  d.categorical.resize(1);
  for (int r = 0; r < 3000; ++r) {
    // 500 values (many share a slot of the recent-codes cache), each seen six times.
    const std::string text = r % 7 == 0 ? "" : prefix + std::to_string((r * 37) % 500);
    CategoryRef ref;
    ref.offset = static_cast<std::uint32_t>(d.arena.size());
    ref.length = static_cast<std::uint32_t>(text.size());
    d.arena += text;
    d.numeric[0].push_back(static_cast<float>(r));
    d.categorical[0].push_back(ref);
    d.timestamp_ms.push_back(r);
  }
  std::vector<WindowSnapshot> due;
  window.append(d, due);
  REQUIRE(due.size() == 1);
  const auto values = cs(due[0]);
  REQUIRE(values.size() == 3000);
  for (int r = 0; r < 3000; ++r) {
    REQUIRE(values[r] == (r % 7 == 0 ? "" : prefix + std::to_string((r * 37) % 500)));
  }
  CHECK(due[0].table.columns[1].dictionary.size() == 501);
}

TEST_CASE("snapshots built in recycled tables equal snapshots built in fresh ones",
          "[window][unit]") {
  // A recycled table of another shape, full of stale values: more columns than the window has,
  // the kinds swapped, a dictionary on the numeric column.
  const auto stale = [] {
    drift::daemon::Table table;
    table.rows = 99;
    table.columns.resize(3);
    table.columns[0].kind = drift::FeatureKind::kCategorical;
    table.columns[0].codes.assign(50, 7);
    table.columns[0].dictionary = {"stale"};
    table.columns[1].kind = drift::FeatureKind::kNumeric;
    table.columns[1].values.assign(60, -1.0f);
    table.columns[2].values.assign(10, 3.0f);
    return table;
  };
  const auto same = [](const WindowSnapshot& a, const WindowSnapshot& b) {
    REQUIRE(a.table.rows == b.table.rows);
    REQUIRE(a.table.columns.size() == b.table.columns.size());
    for (std::size_t c = 0; c < a.table.columns.size(); ++c) {
      const auto& x = a.table.columns[c];
      const auto& y = b.table.columns[c];
      CHECK(x.name == y.name);
      CHECK(x.kind == y.kind);
      CHECK(x.values == y.values);
      CHECK(x.codes == y.codes);
      CHECK(x.dictionary == y.dictionary);
    }
    CHECK(a.position == b.position);
    CHECK(a.first_row_ms == b.first_row_ms);
    CHECK(a.last_row_ms == b.last_row_ms);
  };
  for (const bool time_based : {false, true}) {
    WindowConfig config = count_window(6, 3);
    if (time_based) {
      config = WindowConfig{};
      config.duration = std::chrono::milliseconds(60);
      config.every = std::chrono::milliseconds(30);
      config.min_rows = 1;
    }
    ModelWindow fresh(features(), config, 1000);
    ModelWindow recycling(features(), config, 1000);
    std::vector<WindowSnapshot> fresh_due;
    std::vector<WindowSnapshot> recycled_due;
    for (int batch = 0; batch < 8; ++batch) {
      const DecodedRows input = rows(batch * 5, 5, 1000 + batch * 50, 10);
      fresh.append(input, fresh_due);
      // Hand back the previous snapshot's table (alternately a stale one) before each batch.
      recycling.recycle(batch % 2 == 0 || recycled_due.empty()
                            ? stale()
                            : std::move(recycled_due.back().table));
      std::vector<WindowSnapshot> due;
      recycling.append(input, due);
      for (auto& snapshot : due) recycled_due.push_back(std::move(snapshot));
      REQUIRE(recycled_due.size() == fresh_due.size());
      for (std::size_t s = recycled_due.size() - due.size(); s < recycled_due.size(); ++s) {
        INFO("time_based " << time_based << ", snapshot " << s);
        same(recycled_due[s], fresh_due[s]);
      }
    }
    CHECK(fresh_due.size() >= 6);
  }
}
