#include "check_report.h"

#include <cstdio>
#include <string_view>

#include "json_writer.h"

namespace drift::daemon {

namespace {

std::string_view kind_name(FeatureKind kind) {
  return kind == FeatureKind::kNumeric ? "numeric" : "categorical";
}

void write_psi(JsonWriter& w, const PsiOutcome& psi) {
  w.key("psi").begin_object();
  w.key("statistic").precise(psi.result.statistic);
  w.key("threshold").value(psi.threshold);
  w.key("bins").value(static_cast<std::uint64_t>(psi.result.bins()));
  w.key("binning").value(to_string(psi.result.binning));
  w.key("drift").value(psi.drift);
  w.end_object();
}

}  // namespace

std::string render_json(const EvaluationResult& result, const CheckTiming& timing) {
  JsonWriter w;
  w.begin_object();
  w.key("schema_version").value(std::uint64_t{1});
  w.key("backend").value(result.backend);
  w.key("reference_rows").value(result.reference_rows);
  w.key("current_rows").value(result.current_rows);
  w.key("correction").value(to_string(result.correction));
  w.key("drift").value(result.drift);
  w.key("features").begin_array();
  for (const auto& f : result.features) {
    w.begin_object();
    w.key("name").value(f.name);
    w.key("kind").value(kind_name(f.kind));
    w.key("missing_reference").value(f.missing_reference);
    w.key("missing_current").value(f.missing_current);
    w.key("tests").begin_object();
    if (f.ks) {
      w.key("ks").begin_object();
      w.key("statistic").precise(f.ks->result.statistic);
      w.key("p_value").precise(f.ks->result.p_value);
      w.key("threshold").value(f.ks->threshold);
      w.key("method").value(to_string(f.ks->result.method));
      w.key("drift").value(f.ks->drift);
      w.end_object();
    }
    if (f.chi2) {
      w.key("chi2").begin_object();
      w.key("statistic").precise(f.chi2->result.statistic);
      w.key("p_value").precise(f.chi2->result.p_value);
      w.key("threshold").value(f.chi2->threshold);
      w.key("dof").value(f.chi2->result.dof);
      w.key("cramers_v").precise(f.chi2->result.cramers_v);
      w.key("drift").value(f.chi2->drift);
      w.end_object();
    }
    if (f.psi) write_psi(w, *f.psi);
    w.end_object();
    w.end_object();
  }
  w.end_array();
  w.key("multivariate").begin_object();
  if (result.mmd) {
    const auto& m = *result.mmd;
    w.key("mmd").begin_object();
    w.key("statistic").precise(m.result.statistic);
    w.key("p_value").precise(m.result.p_value);
    w.key("permutations").value(static_cast<std::uint64_t>(m.result.permutations));
    w.key("sigma").precise(m.result.sigma);
    w.key("features").begin_array();
    for (const auto& name : m.features) w.value(name);
    w.end_array();
    w.key("rows_used").begin_array();
    w.value(static_cast<std::uint64_t>(m.result.reference_rows));
    w.value(static_cast<std::uint64_t>(m.result.current_rows));
    w.end_array();
    w.key("drift").value(m.drift);
    w.end_object();
  }
  w.end_object();
  w.key("timing_ms").begin_object();
  w.key("read").value(timing.read_ms);
  w.key("profile").value(timing.profile_ms);
  w.key("tests").value(timing.tests_ms);
  w.key("total").value(timing.profile_ms + timing.tests_ms);
  w.end_object();
  w.end_object();
  return w.str() + "\n";
}

namespace {

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

struct Row {
  std::string feature, kind, missing, test, statistic, p_value, threshold, drift;
};

void add_line(std::string& out, const Row& r) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-24s %-11s %-13s %-5s %12s %12s %10s  %s\n",
                r.feature.substr(0, 24).c_str(), r.kind.c_str(), r.missing.c_str(), r.test.c_str(),
                r.statistic.c_str(), r.p_value.c_str(), r.threshold.c_str(), r.drift.c_str());
  out += buf;
}

}  // namespace

std::string render_text(const EvaluationResult& result, const CheckTiming& timing) {
  std::size_t tests = 0;
  std::size_t drifted = 0;
  for (const auto& f : result.features) {
    for (const bool* d : {f.ks ? &f.ks->drift : nullptr, f.chi2 ? &f.chi2->drift : nullptr,
                          f.psi ? &f.psi->drift : nullptr}) {
      if (d == nullptr) continue;
      ++tests;
      drifted += *d ? 1 : 0;
    }
  }
  if (result.mmd) {
    ++tests;
    drifted += result.mmd->drift ? 1 : 0;
  }
  std::string out;
  out += "driftd check: reference " + std::to_string(result.reference_rows) + " rows, current " +
         std::to_string(result.current_rows) + " rows, backend " + result.backend +
         ", correction " + std::string(to_string(result.correction)) + "\n";
  out += result.drift ? "DRIFT DETECTED: " + std::to_string(drifted) + " of " +
                            std::to_string(tests) + " tests drifted\n\n"
                      : "no drift: 0 of " + std::to_string(tests) + " tests drifted\n\n";
  add_line(out, {"feature", "kind", "missing r/c", "test", "statistic", "p-value", "threshold",
                 "drift"});
  for (const auto& f : result.features) {
    Row row;
    row.feature = f.name;
    row.kind = kind_name(f.kind);
    row.missing = std::to_string(f.missing_reference) + "/" + std::to_string(f.missing_current);
    auto emit = [&](const char* test, double stat, const std::string& p, double threshold,
                    bool drift) {
      row.test = test;
      row.statistic = fmt("%.6g", stat);
      row.p_value = p;
      row.threshold = fmt("%.4g", threshold);
      row.drift = drift ? "DRIFT" : "-";
      add_line(out, row);
      row.feature.clear();
      row.kind.clear();
      row.missing.clear();
    };
    if (f.ks)
      emit("ks", f.ks->result.statistic, fmt("%.4g", f.ks->result.p_value), f.ks->threshold,
           f.ks->drift);
    if (f.chi2)
      emit("chi2", f.chi2->result.statistic, fmt("%.4g", f.chi2->result.p_value), f.chi2->threshold,
           f.chi2->drift);
    if (f.psi) emit("psi", f.psi->result.statistic, "", f.psi->threshold, f.psi->drift);
  }
  if (result.mmd) {
    const auto& m = *result.mmd;
    std::string features;
    for (const auto& name : m.features) features += (features.empty() ? "" : ", ") + name;
    out += "\nmultivariate MMD over [" + features +
           "]: MMD^2 = " + fmt("%.6g", m.result.statistic) +
           ", p = " + fmt("%.4g", m.result.p_value) + " (" + std::to_string(m.result.permutations) +
           " permutations, sigma " + fmt("%.4g", m.result.sigma) + ", rows " +
           std::to_string(m.result.reference_rows) + "/" + std::to_string(m.result.current_rows) +
           ")" + (m.drift ? "  DRIFT" : "") + "\n";
  }
  out += "\ntiming: read " + fmt("%.1f", timing.read_ms) + " ms, profile " +
         fmt("%.1f", timing.profile_ms) + " ms, tests " + fmt("%.1f", timing.tests_ms) +
         " ms, total " + fmt("%.1f", timing.profile_ms + timing.tests_ms) + " ms\n";
  return out;
}

}  // namespace drift::daemon
