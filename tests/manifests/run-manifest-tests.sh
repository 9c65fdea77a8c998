#!/usr/bin/env bash
# ctest entry for check-manifests.js: renders and validates every overlay in manifests/.
# Skips (exit 77, shown by ctest as "Skipped" with the reason below) when Node.js, kubectl with
# Kustomize v5 or the npm packages (npm ci here; scripts/test.sh runs it) are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
skip() { echo "SKIPPED: $*"; exit 77; }
command -v node >/dev/null || skip "node is not installed (scripts/install-deps.sh installs nodejs and npm)"
kubectl=${KUBECTL:-kubectl}
command -v "$kubectl" >/dev/null ||
  skip "kubectl is not installed: it is not a Debian 12 package (Debian's kubernetes-client is kubectl 1.20 with Kustomize v2, too old); install kubectl >= 1.27 (docs/deploy.md)"
version=$("$kubectl" version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p')
[ "${version:-0}" -ge 5 ] || skip "$kubectl has Kustomize v${version:-?}; these manifests need Kustomize v5 (kubectl >= 1.27)"
[ -d "$here/node_modules/kubernetes-models" ] && [ -d "$here/node_modules/@kubernetes-models/prometheus-operator" ] ||
  skip "npm packages missing: run 'npm ci' in tests/manifests (scripts/test.sh does)"
export KUBECTL="$kubectl"
exec node "$here/check-manifests.js"
