#pragma once
/// A model's current window: columnar ring buffers (float32 numeric, dictionary-coded
/// categorical, int64 timestamps) with count or time eviction, and the evaluation points that
/// fall due as rows arrive. Not thread-safe: the pipeline holds the model's lock around it.

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "decode/decoder.h"
#include "drift/daemon/table.h"
#include "drift/detectors/binary_codec.h"

namespace drift::daemon {

/// The rows of a window at one evaluation point: an owning copy (model feature order) that
/// evaluation reads while ingestion goes on. Copying (~1 ms for 100k rows x 24 features) is
/// cheap next to the tests it feeds.
struct WindowSnapshot {
  Table table;
  std::uint64_t position = 0;     ///< rows appended to the window when it was taken
  std::int64_t boundary_ms = 0;   ///< time windows: the evaluation time; count windows: 0
  std::int64_t last_row_ms = 0;   ///< timestamp of the newest row appended so far
  std::int64_t first_row_ms = 0;  ///< timestamp of the oldest row in `table` (0: unknown)
  /// Count windows: an id of the window's row stream, set by the pipeline (WindowOrigin: a
  /// GPU backend re-sends only rows it does not hold). 0: unknown.
  std::uint64_t stream = 0;
};

/// Counters a window keeps (they survive checkpoints).
struct WindowCounters {
  std::uint64_t appended = 0;            ///< rows ever appended
  std::uint64_t evaluations_due = 0;     ///< evaluation points reached
  std::uint64_t skipped_min_rows = 0;    ///< points skipped: fewer than min_rows rows
  std::uint64_t late_rows = 0;           ///< time windows: rows older than the window start
  std::uint64_t evicted_capacity = 0;    ///< time windows: rows dropped at max_rows
  std::uint64_t category_overflow = 0;   ///< values mapped to the overflow category
};

class ModelWindow {
 public:
  /// Categories per feature before new values share one overflow category.
  static constexpr std::uint32_t kMaxCategories = 10000;
  static constexpr std::string_view kOverflowCategory = "__other__";

  /// `max_rows` bounds a time window's memory (count windows hold window.size rows).
  ModelWindow(std::vector<FeatureConfig> features, WindowConfig config, std::uint64_t max_rows);

  /// Appends decoded rows (columns in the model's numeric / categorical order); snapshots of
  /// the evaluation points reached on the way are appended to `due`, oldest first.
  void append(const DecodedRows& rows, std::vector<WindowSnapshot>& due);

  /// Takes back the table of a snapshot this window gave and that nobody reads any more: the
  /// next snapshot fills its buffers instead of fresh ones. (A fresh window-sized copy is
  /// mostly page faults — the allocator hands the freed memory back to the kernel — and cost
  /// more than decoding the rows it copies; see bench/RESULTS.md, fifth pass.)
  void recycle(Table&& table);

  /// Rows held now.
  std::uint64_t size() const { return count_; }
  const WindowCounters& counters() const { return counters_; }
  /// Everything held now, oldest first.
  WindowSnapshot contents() const;

  /// Checkpoint form. restore() throws FormatError when the bytes do not fit this window's
  /// features; a different capacity keeps the newest rows that fit.
  void save(BinaryWriter& out) const;
  void restore(BinaryReader& in);

 private:
  struct Dictionary {
    struct Hash {
      using is_transparent = void;
      std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
      }
    };
    std::vector<std::string> values;
    std::unordered_map<std::string, std::uint32_t, Hash, std::equal_to<>> index;
    /// Codes the map gave lately, by a cheap hash of the value: features have few categories,
    /// and most lookups end here, without the map's hash and division. An entry keeps the
    /// value's first eight bytes and length, so a hit on a value of up to eight bytes reads
    /// nothing else (no stored string, no memcmp).
    struct Recent {
      std::uint64_t head = 0;
      std::uint32_t size = 0;
      std::uint32_t code = 0;  ///< code + 1; 0 = empty
    };
    std::array<Recent, 64> recent{};
    std::uint32_t code(std::string_view value, std::uint64_t& overflow);
  };

  void push_row(const DecodedRows& rows, std::size_t r);
  void push_rows(const DecodedRows& rows, std::size_t begin, std::size_t end);
  /// Both fill `reuse` (a recycled table, or an empty one).
  WindowSnapshot snapshot_between(std::int64_t after_ms, std::int64_t until_ms, Table reuse) const;
  WindowSnapshot snapshot_all(Table reuse) const;
  void evict_before(std::int64_t cutoff_ms);
  std::size_t slot(std::uint64_t age) const { return (head_ + age) % allocated_; }
  /// Grows the ring (up to capacity_) so `rows` fit, keeping the rows in order.
  void reserve(std::size_t rows);

  std::vector<FeatureConfig> features_;
  std::vector<std::size_t> column_of_;  ///< feature -> index among its kind
  WindowConfig config_;
  std::size_t capacity_;       ///< rows the window may hold
  std::size_t allocated_ = 0;  ///< rows the ring has room for now (grows up to capacity_)
  std::vector<std::vector<float>> numeric_;
  std::vector<std::vector<std::uint32_t>> codes_;
  std::vector<Dictionary> dictionaries_;
  std::vector<std::int64_t> timestamps_;
  Table spare_;  ///< a recycled snapshot table: its buffers' capacity, for the next snapshot
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  WindowCounters counters_;
  std::int64_t watermark_ms_ = 0;       ///< newest row time seen
  std::int64_t next_boundary_ms_ = 0;   ///< time windows: next evaluation time (0 = unset)
};

}  // namespace drift::daemon

namespace drift::daemon {

/// A table in the checkpoint's binary form (columns with names, kinds, values or codes and
/// dictionary). load_table throws FormatError on inconsistent bytes.
void save_table(BinaryWriter& out, const Table& table);
Table load_table(BinaryReader& in);

/// Rows [begin, end) of decoded rows (the arena is shared by copy; offsets stay valid).
DecodedRows slice_rows(const DecodedRows& rows, std::size_t begin, std::size_t end);

}  // namespace drift::daemon
