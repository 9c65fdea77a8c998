#include "drift/daemon/table.h"

namespace drift::daemon {

SampleView Table::view() const {
  SampleView sample;
  sample.columns.reserve(columns.size());
  for (const auto& column : columns) {
    ColumnView view;
    view.name = column.name;
    view.kind = column.kind;
    view.values = column.values;
    view.codes = column.codes;
    view.dictionary = column.dictionary;
    sample.columns.push_back(std::move(view));
  }
  return sample;
}

const Column* Table::find(std::string_view name) const {
  for (const auto& column : columns) {
    if (column.name == name) return &column;
  }
  return nullptr;
}

}  // namespace drift::daemon
