// End-to-end tests of `driftd check`: the real binary, real files, the JSON contract.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <regex>

#include "golden.h"
#include "process.h"

using drift::test::close_rel;
using drift::test::ProcessResult;
using drift::test::TempDir;

namespace {

ProcessResult driftd(std::vector<std::string> args) {
  args.insert(args.begin(), DRIFTD_BINARY);
  return drift::test::run_process(args);
}

std::vector<std::string> golden_pair() {
  return {"check", "--reference", drift::test::golden_path("check_reference.csv"), "--current",
          drift::test::golden_path("check_current.csv")};
}

std::size_t count_lines(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

const nlohmann::json& feature(const nlohmann::json& report, const std::string& name) {
  for (const auto& f : report["features"]) {
    if (f["name"] == name) return f;
  }
  FAIL("feature " << name << " not in the report");
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("driftd check reports scipy's statistics for a CSV pair", "[check][integration]") {
  const auto expected = drift::test::load_golden("detectors.json")["check"];
  const auto run = driftd(golden_pair());
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  const auto report = nlohmann::json::parse(run.out);
  CHECK(report["schema_version"] == 1);
  CHECK(report["backend"] == "cpu");
  CHECK(report["correction"] == "bonferroni");
  CHECK(report["reference_rows"] == expected["reference_rows"]);
  CHECK(report["current_rows"] == expected["current_rows"]);
  CHECK(report["drift"] == true);
  REQUIRE(report["features"].size() == 3);
  const double cutoff = expected["cutoff"];
  for (const auto& [name, want] : expected["features"].items()) {
    INFO("feature " << name);
    const auto& got = feature(report, name);
    CHECK(got["kind"] == want["kind"]);
    CHECK(got["missing_reference"] == want["missing_reference"]);
    CHECK(got["missing_current"] == want["missing_current"]);
    const auto& tests = got["tests"];
    CHECK(close_rel(tests["psi"]["statistic"].get<double>(), want["psi"].get<double>(), 1e-9));
    CHECK(tests["psi"]["threshold"] == 0.2);
    if (want["kind"] == "numeric") {
      const auto& ks = tests["ks"];
      CHECK(std::fabs(ks["statistic"].get<double>() - want["ks_statistic"].get<double>()) <= 1e-12);
      CHECK(close_rel(ks["p_value"].get<double>(), want["ks_p_value"].get<double>(), 1e-6, 1e-12));
      CHECK(ks["threshold"].get<double>() == cutoff);
      CHECK(ks["method"] == "exact");
      CHECK(ks["drift"] == want["drift"]);
      CHECK(tests["psi"]["binning"] == "quantile");
      CHECK(tests["psi"]["bins"] == 10);
    } else {
      const auto& chi2 = tests["chi2"];
      CHECK(close_rel(chi2["statistic"].get<double>(), want["chi2_statistic"].get<double>(), 1e-9));
      CHECK(close_rel(chi2["p_value"].get<double>(), want["chi2_p_value"].get<double>(), 1e-9));
      CHECK(chi2["dof"] == want["dof"]);
      CHECK(close_rel(chi2["cramers_v"].get<double>(), want["cramers_v"].get<double>(), 1e-9));
      CHECK(chi2["threshold"].get<double>() == cutoff);
      CHECK(chi2["drift"] == want["drift"]);
      CHECK(tests["psi"]["binning"] == "categories");
      CHECK(tests["psi"]["bins"] == 4);
    }
  }
  const auto& timing = report["timing_ms"];
  CHECK(timing["total"].get<double>() ==
        Approx(timing["profile"].get<double>() + timing["tests"].get<double>()));
}

TEST_CASE("driftd check prints statistics and p-values with 17 significant digits",
          "[check][integration]") {
  const auto run = driftd(golden_pair());
  REQUIRE(run.exit_code == 0);
  const std::regex number(R"re("(statistic|p_value)":(-?[0-9.]+(e[-+][0-9]+)?))re");
  std::size_t seen = 0;
  for (auto it = std::sregex_iterator(run.out.begin(), run.out.end(), number);
       it != std::sregex_iterator(); ++it) {
    // %.17g drops trailing zeros only, so printing the parsed value again gives the same text.
    const std::string text = (*it)[2].str();
    char again[40];
    std::snprintf(again, sizeof again, "%.17g", std::stod(text));
    CHECK(text == again);
    ++seen;
  }
  CHECK(seen >= 8);
}

TEST_CASE("fail-on-drift exits 3 on drift and 0 without", "[check][integration]") {
  auto args = golden_pair();
  args.push_back("--fail-on-drift");
  CHECK(driftd(args).exit_code == 3);
  const auto ref = drift::test::golden_path("check_reference.csv");
  CHECK(driftd({"check", "--reference", ref, "--current", ref, "--fail-on-drift"}).exit_code == 0);
}

TEST_CASE("format text prints a table and format both also writes the JSON file",
          "[check][integration]") {
  TempDir dir;
  auto args = golden_pair();
  args.insert(args.end(), {"--format", "both", "--output", dir.path() + "/report.json"});
  const auto run = driftd(args);
  REQUIRE(run.exit_code == 0);
  CHECK(run.out.find("DRIFT DETECTED") != std::string::npos);
  CHECK(run.out.find("color") != std::string::npos);
  std::ifstream in(dir.path() + "/report.json");
  const auto report = nlohmann::json::parse(in);
  CHECK(report["drift"] == true);
}

TEST_CASE("an MMD request without a feature list tests all numeric features",
          "[check][integration]") {
  auto args = golden_pair();
  args.insert(args.end(), {"--tests", "mmd", "--mmd-permutations", "200", "--seed", "3"});
  const auto run = driftd(args);
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  const auto report = nlohmann::json::parse(run.out);
  const auto& mmd = report["multivariate"]["mmd"];
  CHECK(mmd["features"] == nlohmann::json::array({"x", "y"}));
  CHECK(mmd["permutations"] == 200);
  // Rows with a missing selected feature are dropped before the test.
  CHECK(mmd["rows_used"] == nlohmann::json::array({593, 489}));
  CHECK(mmd["p_value"].get<double>() >= 1.0 / 201.0);
  CHECK(report["features"][0]["tests"].empty());
  // Same seed, same answer.
  CHECK(nlohmann::json::parse(driftd(args).out)["multivariate"] == report["multivariate"]);
}

TEST_CASE("a column named categorical is categorical even when it looks numeric",
          "[check][integration]") {
  TempDir dir;
  const auto ref = dir.write("ref.csv", "code,v\n1,0.5\n2,0.7\n2,0.1\n3,0.9\n");
  const auto cur = dir.write("cur.csv", "code,v\n1,0.4\n4,0.6\n2,0.2\n");
  const auto run = driftd({"check", "--reference", ref, "--current", cur, "--categorical", "code"});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  const auto report = nlohmann::json::parse(run.out);
  CHECK(feature(report, "code")["kind"] == "categorical");
  CHECK(feature(report, "code")["tests"]["chi2"]["dof"] == 3);
  CHECK(feature(report, "v")["kind"] == "numeric");
}

TEST_CASE("bad command lines exit 2 with the flag and the reason", "[check][integration]") {
  const auto ref = drift::test::golden_path("check_reference.csv");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"check", "--reference", ref}, "--current is required"},
      {{"check", "--reference", ref, "--current", ref, "--bogus", "1"}, "unknown option '--bogus'"},
      {{"check", "--reference", ref, "--current", ref, "--p-value", "2"}, "--p-value"},
      {{"check", "--reference", ref, "--current", ref, "--tests", "ks,t"}, "unknown test 't'"},
      {{"check", "--reference", ref, "--current", ref, "--correction", "holm"}, "--correction"},
      {{"check", "--reference", ref, "--current", ref, "--min-rows", "x"}, "--min-rows"},
  };
  for (const auto& [args, message] : cases) {
    const auto run = driftd(args);
    INFO(run.err);
    CHECK(run.exit_code == 2);
    CHECK(run.err.find(message) != std::string::npos);
    CHECK(run.out.empty());
  }
}

TEST_CASE("bad input files exit 1 with one line that names the problem", "[check][integration]") {
  TempDir dir;
  const auto good = dir.write("good.csv", "a,b\n1,x\n2,y\n3,x\n");
  const std::vector<std::tuple<std::string, std::string, std::string, std::vector<std::string>>>
      cases = {
          {"empty file", dir.write("empty.csv", ""), good, {}},
          {"ragged row", good, dir.write("ragged.csv", "a,b\n1,x\n2\n"), {"ragged.csv:3"}},
          {"column missing from current",
           good,
           dir.write("nob.csv", "a\n1\n2\n"),
           {"'b'", "missing"}},
          {"all values missing",
           good,
           dir.write("nulls.csv", "a,b\n,x\n,y\n"),
           {"'a'", "min_rows"}},
          {"no such file", dir.path() + "/absent.csv", good, {"absent.csv"}},
          {"string in a numeric JSONL column",
           dir.write("r.jsonl", "{\"a\":1}\n{\"a\":2}\n"),
           dir.write("c.jsonl", "{\"a\":1}\n{\"a\":\"two\"}\n"),
           {"c.jsonl:2", "'a'"}},
      };
  for (const auto& [what, ref, cur, needles] : cases) {
    INFO(what);
    const auto run = driftd({"check", "--reference", ref, "--current", cur});
    INFO(run.err);
    CHECK(run.exit_code == 1);
    CHECK(count_lines(run.err) == 1);
    CHECK(run.err.rfind("driftd check: ", 0) == 0);
    for (const auto& needle : needles) CHECK(run.err.find(needle) != std::string::npos);
    CHECK(run.out.empty());
  }
}

TEST_CASE("min-rows above a window size is an error naming the feature", "[check][integration]") {
  auto args = golden_pair();
  args.insert(args.end(), {"--min-rows", "550"});
  const auto run = driftd(args);
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("min_rows = 550") != std::string::npos);
}

TEST_CASE("asking for the GPU backend without a usable GPU fails with the reason",
          "[check][integration]") {
  auto args = golden_pair();
  args.insert(args.end(), {"--backend", "gpu"});
  const auto run = driftd(args);
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("GPU backend unavailable") != std::string::npos);
}

TEST_CASE("a saved reference profile gives the same report as the reference file",
          "[check][integration]") {
  TempDir dir;
  const std::string saved = dir.path() + "/reference.profile";
  auto args = golden_pair();
  args.insert(args.end(),
              {"--tests", "ks,psi,chi2,mmd", "--mmd-permutations", "100", "--save-profile", saved});
  const auto first = driftd(args);
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  args[2] = saved;  // --reference
  args.resize(args.size() - 2);
  const auto second = driftd(args);
  INFO(second.err);
  REQUIRE(second.exit_code == 0);
  auto a = nlohmann::json::parse(first.out);
  auto b = nlohmann::json::parse(second.out);
  a.erase("timing_ms");
  b.erase("timing_ms");
  CHECK(a == b);
}

TEST_CASE("a corrupt or truncated profile is reported with its path", "[check][integration]") {
  TempDir dir;
  const std::string saved = dir.path() + "/ref.profile";
  auto args = golden_pair();
  args.insert(args.end(), {"--save-profile", saved});
  REQUIRE(driftd(args).exit_code == 0);
  std::ifstream in(saved, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string flipped = bytes;
  flipped[bytes.size() / 2] = static_cast<char>(flipped[bytes.size() / 2] ^ 1);
  const auto current = drift::test::golden_path("check_current.csv");
  for (const auto& [name, content, needle] :
       {std::tuple<std::string, std::string, std::string>{
            "truncated.profile", bytes.substr(0, bytes.size() - 9), "truncated"},
        {"flipped.profile", flipped, "checksum mismatch"}}) {
    const auto path = dir.write(name, content);
    const auto run = driftd({"check", "--reference", path, "--current", current});
    INFO(run.err);
    CHECK(run.exit_code == 1);
    CHECK(count_lines(run.err) == 1);
    CHECK(run.err.find(path) != std::string::npos);
    CHECK(run.err.find(needle) != std::string::npos);
  }
}

TEST_CASE("reference-side flags cannot silently miss a saved profile", "[check][integration]") {
  TempDir dir;
  const std::string saved = dir.path() + "/ref.profile";
  auto args = golden_pair();
  args.insert(args.end(), {"--save-profile", saved});
  REQUIRE(driftd(args).exit_code == 0);
  const auto current = drift::test::golden_path("check_current.csv");
  const auto bins =
      driftd({"check", "--reference", saved, "--current", current, "--psi-bins", "5"});
  CHECK(bins.exit_code == 2);
  CHECK(bins.err.find("--psi-bins") != std::string::npos);
  const auto mmd = driftd({"check", "--reference", saved, "--current", current, "--tests", "mmd"});
  CHECK(mmd.exit_code == 1);
  CHECK(mmd.err.find("built without MMD") != std::string::npos);
}
