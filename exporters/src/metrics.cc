// The metric catalogue: prometheus-cpp families registered once, series cached per model,
// source, webhook; see drift/exporters/metrics.h and exporters/METRICS.md.

#include "drift/exporters/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>

namespace drift::exporters {

namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Labels;

Family<Gauge>& gauge(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}
Family<Counter>& counter(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

std::string label(std::string_view value) { return sanitize_label_value(value); }

/// A prometheus-cpp counter fed with a running total kept elsewhere.
struct Monotonic {
  Counter* counter = nullptr;
  std::uint64_t last = 0;

  void update(std::uint64_t total) {
    // A total below the last one means the owner's count restarted from zero.
    const std::uint64_t delta = total >= last ? total - last : total;
    if (delta > 0) counter->Increment(static_cast<double>(delta));
    last = total;
  }
};

template <typename T>
void remove(Family<T>& family, T*& metric) {
  if (metric != nullptr) family.Remove(metric);
  metric = nullptr;
}

struct TestSeries {
  Gauge* statistic = nullptr;
  Gauge* p_value = nullptr;  // null for PSI
  Gauge* drift = nullptr;
  Gauge* threshold = nullptr;
};

struct MissingSeries {
  Gauge* current = nullptr;
  Gauge* reference = nullptr;
};

struct BinSeries {
  Gauge* reference = nullptr;
  Gauge* current = nullptr;
};

using Key2 = std::pair<std::string, std::string>;

struct ModelState {
  std::string label;
  std::map<Key2, TestSeries> tests;  // (feature, test)
  std::map<std::string, MissingSeries> missing;
  std::map<Key2, BinSeries> bins;  // (feature, bin)
  Gauge* series = nullptr;
  Counter* dropped = nullptr;
  Gauge* model_drift = nullptr;
  Gauge* mmd_statistic = nullptr;
  Gauge* mmd_p_value = nullptr;
  Gauge* mmd_drift = nullptr;
  Gauge* reference_rows = nullptr;
  Gauge* window_rows = nullptr;
  Gauge* last_evaluation = nullptr;
  Histogram* duration = nullptr;
  std::map<std::string, Counter*> evaluations;  // by backend
  Gauge* alert_firing = nullptr;
  std::map<std::string, Gauge*> alert_states;
};

struct RecordState {
  Monotonic accepted;
  Monotonic rejected;
  std::map<std::string, Monotonic> by_reason;
};

struct SourceState {
  std::string type;
  Gauge* up = nullptr;
  Gauge* queue_depth = nullptr;
  Monotonic received;
  Monotonic bytes;
  Monotonic dropped;
  std::map<std::pair<std::string, std::int32_t>, Gauge*> lag;
};

std::size_t core_series(const FeatureResult& f) {
  return 2 + (f.ks ? 4 : 0) + (f.chi2 ? 4 : 0) + (f.psi ? 3 : 0);
}

std::size_t bin_series(const FeatureResult& f) { return f.psi ? 2 * f.psi->result.bins() : 0; }

double ratio(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

struct MetricsRegistry::State {
  explicit State(MetricsOptions opts)
      : options(std::move(opts)),
        registry(std::make_shared<prometheus::Registry>()),
        // Per model × feature × test.
        feature_statistic(gauge(*registry, "drift_feature_statistic",
                                "Test statistic of the last evaluation (KS D, PSI, chi-square).")),
        feature_p_value(gauge(*registry, "drift_feature_p_value",
                              "p-value of the last evaluation (KS and chi-square).")),
        feature_drift(gauge(*registry, "drift_feature_drift",
                            "1 when the test detected drift in the last evaluation, else 0.")),
        feature_threshold(gauge(
            *registry, "drift_feature_threshold",
            "PSI threshold for PSI; effective corrected p-value cutoff for KS and chi-square.")),
        // Per model × feature.
        feature_missing_ratio(gauge(*registry, "drift_feature_missing_ratio",
                                    "Share of missing values of the feature in the current "
                                    "window (last evaluation).")),
        feature_reference_missing_ratio(gauge(*registry, "drift_feature_reference_missing_ratio",
                                              "Share of missing values of the feature in the "
                                              "reference.")),
        psi_bin_reference_ratio(gauge(*registry, "drift_psi_bin_reference_ratio",
                                      "Share of the reference in each PSI bin (last evaluation).")),
        psi_bin_current_ratio(gauge(*registry, "drift_psi_bin_current_ratio",
                                    "Share of the current window in each PSI bin (last "
                                    "evaluation).")),
        // Per model.
        model_drift(gauge(*registry, "drift_model_drift",
                          "1 when any test of the last evaluation detected drift, else 0.")),
        mmd_statistic(gauge(*registry, "drift_mmd_statistic",
                            "Unbiased MMD^2 of the last evaluation (multivariate test).")),
        mmd_p_value(gauge(*registry, "drift_mmd_p_value",
                          "Permutation p-value of the MMD test of the last evaluation.")),
        mmd_drift(gauge(*registry, "drift_mmd_drift",
                        "1 when the MMD test detected drift in the last evaluation, else 0.")),
        reference_rows(gauge(*registry, "drift_reference_rows", "Rows in the model's reference.")),
        window_rows(gauge(*registry, "drift_window_rows", "Rows in the model's current window.")),
        last_evaluation(gauge(*registry, "drift_last_evaluation_timestamp_seconds",
                              "Unix time when the last evaluation finished.")),
        model_series(gauge(*registry, "drift_model_series",
                           "Series with a feature label exported for the model (capped).")),
        series_dropped(counter(*registry, "drift_series_dropped_total",
                               "Feature series withheld by the per-model series cap, summed "
                               "over evaluations.")),
        evaluation_duration(prometheus::BuildHistogram()
                                .Name("drift_evaluation_duration_seconds")
                                .Help("Time an evaluation took (detectors only).")
                                .Register(*registry)),
        evaluations(counter(*registry, "drift_evaluations_total",
                            "Evaluations by the detector backend that ran them (cpu, gpu).")),
        // Ingest.
        records(counter(*registry, "drift_records_total",
                        "Records by outcome: accepted (rows appended to the model's window) or "
                        "rejected.")),
        records_rejected(counter(*registry, "drift_records_rejected_total",
                                 "Records or rows a model rejected, by reason.")),
        records_unmatched(counter(*registry, "drift_records_unmatched_total",
                                  "Records no model took, by reason.")),
        source_received(counter(*registry, "drift_source_records_received_total",
                                "Records the source received.")),
        source_bytes(counter(*registry, "drift_source_received_bytes_total",
                             "Bytes of records the source received.")),
        source_dropped(counter(*registry, "drift_source_records_dropped_total",
                               "Records the source refused for back-pressure.")),
        source_queue_depth(gauge(*registry, "drift_source_queue_depth",
                                 "Records read by the source and not yet delivered.")),
        source_lag(gauge(*registry, "drift_source_consumer_lag",
                         "Kafka consumer lag in records, per assigned topic-partition.")),
        source_up(gauge(*registry, "drift_source_up",
                        "1 when the source is connected (Kafka group joined, file open, HTTP "
                        "listening), else 0.")),
        // Alerts and webhooks.
        alert_firing(gauge(*registry, "drift_alert_firing",
                           "1 while the model's drift alert fires, else 0.")),
        alert_state(gauge(*registry, "drift_alert_state",
                          "1 for the model's current alert state, 0 for states it had before.")),
        webhook_deliveries(counter(*registry, "drift_webhook_deliveries_total",
                                   "Webhook delivery attempts by outcome.")),
        outbox_depth(gauge(*registry, "drift_webhook_outbox_depth",
                           "Webhook notifications waiting in the persistent outbox.")),
        // Process.
        build_info(gauge(*registry, "drift_build_info",
                         "Always 1: the driftd version and the detector backend in use.")),
        gpu_memory(gauge(*registry, "drift_gpu_memory_used_bytes",
                         "GPU memory held by the detector backend.")),
        gpu_fallbacks(counter(*registry, "drift_gpu_fallbacks_total",
                              "Evaluations the GPU backend handed to the CPU after a GPU error.")),
        last_checkpoint(gauge(*registry, "drift_last_checkpoint_timestamp_seconds",
                              "Unix time when the last checkpoint became durable.")) {
    outbox = &outbox_depth.Add({});
    gpu = &gpu_memory.Add({});
    fallbacks.counter = &gpu_fallbacks.Add({});
  }

  MetricsOptions options;
  std::shared_ptr<prometheus::Registry> registry;
  Family<Gauge>& feature_statistic;
  Family<Gauge>& feature_p_value;
  Family<Gauge>& feature_drift;
  Family<Gauge>& feature_threshold;
  Family<Gauge>& feature_missing_ratio;
  Family<Gauge>& feature_reference_missing_ratio;
  Family<Gauge>& psi_bin_reference_ratio;
  Family<Gauge>& psi_bin_current_ratio;
  Family<Gauge>& model_drift;
  Family<Gauge>& mmd_statistic;
  Family<Gauge>& mmd_p_value;
  Family<Gauge>& mmd_drift;
  Family<Gauge>& reference_rows;
  Family<Gauge>& window_rows;
  Family<Gauge>& last_evaluation;
  Family<Gauge>& model_series;
  Family<Counter>& series_dropped;
  Family<Histogram>& evaluation_duration;
  Family<Counter>& evaluations;
  Family<Counter>& records;
  Family<Counter>& records_rejected;
  Family<Counter>& records_unmatched;
  Family<Counter>& source_received;
  Family<Counter>& source_bytes;
  Family<Counter>& source_dropped;
  Family<Gauge>& source_queue_depth;
  Family<Gauge>& source_lag;
  Family<Gauge>& source_up;
  Family<Gauge>& alert_firing;
  Family<Gauge>& alert_state;
  Family<Counter>& webhook_deliveries;
  Family<Gauge>& outbox_depth;
  Family<Gauge>& build_info;
  Family<Gauge>& gpu_memory;
  Family<Counter>& gpu_fallbacks;
  Family<Gauge>& last_checkpoint;

  Gauge* outbox = nullptr;
  Gauge* gpu = nullptr;
  Monotonic fallbacks;
  Gauge* checkpoint = nullptr;
  Gauge* build = nullptr;

  std::map<std::string, ModelState, std::less<>> models;         // by model name
  std::map<Key2, RecordState> record_states;                     // (source, model) names
  std::map<std::string, SourceState, std::less<>> sources;       // by source name
  std::map<std::string, std::map<std::string, Monotonic>, std::less<>> unmatched;  // source
  std::map<Key2, Monotonic> deliveries;                          // (webhook, outcome)

  ModelState& model(std::string_view name) {
    auto it = models.find(name);
    if (it != models.end()) return it->second;
    ModelState& m = models.emplace(std::string(name), ModelState{}).first->second;
    m.label = label(name);
    m.series = &model_series.Add({{"model", m.label}});
    m.dropped = &series_dropped.Add({{"model", m.label}});
    return m;
  }

  void remove_feature_series(ModelState& m) {
    for (auto& [key, t] : m.tests) remove_test(t);
    for (auto& [key, s] : m.missing) {
      remove(feature_missing_ratio, s.current);
      remove(feature_reference_missing_ratio, s.reference);
    }
    for (auto& [key, b] : m.bins) {
      remove(psi_bin_reference_ratio, b.reference);
      remove(psi_bin_current_ratio, b.current);
    }
    m.tests.clear();
    m.missing.clear();
    m.bins.clear();
  }

  void remove_test(TestSeries& t) {
    remove(feature_statistic, t.statistic);
    remove(feature_p_value, t.p_value);
    remove(feature_drift, t.drift);
    remove(feature_threshold, t.threshold);
  }

  void remove_mmd(ModelState& m) {
    remove(mmd_statistic, m.mmd_statistic);
    remove(mmd_p_value, m.mmd_p_value);
    remove(mmd_drift, m.mmd_drift);
  }

  void remove_records(RecordState& r) {
    remove(records, r.accepted.counter);
    remove(records, r.rejected.counter);
    for (auto& [reason, c] : r.by_reason) remove(records_rejected, c.counter);
  }

  /// One test's series, reused from `old` when present.
  void set_test(const ModelState& m, std::map<Key2, TestSeries>& old,
                std::map<Key2, TestSeries>& next, const std::string& feature, const char* test,
                double statistic, const double* p_value, bool drift, double threshold) {
    Key2 key{feature, test};
    TestSeries t;
    if (auto node = old.extract(key)) {
      t = node.mapped();
    } else {
      const Labels labels{{"model", m.label}, {"feature", feature}, {"test", test}};
      t.statistic = &feature_statistic.Add(labels);
      if (p_value != nullptr) t.p_value = &feature_p_value.Add(labels);
      t.drift = &feature_drift.Add(labels);
      t.threshold = &feature_threshold.Add(labels);
    }
    t.statistic->Set(statistic);
    if (p_value != nullptr) t.p_value->Set(*p_value);
    t.drift->Set(drift ? 1.0 : 0.0);
    t.threshold->Set(threshold);
    next.emplace(std::move(key), t);
  }

  void record_evaluation(std::string_view model_name, const EvaluationResult& result,
                         double duration_seconds, std::int64_t finished_ms,
                         const BinLabels* bin_labels) {
    ModelState& m = model(model_name);

    // Admission under the cap: each feature's core series, then each feature's bins, whole.
    struct Admitted {
      const FeatureResult* feature;
      std::string label;
      bool bins = false;
    };
    std::vector<Admitted> admitted;
    std::set<std::string> labels_seen;
    std::size_t budget = options.max_series_per_model;
    std::size_t dropped = 0;
    for (const FeatureResult& f : result.features) {
      std::string feature_label = label(f.name);
      const std::size_t core = core_series(f);
      if (core > budget || !labels_seen.insert(feature_label).second) {
        dropped += core + bin_series(f);
        continue;
      }
      budget -= core;
      admitted.push_back({&f, std::move(feature_label)});
    }
    for (Admitted& a : admitted) {
      const std::size_t bins = bin_series(*a.feature);
      if (bins > budget) {
        dropped += bins;
        continue;
      }
      budget -= bins;
      a.bins = bins > 0;
    }

    std::map<Key2, TestSeries> tests;
    std::map<std::string, MissingSeries> missing;
    std::map<Key2, BinSeries> bins;
    for (const Admitted& a : admitted) {
      const FeatureResult& f = *a.feature;
      if (f.ks) {
        const double p = f.ks->result.p_value;
        set_test(m, m.tests, tests, a.label, "ks", f.ks->result.statistic, &p, f.ks->drift,
                 f.ks->threshold);
      }
      if (f.chi2) {
        const double p = f.chi2->result.p_value;
        set_test(m, m.tests, tests, a.label, "chi2", f.chi2->result.statistic, &p,
                 f.chi2->drift, f.chi2->threshold);
      }
      if (f.psi) {
        set_test(m, m.tests, tests, a.label, "psi", f.psi->result.statistic, nullptr,
                 f.psi->drift, f.psi->threshold);
      }

      MissingSeries s;
      if (auto node = m.missing.extract(a.label)) {
        s = node.mapped();
      } else {
        const Labels labels{{"model", m.label}, {"feature", a.label}};
        s.current = &feature_missing_ratio.Add(labels);
        s.reference = &feature_reference_missing_ratio.Add(labels);
      }
      s.current->Set(ratio(f.missing_current, f.missing_current + f.rows_current));
      s.reference->Set(ratio(f.missing_reference, f.missing_reference + f.rows_reference));
      missing.emplace(a.label, s);

      if (a.bins) {
        const PsiResult& psi = f.psi->result;
        const std::size_t n = psi.bins();
        std::vector<std::string> names;
        if (bin_labels != nullptr) {
          const auto it = bin_labels->find(f.name);
          if (it != bin_labels->end() && it->second.size() == n) {
            std::set<std::string> unique;
            for (const std::string& name : it->second) {
              names.push_back(label(name));
              unique.insert(names.back());
            }
            if (unique.size() != n) names.clear();  // collisions after sanitizing: indices
          }
        }
        for (std::size_t k = 0; k < n; ++k) {
          Key2 key{a.label, names.empty() ? std::to_string(k) : names[k]};
          BinSeries b;
          if (auto node = m.bins.extract(key)) {
            b = node.mapped();
          } else {
            const Labels labels{{"model", m.label}, {"feature", key.first}, {"bin", key.second}};
            b.reference = &psi_bin_reference_ratio.Add(labels);
            b.current = &psi_bin_current_ratio.Add(labels);
          }
          b.reference->Set(k < psi.reference_proportions.size() ? psi.reference_proportions[k]
                                                                : 0.0);
          b.current->Set(k < psi.current_proportions.size() ? psi.current_proportions[k] : 0.0);
          bins.emplace(std::move(key), b);
        }
      }
    }
    // Whatever was not carried over belongs to features, tests or bins that went away.
    remove_feature_series(m);
    m.tests = std::move(tests);
    m.missing = std::move(missing);
    m.bins = std::move(bins);

    const Labels model_labels{{"model", m.label}};
    if (m.model_drift == nullptr) m.model_drift = &model_drift.Add(model_labels);
    m.model_drift->Set(result.drift ? 1.0 : 0.0);
    if (result.mmd) {
      if (m.mmd_statistic == nullptr) {
        m.mmd_statistic = &mmd_statistic.Add(model_labels);
        m.mmd_p_value = &mmd_p_value.Add(model_labels);
        m.mmd_drift = &mmd_drift.Add(model_labels);
      }
      m.mmd_statistic->Set(result.mmd->result.statistic);
      m.mmd_p_value->Set(result.mmd->result.p_value);
      m.mmd_drift->Set(result.mmd->drift ? 1.0 : 0.0);
    } else {
      remove_mmd(m);
    }
    set_rows(m, result.reference_rows, result.current_rows);
    if (m.last_evaluation == nullptr) m.last_evaluation = &last_evaluation.Add(model_labels);
    m.last_evaluation->Set(static_cast<double>(finished_ms) / 1000.0);
    if (m.duration == nullptr) {
      m.duration = &evaluation_duration.Add(model_labels, options.evaluation_duration_buckets);
    }
    m.duration->Observe(duration_seconds);
    const std::string backend = result.backend.empty() ? "cpu" : label(result.backend);
    Counter*& by_backend = m.evaluations[backend];
    if (by_backend == nullptr) {
      by_backend = &evaluations.Add({{"model", m.label}, {"backend", backend}});
    }
    by_backend->Increment();
    m.series->Set(static_cast<double>(options.max_series_per_model - budget));
    if (dropped > 0) m.dropped->Increment(static_cast<double>(dropped));
  }

  void set_rows(ModelState& m, std::uint64_t reference, std::uint64_t current) {
    if (m.reference_rows == nullptr) {
      m.reference_rows = &reference_rows.Add({{"model", m.label}});
      m.window_rows = &window_rows.Add({{"model", m.label}});
    }
    m.reference_rows->Set(static_cast<double>(reference));
    m.window_rows->Set(static_cast<double>(current));
  }

  void update_reasons(std::map<std::string, Monotonic>& by_reason, Family<Counter>& family,
                      const Labels& base, std::span<const ReasonTotal> totals) {
    const auto series = [&](const std::string& reason) -> Monotonic& {
      auto it = by_reason.find(reason);
      if (it == by_reason.end()) {
        Labels labels = base;
        labels.emplace("reason", reason);
        it = by_reason.emplace(reason, Monotonic{&family.Add(labels)}).first;
      }
      return it->second;
    };
    for (const std::string& reason : options.reject_reasons) series(label(reason));
    for (const ReasonTotal& t : totals) series(label(t.reason)).update(t.total);
  }

  void remove_model(std::string_view name) {
    for (auto it = record_states.begin(); it != record_states.end();) {
      if (it->first.second == name) {
        remove_records(it->second);
        it = record_states.erase(it);
      } else {
        ++it;
      }
    }
    const auto it = models.find(name);
    if (it == models.end()) return;
    ModelState& m = it->second;
    remove_feature_series(m);
    remove_mmd(m);
    remove(model_series, m.series);
    remove(series_dropped, m.dropped);
    remove(model_drift, m.model_drift);
    remove(reference_rows, m.reference_rows);
    remove(window_rows, m.window_rows);
    remove(last_evaluation, m.last_evaluation);
    remove(evaluation_duration, m.duration);
    for (auto& [backend, c] : m.evaluations) remove(evaluations, c);
    remove(alert_firing, m.alert_firing);
    for (auto& [state, g] : m.alert_states) remove(alert_state, g);
    models.erase(it);
  }

  void remove_source(std::string_view name) {
    for (auto it = record_states.begin(); it != record_states.end();) {
      if (it->first.first == name) {
        remove_records(it->second);
        it = record_states.erase(it);
      } else {
        ++it;
      }
    }
    if (const auto it = unmatched.find(name); it != unmatched.end()) {
      for (auto& [reason, c] : it->second) remove(records_unmatched, c.counter);
      unmatched.erase(it);
    }
    const auto it = sources.find(name);
    if (it == sources.end()) return;
    SourceState& s = it->second;
    remove(source_up, s.up);
    remove(source_queue_depth, s.queue_depth);
    remove(source_received, s.received.counter);
    remove(source_bytes, s.bytes.counter);
    remove(source_dropped, s.dropped.counter);
    for (auto& [key, g] : s.lag) remove(source_lag, g);
    sources.erase(it);
  }
};

MetricsRegistry::MetricsRegistry(MetricsOptions options)
    : state_(std::make_unique<State>(std::move(options))) {}

MetricsRegistry::~MetricsRegistry() = default;

void MetricsRegistry::set_build_info(std::string_view version, std::string_view backend) {
  std::lock_guard lock(ingest_mutex_);
  State& s = *state_;
  remove(s.build_info, s.build);
  s.build = &s.build_info.Add({{"version", label(version)}, {"backend", label(backend)}});
  s.build->Set(1.0);
}

void MetricsRegistry::record_evaluation(std::string_view model, const EvaluationResult& result,
                                        double duration_seconds, std::int64_t finished_ms,
                                        const BinLabels* bin_labels) {
  std::lock_guard lock(evaluation_mutex_);
  state_->record_evaluation(model, result, duration_seconds, finished_ms, bin_labels);
}

void MetricsRegistry::set_window(std::string_view model, std::uint64_t reference_rows,
                                 std::uint64_t current_rows) {
  std::lock_guard lock(evaluation_mutex_);
  state_->set_rows(state_->model(model), reference_rows, current_rows);
}

void MetricsRegistry::set_records(std::string_view source, std::string_view model,
                                  std::uint64_t accepted_total,
                                  std::span<const ReasonTotal> rejected_totals) {
  std::lock_guard lock(ingest_mutex_);
  State& s = *state_;
  Key2 key{std::string(source), std::string(model)};
  auto it = s.record_states.find(key);
  const Labels base{{"source", label(source)}, {"model", label(model)}};
  if (it == s.record_states.end()) {
    RecordState r;
    Labels accepted = base;
    accepted.emplace("outcome", "accepted");
    Labels rejected = base;
    rejected.emplace("outcome", "rejected");
    r.accepted.counter = &s.records.Add(accepted);
    r.rejected.counter = &s.records.Add(rejected);
    it = s.record_states.emplace(std::move(key), std::move(r)).first;
  }
  RecordState& r = it->second;
  std::uint64_t rejected_sum = 0;
  for (const ReasonTotal& t : rejected_totals) rejected_sum += t.total;
  r.accepted.update(accepted_total);
  r.rejected.update(rejected_sum);
  s.update_reasons(r.by_reason, s.records_rejected, base, rejected_totals);
}

void MetricsRegistry::set_unmatched(std::string_view source, std::span<const ReasonTotal> totals) {
  std::lock_guard lock(ingest_mutex_);
  State& s = *state_;
  auto it = s.unmatched.find(source);
  if (it == s.unmatched.end()) it = s.unmatched.emplace(std::string(source), std::map<std::string, Monotonic>{}).first;
  s.update_reasons(it->second, s.records_unmatched, {{"source", label(source)}}, totals);
}

void MetricsRegistry::set_source(const SourceMetrics& source) {
  std::lock_guard lock(ingest_mutex_);
  State& s = *state_;
  auto it = s.sources.find(source.name);
  const std::string name = label(source.name);
  if (it == s.sources.end()) {
    SourceState st;
    const Labels labels{{"source", name}};
    st.queue_depth = &s.source_queue_depth.Add(labels);
    st.received.counter = &s.source_received.Add(labels);
    st.bytes.counter = &s.source_bytes.Add(labels);
    st.dropped.counter = &s.source_dropped.Add(labels);
    it = s.sources.emplace(source.name, std::move(st)).first;
  }
  SourceState& st = it->second;
  if (st.up == nullptr || st.type != source.type) {
    remove(s.source_up, st.up);
    st.type = source.type;
    st.up = &s.source_up.Add({{"source", name}, {"type", label(source.type)}});
  }
  st.up->Set(source.up ? 1.0 : 0.0);
  st.queue_depth->Set(static_cast<double>(source.queue_depth));
  st.received.update(source.records_received);
  st.bytes.update(source.bytes_received);
  st.dropped.update(source.records_dropped);

  std::map<std::pair<std::string, std::int32_t>, Gauge*> lag;
  for (const PartitionLag& p : source.lag) {
    if (p.lag < 0) continue;
    std::pair<std::string, std::int32_t> key{label(p.topic), p.partition};
    Gauge* g = nullptr;
    if (auto node = st.lag.extract(key)) {
      g = node.mapped();
    } else if (const auto dup = lag.find(key); dup != lag.end()) {
      g = dup->second;
    } else {
      g = &s.source_lag.Add({{"source", name},
                             {"topic", key.first},
                             {"partition", std::to_string(p.partition)}});
    }
    g->Set(static_cast<double>(p.lag));
    lag.emplace(std::move(key), g);
  }
  for (auto& [key, g] : st.lag) remove(s.source_lag, g);
  st.lag = std::move(lag);
}

void MetricsRegistry::set_alert(std::string_view model, std::string_view state, bool firing) {
  std::lock_guard lock(evaluation_mutex_);
  State& s = *state_;
  ModelState& m = s.model(model);
  if (m.alert_firing == nullptr) m.alert_firing = &s.alert_firing.Add({{"model", m.label}});
  m.alert_firing->Set(firing ? 1.0 : 0.0);
  const std::string current = label(state);
  if (!m.alert_states.contains(current)) {
    m.alert_states.emplace(current, &s.alert_state.Add({{"model", m.label}, {"state", current}}));
  }
  for (auto& [name, g] : m.alert_states) g->Set(name == current ? 1.0 : 0.0);
}

void MetricsRegistry::set_webhook_deliveries(std::string_view webhook, std::string_view outcome,
                                             std::uint64_t total) {
  std::lock_guard lock(ingest_mutex_);
  State& s = *state_;
  Key2 key{label(webhook), label(outcome)};
  auto it = s.deliveries.find(key);
  if (it == s.deliveries.end()) {
    Counter& c = s.webhook_deliveries.Add({{"webhook", key.first}, {"outcome", key.second}});
    it = s.deliveries.emplace(std::move(key), Monotonic{&c}).first;
  }
  it->second.update(total);
}

void MetricsRegistry::set_outbox_depth(std::uint64_t entries) {
  std::lock_guard lock(ingest_mutex_);
  state_->outbox->Set(static_cast<double>(entries));
}

void MetricsRegistry::set_last_checkpoint(std::int64_t unix_ms) {
  std::lock_guard lock(ingest_mutex_);
  State& s = *state_;
  if (s.checkpoint == nullptr) s.checkpoint = &s.last_checkpoint.Add({});
  s.checkpoint->Set(static_cast<double>(unix_ms) / 1000.0);
}

void MetricsRegistry::set_gpu_memory_bytes(std::uint64_t bytes) {
  std::lock_guard lock(ingest_mutex_);
  state_->gpu->Set(static_cast<double>(bytes));
}

void MetricsRegistry::set_gpu_fallbacks(std::uint64_t total) {
  std::lock_guard lock(ingest_mutex_);
  state_->fallbacks.update(total);
}

void MetricsRegistry::remove_model(std::string_view model) {
  std::scoped_lock lock(evaluation_mutex_, ingest_mutex_);
  state_->remove_model(model);
}

void MetricsRegistry::remove_source(std::string_view source) {
  std::lock_guard lock(ingest_mutex_);
  state_->remove_source(source);
}

std::string MetricsRegistry::serialize() const {
  std::vector<prometheus::MetricFamily> families;
  {
    // Only the copy is made under the evaluation lock, so a scrape never sees an evaluation
    // half-applied; ingest setters do not take it. Nothing below (formatting, compression,
    // the socket) holds any lock.
    std::lock_guard lock(evaluation_mutex_);
    families = state_->registry->Collect();
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return std::move(out).str();
}

MetricsResponse MetricsRegistry::render(std::string_view accept_encoding) const {
  MetricsResponse response;
  response.body = serialize();
  if (accepts_gzip(accept_encoding)) {
    response.body = gzip(response.body);
    response.gzip = true;
  }
  return response;
}

const prometheus::Registry& MetricsRegistry::registry() const { return *state_->registry; }

}  // namespace drift::exporters
