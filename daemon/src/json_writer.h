#pragma once
/// A minimal streaming JSON writer for reports whose numbers must keep full precision
/// (17 significant digits) and whose key order is part of a contract.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace drift::daemon {

class JsonWriter {
 public:
  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  /// Writes an object key; the next call writes its value.
  JsonWriter& key(std::string_view name);
  void value(std::string_view text);
  void value(const char* text) { value(std::string_view(text)); }
  /// Shortest text that reads back to the same double; NaN and infinities become null (JSON
  /// has no spelling for them).
  void value(double number);
  /// Always 17 significant digits (%.17g), for statistics whose digits are the point.
  void precise(double number);
  void value(std::uint64_t number);
  void value(bool flag);
  void null();
  const std::string& str() const { return out_; }

 private:
  void separate();
  std::string out_;
  std::vector<bool> first_;  ///< per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace drift::daemon
