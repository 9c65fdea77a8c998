// The GPU backend: validation and every statistic's arithmetic on the host with the detectors'
// code, the counting on the device (device_engine.cu). Any DeviceError sends the evaluation to
// the CPU backend.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "device_engine.h"
#include "drift/detectors/backend_support.h"
#include "drift/detectors/mmd.h"
#include "drift/detectors/psi.h"
#include "drift/gpu/gpu_backend.h"
#include "gpu_backend_impl.h"
#include "mmd_tiles.h"
#include "tiling.h"

namespace drift::gpu {

namespace {

std::atomic<std::uint64_t> g_fallbacks{0};

std::mutex& sink_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::function<void(std::string_view)>& sink() {
  static std::function<void(std::string_view)> s = [](std::string_view line) {
    std::cerr << line << '\n';
  };
  return s;
}

void warn(const std::string& line) {
  const std::lock_guard lock(sink_mutex());
  sink()(line);
}

class GpuBackend final : public Backend {
 public:
  GpuBackend(std::unique_ptr<detail::Engine> engine, bool auto_mode)
      : engine_(std::move(engine)), auto_mode_(auto_mode), cpu_(make_cpu_backend()) {}

  std::string_view name() const override { return "gpu"; }

  EvaluationResult evaluate(const ReferenceProfile& profile, const SampleView& current,
                            const EvaluationConfig& config) const override {
    return evaluate(profile, current, config, WindowOrigin{});
  }

  EvaluationResult evaluate(const ReferenceProfile& profile, const SampleView& current,
                            const EvaluationConfig& config,
                            const WindowOrigin& origin) const override {
    // Untestable input is an InputError on every backend, never a fallback.
    const std::vector<const ColumnView*> columns = match_columns(profile, current);
    if (auto_mode_ && !auto_prefers_gpu(estimate_work(profile, current, config))) {
      return cpu_->evaluate(profile, current, config);
    }
    // Evidently binning needs the pooled min/max and per-value bins: not on the device yet.
    if (config.tests.psi && config.psi_binning == PsiBinning::kEvidently) {
      return cpu_->evaluate(profile, current, config);
    }
    try {
      const std::lock_guard lock(mutex_);
      return evaluate_on_device(profile, current, config, columns, origin);
    } catch (const detail::DeviceError& e) {
      g_fallbacks.fetch_add(1, std::memory_order_relaxed);
      warn(std::string("driftd: GPU evaluation failed, evaluating on the CPU: ") + e.what());
      return cpu_->evaluate(profile, current, config);
    }
  }

 private:
  EvaluationResult evaluate_on_device(const ReferenceProfile& profile, const SampleView& current,
                                      const EvaluationConfig& config,
                                      const std::vector<const ColumnView*>& columns,
                                      const WindowOrigin& origin) const {
    const auto& features = profile.features();
    EvaluationResult result = result_skeleton(profile, columns, "gpu");

    std::vector<detail::NumericReference> references(features.size());
    std::vector<const float*> values(features.size(), nullptr);
    std::vector<std::size_t> rows(features.size(), 0);
    bool any_numeric = false;
    for (std::size_t k = 0; k < features.size(); ++k) {
      const FeatureProfile& feature = features[k];
      if (feature.kind != FeatureKind::kNumeric) continue;
      any_numeric = true;
      references[k] = {feature.numeric.sorted.data(), feature.numeric.sorted.size(),
                       feature.numeric.inner_edges.data(), feature.numeric.inner_edges.size()};
      values[k] = columns[k]->values.data();
      rows[k] = columns[k]->values.size();
    }

    if (any_numeric) {
      engine_->load_reference(detail::profile_key(profile), references);
      engine_->upload_window(values, rows, origin.stream, origin.end);
      const detail::NumericOutput counts = engine_->run_numeric(config.tests.ks, config.tests.psi);
      for (std::size_t k = 0; k < features.size(); ++k) {
        if (features[k].kind != FeatureKind::kNumeric) continue;
        finish_numeric(features[k], counts, k, rows[k], config, result.features[k]);
      }
    }
    for (std::size_t k = 0; k < features.size(); ++k) {
      if (features[k].kind == FeatureKind::kCategorical) {
        evaluate_categorical(features[k], *columns[k], config, result.features[k]);
      }
    }

    if (config.tests.mmd) {
      if (!profile.mmd()) throw InputError("MMD was requested but the profile has no MMD part");
      const MmdReference& reference = *profile.mmd();
      const RowMatrixF prepared =
          prepare_current(reference, current, config.seed, profile.options().mmd.max_rows);
      const RowMatrixF* loaded = nullptr;
      const mmd_detail::SumsProvider device = [&](const RowMatrixF& pooled, double sigma,
                                                  const mmd_detail::Indicators& a, bool float64) {
        if (loaded != &pooled) {
          engine_->load_pooled(pooled.data(), static_cast<std::size_t>(pooled.rows()),
                               static_cast<std::size_t>(pooled.cols()));
          loaded = &pooled;
        }
        const auto n = static_cast<std::size_t>(a.rows());
        const auto c = static_cast<std::size_t>(a.cols());
        const detail::MmdSums sums =
            engine_->mmd_sums(sigma, tiling::pack_indicator_bits(a.data(), n, c), c, float64);
        mmd_detail::BatchedSums out;
        out.within = sums.within;
        out.cross = sums.cross;
        out.total = sums.total;
        return out;
      };
      result.mmd.emplace();
      result.mmd->features = reference.features;
      result.mmd->result = mmd_detail::permutation_test_with(
          reference.rows, prepared, reference.sigma, config.mmd_permutations, config.seed,
          mmd_detail::Precision::kValidated, device);
    }
    decide(result, config);
    return result;
  }

  static void finish_numeric(const FeatureProfile& feature, const detail::NumericOutput& counts,
                             std::size_t k, std::size_t size, const EvaluationConfig& config,
                             FeatureResult& out) {
    const std::uint64_t m = counts.finite[k];
    out.missing_current = size - m;
    out.rows_current = m;
    require_rows(feature.name, out.rows_reference, out.rows_current, config.min_rows);
    const std::span<const float> reference = feature.numeric.sorted;
    const std::uint64_t n = reference.size();
    if (config.tests.ks) {
      // D = max |U·m - (j+1)·n| / (n·m), the CPU rank walk's integer divided the same way.
      const double d = static_cast<double>(counts.ks_scaled[k]) /
                       (static_cast<double>(n) * static_cast<double>(m));
      out.ks.emplace();
      out.ks->result = ks_p_value(d, n, m, config.ks_method);
    }
    if (config.tests.psi) {
      // The reference's shares are in its profile; the device counted the window's bins.
      const std::span<const double> shares = feature.numeric.proportions;
      out.psi.emplace();
      out.psi->result = psi_quantile_counts(
          feature.numeric.inner_edges, shares,
          std::span<const std::uint64_t>(counts.bin_counts).subspan(counts.bin_offsets[k],
                                                                    shares.size()),
          m);
    }
  }

  mutable std::mutex mutex_;
  std::unique_ptr<detail::Engine> engine_;
  bool auto_mode_;
  std::unique_ptr<Backend> cpu_;
};

}  // namespace

namespace detail {

std::unique_ptr<Backend> make_gpu_backend(std::unique_ptr<Engine> engine, bool auto_mode) {
  return std::make_unique<GpuBackend>(std::move(engine), auto_mode);
}

std::uint64_t profile_key(const ReferenceProfile& profile) {
  // Each built or deserialized profile has its own id (copies, being equal, share it).
  return profile.instance_id();
}

}  // namespace detail

WorkSize estimate_work(const ReferenceProfile& profile, const SampleView& current,
                       const EvaluationConfig& config) {
  WorkSize work;
  if (config.tests.ks || config.tests.psi) {
    for (const FeatureProfile& feature : profile.features()) {
      if (feature.kind != FeatureKind::kNumeric) continue;
      if (const ColumnView* column = current.find(feature.name)) work.numeric_values += column->size();
    }
  }
  if (config.tests.mmd && profile.mmd()) {
    const std::uint64_t n = static_cast<std::uint64_t>(profile.mmd()->rows.rows());
    std::uint64_t m = 0;
    if (!current.columns.empty()) {
      const ColumnView* first = current.find(profile.mmd()->features.empty()
                                                 ? std::string_view{}
                                                 : std::string_view{profile.mmd()->features[0]});
      m = first != nullptr ? first->size() : 0;
    }
    m = std::min<std::uint64_t>(m, profile.options().mmd.max_rows);
    const std::uint64_t total = n + m;
    work.mmd_products = total * total * (config.mmd_permutations + 1);
  }
  return work;
}

bool auto_prefers_gpu(const WorkSize& work) {
  return work.numeric_values >= kAutoMinNumericValues || work.mmd_products >= kAutoMinMmdProducts;
}

std::uint64_t gpu_fallback_count() { return g_fallbacks.load(std::memory_order_relaxed); }

std::uint64_t gpu_memory_in_use() { return detail::device_bytes_in_use(); }

void set_warning_sink(std::function<void(std::string_view)> sink_function) {
  const std::lock_guard lock(sink_mutex());
  sink() = std::move(sink_function);
}

}  // namespace drift::gpu
