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
