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

#include <vector>

namespace drift::test {

/// Decodes a base64 string of little-endian float32 values (how the golden scripts store
/// samples, so C++ sees exactly the values scipy saw).
std::vector<float> decode_floats(const std::string& base64);

/// |actual - expected| <= rel * |expected|, or <= abs_floor when |expected| is below it.
bool close_rel(double actual, double expected, double rel, double abs_floor = 0.0);

}  // namespace drift::test
