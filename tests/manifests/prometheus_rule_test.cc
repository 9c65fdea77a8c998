// The PrometheusRule shipped in manifests/: its rules parse (promtool check rules) and behave as
// their unit tests say (promtool test rules).
#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>

#include "process.h"

namespace {

const std::string kRoot = DRIFT_SOURCE_DIR;

bool have_promtool() { return std::filesystem::exists("/usr/bin/promtool"); }

// Writes the PrometheusRule's .spec (a plain rules file) and the unit tests into `dir`.
void prepare(const drift::test::TempDir& dir) {
  const YAML::Node rule = YAML::LoadFile(kRoot + "/manifests/base/prometheusrule.yaml");
  REQUIRE(rule["kind"].as<std::string>() == "PrometheusRule");
  YAML::Emitter out;
  out << rule["spec"];
  std::ofstream(dir.path() + "/driftd.rules.yaml") << out.c_str() << "\n";
  std::filesystem::copy_file(kRoot + "/tests/manifests/driftd_rules_test.yaml",
                             dir.path() + "/driftd_rules_test.yaml");
}

}  // namespace

TEST_CASE("the PrometheusRule's rules pass promtool check rules", "[manifests][prometheus]") {
  if (!have_promtool()) {
    WARN("skipped: promtool is not installed (scripts/install-deps.sh installs it)");
    return;
  }
  drift::test::TempDir dir;
  prepare(dir);
  const auto run = drift::test::run_process({"/usr/bin/promtool", "check", "rules",
                                             dir.path() + "/driftd.rules.yaml"});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("SUCCESS: 5 rules found") != std::string::npos);
}

TEST_CASE("the PrometheusRule's alerts fire and resolve as their promtool unit tests expect",
          "[manifests][prometheus]") {
  if (!have_promtool()) {
    WARN("skipped: promtool is not installed (scripts/install-deps.sh installs it)");
    return;
  }
  drift::test::TempDir dir;
  prepare(dir);
  const auto run = drift::test::run_process({"/usr/bin/promtool", "test", "rules",
                                             dir.path() + "/driftd_rules_test.yaml"});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
}
