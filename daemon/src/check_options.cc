#include <charconv>
#include <cmath>
#include <string>

#include "drift/daemon/check_command.h"

namespace drift::daemon {

namespace {

constexpr std::string_view kUsage = R"(usage: driftd check --reference REF --current CUR [options]

Compares CUR against REF with the same detectors as `driftd run` and reports per-feature
and dataset drift. Files ending in .jsonl or .ndjson are JSON lines, anything else CSV;
REF may also be a profile written by --save-profile.

  --format json|text|both      report format (default json; both: text on stdout, JSON to --output)
  --output FILE                write the report to FILE instead of stdout
  --tests ks,psi,chi2,mmd      tests to run (default ks,psi,chi2)
  --p-value A                  significance level for p-value tests (default 0.05)
  --correction none|bonferroni|fdr   multiple-testing correction (default bonferroni)
  --ks-method auto|exact|asymp KS p-value method (default auto)
  --psi-bins B                 quantile bins for numeric PSI (default 10)
  --psi-binning quantile|evidently   numeric PSI binning (default quantile)
  --psi-threshold T            PSI drift threshold (default 0.2)
  --mmd-features a,b,c         features of the multivariate MMD test (implies mmd)
  --mmd-permutations B         permutations of the MMD test (default 1000)
  --mmd-sigma median|X         kernel bandwidth (default median heuristic)
  --mmd-max-rows N             rows per side used by MMD, subsampled above (default 10000)
  --mmd-standardize true|false standardize MMD features by the reference (default true)
  --min-effect ks=D,chi2=V,mmd=M     minimum effect sizes to call drift (default 0)
  --min-rows N                 fewer non-missing rows in a feature is an error (default 1)
  --categorical a,b            treat these columns as categorical
  --save-profile FILE          also write the reference profile to FILE; a later check can
                               take FILE as --reference and skip reading and profiling
  --fail-on-drift              exit with status 3 when drift is detected
  --seed S                     seed for MMD permutations and subsampling (default 0)
  --backend auto|cpu|gpu       compute backend (default auto)
  --threads N                  worker threads (default: all cores)

Exit status: 0 done (whatever the verdict), 1 input error, 2 usage error, 3 drift with
--fail-on-drift.
)";

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::size_t end = comma == std::string_view::npos ? text.size() : comma;
    if (end > start) out.emplace_back(text.substr(start, end - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

double parse_double(std::string_view flag, std::string_view text) {
  double value = 0.0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value)) {
    throw UsageError(std::string(flag) + ": '" + std::string(text) + "' is not a number");
  }
  return value;
}

std::uint64_t parse_count(std::string_view flag, std::string_view text, std::uint64_t min) {
  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    throw UsageError(std::string(flag) + ": '" + std::string(text) +
                     "' is not a non-negative integer");
  }
  if (value < min) {
    throw UsageError(std::string(flag) + ": must be at least " + std::to_string(min));
  }
  return value;
}

bool parse_bool(std::string_view flag, std::string_view text) {
  if (text == "true") return true;
  if (text == "false") return false;
  throw UsageError(std::string(flag) + ": expected true or false, not '" + std::string(text) + "'");
}

template <typename Enum>
Enum parse_choice(std::string_view flag, std::string_view text,
                  std::initializer_list<std::pair<std::string_view, Enum>> choices) {
  std::string names;
  for (const auto& [name, value] : choices) {
    if (name == text) return value;
    names += names.empty() ? "" : "|";
    names += name;
  }
  throw UsageError(std::string(flag) + ": expected " + names + ", not '" + std::string(text) + "'");
}

void parse_tests(std::string_view text, TestSelection& tests) {
  tests = TestSelection{false, false, false, false};
  const auto names = split_list(text);
  if (names.empty()) throw UsageError("--tests: the list is empty");
  for (const auto& name : names) {
    if (name == "ks")
      tests.ks = true;
    else if (name == "psi")
      tests.psi = true;
    else if (name == "chi2")
      tests.chi2 = true;
    else if (name == "mmd")
      tests.mmd = true;
    else
      throw UsageError("--tests: unknown test '" + name + "' (expected ks, psi, chi2, mmd)");
  }
}

void parse_min_effect(std::string_view text, MinEffect& effect) {
  for (const auto& item : split_list(text)) {
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos) {
      throw UsageError("--min-effect: expected test=value, not '" + item + "'");
    }
    const std::string test = item.substr(0, eq);
    const double value = parse_double("--min-effect", std::string_view(item).substr(eq + 1));
    if (value < 0.0) throw UsageError("--min-effect: " + test + " must not be negative");
    if (test == "ks")
      effect.ks = value;
    else if (test == "chi2")
      effect.chi2 = value;
    else if (test == "mmd")
      effect.mmd = value;
    else
      throw UsageError("--min-effect: unknown test '" + test + "' (expected ks, chi2, mmd)");
  }
}

}  // namespace

std::string_view check_usage() { return kUsage; }

CheckOptions parse_check_options(std::span<const std::string_view> args) {
  CheckOptions o;
  bool tests_given = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view flag = args[i];
    if (flag == "--fail-on-drift") {
      o.fail_on_drift = true;
      continue;
    }
    if (flag == "--help" || flag == "-h") throw UsageError("help");
    if (i + 1 >= args.size()) throw UsageError(std::string(flag) + ": missing value");
    const std::string_view v = args[++i];
    auto& e = o.evaluation;
    static constexpr std::string_view kReferenceFlags[] = {"--psi-bins",        "--mmd-features",
                                                           "--mmd-sigma",       "--mmd-max-rows",
                                                           "--mmd-standardize", "--categorical"};
    for (const auto name : kReferenceFlags) {
      if (flag == name) o.reference_flags.emplace_back(flag);
    }
    if (flag == "--reference")
      o.reference = v;
    else if (flag == "--current")
      o.current = v;
    else if (flag == "--format")
      o.format = parse_choice<ReportFormat>(flag, v,
                                            {{"json", ReportFormat::kJson},
                                             {"text", ReportFormat::kText},
                                             {"both", ReportFormat::kBoth}});
    else if (flag == "--output")
      o.output = v;
    else if (flag == "--tests") {
      parse_tests(v, e.tests);
      tests_given = true;
    } else if (flag == "--p-value") {
      e.alpha = parse_double(flag, v);
      if (!(e.alpha > 0.0 && e.alpha < 1.0)) throw UsageError("--p-value: must be in (0, 1)");
    } else if (flag == "--correction")
      e.correction = parse_choice<Correction>(flag, v,
                                              {{"none", Correction::kNone},
                                               {"bonferroni", Correction::kBonferroni},
                                               {"fdr", Correction::kFdr}});
    else if (flag == "--ks-method")
      e.ks_method = parse_choice<KsMethod>(
          flag, v,
          {{"auto", KsMethod::kAuto}, {"exact", KsMethod::kExact}, {"asymp", KsMethod::kAsymp}});
    else if (flag == "--psi-bins") {
      const auto bins = parse_count(flag, v, 2);
      if (bins > 1000) throw UsageError("--psi-bins: at most 1000");
      o.psi_bins = static_cast<int>(bins);
    } else if (flag == "--psi-binning")
      e.psi_binning = parse_choice<PsiBinning>(
          flag, v, {{"quantile", PsiBinning::kQuantile}, {"evidently", PsiBinning::kEvidently}});
    else if (flag == "--psi-threshold") {
      e.psi_threshold = parse_double(flag, v);
      if (e.psi_threshold < 0.0) throw UsageError("--psi-threshold: must not be negative");
    } else if (flag == "--mmd-features") {
      o.mmd_features = split_list(v);
      if (o.mmd_features.empty()) throw UsageError("--mmd-features: the list is empty");
    } else if (flag == "--mmd-permutations")
      e.mmd_permutations = parse_count(flag, v, 1);
    else if (flag == "--mmd-sigma") {
      if (v == "median")
        o.mmd_sigma.reset();
      else {
        o.mmd_sigma = parse_double(flag, v);
        if (*o.mmd_sigma <= 0.0) throw UsageError("--mmd-sigma: must be positive or 'median'");
      }
    } else if (flag == "--mmd-max-rows")
      o.mmd_max_rows = parse_count(flag, v, 2);
    else if (flag == "--mmd-standardize")
      o.mmd_standardize = parse_bool(flag, v);
    else if (flag == "--min-effect")
      parse_min_effect(v, e.min_effect);
    else if (flag == "--min-rows")
      e.min_rows = parse_count(flag, v, 1);
    else if (flag == "--categorical")
      o.categorical = split_list(v);
    else if (flag == "--seed")
      e.seed = parse_count(flag, v, 0);
    else if (flag == "--save-profile")
      o.save_profile = v;
    else if (flag == "--backend") {
      if (v != "auto" && v != "cpu" && v != "gpu") {
        throw UsageError("--backend: expected auto|cpu|gpu, not '" + std::string(v) + "'");
      }
      o.backend = v;
    } else if (flag == "--threads")
      o.threads = static_cast<int>(parse_count(flag, v, 1));
    else
      throw UsageError("unknown option '" + std::string(flag) + "'");
  }
  if (o.reference.empty()) throw UsageError("--reference is required");
  if (o.current.empty()) throw UsageError("--current is required");
  if (o.format == ReportFormat::kBoth && o.output.empty()) {
    throw UsageError("--format both: give --output FILE for the JSON (the text goes to stdout)");
  }
  // MMD runs when asked for, or when its features are named.
  if (!o.mmd_features.empty()) {
    if (!tests_given) o.evaluation.tests = TestSelection{true, true, true, true};
    o.evaluation.tests.mmd = true;
  }
  return o;
}

}  // namespace drift::daemon
