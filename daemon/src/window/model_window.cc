#include "window/model_window.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

namespace drift::daemon {

namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Copies `count` values of `from[begin..]` into the ring `to` starting at slot `start`.
template <typename T>
void ring_copy(std::vector<T>& to, std::size_t start, const T* from, std::size_t count) {
  const std::size_t capacity = to.size();
  const std::size_t first = std::min(count, capacity - start);
  std::memcpy(to.data() + start, from, first * sizeof(T));
  if (count > first) std::memcpy(to.data(), from + first, (count - first) * sizeof(T));
}

// Appends the `count` oldest values of a ring whose oldest slot is `head` to `to`, oldest
// first: two contiguous runs, not a division per value, and no zero-fill of `to` first.
template <typename T>
void ring_append_out(const std::vector<T>& ring, std::size_t head, std::size_t count,
                     std::vector<T>& to) {
  const std::size_t first = std::min(count, ring.size() - head);
  to.reserve(to.size() + count);
  const auto start = ring.begin() + static_cast<std::ptrdiff_t>(head);
  to.insert(to.end(), start, start + static_cast<std::ptrdiff_t>(first));
  to.insert(to.end(), ring.begin(), ring.begin() + static_cast<std::ptrdiff_t>(count - first));
}

}  // namespace

std::uint32_t ModelWindow::Dictionary::code(std::string_view value, std::uint64_t& overflow) {
  // The first (up to) eight bytes and the length, mixed; the top bits pick the slot.
  std::uint64_t head = 0;
  if (!value.empty()) std::memcpy(&head, value.data(), std::min<std::size_t>(value.size(), 8));
  const auto slot =
      static_cast<std::size_t>(((head ^ value.size()) * 0x9E3779B97F4A7C15ULL) >> 58);
  const Recent& hint = recent[slot];
  if (hint.code != 0 && hint.head == head && hint.size == value.size() &&
      (value.size() <= 8 ||
       std::memcmp(values[hint.code - 1].data() + 8, value.data() + 8, value.size() - 8) == 0)) {
    return hint.code - 1;
  }
  const auto remember = [&](std::uint32_t code) {
    recent[slot] = Recent{head, static_cast<std::uint32_t>(value.size()), code + 1};
  };
  const auto insert = [this](std::string_view text) {
    const auto code = static_cast<std::uint32_t>(values.size());
    values.emplace_back(text);
    index.emplace(values.back(), code);
    return code;
  };
  const auto it = index.find(value);
  if (it != index.end()) {
    remember(it->second);
    return it->second;
  }
  if (values.size() >= kMaxCategories) {
    ++overflow;
    const auto other = index.find(kOverflowCategory);
    return other != index.end() ? other->second : insert(kOverflowCategory);
  }
  const std::uint32_t code = insert(value);
  remember(code);
  return code;
}

ModelWindow::ModelWindow(std::vector<FeatureConfig> features, WindowConfig config,
                         std::uint64_t max_rows)
    : features_(std::move(features)),
      config_(config),
      capacity_(static_cast<std::size_t>(
          std::max<std::uint64_t>(1, config.time_based() ? max_rows : config.size))) {
  std::size_t numeric = 0;
  std::size_t categorical = 0;
  for (const auto& f : features_) {
    column_of_.push_back(f.kind == FeatureKind::kNumeric ? numeric++ : categorical++);
  }
  numeric_.resize(numeric);
  codes_.resize(categorical);
  dictionaries_.resize(categorical);
}

void ModelWindow::reserve(std::size_t rows) {
  rows = std::min(rows, capacity_);
  if (rows <= allocated_) return;
  // Geometric growth: memory follows the rows held, not the configured maximum.
  const std::size_t grown = std::min(capacity_, std::max({rows, allocated_ * 2, std::size_t{1024}}));
  auto relinearize = [&](auto& ring) {
    std::remove_reference_t<decltype(ring)> bigger;
    bigger.reserve(grown);
    ring_append_out(ring, head_, count_, bigger);
    bigger.resize(grown);
    ring = std::move(bigger);
  };
  for (auto& column : numeric_) relinearize(column);
  for (auto& column : codes_) relinearize(column);
  relinearize(timestamps_);
  head_ = 0;
  allocated_ = grown;
}

void ModelWindow::push_rows(const DecodedRows& rows, std::size_t begin, std::size_t end) {
  // More rows than the ring holds: only the newest capacity_ survive.
  if (end - begin > capacity_) begin = end - capacity_;
  const std::size_t n = end - begin;
  if (n == 0) return;
  reserve(count_ + n);
  // The slot after the newest row: the oldest row's slot when the ring is full.
  const std::size_t write_at = slot(count_);
  for (std::size_t k = 0; k < numeric_.size(); ++k) {
    ring_copy(numeric_[k], write_at, rows.numeric[k].data() + begin, n);
  }
  for (std::size_t k = 0; k < codes_.size(); ++k) {
    auto& codes = codes_[k];
    std::size_t at = write_at;  // wraps by a compare, not a division per value
    for (std::size_t r = 0; r < n; ++r) {
      const CategoryRef& ref = rows.categorical[k][begin + r];
      codes[at] = ref.length == CategoryRef::kMissingLength
                      ? kMissingCode
                      : dictionaries_[k].code(rows.category(ref), counters_.category_overflow);
      if (++at == allocated_) at = 0;
    }
  }
  ring_copy(timestamps_, write_at, rows.timestamp_ms.data() + begin, n);
  const std::size_t total = count_ + n;
  const std::size_t kept = std::min(total, allocated_);
  const std::size_t dropped = total - kept;
  head_ = (head_ + dropped) % allocated_;
  count_ = kept;
  if (config_.time_based()) counters_.evicted_capacity += dropped;
}

void ModelWindow::push_row(const DecodedRows& rows, std::size_t r) { push_rows(rows, r, r + 1); }

void ModelWindow::append(const DecodedRows& rows, std::vector<WindowSnapshot>& due) {
  const std::size_t n = rows.rows();
  if (!config_.time_based()) {
    const std::uint64_t slide = std::max<std::uint64_t>(1, config_.slide ? config_.slide : config_.size);
    std::size_t r = 0;
    while (r < n) {
      const std::uint64_t to_due = slide - counters_.appended % slide;
      const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(n - r, to_due));
      push_rows(rows, r, r + take);
      counters_.appended += take;
      r += take;
      watermark_ms_ = std::max(watermark_ms_, rows.timestamp_ms[r - 1]);
      if (counters_.appended % slide == 0) {
        ++counters_.evaluations_due;
        if (count_ >= config_.min_rows) {
          due.push_back(snapshot_all(std::exchange(spare_, {})));
        } else {
          ++counters_.skipped_min_rows;
        }
      }
    }
    return;
  }
  const std::int64_t duration = config_.duration.count();
  const std::int64_t every = std::max<std::int64_t>(1, config_.every.count() ? config_.every.count()
                                                                              : duration);
  for (std::size_t r = 0; r < n; ++r) {
    const std::int64_t ts = rows.timestamp_ms[r];
    if (next_boundary_ms_ == 0) next_boundary_ms_ = (floor_div(ts, every) + 1) * every;
    ++counters_.appended;
    if (ts <= next_boundary_ms_ - duration) {
      ++counters_.late_rows;  // older than any window still to come
      continue;
    }
    push_row(rows, r);
    watermark_ms_ = std::max(watermark_ms_, ts);
    while (watermark_ms_ >= next_boundary_ms_) {
      ++counters_.evaluations_due;
      WindowSnapshot snapshot = snapshot_between(next_boundary_ms_ - duration, next_boundary_ms_,
                                                 std::exchange(spare_, {}));
      if (snapshot.table.rows >= config_.min_rows) {
        due.push_back(std::move(snapshot));
      } else {
        ++counters_.skipped_min_rows;
        spare_ = std::move(snapshot.table);  // not evaluated: its buffers serve the next one
      }
      next_boundary_ms_ += every;
      // A long silence: skip straight to the boundary the newest row belongs to.
      if (watermark_ms_ - next_boundary_ms_ > 1000 * every) {
        next_boundary_ms_ = (floor_div(watermark_ms_, every) + 1) * every;
      }
      evict_before(next_boundary_ms_ - duration);
    }
  }
}

void ModelWindow::evict_before(std::int64_t cutoff_ms) {
  while (count_ > 0 && timestamps_[head_] <= cutoff_ms) {
    head_ = (head_ + 1) % allocated_;
    --count_;
  }
}

namespace {

// Both fill an empty column by appending (a resize first would zero-fill every value once more
// before the copy: a window's worth of memset per evaluation, on the ingest thread).

/// The whole ring, oldest first.
struct RingSlots {
  std::size_t head;
  std::size_t count;
  template <typename T>
  void copy(const std::vector<T>& ring, std::vector<T>& to) const {
    ring_append_out(ring, head, count, to);
  }
};

/// Chosen slots, in order.
struct ListedSlots {
  const std::vector<std::size_t>& slots;
  template <typename T>
  void copy(const std::vector<T>& ring, std::vector<T>& to) const {
    to.reserve(slots.size());
    for (const std::size_t slot : slots) to.push_back(ring[slot]);
  }
};

// Builds the owning snapshot table from ring slots, oldest first, in `table`'s buffers.
// (`Dictionaries`: the window's own, each with its `values` in code order.)
template <typename Slots, typename Dictionaries>
Table table_from(Table table, const std::vector<FeatureConfig>& features,
                 const std::vector<std::size_t>& column_of,
                 const std::vector<std::vector<float>>& numeric,
                 const std::vector<std::vector<std::uint32_t>>& codes,
                 const Dictionaries& dictionaries, const Slots& slots, std::size_t rows) {
  table.rows = rows;
  table.columns.resize(features.size());
  for (std::size_t f = 0; f < features.size(); ++f) {
    Column& column = table.columns[f];
    column.name = features[f].name;
    column.kind = features[f].kind;
    column.values.clear();
    column.codes.clear();
    column.dictionary.clear();
    const std::size_t k = column_of[f];
    if (column.kind == FeatureKind::kNumeric) {
      slots.copy(numeric[k], column.values);
    } else {
      slots.copy(codes[k], column.codes);
      column.dictionary = dictionaries[k].values;
    }
  }
  return table;
}

}  // namespace

void ModelWindow::recycle(Table&& table) { spare_ = std::move(table); }

WindowSnapshot ModelWindow::snapshot_all(Table reuse) const {
  WindowSnapshot snapshot;
  snapshot.table = table_from(std::move(reuse), features_, column_of_, numeric_, codes_,
                              dictionaries_, RingSlots{head_, count_}, count_);
  snapshot.position = counters_.appended;
  snapshot.last_row_ms = watermark_ms_;
  if (count_ > 0) {
    // The held rows are the first count_ slots from head_, wrapping: two runs.
    const std::size_t first = std::min(count_, allocated_ - head_);
    const auto oldest = timestamps_.begin() + static_cast<std::ptrdiff_t>(head_);
    snapshot.first_row_ms = *std::min_element(oldest, oldest + static_cast<std::ptrdiff_t>(first));
    if (count_ > first) {
      snapshot.first_row_ms = std::min(
          snapshot.first_row_ms,
          *std::min_element(timestamps_.begin(),
                            timestamps_.begin() + static_cast<std::ptrdiff_t>(count_ - first)));
    }
  }
  return snapshot;
}

WindowSnapshot ModelWindow::snapshot_between(std::int64_t after_ms, std::int64_t until_ms,
                                             Table reuse) const {
  std::vector<std::size_t> slots;
  slots.reserve(count_);
  for (std::size_t r = 0; r < count_; ++r) {
    const std::size_t s = slot(r);
    if (timestamps_[s] > after_ms && timestamps_[s] <= until_ms) slots.push_back(s);
  }
  WindowSnapshot snapshot;
  snapshot.table = table_from(std::move(reuse), features_, column_of_, numeric_, codes_,
                              dictionaries_, ListedSlots{slots}, slots.size());
  snapshot.position = counters_.appended;
  snapshot.boundary_ms = until_ms;
  snapshot.last_row_ms = watermark_ms_;
  for (const std::size_t s : slots) {
    if (snapshot.first_row_ms == 0 || timestamps_[s] < snapshot.first_row_ms) {
      snapshot.first_row_ms = timestamps_[s];
    }
  }
  return snapshot;
}

WindowSnapshot ModelWindow::contents() const { return snapshot_all({}); }

void ModelWindow::save(BinaryWriter& out) const {
  out.scalar<std::uint64_t>(features_.size());
  for (const auto& f : features_) {
    out.text(f.name);
    out.scalar<std::uint8_t>(static_cast<std::uint8_t>(f.kind));
  }
  const auto& c = counters_;
  for (const std::uint64_t v : {c.appended, c.evaluations_due, c.skipped_min_rows, c.late_rows,
                                c.evicted_capacity, c.category_overflow}) {
    out.scalar<std::uint64_t>(v);
  }
  out.scalar<std::int64_t>(watermark_ms_);
  out.scalar<std::int64_t>(next_boundary_ms_);
  // Rows oldest first, so a window of another capacity can take them back.
  const WindowSnapshot rows = snapshot_all({});
  std::vector<std::int64_t> timestamps;
  ring_append_out(timestamps_, head_, count_, timestamps);
  out.array(timestamps);
  for (const auto& column : rows.table.columns) {
    if (column.kind == FeatureKind::kNumeric) {
      out.array(column.values);
    } else {
      out.array(column.codes);
      out.texts(column.dictionary);
    }
  }
}

void ModelWindow::restore(BinaryReader& in) {
  const std::size_t features = in.count(9);
  if (features != features_.size()) in.fail("the checkpoint has another number of features");
  for (const auto& f : features_) {
    const std::string name = in.text();
    const auto kind = in.scalar<std::uint8_t>();
    if (name != f.name || kind != static_cast<std::uint8_t>(f.kind)) {
      in.fail("feature '" + name + "' in the checkpoint is not the configured '" + f.name + "'");
    }
  }
  WindowCounters c;
  for (std::uint64_t* v : {&c.appended, &c.evaluations_due, &c.skipped_min_rows, &c.late_rows,
                           &c.evicted_capacity, &c.category_overflow}) {
    *v = in.scalar<std::uint64_t>();
  }
  const auto watermark = in.scalar<std::int64_t>();
  const auto next_boundary = in.scalar<std::int64_t>();
  const auto timestamps = in.array<std::int64_t>();
  const std::size_t rows = timestamps.size();
  std::vector<std::vector<float>> numeric(numeric_.size());
  std::vector<Dictionary> dictionaries(codes_.size());
  std::vector<std::vector<std::uint32_t>> codes(codes_.size());
  for (std::size_t f = 0; f < features_.size(); ++f) {
    const std::size_t k = column_of_[f];
    if (features_[f].kind == FeatureKind::kNumeric) {
      numeric[k] = in.array<float>();
      if (numeric[k].size() != rows) in.fail("a column's length differs from the rows'");
    } else {
      codes[k] = in.array<std::uint32_t>();
      auto values = in.texts();
      if (codes[k].size() != rows) in.fail("a column's length differs from the rows'");
      for (const auto code : codes[k]) {
        if (code != kMissingCode && code >= values.size()) in.fail("a category code is out of range");
      }
      for (std::uint32_t v = 0; v < values.size(); ++v) dictionaries[k].index.emplace(values[v], v);
      dictionaries[k].values = std::move(values);
    }
  }
  // Commit only once everything parsed: a bad checkpoint leaves the window as it was.
  counters_ = c;
  watermark_ms_ = watermark;
  next_boundary_ms_ = next_boundary;
  head_ = 0;
  count_ = 0;
  dictionaries_ = std::move(dictionaries);
  const std::size_t keep = std::min(rows, capacity_);
  reserve(keep);
  const std::size_t first = rows - keep;
  for (std::size_t k = 0; k < numeric_.size(); ++k) {
    std::copy_n(numeric[k].begin() + static_cast<std::ptrdiff_t>(first), keep, numeric_[k].begin());
  }
  for (std::size_t k = 0; k < codes_.size(); ++k) {
    std::copy_n(codes[k].begin() + static_cast<std::ptrdiff_t>(first), keep, codes_[k].begin());
  }
  std::copy_n(timestamps.begin() + static_cast<std::ptrdiff_t>(first), keep, timestamps_.begin());
  count_ = keep;
}

}  // namespace drift::daemon

namespace drift::daemon {

void save_table(BinaryWriter& out, const Table& table) {
  out.scalar<std::uint64_t>(table.rows);
  out.scalar<std::uint64_t>(table.columns.size());
  for (const auto& column : table.columns) {
    out.text(column.name);
    out.scalar<std::uint8_t>(static_cast<std::uint8_t>(column.kind));
    if (column.kind == FeatureKind::kNumeric) {
      out.array(column.values);
    } else {
      out.array(column.codes);
      out.texts(column.dictionary);
    }
  }
}

Table load_table(BinaryReader& in) {
  Table table;
  table.rows = in.scalar<std::uint64_t>();
  const std::size_t columns = in.count(9);
  for (std::size_t c = 0; c < columns; ++c) {
    Column column;
    column.name = in.text();
    const auto kind = in.scalar<std::uint8_t>();
    if (kind > static_cast<std::uint8_t>(FeatureKind::kCategorical)) in.fail("unknown column kind");
    column.kind = static_cast<FeatureKind>(kind);
    if (column.kind == FeatureKind::kNumeric) {
      column.values = in.array<float>();
      if (column.values.size() != table.rows) in.fail("a column's length differs from the rows'");
    } else {
      column.codes = in.array<std::uint32_t>();
      column.dictionary = in.texts();
      if (column.codes.size() != table.rows) in.fail("a column's length differs from the rows'");
      for (const auto code : column.codes) {
        if (code != kMissingCode && code >= column.dictionary.size()) {
          in.fail("a category code is out of range");
        }
      }
    }
    table.columns.push_back(std::move(column));
  }
  return table;
}

DecodedRows slice_rows(const DecodedRows& rows, std::size_t begin, std::size_t end) {
  DecodedRows out;
  const auto b = static_cast<std::ptrdiff_t>(begin);
  const auto e = static_cast<std::ptrdiff_t>(end);
  for (const auto& column : rows.numeric) out.numeric.emplace_back(column.begin() + b, column.begin() + e);
  for (const auto& column : rows.categorical) {
    out.categorical.emplace_back(column.begin() + b, column.begin() + e);
  }
  out.arena = rows.arena;
  out.timestamp_ms.assign(rows.timestamp_ms.begin() + b, rows.timestamp_ms.begin() + e);
  return out;
}

}  // namespace drift::daemon
