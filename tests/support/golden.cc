#include "golden.h"

#include <fstream>
#include <stdexcept>

namespace drift::test {

std::string golden_path(const std::string& name) { return std::string(DRIFT_GOLDEN_DIR) + "/" + name; }

nlohmann::json load_golden(const std::string& name) {
  const std::string path = golden_path(name);
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open golden file " + path);
  return nlohmann::json::parse(in);
}

}  // namespace drift::test
