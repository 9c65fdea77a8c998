#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "config/config_schema.h"
#include "config/config_values.h"

namespace drift::daemon {

std::string_view to_string(SourceType type) {
  switch (type) {
    case SourceType::kKafka:
      return "kafka";
    case SourceType::kHttp:
      return "http";
    case SourceType::kFile:
      return "file";
  }
  return "unknown";
}

std::string_view to_string(RecordFormat format) {
  switch (format) {
    case RecordFormat::kFlat:
      return "flat";
    case RecordFormat::kKserveV1:
      return "kserve-v1";
    case RecordFormat::kKserveV2:
      return "kserve-v2";
  }
  return "unknown";
}

namespace {

using namespace config_detail;

std::string join(std::string_view path, std::string_view name) {
  return path.empty() ? std::string(name) : cat(path, ".", name);
}

std::string element(std::string_view path, std::size_t index) {
  return cat(path, "[", std::to_string(index), "]");
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      return cat("'", node.Scalar(), "'");
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::string comma_list(std::span<const std::string> names) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

/// " (did you mean 'x'?)" for a plausible typo of one of `names`, else "".
std::string suggestion(std::string_view word, std::span<const std::string> names) {
  const auto match = closest_match(word, names);
  return match ? cat(" (did you mean '", *match, "'?)") : std::string();
}

std::optional<std::string> environment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

/// librdkafka properties that driftd sets from its own keys or manages itself.
struct ReservedProperty {
  std::string_view property;
  std::string_view reason;
};
constexpr ReservedProperty kReservedKafka[] = {
    {"bootstrap.servers", "set with brokers"},
    {"metadata.broker.list", "set with brokers"},
    {"group.id", "set with group_id"},
    {"enable.auto.offset.store", "driftd stores offsets itself, once a checkpoint covers them"},
};

/// Template parameters a webhook of a template must give.
struct RequiredParam {
  std::string_view template_name;
  std::string_view param;
};
constexpr RequiredParam kRequiredParams[] = {
    {"kubeflow-pipelines", "pipeline_id"},
};

using Scalars = std::map<std::string, std::string, std::less<>>;
/// The keys given in sections laid over others, by the section's path ("models[0].alerts.policy").
using Overlays = std::map<std::string, std::vector<std::pair<const Key*, Value>>>;

/// Walks a YAML document with the schema, filling a Config; then checks the rules that span
/// keys. Every failure throws ConfigError "<origin>: <key path>: <reason>".
class Parser {
 public:
  explicit Parser(std::string_view origin) : origin_(origin) {}

  Config parse(std::string_view text) {
    YAML::Node root;
    try {
      const auto documents = YAML::LoadAll(std::string(text));
      if (documents.size() > 1) {
        fail("", cat("holds ", std::to_string(documents.size()), " YAML documents; expected one"));
      }
      if (!documents.empty()) root = documents.front();
    } catch (const YAML::Exception& e) {
      fail("", cat("line ", std::to_string(e.mark.line + 1), ", column ",
                   std::to_string(e.mark.column + 1), ": ", e.msg));
    }
    if (root.IsNull() || (root.IsMap() && root.size() == 0)) {
      fail("", "the configuration is empty (it needs state, sources and models)");
    }
    Config config;
    target_ = Target{&config};
    apply_defaults("");
    walk_mapping(root, nullptr, "", "");
    validate(config);
    return config;
  }

 private:
  [[noreturn]] void fail(std::string_view path, std::string_view reason) const {
    throw ConfigError(path.empty() ? cat(origin_, ": ", reason)
                                   : cat(origin_, ": ", path, ": ", reason));
  }

  /// Applies the schema defaults of the keys under `prefix` that are not inside a nested list.
  void apply_defaults(std::string_view prefix) {
    for (const Key& key : schema()) {
      if (key.fallback.empty() || key.apply == nullptr) continue;
      std::string_view rest = key.path;
      if (!prefix.empty()) {
        if (!rest.starts_with(prefix) || rest.size() <= prefix.size() ||
            rest[prefix.size()] != '.') {
          continue;
        }
        rest.remove_prefix(prefix.size() + 1);
      }
      if (rest.find("[]") != std::string_view::npos) continue;
      key.apply(target_, scalar_value(key, std::string(key.fallback), key.path));
    }
  }

  /// Checks and applies one mapping of keys under the schema path `prefix`; `section` is the
  /// section's own key (nullptr for the top level and list elements). Returns the text of the
  /// scalar keys given, by name.
  Scalars walk_mapping(const YAML::Node& node, const Key* section, std::string_view prefix,
                       const std::string& path) {
    if (!node.IsNull() && !node.IsMap()) {
      fail(path, cat(path.empty() ? "expected a mapping of settings" : "expected a mapping",
                     ", got ", describe(node)));
    }
    const auto children = children_of(prefix);
    const auto child = [&](std::string_view name) -> const Key* {
      const auto it = std::find_if(children.begin(), children.end(),
                                   [&](const Key* key) { return key->name() == name; });
      return it == children.end() ? nullptr : *it;
    };

    std::vector<std::pair<std::string, YAML::Node>> items;
    if (node.IsMap()) {
      for (const auto& item : node) {
        if (!item.first.IsScalar()) fail(path, "keys must be strings");
        std::string name = item.first.Scalar();
        const bool repeated = std::any_of(items.begin(), items.end(),
                                          [&](const auto& seen) { return seen.first == name; });
        if (repeated) fail(join(path, name), "duplicate key");
        items.emplace_back(std::move(name), item.second);
      }
    }
    const auto given = [&](std::string_view name) -> const YAML::Node* {
      const auto it = std::find_if(items.begin(), items.end(),
                                   [&](const auto& item) { return item.first == name; });
      return it == items.end() ? nullptr : &it->second;
    };

    // Unknown keys first (suggesting keys that apply to the element's type when it is known),
    // then the discriminator (a source's type), which decides which keys apply.
    const Key* selector_key = nullptr;
    for (const Key* key : children) {
      if (key->discriminator) selector_key = key;
    }
    std::string selector;
    if (const YAML::Node* value = selector_key ? given(selector_key->name()) : nullptr;
        value != nullptr && value->IsScalar() &&
        is_choice(selector_key->choices, value->Scalar())) {
      selector = value->Scalar();
    }
    const auto applies = [&](const Key& key) {
      return key.only_for.empty() || selector.empty() || is_choice(key.only_for, selector);
    };
    for (const auto& [name, value] : items) {
      if (child(name) != nullptr) continue;
      std::vector<std::string> names;
      for (const Key* candidate : children) {
        if (applies(*candidate)) names.emplace_back(candidate->name());
      }
      const auto match = closest_match(name, names);
      fail(join(path, name), match ? cat("unknown key (did you mean '", *match, "'?)")
                                   : cat("unknown key (expected one of: ", comma_list(names), ")"));
    }

    Scalars scalars;
    if (selector_key != nullptr) {
      const std::string key_path = join(path, selector_key->name());
      const YAML::Node* value = given(selector_key->name());
      if (value == nullptr) fail(key_path, "required");
      handle(*selector_key, *value, key_path, scalars);
      selector = scalars.find(selector_key->name())->second;
    }
    for (const auto& [name, value] : items) {
      const Key* key = child(name);
      if (!applies(*key)) {
        std::string kinds = std::string(key->only_for);
        std::replace(kinds.begin(), kinds.end(), '|', '/');
        fail(join(path, name), cat("applies only when ", selector_key->name(), " is ", kinds,
                                   " (not ", selector, ")"));
      }
    }

    check_forms(section, children, items, path);
    for (const Key* key : children) {
      if (!key->secret_for.empty() && given(key->name()) != nullptr &&
          given(key->secret_for) != nullptr) {
        fail(join(path, key->name()),
             cat("give either ", key->secret_for, " or ", key->name(), ", not both"));
      }
    }

    for (const auto& [name, value] : items) {
      const Key* key = child(name);
      if (key != selector_key) handle(*key, value, join(path, name), scalars);
    }

    for (const Key* key : children) {
      if (!key->required || !key->form.empty() || !applies(*key)) continue;
      if (given(key->name()) != nullptr) continue;
      fail(join(path, key->name()),
           key->only_for.empty() ? std::string("required")
                                 : cat("required when ", selector_key->name(), " is ", selector));
    }
    return scalars;
  }

  /// Alternative forms of a section ({size, slide} | {duration, every}): keys of one form only;
  /// the form's lead key whenever one of its keys is given; exactly one form when required.
  void check_forms(const Key* section, const std::vector<const Key*>& children,
                   const std::vector<std::pair<std::string, YAML::Node>>& items,
                   const std::string& path) const {
    std::vector<std::string_view> forms;
    for (const Key* key : children) {
      if (!key->form.empty() && std::find(forms.begin(), forms.end(), key->form) == forms.end()) {
        forms.push_back(key->form);
      }
    }
    if (forms.empty()) return;
    std::string alternatives;
    for (std::size_t i = 0; i < forms.size(); ++i) {
      alternatives += i == 0 ? "" : (i + 1 == forms.size() ? " or " : ", ");
      alternatives += forms[i];
    }
    std::string_view chosen;
    std::string_view chosen_by;
    bool lead_given = false;
    for (const auto& [name, value] : items) {
      const auto key = std::find_if(children.begin(), children.end(),
                                    [&](const Key* k) { return k->name() == name; });
      if ((*key)->form.empty()) continue;
      if (chosen.empty()) {
        chosen = (*key)->form;
        chosen_by = (*key)->name();
      } else if ((*key)->form != chosen) {
        fail(path, cat("give either ", alternatives, ", not both"));
      }
      if (name == chosen) lead_given = true;
    }
    if (chosen.empty()) {
      if (section != nullptr && section->needs_form) fail(path, cat("give either ", alternatives));
      return;
    }
    if (!lead_given) fail(join(path, chosen), cat("required with ", chosen_by));
  }

  /// Checks and applies one key's value.
  void handle(const Key& key, const YAML::Node& node, const std::string& path, Scalars& scalars) {
    switch (key.type) {
      case KeyType::kSection:
        if (!node.IsNull() && !node.IsMap()) {
          fail(path, cat("expected a mapping, got ", describe(node)));
        }
        if (key.apply != nullptr) key.apply(target_, Value{});
        walk_mapping(node, &key, key.path, path);
        return;
      case KeyType::kSectionList:
        handle_section_list(key, node, path);
        return;
      case KeyType::kList:
        handle_list(key, node, path);
        return;
      case KeyType::kMap:
        handle_map(key, node, path);
        return;
      default:
        break;
    }
    if (!node.IsScalar()) fail(path, cat("expected ", type_phrase(key), ", got ", describe(node)));
    const std::string text = substitute(node.Scalar(), path);
    scalars.insert_or_assign(std::string(key.name()), text);
    if (!key.secret_for.empty()) {
      const Key* secret = find_key(cat(key.parent(), ".", key.secret_for));
      // The secret's text never appears in messages: only its own checks could quote it.
      secret->apply(target_, scalar_value(*secret, read_secret(text, path), path));
      return;
    }
    store(key, scalar_value(key, text, path), path);
  }

  /// Applies a value. The keys of a section laid over another (Key::base) are also kept, to be
  /// applied again over that section's final value (lay_over).
  void store(const Key& key, const Value& value, const std::string& path) {
    key.apply(target_, value);
    const Key* section = find_key(key.parent());
    if (section != nullptr && !section->base.empty()) {
      overlays_[path.substr(0, path.rfind('.'))].emplace_back(&key, value);
    }
  }

  /// Applies again the keys given in the section at `path` (a model's alerts.policy) to `target`.
  void lay_over(const std::string& path, Target target) const {
    const auto given = overlays_.find(path);
    if (given == overlays_.end()) return;
    for (const auto& [key, value] : given->second) key->apply(target, value);
  }

  void handle_section_list(const Key& key, const YAML::Node& node, const std::string& path) {
    if (!node.IsSequence()) fail(path, cat("expected a list of mappings, got ", describe(node)));
    if (key.min && static_cast<double>(node.size()) < *key.min) fail(path, "must not be empty");
    const std::string prefix = cat(key.path, "[]");
    const auto children = children_of(prefix);
    std::map<std::string, std::map<std::string, std::string>> seen;  // key -> value -> path
    const Target saved = target_;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string item_path = element(path, i);
      key.apply(target_, Value{});
      apply_defaults(prefix);
      const Scalars scalars = walk_mapping(node[i], nullptr, prefix, item_path);
      for (const Key* child : children) {
        if (!child->unique) continue;
        const auto value = scalars.find(child->name());
        if (value == scalars.end()) continue;
        const std::string child_path = join(item_path, child->name());
        const auto [first, inserted] =
            seen[std::string(child->name())].emplace(value->second, child_path);
        if (!inserted) {
          fail(child_path, cat("duplicate ", child->name(), " '", value->second, "' (also ",
                               first->second, ")"));
        }
      }
    }
    target_ = saved;
  }

  void handle_list(const Key& key, const YAML::Node& node, const std::string& path) {
    if (!node.IsSequence()) fail(path, cat("expected a list, got ", describe(node)));
    Value value;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string item_path = element(path, i);
      const YAML::Node item = node[i];
      if (!item.IsScalar()) fail(item_path, cat("expected a string, got ", describe(item)));
      std::string text = substitute(item.Scalar(), item_path);
      if (text.empty()) fail(item_path, "must not be empty");
      if (!key.choices.empty() && !is_choice(key.choices, text)) {
        fail(item_path, choice_problem(key, text));
      }
      if (key.unique && std::find(value.list.begin(), value.list.end(), text) != value.list.end()) {
        fail(item_path, cat("'", text, "' is listed twice"));
      }
      value.list.push_back(std::move(text));
    }
    if (key.min && static_cast<double>(value.list.size()) < *key.min) {
      fail(path, "must not be empty");
    }
    store(key, value, path);
  }

  void handle_map(const Key& key, const YAML::Node& node, const std::string& path) {
    if (!node.IsNull() && !node.IsMap())
      fail(path, cat("expected a mapping, got ", describe(node)));
    Value value;
    std::set<std::string> names;
    if (node.IsMap()) {
      for (const auto& item : node) {
        if (!item.first.IsScalar()) fail(path, "keys must be strings");
        const std::string name = item.first.Scalar();
        const std::string item_path = join(path, name);
        if (!names.insert(name).second) fail(item_path, "duplicate key");
        if (key.check != nullptr) {
          if (const auto problem = key.check(name); !problem.empty()) fail(item_path, problem);
        }
        if (!item.second.IsScalar()) {
          fail(item_path, cat("expected a scalar value, got ", describe(item.second)));
        }
        std::string text = substitute(item.second.Scalar(), item_path);
        std::string property = name;
        constexpr std::string_view kSuffix = "_file";
        if (key.file_suffix && name.size() > kSuffix.size() && name.ends_with(kSuffix)) {
          property = name.substr(0, name.size() - kSuffix.size());
          text = read_secret(text, item_path);
        }
        if (!value.map.emplace(property, std::move(text)).second) {
          fail(item_path, cat("give either ", property, " or ", property, "_file, not both"));
        }
      }
    }
    store(key, value, path);
  }

  std::string substitute(const std::string& text, const std::string& path) const {
    try {
      return substitute_env(text, environment);
    } catch (const ValueError& e) {
      fail(path, e.what());
    }
  }

  /// The text of a secret file without its trailing newlines, or with `exact`, without one
  /// trailing newline ("\n" or "\r\n": a signing key's other bytes are its own). An empty
  /// secret is refused (an empty token would silently turn authentication off).
  std::string read_secret(const std::string& file, const std::string& path,
                          bool exact = false) const {
    std::string text;
    try {
      text = read_file(file);
    } catch (const ValueError& e) {
      fail(path, e.what());
    }
    if (exact && text.ends_with('\n')) {
      text.pop_back();
      if (text.ends_with('\r')) text.pop_back();
    }
    while (!exact && !text.empty() && (text.back() == '\n' || text.back() == '\r')) {
      text.pop_back();
    }
    if (text.empty()) fail(path, cat("'", file, "' is empty"));
    return text;
  }

  std::string choice_problem(const Key& key, std::string_view text) const {
    const auto choices = split_choices(key.choices);
    return cat("must be one of ", comma_list(choices), ", got '", text, "'",
               suggestion(text, choices));
  }

  void check_range(const Key& key, double value, std::string_view text,
                   std::string_view path) const {
    if (!in_range(key, value)) fail(path, cat("must be ", range_text(key), ", got ", text));
  }

  /// Parses and checks a scalar of `key`'s type.
  Value scalar_value(const Key& key, const std::string& text, std::string_view path) const {
    Value value;
    value.text = text;
    try {
      switch (key.type) {
        case KeyType::kString:
          if (text.empty() && !key.allow_empty) fail(path, "must not be empty");
          if (key.check != nullptr) {
            if (const auto problem = key.check(text); !problem.empty()) fail(path, problem);
          }
          break;
        case KeyType::kName: {
          const bool valid = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
          });
          if (!valid) {
            fail(path, cat("must match [a-z0-9_-]+ (it appears in URLs and metric labels), got '",
                           text, "'"));
          }
          break;
        }
        case KeyType::kPointer:
          if (text.empty() && !key.allow_empty) fail(path, "must not be empty");
          if (const auto problem = pointer_problem(text); !problem.empty()) fail(path, problem);
          break;
        case KeyType::kInt:
          value.count = parse_count(text);
          check_range(key, static_cast<double>(value.count), text, path);
          break;
        case KeyType::kNumber:
          value.number = parse_number(text);
          check_range(key, value.number, text, path);
          break;
        case KeyType::kSigma:
          if (is_choice(key.choices, text)) {
            value.flag = true;
            break;
          }
          try {
            value.number = parse_number(text);
          } catch (const ValueError&) {
            fail(path, cat("expected ", type_phrase(key), ", got '", text, "'"));
          }
          check_range(key, value.number, text, path);
          break;
        case KeyType::kBool:
          if (text == "true" || text == "True" || text == "TRUE") {
            value.flag = true;
          } else if (!(text == "false" || text == "False" || text == "FALSE")) {
            fail(path, cat("expected true or false, got '", text, "'"));
          }
          break;
        case KeyType::kDuration:
          value.duration = parse_duration(text);
          check_range(key, static_cast<double>(value.duration.count()), text, path);
          break;
        case KeyType::kSize:
          value.count = parse_size(text);
          check_range(key, static_cast<double>(value.count), text, path);
          break;
        case KeyType::kEnum:
          if (!is_choice(key.choices, text)) fail(path, choice_problem(key, text));
          break;
        case KeyType::kList:
        case KeyType::kMap:
        case KeyType::kSection:
        case KeyType::kSectionList:
          break;
      }
    } catch (const ValueError& e) {
      fail(path, e.what());
    }
    return value;
  }

  /// Rules that span keys: references between sections, window bounds, test applicability,
  /// webhook parameters; resolves each model's alert policy and reads webhook secrets.
  void validate(Config& config) const {
    for (std::size_t i = 0; i < config.sources.size(); ++i) {
      const SourceConfig& source = config.sources[i];
      const std::string path = element("sources", i);
      if (source.type != SourceType::kKafka) continue;
      for (const auto& [property, reason] : kReservedKafka) {
        if (source.kafka.contains(std::string(property))) {
          fail(cat(path, ".kafka.", property), reason);
        }
      }
      const auto& topics = source.topics;
      if (std::find(topics.begin(), topics.end(), source.dead_letter_topic) != topics.end()) {
        fail(cat(path, ".dead_letter_topic"),
             cat("'", source.dead_letter_topic,
                 "' is also one of topics (rejected records would be read again)"));
      }
    }
    std::vector<std::string> source_names;
    for (const auto& source : config.sources) source_names.push_back(source.name);
    for (std::size_t m = 0; m < config.models.size(); ++m) {
      ModelConfig& model = config.models[m];
      const std::string path = element("models", m);
      validate_model(config, model, path, source_names);
      // alerts.policy with the keys of the model's own alerts.policy on top (the file may give
      // alerts after models).
      model.alert_policy = config.alerts.policy;
      Target target{&config};
      target.model = &model;
      lay_over(cat(path, ".alerts.policy"), target);
    }
    for (std::size_t w = 0; w < config.alerts.webhooks.size(); ++w) {
      validate_webhook(config.alerts.webhooks[w], element("alerts.webhooks", w));
    }
  }

  /// A webhook's template parameters, header values and CA file; reads its secret.
  void validate_webhook(WebhookSettings& webhook, const std::string& path) const {
    for (const auto& [template_name, param] : kRequiredParams) {
      if (webhook.template_name != template_name) continue;
      const std::string param_path = cat(path, ".params.", param);
      const auto value = webhook.params.find(std::string(param));
      if (value == webhook.params.end()) {
        fail(param_path, cat("required when template is ", template_name));
      }
      if (value->second.empty()) fail(param_path, "must not be empty");
    }
    for (const auto& [name, value] : webhook.headers) {
      if (value.find_first_of("\r\n") != std::string::npos) {
        fail(cat(path, ".headers.", name), "must not contain line breaks");
      }
    }
    if (!webhook.ca_file.empty() && !webhook.url.starts_with("https://")) {
      fail(cat(path, ".ca_file"), "applies only to https:// URLs (not http://)");
    }
    if (!webhook.secret_file.empty()) {
      webhook.secret = read_secret(webhook.secret_file.string(), cat(path, ".secret_file"), true);
    }
  }

  void validate_model(const Config& config, ModelConfig& model, const std::string& path,
                      const std::vector<std::string>& source_names) const {
    std::vector<const SourceConfig*> feeding;
    for (std::size_t j = 0; j < model.sources.size(); ++j) {
      const auto it =
          std::find_if(config.sources.begin(), config.sources.end(),
                       [&](const SourceConfig& s) { return s.name == model.sources[j]; });
      if (it == config.sources.end()) {
        fail(element(cat(path, ".sources"), j), cat("unknown source '", model.sources[j], "'",
                                                    suggestion(model.sources[j], source_names)));
      }
      feeding.push_back(&*it);
    }
    if (model.sources.empty()) {
      for (const auto& source : config.sources) feeding.push_back(&source);
    }
    const auto is_kserve = [](const SourceConfig* s) { return s->format != RecordFormat::kFlat; };

    if (model.match.kind == MatchRule::Kind::kHeader &&
        std::all_of(feeding.begin(), feeding.end(),
                    [](const SourceConfig* s) { return s->type == SourceType::kFile; })) {
      fail(cat(path, ".match.header"), "file sources carry no headers (match with pointer)");
    }

    std::vector<std::string> numeric;
    std::vector<std::string> names;
    bool categorical = false;
    for (std::size_t f = 0; f < model.features.size(); ++f) {
      const FeatureConfig& feature = model.features[f];
      names.push_back(feature.name);
      if (feature.kind == FeatureKind::kNumeric) numeric.push_back(feature.name);
      if (feature.kind == FeatureKind::kCategorical) categorical = true;
      if (feature.from != FeatureOrigin::kPrediction) continue;
      const std::string from_path = cat(element(cat(path, ".features"), f), ".from");
      if (!model.sources.empty()) {
        for (const SourceConfig* source : feeding) {
          if (!is_kserve(source)) {
            fail(from_path, cat("prediction needs kserve-v1 or kserve-v2 records, but source '",
                                source->name, "' is ", to_string(source->format)));
          }
        }
      } else if (std::none_of(feeding.begin(), feeding.end(), is_kserve)) {
        fail(from_path,
             "prediction needs kserve-v1 or kserve-v2 records, and no source has "
             "one of these formats");
      }
    }

    WindowConfig& window = model.window;
    const std::string window_path = cat(path, ".window");
    if (!window.time_based()) {
      const std::string size = std::to_string(window.size);
      if (window.slide == 0) window.slide = window.size;
      if (window.slide > window.size) {
        fail(cat(window_path, ".slide"), cat("must not exceed window.size (", size, ")"));
      }
      if (window.min_rows > window.size) {
        fail(cat(window_path, ".min_rows"), cat("must not exceed window.size (", size, ")"));
      }
    } else {
      if (window.every.count() == 0) window.every = window.duration;
      if (window.every > window.duration) {
        fail(cat(window_path, ".every"),
             cat("must not exceed window.duration (", format_duration(window.duration), ")"));
      }
    }
    if (model.reference.bootstrap > 0 && model.reference.bootstrap < window.min_rows) {
      fail(cat(path, ".reference.bootstrap"),
           cat("must be at least window.min_rows (", std::to_string(window.min_rows), ")"));
    }

    const TestSelection& tests = model.evaluation.tests;
    if (!tests.ks && !tests.psi && !tests.chi2 && !tests.mmd) {
      fail(cat(path, ".tests"), "enable at least one of ks, psi, chi2, mmd");
    }
    if (tests.mmd) {
      auto& selected = model.profile.mmd.features;
      const std::string mmd_path = cat(path, ".tests.mmd");
      if (selected.empty()) {
        if (numeric.empty()) fail(mmd_path, "needs numeric features, and this model has none");
        selected = numeric;
      }
      for (std::size_t k = 0; k < selected.size(); ++k) {
        const std::string item_path = element(cat(mmd_path, ".features"), k);
        if (std::find(names.begin(), names.end(), selected[k]) == names.end()) {
          fail(item_path,
               cat("unknown feature '", selected[k], "'", suggestion(selected[k], names)));
        }
        if (std::find(numeric.begin(), numeric.end(), selected[k]) == numeric.end()) {
          fail(item_path, cat("'", selected[k], "' is categorical; MMD takes numeric features"));
        }
      }
    }
    const bool runs =
        tests.psi || tests.mmd || (tests.ks && !numeric.empty()) || (tests.chi2 && categorical);
    if (!runs) {
      fail(cat(path, ".tests"),
           "no enabled test applies to this model's features (ks takes "
           "numeric features, chi2 categorical ones)");
    }
  }

  std::string origin_;
  Target target_;
  Overlays overlays_;
};

}  // namespace

Config parse_config(std::string_view text, std::string_view origin) {
  return Parser(origin).parse(text);
}

Config load_config(const std::filesystem::path& path) {
  std::string text;
  try {
    text = read_file(path.string());
  } catch (const ValueError& e) {
    throw ConfigError(e.what());
  }
  return parse_config(text, path.string());
}

}  // namespace drift::daemon
