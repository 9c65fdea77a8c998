// The pipeline end to end without sources: records in, windows and evaluations out, and a
// checkpoint that restores to exactly the same state.
#include <catch2/catch.hpp>

#include <filesystem>
#include <random>
#include <string>

#include "drift/daemon/table.h"
#include "process.h"
#include "server/pipeline.h"

using namespace drift::daemon;

namespace {

Config make_config(const std::string& state_dir, std::uint64_t bootstrap) {
  Config config;
  config.state.dir = state_dir;
  SourceConfig source;
  source.name = "in";
  source.type = SourceType::kHttp;
  config.sources.push_back(source);
  ModelConfig model;
  model.name = "m";
  model.match.kind = MatchRule::Kind::kPointer;
  model.match.key = "/model";
  model.match.equals = "m";
  model.features = {{"x", "/x", drift::FeatureKind::kNumeric, FeatureOrigin::kRecord},
                    {"c", "/c", drift::FeatureKind::kCategorical, FeatureOrigin::kRecord}};
  model.reference.bootstrap = bootstrap;
  model.window.size = 400;
  model.window.slide = 100;
  model.window.min_rows = 50;
  model.evaluation.tests = {true, true, true, false};
  config.models.push_back(model);
  return config;
}

// Records of model m: x normal with `shift`, c one of three colours; every 50th is malformed.
std::vector<std::string> make_records(std::uint64_t seed, int count, double shift) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(shift, 1.0);
  const char* colours[] = {"red", "green", "blue"};
  std::vector<std::string> out;
  for (int k = 0; k < count; ++k) {
    if (k % 50 == 49) {
      out.push_back(R"({"model":"m","x":"oops","c":"red"})");
      continue;
    }
    out.push_back(R"({"model":"m","x":)" + std::to_string(normal(rng)) + R"(,"c":")" +
                  colours[rng() % 3] + R"("})");
  }
  return out;
}

void feed(Pipeline& pipeline, const std::vector<std::string>& records, std::size_t begin,
          std::size_t end, std::size_t batch) {
  for (std::size_t k = begin; k < end; k += batch) {
    std::vector<RawRecord> raw;
    for (std::size_t j = k; j < std::min(end, k + batch); ++j) {
      RawRecord r;
      r.body = records[j];
      r.arrival_ms = static_cast<std::int64_t>(j);
      raw.push_back(r);
    }
    const SourcePosition position{"in", "wal", static_cast<std::int64_t>(std::min(end, k + batch))};
    pipeline.deliver("in", raw, std::span<const SourcePosition>(&position, 1));
  }
}

// Room for every evaluation: tests feed faster than any evaluator and must not skip any.
Pipeline::Options roomy() {
  Pipeline::Options options;
  options.max_pending_evaluations = 1000;
  return options;
}

}  // namespace

TEST_CASE("the pipeline bootstraps a reference, fills the window and evaluates each slide",
          "[pipeline][unit]") {
  drift::test::TempDir dir;
  Pipeline pipeline(make_config(dir.path(), 300), drift::make_cpu_backend(), roomy());
  pipeline.load_references();
  CHECK_FALSE(pipeline.references_ready());
  const auto records = make_records(1, 1000, 0.0);
  feed(pipeline, records, 0, 1000, 64);
  pipeline.drain_evaluations();
  CHECK(pipeline.references_ready());
  const auto report = pipeline.reports().at(0);
  CHECK(report.reference_origin == "bootstrap");
  CHECK(report.records_rejected == 20);
  CHECK(report.records_accepted == 980);
  // 980 good rows: 300 to the reference, 680 to the window (400 kept), an evaluation every 100.
  CHECK(report.reference_rows == 300);
  CHECK(report.current_rows == 400);
  CHECK(report.evaluations == 6);
  CHECK(report.last_evaluation_position == 600);
  CHECK(report.last_evaluation_json.find("\"features\"") != std::string::npos);
  CHECK(std::filesystem::exists(dir.path() + "/references/m.profile"));
  CHECK(pipeline.positions_of("in").at(0).offset == 1000);
}

TEST_CASE("a restored checkpoint continues exactly like the uninterrupted pipeline",
          "[pipeline][unit]") {
  const auto records = make_records(2, 3000, 0.2);
  drift::test::TempDir a_dir;
  drift::test::TempDir b_dir;
  Pipeline uninterrupted(make_config(a_dir.path(), 500), drift::make_cpu_backend(), roomy());
  uninterrupted.load_references();
  feed(uninterrupted, records, 0, 3000, 100);
  uninterrupted.drain_evaluations();

  std::string payload;
  {
    Pipeline first(make_config(b_dir.path(), 500), drift::make_cpu_backend(), roomy());
    first.load_references();
    feed(first, records, 0, 1700, 100);
    std::vector<SourcePosition> positions;
    payload = first.capture(positions);
    REQUIRE(positions.size() == 1);
    CHECK(positions[0].offset == 1700);
    // More records after the checkpoint are lost in the "crash" and delivered again.
    feed(first, records, 1700, 2100, 100);
  }
  Pipeline second(make_config(b_dir.path(), 500), drift::make_cpu_backend(), roomy());
  second.load_references();
  second.restore(drift::as_bytes(payload));
  const auto resume = second.positions_of("in");
  REQUIRE(resume.size() == 1);
  feed(second, records, static_cast<std::size_t>(resume[0].offset), 3000, 100);
  second.drain_evaluations();

  CHECK(second.window_csv("m") == uninterrupted.window_csv("m"));
  const auto a = uninterrupted.reports().at(0);
  const auto b = second.reports().at(0);
  CHECK(b.records_accepted == a.records_accepted);
  CHECK(b.records_rejected == a.records_rejected);
  CHECK(b.evaluations == a.evaluations);
  CHECK(b.last_evaluation_position == a.last_evaluation_position);
  // Same rows, same reference: the same statistics (timings aside).
  auto strip = [](std::string json) { return json.substr(0, json.find("\"timing_ms\"")); };
  CHECK(strip(b.last_evaluation_json) == strip(a.last_evaluation_json));
}

TEST_CASE("a model version change empties the window and bootstraps the reference again",
          "[pipeline][unit]") {
  drift::test::TempDir dir;
  Config config = make_config(dir.path(), 100);
  config.models[0].version_pointer = "/v";
  Pipeline pipeline(config, drift::make_cpu_backend(), roomy());
  pipeline.load_references();
  std::vector<std::string> records;
  for (int k = 0; k < 600; ++k) {
    records.push_back(R"({"model":"m","v":")" + std::string(k < 300 ? "1.0" : "2.0") +
                      R"(","x":)" + std::to_string(k < 300 ? k : 1000 + k) + R"(,"c":"red"})");
  }
  // A batch that straddles the change.
  feed(pipeline, records, 0, 250, 250);
  feed(pipeline, records, 250, 600, 350);
  pipeline.drain_evaluations();
  const auto report = pipeline.reports().at(0);
  CHECK(report.version == "2.0");
  CHECK(report.version_changes == 1);
  CHECK(report.reference_ready);
  CHECK(report.reference_rows == 100);  // rows 300..399, bootstrapped again
  CHECK(report.current_rows == 200);    // rows 400..599 only
  const auto window = *pipeline.window_csv("m");
  CHECK(window.find("\n0,1400,red\n") != std::string::npos);
  CHECK(window.find(",299,") == std::string::npos);
}
