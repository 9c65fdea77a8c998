#include "golden.h"

#include <fstream>
#include <stdexcept>

namespace drift::test {

std::string golden_path(const std::string& name) {
  return std::string(DRIFT_GOLDEN_DIR) + "/" + name;
}

nlohmann::json load_golden(const std::string& name) {
  const std::string path = golden_path(name);
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open golden file " + path);
  return nlohmann::json::parse(in);
}

}  // namespace drift::test

#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace drift::test {

std::vector<float> decode_floats(const std::string& base64) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<std::uint8_t> bytes;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : base64) {
    const int v = value(c);
    if (v < 0) continue;  // padding
    buffer = (buffer << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<std::uint8_t>((buffer >> bits) & 0xFFu));
    }
  }
  if (bytes.size() % sizeof(float) != 0) throw std::runtime_error("golden floats: bad length");
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

bool close_rel(double actual, double expected, double rel, double abs_floor) {
  if (std::isnan(expected)) return std::isnan(actual);
  const double err = std::fabs(actual - expected);
  if (std::fabs(expected) < abs_floor) return err <= abs_floor;
  return err <= rel * std::fabs(expected);
}

}  // namespace drift::test
