#pragma once
/// The persistent webhook outbox: one file per pending delivery (one event for one webhook) in
/// a directory under state.dir, so pending deliveries survive restarts and a restarted daemon
/// resends the same event id and body.
///
/// Layout (WEBHOOKS.md): <dir>/<key>.delivery pending, <dir>/dead/<key>.delivery dead letters,
/// <dir>/corrupt/<name> files that failed to parse, set aside. key = the first 32 hex digits of
/// SHA-256(webhook "\0" event id), so enqueueing the same event twice for one webhook keeps one
/// delivery. Each file is a sealed envelope (binary_codec.h: magic "DRIFTWHK", version 1,
/// CRC-32) written atomically (temporary file, fsync, rename, fsync of the folder).
///
/// Thread-safe: every method may be called from any thread (one mutex; file I/O under it).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace drift::exporters {

/// One pending delivery.
struct OutboxItem {
  std::string event_id;
  std::string webhook;  ///< WebhookConfig::name
  std::string body;     ///< the exact request body, rendered once at enqueue
  std::uint32_t attempts = 0;        ///< attempts made so far
  std::int64_t next_attempt_ms = 0;  ///< not before this time (ms since the epoch)
  std::int64_t created_ms = 0;
  std::string last_error;  ///< of the last failed attempt ("HTTP 500", "connect: ...")
};

class WebhookOutbox {
 public:
  static constexpr std::uint32_t kFormatVersion = 1;

  /// One line about a file set aside; stderr when empty.
  using Log = std::function<void(std::string_view)>;

  /// Opens (creating it if needed) the directory and loads every pending delivery. Leftover
  /// temporary files are removed; corrupt files are moved to corrupt/, logged and counted.
  /// Throws std::runtime_error naming the path when the directory cannot be created or listed.
  explicit WebhookOutbox(std::filesystem::path dir, Log log = {});

  /// The file key of a (webhook, event id) pair.
  static std::string key(std::string_view webhook, std::string_view event_id);

  /// Persists a new delivery before anyone attempts it. Returns false (and changes nothing)
  /// when the same (webhook, event id) is already pending. Throws std::runtime_error when the
  /// file cannot be written.
  bool enqueue(const OutboxItem& item);

  /// The pending delivery of `webhook` due first (lowest next_attempt_ms), if any.
  std::optional<OutboxItem> next(std::string_view webhook) const;
  /// Every pending delivery (any order).
  std::vector<OutboxItem> pending() const;

  /// Records a failed attempt: rewrites the item's file (attempts, next time, last error).
  void reschedule(const OutboxItem& item);
  /// A delivered item: deletes its file.
  void remove(const OutboxItem& item);
  /// Gives up on an item: writes its final state and moves the file to dead/.
  void dead_letter(const OutboxItem& item);

  /// Pending deliveries (all webhooks, or one).
  std::size_t depth() const;
  std::size_t depth(std::string_view webhook) const;
  /// Files in dead/ (those found at start-up plus those dead-lettered since).
  std::size_t dead_letters() const;
  /// Files set aside as corrupt since start-up.
  std::size_t corrupt_files() const;

  const std::filesystem::path& dir() const { return dir_; }

  /// The file form of an item, and back (throws drift::FormatError): for tests and tools.
  static std::string encode(const OutboxItem& item);
  static OutboxItem decode(std::string_view bytes);

 private:
  void load();
  void set_aside(const std::filesystem::path& path, std::string_view why);

  std::filesystem::path dir_;
  Log log_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, OutboxItem> items_;  ///< by key
  std::size_t dead_ = 0;
  std::size_t corrupt_ = 0;
};

}  // namespace drift::exporters
