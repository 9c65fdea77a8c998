#include "cli/config_commands.h"

#include <string>

#include "config/config.h"

namespace drift::daemon {

namespace {

constexpr std::string_view kValidateUsage = R"text(usage: driftd validate-config FILE

Checks a driftd configuration file (YAML or JSON) without starting anything: every key, value,
environment variable and secret file. Prints "FILE: ok (N sources, M models)", or the first
problem as one line naming the key. The reference: driftd config-reference.

Exit status: 0 valid, 1 invalid, 2 usage error.
)text";

constexpr std::string_view kReferenceUsage = R"text(usage: driftd config-reference

Prints the configuration reference (Markdown), generated from the configuration schema.
)text";

bool wants_help(std::string_view arg) { return arg == "--help" || arg == "-h"; }

std::string counted(std::size_t n, std::string_view noun) {
  std::string out = std::to_string(n);
  out += ' ';
  out += noun;
  if (n != 1) out += 's';
  return out;
}

}  // namespace

int validate_config_main(std::span<const std::string_view> args, std::ostream& out,
                         std::ostream& err) {
  if (args.size() == 1 && wants_help(args[0])) {
    out << kValidateUsage;
    return 0;
  }
  if (args.size() != 1 || (args[0].starts_with('-') && args[0].size() > 1)) {
    err << "driftd validate-config: "
        << (args.empty()      ? std::string("expected a FILE")
            : args.size() > 1 ? std::string("expected one FILE")
                              : std::string("unknown option '").append(args[0]).append("'"))
        << "\n"
        << kValidateUsage;
    return 2;
  }
  const std::string file(args[0]);
  try {
    const Config config = load_config(file);
    out << file << ": ok (" << counted(config.sources.size(), "source") << ", "
        << counted(config.models.size(), "model") << ")\n";
    return 0;
  } catch (const ConfigError& e) {
    err << "driftd validate-config: " << e.what() << "\n";
    return 1;
  }
}

int config_reference_main(std::span<const std::string_view> args, std::ostream& out,
                          std::ostream& err) {
  if (args.size() == 1 && wants_help(args[0])) {
    out << kReferenceUsage;
    return 0;
  }
  if (!args.empty()) {
    err << "driftd config-reference: unexpected argument '" << args[0] << "'\n" << kReferenceUsage;
    return 2;
  }
  out << configuration_reference();
  return 0;
}

}  // namespace drift::daemon
