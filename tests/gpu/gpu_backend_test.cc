#include <catch2/catch.hpp>

#include "drift/gpu/gpu_backend.h"

using drift::gpu::BackendChoice;

TEST_CASE("backend choice parses the three documented names", "[unit]") {
  CHECK(drift::gpu::parse_backend_choice("auto") == BackendChoice::kAuto);
  CHECK(drift::gpu::parse_backend_choice("cpu") == BackendChoice::kCpu);
  CHECK(drift::gpu::parse_backend_choice("gpu") == BackendChoice::kGpu);
  CHECK_THROWS_AS(drift::gpu::parse_backend_choice("tpu"), std::invalid_argument);
}

TEST_CASE("auto and cpu select the CPU backend while no GPU kernels exist", "[unit]") {
  CHECK(drift::gpu::select_backend(BackendChoice::kCpu)->name() == "cpu");
  CHECK(drift::gpu::select_backend(BackendChoice::kAuto)->name() == "cpu");
}

TEST_CASE("asking for the GPU backend explains why it is unavailable", "[unit]") {
  const auto status = drift::gpu::probe();
  if (!status.available) WARN("no GPU here: " << status.reason);
  try {
    (void)drift::gpu::select_backend(BackendChoice::kGpu);
    FAIL("expected BackendUnavailable");
  } catch (const drift::gpu::BackendUnavailable& e) {
    CHECK(std::string(e.what()).find("GPU backend unavailable: ") == 0);
  }
}
