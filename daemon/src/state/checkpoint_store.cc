#include "state/checkpoint_store.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include "drift/daemon/profile_file.h"
#include "drift/detectors/binary_codec.h"
#include "server/log.h"

namespace drift::daemon {

namespace {
constexpr std::string_view kMagic = "DRIFTCKP";
}

CheckpointStore::CheckpointStore(std::filesystem::path dir)
    : dir_(std::move(dir)), path_(dir_ / "checkpoint.bin") {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw std::runtime_error("cannot create state.dir " + dir_.string() + ": " + ec.message());
}

void CheckpointStore::write(const std::string& payload) {
  write_file_atomically(path_, seal(kMagic, kFormatVersion, payload));
}

std::optional<std::string> CheckpointStore::read() {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  try {
    const auto payload = unseal(as_bytes(bytes), kMagic, kFormatVersion, "checkpoint");
    return std::string(reinterpret_cast<const char*>(payload.data()), payload.size());
  } catch (const FormatError& e) {
    const auto stamp = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    auto aside = path_;
    aside += ".corrupt-" + std::to_string(stamp);
    std::error_code ec;
    std::filesystem::rename(path_, aside, ec);
    log_line(LogLevel::kError, "checkpoint",
             path_.string() + ": " + e.what() + "; set aside as " + aside.string() +
                 ", starting without it");
    return std::nullopt;
  }
}

}  // namespace drift::daemon
