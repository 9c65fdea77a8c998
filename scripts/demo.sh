#!/usr/bin/env bash
# The main job on an embedded default, from a fresh machine: install, build, then run the daemon
# (`driftd demo`) on an in-process Kafka (librdkafka's mock cluster) carrying a fraud model's
# prediction logs that drift after 25 s. It exits once the drift alert fires; run
# `build/daemon/driftd demo` without flags to keep it running and explore its HTTP API.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/daemon/driftd demo --exit-on-drift --duration 120s
