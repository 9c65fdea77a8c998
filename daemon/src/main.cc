// driftd: the command-line entry point. Subcommands dispatch to the daemon library.
#include <iostream>
#include <string_view>
#include <vector>

#include "cli/config_commands.h"
#include "drift/daemon/check_command.h"
#include "drift/gpu/gpu_backend.h"
#include "server/daemon.h"
#include "server/demo.h"

namespace {

constexpr std::string_view kUsage = R"(usage: driftd <command> [options]

commands:
  run              run the daemon: driftd run --config FILE (YAML or JSON)
  demo             run the daemon on an embedded Kafka with drifting traffic (no setup)
  check            compare a current data file with a reference file (driftd check --help)
  validate-config  check a configuration file without running it
  config-reference print the configuration reference (daemon/CONFIGURATION.md)
  version          print the version and the compute backends available

driftd detects drift in model inputs and predictions: KS, PSI, chi-square and MMD tests.
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? std::cerr : std::cout) << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string_view command = args[0];
  const std::span<const std::string_view> rest(args.data() + 1, args.size() - 1);
  if (command == "check") return drift::daemon::check_main(rest, std::cout, std::cerr);
  if (command == "run") return drift::daemon::run_main(rest, std::cout, std::cerr);
  if (command == "demo") return drift::daemon::demo_main(rest, std::cout, std::cerr);
  if (command == "validate-config") {
    return drift::daemon::validate_config_main(rest, std::cout, std::cerr);
  }
  if (command == "config-reference") {
    return drift::daemon::config_reference_main(rest, std::cout, std::cerr);
  }
  if (command == "version" || command == "--version") {
    const auto gpu = drift::gpu::probe();
    std::cout << "driftd " << DRIFT_VERSION << "\nbackends: cpu"
              << (gpu.available ? ", gpu (" + gpu.device_name + ")"
                                : ", gpu unavailable: " + gpu.reason)
              << "\n";
    return 0;
  }
  std::cerr << "driftd: unknown command '" << command << "'\n" << kUsage;
  return 2;
}
