#include "drift/exporters/webhook_outbox.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "drift/detectors/binary_codec.h"
#include "drift/exporters/webhook_signing.h"

namespace drift::exporters {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMagic = "DRIFTWHK";
constexpr std::string_view kSuffix = ".delivery";
constexpr std::size_t kKeyHexDigits = 32;

[[noreturn]] void fail(const std::string& what, const fs::path& path, int error) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(error));
}

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Temporary file beside `path`, fsync, rename over it, fsync of the folder: a crash leaves the
// old file or the new one, never a torn one.
void write_atomically(const fs::path& path, const std::string& content) {
  const fs::path dir = path.parent_path();
  std::string name = path.filename().string();
  name.insert(0, 1, '.');  // hidden: load() removes leftovers of a crash
  name += ".XXXXXX";
  std::string temp = (dir / name).string();
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) fail("cannot create a temporary file beside", path, errno);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      fail("cannot write", temp, error);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    fail("cannot fsync", temp, error);
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    fail("cannot rename a temporary file to", path, error);
  }
  fsync_dir(dir);
}

std::string read_whole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open", path, errno);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

WebhookOutbox::WebhookOutbox(fs::path dir, Log log) : dir_(std::move(dir)), log_(std::move(log)) {
  std::error_code ec;
  fs::create_directories(dir_ / "dead", ec);
  if (ec) throw std::runtime_error("cannot create webhook outbox " + (dir_ / "dead").string() +
                                   ": " + ec.message());
  load();
}

std::string WebhookOutbox::key(std::string_view webhook, std::string_view event_id) {
  std::string material(webhook);
  material.push_back('\0');
  material.append(event_id);
  return sha256_hex(material).substr(0, kKeyHexDigits);
}

std::string WebhookOutbox::encode(const OutboxItem& item) {
  BinaryWriter w;
  w.text(item.event_id);
  w.text(item.webhook);
  w.text(item.body);
  w.scalar<std::uint32_t>(item.attempts);
  w.scalar<std::int64_t>(item.next_attempt_ms);
  w.scalar<std::int64_t>(item.created_ms);
  w.text(item.last_error);
  return seal(kMagic, kFormatVersion, w.bytes());
}

OutboxItem WebhookOutbox::decode(std::string_view bytes) {
  BinaryReader r(unseal(as_bytes(bytes), kMagic, kFormatVersion, "webhook delivery"),
                 "webhook delivery");
  OutboxItem item;
  item.event_id = r.text();
  item.webhook = r.text();
  item.body = r.text();
  item.attempts = r.scalar<std::uint32_t>();
  item.next_attempt_ms = r.scalar<std::int64_t>();
  item.created_ms = r.scalar<std::int64_t>();
  item.last_error = r.text();
  if (!r.done()) r.fail("trailing bytes");
  if (item.event_id.empty() || item.webhook.empty()) r.fail("empty event id or webhook");
  return item;
}

void WebhookOutbox::load() {
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    files.push_back(it->path());
  }
  if (ec) throw std::runtime_error("cannot list webhook outbox " + dir_.string() + ": " +
                                   ec.message());
  for (const fs::path& path : files) {
    const std::string name = path.filename().string();
    if (name == "dead" || name == "corrupt") continue;
    if (name.starts_with('.')) {  // a temporary file of an interrupted write
      fs::remove(path, ec);
      continue;
    }
    if (!name.ends_with(kSuffix) || !fs::is_regular_file(path, ec)) {
      set_aside(path, "not a webhook delivery");
      continue;
    }
    try {
      OutboxItem item = decode(read_whole(path));
      const std::string k = key(item.webhook, item.event_id);
      if (k + std::string(kSuffix) != name) {
        set_aside(path, "its name does not match its webhook and event id");
        continue;
      }
      items_.emplace(k, std::move(item));
    } catch (const std::exception& e) {
      set_aside(path, e.what());
    }
  }
  for (fs::directory_iterator it(dir_ / "dead", ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().ends_with(kSuffix)) ++dead_;
  }
}

void WebhookOutbox::set_aside(const fs::path& path, std::string_view why) {
  std::error_code ec;
  fs::create_directories(dir_ / "corrupt", ec);
  const fs::path target = dir_ / "corrupt" /
                          (path.filename().string() + "." + std::to_string(now_ms()));
  fs::rename(path, target, ec);
  if (ec) fs::remove(path, ec);  // never read half, never block start-up on it
  ++corrupt_;
  const std::string line = "webhook outbox: set aside " + path.string() + " as " +
                           target.string() + " (" + std::string(why) + ")";
  if (log_) {
    log_(line);
  } else {
    std::cerr << line << '\n';
  }
}

bool WebhookOutbox::enqueue(const OutboxItem& item) {
  const std::string k = key(item.webhook, item.event_id);
  std::lock_guard lock(mutex_);
  if (items_.contains(k)) return false;
  write_atomically(dir_ / (k + std::string(kSuffix)), encode(item));
  items_.emplace(k, item);
  return true;
}

std::optional<OutboxItem> WebhookOutbox::next(std::string_view webhook) const {
  std::lock_guard lock(mutex_);
  const OutboxItem* best = nullptr;
  for (const auto& [k, item] : items_) {
    if (item.webhook != webhook) continue;
    if (best == nullptr || item.next_attempt_ms < best->next_attempt_ms ||
        (item.next_attempt_ms == best->next_attempt_ms && item.created_ms < best->created_ms)) {
      best = &item;
    }
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

std::vector<OutboxItem> WebhookOutbox::pending() const {
  std::lock_guard lock(mutex_);
  std::vector<OutboxItem> out;
  out.reserve(items_.size());
  for (const auto& [k, item] : items_) out.push_back(item);
  return out;
}

void WebhookOutbox::reschedule(const OutboxItem& item) {
  const std::string k = key(item.webhook, item.event_id);
  std::lock_guard lock(mutex_);
  write_atomically(dir_ / (k + std::string(kSuffix)), encode(item));
  items_[k] = item;
}

void WebhookOutbox::remove(const OutboxItem& item) {
  const std::string k = key(item.webhook, item.event_id);
  std::lock_guard lock(mutex_);
  const fs::path path = dir_ / (k + std::string(kSuffix));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) fail("cannot delete", path, errno);
  fsync_dir(dir_);
  items_.erase(k);
}

void WebhookOutbox::dead_letter(const OutboxItem& item) {
  const std::string k = key(item.webhook, item.event_id);
  std::lock_guard lock(mutex_);
  const fs::path path = dir_ / (k + std::string(kSuffix));
  const fs::path target = dir_ / "dead" / (k + std::string(kSuffix));
  write_atomically(path, encode(item));
  const bool replaces = fs::exists(target);
  if (::rename(path.c_str(), target.c_str()) != 0) fail("cannot move to dead/", path, errno);
  fsync_dir(dir_ / "dead");
  fsync_dir(dir_);
  items_.erase(k);
  if (!replaces) ++dead_;
}

std::size_t WebhookOutbox::depth() const {
  std::lock_guard lock(mutex_);
  return items_.size();
}

std::size_t WebhookOutbox::depth(std::string_view webhook) const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(
      items_.begin(), items_.end(), [&](const auto& entry) { return entry.second.webhook == webhook; }));
}

std::size_t WebhookOutbox::dead_letters() const {
  std::lock_guard lock(mutex_);
  return dead_;
}

std::size_t WebhookOutbox::corrupt_files() const {
  std::lock_guard lock(mutex_);
  return corrupt_;
}

}  // namespace drift::exporters
