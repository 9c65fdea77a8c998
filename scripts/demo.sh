#!/usr/bin/env bash
# The main job on the bundled example, from a fresh machine: install, build, then compare a week
# of a credit model's traffic (examples/current.csv) with its training data (reference.csv).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
set -x
build/daemon/driftd check --reference examples/reference.csv --current examples/current.csv \
  --tests ks,psi,chi2,mmd --mmd-features age,income,credit_score,loan_amount \
  --format both --output build/example-report.json
