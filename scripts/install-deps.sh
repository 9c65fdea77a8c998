#!/usr/bin/env bash
# Installs every build, test and benchmark dependency of driftd from Debian 12's packages.
# Idempotent: when everything is present it changes nothing and needs no network.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libeigen3-dev libtbb-dev libboost-dev nlohmann-json3-dev catch2 libhwy-dev libsimdjson-dev
  librdkafka-dev kcat prometheus-cpp-dev libyaml-cpp-dev libssl-dev zlib1g-dev
  python3 python3-numpy python3-scipy
  prometheus prometheus-alertmanager
)
# Node.js and npm for the manifest tests (tests/manifests: npm ci), unless a node is already on
# PATH (a newer one from elsewhere: Debian's npm would conflict with it). Images skip them
# (DRIFT_DEPS=build). kubectl is not a Debian 12 package (kubernetes-client is 1.20 with
# Kustomize v2, too old for these manifests): install it from Kubernetes' own packages; the
# manifest tests skip, saying so, without it.
if [ "${DRIFT_DEPS:-all}" != build ] && ! command -v node >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
if [ "${DRIFT_DEPS:-all}" != build ] && ! command -v kubectl >/dev/null 2>&1; then
  echo "install-deps: note: kubectl (with Kustomize v5) is not installed; the manifest render tests will be skipped (docs/deploy.md)"
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
