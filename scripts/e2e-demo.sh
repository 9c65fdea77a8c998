#!/usr/bin/env bash
# The whole path on one machine, no cluster: `driftd demo` (an in-process Kafka carrying a fraud
# model's prediction logs, drift injected after --drift-after for --drift-for) scraped by a real
# Prometheus that loads the shipped PrometheusRule and alerts a real Alertmanager, which routes to
# a receiver of its own; the daemon's signed retraining webhook (Argo Workflows submit) goes to a
# second receiver. At the end it prints what each component saw.
#
#   scripts/e2e-demo.sh [--check] [--keep]
#     --check   exit 1 unless every step happened (the CI test runs this)
#     --keep    keep the working directory (logs, configs) and print its path
#
# Needs the build (scripts/build.sh) and Debian's prometheus and prometheus-alertmanager.
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
keep=0
for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    --keep) keep=1 ;;
    *) echo "usage: scripts/e2e-demo.sh [--check] [--keep]" >&2; exit 2 ;;
  esac
done
driftd=${DRIFTD:-build/daemon/driftd}
py=/usr/bin/python3
for tool in "$driftd" prometheus prometheus-alertmanager; do
  command -v "$tool" >/dev/null || { echo "e2e-demo: $tool not found (run scripts/install-deps.sh and scripts/build.sh)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/driftd-e2e-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ $keep -eq 1 ]; then echo "e2e-demo: logs and configs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

say() { echo "[$(date +%H:%M:%S)] $*"; }
# Waits until a command succeeds, at most $1 seconds.
wait_for() {
  local limit=$1; shift
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}
port_from_log() { grep "Listening on" "$1" | grep -o "address=127.0.0.1:[0-9]*" | head -1 | sed 's/.*://'; }
# A free TCP port on loopback (bound, then released).
free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- the receivers: one for Alertmanager, one for driftd's retraining webhook (signed)
printf 'whsec_%s\n' "$(head -c 24 /dev/urandom | base64)" > "$work/webhook-secret"
$py scripts/e2e/receiver.py --port-file "$work/am-receiver.port" --log "$work/alertmanager-hook.jsonl" &
pids+=($!)
$py scripts/e2e/receiver.py --port-file "$work/retrain.port" --log "$work/retrain.jsonl" \
  --secret-file "$work/webhook-secret" &
pids+=($!)
wait_for 10 test -s "$work/am-receiver.port"
wait_for 10 test -s "$work/retrain.port"
am_hook=$(cat "$work/am-receiver.port")
retrain=$(cat "$work/retrain.port")

# --- Alertmanager
cat > "$work/am.yml" <<EOF
route: {receiver: hook, group_by: [alertname, model], group_wait: 1s, group_interval: 1s, repeat_interval: 1h}
receivers: [{name: hook, webhook_configs: [{url: 'http://127.0.0.1:$am_hook/hook', send_resolved: true}]}]
EOF
prometheus-alertmanager --config.file="$work/am.yml" --storage.path="$work/am" \
  --web.listen-address=127.0.0.1:0 --cluster.listen-address= 2>"$work/alertmanager.log" &
pids+=($!)
wait_for 20 grep -q "Listening on" "$work/alertmanager.log"
am=$(port_from_log "$work/alertmanager.log")

# --- driftd demo with its retraining webhook
port=$(free_port)
"$driftd" demo --listen "127.0.0.1:$port" --drift-after 20s --drift-for 100s --duration 400s \
  --webhook "http://127.0.0.1:$retrain/api/v1/workflows/ml/submit" --webhook-template argo-workflows \
  --webhook-param workflow_template=retrain-fraud --webhook-secret-file "$work/webhook-secret" \
  > "$work/driftd.log" 2>&1 &
pids+=($!)
wait_for 20 curl -sf "http://127.0.0.1:$port/readyz"

# --- Prometheus with the shipped rules (spec.groups of the PrometheusRule)
$py - manifests/base/prometheusrule.yaml "$work/rules.yml" <<'PY'
import sys, yaml
rule = yaml.safe_load(open(sys.argv[1]))
yaml.safe_dump({"groups": rule["spec"]["groups"]}, open(sys.argv[2], "w"), sort_keys=False)
PY
cat > "$work/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [rules.yml]
alerting: {alertmanagers: [{static_configs: [{targets: ['127.0.0.1:$am']}]}]}
scrape_configs: [{job_name: driftd, static_configs: [{targets: ['127.0.0.1:$port']}]}]
EOF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address=127.0.0.1:0 --rules.alert.resend-delay=1s 2>"$work/prometheus.log" &
pids+=($!)
wait_for 20 grep -q "Listening on" "$work/prometheus.log"
prom=$(port_from_log "$work/prometheus.log")
say "driftd http://127.0.0.1:$port  Prometheus http://127.0.0.1:$prom  Alertmanager http://127.0.0.1:$am"

query() {  # prints the instant vector of a PromQL query as "labels value" lines
  $py - "http://127.0.0.1:$prom" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
url = sys.argv[1] + "/api/v1/query?query=" + urllib.parse.quote(sys.argv[2])
data = json.load(urllib.request.urlopen(url, timeout=10))
for r in data["data"]["result"]:
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(r["metric"].items()) if k not in ("job", "instance"))
    print(f'{{{labels}}} {r["value"][1]}')
PY
}
has_series() { [ -n "$(query "$1")" ]; }
received() {  # received TEXT FILE: a request body in the receiver's log contains TEXT
  [ -f "$2" ] && $py -c '
import json, sys
sys.exit(0 if any(sys.argv[1] in json.loads(l)["body"] for l in open(sys.argv[2])) else 1)' "$1" "$2"
}

# --- the story, step by step
failed=0
step() {  # step LIMIT DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  if wait_for "$limit" "$@"; then say "ok: $what"; else say "MISSING: $what"; failed=1; fi
}
step 60 "Prometheus scrapes driftd, no drift yet" has_series 'drift_model_drift{model="fraud"} == 0'
step 60 "Prometheus sees the injected drift" has_series 'drift_model_drift{model="fraud"} == 1'
step 30 "driftd's alert fires" has_series 'drift_alert_firing{model="fraud"} == 1'
step 30 "the retraining webhook arrives" received 'kind=firing' "$work/retrain.jsonl"
step 120 "Alertmanager delivers DriftDetected (rule for: 1m)" received '"status":"firing"' "$work/alertmanager-hook.jsonl"
step 150 "the drift ends and driftd's alert resolves" has_series 'drift_alert_firing{model="fraud"} == 0 and drift_evaluation_duration_seconds_count > 0'
step 60 "Alertmanager delivers the resolution" received '"status":"resolved"' "$work/alertmanager-hook.jsonl"
step 30 "the RESOLVED event arrives" received 'kind=resolved' "$work/retrain.jsonl"

echo
echo "== what each component saw"
echo "-- driftd (last evaluations)"
grep "model fraud" "$work/driftd.log" | tail -4 | sed 's/^/   /'
echo "-- Prometheus"
for q in 'drift_model_drift' 'drift_alert_firing' \
         'topk(3, drift_feature_statistic{test="psi"})' \
         'sum by (outcome) (drift_records_total)' 'drift_webhook_deliveries_total > 0'; do
  echo "   $q"
  query "$q" | sed 's/^/     /'
done
echo "-- Alertmanager's receiver"
$py - "$work/alertmanager-hook.jsonl" <<'PY' || true
import json, sys
for line in open(sys.argv[1]):
    body = json.loads(json.loads(line)["body"])
    for a in body["alerts"]:
        print(f'   {body["status"]:8} {a["labels"].get("alertname")} model={a["labels"].get("model")} '
              f'startsAt={a["startsAt"]} endsAt={a["endsAt"]}')
PY
echo "-- the retraining receiver (driftd's webhook)"
$py - "$work/retrain.jsonl" <<'PY' || true
import json, sys
seen = set()
for line in open(sys.argv[1]):
    entry = json.loads(line)
    h, body = entry["headers"], json.loads(entry["body"])
    dup = " (duplicate id)" if h["webhook-id"] in seen else ""
    seen.add(h["webhook-id"])
    print(f'   POST {entry["path"]}  webhook-id={h["webhook-id"][:16]}…{dup}')
    print(f'     signatures: GitHub {"ok" if entry["github_signature_ok"] else "BAD"}, '
          f'Standard Webhooks {"ok" if entry["standard_signature_ok"] else "BAD"}')
    print("     " + json.dumps(body, indent=2).replace("\n", "\n     "))
PY

if [ $check -eq 1 ]; then
  # Every retraining request verifies, and each event id arrived once.
  $py - "$work/retrain.jsonl" <<'PY' || failed=1
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1])]
ids = [e["headers"]["webhook-id"] for e in entries]
assert all(e["github_signature_ok"] and e["standard_signature_ok"] for e in entries), "bad signature"
assert len(ids) == len(set(ids)), f"an event id arrived twice: {ids}"
bodies = [json.loads(e["body"]) for e in entries]
assert all(b["resourceKind"] == "WorkflowTemplate" and b["resourceName"] == "retrain-fraud"
           for b in bodies), "not an Argo WorkflowTemplate submit"
assert all(e["path"] == "/api/v1/workflows/ml/submit" for e in entries)
PY
  if [ $failed -ne 0 ]; then echo "e2e-demo: FAILED (logs: rerun with --keep)"; exit 1; fi
  echo "e2e-demo: every step happened"
fi
