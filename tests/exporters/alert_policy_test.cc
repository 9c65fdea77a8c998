// The alert policy state machine (exporters/include/drift/exporters/alert_policy.h), fed with
// hand-built evaluation results and explicit times.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "drift/detectors/binary_codec.h"
#include "drift/detectors/evaluation.h"
#include "drift/exporters/alert_policy.h"

namespace {

using drift::EvaluationResult;
using drift::FeatureResult;
using drift::exporters::AlertEvent;
using drift::exporters::AlertEventKind;
using drift::exporters::AlertPolicy;
using drift::exporters::AlertPolicyConfig;
using drift::exporters::AlertState;
using drift::exporters::AlertTest;
using namespace std::chrono_literals;

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kT0 = 1'700'000'000'000;  // 2023-11-14T22:13:20Z, on no 30-minute line

FeatureResult numeric(std::string name, bool ks_drift, bool psi_drift = false) {
  FeatureResult f;
  f.name = std::move(name);
  f.kind = drift::FeatureKind::kNumeric;
  drift::KsOutcome ks;
  ks.result.statistic = ks_drift ? 0.4 : 0.01;
  ks.result.p_value = ks_drift ? 1e-6 : 0.8;
  ks.threshold = 0.025;
  ks.drift = ks_drift;
  f.ks = ks;
  drift::PsiOutcome psi;
  psi.result.statistic = psi_drift ? 0.5 : 0.01;
  psi.threshold = 0.2;
  psi.drift = psi_drift;
  f.psi = psi;
  return f;
}

FeatureResult categorical(std::string name, bool chi2_drift) {
  FeatureResult f;
  f.name = std::move(name);
  f.kind = drift::FeatureKind::kCategorical;
  drift::Chi2Outcome chi2;
  chi2.result.statistic = chi2_drift ? 31.2 : 1.0;
  chi2.result.p_value = chi2_drift ? 4e-4 : 0.6;
  chi2.threshold = 0.025;
  chi2.drift = chi2_drift;
  f.chi2 = chi2;
  return f;
}

EvaluationResult result_of(std::vector<FeatureResult> features,
                           std::optional<bool> mmd_drift = std::nullopt) {
  EvaluationResult r;
  r.features = std::move(features);
  if (mmd_drift) {
    drift::MmdOutcome mmd;
    mmd.result.statistic = *mmd_drift ? 0.3 : 0.001;
    mmd.result.p_value = *mmd_drift ? 0.001 : 0.7;
    mmd.drift = *mmd_drift;
    r.mmd = mmd;
  }
  for (const auto& f : r.features) {
    r.drift =
        r.drift || (f.ks && f.ks->drift) || (f.psi && f.psi->drift) || (f.chi2 && f.chi2->drift);
  }
  r.drift = r.drift || (r.mmd && r.mmd->drift);
  return r;
}

EvaluationResult drifting() {
  return result_of({numeric("age", true), categorical("country", false)});
}
EvaluationResult clean() {
  return result_of({numeric("age", false), categorical("country", false)});
}

AlertPolicyConfig config(std::uint32_t consecutive, std::uint32_t resolve_after,
                         std::chrono::milliseconds cooldown = 0ms) {
  AlertPolicyConfig c;
  c.consecutive = consecutive;
  c.resolve_after = resolve_after;
  c.cooldown = cooldown;
  return c;
}

// Feeds `pattern` ('d' drifting, 'c' clean), one window a minute from `start`; returns the
// events with the index of the window that caused each.
std::vector<std::pair<std::size_t, AlertEvent>> feed(AlertPolicy& policy,
                                                     const std::string& pattern,
                                                     std::int64_t start = kT0) {
  std::vector<std::pair<std::size_t, AlertEvent>> events;
  for (std::size_t k = 0; k < pattern.size(); ++k) {
    const auto now = start + static_cast<std::int64_t>(k) * kMinute;
    if (auto e = policy.step(pattern[k] == 'd' ? drifting() : clean(), now)) {
      events.emplace_back(k, std::move(*e));
    }
  }
  return events;
}

std::string restore_error(const std::string& bytes, AlertPolicy& policy) {
  drift::BinaryReader in(drift::as_bytes(bytes), "checkpoint");
  try {
    policy.restore(in);
  } catch (const drift::FormatError& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("Alert policy config validation names the offending field", "[alert][unit]") {
  CHECK_NOTHROW(AlertPolicyConfig{}.validate());
  const auto message = [](AlertPolicyConfig c) -> std::string {
    try {
      c.validate();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return {};
  };
  AlertPolicyConfig c;
  c.consecutive = 0;
  CHECK_THAT(message(c), Catch::StartsWith("consecutive "));
  c = {};
  c.resolve_after = 0;
  CHECK_THAT(message(c), Catch::StartsWith("resolve_after "));
  c = {};
  c.cooldown = -1ms;
  CHECK_THAT(message(c), Catch::StartsWith("cooldown "));
  c = {};
  c.on = {false, false, false, false};
  CHECK_THAT(message(c), Catch::StartsWith("on "));
  c = {};
  c.min_drifted_features = 0;
  CHECK_THAT(message(c), Catch::StartsWith("min_drifted_features "));
  for (const double share : {-0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    c = {};
    c.min_drifted_share = share;
    CHECK_THAT(message(c), Catch::StartsWith("min_drifted_share "));
  }
  c = {};
  c.min_drifted_share = 1.0;
  CHECK(message(c).empty());
  c.consecutive = 0;
  CHECK_THROWS_AS(AlertPolicy("fraud", c), std::invalid_argument);
}

TEST_CASE("Alert test and state names round trip", "[alert][unit]") {
  for (const AlertTest t : {AlertTest::kKs, AlertTest::kPsi, AlertTest::kChi2, AlertTest::kMmd}) {
    CHECK(drift::exporters::parse_test_name(drift::exporters::test_name(t)) == t);
  }
  CHECK_FALSE(drift::exporters::parse_test_name("KS").has_value());
  CHECK(drift::exporters::state_name(AlertState::kOk) == "ok");
  CHECK(drift::exporters::state_name(AlertState::kPending) == "pending");
  CHECK(drift::exporters::state_name(AlertState::kFiring) == "firing");
  CHECK(drift::exporters::state_name(AlertState::kResolved) == "resolved");
  CHECK(drift::exporters::event_kind_name(AlertEventKind::kFiring) == "firing");
  CHECK(drift::exporters::event_kind_name(AlertEventKind::kResolved) == "resolved");
}

TEST_CASE("A window drifts when enough features drift on counted tests", "[alert][unit]") {
  AlertPolicyConfig c;
  const auto three = [](int drifted) {
    return result_of(
        {numeric("a", drifted > 0), numeric("b", drifted > 1), categorical("c", drifted > 2)});
  };
  c.min_drifted_features = 2;
  CHECK_FALSE(judge_window(three(1), c).drift);
  const auto verdict = judge_window(three(2), c);
  CHECK(verdict.drift);
  CHECK(verdict.counted_features == 3);
  REQUIRE(verdict.features.size() == 2);
  CHECK(verdict.features[0].name == "a");
  CHECK(verdict.features[1].name == "b");
  REQUIRE(verdict.features[0].tests.size() == 1);
  const auto& ks = verdict.features[0].tests[0];
  CHECK(ks.test == AlertTest::kKs);
  CHECK(ks.statistic == 0.4);
  CHECK(ks.p_value == 1e-6);
  CHECK(ks.threshold == 0.025);
  CHECK(verdict.dataset_drift);
  CHECK_FALSE(verdict.mmd.has_value());
}

TEST_CASE("Every drifting counted test of a feature is reported, PSI without a p-value",
          "[alert][unit]") {
  const auto verdict = judge_window(result_of({numeric("a", true, true)}), AlertPolicyConfig{});
  REQUIRE(verdict.features.size() == 1);
  REQUIRE(verdict.features[0].tests.size() == 2);
  CHECK(verdict.features[0].tests[0].test == AlertTest::kKs);
  const auto& psi = verdict.features[0].tests[1];
  CHECK(psi.test == AlertTest::kPsi);
  CHECK(psi.statistic == 0.5);
  CHECK_FALSE(psi.p_value.has_value());
  CHECK(psi.threshold == 0.2);
}

TEST_CASE("min_drifted_share is a share of the counted features, boundary included",
          "[alert][unit]") {
  AlertPolicyConfig c;
  c.min_drifted_share = 0.1;
  std::vector<FeatureResult> ten;
  ten.push_back(numeric("f0", true));
  for (int k = 1; k < 10; ++k) ten.push_back(numeric("f" + std::to_string(k), false));
  CHECK(judge_window(result_of(ten), c).drift);  // 1 of 10 is exactly 0.1
  auto eleven = ten;
  eleven.push_back(numeric("f10", false));
  CHECK_FALSE(judge_window(result_of(eleven), c).drift);  // 1 of 11

  // With only KS counted, categorical features (no KS) are not in the denominator.
  auto with_categorical = ten;
  with_categorical.push_back(categorical("c", false));
  CHECK_FALSE(judge_window(result_of(with_categorical), c).drift);
  c.on = {true, false, false, false};
  const auto verdict = judge_window(result_of(with_categorical), c);
  CHECK(verdict.counted_features == 10);
  CHECK(verdict.drift);

  // min_drifted_features still applies alongside the share.
  c.min_drifted_features = 2;
  CHECK_FALSE(judge_window(result_of(ten), c).drift);
}

TEST_CASE("Tests that on excludes or that did not run never count", "[alert][unit]") {
  AlertPolicyConfig c;
  c.on = {false, true, true, true};  // no ks
  const auto ks_only = result_of({numeric("a", true)});
  const auto v = judge_window(ks_only, c);
  CHECK_FALSE(v.drift);
  CHECK(v.features.empty());
  CHECK(v.counted_features == 1);  // PSI ran on it
  CHECK(v.dataset_drift);          // the detectors' verdict is reported as is

  c.on = {true, true, false, true};  // no chi2
  CHECK_FALSE(judge_window(result_of({categorical("c", true)}), c).drift);
  CHECK(judge_window(result_of({categorical("c", true)}), config(1, 1)).drift);

  FeatureResult no_tests;
  no_tests.name = "empty";
  const auto none = judge_window(result_of({no_tests}), AlertPolicyConfig{});
  CHECK(none.counted_features == 0);
  CHECK_FALSE(none.drift);
  CHECK_FALSE(judge_window(result_of({}), AlertPolicyConfig{}).drift);
}

TEST_CASE("MMD alone drifts a window when it counts", "[alert][unit]") {
  const auto mmd_drift = result_of({numeric("a", false), numeric("b", false)}, true);
  AlertPolicyConfig c;
  const auto v = judge_window(mmd_drift, c);
  CHECK(v.drift);
  CHECK(v.features.empty());
  REQUIRE(v.mmd.has_value());
  CHECK(v.mmd->test == AlertTest::kMmd);
  CHECK(v.mmd->statistic == 0.3);
  CHECK(v.mmd->p_value == 0.001);
  CHECK_FALSE(v.mmd->threshold.has_value());

  c.on = {false, false, false, true};  // mmd only: feature tests never count
  CHECK(judge_window(mmd_drift, c).drift);
  CHECK_FALSE(judge_window(result_of({numeric("a", true)}, false), c).drift);
  CHECK_FALSE(judge_window(result_of({numeric("a", true)}), c).drift);  // MMD did not run

  c.on = {true, true, true, false};  // mmd excluded
  const auto excluded = judge_window(mmd_drift, c);
  CHECK_FALSE(excluded.drift);
  CHECK_FALSE(excluded.mmd.has_value());

  AlertPolicy policy("fraud", config(1, 1));
  policy.set_reference_version("v1");
  const auto e = policy.step(mmd_drift, kT0);
  REQUIRE(e.has_value());
  CHECK(e->verdict.mmd.has_value());
}

TEST_CASE("With consecutive 1 the first drifting window fires", "[alert][unit]") {
  AlertPolicy policy("fraud", config(1, 1), "ref-7");
  CHECK(policy.state() == AlertState::kOk);
  CHECK(policy.windows_in_state() == 0);
  CHECK_FALSE(policy.episode_start_ms().has_value());
  CHECK_FALSE(policy.step(clean(), kT0).has_value());
  CHECK(policy.state() == AlertState::kOk);
  CHECK(policy.windows_in_state() == 1);

  const auto e = policy.step(drifting(), kT0 + kMinute);
  REQUIRE(e.has_value());
  CHECK(e->kind == AlertEventKind::kFiring);
  CHECK(e->model == "fraud");
  CHECK(e->reference_version == "ref-7");
  CHECK(e->since_ms == kT0 + kMinute);
  CHECK(e->at_ms == kT0 + kMinute);
  CHECK(e->episode_start_ms == kT0 + kMinute);  // cooldown 0: no grid
  CHECK(e->windows == 1);
  REQUIRE(e->verdict.features.size() == 1);
  CHECK(e->verdict.features[0].name == "age");
  CHECK(e->verdict.dataset_drift);
  CHECK(policy.state() == AlertState::kFiring);
  CHECK(policy.firing());
  CHECK(policy.windows_in_state() == 1);
  CHECK(policy.last_fired_ms() == kT0 + kMinute);
  CHECK(policy.episode_start_ms() == kT0 + kMinute);

  CHECK_FALSE(policy.step(drifting(), kT0 + 2 * kMinute).has_value());  // still firing: silent
  CHECK(policy.windows_in_state() == 2);
}

TEST_CASE("consecutive drifting windows pass through pending before firing", "[alert][unit]") {
  AlertPolicy policy("fraud", config(3, 1));
  CHECK_FALSE(policy.step(drifting(), kT0).has_value());
  CHECK(policy.state() == AlertState::kPending);
  CHECK_FALSE(policy.firing());
  CHECK_FALSE(policy.step(drifting(), kT0 + kMinute).has_value());
  CHECK(policy.state() == AlertState::kPending);
  CHECK(policy.windows_in_state() == 2);
  const auto e = policy.step(drifting(), kT0 + 2 * kMinute);
  REQUIRE(e.has_value());
  CHECK(e->kind == AlertEventKind::kFiring);
  CHECK(e->since_ms == kT0);  // the streak's first window
  CHECK(e->at_ms == kT0 + 2 * kMinute);
  CHECK(e->episode_start_ms == kT0);
  CHECK(e->windows == 3);
  CHECK(policy.state() == AlertState::kFiring);
}

TEST_CASE("Flapping drift never fires with consecutive 2", "[alert][unit]") {
  AlertPolicy policy("fraud", config(2, 1));
  CHECK_FALSE(policy.step(drifting(), kT0).has_value());
  CHECK(policy.state() == AlertState::kPending);
  CHECK_FALSE(policy.step(clean(), kT0 + kMinute).has_value());
  CHECK(policy.state() == AlertState::kOk);
  CHECK(policy.windows_in_state() == 1);
  CHECK(feed(policy, "dcdcdcdcdc", kT0 + 2 * kMinute).empty());
  CHECK(policy.state() == AlertState::kOk);

  // Two in a row do fire, and the streak starts at the first of them.
  const auto events = feed(policy, "dd", kT0 + 20 * kMinute);
  REQUIRE(events.size() == 1);
  CHECK(events[0].first == 1);
  CHECK(events[0].second.since_ms == kT0 + 20 * kMinute);
}

TEST_CASE("Resolving needs resolve_after clean windows in a row", "[alert][unit]") {
  AlertPolicy policy("fraud", config(1, 3));
  REQUIRE(policy.step(drifting(), kT0).has_value());
  CHECK(feed(policy, "cc", kT0 + kMinute).empty());
  CHECK(policy.state() == AlertState::kFiring);  // resolving, still firing
  CHECK(policy.firing());
  // A drift while resolving stays firing without a new event, and restarts the count.
  CHECK_FALSE(policy.step(drifting(), kT0 + 3 * kMinute).has_value());
  CHECK(policy.state() == AlertState::kFiring);
  CHECK(policy.windows_in_state() == 4);
  CHECK(feed(policy, "cc", kT0 + 4 * kMinute).empty());
  CHECK(policy.state() == AlertState::kFiring);

  const auto e = policy.step(clean(), kT0 + 6 * kMinute);
  REQUIRE(e.has_value());
  CHECK(e->kind == AlertEventKind::kResolved);
  CHECK(e->since_ms == kT0 + 4 * kMinute);  // first of the three clean windows
  CHECK(e->at_ms == kT0 + 6 * kMinute);
  CHECK(e->windows == 3);
  CHECK(e->episode_start_ms == kT0);  // the firing's
  CHECK(e->verdict.features.empty());
  CHECK(policy.state() == AlertState::kResolved);
  CHECK_FALSE(policy.firing());
  CHECK(policy.windows_in_state() == 1);

  CHECK(feed(policy, "ccc", kT0 + 7 * kMinute).empty());  // resolved stays quiet
  CHECK(policy.state() == AlertState::kResolved);
  CHECK(policy.windows_in_state() == 4);
}

TEST_CASE("After a resolve, a short drift goes pending and back to resolved", "[alert][unit]") {
  AlertPolicy policy("fraud", config(2, 1));
  const auto events = feed(policy, "ddcdc");
  REQUIRE(events.size() == 2);
  CHECK(events[0].second.kind == AlertEventKind::kFiring);
  CHECK(events[1].second.kind == AlertEventKind::kResolved);
  CHECK(policy.state() == AlertState::kResolved);
  // Without a cooldown a new episode starts at once, with its own start.
  const auto again = feed(policy, "dd", kT0 + 10 * kMinute);
  REQUIRE(again.size() == 1);
  CHECK(again[0].second.kind == AlertEventKind::kFiring);
  CHECK(again[0].second.episode_start_ms == kT0 + 10 * kMinute);
}

TEST_CASE("Cooldown suppresses a new firing, then lets a lasting drift fire", "[alert][unit]") {
  // kT0 + 5 min is at 22:18:20Z: the 30-minute grid lines around are 22:00 and 22:30.
  const std::int64_t grid = 30 * kMinute;
  const std::int64_t first = kT0 + 5 * kMinute;
  AlertPolicy policy("fraud", config(1, 1, 30min));
  const auto fired = policy.step(drifting(), first);
  REQUIRE(fired.has_value());
  CHECK(fired->episode_start_ms == first - first % grid);
  CHECK(fired->episode_start_ms % grid == 0);
  REQUIRE(policy.step(clean(), first + kMinute).has_value());  // resolved
  CHECK(policy.state() == AlertState::kResolved);

  // Drifting from +10 min: within the cooldown no event, the state waits in pending.
  for (std::int64_t m = 10; m < 30; ++m) {
    CHECK_FALSE(policy.step(drifting(), first + m * kMinute).has_value());
    CHECK(policy.state() == AlertState::kPending);
  }
  CHECK(policy.windows_in_state() == 20);
  const auto refired = policy.step(drifting(), first + 30 * kMinute);  // cooldown over
  REQUIRE(refired.has_value());
  CHECK(refired->kind == AlertEventKind::kFiring);
  CHECK(refired->since_ms == first + 10 * kMinute);
  CHECK(refired->windows == 21);
  // Not the earlier episode's start, though the drift began in its grid slot.
  CHECK(refired->episode_start_ms == fired->episode_start_ms + grid);
  CHECK(policy.last_fired_ms() == first + 30 * kMinute);
}

TEST_CASE("A drift that ends within the cooldown never fires", "[alert][unit]") {
  AlertPolicy policy("fraud", config(2, 1, 30min));
  REQUIRE(feed(policy, "ddc").size() == 2);
  CHECK(feed(policy, "dddc", kT0 + 5 * kMinute).empty());
  CHECK(policy.state() == AlertState::kResolved);
  // A fresh drift well after the cooldown fires on its own schedule and grid slot.
  const std::int64_t later = kT0 + 90 * kMinute;
  const auto events = feed(policy, "dd", later);
  REQUIRE(events.size() == 1);
  CHECK(events[0].second.since_ms == later);
  CHECK(events[0].second.episode_start_ms == drift::exporters::align_to_cooldown(later, 30min));
}

TEST_CASE("The cooldown counts from the firing, not from the resolve", "[alert][unit]") {
  AlertPolicy policy("fraud", config(1, 1, 10min));
  REQUIRE(policy.step(drifting(), kT0).has_value());
  CHECK(feed(policy, "dddddddd", kT0 + kMinute).empty());  // firing until +8
  REQUIRE(policy.step(clean(), kT0 + 9 * kMinute).has_value());
  CHECK_FALSE(policy.step(drifting(), kT0 + 9 * kMinute + 59'999).has_value());
  CHECK(policy.step(drifting(), kT0 + 10 * kMinute).has_value());
}

TEST_CASE("A clock that steps back never fires early", "[alert][unit]") {
  AlertPolicy policy("fraud", config(1, 1, 10min));
  REQUIRE(policy.step(drifting(), kT0).has_value());
  REQUIRE(policy.step(clean(), kT0 + kMinute).has_value());
  CHECK_FALSE(policy.step(drifting(), kT0 - 60 * kMinute).has_value());
  CHECK(policy.state() == AlertState::kPending);

  AlertPolicy no_cooldown("fraud", config(1, 1));
  REQUIRE(no_cooldown.step(drifting(), kT0).has_value());
  REQUIRE(no_cooldown.step(clean(), kT0 + kMinute).has_value());
  CHECK(no_cooldown.step(drifting(), kT0 - kMinute).has_value());
}

TEST_CASE("Replicas seeing the same drift agree on the episode start", "[alert][unit]") {
  AlertPolicy a("fraud", config(2, 1, 30min), "v3");
  AlertPolicy b("fraud", config(2, 1, 30min), "v3");
  const auto ea = feed(a, "cdd", kT0 + 1'234);
  const auto eb = feed(b, "ccdd", kT0 + 40'000);  // other evaluation times, one window later
  REQUIRE(ea.size() == 1);
  REQUIRE(eb.size() == 1);
  CHECK(ea[0].second.since_ms != eb[0].second.since_ms);
  CHECK(ea[0].second.episode_start_ms == eb[0].second.episode_start_ms);
  CHECK(ea[0].second.reference_version == eb[0].second.reference_version);
}

TEST_CASE("An episode keeps the reference version it fired with", "[alert][unit]") {
  AlertPolicy policy("fraud", config(1, 1), "v1");
  const auto fired = policy.step(drifting(), kT0);
  REQUIRE(fired.has_value());
  CHECK(fired->reference_version == "v1");
  policy.set_reference_version("v2");
  CHECK(policy.reference_version() == "v2");
  const auto resolved = policy.step(clean(), kT0 + kMinute);
  REQUIRE(resolved.has_value());
  CHECK(resolved->reference_version == "v1");
  const auto next = policy.step(drifting(), kT0 + 2 * kMinute);
  REQUIRE(next.has_value());
  CHECK(next->reference_version == "v2");
}

TEST_CASE("Cooldown alignment floors onto the grid for every time", "[alert][unit]") {
  using drift::exporters::align_to_cooldown;
  CHECK(align_to_cooldown(3'599'999, 1h) == 0);
  CHECK(align_to_cooldown(3'600'000, 1h) == 3'600'000);
  CHECK(align_to_cooldown(3'600'001, 1h) == 3'600'000);
  CHECK(align_to_cooldown(-1, 1h) == -3'600'000);
  CHECK(align_to_cooldown(-3'600'000, 1h) == -3'600'000);
  CHECK(align_to_cooldown(12'345, 0ms) == 12'345);
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  CHECK(align_to_cooldown(kMax, 1000ms) == kMax - kMax % 1000);
  const auto lowest = align_to_cooldown(kMin, 1000ms);  // the floor does not fit
  CHECK(lowest % 1000 == 0);
  CHECK(lowest >= kMin);
  CHECK(lowest - kMin < 1000);
}

TEST_CASE("A restored alert policy continues exactly like the original", "[alert][unit]") {
  const std::string pattern = "cddcdddccdcccdddddcccccdd";
  AlertPolicyConfig c = config(2, 3, 5min);
  c.min_drifted_features = 1;
  // Restore after every prefix, then compare states and events for the rest.
  for (std::size_t cut = 0; cut <= pattern.size(); ++cut) {
    AlertPolicy original("fraud", c, "v1");
    feed(original, pattern.substr(0, cut));
    drift::BinaryWriter out;
    original.save(out);
    AlertPolicy restored("fraud", c, "v1");
    drift::BinaryReader in(drift::as_bytes(out.bytes()), "checkpoint");
    restored.restore(in);
    CHECK(in.done());
    CHECK(restored.state() == original.state());
    CHECK(restored.windows_in_state() == original.windows_in_state());
    CHECK(restored.episode_start_ms() == original.episode_start_ms());
    CHECK(restored.last_fired_ms() == original.last_fired_ms());

    const std::string rest = pattern.substr(cut);
    const std::int64_t start = kT0 + static_cast<std::int64_t>(cut) * kMinute;
    for (std::size_t k = 0; k < rest.size(); ++k) {
      const auto window = rest[k] == 'd' ? drifting() : clean();
      const auto now = start + static_cast<std::int64_t>(k) * kMinute;
      const auto a = original.step(window, now);
      const auto b = restored.step(window, now);
      INFO("cut " << cut << ", window " << k);
      REQUIRE(a.has_value() == b.has_value());
      if (a) {
        CHECK(a->kind == b->kind);
        CHECK(a->reference_version == b->reference_version);
        CHECK(a->episode_start_ms == b->episode_start_ms);
        CHECK(a->since_ms == b->since_ms);
        CHECK(a->windows == b->windows);
      }
      CHECK(original.state() == restored.state());
      CHECK(original.windows_in_state() == restored.windows_in_state());
    }
  }
}

TEST_CASE("The sequence used for restore checks visits every state", "[alert][unit]") {
  AlertPolicy policy("fraud", config(2, 3, 5min), "v1");
  std::vector<AlertState> seen;
  const std::string pattern = "cddcdddccdcccdddddcccccdd";
  for (std::size_t k = 0; k < pattern.size(); ++k) {
    policy.step(pattern[k] == 'd' ? drifting() : clean(),
                kT0 + static_cast<std::int64_t>(k) * kMinute);
    seen.push_back(policy.state());
  }
  for (const auto s :
       {AlertState::kOk, AlertState::kPending, AlertState::kFiring, AlertState::kResolved}) {
    CHECK(std::find(seen.begin(), seen.end(), s) != seen.end());
  }
}

TEST_CASE("Restoring rejects bad bytes and leaves the policy as it was", "[alert][unit]") {
  AlertPolicy source("fraud", config(1, 2), "v1");
  feed(source, "dc");  // firing, resolving
  drift::BinaryWriter out;
  source.save(out);
  const std::string good = out.bytes();

  AlertPolicy target("fraud", config(1, 2));
  REQUIRE(target.step(drifting(), kT0).has_value());
  const auto check_untouched = [&] {
    CHECK(target.state() == AlertState::kFiring);
    CHECK(target.windows_in_state() == 1);
    CHECK(target.last_fired_ms() == kT0);
  };

  for (std::size_t n = 0; n < good.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    CHECK_FALSE(restore_error(good.substr(0, n), target).empty());
  }
  check_untouched();

  AlertPolicy other("credit", config(1, 2));
  CHECK_THAT(restore_error(good, other), Catch::Contains("'fraud'"));

  std::string bad = good;
  bad[0] = 2;  // format version
  CHECK_THAT(restore_error(bad, target), Catch::Contains("format version 2"));

  const std::size_t state_at = 4 + 8 + 5;  // version, model length and "fraud"
  bad = good;
  bad[state_at] = 9;
  CHECK_THAT(restore_error(bad, target), Catch::Contains("unknown alert state 9"));

  bad = good;
  bad[state_at] = static_cast<char>(AlertState::kOk);  // ok, yet it fired
  CHECK_THAT(restore_error(bad, target), Catch::Contains("do not fit state 'ok'"));

  bad = good;
  bad[state_at + 1] = 1;  // a drifting streak while resolving (clean streak 1)
  CHECK_THAT(restore_error(bad, target), Catch::Contains("do not fit state 'firing'"));

  const std::size_t fired_at = state_at + 1 + 3 * 8 + 2 * 8;
  bad = good;
  bad[fired_at] = 7;
  CHECK_THAT(restore_error(bad, target), Catch::Contains("fired flag"));
  check_untouched();

  CHECK(restore_error(good, target).empty());
  CHECK(target.windows_in_state() == 2);
  CHECK(target.step(clean(), kT0 + 2 * kMinute).has_value());  // the second clean window
  CHECK(target.state() == AlertState::kResolved);
}
