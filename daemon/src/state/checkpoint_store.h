#pragma once
/// The checkpoint file in state.dir: one sealed blob (magic, version, length, CRC-32), replaced
/// atomically, so a crash at any instant leaves the previous checkpoint or the new one.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace drift::daemon {

class CheckpointStore {
 public:
  static constexpr std::uint32_t kFormatVersion = 1;

  /// Creates `dir` if needed; throws std::runtime_error when it cannot.
  explicit CheckpointStore(std::filesystem::path dir);

  /// Writes the payload atomically (temporary file, fsync, rename, fsync of the folder).
  void write(const std::string& payload);

  /// The payload of the last checkpoint, or nullopt when there is none. A corrupt file is
  /// renamed aside (checkpoint.bin.corrupt-<unix time>) with an error log, never read half.
  std::optional<std::string> read();

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path dir_;
  std::filesystem::path path_;
};

}  // namespace drift::daemon
