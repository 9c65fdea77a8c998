#!/bin/sh
# ctest's driver of the dashboard checks: `run.sh typecheck` or `run.sh lint` (see those .mjs
# files). Exit status 77 = skipped (ctest's SKIP_RETURN_CODE), with the reason printed: node is
# missing, or (typecheck) `npm ci` has not been run in tests/dashboards (scripts/test.sh runs it).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null 2>&1; then
  echo "SKIPPED: node not found on PATH (Debian packages nodejs and npm; scripts/install-deps.sh installs them)"
  exit 77
fi
exec node "$here/$1.mjs"
