#pragma once
/// Reference profiles on disk: written atomically, read back with every check of the format.

#include <filesystem>
#include <string>

#include "drift/detectors/reference_profile.h"

namespace drift::daemon {

/// Writes `profile` to `path` atomically (temporary file, fsync, rename, fsync of the folder):
/// a crash leaves either the old file or the new one, never a torn one. Throws
/// std::runtime_error naming the path on failure.
void write_profile_file(const std::filesystem::path& path, const ReferenceProfile& profile);

/// Reads a profile written by write_profile_file. Throws ProfileFormatError prefixed with the
/// path for a corrupt, truncated or foreign file, std::runtime_error when it cannot be read.
ReferenceProfile read_profile_file(const std::filesystem::path& path);

/// Whether the file at `path` starts like a driftd profile (false when it cannot be read).
bool looks_like_profile_file(const std::filesystem::path& path);

/// Replaces `path` with `content` atomically (see write_profile_file).
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

}  // namespace drift::daemon
