#include "decode/structural_index.h"

#include <algorithm>

namespace drift::daemon::decode {
namespace {

constexpr std::size_t kInitialCapacity = 4096;
/// simdjson's default; stage 1 does not nest, but a parser is created with one.
constexpr std::size_t kMaxDepth = simdjson::DEFAULT_MAX_DEPTH;

}  // namespace

StructuralIndex::StructuralIndex() = default;
StructuralIndex::~StructuralIndex() = default;

simdjson::error_code StructuralIndex::index(const char* text, std::size_t size) {
  // Stage 1 needs a capacity above the text's size.
  if (parser_ == nullptr || size >= capacity_) {
    const std::size_t capacity = std::max(kInitialCapacity, size + 1);
    if (parser_ == nullptr) {
      if (auto error = simdjson::get_active_implementation()->create_dom_parser_implementation(
              capacity, kMaxDepth, parser_)) {
        return error;
      }
    } else if (auto error = parser_->set_capacity(capacity)) {
      capacity_ = 0;
      return error;
    }
    capacity_ = capacity;
  }
  return parser_->stage1(reinterpret_cast<const std::uint8_t*>(text), size,
                         simdjson::stage1_mode::regular);
}

const std::uint32_t* StructuralIndex::positions() const { return parser_->structural_indexes.get(); }

std::uint32_t StructuralIndex::count() const { return parser_->n_structural_indexes; }

char* StructuralIndex::unescape(const char* first, char* out) const {
  return reinterpret_cast<char*>(parser_->parse_string(reinterpret_cast<const std::uint8_t*>(first),
                                                       reinterpret_cast<std::uint8_t*>(out)));
}

void StructuralIndex::trim(std::size_t keep_bytes) {
  if (capacity_ > keep_bytes) {
    parser_.reset();
    capacity_ = 0;
  }
}

}  // namespace drift::daemon::decode
