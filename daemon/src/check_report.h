#pragma once
/// Renders a `driftd check` evaluation as the JSON contract or as a readable table.

#include <string>

#include "drift/detectors/evaluation.h"

namespace drift::daemon {

/// Wall-clock phases of a check, in milliseconds.
struct CheckTiming {
  double read_ms = 0.0;
  double profile_ms = 0.0;
  double tests_ms = 0.0;
};

/// The JSON object of the `driftd check` contract (one line, newline-terminated).
std::string render_json(const EvaluationResult& result, const CheckTiming& timing);

/// A fixed-width table for people.
std::string render_text(const EvaluationResult& result, const CheckTiming& timing);

}  // namespace drift::daemon
