#!/usr/bin/env bash
# Everything CI checks, from a fresh machine: install, build with warnings as errors, run every
# test (ctest), and make sure the CUDA-less configuration still builds and reports itself.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# npm packages of the manifest validation (kubernetes-models) and the dashboard type-check
# (@grafana/schema, typescript), from their lockfiles; without npm those tests report themselves
# skipped, with the reason.
if command -v npm >/dev/null 2>&1; then
  for dir in tests/manifests tests/dashboards; do
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  done
fi

jobs=$(nproc)
DRIFT_BUILD_DIR=build scripts/build.sh -DDRIFT_WERROR=ON
ctest --test-dir build --output-on-failure -j "$jobs"

# DRIFT_WITH_CUDA=OFF must keep building: the GPU stub and its tests, nothing else.
cmake -S . -B build-nocuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DDRIFT_WERROR=ON \
  -DDRIFT_WITH_CUDA=OFF -DDRIFT_BUILD_BENCH=OFF >/dev/null
cmake --build build-nocuda --target gpu_tests driftd
ctest --test-dir build-nocuda --output-on-failure -j "$jobs" -L gpu
echo "test.sh: all tests passed"
