#pragma once
/// Golden reference values committed under tests/golden/ (made by the scripts beside them from
/// Debian's scipy/numpy); tests read them without python.

#include <nlohmann/json.hpp>
#include <string>

namespace drift::test {

/// Parses tests/golden/<name> (JSON). Fails the test with the path when it cannot.
nlohmann::json load_golden(const std::string& name);

/// Absolute path of a file under tests/golden/.
std::string golden_path(const std::string& name);

}  // namespace drift::test
