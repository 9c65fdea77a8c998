#include "server/pipeline.h"
#include "ingest/text_and_time.h"

#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "check_report.h"
#include "drift/daemon/profile_file.h"
#include "drift/daemon/table.h"
#include "drift/exporters/webhook_signing.h"

namespace drift::daemon {

namespace {

using Clock = std::chrono::steady_clock;


std::filesystem::path bootstrap_path(const Config& config, const std::string& model) {
  return config.state.dir / "references" / (model + ".profile");
}

}  // namespace

bool source_needs_headers(const Config& config, std::string_view source) {
  for (const auto& s : config.sources) {
    if (s.name == source && s.format != RecordFormat::kFlat) return true;
  }
  for (const auto& model : config.models) {
    const bool fed = model.sources.empty() ||
                     std::find(model.sources.begin(), model.sources.end(), source) !=
                         model.sources.end();
    if (fed && model.match.kind == MatchRule::Kind::kHeader) return true;
  }
  return false;
}

exporters::AlertPolicyConfig to_policy_config(const AlertPolicySettings& settings) {
  exporters::AlertPolicyConfig config;
  config.consecutive = settings.consecutive;
  config.resolve_after = settings.resolve_after;
  config.cooldown = std::chrono::milliseconds(settings.cooldown.count());
  config.on.ks = settings.on_ks;
  config.on.psi = settings.on_psi;
  config.on.chi2 = settings.on_chi2;
  config.on.mmd = settings.on_mmd;
  config.min_drifted_features = settings.min_drifted_features;
  config.min_drifted_share = settings.min_drifted_share;
  return config;
}

std::filesystem::path api_reference_path(const Config& config, std::string_view model) {
  std::string name(model);
  name += ".api.profile";
  return config.state.dir / "references" / name;
}

namespace {

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(text);
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

}  // namespace

struct Pipeline::Model {
  Model(ModelConfig c, std::uint64_t time_window_max_rows)
      : config(std::move(c)),
        window(config.features, config.window, time_window_max_rows),
        policy(config.name, to_policy_config(config.alert_policy)) {}

  ModelConfig config;
  mutable std::mutex mutex;
  ModelWindow window;
  std::optional<ModelWindow> bootstrap;
  std::shared_ptr<const ReferenceProfile> profile;
  std::string reference_origin;
  std::uint64_t accepted = 0;
  std::array<std::uint64_t, kRejectReasons> rejected{};
  std::uint64_t evaluations = 0;
  std::uint64_t skipped = 0;
  std::uint64_t failed = 0;
  std::string last_error;
  std::string last_json;
  std::uint64_t last_position = 0;
  std::int64_t last_ms = 0;
  std::string version;          ///< the model version of the newest row (version pointer)
  bool version_known = false;
  std::uint64_t version_changes = 0;
  std::map<std::string, ModelReport::SourceCounts, std::less<>> by_source;
  /// Stepped by the evaluator only; committed under both jobs_mutex_ and `mutex`, so a
  /// checkpoint holds exactly the steps of the evaluations it does not hold as pending.
  exporters::AlertPolicy policy;
  /// The reference version of the profile with instance id `versioned` (hashing a large
  /// profile is done once per profile; 0: none yet).
  std::uint64_t versioned = 0;
  /// Bumped whenever `window` is replaced: its rows then start a new stream (WindowOrigin).
  std::uint64_t window_epoch = 0;
  std::string reference_version;
};

namespace {

// A model with a version pointer is decoded with one more, hidden, categorical column: the
// version, after the model's own categorical features (windows ignore the extra column).
constexpr std::string_view kVersionColumn = "__version__";

ModelConfig with_version_column(ModelConfig model) {
  if (!model.version_pointer.empty()) {
    model.features.push_back({std::string(kVersionColumn), model.version_pointer,
                              FeatureKind::kCategorical, FeatureOrigin::kRecord});
  }
  return model;
}

// The rows that become a bootstrapped reference: a tumbling count window of N rows whose one
// evaluation point is the moment the reference is complete.
ModelWindow bootstrap_window(const ModelConfig& model) {
  WindowConfig collect;
  collect.size = std::max<std::uint64_t>(1, model.reference.bootstrap);
  collect.slide = collect.size;
  return ModelWindow(model.features, collect, 0);
}

std::size_t categorical_count(const ModelConfig& model) {
  return static_cast<std::size_t>(std::count_if(model.features.begin(), model.features.end(), [](const auto& f) {
    return f.kind == FeatureKind::kCategorical;
  }));
}

}  // namespace

struct Pipeline::SourceDecoder {
  SourceDecoder(std::vector<std::size_t> indices, std::vector<ModelConfig> models,
                RecordFormat format)
      : model_indices(std::move(indices)), decoder(std::move(models), format) {}
  std::vector<std::size_t> model_indices;  ///< decoder's model k -> pipeline's model
  Decoder decoder;
  /// A delivered batch, decoded (reused: deliver() runs on this source's thread only). Part 0
  /// holds the blocks the source's thread decoded, from the front; part 1 + b the block b a
  /// oneTBB worker decoded, from the back (see decode_batch).
  struct Part {
    std::vector<DecodedRows> rows;  ///< per model
    DecodeCounts counts;
  };
  std::vector<Part> parts;
  std::unique_ptr<std::atomic<std::uint8_t>[]> block_owner;  ///< per block: a BlockOwner
  std::size_t block_capacity = 0;
  tbb::task_group helper;

  /// Decodes a batch; the parts to append, in stream order.
  std::span<const Part> decode_batch(std::span<const RawRecord> records);
};

namespace {

/// Who decodes a block of a batch (SourceDecoder::block_owner).
enum BlockOwner : std::uint8_t { kUnclaimed, kSourceThread, kHelper };

}  // namespace

std::span<const Pipeline::SourceDecoder::Part> Pipeline::SourceDecoder::decode_batch(
    std::span<const RawRecord> records) {
  // Decoding is most of the per-record work. The source's thread decodes the batch block by
  // block from the front while a oneTBB worker, when one gets a core, takes blocks from the
  // back; they meet where they meet. The source's thread never waits for a worker that has
  // not started (the sources share the cores with librdkafka's threads, which often hold
  // the other one): at most for the one block a worker is in the middle of. (An even split
  // into one chunk per core made the source's thread wait for the other half whenever the
  // worker was not scheduled in time.) Rows are appended in stream order either way.
  static const auto cores = static_cast<std::size_t>(tbb::info::default_concurrency());
  constexpr std::size_t kMinBlock = 64;
  constexpr std::size_t kMaxBlocks = 32;
  const std::size_t n = records.size();
  const std::size_t block = std::max(kMinBlock, (n + kMaxBlocks - 1) / kMaxBlocks);
  const std::size_t blocks = n == 0 ? 0 : (n + block - 1) / block;
  const auto block_records = [&](std::size_t b) {
    const std::size_t begin = b * block;
    return records.subspan(begin, std::min(block, n - begin));
  };
  if (parts.size() < blocks + 1) parts.resize(blocks + 1);
  const auto start = [](SourceDecoder::Part& part) {  // keeps the buffers
    for (auto& rows : part.rows) rows.clear();
    std::fill(part.counts.accepted_rows.begin(), part.counts.accepted_rows.end(), 0);
    for (auto& reasons : part.counts.rejected) reasons.fill(0);
    part.counts.unmatched.fill(0);
  };
  start(parts[0]);
  if (blocks < 2 || cores < 2) {
    decoder.decode(records, parts[0].rows, parts[0].counts);
    return std::span<const SourceDecoder::Part>(parts.data(), 1);
  }
  if (block_capacity < blocks) {
    block_owner = std::make_unique<std::atomic<std::uint8_t>[]>(blocks);
    block_capacity = blocks;
  }
  std::atomic<std::uint8_t>* const owner = block_owner.get();
  for (std::size_t b = 0; b < blocks; ++b) owner[b].store(kUnclaimed, std::memory_order_relaxed);
  helper.run([this, &block_records, owner, blocks, start] {
    for (std::size_t b = blocks; b-- > 1;) {
      std::uint8_t unclaimed = kUnclaimed;
      if (!owner[b].compare_exchange_strong(unclaimed, kHelper, std::memory_order_acq_rel)) break;
      SourceDecoder::Part& part = parts[1 + b];
      start(part);
      decoder.decode(block_records(b), part.rows, part.counts);
    }
  });
  std::size_t mine = 0;
  try {
    for (; mine < blocks; ++mine) {
      std::uint8_t unclaimed = kUnclaimed;
      if (!owner[mine].compare_exchange_strong(unclaimed, kSourceThread,
                                               std::memory_order_acq_rel)) {
        break;  // the worker has this block and all after it
      }
      decoder.decode(block_records(mine), parts[0].rows, parts[0].counts);
    }
  } catch (...) {
    try {
      helper.wait();  // its task reads this frame
    } catch (...) {
    }
    throw;
  }
  // Returns at once when the worker never started (this thread then runs its task, which
  // finds nothing left); otherwise waits for its current block.
  helper.wait();
  // The worker's blocks (all after this thread's: it took them from the back), in stream
  // order next to part 0.
  for (std::size_t b = mine; b < blocks; ++b) std::swap(parts[1 + b - mine], parts[1 + b]);
  return std::span<const SourceDecoder::Part>(parts.data(), 1 + blocks - mine);
}


Pipeline::Pipeline(Config config, std::unique_ptr<Backend> backend, Options options)
    : config_(std::move(config)), backend_(std::move(backend)), options_(options) {
  for (const auto& model : config_.models) {
    models_.push_back(std::make_unique<Model>(model, options_.time_window_max_rows));
  }
  for (const auto& source : config_.sources) {
    std::vector<std::size_t> indices;
    std::vector<ModelConfig> fed;
    for (std::size_t m = 0; m < config_.models.size(); ++m) {
      const auto& names = config_.models[m].sources;
      if (names.empty() || std::find(names.begin(), names.end(), source.name) != names.end()) {
        indices.push_back(m);
        fed.push_back(with_version_column(config_.models[m]));
      }
    }
    decoders_.emplace(source.name, std::make_unique<SourceDecoder>(std::move(indices),
                                                                   std::move(fed), source.format));
  }
  pending_.assign(models_.size(), 0);
  evaluator_ = std::thread([this] {
    name_this_thread("evaluator");
    evaluator_loop();
  });
}

Pipeline::~Pipeline() {
  {
    const std::lock_guard lock(jobs_mutex_);
    stopping_ = true;
  }
  jobs_changed_.notify_all();
  evaluator_.join();
}

std::shared_ptr<const ReferenceProfile> Pipeline::profile_from_table(std::string_view model_name,
                                                                     const Table& table) const {
  const auto it = std::find_if(models_.begin(), models_.end(),
                               [&](const auto& m) { return m->config.name == model_name; });
  if (it == models_.end()) throw InputError("unknown model '" + std::string(model_name) + "'");
  const ModelConfig& model = (*it)->config;
  const SampleView all = table.view();
  SampleView view;
  for (const auto& feature : model.features) {
    const ColumnView* column = all.find(feature.name);
    if (column == nullptr) throw InputError("the reference has no column '" + feature.name + "'");
    if (column->kind != feature.kind) {
      throw InputError("the reference column '" + feature.name + "' is not " +
                       (feature.kind == FeatureKind::kNumeric ? "numeric" : "categorical"));
    }
    view.columns.push_back(*column);
  }
  return std::make_shared<const ReferenceProfile>(ReferenceProfile::build(view, model.profile));
}

std::shared_ptr<const ReferenceProfile> Pipeline::load_reference_file(const ModelConfig& model,
                                                                      std::size_t index) const {
  const std::string key = "models[" + std::to_string(index) + "].reference.file";
  try {
    if (looks_like_profile_file(model.reference.file)) {
      auto profile = std::make_shared<const ReferenceProfile>(read_profile_file(model.reference.file));
      for (const auto& feature : model.features) {
        const FeatureProfile* f = profile->find(feature.name);
        if (f == nullptr || f->kind != feature.kind) {
          throw InputError("the profile has no " +
                           std::string(feature.kind == FeatureKind::kNumeric ? "numeric" : "categorical") +
                           " feature '" + feature.name + "'");
        }
      }
      if (model.evaluation.tests.mmd && !profile->mmd()) {
        throw InputError("the profile was built without MMD, which this model tests");
      }
      return profile;
    }
    ReadOptions read;
    for (const auto& feature : model.features) read.expected_kinds[feature.name] = feature.kind;
    return profile_from_table(model.name, read_table(model.reference.file, read));
  } catch (const std::exception& e) {
    throw ConfigError(key + ": " + model.reference.file.string() + ": " + e.what());
  }
}

void Pipeline::load_references() {
  for (std::size_t m = 0; m < models_.size(); ++m) {
    Model& model = *models_[m];
    const std::lock_guard lock(model.mutex);
    // A reference posted to the API outlives restarts until it is reset.
    const auto posted = api_reference_path(config_, model.config.name);
    if (std::filesystem::exists(posted)) {
      try {
        model.profile = std::make_shared<const ReferenceProfile>(read_profile_file(posted));
        model.reference_origin = "api";
        continue;
      } catch (const std::exception& e) {
        log_line(LogLevel::kError, "references",
                 "the posted reference of model '" + model.config.name + "' is unusable (" +
                     e.what() + "); using the configured one");
      }
    }
    if (!model.config.reference.file.empty()) {
      model.profile = load_reference_file(model.config, m);
      model.reference_origin = "file";
      continue;
    }
    const auto saved = bootstrap_path(config_, model.config.name);
    if (std::filesystem::exists(saved)) {
      try {
        model.profile = std::make_shared<const ReferenceProfile>(read_profile_file(saved));
        model.reference_origin = "bootstrap";
        continue;
      } catch (const std::exception& e) {
        log_line(LogLevel::kError, "references",
                 "bootstrapped reference of model '" + model.config.name + "' is unusable (" +
                     e.what() + "); bootstrapping again");
      }
    }
    model.bootstrap.emplace(bootstrap_window(model.config));
  }
}

void Pipeline::reload_references() {
  for (std::size_t m = 0; m < models_.size(); ++m) {
    const ModelConfig& config = models_[m]->config;
    if (config.reference.file.empty()) continue;
    try {
      set_reference(config.name, load_reference_file(config, m), "file");
      log_line(LogLevel::kInfo, "references", "reloaded the reference of model '" + config.name + "'");
    } catch (const std::exception& e) {
      log_line(LogLevel::kError, "references",
               std::string("reload failed, keeping the previous reference: ") + e.what());
    }
  }
}

void Pipeline::reset_reference(std::string_view model_name) {
  for (std::size_t m = 0; m < models_.size(); ++m) {
    Model& model = *models_[m];
    if (model.config.name != model_name) continue;
    std::error_code ec;
    std::filesystem::remove(api_reference_path(config_, model.config.name), ec);
    if (!model.config.reference.file.empty()) {
      set_reference(model_name, load_reference_file(model.config, m), "file");
      return;
    }
    std::filesystem::remove(bootstrap_path(config_, model.config.name), ec);
    const std::lock_guard lock(model.mutex);
    model.profile.reset();
    model.reference_origin.clear();
    model.bootstrap.emplace(bootstrap_window(model.config));
    return;
  }
  throw InputError("unknown model '" + std::string(model_name) + "'");
}

void Pipeline::set_reference(std::string_view model_name,
                             std::shared_ptr<const ReferenceProfile> profile, std::string origin) {
  for (const auto& model : models_) {
    if (model->config.name != model_name) continue;
    const std::lock_guard lock(model->mutex);
    model->profile = std::move(profile);
    model->reference_origin = std::move(origin);
    model->bootstrap.reset();
    return;
  }
  throw InputError("unknown model '" + std::string(model_name) + "'");
}

void Pipeline::finish_bootstrap(Model& model, const WindowSnapshot& rows) {
  auto profile = std::make_shared<const ReferenceProfile>(
      ReferenceProfile::build(rows.table.view(), model.config.profile));
  const auto path = bootstrap_path(config_, model.config.name);
  std::filesystem::create_directories(path.parent_path());
  write_profile_file(path, *profile);
  model.profile = std::move(profile);
  model.reference_origin = "bootstrap";
  model.bootstrap.reset();
  log_line(LogLevel::kInfo, "references",
           "model '" + model.config.name + "' bootstrapped its reference from " +
               std::to_string(rows.table.rows) + " rows");
}

void Pipeline::append(std::size_t model_index, const DecodedRows& rows,
                      std::vector<WindowSnapshot>& due) {
  Model& model = *models_[model_index];
  if (!model.config.version_pointer.empty()) {
    // Split the rows where the version changes; each change starts the model afresh.
    const auto& versions = rows.categorical[categorical_count(model.config)];
    std::size_t begin = 0;
    for (std::size_t r = 0; r < rows.rows(); ++r) {
      const CategoryRef& ref = versions[r];
      const std::string_view version =
          ref.length == CategoryRef::kMissingLength ? std::string_view() : rows.category(ref);
      if (model.version_known && version == model.version) continue;
      if (r > begin) append_rows(model_index, slice_rows(rows, begin, r), due);
      if (model.version_known) restart_for_version(model, version);
      model.version = version;
      model.version_known = true;
      begin = r;
    }
    if (begin == 0) {
      append_rows(model_index, rows, due);
    } else if (begin < rows.rows()) {
      append_rows(model_index, slice_rows(rows, begin, rows.rows()), due);
    }
    return;
  }
  append_rows(model_index, rows, due);
}

void Pipeline::restart_for_version(Model& model, std::string_view version) {
  ++model.version_changes;
  log_line(LogLevel::kInfo, "pipeline",
           cat("model '", model.config.name, "' changed version from '", model.version, "' to '",
               version, "': the window starts empty",
               model.config.reference.bootstrap > 0 ? " and the reference is bootstrapped again"
                                                     : ""));
  model.window = ModelWindow(model.config.features, model.config.window,
                             options_.time_window_max_rows);
  ++model.window_epoch;
  if (model.config.reference.bootstrap > 0 && model.reference_origin != "api") {
    std::error_code ec;
    std::filesystem::remove(bootstrap_path(config_, model.config.name), ec);
    model.profile.reset();
    model.reference_origin.clear();
    model.bootstrap.emplace(bootstrap_window(model.config));
  }
}

void Pipeline::append_rows(std::size_t model_index, const DecodedRows& rows,
                           std::vector<WindowSnapshot>& due) {
  Model& model = *models_[model_index];
  std::size_t begin = 0;
  if (model.bootstrap) {
    const std::uint64_t wanted = model.config.reference.bootstrap - model.bootstrap->counters().appended;
    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(wanted, rows.rows()));
    std::vector<WindowSnapshot> complete;
    model.bootstrap->append(take == rows.rows() ? rows : slice_rows(rows, 0, take), complete);
    if (!complete.empty()) finish_bootstrap(model, complete.front());
    begin = take;
  }
  if (begin == rows.rows()) return;
  std::vector<WindowSnapshot> reached;
  model.window.append(begin == 0 ? rows : slice_rows(rows, begin, rows.rows()), reached);
  for (auto& snapshot : reached) {
    // Without a reference (still bootstrapping) there is nothing to compare with.
    if (!model.profile) {
      ++model.skipped;
    } else {
      if (!model.config.window.time_based()) {
        // Model and window epoch: unique within this process, and never 0.
        snapshot.stream = (std::uint64_t{model_index + 1} << 40) | (model.window_epoch & 0xffffffffffULL);
      }
      due.push_back(std::move(snapshot));
    }
  }
}

void Pipeline::enqueue(std::size_t model_index, WindowSnapshot snapshot, bool wait) {
  {
    std::unique_lock lock(jobs_mutex_);
    if (wait) {
      jobs_changed_.wait(lock, [&] {
        return stopping_ || pending_[model_index] < options_.max_pending_evaluations;
      });
    }
    ++pending_[model_index];
    jobs_.push_back({model_index, std::make_shared<WindowSnapshot>(std::move(snapshot))});
  }
  jobs_changed_.notify_all();
}

void Pipeline::deliver(std::string_view source, std::span<const RawRecord> records,
                       std::span<const SourcePosition> positions) {
  const auto it = decoders_.find(source);
  if (it == decoders_.end()) {
    rate_limited_.warn(source, "pipeline", "records from an unknown source were dropped");
    return;
  }
  SourceDecoder& sd = *it->second;
  const std::shared_lock gate(ingest_gate_);
  const std::span<const SourceDecoder::Part> parts = sd.decode_batch(records);
  DecodeCounts counts;
  counts.accepted_rows.assign(sd.model_indices.size(), 0);
  counts.rejected.assign(sd.model_indices.size(), {});
  for (const auto& part : parts) {
    for (std::size_t k = 0; k < part.counts.accepted_rows.size() && k < counts.accepted_rows.size();
         ++k) {
      counts.accepted_rows[k] += part.counts.accepted_rows[k];
      for (std::size_t r = 0; r < kRejectReasons; ++r) {
        counts.rejected[k][r] += part.counts.rejected[k][r];
      }
    }
    for (std::size_t r = 0; r < kRejectReasons; ++r) counts.unmatched[r] += part.counts.unmatched[r];
  }
  if (dead_letter_sink_ && dead_letter_sources_.contains(source)) {
    std::uint64_t bad = 0;
    for (std::size_t k = 0; k < counts.rejected.size(); ++k) {
      for (const auto r : counts.rejected[k]) bad += r;
    }
    for (const auto r : counts.unmatched) bad += r;
    if (bad > 0) dead_letter(source, sd, records);
  }
  std::vector<WindowSnapshot> due;
  for (std::size_t k = 0; k < sd.model_indices.size(); ++k) {
    const std::size_t m = sd.model_indices[k];
    Model& model = *models_[m];
    std::unique_lock lock(model.mutex);
    model.accepted += counts.accepted_rows[k];
    for (std::size_t r = 0; r < kRejectReasons; ++r) model.rejected[r] += counts.rejected[k][r];
    auto per_source = model.by_source.find(source);
    if (per_source == model.by_source.end()) {
      per_source = model.by_source.emplace(std::string(source), ModelReport::SourceCounts{}).first;
    }
    per_source->second.accepted += counts.accepted_rows[k];
    for (std::size_t r = 0; r < kRejectReasons; ++r) {
      per_source->second.rejected[r] += counts.rejected[k][r];
    }
    for (const auto& part : parts) {
      if (k >= part.rows.size() || part.rows[k].rows() == 0) continue;
      try {
        append(m, part.rows[k], due);
      } catch (const std::exception& e) {
        // A failed bootstrap build or profile write must not stop ingestion.
        model.last_error = e.what();
        rate_limited_.warn(model.config.name, "pipeline", e.what());
      }
    }
    lock.unlock();
    for (auto& snapshot : due) enqueue(m, std::move(snapshot), true);
    due.clear();
  }
  {
    const std::lock_guard lock(unmatched_mutex_);
    auto mine_it = unmatched_by_source_.find(source);
    if (mine_it == unmatched_by_source_.end()) {
      mine_it = unmatched_by_source_.emplace(std::string(source), decltype(unmatched_){}).first;
    }
    auto& mine = mine_it->second;
    for (std::size_t r = 0; r < kRejectReasons; ++r) {
      unmatched_[r] += counts.unmatched[r];
      mine[r] += counts.unmatched[r];
    }
  }
  const std::lock_guard lock(positions_mutex_);
  for (const auto& p : positions) positions_[{p.source, p.stream}] = p.offset;
}

void Pipeline::set_dead_letter_sink(std::set<std::string, std::less<>> sources,
                                    DeadLetterSink sink) {
  dead_letter_sources_ = std::move(sources);
  dead_letter_sink_ = std::move(sink);
}

void Pipeline::dead_letter(std::string_view source, SourceDecoder& sd,
                           std::span<const RawRecord> records) {
  // Rare path (a batch with bad records): decode each record alone to tell which ones no model
  // used, and why.
  std::vector<DecodedRows> scratch;
  for (const RawRecord& record : records) {
    DecodeCounts one;
    sd.decoder.decode(std::span<const RawRecord>(&record, 1), scratch, one);
    std::uint64_t accepted = 0;
    for (const auto a : one.accepted_rows) accepted += a;
    if (accepted > 0) continue;
    std::size_t worst = kRejectReasons;
    for (std::size_t r = 0; r < kRejectReasons && worst == kRejectReasons; ++r) {
      bool seen = one.unmatched[r] > 0;
      for (const auto& per_model : one.rejected) seen = seen || per_model[r] > 0;
      if (seen) worst = r;
    }
    if (worst < kRejectReasons) dead_letter_sink_(source, record, static_cast<RejectReason>(worst));
  }
}

void Pipeline::evaluator_loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(jobs_mutex_);
      jobs_changed_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = jobs_.front();
      jobs_.pop_front();
      running_ = job;
    }
    evaluate(job);  // clears running_ and the pending count
    jobs_changed_.notify_all();
  }
}

namespace {

/// The alert policy's time for a snapshot (EvaluationReport::at_ms).
std::int64_t policy_time_ms(const WindowSnapshot& snapshot) {
  if (snapshot.boundary_ms != 0) return snapshot.boundary_ms;
  if (snapshot.last_row_ms != 0) return snapshot.last_row_ms;
  return wall_clock_ms();
}


}  // namespace

void Pipeline::evaluate(Job& job) {
  Model& model = *models_[job.model];
  std::shared_ptr<const ReferenceProfile> profile;
  exporters::AlertPolicy policy = model.policy;  // only this thread steps or writes it
  std::string reference_version;
  std::string model_version;
  {
    const std::lock_guard lock(model.mutex);
    profile = model.profile;
    if (profile && model.versioned == profile->instance_id()) {
      reference_version = model.reference_version;
    }
    model_version = model.version;
  }
  if (reference_version.empty() && profile) {
    reference_version = exporters::sha256_hex(profile->serialize()).substr(0, 16);
  }
  const auto start = Clock::now();
  std::string json;
  std::string error;
  std::optional<exporters::AlertEvent> alert;
  std::int64_t finished_ms = 0;  // one reading for the report, /v1/models and metrics
  try {
    EvaluationResult result =
        backend_->evaluate(*profile, job.snapshot->table.view(), model.config.evaluation,
                           WindowOrigin{job.snapshot->stream, job.snapshot->position});
    result.reference_rows = profile->rows();
    result.current_rows = job.snapshot->table.rows;
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    CheckTiming timing;
    timing.tests_ms = seconds * 1000.0;
    json = render_json(result, timing);
    if (!json.empty() && json.back() == '\n') json.pop_back();
    const std::int64_t at_ms = policy_time_ms(*job.snapshot);
    policy.set_reference_version(reference_version);
    alert = policy.step(result, at_ms);
    finished_ms = wall_clock_ms();
    if (observer_ != nullptr) {
      const EvaluationReport report{model.config,    result,
                                    seconds,         finished_ms,
                                    at_ms,           reference_version,
                                    model_version,   job.snapshot->table.rows,
                                    job.snapshot->first_row_ms,
                                    job.snapshot->last_row_ms,
                                    policy,          alert,
                                    *profile,        job.snapshot->table};
      observer_->evaluated(report);
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  // One commit with the pending bookkeeping: a checkpoint sees this evaluation either as
  // pending (and the policy before it) or as done (and the policy after it).
  {
    const std::lock_guard jobs_lock(jobs_mutex_);
    const std::lock_guard lock(model.mutex);
    running_.reset();
    --pending_[job.model];
    // Nobody else can take a reference now (checkpoints copy them from jobs_ and running_
    // under jobs_mutex_): the window may reuse the table's buffers.
    if (job.snapshot.use_count() == 1) model.window.recycle(std::move(job.snapshot->table));
    if (!error.empty()) {
      ++model.failed;
      model.last_error = error;
    } else {
      ++model.evaluations;
      model.last_json = std::move(json);
      model.last_position = job.snapshot->position;
      model.last_ms = finished_ms;
      model.policy = std::move(policy);
      model.versioned = profile->instance_id();
      model.reference_version = reference_version;
    }
  }
  if (!error.empty()) {
    rate_limited_.warn(model.config.name, "evaluator", "model '" + model.config.name + "': " + error);
  }
}

void Pipeline::drain_evaluations() {
  std::unique_lock lock(jobs_mutex_);
  jobs_changed_.wait(lock, [this] { return jobs_.empty() && !running_; });
}

std::string Pipeline::capture(std::vector<SourcePosition>& positions) {
  const std::unique_lock gate(ingest_gate_);
  BinaryWriter out;
  out.scalar<std::uint64_t>(models_.size());
  for (std::size_t m = 0; m < models_.size(); ++m) {
    const Model& model = *models_[m];
    // Each model is its own blob, so one that no longer fits the config cannot spoil the rest.
    BinaryWriter part;
    // The evaluator commits under both locks (evaluate()): the model's state, its alert policy
    // and its pending snapshots are read from one instant.
    const std::lock_guard jobs_lock(jobs_mutex_);
    std::vector<std::shared_ptr<const WindowSnapshot>> pending;
    BinaryWriter trailer;
    {
      const std::lock_guard lock(model.mutex);
      model.window.save(part);
      part.scalar<std::uint8_t>(model.bootstrap ? 1 : 0);
      if (model.bootstrap) model.bootstrap->save(part);
      part.scalar<std::uint64_t>(model.accepted);
      for (const auto r : model.rejected) part.scalar<std::uint64_t>(r);
      for (const std::uint64_t v : {model.evaluations, model.skipped, model.failed, model.last_position}) {
        part.scalar<std::uint64_t>(v);
      }
      part.scalar<std::int64_t>(model.last_ms);
      part.text(model.last_json);
      part.scalar<std::uint8_t>(model.version_known ? 1 : 0);
      part.text(model.version);
      part.scalar<std::uint64_t>(model.version_changes);
      // Added after the first format: read only when present (older checkpoints end before).
      trailer.scalar<std::uint8_t>(1);
      model.policy.save(trailer);
      trailer.scalar<std::uint64_t>(model.by_source.size());
      for (const auto& [source, counts] : model.by_source) {
        trailer.text(source);
        trailer.scalar<std::uint64_t>(counts.accepted);
        for (const auto r : counts.rejected) trailer.scalar<std::uint64_t>(r);
      }
    }
    // Snapshots taken but not yet evaluated: a restart evaluates them again.
    if (running_ && running_->model == m) pending.push_back(running_->snapshot);
    for (const auto& job : jobs_) {
      if (job.model == m) pending.push_back(job.snapshot);
    }
    for (const auto& snapshot : pending) trailer.scalar<std::int64_t>(snapshot->first_row_ms);
    part.scalar<std::uint64_t>(pending.size());
    for (const auto& snapshot : pending) {
      part.scalar<std::uint64_t>(snapshot->position);
      part.scalar<std::int64_t>(snapshot->boundary_ms);
      part.scalar<std::int64_t>(snapshot->last_row_ms);
      save_table(part, snapshot->table);
    }
    part.bytes() += trailer.bytes();
    out.text(model.config.name);
    out.text(part.bytes());
  }
  {
    const std::lock_guard lock(unmatched_mutex_);
    for (const auto count : unmatched_) out.scalar<std::uint64_t>(count);
  }
  const std::lock_guard lock(positions_mutex_);
  out.scalar<std::uint64_t>(positions_.size());
  positions.clear();
  for (const auto& [key, offset] : positions_) {
    out.text(key.first);
    out.text(key.second);
    out.scalar<std::int64_t>(offset);
    positions.push_back({key.first, key.second, offset});
  }
  // Added after the first format (read only when present): unmatched records per source.
  const std::lock_guard unmatched_lock(unmatched_mutex_);
  out.scalar<std::uint64_t>(unmatched_by_source_.size());
  for (const auto& [source, counts] : unmatched_by_source_) {
    out.text(source);
    for (const auto c : counts) out.scalar<std::uint64_t>(c);
  }
  return std::move(out.bytes());
}

void Pipeline::restore(std::span<const std::byte> payload) {
  BinaryReader in(payload, "checkpoint");
  std::vector<std::pair<std::size_t, WindowSnapshot>> restored;
  const std::size_t model_count = in.count(16);
  for (std::size_t k = 0; k < model_count; ++k) {
    const std::string name = in.text();
    const std::string blob = in.text();
    const auto it = std::find_if(models_.begin(), models_.end(),
                                 [&](const auto& m) { return m->config.name == name; });
    if (it == models_.end()) {
      log_line(LogLevel::kWarning, "checkpoint", "model '" + name + "' is no longer configured");
      continue;
    }
    Model& model = **it;
    const std::size_t index = static_cast<std::size_t>(it - models_.begin());
    const std::lock_guard lock(model.mutex);
    try {
      BinaryReader part(as_bytes(blob), "checkpoint of model '" + name + "'");
      model.window.restore(part);
      const bool bootstrapping = part.scalar<std::uint8_t>() != 0;
      if (bootstrapping && model.bootstrap) {
        model.bootstrap->restore(part);
      } else if (bootstrapping) {
        // The reference is ready now (a file, or a bootstrap that finished): skip that state.
        bootstrap_window(model.config).restore(part);
      }
      model.accepted = part.scalar<std::uint64_t>();
      for (auto& r : model.rejected) r = part.scalar<std::uint64_t>();
      model.evaluations = part.scalar<std::uint64_t>();
      model.skipped = part.scalar<std::uint64_t>();
      model.failed = part.scalar<std::uint64_t>();
      model.last_position = part.scalar<std::uint64_t>();
      model.last_ms = part.scalar<std::int64_t>();
      model.last_json = part.text();
      model.version_known = part.scalar<std::uint8_t>() != 0;
      model.version = part.text();
      model.version_changes = part.scalar<std::uint64_t>();
      const std::size_t pending = part.count(8);
      for (std::size_t p = 0; p < pending; ++p) {
        WindowSnapshot snapshot;
        snapshot.position = part.scalar<std::uint64_t>();
        snapshot.boundary_ms = part.scalar<std::int64_t>();
        snapshot.last_row_ms = part.scalar<std::int64_t>();
        snapshot.table = load_table(part);
        restored.push_back({index, std::move(snapshot)});
      }
      const std::size_t restored_here = pending;
      if (!part.done() && part.scalar<std::uint8_t>() == 1) {
        // The window is fine: a bad alert state or per-source count only restarts those.
        try {
          model.policy.restore(part);
          const std::size_t sources = part.count(8);
          for (std::size_t s = 0; s < sources; ++s) {
            auto& counts = model.by_source[part.text()];
            counts.accepted = part.scalar<std::uint64_t>();
            for (auto& r : counts.rejected) r = part.scalar<std::uint64_t>();
          }
          // The pending snapshots' oldest row times (webhook events carry them).
          for (std::size_t p = restored.size() - restored_here; p < restored.size(); ++p) {
            restored[p].second.first_row_ms = part.scalar<std::int64_t>();
          }
        } catch (const FormatError& e) {
          log_line(LogLevel::kWarning, "checkpoint",
                   std::string(e.what()) + "; model '" + name + "' alert state starts fresh");
        }
      }
    } catch (const FormatError& e) {
      log_line(LogLevel::kError, "checkpoint",
               std::string(e.what()) + "; model '" + name + "' starts with an empty window");
      model.window = ModelWindow(model.config.features, model.config.window,
                                 options_.time_window_max_rows);
      ++model.window_epoch;
    }
  }
  {
    const std::lock_guard lock(unmatched_mutex_);
    for (auto& count : unmatched_) count = in.scalar<std::uint64_t>();
  }
  for (auto& [index, snapshot] : restored) enqueue(index, std::move(snapshot), false);
  const std::size_t position_count = in.count(24);
  const std::lock_guard lock(positions_mutex_);
  for (std::size_t k = 0; k < position_count; ++k) {
    std::string source = in.text();
    std::string stream = in.text();
    const auto offset = in.scalar<std::int64_t>();
    positions_[{std::move(source), std::move(stream)}] = offset;
  }
  if (!in.done()) {
    const std::lock_guard unmatched_lock(unmatched_mutex_);
    const std::size_t sources = in.count(8);
    for (std::size_t k = 0; k < sources; ++k) {
      auto& counts = unmatched_by_source_[in.text()];
      for (auto& c : counts) c = in.scalar<std::uint64_t>();
    }
  }
}

std::vector<SourcePosition> Pipeline::positions_of(std::string_view source) const {
  std::vector<SourcePosition> out;
  const std::lock_guard lock(positions_mutex_);
  for (const auto& [key, offset] : positions_) {
    if (key.first == source) out.push_back({key.first, key.second, offset});
  }
  return out;
}

std::vector<ModelReport> Pipeline::reports() const {
  std::vector<ModelReport> out;
  for (const auto& model : models_) {
    const std::lock_guard lock(model->mutex);
    ModelReport r;
    r.name = model->config.name;
    r.reference_ready = model->profile != nullptr;
    r.reference_rows = model->profile ? model->profile->rows() : 0;
    r.reference_origin = model->reference_origin;
    r.bootstrap_rows = model->bootstrap ? model->bootstrap->size() : 0;
    r.current_rows = model->window.size();
    r.records_accepted = model->accepted;
    r.rejected_by_reason = model->rejected;
    for (const auto v : model->rejected) r.records_rejected += v;
    r.window = model->window.counters();
    r.evaluations = model->evaluations;
    r.evaluations_skipped = model->skipped;
    r.evaluations_failed = model->failed;
    r.last_error = model->last_error;
    r.last_evaluation_json = model->last_json;
    r.last_evaluation_position = model->last_position;
    r.last_evaluation_ms = model->last_ms;
    r.version = model->version;
    r.version_changes = model->version_changes;
    r.alert_state = model->policy.state();
    r.alert_firing = model->policy.firing();
    r.reference_version = model->reference_version;
    r.by_source = model->by_source;
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<std::string> Pipeline::window_csv(std::string_view model_name) const {
  for (const auto& model : models_) {
    if (model->config.name != model_name) continue;
    WindowSnapshot rows;
    {
      const std::lock_guard lock(model->mutex);
      rows = model->window.contents();
    }
    std::string csv = "row";
    for (const auto& column : rows.table.columns) csv += "," + csv_field(column.name);
    csv += "\n";
    char number[32];
    for (std::size_t r = 0; r < rows.table.rows; ++r) {
      csv += std::to_string(r);
      for (const auto& column : rows.table.columns) {
        csv += ',';
        if (column.kind == FeatureKind::kNumeric) {
          const float v = column.values[r];
          if (std::isfinite(v)) {
            std::snprintf(number, sizeof number, "%.9g", static_cast<double>(v));
            csv += number;
          }
        } else if (column.codes[r] != kMissingCode) {
          csv += csv_field(column.dictionary[column.codes[r]]);
        }
      }
      csv += "\n";
    }
    return csv;
  }
  return std::nullopt;
}

bool Pipeline::references_ready() const {
  return std::all_of(models_.begin(), models_.end(), [](const auto& model) {
    const std::lock_guard lock(model->mutex);
    return model->profile != nullptr;
  });
}

std::map<std::string, std::array<std::uint64_t, kRejectReasons>, std::less<>>
Pipeline::unmatched_by_source() const {
  const std::lock_guard lock(unmatched_mutex_);
  return unmatched_by_source_;
}

std::array<std::uint64_t, kRejectReasons> Pipeline::unmatched() const {
  const std::lock_guard lock(unmatched_mutex_);
  return unmatched_;
}

}  // namespace drift::daemon
