#!/usr/bin/env bash
# Builds the benchmarks and runs each beside its numpy/scipy baseline on the same data, in one
# run, and prints the tables (copy them into bench/RESULTS.md with the date and the machine).
#
#   bench/run_all.sh [--quick]     --quick: smaller sizes, for a smoke run (minutes, not hours)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/build.sh >/dev/null
bin=build/bench
data=$(mktemp -d /tmp/driftd-bench-XXXXXX)
trap 'rm -rf "$data"' EXIT
py=/usr/bin/python3   # Debian's numpy/scipy, not whatever python3 is first on PATH

echo "== machine"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "numpy/scipy: $($py -c 'import numpy, scipy; print(numpy.__version__, scipy.__version__)')"

if [ $quick -eq 1 ]; then F=20; N=200000; RUNS=3; else F=100; N=1000000; RUNS=5; fi
echo
echo "== KS + PSI: $F features x $N reference rows x $N current rows (CPU backend, all cores)"
/usr/bin/time -f "  bench_check max RSS %M KiB" \
  "$bin/bench_check" --features $F --rows $N --runs $RUNS --write-data "$data" --json "$data/check.json"
"$bin/bench_check" --features $F --rows $N --runs 3 --threads 1 --json "$data/check1.json"
$py bench/baseline_ks_psi.py "$data" --features $F --rows $N --runs $([ $quick -eq 1 ] && echo 1 || echo 3) \
  --json "$data/baseline_check.json"
$py - "$data/check.json" "$data/baseline_check.json" <<'PY'
import json, sys
d, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
d1 = json.load(open(sys.argv[1].replace("check.json", "check1.json")))
print(f"  per-window ratio (scipy loop / driftd): {b['window_s'] / d['window_s']:.1f}x "
      f"({b['window_s'] / d1['window_s']:.1f}x with driftd on one thread)")
print(f"  whole-check ratio incl. reference side: "
      f"{(b['window_s'] + b['reference_s']) / (d['window_s'] + d['profile_s']):.1f}x")
PY
rm -f "$data"/*.f32

if [ $quick -eq 1 ]; then MN=2000; MB=200; else MN=10000; MB=1000; fi
echo
echo "== MMD: $MN + $MN rows, d = 10, B = $MB"
"$bin/bench_mmd" --n $MN --m $MN --d 10 --permutations $MB --threads 1 --runs 3
"$bin/bench_mmd" --n $MN --m $MN --d 10 --permutations $MB --write-data "$data"
$py bench/baseline_mmd.py "$data" --permutations $([ $quick -eq 1 ] && echo 20 || echo 100)
rm -f "$data"/*.f32

echo
echo "== daemon: decode, Kafka ingest, window evaluation"
"$bin/bench_decode"
"$bin/bench_ingest" --records $([ $quick -eq 1 ] && echo 100000 || echo 400000) --rounds $([ $quick -eq 1 ] && echo 1 || echo 5)
"$bin/bench_check" --features 20 --rows 100000 --runs 5

echo
echo "== reading input files"
"$bin/bench_read" $([ $quick -eq 1 ] && echo "--rows 100000" || echo "")
