#include "drift/detectors/column.h"

namespace drift {

const ColumnView* SampleView::find(std::string_view name) const {
  for (const auto& column : columns) {
    if (column.name == name) return &column;
  }
  return nullptr;
}

}  // namespace drift
