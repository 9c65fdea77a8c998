#pragma once
/// Template helpers shared by config validation and rendering.

#include <string>
#include <string_view>
#include <vector>

#include "drift/exporters/webhook_config.h"

namespace drift::exporters {

/// Event fields a template may pass as workflow/pipeline parameters.
inline constexpr std::string_view kParameterFields[] = {
    "model",         "model_version",    "reference_version", "event_id",     "kind",
    "dataset_drift", "drifted_features", "episode_start",     "window_start", "window_end"};

/// Used when the `parameters` param is not set.
inline constexpr std::string_view kDefaultParameterFields =
    "model,model_version,reference_version,event_id,kind,drifted_features,window_start,window_end";

/// The fields named by `config.params["parameters"]` (comma-separated, spaces ignored) or the
/// default list. Throws std::invalid_argument naming an unknown or repeated field.
std::vector<std::string> parameter_fields(const WebhookConfig& config);

}  // namespace drift::exporters
