#include "config/config_schema.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <stdexcept>

#include "config/config_values.h"

namespace drift::daemon::config_detail {

namespace {

std::string check_listen(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  const std::string_view host = colon == std::string_view::npos ? "" : text.substr(0, colon);
  const std::string_view port = colon == std::string_view::npos ? "" : text.substr(colon + 1);
  bool valid = !host.empty() && !port.empty() && port.size() <= 5 &&
               std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (valid) valid = std::stoul(std::string(port)) <= 65535;
  if (valid && host.front() == '[') valid = host.size() > 2 && host.back() == ']';
  if (valid && host.front() != '[') valid = host.find(':') == std::string_view::npos;
  if (valid) return {};
  return cat("expected host:port (such as 127.0.0.1:9108, 0.0.0.0:9108 or [::1]:9108), got '", text,
             "'");
}

std::string check_header(std::string_view text) {
  // RFC 9110 token characters.
  static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  const bool valid = std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           kSymbols.find(c) != std::string_view::npos;
  });
  if (valid) return {};
  return cat("'", text, "' is not an HTTP header name");
}

/// An http:// or https:// URL with a host, without spaces or control characters.
std::string check_url(std::string_view text) {
  const std::size_t scheme = text.starts_with("http://") ? 7 : text.starts_with("https://") ? 8 : 0;
  const std::size_t host_end = text.find_first_of("/?#", scheme);
  const bool valid = scheme > 0 && host_end != scheme && scheme < text.size() &&
                     std::all_of(text.begin(), text.end(), [](char c) {
                       const auto u = static_cast<unsigned char>(c);
                       return u > 32 && u < 127;
                     });
  if (valid) return {};
  return cat("expected an http:// or https:// URL with a host, got '", text, "'");
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  return out;
}

SourceType source_type(std::string_view text) {
  if (text == "kafka") return SourceType::kKafka;
  if (text == "file") return SourceType::kFile;
  return SourceType::kHttp;
}

RecordFormat record_format(std::string_view text) {
  if (text == "kserve-v1") return RecordFormat::kKserveV1;
  if (text == "kserve-v2") return RecordFormat::kKserveV2;
  return RecordFormat::kFlat;
}

KsMethod ks_method(std::string_view text) {
  if (text == "exact") return KsMethod::kExact;
  if (text == "asymp") return KsMethod::kAsymp;
  return KsMethod::kAuto;
}

Correction correction(std::string_view text) {
  if (text == "none") return Correction::kNone;
  if (text == "fdr") return Correction::kFdr;
  return Correction::kBonferroni;
}

/// Where an alert policy key lands: alerts.policy, or while a model is read, the model's policy
/// (which the parser lays over alerts.policy once the whole file is read).
AlertPolicySettings& policy_of(Target& t) {
  return t.model != nullptr ? t.model->alert_policy : t.config->alerts.policy;
}

/// A count as a 32-bit setting; larger counts saturate (a streak that long never completes).
std::uint32_t narrow(std::uint64_t count) {
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(count, UINT32_MAX));
}

bool listed(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

using T = KeyType;

/// The keys of an alert policy, at alerts.policy with their defaults.
std::vector<Key> policy_keys() {
  std::vector<Key> keys;
  const auto add = [&keys](const Key& key) { keys.push_back(key); };
  add(Key("alerts.policy.consecutive", T::kInt)
          .def("1")
          .at_least(1)
          .to([](Target& t, const Value& v) { policy_of(t).consecutive = narrow(v.count); })
          .about("Drifting evaluations in a row before the alert fires."));
  add(Key("alerts.policy.resolve_after", T::kInt)
          .def("1")
          .at_least(1)
          .to([](Target& t, const Value& v) { policy_of(t).resolve_after = narrow(v.count); })
          .about("Clean evaluations in a row before a firing alert resolves."));
  add(Key("alerts.policy.cooldown", T::kDuration)
          .def("0s")
          .to([](Target& t, const Value& v) { policy_of(t).cooldown = v.duration; })
          .about("Least time from one firing to the next; 0s = none."));
  add(Key("alerts.policy.on", T::kList)
          .show("ks, psi, chi2, mmd")
          .one_of("ks|psi|chi2|mmd")
          .at_least(1)
          .distinct()
          .to([](Target& t, const Value& v) {
            AlertPolicySettings& policy = policy_of(t);
            policy.on_ks = listed(v.list, "ks");
            policy.on_psi = listed(v.list, "psi");
            policy.on_chi2 = listed(v.list, "chi2");
            policy.on_mmd = listed(v.list, "mmd");
          })
          .about("The tests whose drift counts; the others (and tests that did not run) are "
                 "ignored."));
  add(Key("alerts.policy.min_drifted_features", T::kInt)
          .def("1")
          .at_least(1)
          .to([](Target& t, const Value& v) {
            policy_of(t).min_drifted_features = narrow(v.count);
          })
          .about("Fewest features drifting by a counted test for an evaluation to drift; a "
                 "drifting MMD test makes it drift on its own."));
  add(Key("alerts.policy.min_drifted_share", T::kNumber)
          .def("0")
          .at_least(0)
          .at_most(1)
          .to([](Target& t, const Value& v) { policy_of(t).min_drifted_share = v.number; })
          .about("Smallest share of the features (of those with a counted test) that must "
                 "drift, in addition to `min_drifted_features`."));
  return keys;
}

/// A model's copy of the alerts.policy key of the same name (`path` is
/// models[].alerts.policy.<name>): the same type, bounds and destination, no default of its own.
Key model_policy_key(const std::vector<Key>& policy, std::string_view path) {
  const std::string_view name = path.substr(path.rfind('.') + 1);
  const auto it = std::find_if(policy.begin(), policy.end(),
                               [&](const Key& key) { return key.name() == name; });
  if (it == policy.end()) throw std::logic_error(cat("config schema: no alerts.policy.", name));
  Key key = *it;
  key.path = path;
  key.fallback = {};
  key.shown = "from `alerts.policy`";
  return key;
}

std::vector<Key> build_schema() {
  std::vector<Key> keys;
  const auto add = [&keys](const Key& key) { keys.push_back(key); };
  const std::vector<Key> policy = policy_keys();

  // ---- server
  add(Key("server", T::kSection)
          .about("The HTTP server: health, status, models, control and HTTP ingest "
                 "(`/v1/ingest/<source>`)."));
  add(Key("server.listen", T::kString)
          .def("127.0.0.1:9108")
          .checked(check_listen)
          .to([](Target& t, const Value& v) { t.config->server.listen = v.text; })
          .about("Address to listen on, `host:port`; port 0 picks a free port."));
  add(Key("server.auth_token", T::kString)
          .show("none")
          .to([](Target& t, const Value& v) { t.config->server.auth_token = v.text; })
          .about("Bearer token required on ingest and control requests; omit for no "
                 "authentication."));
  add(Key("server.auth_token_file", T::kString)
          .secret_of("auth_token")
          .about("Reads `auth_token` from this file (trailing newlines stripped); give one of "
                 "the two."));
  add(Key("server.max_body_bytes", T::kSize)
          .def("16MiB")
          .at_least(1)
          .to([](Target& t, const Value& v) { t.config->server.max_body_bytes = v.count; })
          .about("Largest HTTP request body accepted; larger requests get 413."));
  add(Key("server.shutdown_timeout", T::kDuration)
          .def("10s")
          .to([](Target& t, const Value& v) { t.config->server.shutdown_timeout = v.duration; })
          .about("How long a shutdown waits for in-flight requests."));
  add(Key("server.ready_requires", T::kList)
          .show("none")
          .one_of("sources|references")
          .distinct()
          .to([](Target& t, const Value& v) { t.config->server.ready_requires = v.list; })
          .about("Extra readiness conditions: `sources` (every source connected), `references` "
                 "(every model has its reference). Empty: ready once listening."));

  // ---- state
  add(Key("state", T::kSection)
          .needed()
          .about("Where driftd keeps checkpoints (windows, references, source positions) and "
                 "bootstrapped references."));
  add(Key("state.dir", T::kString)
          .needed()
          .to([](Target& t, const Value& v) { t.config->state.dir = v.text; })
          .about("Directory of checkpoints, the write-ahead log and bootstrapped references."));
  add(Key("state.checkpoint_interval", T::kDuration)
          .def("5s")
          .at_least(100)
          .to([](Target& t, const Value& v) { t.config->state.checkpoint_interval = v.duration; })
          .about("Time between checkpoints; Kafka offsets are committed only once a checkpoint "
                 "covers them."));

  // ---- backend, gpu
  add(Key("backend", T::kEnum)
          .def("auto")
          .one_of("auto|cpu|gpu")
          .to([](Target& t, const Value& v) { t.config->backend = v.text; })
          .about("Compute backend: `auto` uses the GPU when one is usable, else the CPU."));
  add(Key("gpu", T::kSection).about("Settings of the GPU backend."));
  add(Key("gpu.device", T::kInt)
          .def("0")
          .at_most(1023)
          .to([](Target& t, const Value& v) { t.config->gpu.device = static_cast<int>(v.count); })
          .about("CUDA device ordinal."));
  add(Key("gpu.memory_limit", T::kSize)
          .def("0")
          .to([](Target& t, const Value& v) { t.config->gpu.memory_limit = v.count; })
          .about("Device memory driftd may use; 0 = no limit."));

  // ---- sources
  add(Key("sources", T::kSectionList)
          .needed()
          .at_least(1)
          .to([](Target& t, const Value&) { t.source = &t.config->sources.emplace_back(); })
          .about("Where prediction logs come from: Kafka topics, HTTP ingest, tailed files. At "
                 "least one."));
  add(Key("sources[].name", T::kName)
          .needed()
          .distinct()
          .to([](Target& t, const Value& v) { t.source->name = v.text; })
          .about("Unique source name; HTTP sources receive records at `/v1/ingest/<name>`."));
  add(Key("sources[].type", T::kEnum)
          .needed()
          .one_of("kafka|http|file")
          .selects()
          .to([](Target& t, const Value& v) { t.source->type = source_type(v.text); })
          .about("Kind of source; decides which of the keys below apply."));
  add(Key("sources[].format", T::kEnum)
          .def("flat")
          .one_of("flat|kserve-v1|kserve-v2")
          .to([](Target& t, const Value& v) { t.source->format = record_format(v.text); })
          .about("Record format: `flat` JSON objects, or KServe v1 / v2 (Open Inference "
                 "Protocol) request/response logs."));
  add(Key("sources[].brokers", T::kString)
          .needed()
          .when("kafka")
          .to([](Target& t, const Value& v) { t.source->brokers = v.text; })
          .about("Bootstrap brokers, `host:port[,host:port...]`."));
  add(Key("sources[].topics", T::kList)
          .needed()
          .when("kafka")
          .at_least(1)
          .distinct()
          .to([](Target& t, const Value& v) { t.source->topics = v.list; })
          .about("Topics to consume."));
  add(Key("sources[].group_id", T::kString)
          .needed()
          .when("kafka")
          .to([](Target& t, const Value& v) { t.source->group_id = v.text; })
          .about("Consumer group; replicas in one group split the partitions."));
  add(Key("sources[].kafka", T::kMap)
          .show("none")
          .when("kafka")
          .file_keys()
          .to([](Target& t, const Value& v) { t.source->kafka = v.map; })
          .about("librdkafka properties passed through (values as text); `<property>_file: "
                 "path` reads the property from a file. `bootstrap.servers`, "
                 "`metadata.broker.list`, `group.id` and `enable.auto.offset.store` are "
                 "driftd's own."));
  add(Key("sources[].dead_letter_topic", T::kString)
          .show("none")
          .when("kafka")
          .may_be_empty()
          .to([](Target& t, const Value& v) { t.source->dead_letter_topic = v.text; })
          .about("Topic that receives rejected records; not one of `topics`."));
  add(Key("sources[].path", T::kString)
          .needed()
          .when("file")
          .to([](Target& t, const Value& v) { t.source->path = v.text; })
          .about("JSON-lines file to tail."));
  add(Key("sources[].poll_interval", T::kDuration)
          .def("200ms")
          .when("file")
          .at_least(1)
          .to([](Target& t, const Value& v) { t.source->poll_interval = v.duration; })
          .about("How often the file is checked for new lines."));
  add(Key("sources[].queue_records", T::kInt)
          .def("100000")
          .when("http")
          .at_least(1)
          .to([](Target& t, const Value& v) { t.source->queue_records = v.count; })
          .about("Records buffered before ingest requests get 503."));
  add(Key("sources[].join_ttl", T::kDuration)
          .def("1m")
          .when("http")
          .at_least(1)
          .to([](Target& t, const Value& v) { t.source->join_ttl = v.duration; })
          .about("CloudEvents request/response join: how long one half waits for its "
                 "partner."));

  // ---- models
  add(Key("models", T::kSectionList)
          .needed()
          .at_least(1)
          .to([](Target& t, const Value&) { t.model = &t.config->models.emplace_back(); })
          .about("The models to monitor. At least one."));
  add(Key("models[].name", T::kName)
          .needed()
          .distinct()
          .to([](Target& t, const Value& v) { t.model->name = v.text; })
          .about("Unique model name; appears in URLs and metric labels."));
  add(Key("models[].sources", T::kList)
          .show("all sources")
          .at_least(1)
          .distinct()
          .to([](Target& t, const Value& v) { t.model->sources = v.list; })
          .about("Names of the sources feeding this model."));
  add(Key("models[].match", T::kSection)
          .show("every record")
          .one_form()
          .about("Which records of the sources belong to this model: `{pointer, equals}` or "
                 "`{header, equals}`."));
  add(Key("models[].match.pointer", T::kPointer)
          .in_form("pointer")
          .to([](Target& t, const Value& v) {
            t.model->match.kind = MatchRule::Kind::kPointer;
            t.model->match.key = v.text;
          })
          .about("JSON pointer into the record whose value selects the model."));
  add(Key("models[].match.header", T::kString)
          .in_form("header")
          .checked(check_header)
          .to([](Target& t, const Value& v) {
            t.model->match.kind = MatchRule::Kind::kHeader;
            t.model->match.key = lower(v.text);
          })
          .about("Header (HTTP or Kafka) whose value selects the model; the name is "
                 "case-insensitive."));
  add(Key("models[].match.equals", T::kString)
          .needed()
          .may_be_empty()
          .to([](Target& t, const Value& v) { t.model->match.equals = v.text; })
          .about("The value that selects the model (compared as text)."));
  add(Key("models[].timestamp", T::kPointer)
          .show("arrival time")
          .to([](Target& t, const Value& v) { t.model->timestamp_pointer = v.text; })
          .about("JSON pointer to the record time: epoch seconds, epoch milliseconds or RFC "
                 "3339."));
  add(Key("models[].version", T::kPointer)
          .show("none")
          .to([](Target& t, const Value& v) { t.model->version_pointer = v.text; })
          .about("JSON pointer to the model version: when it changes, the window starts empty "
                 "and a bootstrapped reference is bootstrapped again from the new version's "
                 "rows."));
  add(Key("models[].features", T::kSectionList)
          .needed()
          .at_least(1)
          .to([](Target& t, const Value&) { t.feature = &t.model->features.emplace_back(); })
          .about("The features (inputs and predictions) to test. At least one."));
  add(Key("models[].features[].name", T::kString)
          .needed()
          .distinct()
          .to([](Target& t, const Value& v) { t.feature->name = v.text; })
          .about("Unique feature name within the model; names the reference file's column."));
  add(Key("models[].features[].pointer", T::kPointer)
          .needed()
          .may_be_empty()
          .to([](Target& t, const Value& v) { t.feature->pointer = v.text; })
          .about("JSON pointer to the value: into the record (flat), the row (kserve-v1, `\"\"` "
                 "= the whole row) or `/<tensor>/<index>` (kserve-v2)."));
  add(Key("models[].features[].type", T::kEnum)
          .def("numeric")
          .one_of("numeric|categorical")
          .to([](Target& t, const Value& v) {
            t.feature->kind =
                v.text == "categorical" ? FeatureKind::kCategorical : FeatureKind::kNumeric;
          })
          .about("`numeric` (KS, PSI, MMD) or `categorical` (chi-square, PSI)."));
  add(Key("models[].features[].from", T::kEnum)
          .def("record")
          .one_of("record|prediction")
          .to([](Target& t, const Value& v) {
            t.feature->from =
                v.text == "prediction" ? FeatureOrigin::kPrediction : FeatureOrigin::kRecord;
          })
          .about("KServe formats: the request row (`record`) or the response row "
                 "(`prediction`); needs a kserve source."));
  add(Key("models[].reference", T::kSection)
          .needed()
          .one_form()
          .about("What the current window is compared with: `{file}` or `{bootstrap}`."));
  add(Key("models[].reference.file", T::kString)
          .in_form("file")
          .to([](Target& t, const Value& v) { t.model->reference.file = v.text; })
          .about("CSV, JSON-lines or a profile saved by `driftd check --save-profile`."));
  add(Key("models[].reference.bootstrap", T::kInt)
          .in_form("bootstrap")
          .at_least(1)
          .to([](Target& t, const Value& v) { t.model->reference.bootstrap = v.count; })
          .about("The first N rows of the stream become the reference (at least "
                 "`window.min_rows`)."));
  add(Key("models[].window", T::kSection)
          .needed()
          .one_form()
          .about("The current window: a count window `{size, slide}` or a time window "
                 "`{duration, every}`."));
  add(Key("models[].window.size", T::kInt)
          .in_form("size")
          .at_least(1)
          .to([](Target& t, const Value& v) { t.model->window.size = v.count; })
          .about("Count window: the last N rows."));
  add(Key("models[].window.slide", T::kInt)
          .show("`size`")
          .in_form("size")
          .at_least(1)
          .to([](Target& t, const Value& v) { t.model->window.slide = v.count; })
          .about("Count window: rows between evaluations, at most `size` (`size` = tumbling)."));
  add(Key("models[].window.duration", T::kDuration)
          .in_form("duration")
          .at_least(1)
          .to([](Target& t, const Value& v) { t.model->window.duration = v.duration; })
          .about("Time window: the rows of the last span of time."));
  add(Key("models[].window.every", T::kDuration)
          .show("`duration`")
          .in_form("duration")
          .at_least(1)
          .to([](Target& t, const Value& v) { t.model->window.every = v.duration; })
          .about("Time window: time between evaluations, at most `duration`."));
  add(Key("models[].window.min_rows", T::kInt)
          .def("1")
          .at_least(1)
          .to([](Target& t, const Value& v) {
            t.model->window.min_rows = v.count;
            t.model->evaluation.min_rows = v.count;
          })
          .about("Fewest rows an evaluation needs, in the window and (non-missing) per "
                 "feature; at most `size`."));
  add(Key("models[].tests", T::kSection)
          .show("ks, psi, chi2")
          .to([](Target& t, const Value&) {
            t.model->evaluation.tests = TestSelection{false, false, false, false};
          })
          .about("The tests to run: a test listed here is enabled (`chi2: {}` enables it with "
                 "defaults). Without `tests`, KS, PSI and chi-square run."));
  add(Key("models[].tests.ks", T::kSection)
          .to([](Target& t, const Value&) { t.model->evaluation.tests.ks = true; })
          .about("Kolmogorov-Smirnov test on numeric features."));
  add(Key("models[].tests.ks.method", T::kEnum)
          .def("auto")
          .one_of("auto|exact|asymp")
          .to([](Target& t, const Value& v) { t.model->evaluation.ks_method = ks_method(v.text); })
          .about("p-value method, as scipy's `ks_2samp`."));
  add(Key("models[].tests.ks.min_effect", T::kNumber)
          .def("0")
          .at_least(0)
          .at_most(1)
          .to([](Target& t, const Value& v) { t.model->evaluation.min_effect.ks = v.number; })
          .about("Smallest KS statistic D that counts as drift."));
  add(Key("models[].tests.psi", T::kSection)
          .to([](Target& t, const Value&) { t.model->evaluation.tests.psi = true; })
          .about("Population stability index on every feature."));
  add(Key("models[].tests.psi.bins", T::kInt)
          .def("10")
          .at_least(2)
          .at_most(1000)
          .to([](Target& t, const Value& v) {
            t.model->profile.psi_bins = static_cast<int>(v.count);
          })
          .about("Quantile bins of numeric features."));
  add(Key("models[].tests.psi.binning", T::kEnum)
          .def("quantile")
          .one_of("quantile|evidently")
          .to([](Target& t, const Value& v) {
            t.model->evaluation.psi_binning =
                v.text == "evidently" ? PsiBinning::kEvidently : PsiBinning::kQuantile;
          })
          .about("Numeric binning: reference quantiles, or Evidently's (Sturges bins over both "
                 "samples)."));
  add(Key("models[].tests.psi.threshold", T::kNumber)
          .def("0.2")
          .above(0)
          .to([](Target& t, const Value& v) { t.model->evaluation.psi_threshold = v.number; })
          .about("PSI at or above this is drift."));
  add(Key("models[].tests.chi2", T::kSection)
          .to([](Target& t, const Value&) { t.model->evaluation.tests.chi2 = true; })
          .about("Chi-square test on categorical features."));
  add(Key("models[].tests.chi2.min_effect", T::kNumber)
          .def("0")
          .at_least(0)
          .at_most(1)
          .to([](Target& t, const Value& v) { t.model->evaluation.min_effect.chi2 = v.number; })
          .about("Smallest Cramér's V that counts as drift."));
  add(Key("models[].tests.mmd", T::kSection)
          .to([](Target& t, const Value&) {
            t.model->evaluation.tests.mmd = true;
            t.model->profile.build_mmd = true;
          })
          .about("Multivariate MMD permutation test over numeric features."));
  add(Key("models[].tests.mmd.features", T::kList)
          .show("all numeric features")
          .at_least(1)
          .distinct()
          .to([](Target& t, const Value& v) { t.model->profile.mmd.features = v.list; })
          .about("Numeric features of this model that the test uses."));
  add(Key("models[].tests.mmd.permutations", T::kInt)
          .def("1000")
          .at_least(1)
          .to([](Target& t, const Value& v) { t.model->evaluation.mmd_permutations = v.count; })
          .about("Permutations of the test; the smallest p-value is 1/(permutations+1)."));
  add(Key("models[].tests.mmd.max_rows", T::kInt)
          .def("10000")
          .at_least(2)
          .to([](Target& t, const Value& v) { t.model->profile.mmd.max_rows = v.count; })
          .about("Rows per side; larger samples are subsampled with the seed."));
  add(Key("models[].tests.mmd.sigma", T::kSigma)
          .def("median")
          .one_of("median")
          .above(0)
          .to([](Target& t, const Value& v) {
            t.model->profile.mmd.sigma = v.flag ? std::nullopt : std::optional<double>(v.number);
          })
          .about("Gaussian kernel bandwidth: `median` (median heuristic) or a number."));
  add(Key("models[].tests.mmd.sigma_rows", T::kInt)
          .def("4000")
          .at_least(2)
          .to([](Target& t, const Value& v) { t.model->profile.mmd.sigma_rows = v.count; })
          .about("Reference rows the median heuristic uses."));
  add(Key("models[].tests.mmd.standardize", T::kBool)
          .def("true")
          .to([](Target& t, const Value& v) { t.model->profile.mmd.standardize = v.flag; })
          .about("Center and scale features by the reference mean and standard deviation."));
  add(Key("models[].tests.mmd.min_effect", T::kNumber)
          .def("0")
          .at_least(0)
          .to([](Target& t, const Value& v) { t.model->evaluation.min_effect.mmd = v.number; })
          .about("Smallest MMD² that counts as drift."));
  add(Key("models[].p_value", T::kNumber)
          .def("0.05")
          .above(0)
          .below(1)
          .to([](Target& t, const Value& v) { t.model->evaluation.alpha = v.number; })
          .about("Significance level of the p-value tests (KS, chi-square, MMD)."));
  add(Key("models[].correction", T::kEnum)
          .def("bonferroni")
          .one_of("none|bonferroni|fdr")
          .to([](Target& t, const Value& v) {
            t.model->evaluation.correction = correction(v.text);
          })
          .about("Multiple-testing correction across the model's p-value tests."));
  add(Key("models[].seed", T::kInt)
          .def("0")
          .to([](Target& t, const Value& v) {
            t.model->evaluation.seed = v.count;
            t.model->profile.mmd.seed = v.count;
          })
          .about("Seed of MMD permutations and subsamples; equal seeds give equal results."));
  add(Key("models[].alerts", T::kSection).about("This model's alerting."));
  add(Key("models[].alerts.policy", T::kSection)
          .show("`alerts.policy`")
          .over("alerts.policy")
          .about("This model's alert policy: each key given replaces the one of `alerts.policy`, "
                 "the others come from `alerts.policy` (wherever it is in the file)."));
  for (const std::string_view path :
       {"models[].alerts.policy.consecutive", "models[].alerts.policy.resolve_after",
        "models[].alerts.policy.cooldown", "models[].alerts.policy.on",
        "models[].alerts.policy.min_drifted_features",
        "models[].alerts.policy.min_drifted_share"}) {
    add(model_policy_key(policy, path));
  }

  // ---- alerts
  add(Key("alerts", T::kSection)
          .about("When a model's drift fires an alert, and the webhooks (retraining pipelines) "
                 "that receive its events."));
  add(Key("alerts.policy", T::kSection)
          .about("The alert policy of every model; a model's `alerts.policy` overrides single "
                 "keys. An evaluation drifts when enough features drift; the alert fires after "
                 "`consecutive` drifting evaluations and resolves after `resolve_after` clean "
                 "ones."));
  for (const Key& key : policy) add(key);
  add(Key("alerts.daemon_url", T::kString)
          .show("none")
          .checked(check_url)
          .to([](Target& t, const Value& v) { t.config->alerts.daemon_url = v.text; })
          .about("driftd's URL as receivers can reach it (such as "
                 "`http://driftd.monitoring:9108`); events then link to its `/v1/models` and "
                 "the model's window."));
  add(Key("alerts.webhooks", T::kSectionList)
          .show("none")
          .to([](Target& t, const Value&) {
            t.webhook = &t.config->alerts.webhooks.emplace_back();
          })
          .about("Receivers of the alerts' FIRING (and RESOLVED) events, such as retraining "
                 "pipelines."));
  add(Key("alerts.webhooks[].name", T::kName)
          .needed()
          .distinct()
          .to([](Target& t, const Value& v) { t.webhook->name = v.text; })
          .about("Unique webhook name; appears in metric labels."));
  add(Key("alerts.webhooks[].url", T::kString)
          .needed()
          .checked(check_url)
          .to([](Target& t, const Value& v) { t.webhook->url = v.text; })
          .about("Where events are posted: an `http://` or `https://` URL."));
  add(Key("alerts.webhooks[].template", T::kEnum)
          .def("generic")
          .one_of("generic|argo-workflows|kubeflow-pipelines|tekton")
          .to([](Target& t, const Value& v) { t.webhook->template_name = v.text; })
          .about("Request body: the event JSON (`generic`, `tekton`), an Argo Workflows submit "
                 "request or a Kubeflow Pipelines run."));
  add(Key("alerts.webhooks[].params", T::kMap)
          .show("none")
          .to([](Target& t, const Value& v) { t.webhook->params = v.map; })
          .about("Template parameters (exporters/WEBHOOKS.md): `argo-workflows` takes "
                 "`workflow_template` (default `retrain-<model>`), `namespace`, `parameters`...; "
                 "`kubeflow-pipelines` needs `pipeline_id` (`pipeline_version_id` is optional)."));
  add(Key("alerts.webhooks[].secret_file", T::kString)
          .show("none")
          .to([](Target& t, const Value& v) { t.webhook->secret_file = v.text; })
          .about("File holding the secret that signs requests, read at start-up without one "
                 "trailing newline; omit for unsigned requests."));
  add(Key("alerts.webhooks[].headers", T::kMap)
          .show("none")
          .checked(check_header)
          .to([](Target& t, const Value& v) { t.webhook->headers = v.map; })
          .about("Extra request headers (such as `Authorization`)."));
  add(Key("alerts.webhooks[].timeout", T::kDuration)
          .def("15s")
          .above(0)
          .to([](Target& t, const Value& v) { t.webhook->timeout = v.duration; })
          .about("Time limit of one attempt: connect, TLS, write and read."));
  add(Key("alerts.webhooks[].max_attempts", T::kInt)
          .def("8")
          .at_least(1)
          .to([](Target& t, const Value& v) { t.webhook->max_attempts = narrow(v.count); })
          .about("Attempts of one delivery, with backoff, before it is given up."));
  add(Key("alerts.webhooks[].send_resolved", T::kBool)
          .def("false")
          .to([](Target& t, const Value& v) { t.webhook->send_resolved = v.flag; })
          .about("Also post RESOLVED events."));
  add(Key("alerts.webhooks[].ca_file", T::kString)
          .show("system CAs")
          .to([](Target& t, const Value& v) { t.webhook->ca_file = v.text; })
          .about("PEM file of the CAs trusted for this webhook; `https://` URLs only."));

  // ---- metrics
  add(Key("metrics", T::kSection).about("The Prometheus metrics driftd exports."));
  add(Key("metrics.max_series_per_model", T::kInt)
          .def("10000")
          .at_least(1)
          .to([](Target& t, const Value& v) { t.config->metrics.max_series_per_model = v.count; })
          .about("Most series with a `feature` label one model exports (test values, missing "
                 "ratios, PSI bins); the rest are counted in `drift_series_dropped_total`."));
  return keys;
}

}  // namespace

std::string_view Key::name() const {
  const std::size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

std::string_view Key::parent() const {
  const std::size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : path.substr(0, dot);
}

std::span<const Key> schema() {
  static const std::vector<Key> keys = build_schema();
  return keys;
}

const Key* find_key(std::string_view path) {
  for (const Key& key : schema()) {
    if (key.path == path) return &key;
  }
  return nullptr;
}

std::vector<const Key*> children_of(std::string_view parent) {
  std::vector<const Key*> out;
  for (const Key& key : schema()) {
    if (key.parent() == parent) out.push_back(&key);
  }
  return out;
}

namespace {

std::string bound(const Key& key, double value) {
  if (key.type == KeyType::kDuration) {
    return format_duration(Duration(static_cast<Duration::rep>(value)));
  }
  if (key.type == KeyType::kSize) return format_size(static_cast<std::uint64_t>(value));
  return format_number(value);
}

std::string or_list(std::string_view choices) {
  const auto all = split_choices(choices);
  std::string out;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i > 0) out += ", ";
    out += all[i];
  }
  return out;
}

}  // namespace

std::string range_text(const Key& key) {
  if (key.min && key.max) {
    const bool open = key.min_open && key.max_open;
    if (open || (!key.min_open && !key.max_open)) {
      return cat(open ? "strictly between " : "between ", bound(key, *key.min), " and ",
                 bound(key, *key.max));
    }
    return cat(key.min_open ? "greater than " : "at least ", bound(key, *key.min), " and ",
               key.max_open ? "less than " : "at most ", bound(key, *key.max));
  }
  if (key.min) return cat(key.min_open ? "greater than " : "at least ", bound(key, *key.min));
  if (key.max) return cat(key.max_open ? "less than " : "at most ", bound(key, *key.max));
  return {};
}

bool in_range(const Key& key, double value) {
  if (key.min && (key.min_open ? value <= *key.min : value < *key.min)) return false;
  if (key.max && (key.max_open ? value >= *key.max : value > *key.max)) return false;
  return true;
}

std::string type_phrase(const Key& key) {
  switch (key.type) {
    case KeyType::kString:
    case KeyType::kName:
    case KeyType::kPointer:
      return "a string";
    case KeyType::kInt:
      return "a non-negative integer";
    case KeyType::kNumber:
      return "a number";
    case KeyType::kSigma:
      return cat(or_list(key.choices), " or a number");
    case KeyType::kBool:
      return "true or false";
    case KeyType::kDuration:
      return "a duration";
    case KeyType::kSize:
      return "a byte size";
    case KeyType::kEnum:
      return cat("one of ", or_list(key.choices));
    case KeyType::kList:
      return "a list";
    case KeyType::kMap:
    case KeyType::kSection:
      return "a mapping";
    case KeyType::kSectionList:
      return "a list of mappings";
  }
  return "a value";
}

bool is_choice(std::string_view choices, std::string_view value) {
  const auto all = split_choices(choices);
  return std::find(all.begin(), all.end(), value) != all.end();
}

std::vector<std::string> split_choices(std::string_view choices) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= choices.size() && !choices.empty()) {
    const std::size_t bar = choices.find('|', start);
    const std::size_t end = bar == std::string_view::npos ? choices.size() : bar;
    out.emplace_back(choices.substr(start, end - start));
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  return out;
}

}  // namespace drift::daemon::config_detail
