#!/usr/bin/env bash
# Configures and builds driftd in build/ (Release; CUDA on when /usr/local/cuda/bin/nvcc exists).
# Extra arguments go to cmake's configure step, e.g. scripts/build.sh -DDRIFT_WITH_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${DRIFT_BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build_dir"
