#pragma once
/// `driftd check`: compare a current data file against a reference file in one batch, with the
/// same detectors the daemon runs. The JSON output is a contract (README, "driftd check").

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "drift/detectors/evaluation.h"

namespace drift::daemon {

/// Where the report goes and in which form.
enum class ReportFormat : std::uint8_t { kJson, kText, kBoth };

/// Every flag of `driftd check`, parsed and validated.
struct CheckOptions {
  std::string reference;
  std::string current;
  ReportFormat format = ReportFormat::kJson;
  std::string output;  ///< empty = stdout
  EvaluationConfig evaluation;
  int psi_bins = 10;
  std::vector<std::string> mmd_features;
  std::optional<double> mmd_sigma;  ///< nullopt = median heuristic
  std::size_t mmd_max_rows = 10000;
  bool mmd_standardize = true;
  std::vector<std::string> categorical;
  bool fail_on_drift = false;
  std::string save_profile;  ///< write the reference profile here (empty = don't)
  /// Reference-side flags given on the command line (they cannot apply to a saved profile).
  std::vector<std::string> reference_flags;
  std::string backend = "auto";
  int threads = 0;  ///< 0 = all cores
};

/// A command line that cannot be run: the message says which flag and why.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses the arguments that follow `check`. Throws UsageError.
CheckOptions parse_check_options(std::span<const std::string_view> args);

/// The usage text of `driftd check`.
std::string_view check_usage();

/// Exit codes of `driftd check`.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;  ///< unreadable input, untestable data
inline constexpr int kExitUsage = 2;  ///< bad command line
inline constexpr int kExitDrift = 3;  ///< --fail-on-drift and the verdict is drift

/// Runs the check and writes the report; returns the exit code. Errors are one line on `err`.
int run_check(const CheckOptions& options, std::ostream& out, std::ostream& err);

/// Parses and runs (what `driftd check ARGS` does).
int check_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

}  // namespace drift::daemon
