#pragma once
/// `driftd validate-config FILE` and `driftd config-reference`: the command-line faces of the
/// configuration schema.

#include <ostream>
#include <span>
#include <string_view>

namespace drift::daemon {

/// `driftd validate-config FILE` (args exclude the command name). Prints
/// "FILE: ok (2 sources, 1 model)" on `out` and returns 0, or one line
/// "driftd validate-config: <file>: <key path>: <reason>" on `err` and returns 1; a bad
/// command line returns 2.
int validate_config_main(std::span<const std::string_view> args, std::ostream& out,
                         std::ostream& err);

/// `driftd config-reference`: prints configuration_reference() (daemon/CONFIGURATION.md) and
/// returns 0; a bad command line returns 2.
int config_reference_main(std::span<const std::string_view> args, std::ostream& out,
                          std::ostream& err);

}  // namespace drift::daemon
