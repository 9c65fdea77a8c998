#pragma once
/// Runs a program the way a user's shell would, for end-to-end tests of the driftd binary.

#include <functional>
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

/// A program running in the background (a daemon under test). Its stdout and stderr go to
/// files; the destructor kills it (SIGKILL) if it still runs.
class ChildProcess {
 public:
  /// Starts argv[0] with argv; stdout/stderr are appended to the given files.
  ChildProcess(const std::vector<std::string>& argv, const std::string& stdout_path,
               const std::string& stderr_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  int pid() const { return pid_; }
  /// Sends a signal (SIGTERM, SIGKILL, SIGHUP...).
  void signal(int signal_number) const;
  /// Waits for the exit; returns the exit code (128 + signal when killed), or -1 when it has
  /// not exited within `timeout_ms`.
  int wait(int timeout_ms);
  bool running();

 private:
  int pid_ = -1;
  int status_ = -1;
  bool reaped_ = false;
};

/// Polls `done` every 20 ms until it returns true or `timeout_ms` passes; returns its last value.
bool wait_until(const std::function<bool()>& done, int timeout_ms);

/// A file's whole content ("" when it does not exist).
std::string read_file(const std::string& path);

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
