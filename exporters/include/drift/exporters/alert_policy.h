#pragma once
/// The alert policy: per model, a pure state machine fed with one evaluation result at a time
/// and the evaluation's time (injected, ms since the epoch). It emits a FIRING event when drift
/// persists and a RESOLVED event when it has cleared. No I/O, no clock, no threads: one object
/// per model, driven by one thread at a time (not thread-safe), checkpointed with save/restore.
///
/// A window drifts for the policy (judge_window) when
///   - its feature rule holds: of the features with at least one counted test present
///     ("counted features"), those with at least one counted test drifting number at least
///     `min_drifted_features` and make up at least `min_drifted_share` of the counted features;
///   - or MMD counts, ran, and drifts.
/// Tests that `on` excludes are ignored entirely, as are tests that did not run.
///
/// States and transitions (d: the window drifts, c: it is clean). "Calm" is kOk before the
/// first firing and kResolved after it. Cooldown is over when the policy never fired or
/// now_ms - (time of the last FIRING event) >= cooldown.
///   calm     d: the drifting streak becomes 1 (then as for kPending d)
///   kPending d: streak + 1; when streak >= consecutive and the cooldown is over -> kFiring,
///               FIRING event (a new episode); otherwise stay kPending, no event (the streak
///               keeps growing, so a drift that outlasts the cooldown fires at its first window
///               after the cooldown)
///   kPending c: -> calm, the streak is forgotten (flapping never fires with consecutive > 1)
///   kFiring  d: stay, no event; a clean streak in progress is forgotten
///   kFiring  c: clean streak + 1; when it reaches resolve_after -> kResolved, RESOLVED event;
///               otherwise stay kFiring (still firing, no event)
///   calm     c: stay, no event
///
/// Episodes. A FIRING event opens an episode; its RESOLVED event closes it with the same
/// episode_start_ms and reference_version. episode_start_ms = align(max(since, previous firing
/// time + cooldown)) where since is the time of the first window of the drifting streak (the
/// max only applies after a previous firing) and align(t) = floor(t / cooldown) * cooldown
/// (t itself when cooldown is 0). Replicas that see the same drift compute the same value unless
/// their first drifting windows straddle a grid line; two episodes of one policy never share it
/// when cooldown > 0.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drift/detectors/binary_codec.h"
#include "drift/detectors/evaluation.h"

namespace drift::exporters {

/// A test the policy can count.
enum class AlertTest : std::uint8_t { kKs, kPsi, kChi2, kMmd };

/// "ks", "psi", "chi2", "mmd".
std::string_view test_name(AlertTest test);
/// The inverse of test_name; nullopt for any other string.
std::optional<AlertTest> parse_test_name(std::string_view name);

/// Which tests count towards drift (the config's `on`).
struct TestSet {
  bool ks = true;
  bool psi = true;
  bool chi2 = true;
  bool mmd = true;

  bool contains(AlertTest test) const;
  bool any() const { return ks || psi || chi2 || mmd; }
};

/// The config's `policy` block.
struct AlertPolicyConfig {
  std::uint32_t consecutive = 1;           ///< drifting windows in a row to fire, >= 1
  std::uint32_t resolve_after = 1;         ///< clean windows in a row to resolve, >= 1
  std::chrono::milliseconds cooldown{0};   ///< from one FIRING event to the next episode, >= 0
  TestSet on;                              ///< at least one test
  std::uint32_t min_drifted_features = 1;  ///< >= 1
  double min_drifted_share = 0.0;          ///< of the counted features, in [0, 1]

  /// Throws std::invalid_argument whose message starts with the offending field's name.
  void validate() const;
};

/// One counted test that drifted.
struct DriftedTest {
  AlertTest test = AlertTest::kKs;
  double statistic = 0.0;
  std::optional<double> p_value;    ///< none for PSI
  std::optional<double> threshold;  ///< corrected p cutoff (ks, chi2), PSI's; none for MMD
};

/// A feature with at least one counted test drifting.
struct DriftedFeature {
  std::string name;
  std::vector<DriftedTest> tests;  ///< in the order ks, psi, chi2
};

/// What the policy makes of one evaluation result.
struct WindowVerdict {
  bool drift = false;                    ///< the policy's verdict (see the file comment)
  std::size_t counted_features = 0;      ///< features with at least one counted test present
  std::vector<DriftedFeature> features;  ///< drifted features, in the result's order
  std::optional<DriftedTest> mmd;        ///< present when MMD counts, ran and drifted
  bool dataset_drift = false;            ///< the detectors' own verdict (any test, counted or not)
};

/// Judges one window under `config` (not validated here).
WindowVerdict judge_window(const EvaluationResult& result, const AlertPolicyConfig& config);

/// floor(t_ms / cooldown) * cooldown, exact for every t_ms (t_ms itself when cooldown <= 0; the
/// lowest multiple that fits when the floor does not).
std::int64_t align_to_cooldown(std::int64_t t_ms, std::chrono::milliseconds cooldown);

enum class AlertState : std::uint8_t { kOk, kPending, kFiring, kResolved };

/// "ok", "pending", "firing", "resolved".
std::string_view state_name(AlertState state);

enum class AlertEventKind : std::uint8_t { kFiring, kResolved };

/// "firing", "resolved".
std::string_view event_kind_name(AlertEventKind kind);

/// What step() emits. Times are ms since the epoch.
struct AlertEvent {
  AlertEventKind kind = AlertEventKind::kFiring;
  std::string model;
  std::string reference_version;      ///< the episode's: as set when it fired
  std::int64_t episode_start_ms = 0;  ///< cooldown-aligned (file comment); same in both events
  std::int64_t since_ms = 0;          ///< first window of the streak that caused the event
  std::int64_t at_ms = 0;             ///< the window that caused it (step's now_ms)
  std::uint64_t windows = 0;          ///< length of that streak (drifting, or clean for RESOLVED)
  WindowVerdict verdict;              ///< of the window that caused it
};

/// The state machine of one model.
class AlertPolicy {
 public:
  /// Throws std::invalid_argument when config.validate() does.
  AlertPolicy(std::string model, AlertPolicyConfig config, std::string reference_version = {});

  /// Feeds one evaluation made at `now_ms`; returns the event it causes, if any. Times should
  /// not decrease; if they do, a new firing only waits longer.
  std::optional<AlertEvent> step(const EvaluationResult& result, std::int64_t now_ms);

  /// The reference version that later FIRING events carry (an open episode keeps its own).
  void set_reference_version(std::string version) { reference_version_ = std::move(version); }

  const std::string& model() const { return model_; }
  const std::string& reference_version() const { return reference_version_; }
  const AlertPolicyConfig& config() const { return config_; }

  AlertState state() const { return m_.state; }
  /// True while firing (resolving included): the firing gauge.
  bool firing() const { return m_.state == AlertState::kFiring; }
  /// Windows seen since entering the current state (0 before the first window).
  std::uint64_t windows_in_state() const { return m_.windows_in_state; }
  /// The current episode's (while firing) or the last one's; nullopt before any firing.
  std::optional<std::int64_t> episode_start_ms() const;
  /// Time of the last FIRING event; nullopt before any.
  std::optional<std::int64_t> last_fired_ms() const;

  /// Checkpoint form (a format version, the model, the state; not the config, so a restarted
  /// daemon may change it). restore() throws FormatError on bytes that are not a policy state of
  /// this model, and then leaves the policy unchanged.
  void save(BinaryWriter& out) const;
  void restore(BinaryReader& in);

 private:
  struct Memory {
    AlertState state = AlertState::kOk;
    std::uint64_t drift_streak = 0;  ///< drifting windows in a row (0 after a clean one)
    std::uint64_t clean_streak = 0;  ///< clean windows in a row (0 after a drifting one)
    std::uint64_t windows_in_state = 0;
    std::int64_t drift_since_ms = 0;  ///< first window of the drifting streak
    std::int64_t clean_since_ms = 0;  ///< first window of the clean streak
    bool fired = false;
    std::int64_t last_fired_ms = 0;
    std::int64_t episode_start_ms = 0;
    std::string episode_reference_version;
  };

  bool cooldown_over(std::int64_t now_ms) const;
  void enter(AlertState next);
  AlertState calm() const { return m_.fired ? AlertState::kResolved : AlertState::kOk; }
  AlertEvent event(AlertEventKind kind, std::int64_t since_ms, std::int64_t now_ms,
                   std::uint64_t windows, WindowVerdict verdict) const;

  std::string model_;
  AlertPolicyConfig config_;
  std::string reference_version_;
  Memory m_;  ///< everything save() writes besides the model
};

}  // namespace drift::exporters
