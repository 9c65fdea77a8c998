#pragma once
/// Runs a program the way a user's shell would, for end-to-end tests of the driftd binary.

#include <string>
#include <vector>

namespace drift::test {

struct ProcessResult {
  int exit_code = -1;  ///< 128 + signal when killed by a signal
  std::string out;
  std::string err;
};

/// Runs argv[0] with argv (no shell), waits, and captures stdout and stderr.
ProcessResult run_process(const std::vector<std::string>& argv);

/// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  /// Writes `content` to path()/name and returns the full path.
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

}  // namespace drift::test
