#include "drift/detectors/column.h"

namespace drift {

const ColumnView* SampleView::find(std::string_view name) const {
  for (const auto& column : columns) {
    if (column.name == name) return &column;
  }
  return nullptr;
}

CodeCounts count_codes(const ColumnView& column) {
  CodeCounts counts;
  counts.per_code.assign(column.dictionary.size(), 0);
  for (const std::uint32_t code : column.codes) {
    if (code == kMissingCode) {
      ++counts.missing;
    } else if (code < counts.per_code.size()) {
      ++counts.per_code[code];
    } else {
      throw InputError("feature '" + column.name + "': category code " + std::to_string(code) +
                       " is outside its dictionary");
    }
  }
  return counts;
}

}  // namespace drift
