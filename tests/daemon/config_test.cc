// The configuration: the schema-driven parser, its one-line errors, the generated reference and
// the validate-config / config-reference commands.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/config_commands.h"
#include "config/config.h"
#include "config/config_schema.h"
#include "config/config_values.h"
#include "process.h"

using drift::daemon::Config;
using drift::daemon::ConfigError;
using drift::daemon::parse_config;
using drift::test::TempDir;
namespace detail = drift::daemon::config_detail;

namespace {

const std::string kDataDir = std::string(DRIFT_GOLDEN_DIR) + "/../daemon/data";
const std::string kReferencePath = std::string(DRIFT_GOLDEN_DIR) + "/../../daemon/CONFIGURATION.md";

/// A small valid configuration; tests edit it with `edit`.
constexpr std::string_view kMinimal = R"yaml(state: {dir: /tmp/driftd}
sources:
  - {name: web, type: http}
models:
  - name: m
    features:
      - {name: x, pointer: /x}
      - {name: c, pointer: /c, type: categorical}
    reference: {bootstrap: 100}
    window: {size: 1000}
)yaml";

/// kMinimal with the first `from` replaced by `to` (which must be there).
std::string edit(std::string_view from, std::string_view to,
                 std::string text = std::string(kMinimal)) {
  const std::size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), to);
  return text;
}

/// The one-line message parse_config throws for `text` (origin "config.yaml").
std::string error_of(const std::string& text) {
  try {
    parse_config(text, "config.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  FAIL("no ConfigError for:\n" << text);
  return {};
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// Sets an environment variable for one test and restores the previous state.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("The documented example parses to the configured values", "[config][unit]") {
  const Config config = drift::daemon::load_config(kDataDir + "/example.yaml");
  CHECK(config.server.listen == "127.0.0.1:9108");
  CHECK(config.state.dir == "/var/lib/driftd");
  CHECK(config.state.checkpoint_interval == std::chrono::seconds(5));
  CHECK(config.backend == "auto");

  REQUIRE(config.sources.size() == 3);
  const auto& kafka = config.sources[0];
  CHECK(kafka.name == "predictions");
  CHECK(kafka.type == drift::daemon::SourceType::kKafka);
  CHECK(kafka.format == drift::daemon::RecordFormat::kFlat);
  CHECK(kafka.brokers == "127.0.0.1:9092");
  CHECK(kafka.topics == std::vector<std::string>{"predictions"});
  CHECK(kafka.group_id == "driftd");
  CHECK(kafka.kafka == std::map<std::string, std::string>{{"session.timeout.ms", "6000"}});
  CHECK(kafka.dead_letter_topic.empty());
  const auto& http = config.sources[1];
  CHECK(http.name == "kserve");
  CHECK(http.type == drift::daemon::SourceType::kHttp);
  CHECK(http.format == drift::daemon::RecordFormat::kKserveV1);
  CHECK(http.queue_records == 100000);
  CHECK(http.join_ttl == std::chrono::minutes(1));
  const auto& file = config.sources[2];
  CHECK(file.type == drift::daemon::SourceType::kFile);
  CHECK(file.path == "/var/log/model/predictions.jsonl");
  CHECK(file.poll_interval == std::chrono::milliseconds(200));

  REQUIRE(config.models.size() == 1);
  const auto& model = config.models[0];
  CHECK(model.name == "fraud");
  CHECK(model.sources.empty());
  CHECK(model.match.kind == drift::daemon::MatchRule::Kind::kPointer);
  CHECK(model.match.key == "/model");
  CHECK(model.match.equals == "fraud");
  CHECK(model.timestamp_pointer == "/ts");
  CHECK(model.version_pointer.empty());
  REQUIRE(model.features.size() == 4);
  CHECK(model.features[0].name == "amount");
  CHECK(model.features[0].pointer == "/features/amount");
  CHECK(model.features[0].kind == drift::FeatureKind::kNumeric);
  CHECK(model.features[0].from == drift::daemon::FeatureOrigin::kRecord);
  CHECK(model.features[2].name == "country");
  CHECK(model.features[2].kind == drift::FeatureKind::kCategorical);
  CHECK(model.features[3].pointer == "/prediction");
  CHECK(model.reference.file == "/etc/driftd/fraud-reference.csv");
  CHECK(model.reference.bootstrap == 0);
  CHECK(model.window.size == 100000);
  CHECK(model.window.slide == 10000);
  CHECK(model.window.min_rows == 1000);
  CHECK_FALSE(model.window.time_based());

  const auto& evaluation = model.evaluation;
  CHECK(evaluation.tests.ks);
  CHECK(evaluation.tests.psi);
  CHECK(evaluation.tests.chi2);
  CHECK(evaluation.tests.mmd);
  CHECK(evaluation.ks_method == drift::KsMethod::kAuto);
  CHECK(evaluation.psi_binning == drift::PsiBinning::kQuantile);
  CHECK(evaluation.psi_threshold == 0.2);
  CHECK(evaluation.alpha == 0.05);
  CHECK(evaluation.correction == drift::Correction::kBonferroni);
  CHECK(evaluation.min_rows == 1000);
  CHECK(evaluation.mmd_permutations == 500);
  CHECK(evaluation.seed == 0);
  CHECK(model.profile.psi_bins == 10);
  CHECK(model.profile.build_mmd);
  CHECK(model.profile.mmd.features == std::vector<std::string>{"amount", "age", "score"});
  CHECK(model.profile.mmd.max_rows == 5000);
  CHECK_FALSE(model.profile.mmd.sigma.has_value());
  CHECK(model.profile.mmd.standardize);
}

TEST_CASE("A minimal configuration gets the defaults of config.h", "[config][unit]") {
  const Config config = parse_config(kMinimal);
  const Config defaults;
  CHECK(config.server.listen == defaults.server.listen);
  CHECK(config.server.auth_token.empty());
  CHECK(config.server.max_body_bytes == defaults.server.max_body_bytes);
  CHECK(config.server.shutdown_timeout == defaults.server.shutdown_timeout);
  CHECK(config.server.ready_requires.empty());
  CHECK(config.state.checkpoint_interval == defaults.state.checkpoint_interval);
  CHECK(config.backend == defaults.backend);
  CHECK(config.gpu.device == defaults.gpu.device);
  CHECK(config.gpu.memory_limit == defaults.gpu.memory_limit);

  const drift::daemon::SourceConfig source_defaults;
  const auto& source = config.sources.at(0);
  CHECK(source.format == source_defaults.format);
  CHECK(source.poll_interval == source_defaults.poll_interval);
  CHECK(source.queue_records == source_defaults.queue_records);
  CHECK(source.join_ttl == source_defaults.join_ttl);
  CHECK(source.kafka.empty());

  const drift::daemon::ModelConfig model_defaults;
  const auto& model = config.models.at(0);
  CHECK(model.match.kind == drift::daemon::MatchRule::Kind::kAll);
  CHECK(model.window.slide == 1000);  // tumbling
  CHECK(model.window.min_rows == model_defaults.window.min_rows);
  CHECK(model.features.at(0).kind == drift::FeatureKind::kNumeric);
  CHECK(model.features.at(0).from == drift::daemon::FeatureOrigin::kRecord);
  const auto& evaluation = model.evaluation;
  const auto& evaluation_defaults = model_defaults.evaluation;
  CHECK(evaluation.tests.ks);
  CHECK(evaluation.tests.psi);
  CHECK(evaluation.tests.chi2);
  CHECK_FALSE(evaluation.tests.mmd);
  CHECK(evaluation.alpha == evaluation_defaults.alpha);
  CHECK(evaluation.correction == evaluation_defaults.correction);
  CHECK(evaluation.ks_method == evaluation_defaults.ks_method);
  CHECK(evaluation.psi_binning == evaluation_defaults.psi_binning);
  CHECK(evaluation.psi_threshold == evaluation_defaults.psi_threshold);
  CHECK(evaluation.min_effect.ks == evaluation_defaults.min_effect.ks);
  CHECK(evaluation.min_effect.chi2 == evaluation_defaults.min_effect.chi2);
  CHECK(evaluation.min_effect.mmd == evaluation_defaults.min_effect.mmd);
  CHECK(evaluation.min_rows == evaluation_defaults.min_rows);
  CHECK(evaluation.mmd_permutations == evaluation_defaults.mmd_permutations);
  CHECK(evaluation.seed == evaluation_defaults.seed);
  const auto& profile = model.profile;
  const auto& profile_defaults = model_defaults.profile;
  CHECK(profile.psi_bins == profile_defaults.psi_bins);
  CHECK(profile.build_mmd == profile_defaults.build_mmd);
  CHECK(profile.mmd.standardize == profile_defaults.mmd.standardize);
  CHECK(profile.mmd.max_rows == profile_defaults.mmd.max_rows);
  CHECK(profile.mmd.sigma == profile_defaults.mmd.sigma);
  CHECK(profile.mmd.sigma_rows == profile_defaults.mmd.sigma_rows);
  CHECK(profile.mmd.seed == profile_defaults.mmd.seed);

  const drift::daemon::AlertPolicySettings policy_defaults;
  for (const auto* policy : {&config.alerts.policy, &model.alert_policy}) {
    CHECK(policy->consecutive == policy_defaults.consecutive);
    CHECK(policy->resolve_after == policy_defaults.resolve_after);
    CHECK(policy->cooldown == policy_defaults.cooldown);
    CHECK(policy->on_ks);
    CHECK(policy->on_psi);
    CHECK(policy->on_chi2);
    CHECK(policy->on_mmd);
    CHECK(policy->min_drifted_features == policy_defaults.min_drifted_features);
    CHECK(policy->min_drifted_share == policy_defaults.min_drifted_share);
  }
  CHECK(config.alerts.webhooks.empty());
  CHECK(config.metrics.max_series_per_model == defaults.metrics.max_series_per_model);
}

TEST_CASE("Every option of a model lands in its EvaluationConfig and ProfileOptions",
          "[config][unit]") {
  const Config config =
      parse_config(edit("    window: {size: 1000}\n", R"yaml(    window: {duration: 1h30m}
    version: /model_version
    tests:
      ks: {method: exact, min_effect: 0.1}
      psi: {bins: 20, binning: evidently, threshold: 0.25}
      chi2: {min_effect: 0.05}
      mmd: {sigma: 1.5, sigma_rows: 100, standardize: false, min_effect: 0.001}
    p_value: 0.01
    correction: fdr
    seed: 42
)yaml"));
  const auto& model = config.models.at(0);
  CHECK(model.window.time_based());
  CHECK(model.window.duration == std::chrono::minutes(90));
  CHECK(model.window.every == std::chrono::minutes(90));
  CHECK(model.version_pointer == "/model_version");
  const auto& evaluation = model.evaluation;
  CHECK(evaluation.ks_method == drift::KsMethod::kExact);
  CHECK(evaluation.min_effect.ks == 0.1);
  CHECK(evaluation.psi_binning == drift::PsiBinning::kEvidently);
  CHECK(evaluation.psi_threshold == 0.25);
  CHECK(evaluation.min_effect.chi2 == 0.05);
  CHECK(evaluation.min_effect.mmd == 0.001);
  CHECK(evaluation.alpha == 0.01);
  CHECK(evaluation.correction == drift::Correction::kFdr);
  CHECK(evaluation.seed == 42);
  CHECK(evaluation.tests.mmd);
  CHECK(model.profile.psi_bins == 20);
  CHECK(model.profile.build_mmd);
  CHECK(model.profile.mmd.features == std::vector<std::string>{"x"});  // all numeric features
  CHECK(model.profile.mmd.sigma == 1.5);
  CHECK(model.profile.mmd.sigma_rows == 100);
  CHECK_FALSE(model.profile.mmd.standardize);
  CHECK(model.profile.mmd.seed == 42);
}

TEST_CASE("Listing tests enables exactly those tests", "[config][unit]") {
  const auto tests_of = [](std::string_view tests) {
    return parse_config(edit("    window: {size: 1000}\n",
                             std::string("    window: {size: 1000}\n") + std::string(tests)))
        .models.at(0)
        .evaluation.tests;
  };
  const auto only_ks = tests_of("    tests: {ks: {}}\n");
  CHECK(only_ks.ks);
  CHECK_FALSE(only_ks.psi);
  CHECK_FALSE(only_ks.chi2);
  CHECK_FALSE(only_ks.mmd);
  const auto null_section = tests_of("    tests:\n      chi2:\n");
  CHECK(null_section.chi2);
  CHECK_FALSE(null_section.ks);
  CHECK(error_of(edit("    window: {size: 1000}\n", "    window: {size: 1000}\n    tests: {}\n")) ==
        "config.yaml: models[0].tests: enable at least one of ks, psi, chi2, mmd");
  CHECK(error_of(edit("      - {name: c, pointer: /c, type: categorical}\n", "",
                      edit("    window: {size: 1000}\n",
                           "    window: {size: 1000}\n    tests: {chi2: {}}\n"))) ==
        "config.yaml: models[0].tests: no enabled test applies to this model's features (ks "
        "takes numeric features, chi2 categorical ones)");
}

TEST_CASE("Unknown keys are refused with their path and a suggestion", "[config][unit]") {
  CHECK(error_of(edit("  - {name: web, type: http}\n",
                      "  - {name: web, type: http}\n  - {name: other, typ: http}\n")) ==
        "config.yaml: sources[1].typ: unknown key (did you mean 'type'?)");
  CHECK(error_of(edit("window: {size: 1000}", "window: {size: 1000, slid: 10}")) ==
        "config.yaml: models[0].window.slid: unknown key (did you mean 'slide'?)");
  CHECK(error_of(std::string(kMinimal) + "monitoring: {}\n") ==
        "config.yaml: monitoring: unknown key (expected one of: server, state, backend, gpu, "
        "sources, models, alerts, metrics)");
  CHECK(error_of(std::string(kMinimal) + "alert: {}\n") ==
        "config.yaml: alert: unknown key (did you mean 'alerts'?)");
  CHECK(error_of(edit("{name: x, pointer: /x}", "{name: x, pointer: /x, kind: numeric}")) ==
        "config.yaml: models[0].features[0].kind: unknown key (expected one of: name, pointer, "
        "type, from)");
  CHECK(error_of(std::string(kMinimal) + "state: {dir: /x}\n") ==
        "config.yaml: state: duplicate key");
}

TEST_CASE("Keys of another source type are refused", "[config][unit]") {
  CHECK(error_of(edit("  - {name: web, type: http}\n", R"yaml(  - name: web
    type: kafka
    brokers: localhost:9092
    topics: [t]
    group_id: g
    path: /var/log/x.jsonl
)yaml")) == "config.yaml: sources[0].path: applies only when type is file (not kafka)");
  CHECK(
      error_of(edit("{name: web, type: http}", "{name: web, type: file, path: /x, topics: [a]}")) ==
      "config.yaml: sources[0].topics: applies only when type is kafka (not file)");
}

TEST_CASE("Values of the wrong type are refused", "[config][unit]") {
  CHECK(error_of(edit("size: 1000", "size: abc")) ==
        "config.yaml: models[0].window.size: expected a non-negative integer, got 'abc'");
  CHECK(error_of(edit("size: 1000", "size: -5")) ==
        "config.yaml: models[0].window.size: expected a non-negative integer, got '-5'");
  CHECK(error_of(edit("size: 1000", "size: [1, 2]")) ==
        "config.yaml: models[0].window.size: expected a non-negative integer, got a list");
  CHECK(error_of(edit("state: {dir: /tmp/driftd}", "state: {dir: {a: b}}")) ==
        "config.yaml: state.dir: expected a string, got a mapping");
  CHECK(error_of(edit("window: {size: 1000}",
                      "window: {size: 1000}\n    tests: {mmd: {standardize: maybe}}")) ==
        "config.yaml: models[0].tests.mmd.standardize: expected true or false, got 'maybe'");
  CHECK(error_of(edit("window: {size: 1000}", "window: {size: 1000}\n    p_value: high")) ==
        "config.yaml: models[0].p_value: expected a number, got 'high'");
  CHECK(error_of(edit("window: {size: 1000}",
                      "window: {size: 1000}\n    tests: {mmd: {sigma: wide}}")) ==
        "config.yaml: models[0].tests.mmd.sigma: expected median or a number, got 'wide'");
  CHECK(error_of(edit("sources:\n  - {name: web, type: http}\n", "sources: {name: web}\n")) ==
        "config.yaml: sources: expected a list of mappings, got a mapping");
  CHECK(error_of(edit("{name: web, type: http}",
                      "{name: web, type: kafka, brokers: b, group_id: g, topics: t}")) ==
        "config.yaml: sources[0].topics: expected a list, got 't'");
  CHECK(error_of(edit("state: {dir: /tmp/driftd}", "state: /tmp/driftd")) ==
        "config.yaml: state: expected a mapping, got '/tmp/driftd'");
  CHECK(error_of("- a\n- b\n") == "config.yaml: expected a mapping of settings, got a list");
  CHECK(error_of("") ==
        "config.yaml: the configuration is empty (it needs state, sources and models)");
}

TEST_CASE("Out-of-range values are refused with the bounds", "[config][unit]") {
  CHECK(error_of(edit("window: {size: 1000}", "window: {size: 100000, slide: 100001}")) ==
        "config.yaml: models[0].window.slide: must not exceed window.size (100000)");
  CHECK(error_of(edit("window: {size: 1000}", "window: {size: 1000, slide: 0}")) ==
        "config.yaml: models[0].window.slide: must be at least 1, got 0");
  CHECK(error_of(edit("window: {size: 1000}", "window: {size: 1000, min_rows: 1001}")) ==
        "config.yaml: models[0].window.min_rows: must not exceed window.size (1000)");
  CHECK(error_of(edit("window: {size: 1000}", "window: {duration: 1m, every: 2m}")) ==
        "config.yaml: models[0].window.every: must not exceed window.duration (1m)");
  CHECK(
      error_of(edit("window: {size: 1000}", "window: {size: 1000}\n    tests: {psi: {bins: 1}}")) ==
      "config.yaml: models[0].tests.psi.bins: must be between 2 and 1000, got 1");
  CHECK(error_of(edit("window: {size: 1000}", "window: {size: 1000}\n    p_value: 1")) ==
        "config.yaml: models[0].p_value: must be strictly between 0 and 1, got 1");
  CHECK(error_of(edit("window: {size: 1000}",
                      "window: {size: 1000}\n    tests: {ks: {min_effect: 1.5}}")) ==
        "config.yaml: models[0].tests.ks.min_effect: must be between 0 and 1, got 1.5");
  CHECK(error_of(
            edit("window: {size: 1000}", "window: {size: 1000}\n    tests: {mmd: {sigma: 0}}")) ==
        "config.yaml: models[0].tests.mmd.sigma: must be greater than 0, got 0");
  CHECK(error_of(edit("state: {dir: /tmp/driftd}",
                      "state: {dir: /tmp/driftd, checkpoint_interval: 10ms}")) ==
        "config.yaml: state.checkpoint_interval: must be at least 100ms, got 10ms");
  CHECK(error_of(edit("reference: {bootstrap: 100}", "reference: {bootstrap: 10}",
                      edit("window: {size: 1000}", "window: {size: 1000, min_rows: 50}"))) ==
        "config.yaml: models[0].reference.bootstrap: must be at least window.min_rows (50)");
  CHECK(error_of(edit("state: {dir: /tmp/driftd}",
                      "state: {dir: /tmp/driftd}\nserver: "
                      "{listen: localhost}")) ==
        "config.yaml: server.listen: expected host:port (such as 127.0.0.1:9108, 0.0.0.0:9108 "
        "or [::1]:9108), got 'localhost'");
}

TEST_CASE("Durations need a unit and read as milliseconds", "[config][unit]") {
  using std::chrono::milliseconds;
  CHECK(detail::parse_duration("500ms") == milliseconds(500));
  CHECK(detail::parse_duration("5s") == milliseconds(5000));
  CHECK(detail::parse_duration("1m") == milliseconds(60000));
  CHECK(detail::parse_duration("2h") == milliseconds(7200000));
  CHECK(detail::parse_duration("1h30m") == milliseconds(5400000));
  CHECK(detail::parse_duration("1.5s") == milliseconds(1500));
  CHECK(detail::parse_duration("0s") == milliseconds(0));
  CHECK(detail::format_duration(milliseconds(5400000)) == "1h30m");
  CHECK(detail::format_duration(milliseconds(1500)) == "1s500ms");
  CHECK(detail::format_duration(milliseconds(0)) == "0s");
  CHECK_THROWS_WITH(detail::parse_duration("5"),
                    "a duration needs a unit (ms, s, m or h), got '5'");
  CHECK_THROWS_WITH(detail::parse_duration("5 s"),
                    "expected a duration such as 500ms, 5s, 1m, 2h or 1h30m, got '5 s'");
  CHECK_THROWS_WITH(detail::parse_duration("5d"), "unknown unit 'd' in '5d' (use ms, s, m or h)");
  CHECK_THROWS_WITH(detail::parse_duration("1.0005s"),
                    "'1.0005s' is not a whole number of milliseconds");
  CHECK_THROWS_WITH(detail::parse_duration("-1s"),
                    "expected a duration such as 500ms, 5s, 1m, 2h or 1h30m, got '-1s'");
  CHECK_THROWS_WITH(detail::parse_duration("99999999999999999999h"),
                    "'99999999999999999999h' is too long a duration");
  CHECK(error_of(edit("state: {dir: /tmp/driftd}",
                      "state: {dir: /tmp/driftd, checkpoint_interval: 5}")) ==
        "config.yaml: state.checkpoint_interval: a duration needs a unit (ms, s, m or h), got "
        "'5'");
}

TEST_CASE("Byte sizes take binary and decimal units or plain bytes", "[config][unit]") {
  CHECK(detail::parse_size("8GiB") == 8ull << 30);
  CHECK(detail::parse_size("512MiB") == 512ull << 20);
  CHECK(detail::parse_size("1048576") == 1048576);
  CHECK(detail::parse_size("2GB") == 2'000'000'000);
  CHECK(detail::parse_size("1.5KiB") == 1536);
  CHECK(detail::parse_size("64 KiB") == 65536);
  CHECK(detail::format_size(16ull << 20) == "16MiB");
  CHECK(detail::format_size(1000) == "1000");
  CHECK_THROWS_WITH(detail::parse_size("8gigs"),
                    "unknown unit 'gigs' in '8gigs' (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)");
  CHECK_THROWS_WITH(detail::parse_size("1.5"), "'1.5' is not a whole number of bytes");
  CHECK_THROWS_WITH(detail::parse_size("99999999999TiB"), "'99999999999TiB' is too large");
  const Config config =
      parse_config(edit("state: {dir: /tmp/driftd}", R"yaml(state: {dir: /tmp/driftd}
server: {max_body_bytes: 1MiB}
gpu: {device: 1, memory_limit: 8GiB})yaml"));
  CHECK(config.server.max_body_bytes == 1u << 20);
  CHECK(config.gpu.device == 1);
  CHECK(config.gpu.memory_limit == 8ull << 30);
  CHECK(error_of(edit("state: {dir: /tmp/driftd}",
                      "state: {dir: /tmp/driftd}\nserver: {max_body_bytes: -1}")) ==
        "config.yaml: server.max_body_bytes: expected a byte size such as 4096, 512MiB or 8GiB, "
        "got '-1'");
}

TEST_CASE("Enumerations list their values and suggest a near miss", "[config][unit]") {
  CHECK(error_of(std::string(kMinimal) + "backend: tpu\n") ==
        "config.yaml: backend: must be one of auto, cpu, gpu, got 'tpu' (did you mean 'cpu'?)");
  CHECK(error_of(std::string(kMinimal) + "backend: cuda\n") ==
        "config.yaml: backend: must be one of auto, cpu, gpu, got 'cuda'");
  CHECK(error_of(edit("window: {size: 1000}", "window: {size: 1000}\n    correction: bonferoni")) ==
        "config.yaml: models[0].correction: must be one of none, bonferroni, fdr, got "
        "'bonferoni' (did you mean 'bonferroni'?)");
  CHECK(error_of(edit("type: http", "type: grpc")) ==
        "config.yaml: sources[0].type: must be one of kafka, http, file, got 'grpc'");
  CHECK(error_of(edit("state: {dir: /tmp/driftd}",
                      "state: {dir: /tmp/driftd}\nserver: {ready_requires: [sources, models]}")) ==
        "config.yaml: server.ready_requires[1]: must be one of sources, references, got "
        "'models'");
}

TEST_CASE("JSON pointers and names are checked", "[config][unit]") {
  CHECK(error_of(edit("pointer: /x", "pointer: x")) ==
        "config.yaml: models[0].features[0].pointer: a JSON pointer must be empty or start with "
        "'/' (RFC 6901), got 'x'");
  CHECK(error_of(edit("pointer: /x", "pointer: /a~2b")) ==
        "config.yaml: models[0].features[0].pointer: '~' must be followed by 0 or 1 in a JSON "
        "pointer (RFC 6901: ~0 is '~', ~1 is '/'), got '/a~2b'");
  CHECK(parse_config(edit("pointer: /x", "pointer: \"\"")).models[0].features[0].pointer.empty());
  CHECK(parse_config(edit("pointer: /x", "pointer: /a~1b~0c")).models[0].features[0].pointer ==
        "/a~1b~0c");
  CHECK(error_of(edit("window: {size: 1000}", "window: {size: 1000}\n    timestamp: \"\"")) ==
        "config.yaml: models[0].timestamp: must not be empty");
  CHECK(error_of(edit("name: web", "name: Web Source")) ==
        "config.yaml: sources[0].name: must match [a-z0-9_-]+ (it appears in URLs and metric "
        "labels), got 'Web Source'");
  CHECK(error_of(edit("name: m", "name: fraud/v2")) ==
        "config.yaml: models[0].name: must match [a-z0-9_-]+ (it appears in URLs and metric "
        "labels), got 'fraud/v2'");
}

TEST_CASE("Duplicate names are refused", "[config][unit]") {
  CHECK(error_of(edit("  - {name: web, type: http}\n",
                      "  - {name: web, type: http}\n  - {name: web, type: http}\n")) ==
        "config.yaml: sources[1].name: duplicate name 'web' (also sources[0].name)");
  CHECK(error_of(edit("{name: c, pointer: /c, type: categorical}", "{name: x, pointer: /y}")) ==
        "config.yaml: models[0].features[1].name: duplicate name 'x' (also "
        "models[0].features[0].name)");
  const std::string two_models = std::string(kMinimal) + R"yaml(  - name: m
    features: [{name: x, pointer: /x}]
    reference: {bootstrap: 100}
    window: {size: 1000}
)yaml";
  CHECK(error_of(two_models) ==
        "config.yaml: models[1].name: duplicate name 'm' (also models[0].name)");
  CHECK(error_of(edit("{name: web, type: http}",
                      "{name: web, type: kafka, brokers: b, group_id: g, topics: [a, a]}")) ==
        "config.yaml: sources[0].topics[1]: 'a' is listed twice");
}

TEST_CASE("Missing required keys are named", "[config][unit]") {
  CHECK(error_of(edit("state: {dir: /tmp/driftd}", "state: {}")) ==
        "config.yaml: state.dir: required");
  CHECK(error_of(edit("state: {dir: /tmp/driftd}\n", "")) == "config.yaml: state: required");
  CHECK(error_of(edit("sources:\n  - {name: web, type: http}\n", "")) ==
        "config.yaml: sources: required");
  CHECK(error_of(edit("sources:\n  - {name: web, type: http}\n", "sources: []\n")) ==
        "config.yaml: sources: must not be empty");
  CHECK(error_of(edit("{name: web, type: http}", "{name: web}")) ==
        "config.yaml: sources[0].type: required");
  CHECK(error_of(edit("{name: web, type: http}",
                      "{name: web, type: kafka, topics: [t], group_id: g}")) ==
        "config.yaml: sources[0].brokers: required when type is kafka");
  CHECK(error_of(edit("{name: web, type: http}", "{name: web, type: file}")) ==
        "config.yaml: sources[0].path: required when type is file");
  CHECK(error_of(edit("    window: {size: 1000}\n", "")) ==
        "config.yaml: models[0].window: required");
  CHECK(error_of(edit("    reference: {bootstrap: 100}\n", "")) ==
        "config.yaml: models[0].reference: required");
  CHECK(error_of(edit("{name: x, pointer: /x}", "{name: x}")) ==
        "config.yaml: models[0].features[0].pointer: required");
  CHECK(error_of(edit("state: {dir: /tmp/driftd}", "state: {dir: \"\"}")) ==
        "config.yaml: state.dir: must not be empty");
}

TEST_CASE("Alternative forms take exactly one", "[config][unit]") {
  CHECK(error_of(edit("window: {size: 1000}", "window: {size: 1000, duration: 1m}")) ==
        "config.yaml: models[0].window: give either size or duration, not both");
  CHECK(error_of(edit("window: {size: 1000}", "window: {min_rows: 5}")) ==
        "config.yaml: models[0].window: give either size or duration");
  CHECK(error_of(edit("window: {size: 1000}", "window: {slide: 10}")) ==
        "config.yaml: models[0].window.size: required with slide");
  CHECK(
      error_of(edit("reference: {bootstrap: 100}", "reference: {bootstrap: 100, file: /r.csv}")) ==
      "config.yaml: models[0].reference: give either file or bootstrap, not both");
  CHECK(error_of(edit("reference: {bootstrap: 100}", "reference: {}")) ==
        "config.yaml: models[0].reference: give either file or bootstrap");
  CHECK(error_of(
            edit("window: {size: 1000}",
                 "window: {size: 1000}\n    match: {pointer: /m, header: x-model, equals: m}")) ==
        "config.yaml: models[0].match: give either pointer or header, not both");
  CHECK(error_of(edit("window: {size: 1000}", "window: {size: 1000}\n    match: {equals: m}")) ==
        "config.yaml: models[0].match: give either pointer or header");
  CHECK(error_of(edit("window: {size: 1000}", "window: {size: 1000}\n    match: {pointer: /m}")) ==
        "config.yaml: models[0].match.equals: required");
  const auto header = parse_config(edit(
      "window: {size: 1000}", "window: {size: 1000}\n    match: {header: X-Model, equals: m}"));
  CHECK(header.models[0].match.kind == drift::daemon::MatchRule::Kind::kHeader);
  CHECK(header.models[0].match.key == "x-model");
  CHECK(error_of(edit("{name: web, type: http}", "{name: web, type: file, path: /p}",
                      edit("window: {size: 1000}",
                           "window: {size: 1000}\n    match: {header: x-model, equals: m}"))) ==
        "config.yaml: models[0].match.header: file sources carry no headers (match with pointer)");
}

TEST_CASE("Models refer to existing sources and numeric MMD features", "[config][unit]") {
  CHECK(error_of(edit("  - name: m\n", "  - name: m\n    sources: [wbe]\n")) ==
        "config.yaml: models[0].sources[0]: unknown source 'wbe' (did you mean 'web'?)");
  CHECK(
      parse_config(edit("  - name: m\n", "  - name: m\n    sources: [web]\n")).models[0].sources ==
      std::vector<std::string>{"web"});
  CHECK(error_of(edit("window: {size: 1000}",
                      "window: {size: 1000}\n    tests: {mmd: {features: [x, c]}}")) ==
        "config.yaml: models[0].tests.mmd.features[1]: 'c' is categorical; MMD takes numeric "
        "features");
  CHECK(error_of(edit("window: {size: 1000}",
                      "window: {size: 1000}\n    tests: {mmd: {features: [y]}}")) ==
        "config.yaml: models[0].tests.mmd.features[0]: unknown feature 'y' (did you mean 'x'?)");
  CHECK(
      error_of(edit("{name: x, pointer: /x}", "{name: x, pointer: /x, type: categorical}",
                    edit("window: {size: 1000}", "window: {size: 1000}\n    tests: {mmd: {}}"))) ==
      "config.yaml: models[0].tests.mmd: needs numeric features, and this model has none");
}

TEST_CASE("Prediction features need a KServe source", "[config][unit]") {
  CHECK(error_of(edit("{name: x, pointer: /x}", "{name: x, pointer: \"\", from: prediction}")) ==
        "config.yaml: models[0].features[0].from: prediction needs kserve-v1 or kserve-v2 "
        "records, and no source has one of these formats");
  const std::string two_sources = edit("  - {name: web, type: http}\n",
                                       "  - {name: web, type: http}\n"
                                       "  - {name: ks, type: http, format: kserve-v2}\n");
  CHECK(
      error_of(edit("{name: x, pointer: /x}", "{name: x, pointer: /y/0, from: prediction}",
                    edit("  - name: m\n", "  - name: m\n    sources: [ks, web]\n", two_sources))) ==
      "config.yaml: models[0].features[0].from: prediction needs kserve-v1 or kserve-v2 "
      "records, but source 'web' is flat");
  const Config config =
      parse_config(edit("{name: x, pointer: /x}", "{name: x, pointer: /y/0, from: prediction}",
                        edit("  - name: m\n", "  - name: m\n    sources: [ks]\n", two_sources)));
  CHECK(config.models[0].features[0].from == drift::daemon::FeatureOrigin::kPrediction);
}

TEST_CASE("Kafka passthrough properties are text and some belong to driftd", "[config][unit]") {
  const std::string kafka =
      R"yaml({name: web, type: kafka, brokers: "b:9092", topics: [t], group_id: g,
       kafka: {fetch.max.bytes: 1048576, enable.partition.eof: false}})yaml";
  const Config config = parse_config(edit("{name: web, type: http}", kafka));
  CHECK(config.sources[0].kafka ==
        std::map<std::string, std::string>{{"enable.partition.eof", "false"},
                                           {"fetch.max.bytes", "1048576"}});
  CHECK(error_of(edit("{name: web, type: http}",
                      "{name: web, type: kafka, brokers: b, topics: [t], group_id: g, kafka: "
                      "{group.id: other}}")) ==
        "config.yaml: sources[0].kafka.group.id: set with group_id");
  CHECK(error_of(edit("{name: web, type: http}",
                      "{name: web, type: kafka, brokers: b, topics: [t], group_id: g, kafka: "
                      "{a: [1]}}")) ==
        "config.yaml: sources[0].kafka.a: expected a scalar value, got a list");
  CHECK(error_of(edit("{name: web, type: http}",
                      "{name: web, type: kafka, brokers: b, topics: [t], group_id: g, "
                      "dead_letter_topic: t}")) ==
        "config.yaml: sources[0].dead_letter_topic: 't' is also one of topics (rejected records "
        "would be read again)");
}

TEST_CASE("Environment variables are substituted into values", "[config][unit]") {
  const ScopedEnv size("DRIFTD_TEST_WINDOW_SIZE", "2000");
  const ScopedEnv dir("DRIFTD_TEST_STATE_DIR", "/srv/state");
  const ScopedEnv unset("DRIFTD_TEST_UNSET", nullptr);
  const Config config = parse_config(edit(
      "state: {dir: /tmp/driftd}", "state: {dir: \"${DRIFTD_TEST_STATE_DIR}/driftd\"}",
      edit("window: {size: 1000}",
           "window: {size: \"${DRIFTD_TEST_WINDOW_SIZE}\", slide: \"${DRIFTD_TEST_UNSET:-500}\"}\n"
           "    match: {pointer: /m, equals: \"$${literal}\"}")));
  CHECK(config.state.dir == "/srv/state/driftd");
  CHECK(config.models[0].window.size == 2000);
  CHECK(config.models[0].window.slide == 500);
  CHECK(config.models[0].match.equals == "${literal}");
  CHECK(error_of(edit("window: {size: 1000}", "window: {size: \"${DRIFTD_TEST_UNSET}\"}")) ==
        "config.yaml: models[0].window.size: environment variable DRIFTD_TEST_UNSET is not set "
        "(write ${DRIFTD_TEST_UNSET:-default} to give a default)");
  CHECK(error_of(edit("name: web", "name: \"${DRIFTD_TEST_UNSET\"")) ==
        "config.yaml: sources[0].name: unterminated '${' (write $${ for a literal ${)");
  CHECK(error_of(edit("window: {size: 1000}", "window: {size: \"${1BAD}\"}")) ==
        "config.yaml: models[0].window.size: bad environment variable name '1BAD' in '${1BAD}'");
}

TEST_CASE("Secrets are read from *_file keys", "[config][unit]") {
  using detail::cat;
  const TempDir dir;
  const std::string token = dir.write("token", "s3cret\n");
  const std::string password = dir.write("password", "hunter2");
  const std::string empty = dir.write("empty", "\n");
  const std::string missing = cat(dir.path(), "/missing");
  const auto with_server = [](std::string_view server) {
    return edit("state: {dir: /tmp/driftd}", cat("state: {dir: /tmp/driftd}\nserver: ", server));
  };
  const auto with_kafka = [](std::string_view properties) {
    return edit("{name: web, type: http}",
                cat("{name: web, type: kafka, brokers: b, topics: [t], group_id: g, kafka: ",
                    properties, "}"));
  };
  CHECK(parse_config(with_server(cat("{auth_token_file: ", token, "}"))).server.auth_token ==
        "s3cret");
  CHECK(parse_config(with_kafka(cat("{sasl.username: driftd, sasl.password_file: ", password, "}")))
            .sources[0]
            .kafka == std::map<std::string, std::string>{{"sasl.password", "hunter2"},
                                                         {"sasl.username", "driftd"}});

  CHECK(error_of(with_server(cat("{auth_token_file: ", missing, "}"))) ==
        cat("config.yaml: server.auth_token_file: cannot read '", missing,
            "': No such file or directory"));
  CHECK(error_of(with_kafka(cat("{ssl.key.password_file: ", missing, "}"))) ==
        cat("config.yaml: sources[0].kafka.ssl.key.password_file: cannot read '", missing,
            "': No such file or directory"));
  CHECK(error_of(with_server(cat("{auth_token: a, auth_token_file: ", token, "}"))) ==
        "config.yaml: server.auth_token_file: give either auth_token or auth_token_file, not "
        "both");
  CHECK(error_of(with_server(cat("{auth_token_file: ", empty, "}"))) ==
        cat("config.yaml: server.auth_token_file: '", empty, "' is empty"));
  CHECK(error_of(with_server("{auth_token: \"\"}")) ==
        "config.yaml: server.auth_token: must not be empty");
  CHECK(error_of(with_kafka(cat("{sasl.password: x, sasl.password_file: ", password, "}"))) ==
        "config.yaml: sources[0].kafka.sasl.password_file: give either sasl.password or "
        "sasl.password_file, not both");
}

TEST_CASE("JSON configurations are accepted", "[config][unit]") {
  const std::string json = R"json({
	"state": {"dir": "/tmp/driftd", "checkpoint_interval": "2s"},
	"sources": [{"name": "web", "type": "http", "format": "kserve-v2", "queue_records": 10}],
	"models": [{
		"name": "m",
		"features": [{"name": "x", "pointer": "/x"},
		             {"name": "p", "pointer": "/out/0", "from": "prediction"}],
		"reference": {"file": "/r.csv"},
		"window": {"duration": "10m", "every": "1m"},
		"tests": {"ks": {}, "mmd": {"permutations": 200}},
		"p_value": 0.01
	}]
})json";
  const Config config = parse_config(json);
  CHECK(config.state.checkpoint_interval == std::chrono::seconds(2));
  CHECK(config.sources[0].format == drift::daemon::RecordFormat::kKserveV2);
  CHECK(config.sources[0].queue_records == 10);
  CHECK(config.models[0].window.every == std::chrono::minutes(1));
  CHECK(config.models[0].evaluation.mmd_permutations == 200);
  CHECK(config.models[0].profile.mmd.features == std::vector<std::string>{"x", "p"});
  CHECK(error_of(R"json({"state": {"dir": "/x", "chekpoint_interval": "2s"}})json") ==
        "config.yaml: state.chekpoint_interval: unknown key (did you mean 'checkpoint_interval'?)");
  CHECK(error_of("{\"state\": {\"dir\": \"/x\"},\n \"sources\": [}") ==
        "config.yaml: line 2, column 14: illegal flow end");
}

TEST_CASE("load_config names the file in every message", "[config][unit]") {
  const TempDir dir;
  const std::string path = dir.write("driftd.yaml", edit("size: 1000", "size: 0"));
  CHECK_THROWS_WITH(drift::daemon::load_config(path),
                    path + ": models[0].window.size: must be at least 1, got 0");
  CHECK_THROWS_WITH(
      drift::daemon::load_config(dir.path() + "/none.yaml"),
      detail::cat("cannot read '", dir.path(), "/none.yaml': No such file or directory"));
}

namespace {

/// kMinimal with `alerts` (text after "alerts:") added after the models.
std::string with_alerts(std::string_view alerts, std::string text = std::string(kMinimal)) {
  return text + "alerts:" + std::string(alerts) + "\n";
}

/// with_alerts for one webhook: `fields` completes "{name: hook, ".
std::string with_webhook(std::string_view fields) {
  return with_alerts(detail::cat("\n  webhooks:\n    - {name: hook, ", fields, "}"));
}

}  // namespace

TEST_CASE("Alerts and metrics parse to their settings", "[config][unit]") {
  using detail::cat;
  const TempDir dir;
  const std::string secret = dir.write("webhook-secret", "whsec_c2VjcmV0\n");
  // The issue's example, with an https URL: ca_file applies to https only.
  const std::string text = cat(R"yaml(state: {dir: /tmp/driftd}
sources:
  - {name: web, type: http}
alerts:
  policy: {consecutive: 2, resolve_after: 3, cooldown: 30m, on: [ks, psi, chi2, mmd], min_drifted_features: 1, min_drifted_share: 0.1}
  webhooks:
    - name: retrain
      url: https://127.0.0.1:2746/api/v1/workflows/ml/submit
      template: argo-workflows
      params: {workflow_template: retrain-fraud}
      secret_file: )yaml",
                               secret, R"yaml(
      headers: {X-Team: ml}
      timeout: 15s
      max_attempts: 8
      send_resolved: false
      ca_file: /etc/ssl/extra-ca.pem
    - {name: kfp, url: "http://kfp:8888/apis/v2beta1/runs", template: kubeflow-pipelines, params: {pipeline_id: p1, pipeline_version_id: v2}, timeout: 500ms, max_attempts: 1, send_resolved: true}
    - {name: tekton-listener, url: "http://el-drift:8080", template: tekton}
metrics:
  max_series_per_model: 500
models:
  - name: fraud
    alerts:
      policy: {consecutive: 3}
    features: [{name: x, pointer: /x}]
    reference: {bootstrap: 100}
    window: {size: 1000}
)yaml");
  const Config config = parse_config(text);
  const auto& policy = config.alerts.policy;
  CHECK(policy.consecutive == 2);
  CHECK(policy.resolve_after == 3);
  CHECK(policy.cooldown == std::chrono::minutes(30));
  CHECK(policy.on_ks);
  CHECK(policy.on_psi);
  CHECK(policy.on_chi2);
  CHECK(policy.on_mmd);
  CHECK(policy.min_drifted_features == 1);
  CHECK(policy.min_drifted_share == 0.1);

  REQUIRE(config.alerts.webhooks.size() == 3);
  const auto& retrain = config.alerts.webhooks[0];
  CHECK(retrain.name == "retrain");
  CHECK(retrain.url == "https://127.0.0.1:2746/api/v1/workflows/ml/submit");
  CHECK(retrain.template_name == "argo-workflows");
  CHECK(retrain.params ==
        std::map<std::string, std::string>{{"workflow_template", "retrain-fraud"}});
  CHECK(retrain.secret_file == secret);
  CHECK(retrain.secret == "whsec_c2VjcmV0");
  CHECK(retrain.headers == std::map<std::string, std::string>{{"X-Team", "ml"}});
  CHECK(retrain.timeout == std::chrono::seconds(15));
  CHECK(retrain.max_attempts == 8);
  CHECK_FALSE(retrain.send_resolved);
  CHECK(retrain.ca_file == "/etc/ssl/extra-ca.pem");
  const auto& kfp = config.alerts.webhooks[1];
  CHECK(kfp.template_name == "kubeflow-pipelines");
  CHECK(kfp.params.size() == 2);
  CHECK(kfp.timeout == std::chrono::milliseconds(500));
  CHECK(kfp.max_attempts == 1);
  CHECK(kfp.send_resolved);
  CHECK(kfp.secret_file.empty());
  CHECK(kfp.secret.empty());
  const drift::daemon::WebhookSettings webhook_defaults;
  const auto& tekton = config.alerts.webhooks[2];
  CHECK(tekton.template_name == "tekton");
  CHECK(tekton.params.empty());
  CHECK(tekton.headers.empty());
  CHECK(tekton.ca_file.empty());
  CHECK(tekton.timeout == webhook_defaults.timeout);
  CHECK(tekton.max_attempts == webhook_defaults.max_attempts);
  CHECK(tekton.send_resolved == webhook_defaults.send_resolved);
  CHECK(parse_config(with_webhook("url: \"http://h\"")).alerts.webhooks[0].template_name ==
        "generic");

  CHECK(config.metrics.max_series_per_model == 500);

  const auto& model = config.models.at(0).alert_policy;
  CHECK(model.consecutive == 3);
  CHECK(model.resolve_after == 3);
  CHECK(model.cooldown == std::chrono::minutes(30));
  CHECK(model.min_drifted_share == 0.1);
}

TEST_CASE("A model's alert policy overrides the keys it gives, in any order of the file",
          "[config][unit]") {
  const std::string models = std::string(kMinimal) + R"yaml(    alerts:
      policy: {consecutive: 3, on: [psi, mmd], min_drifted_features: 2}
  - name: other
    features: [{name: x, pointer: /x}]
    reference: {bootstrap: 100}
    window: {size: 1000}
  - name: same
    alerts: {policy: {consecutive: 2}}
    features: [{name: x, pointer: /x}]
    reference: {bootstrap: 100}
    window: {size: 1000}
)yaml";
  constexpr std::string_view kAlerts = R"yaml(alerts:
  policy:
    consecutive: 2
    resolve_after: 5
    cooldown: 1h
    on: [ks, chi2]
    min_drifted_share: 0.5
)yaml";
  // Models first, then alerts; and alerts first, then models.
  const Config after = parse_config(models + std::string(kAlerts));
  const Config before = parse_config(std::string(kAlerts) + models);
  for (const Config* config : {&after, &before}) {
    REQUIRE(config->models.size() == 3);
    const auto& given = config->models[0].alert_policy;
    CHECK(given.consecutive == 3);
    CHECK(given.resolve_after == 5);
    CHECK(given.cooldown == std::chrono::hours(1));
    CHECK_FALSE(given.on_ks);
    CHECK(given.on_psi);
    CHECK_FALSE(given.on_chi2);
    CHECK(given.on_mmd);
    CHECK(given.min_drifted_features == 2);
    CHECK(given.min_drifted_share == 0.5);
    for (const auto* policy : {&config->models[1].alert_policy, &config->models[2].alert_policy,
                               &config->alerts.policy}) {
      CHECK(policy->consecutive == 2);
      CHECK(policy->resolve_after == 5);
      CHECK(policy->cooldown == std::chrono::hours(1));
      CHECK(policy->on_ks);
      CHECK_FALSE(policy->on_psi);
      CHECK(policy->on_chi2);
      CHECK_FALSE(policy->on_mmd);
      CHECK(policy->min_drifted_features == 1);
      CHECK(policy->min_drifted_share == 0.5);
    }
  }
  // Without alerts, a model's keys go over the defaults.
  const Config alone = parse_config(edit("  - name: m\n", R"yaml(  - name: m
    alerts:
      policy: {cooldown: 10m, min_drifted_share: 1}
)yaml"));
  const drift::daemon::AlertPolicySettings defaults;
  CHECK(alone.models[0].alert_policy.cooldown == std::chrono::minutes(10));
  CHECK(alone.models[0].alert_policy.min_drifted_share == 1.0);
  CHECK(alone.models[0].alert_policy.consecutive == defaults.consecutive);
  CHECK(alone.alerts.policy.cooldown == defaults.cooldown);
  CHECK(alone.alerts.policy.min_drifted_share == defaults.min_drifted_share);
}

TEST_CASE("Alert policies are checked with their key paths", "[config][unit]") {
  const auto with_model_policy = [](std::string_view policy) {
    return edit("  - name: m\n",
                std::string("  - name: m\n    alerts: {policy: ") + std::string(policy) + "}\n");
  };
  CHECK(error_of(with_alerts(" {policy: {on: []}}")) ==
        "config.yaml: alerts.policy.on: must not be empty");
  CHECK(error_of(with_model_policy("{on: []}")) ==
        "config.yaml: models[0].alerts.policy.on: must not be empty");
  CHECK(error_of(with_alerts(" {policy: {on: [ks, kss]}}")) ==
        "config.yaml: alerts.policy.on[1]: must be one of ks, psi, chi2, mmd, got 'kss' (did you "
        "mean 'ks'?)");
  CHECK(error_of(with_model_policy("{on: [psi, psi]}")) ==
        "config.yaml: models[0].alerts.policy.on[1]: 'psi' is listed twice");
  CHECK(error_of(with_alerts(" {policy: {on: psi}}")) ==
        "config.yaml: alerts.policy.on: expected a list, got 'psi'");
  CHECK(error_of(with_alerts(" {policy: {min_drifted_share: 1.5}}")) ==
        "config.yaml: alerts.policy.min_drifted_share: must be between 0 and 1, got 1.5");
  CHECK(error_of(with_model_policy("{min_drifted_share: -0.1}")) ==
        "config.yaml: models[0].alerts.policy.min_drifted_share: must be between 0 and 1, got "
        "-0.1");
  CHECK(error_of(with_alerts(" {policy: {consecutive: 0}}")) ==
        "config.yaml: alerts.policy.consecutive: must be at least 1, got 0");
  CHECK(error_of(with_model_policy("{resolve_after: 0}")) ==
        "config.yaml: models[0].alerts.policy.resolve_after: must be at least 1, got 0");
  CHECK(error_of(with_alerts(" {policy: {min_drifted_features: 0}}")) ==
        "config.yaml: alerts.policy.min_drifted_features: must be at least 1, got 0");
  CHECK(error_of(with_alerts(" {policy: {cooldown: -1m}}")) ==
        "config.yaml: alerts.policy.cooldown: expected a duration such as 500ms, 5s, 1m, 2h or "
        "1h30m, got '-1m'");
  CHECK(error_of(with_model_policy("{consecutiv: 2}")) ==
        "config.yaml: models[0].alerts.policy.consecutiv: unknown key (did you mean "
        "'consecutive'?)");
  CHECK(error_of(edit("  - name: m\n", "  - name: m\n    alerts: {webhooks: []}\n")) ==
        "config.yaml: models[0].alerts.webhooks: unknown key (expected one of: policy)");
  CHECK(error_of(std::string(kMinimal) + "metrics: {max_series_per_model: 0}\n") ==
        "config.yaml: metrics.max_series_per_model: must be at least 1, got 0");
  // Large counts saturate rather than wrap.
  CHECK(
      parse_config(with_alerts(" {policy: {consecutive: 4294967297}}")).alerts.policy.consecutive ==
      UINT32_MAX);
}

TEST_CASE("Webhooks are checked with their key paths", "[config][unit]") {
  CHECK(error_of(with_webhook("url: \"http://h\", template: argo")) ==
        "config.yaml: alerts.webhooks[0].template: must be one of generic, argo-workflows, "
        "kubeflow-pipelines, tekton, got 'argo'");
  CHECK(error_of(with_alerts(R"yaml(
  webhooks:
    - {name: retrain, url: "http://a"}
    - {name: retrain, url: "http://b"})yaml")) ==
        "config.yaml: alerts.webhooks[1].name: duplicate name 'retrain' (also "
        "alerts.webhooks[0].name)");
  // Argo's workflow_template defaults to retrain-<model> (exporters/WEBHOOKS.md).
  CHECK_NOTHROW(drift::daemon::parse_config(
      with_webhook("url: \"http://argo:2746\", template: argo-workflows"), "config.yaml"));
  CHECK(error_of(with_webhook("url: \"http://kfp\", template: kubeflow-pipelines, params: "
                              "{pipeline_version_id: v1}")) ==
        "config.yaml: alerts.webhooks[0].params.pipeline_id: required when template is "
        "kubeflow-pipelines");
  CHECK(error_of(with_webhook("url: \"http://h\", ca_file: /etc/ssl/ca.pem")) ==
        "config.yaml: alerts.webhooks[0].ca_file: applies only to https:// URLs (not http://)");
  CHECK(error_of(with_webhook("url: \"http://h\", timeout: 0s")) ==
        "config.yaml: alerts.webhooks[0].timeout: must be greater than 0s, got 0s");
  CHECK(error_of(with_webhook("url: \"http://h\", timeout: 15")) ==
        "config.yaml: alerts.webhooks[0].timeout: a duration needs a unit (ms, s, m or h), got "
        "'15'");
  CHECK(error_of(with_webhook("url: \"http://h\", max_attempts: 0")) ==
        "config.yaml: alerts.webhooks[0].max_attempts: must be at least 1, got 0");
  CHECK(error_of(with_webhook("url: \"ftp://h/x\"")) ==
        "config.yaml: alerts.webhooks[0].url: expected an http:// or https:// URL with a host, "
        "got 'ftp://h/x'");
  CHECK(error_of(with_webhook("url: \"https:///submit\"")) ==
        "config.yaml: alerts.webhooks[0].url: expected an http:// or https:// URL with a host, "
        "got 'https:///submit'");
  CHECK(error_of(with_webhook("url: \"http://h/a b\"")) ==
        "config.yaml: alerts.webhooks[0].url: expected an http:// or https:// URL with a host, "
        "got 'http://h/a b'");
  CHECK(error_of(with_alerts("\n  webhooks:\n    - {name: hook}")) ==
        "config.yaml: alerts.webhooks[0].url: required");
  CHECK(error_of(with_webhook("url: \"http://h\", headers: {X Team: ml}")) ==
        "config.yaml: alerts.webhooks[0].headers.X Team: 'X Team' is not an HTTP header name");
  CHECK(error_of(with_webhook("url: \"http://h\", headers: {X-Team: \"a\\r\\nHost: b\"}")) ==
        "config.yaml: alerts.webhooks[0].headers.X-Team: must not contain line breaks");
  CHECK(error_of(with_webhook("url: \"http://h\", params: {a: [1]}")) ==
        "config.yaml: alerts.webhooks[0].params.a: expected a scalar value, got a list");
  CHECK(error_of(with_webhook("url: \"http://h\", name2: x")) ==
        "config.yaml: alerts.webhooks[0].name2: unknown key (did you mean 'name'?)");
  CHECK(error_of(with_alerts(" {webhooks: {name: hook}}")) ==
        "config.yaml: alerts.webhooks: expected a list of mappings, got a mapping");
  CHECK(parse_config(with_alerts(" {webhooks: []}")).alerts.webhooks.empty());
  CHECK(parse_config(with_webhook("url: \"https://h\", ca_file: /ca.pem"))
            .alerts.webhooks[0]
            .ca_file == "/ca.pem");
}

TEST_CASE("A webhook's secret file loses one trailing newline", "[config][unit]") {
  using detail::cat;
  const TempDir dir;
  const auto secret_of = [&](const std::string& content) {
    const std::string file = dir.write("secret", content);
    return parse_config(with_webhook(cat("url: \"http://h\", secret_file: ", file)))
        .alerts.webhooks[0]
        .secret;
  };
  CHECK(secret_of("s3cret") == "s3cret");
  CHECK(secret_of("s3cret\n") == "s3cret");
  CHECK(secret_of("s3cret\r\n") == "s3cret");
  CHECK(secret_of("s3cret\n\n") == "s3cret\n");
  CHECK(secret_of(" s3cret \r") == " s3cret \r");

  const std::string missing = cat(dir.path(), "/missing");
  CHECK(error_of(with_webhook(cat("url: \"http://h\", secret_file: ", missing))) ==
        cat("config.yaml: alerts.webhooks[0].secret_file: cannot read '", missing,
            "': No such file or directory"));
  CHECK(error_of(with_webhook(cat("url: \"http://h\", secret_file: ", dir.path()))) ==
        cat("config.yaml: alerts.webhooks[0].secret_file: cannot read '", dir.path(),
            "': it is a directory"));
  const std::string empty = dir.write("empty", "");
  CHECK(error_of(with_webhook(cat("url: \"http://h\", secret_file: ", empty))) ==
        cat("config.yaml: alerts.webhooks[0].secret_file: '", empty, "' is empty"));
  const std::string newline = dir.write("newline", "\n");
  CHECK(error_of(with_webhook(cat("url: \"http://h\", secret_file: ", newline))) ==
        cat("config.yaml: alerts.webhooks[0].secret_file: '", newline, "' is empty"));
  CHECK(error_of(with_webhook("url: \"http://h\", secret_file: \"\"")) ==
        "config.yaml: alerts.webhooks[0].secret_file: must not be empty");
}

TEST_CASE("A model's alert policy keys mirror those of alerts.policy", "[config][unit]") {
  const auto defaults = detail::children_of("alerts.policy");
  const auto overrides = detail::children_of("models[].alerts.policy");
  REQUIRE(defaults.size() == overrides.size());
  for (std::size_t i = 0; i < defaults.size(); ++i) {
    INFO(overrides[i]->path);
    CHECK(overrides[i]->name() == defaults[i]->name());
    CHECK(overrides[i]->type == defaults[i]->type);
    CHECK(overrides[i]->choices == defaults[i]->choices);
    CHECK(overrides[i]->min == defaults[i]->min);
    CHECK(overrides[i]->max == defaults[i]->max);
    CHECK(overrides[i]->apply == defaults[i]->apply);
    CHECK(overrides[i]->fallback.empty());
    CHECK_FALSE((defaults[i]->shown.empty() && defaults[i]->fallback.empty()));
  }
}

TEST_CASE("Every schema key has a type, a doc line and a destination", "[config][unit]") {
  for (const auto& key : detail::schema()) {
    INFO(key.path);
    CHECK_FALSE(key.doc.empty());
    const bool secret = !key.secret_for.empty();
    const bool plain_section = key.type == detail::KeyType::kSection;
    if (!secret && !plain_section) CHECK(key.apply != nullptr);
    if (!key.parent().empty()) {
      const std::string_view parent = key.parent();
      const std::string_view owner =
          parent.ends_with("[]") ? parent.substr(0, parent.size() - 2) : parent;
      CHECK(detail::find_key(owner) != nullptr);
    }
  }
}

TEST_CASE("CONFIGURATION.md is the generated configuration reference", "[config][unit]") {
  const std::string generated = drift::daemon::configuration_reference();
  const std::string committed = read_text(kReferencePath);
  INFO(
      "daemon/CONFIGURATION.md is out of date; regenerate it with\n"
      "  build/daemon/driftd config-reference > daemon/CONFIGURATION.md");
  CHECK(committed == generated);
}

TEST_CASE("The example in the configuration reference is valid", "[config][unit]") {
  const std::string reference = drift::daemon::configuration_reference();
  const std::size_t start = reference.find("```yaml\n");
  REQUIRE(start != std::string::npos);
  const std::size_t end = reference.find("```\n", start + 8);
  REQUIRE(end != std::string::npos);
  const Config config = parse_config(reference.substr(start + 8, end - start - 8));
  CHECK(config.models.size() == 2);
}

TEST_CASE("validate-config reports ok, the first problem, or a usage error", "[config][unit]") {
  const TempDir dir;
  const std::string good = dir.write("good.yaml", std::string(kMinimal));
  const std::string bad = dir.write("bad.yaml", edit("size: 1000", "size: 10, slide: 20"));
  const auto run = [](std::vector<std::string_view> args, std::string& out, std::string& err) {
    std::ostringstream o;
    std::ostringstream e;
    const int code = drift::daemon::validate_config_main(args, o, e);
    out = o.str();
    err = e.str();
    return code;
  };
  std::string out;
  std::string err;
  CHECK(run({good}, out, err) == 0);
  CHECK(out == good + ": ok (1 source, 1 model)\n");
  CHECK(err.empty());
  CHECK(run({kDataDir + "/example.yaml"}, out, err) == 0);
  CHECK(out == kDataDir + "/example.yaml: ok (3 sources, 1 model)\n");
  CHECK(run({bad}, out, err) == 1);
  CHECK(out.empty());
  CHECK(err == detail::cat("driftd validate-config: ", bad,
                           ": models[0].window.slide: must not exceed window.size (10)\n"));
  CHECK(run({}, out, err) == 2);
  CHECK(err.starts_with("driftd validate-config: expected a FILE\nusage: "));
  CHECK(run({good, bad}, out, err) == 2);
  CHECK(run({"--strict"}, out, err) == 2);
  CHECK(run({"--help"}, out, err) == 0);
  CHECK(out.starts_with("usage: driftd validate-config FILE"));
}

TEST_CASE("config-reference prints the reference", "[config][unit]") {
  std::ostringstream out;
  std::ostringstream err;
  CHECK(drift::daemon::config_reference_main({}, out, err) == 0);
  CHECK(out.str() == drift::daemon::configuration_reference());
  const std::vector<std::string_view> extra{"x"};
  CHECK(drift::daemon::config_reference_main(extra, out, err) == 2);
}
