#pragma once
/// `driftd demo`: the daemon on an embedded default, with no external services — an in-process
/// librdkafka mock cluster, a producer of realistic prediction logs that drift after a while,
/// and a running commentary of the evaluations.

#include <iosfwd>
#include <span>
#include <string_view>

namespace drift::daemon {

int demo_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

}  // namespace drift::daemon
