#include "drift/exporters/alert_policy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

namespace drift::exporters {

namespace {

constexpr std::uint32_t kFormatVersion = 1;
constexpr std::int64_t kMinTime = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMaxTime = std::numeric_limits<std::int64_t>::max();

std::int64_t saturating_add(std::int64_t a, std::int64_t b_non_negative) {
  return a > kMaxTime - b_non_negative ? kMaxTime : a + b_non_negative;
}

// Counters come from checkpoints too, so a crafted one must not wrap them to 0.
void saturating_increment(std::uint64_t& n) {
  if (n != std::numeric_limits<std::uint64_t>::max()) ++n;
}

std::string to_string_double(double v) {
  if (std::isnan(v)) return "nan";
  return std::to_string(v);
}

}  // namespace

std::string_view test_name(AlertTest test) {
  switch (test) {
    case AlertTest::kKs:
      return "ks";
    case AlertTest::kPsi:
      return "psi";
    case AlertTest::kChi2:
      return "chi2";
    case AlertTest::kMmd:
      return "mmd";
  }
  return "unknown";
}

std::optional<AlertTest> parse_test_name(std::string_view name) {
  for (const AlertTest t : {AlertTest::kKs, AlertTest::kPsi, AlertTest::kChi2, AlertTest::kMmd}) {
    if (name == test_name(t)) return t;
  }
  return std::nullopt;
}

bool TestSet::contains(AlertTest test) const {
  switch (test) {
    case AlertTest::kKs:
      return ks;
    case AlertTest::kPsi:
      return psi;
    case AlertTest::kChi2:
      return chi2;
    case AlertTest::kMmd:
      return mmd;
  }
  return false;
}

void AlertPolicyConfig::validate() const {
  if (consecutive < 1) {
    throw std::invalid_argument("consecutive must be at least 1 (got " +
                                std::to_string(consecutive) + ")");
  }
  if (resolve_after < 1) {
    throw std::invalid_argument("resolve_after must be at least 1 (got " +
                                std::to_string(resolve_after) + ")");
  }
  if (cooldown.count() < 0) {
    throw std::invalid_argument("cooldown must not be negative (got " +
                                std::to_string(cooldown.count()) + " ms)");
  }
  if (!on.any()) throw std::invalid_argument("on must name at least one test");
  if (min_drifted_features < 1) {
    throw std::invalid_argument("min_drifted_features must be at least 1 (got " +
                                std::to_string(min_drifted_features) + ")");
  }
  if (!(min_drifted_share >= 0.0 && min_drifted_share <= 1.0)) {
    throw std::invalid_argument("min_drifted_share must be in [0, 1] (got " +
                                to_string_double(min_drifted_share) + ")");
  }
}

WindowVerdict judge_window(const EvaluationResult& result, const AlertPolicyConfig& config) {
  WindowVerdict verdict;
  verdict.dataset_drift = result.drift;
  for (const FeatureResult& f : result.features) {
    bool counted = false;
    DriftedFeature drifted;
    if (config.on.ks && f.ks) {
      counted = true;
      if (f.ks->drift) {
        drifted.tests.push_back(
            {AlertTest::kKs, f.ks->result.statistic, f.ks->result.p_value, f.ks->threshold});
      }
    }
    if (config.on.psi && f.psi) {
      counted = true;
      if (f.psi->drift) {
        drifted.tests.push_back(
            {AlertTest::kPsi, f.psi->result.statistic, std::nullopt, f.psi->threshold});
      }
    }
    if (config.on.chi2 && f.chi2) {
      counted = true;
      if (f.chi2->drift) {
        drifted.tests.push_back({AlertTest::kChi2, f.chi2->result.statistic, f.chi2->result.p_value,
                                 f.chi2->threshold});
      }
    }
    if (counted) ++verdict.counted_features;
    if (!drifted.tests.empty()) {
      drifted.name = f.name;
      verdict.features.push_back(std::move(drifted));
    }
  }
  const std::size_t n = verdict.features.size();
  // Division, not multiplication: a share of exactly min_drifted_share rounds to the same double.
  const bool feature_rule =
      n >= config.min_drifted_features && verdict.counted_features > 0 &&
      static_cast<double>(n) / static_cast<double>(verdict.counted_features) >=
          config.min_drifted_share;
  if (config.on.mmd && result.mmd && result.mmd->drift) {
    verdict.mmd = DriftedTest{AlertTest::kMmd, result.mmd->result.statistic,
                              result.mmd->result.p_value, std::nullopt};
  }
  verdict.drift = feature_rule || verdict.mmd.has_value();
  return verdict;
}

std::int64_t align_to_cooldown(std::int64_t t_ms, std::chrono::milliseconds cooldown) {
  const std::int64_t step = static_cast<std::int64_t>(cooldown.count());
  if (step <= 0) return t_ms;
  const std::int64_t toward_zero = t_ms - t_ms % step;  // between 0 and t_ms: cannot overflow
  if (toward_zero <= t_ms) return toward_zero;
  // A negative time off the grid: the floor is one step lower, when that fits.
  return toward_zero < kMinTime + step ? toward_zero : toward_zero - step;
}

std::string_view state_name(AlertState state) {
  switch (state) {
    case AlertState::kOk:
      return "ok";
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
    case AlertState::kResolved:
      return "resolved";
  }
  return "unknown";
}

std::string_view event_kind_name(AlertEventKind kind) {
  return kind == AlertEventKind::kFiring ? "firing" : "resolved";
}

AlertPolicy::AlertPolicy(std::string model, AlertPolicyConfig config, std::string reference_version)
    : model_(std::move(model)), config_(config), reference_version_(std::move(reference_version)) {
  config_.validate();
}

std::optional<std::int64_t> AlertPolicy::episode_start_ms() const {
  if (!m_.fired) return std::nullopt;
  return m_.episode_start_ms;
}

std::optional<std::int64_t> AlertPolicy::last_fired_ms() const {
  if (!m_.fired) return std::nullopt;
  return m_.last_fired_ms;
}

bool AlertPolicy::cooldown_over(std::int64_t now_ms) const {
  const std::int64_t cooldown = static_cast<std::int64_t>(config_.cooldown.count());
  if (!m_.fired || cooldown == 0) return true;
  if (now_ms < m_.last_fired_ms) return false;
  // The difference of two int64 fits in uint64 when it is non-negative.
  const std::uint64_t elapsed =
      static_cast<std::uint64_t>(now_ms) - static_cast<std::uint64_t>(m_.last_fired_ms);
  return elapsed >= static_cast<std::uint64_t>(cooldown);
}

void AlertPolicy::enter(AlertState next) {
  if (next == m_.state) {
    saturating_increment(m_.windows_in_state);
  } else {
    m_.state = next;
    m_.windows_in_state = 1;
  }
}

AlertEvent AlertPolicy::event(AlertEventKind kind, std::int64_t since_ms, std::int64_t now_ms,
                              std::uint64_t windows, WindowVerdict verdict) const {
  AlertEvent e;
  e.kind = kind;
  e.model = model_;
  e.reference_version = m_.episode_reference_version;
  e.episode_start_ms = m_.episode_start_ms;
  e.since_ms = since_ms;
  e.at_ms = now_ms;
  e.windows = windows;
  e.verdict = std::move(verdict);
  return e;
}

std::optional<AlertEvent> AlertPolicy::step(const EvaluationResult& result, std::int64_t now_ms) {
  WindowVerdict verdict = judge_window(result, config_);
  if (verdict.drift) {
    if (m_.drift_streak == 0) m_.drift_since_ms = now_ms;
    saturating_increment(m_.drift_streak);
    m_.clean_streak = 0;
  } else {
    if (m_.clean_streak == 0) m_.clean_since_ms = now_ms;
    saturating_increment(m_.clean_streak);
    m_.drift_streak = 0;
  }

  if (m_.state == AlertState::kFiring) {
    if (!verdict.drift && m_.clean_streak >= config_.resolve_after) {
      enter(AlertState::kResolved);
      return event(AlertEventKind::kResolved, m_.clean_since_ms, now_ms, m_.clean_streak,
                   std::move(verdict));
    }
    enter(AlertState::kFiring);
    return std::nullopt;
  }

  // kOk, kPending, kResolved.
  if (!verdict.drift) {
    enter(calm());
    return std::nullopt;
  }
  if (m_.drift_streak < config_.consecutive || !cooldown_over(now_ms)) {
    enter(AlertState::kPending);
    return std::nullopt;
  }
  std::int64_t start = m_.drift_since_ms;
  if (m_.fired) {
    // Never before the previous episode's cooldown ends, so two episodes never share a start.
    start = std::max(start, saturating_add(m_.last_fired_ms,
                                           static_cast<std::int64_t>(config_.cooldown.count())));
  }
  m_.fired = true;
  m_.last_fired_ms = now_ms;
  m_.episode_start_ms = align_to_cooldown(start, config_.cooldown);
  m_.episode_reference_version = reference_version_;
  enter(AlertState::kFiring);
  return event(AlertEventKind::kFiring, m_.drift_since_ms, now_ms, m_.drift_streak,
               std::move(verdict));
}

void AlertPolicy::save(BinaryWriter& out) const {
  out.scalar<std::uint32_t>(kFormatVersion);
  out.text(model_);
  out.scalar<std::uint8_t>(static_cast<std::uint8_t>(m_.state));
  out.scalar<std::uint64_t>(m_.drift_streak);
  out.scalar<std::uint64_t>(m_.clean_streak);
  out.scalar<std::uint64_t>(m_.windows_in_state);
  out.scalar<std::int64_t>(m_.drift_since_ms);
  out.scalar<std::int64_t>(m_.clean_since_ms);
  out.scalar<std::uint8_t>(m_.fired ? 1 : 0);
  out.scalar<std::int64_t>(m_.last_fired_ms);
  out.scalar<std::int64_t>(m_.episode_start_ms);
  out.text(m_.episode_reference_version);
}

void AlertPolicy::restore(BinaryReader& in) {
  const auto version = in.scalar<std::uint32_t>();
  if (version != kFormatVersion) {
    in.fail("alert policy format version " + std::to_string(version) + " is not " +
            std::to_string(kFormatVersion));
  }
  const std::string model = in.text();
  if (model != model_) {
    in.fail("the alert policy state is model '" + model + "'s, not '" + model_ + "'s");
  }
  Memory m;
  const auto state = in.scalar<std::uint8_t>();
  if (state > static_cast<std::uint8_t>(AlertState::kResolved)) {
    in.fail("unknown alert state " + std::to_string(state));
  }
  m.state = static_cast<AlertState>(state);
  m.drift_streak = in.scalar<std::uint64_t>();
  m.clean_streak = in.scalar<std::uint64_t>();
  m.windows_in_state = in.scalar<std::uint64_t>();
  m.drift_since_ms = in.scalar<std::int64_t>();
  m.clean_since_ms = in.scalar<std::int64_t>();
  const auto fired = in.scalar<std::uint8_t>();
  if (fired > 1) in.fail("the alert policy's fired flag is " + std::to_string(fired));
  m.fired = fired == 1;
  m.last_fired_ms = in.scalar<std::int64_t>();
  m.episode_start_ms = in.scalar<std::int64_t>();
  m.episode_reference_version = in.text();

  // The invariants step() keeps; anything else is not a state this policy could have reached.
  bool consistent = false;
  switch (m.state) {
    case AlertState::kOk:
      consistent = !m.fired && m.drift_streak == 0 && m.windows_in_state == m.clean_streak;
      break;
    case AlertState::kPending:
      consistent =
          m.drift_streak >= 1 && m.clean_streak == 0 && m.windows_in_state == m.drift_streak;
      break;
    case AlertState::kFiring:
      consistent = m.fired && (m.drift_streak == 0) != (m.clean_streak == 0) &&
                   m.windows_in_state > m.clean_streak;
      break;
    case AlertState::kResolved:
      consistent = m.fired && m.drift_streak == 0 && m.windows_in_state >= 1 &&
                   m.windows_in_state <= m.clean_streak;
      break;
  }
  if (!consistent) {
    in.fail("the alert policy's counters do not fit state '" + std::string(state_name(m.state)) +
            "'");
  }
  m_ = std::move(m);
}

}  // namespace drift::exporters
