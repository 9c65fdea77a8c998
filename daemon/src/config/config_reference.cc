// configuration_reference(): CONFIGURATION.md, printed from the schema table.
#include <algorithm>

#include "config/config.h"
#include "config/config_schema.h"
#include "config/config_values.h"

namespace drift::daemon {

namespace {

using namespace config_detail;

constexpr std::string_view kIntroduction = R"text(# driftd configuration reference

<!-- Generated from daemon/src/config/config_schema.cc; do not edit. Regenerate with
     build/daemon/driftd config-reference > daemon/CONFIGURATION.md -->

driftd reads its configuration from one YAML file; JSON is YAML, so a JSON file works too. The
file is checked at start-up, and the first problem stops the daemon with one line that names the
key and the reason. `driftd validate-config FILE` runs the same checks without starting
anything and prints `FILE: ok (2 sources, 1 model)` or the problem:

```
driftd validate-config: driftd.yaml: models[0].window.slide: must not exceed window.size (100000)
driftd validate-config: driftd.yaml: sources[1].typ: unknown key (did you mean 'type'?)
```

Unknown keys are errors, and so are keys of another source type (`path` on a Kafka source).

## Values

- **Durations**: a number with a unit, `ms`, `s`, `m` or `h`, or several of them (`1h30m`);
  decimals are fine when the result is whole milliseconds (`1.5s`). A bare number is refused.
- **Sizes**: bytes, or a number with `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024) or `KB`,
  `MB`, `GB`, `TB` (powers of 1000): `512MiB`, `8GiB`, `1048576`.
- **Names** of sources, models and webhooks: `[a-z0-9_-]+`; they appear in URLs
  (`/v1/ingest/<source>`) and metric labels.
- **JSON pointers** (RFC 6901): `""` (the whole value) or `/`-separated tokens, with `~0` for
  `~` and `~1` for `/`: `/features/amount`, `/inputs/0`.
- **Environment variables**: `${VAR}` anywhere in a value is replaced by the variable's value,
  and an unset variable is an error; `${VAR:-default}` gives `default` when `VAR` is unset or
  empty; `$${` is a literal `${`.
- **Secrets in files**: `server.auth_token_file: /path` reads `auth_token` from a file, and in a
  Kafka source's `kafka` map, `<property>_file: /path` (such as `sasl.password_file`) reads
  `<property>`. Trailing newlines are stripped; a missing, unreadable or empty file is an error.
  A webhook's `secret_file` is read the same way, except that only one trailing newline (`\n`
  or `\r\n`) is stripped. Relative paths are relative to the working directory.

## Example

```yaml
server:
  listen: "127.0.0.1:9108"
state:
  dir: /var/lib/driftd
  checkpoint_interval: 5s
backend: auto
sources:
  - name: predictions
    type: kafka
    brokers: "127.0.0.1:9092"
    topics: [predictions]
    group_id: driftd
    format: flat
    kafka: {session.timeout.ms: "6000"}
  - name: kserve
    type: http
    format: kserve-v1
models:
  - name: fraud
    sources: [predictions]
    match: {pointer: /model, equals: fraud}
    timestamp: /ts
    features:
      - {name: amount, pointer: /features/amount, type: numeric}
      - {name: country, pointer: /features/country, type: categorical}
      - {name: score, pointer: /prediction}
    reference: {file: /etc/driftd/fraud-reference.csv}
    window: {size: 100000, slide: 10000, min_rows: 1000}
    tests:
      ks: {}
      psi: {bins: 10, threshold: 0.2}
      chi2: {}
      mmd: {features: [amount, score], permutations: 500}
    p_value: 0.05
    correction: bonferroni
    alerts:
      policy: {consecutive: 3}
  - name: churn
    sources: [kserve]
    features:
      - {name: tenure, pointer: /0}
      - {name: churn_probability, pointer: "", from: prediction}
    reference: {bootstrap: 5000}
    window: {duration: 1h, every: 5m}
alerts:
  policy: {consecutive: 2, resolve_after: 3, cooldown: 30m, on: [ks, psi, chi2, mmd],
           min_drifted_features: 1, min_drifted_share: 0.1}
  webhooks:
    - name: retrain
      url: "http://127.0.0.1:2746/api/v1/workflows/ml/submit"
      template: argo-workflows
      params: {workflow_template: retrain-fraud}
      headers: {X-Team: ml}
      timeout: 15s
      max_attempts: 8
metrics:
  max_series_per_model: 10000
```

## Keys

Each table lists the keys of one section. Keys marked *required* must be given; a section of
type *section, one form* takes exactly one of the alternatives its description names.
)text";

std::string code_list(std::string_view choices) {
  std::string out;
  for (const auto& choice : split_choices(choices)) {
    if (!out.empty()) out += ", ";
    out += cat("`", choice, "`");
  }
  return out;
}

std::string type_cell(const Key& key) {
  std::string type;
  switch (key.type) {
    case KeyType::kString:
      type = "string";
      break;
    case KeyType::kName:
      type = "name";
      break;
    case KeyType::kPointer:
      type = "JSON pointer";
      break;
    case KeyType::kInt:
      type = "integer";
      break;
    case KeyType::kNumber:
      type = "number";
      break;
    case KeyType::kSigma:
      type = cat(code_list(key.choices), " or number");
      break;
    case KeyType::kBool:
      type = "boolean";
      break;
    case KeyType::kDuration:
      type = "duration";
      break;
    case KeyType::kSize:
      type = "size";
      break;
    case KeyType::kEnum:
      type = cat("one of ", code_list(key.choices));
      break;
    case KeyType::kList:
      type = key.choices.empty() ? std::string("list of strings")
                                 : cat("list of ", code_list(key.choices));
      if (key.min) type += ", non-empty";
      return type;
    case KeyType::kMap:
      return "map of string to scalar";
    case KeyType::kSection:
      return key.needs_form ? std::string("section, one form") : std::string("section");
    case KeyType::kSectionList:
      return key.min ? std::string("list of sections, non-empty") : std::string("list of sections");
  }
  const std::string range = range_text(key);
  return range.empty() ? type : cat(type, ", ", range);
}

std::string default_cell(const Key& key) {
  if (key.required) return "required";
  if (!key.fallback.empty()) return cat("`", key.fallback, "`");
  if (!key.shown.empty()) return std::string(key.shown);
  return "—";
}

std::string description_cell(const Key& key) {
  std::string text;
  if (!key.only_for.empty()) {
    std::string selector = "type";
    for (const Key* sibling : children_of(key.parent())) {
      if (sibling->discriminator) selector = std::string(sibling->name());
    }
    std::string kinds = code_list(key.only_for);
    std::replace(kinds.begin(), kinds.end(), ',', '/');
    text = cat("*Only when `", selector, "` is ", kinds, ".* ");
  }
  text += key.doc;
  std::string escaped;
  for (const char c : text) {
    if (c == '|') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

void table(std::string& out, std::string_view parent) {
  out += "| Key | Type | Default | Description |\n|---|---|---|---|\n";
  for (const Key* key : children_of(parent)) {
    out += cat("| `", key->name(), "` | ", type_cell(*key), " | ", default_cell(*key), " | ",
               description_cell(*key), " |\n");
  }
}

}  // namespace

std::string configuration_reference() {
  std::string out(kIntroduction);
  out += "\n### Top level\n\n";
  table(out, "");
  for (const Key& key : schema()) {
    if (key.type != KeyType::kSection && key.type != KeyType::kSectionList) continue;
    const std::string section =
        key.type == KeyType::kSectionList ? cat(key.path, "[]") : std::string(key.path);
    out += cat("\n### `", section, "`\n\n", key.doc, "\n\n");
    table(out, section);
  }
  return out;
}

}  // namespace drift::daemon
