#pragma once
/// Private to the decode stage: simdjson's stage 1 alone — the positions of every structural
/// character and every value's first byte in a JSON text, found in one SIMD pass that also
/// checks UTF-8, string termination and control characters. PathTree::walk_indexed() walks a
/// flat record straight from these positions; simdjson's ondemand front end reads the same
/// index but through a general iterator that cost the decoder more than the index itself.

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace drift::daemon::decode {

class StructuralIndex {
 public:
  StructuralIndex();
  ~StructuralIndex();
  StructuralIndex(const StructuralIndex&) = delete;
  StructuralIndex& operator=(const StructuralIndex&) = delete;

  /// Indexes text[0, size); simdjson::SIMDJSON_PADDING bytes after it must be readable. Errors:
  /// stage 1's (invalid UTF-8, an unclosed string, an unescaped control character, nothing
  /// but whitespace), or MEMALLOC.
  simdjson::error_code index(const char* text, std::size_t size);
  /// The positions found: count() of them, then the text's size twice (sentinels).
  const std::uint32_t* positions() const;
  std::uint32_t count() const;
  /// Unescapes the string starting at `first` (just after its opening quote) into `out`; the
  /// end of what was written, or nullptr for a malformed escape. `out` needs the string's
  /// length plus simdjson::SIMDJSON_PADDING bytes.
  char* unescape(const char* first, char* out) const;
  /// Releases a buffer a huge text grew, so that one record does not pin memory forever.
  void trim(std::size_t keep_bytes);

 private:
  std::unique_ptr<simdjson::internal::dom_parser_implementation> parser_;
  std::size_t capacity_ = 0;
};

}  // namespace drift::daemon::decode
