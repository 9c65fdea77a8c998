#include "drift/daemon/check_command.h"

#include <tbb/global_control.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include "check_report.h"
#include "drift/daemon/profile_file.h"
#include "drift/daemon/table.h"
#include "drift/detectors/reference_profile.h"
#include "drift/gpu/gpu_backend.h"

namespace drift::daemon {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  if (!out) throw std::runtime_error("cannot write " + path);
}

ProfileOptions profile_options(const CheckOptions& o, const Table& reference) {
  ProfileOptions p;
  p.psi_bins = o.psi_bins;
  p.build_mmd = o.evaluation.tests.mmd;
  p.mmd.features = o.mmd_features;
  if (p.build_mmd && p.mmd.features.empty()) {
    // `--tests mmd` without a list: every numeric feature.
    for (const auto& column : reference.columns) {
      if (column.kind == FeatureKind::kNumeric) p.mmd.features.push_back(column.name);
    }
  }
  p.mmd.standardize = o.mmd_standardize;
  p.mmd.max_rows = o.mmd_max_rows;
  p.mmd.sigma = o.mmd_sigma;
  p.mmd.seed = o.evaluation.seed;
  return p;
}

}  // namespace

int run_check(const CheckOptions& options, std::ostream& out, std::ostream& err) {
  std::optional<tbb::global_control> threads;
  if (options.threads > 0) {
    threads.emplace(tbb::global_control::max_allowed_parallelism,
                    static_cast<std::size_t>(options.threads));
  }
  try {
    std::unique_ptr<Backend> backend =
        gpu::select_backend(gpu::parse_backend_choice(options.backend));

    CheckTiming timing;
    ReadOptions read;
    read.categorical = options.categorical;
    read.threads = options.threads;
    std::optional<ReferenceProfile> profile;
    std::uint64_t reference_rows = 0;
    if (looks_like_profile_file(options.reference)) {
      if (!options.reference_flags.empty()) {
        err << "driftd check: " << options.reference_flags.front()
            << " shapes a reference profile and cannot apply to the saved profile "
            << options.reference << "; rebuild the profile with it instead\n";
        return kExitUsage;
      }
      const auto profile_start = Clock::now();
      profile = read_profile_file(options.reference);
      timing.profile_ms = ms_since(profile_start);
      reference_rows = profile->rows();
      for (const auto& feature : profile->features())
        read.expected_kinds[feature.name] = feature.kind;
      if (options.evaluation.tests.mmd && !profile->mmd()) {
        throw std::runtime_error("the profile " + options.reference +
                                 " was built without MMD; rebuild it with --tests mmd");
      }
    }
    const auto read_start = Clock::now();
    std::optional<Table> reference;
    if (!profile) {
      reference = read_table(options.reference, read);
      reference_rows = reference->rows;
      for (const auto& column : reference->columns) read.expected_kinds[column.name] = column.kind;
    }
    const Table current = read_table(options.current, read);
    timing.read_ms = ms_since(read_start);

    if (!profile) {
      const auto profile_start = Clock::now();
      profile = ReferenceProfile::build(reference->view(), profile_options(options, *reference));
      timing.profile_ms = ms_since(profile_start);
    }
    if (!options.save_profile.empty()) write_profile_file(options.save_profile, *profile);

    const auto tests_start = Clock::now();
    EvaluationResult result = backend->evaluate(*profile, current.view(), options.evaluation);
    result.reference_rows = reference_rows;
    result.current_rows = current.rows;
    timing.tests_ms = ms_since(tests_start);

    const std::string json = render_json(result, timing);
    switch (options.format) {
      case ReportFormat::kJson:
        if (options.output.empty())
          out << json;
        else
          write_file(options.output, json);
        break;
      case ReportFormat::kText:
        if (options.output.empty())
          out << render_text(result, timing);
        else
          write_file(options.output, render_text(result, timing));
        break;
      case ReportFormat::kBoth:
        out << render_text(result, timing);
        write_file(options.output, json);
        break;
    }
    out.flush();
    return options.fail_on_drift && result.drift ? kExitDrift : kExitOk;
  } catch (const std::exception& e) {
    err << "driftd check: " << e.what() << "\n";
    return kExitError;
  }
}

int check_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  CheckOptions options;
  try {
    options = parse_check_options(args);
  } catch (const UsageError& e) {
    if (std::string_view(e.what()) == "help") {
      out << check_usage();
      return kExitOk;
    }
    err << "driftd check: " << e.what() << "\n"
        << "run 'driftd check --help' for usage\n";
    return kExitUsage;
  }
  return run_check(options, out, err);
}

}  // namespace drift::daemon
