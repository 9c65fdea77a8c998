// Lints every dashboard in dashboards/ with the rules of grafana/dashboard-linter that driftd
// follows (ECOSYSTEM.md §7), reimplemented since that linter is neither in Debian nor in npm,
// plus driftd's own:
//
//   template-datasource   a `datasource` variable of type datasource, query prometheus; no
//                         `__inputs` / `${DS_...}`
//   panel-datasource      every panel and every target uses {type: prometheus, uid: ${datasource}}
//   panel-title-description, panel-units (fieldConfig.defaults.unit), panel-no-targets
//   target-promql         every expression tokenizes and parses (brackets, matchers, calls);
//                         with promtool on PATH, Prometheus's parser checks it too
//   target-rate-interval  every range selector is `[$__rate_interval]` inside rate/irate/increase
//   target-counter-agg    counters (`_total`, histogram `_bucket`/`_count`/`_sum`) only inside
//                         rate/irate/increase; gauges never inside them
//   template-on-time-change-reload   query variables refresh on time-range change (2)
//   metric names          only the families of exporters/METRICS.md, label names only theirs
//                         (plus `le`, `instance`, `job`)
//   no hard-coded models  `model` / `feature` matchers take `$model` / `$feature`; every `$var`
//                         used is defined
//   uid (8-40 chars), tags include driftd, schemaVersion >= 39, unique panel ids and refIds,
//   gridPos inside 24 columns.
//
// A self-test first runs the expression rules on known-bad and known-good queries.
// Usage: node lint.mjs [dashboards-dir [METRICS.md]]. Exit status 0 clean, 1 findings.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, "..", "..");

// ---- METRICS.md --------------------------------------------------------------------------------

/// {name: {type, labels: Set}} from the catalogue table of METRICS.md.
export function readCatalogue(file) {
  const catalogue = {};
  const row = /^\|\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\s*\|\s*(counter|gauge|histogram|summary)\s*\|([^|]*)\|/;
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = row.exec(line);
    if (!m) continue;
    const labels = new Set([...m[3].matchAll(/`([a-zA-Z_][a-zA-Z0-9_]*)`/g)].map((x) => x[1]));
    catalogue[m[1]] = { type: m[2], labels };
  }
  return catalogue;
}

/// The catalogue entry of a sample name: {family, type, labels, counterLike} or null.
function lookup(catalogue, name) {
  if (catalogue[name]) {
    const e = catalogue[name];
    return { family: name, ...e, counterLike: e.type === "counter" || name.endsWith("_total") };
  }
  for (const suffix of ["_bucket", "_count", "_sum"]) {
    if (!name.endsWith(suffix)) continue;
    const family = name.slice(0, -suffix.length);
    const e = catalogue[family];
    if (e && (e.type === "histogram" || e.type === "summary")) {
      const labels = new Set(e.labels);
      if (suffix === "_bucket") labels.add("le");
      return { family, type: e.type, labels, counterLike: true };
    }
  }
  return null;
}

// ---- PromQL ------------------------------------------------------------------------------------

const FUNCTIONS = new Set([
  "abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
  "day_of_month", "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp", "floor",
  "histogram_quantile", "holt_winters", "hour", "idelta", "increase", "irate", "label_join",
  "label_replace", "ln", "log2", "log10", "minute", "month", "predict_linear", "rate", "resets",
  "round", "scalar", "sgn", "sort", "sort_desc", "sqrt", "time", "timestamp", "vector", "year",
  "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
  "quantile_over_time", "stddev_over_time", "stdvar_over_time", "last_over_time",
  "present_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "sin",
  "sinh", "tan", "tanh", "deg", "rad", "pi",
]);
const AGGREGATIONS = new Set(["sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
                              "count_values", "bottomk", "topk", "quantile"]);
const RATE_FUNCTIONS = new Set(["rate", "irate", "increase"]);
const LABEL_LIST_KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
const OPERATOR_KEYWORDS = new Set(["and", "or", "unless", "bool", "atan2"]);
const GRAFANA_GLOBALS = new Set(["__rate_interval", "__interval", "__interval_ms", "__range",
                                 "__range_s", "__range_ms"]);
const EXTRA_LABELS = new Set(["instance", "job"]);

function tokenize(expr) {
  const tokens = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      let value = "";
      while (j < expr.length && expr[j] !== c) {
        if (expr[j] === "\\" && c !== "`") { value += expr[j + 1] ?? ""; j += 2; continue; }
        value += expr[j++];
      }
      if (j >= expr.length) throw new Error(`unterminated string at ${i}`);
      tokens.push({ kind: "string", value, pos: i });
      i = j + 1;
      continue;
    }
    if (c === "[") {
      const j = expr.indexOf("]", i);
      if (j < 0) throw new Error(`unterminated [ at ${i}`);
      tokens.push({ kind: "range", value: expr.slice(i + 1, j).trim(), pos: i });
      i = j + 1;
      continue;
    }
    let m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i));
    if (m) { tokens.push({ kind: "ident", value: m[0], pos: i }); i += m[0].length; continue; }
    m = /^(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(e[+-]?[0-9]+)?|Inf|NaN)/i.exec(expr.slice(i));
    if (m && m[0].length > 0) { tokens.push({ kind: "number", value: m[0], pos: i }); i += m[0].length; continue; }
    m = /^(==|!=|=~|!~|>=|<=|[-+*/%^<>=(){},])/.exec(expr.slice(i));
    if (m) { tokens.push({ kind: "punct", value: m[0], pos: i }); i += m[0].length; continue; }
    if (c === "$") throw new Error(`template variable outside a string or range at ${i}`);
    throw new Error(`unexpected character '${c}' at ${i}`);
  }
  return tokens;
}

/// Lints one PromQL expression; returns a list of findings (strings).
/// `vars`: names of the dashboard's template variables.
export function lintExpr(expr, catalogue, vars) {
  const findings = [];
  let tokens;
  try {
    tokens = tokenize(expr);
  } catch (e) {
    return [`target-promql: ${e.message}`];
  }
  for (const v of expr.matchAll(/\$\{?([a-zA-Z_][a-zA-Z0-9_]*)/g)) {
    if (!vars.has(v[1]) && !GRAFANA_GLOBALS.has(v[1])) findings.push(`undefined variable $${v[1]}`);
  }
  const stack = [];  // {kind: call|group|labels|matchers, name}
  const selectors = [];  // {metric, entry, range, call}
  const usedLabels = [];  // label names from by()/on()/... lists, checked at the end
  const enclosingCall = () => {
    const top = stack[stack.length - 1];
    return top && top.kind === "call" ? top.name : null;
  };
  let expectLabelList = false;
  let pendingAggregation = null;  // `sum by (a) (...)`: the call opens after the label list
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    const next = tokens[k + 1];
    const top = stack[stack.length - 1];
    if (t.kind === "punct" && t.value === "(") {
      if (expectLabelList) stack.push({ kind: "labels" });
      else if (pendingAggregation) stack.push({ kind: "call", name: pendingAggregation });
      else stack.push({ kind: "group" });
      if (!expectLabelList) pendingAggregation = null;
      expectLabelList = false;
      continue;
    }
    if (expectLabelList) {
      findings.push(`target-promql: '(' expected after ${tokens[k - 1].value}`);
      expectLabelList = false;
    }
    if (t.kind === "punct" && t.value === ")") {
      if (!stack.length || stack.pop().kind === "matchers") findings.push(`target-promql: unbalanced ')' at ${t.pos}`);
      continue;
    }
    if (t.kind === "punct" && t.value === "{") {
      findings.push(`target-promql: selector without a metric name at ${t.pos}`);
      continue;
    }
    if (t.kind === "range") {
      findings.push(`target-promql: range [${t.value}] not after a selector`);
      continue;
    }
    if (t.kind !== "ident") continue;
    if (top && top.kind === "labels") {
      usedLabels.push(t.value);
      continue;
    }
    if (LABEL_LIST_KEYWORDS.has(t.value)) {
      if (next && next.kind === "punct" && next.value === "(") expectLabelList = true;
      else if (t.value !== "group_left" && t.value !== "group_right") findings.push(`target-promql: ${t.value} without a label list`);
      continue;
    }
    if (OPERATOR_KEYWORDS.has(t.value)) continue;
    if (AGGREGATIONS.has(t.value) && next && next.kind === "ident" &&
        (next.value === "by" || next.value === "without")) {
      pendingAggregation = t.value;
      continue;
    }
    if (t.value === "offset") { k++; continue; }
    if (next && next.kind === "punct" && next.value === "(") {
      if (!FUNCTIONS.has(t.value) && !AGGREGATIONS.has(t.value)) findings.push(`target-promql: unknown function ${t.value}()`);
      stack.push({ kind: "call", name: t.value });
      k++;
      continue;
    }
    // A metric name: its matchers and range.
    const selector = { metric: t.value, entry: lookup(catalogue, t.value), range: null, call: enclosingCall(), matchers: [] };
    if (next && next.kind === "punct" && next.value === "{") {
      k += 2;
      while (k < tokens.length && !(tokens[k].kind === "punct" && tokens[k].value === "}")) {
        const [name, op, value] = [tokens[k], tokens[k + 1], tokens[k + 2]];
        if (!name || name.kind !== "ident" || !op || !["=", "!=", "=~", "!~"].includes(op.value) ||
            !value || value.kind !== "string") {
          findings.push(`target-promql: bad label matcher in ${t.value}{...}`);
          break;
        }
        selector.matchers.push({ name: name.value, op: op.value, value: value.value });
        k += 3;
        if (tokens[k] && tokens[k].kind === "punct" && tokens[k].value === ",") k++;
      }
      if (k >= tokens.length) findings.push(`target-promql: unterminated {...} after ${t.value}`);
    }
    if (tokens[k + 1] && tokens[k + 1].kind === "range") {
      selector.range = tokens[k + 1].value;
      k++;
    }
    selectors.push(selector);
  }
  if (stack.length) findings.push("target-promql: unbalanced '('");

  const known = new Set(EXTRA_LABELS);
  for (const s of selectors) {
    if (!s.entry) {
      findings.push(`metric ${s.metric} is not in exporters/METRICS.md`);
      continue;
    }
    for (const l of s.entry.labels) known.add(l);
    for (const m of s.matchers) {
      if (!s.entry.labels.has(m.name) && !EXTRA_LABELS.has(m.name)) {
        findings.push(`${s.metric} has no label ${m.name} (METRICS.md)`);
      }
      if (m.name === "model" && !/\$\{?model\b/.test(m.value)) {
        findings.push(`hard-coded model ${s.metric}{model${m.op}"${m.value}"}: use $model`);
      }
      if (m.name === "feature" && !/\$\{?feature\b/.test(m.value)) {
        findings.push(`hard-coded feature ${s.metric}{feature${m.op}"${m.value}"}: use $feature`);
      }
    }
    const inRate = s.call !== null && RATE_FUNCTIONS.has(s.call);
    if (s.entry.counterLike && !(inRate && s.range !== null)) {
      findings.push(`target-counter-agg: counter ${s.metric} outside rate()/irate()/increase()`);
    }
    if (!s.entry.counterLike && inRate) {
      findings.push(`target-counter-agg: gauge ${s.metric} inside ${s.call}()`);
    }
    if (s.range !== null) {
      if (s.range !== "$__rate_interval") {
        findings.push(`target-rate-interval: ${s.metric}[${s.range}]: use [$__rate_interval]`);
      }
      if (!inRate) findings.push(`target-rate-interval: range vector ${s.metric}[${s.range}] outside rate()/irate()/increase()`);
    }
  }
  for (const l of usedLabels) {
    if (!known.has(l)) findings.push(`label ${l} in by/on/without is not a label of the metrics queried`);
  }
  if (selectors.length === 0 && !/\btime\s*\(/.test(expr)) findings.push("target-promql: no metric queried");
  return findings;
}

// ---- dashboards --------------------------------------------------------------------------------

/// Every panel, rows' nested panels included.
export function allPanels(dashboard) {
  const out = [];
  for (const p of dashboard.panels ?? []) {
    out.push(p);
    for (const q of p.panels ?? []) out.push(q);
  }
  return out;
}

const isDatasourceVar = (ds) =>
  ds && typeof ds === "object" && ds.type === "prometheus" && ds.uid === "${datasource}";

export function lintDashboard(text, catalogue) {
  const findings = [];
  if (text.includes("__inputs") || text.includes("${DS_")) {
    findings.push("template-datasource: __inputs / ${DS_...} (provisioning fails); use the datasource variable");
  }
  const d = JSON.parse(text);
  if (typeof d.uid !== "string" || !/^[a-zA-Z0-9_-]{8,40}$/.test(d.uid)) findings.push(`uid ${d.uid}: 8-40 characters [a-zA-Z0-9_-]`);
  if (!d.title) findings.push("no title");
  if (!Array.isArray(d.tags) || !d.tags.includes("driftd")) findings.push("tags must include driftd");
  if (!(d.schemaVersion >= 39)) findings.push(`schemaVersion ${d.schemaVersion} < 39`);

  const variables = d.templating?.list ?? [];
  const vars = new Set(variables.map((v) => v.name));
  const ds = variables.find((v) => v.name === "datasource");
  if (!ds || ds.type !== "datasource" || ds.query !== "prometheus") {
    findings.push('template-datasource: needs {"name": "datasource", "type": "datasource", "query": "prometheus"}');
  }
  for (const v of variables) {
    if (v.type !== "query") continue;
    const where = `variable ${v.name}`;
    if (!isDatasourceVar(v.datasource)) findings.push(`${where}: datasource must be {type: prometheus, uid: \${datasource}}`);
    if (v.refresh !== 2) findings.push(`${where}: template-on-time-change-reload: refresh must be 2 (on time range change)`);
    const query = typeof v.query === "string" ? v.query : v.query?.query;
    const m = /^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/.exec(query ?? "");
    if (!m) {
      findings.push(`${where}: query must be label_values(<selector>, <label>), got ${JSON.stringify(query)}`);
      continue;
    }
    const others = new Set([...vars].filter((n) => n !== v.name));
    for (const f of lintExpr(m[1], catalogue, others)) findings.push(`${where}: ${f}`);
    const entry = lookup(catalogue, m[1].replace(/\{.*$/, "").trim());
    if (entry && !entry.labels.has(m[2])) findings.push(`${where}: ${entry.family} has no label ${m[2]}`);
  }

  const ids = new Set();
  for (const p of allPanels(d)) {
    const where = `panel ${p.id} "${p.title}"`;
    if (typeof p.id !== "number" || ids.has(p.id)) findings.push(`${where}: id missing or not unique`);
    ids.add(p.id);
    const g = p.gridPos;
    if (!g || [g.x, g.y, g.w, g.h].some((n) => !Number.isInteger(n) || n < 0) || g.w < 1 || g.h < 1 || g.x + g.w > 24) {
      findings.push(`${where}: gridPos must lie inside 24 columns`);
    }
    if (p.type === "row") continue;
    if (!p.title) findings.push(`${where}: panel-title-description: no title`);
    if (!p.description || !p.description.trim()) findings.push(`${where}: panel-title-description: no description`);
    if (!isDatasourceVar(p.datasource)) findings.push(`${where}: panel-datasource: must be {type: prometheus, uid: \${datasource}}`);
    const unit = p.fieldConfig?.defaults?.unit;
    if (typeof unit !== "string" || !unit) findings.push(`${where}: panel-units: no fieldConfig.defaults.unit`);
    const targets = p.targets ?? [];
    if (targets.length === 0) findings.push(`${where}: panel-no-targets`);
    const refIds = new Set();
    for (const t of targets) {
      const at = `${where} target ${t.refId}`;
      if (!t.refId || refIds.has(t.refId)) findings.push(`${at}: refId missing or not unique`);
      refIds.add(t.refId);
      if (!isDatasourceVar(t.datasource)) findings.push(`${at}: panel-datasource: must be {type: prometheus, uid: \${datasource}}`);
      if (typeof t.expr !== "string" || !t.expr.trim()) {
        findings.push(`${at}: no expr`);
        continue;
      }
      for (const f of lintExpr(t.expr, catalogue, vars)) findings.push(`${at}: ${f}`);
    }
  }
  return findings;
}

/// Every expression of a dashboard with variables replaced by sample values, for promtool.
function concreteExprs(dashboard) {
  const out = [];
  for (const p of allPanels(dashboard)) {
    for (const t of p.targets ?? []) {
      if (typeof t.expr !== "string") continue;
      out.push({ where: `panel ${p.id} "${p.title}" target ${t.refId}`,
                 expr: t.expr.replace(/\$__rate_interval|\$__interval|\$__range/g, "1m")
                           .replace(/\$\{?([a-zA-Z_][a-zA-Z0-9_]*)\}?/g, "sample") });
    }
  }
  return out;
}

/// Prometheus's own parser over every expression: `promtool check rules` on a rules file with one
/// recording rule per expression (promtool 2.42 has no `promql` command). Null when no promtool.
function promtoolFindings(dashboards) {
  let promtool = null;
  for (const dir of [...(process.env.PATH ?? "").split(":"), "/usr/bin"]) {
    if (dir && fs.existsSync(path.join(dir, "promtool"))) { promtool = path.join(dir, "promtool"); break; }
  }
  if (!promtool) return null;
  const exprs = dashboards.flatMap(([file, d]) => concreteExprs(d).map((e) => ({ ...e, file })));
  const rules = "groups:\n  - name: dashboards\n    rules:\n" +
    exprs.map((e, k) => `      - record: check:q${k}\n        expr: ${JSON.stringify(e.expr)}\n`).join("");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "driftd-dashboards-"));
  try {
    fs.writeFileSync(path.join(dir, "rules.yml"), rules);
    execFileSync(promtool, ["check", "rules", path.join(dir, "rules.yml")], { encoding: "utf8", stdio: "pipe" });
    return [];
  } catch (e) {
    const text = `${e.stdout ?? ""}${e.stderr ?? ""}`;
    return [`promtool check rules failed:\n${text}\n` +
            exprs.map((x, k) => `check:q${k} = ${x.file} ${x.where}: ${x.expr}`).join("\n")];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---- self-test ---------------------------------------------------------------------------------

function selfTest(catalogue) {
  const vars = new Set(["datasource", "model", "feature"]);
  const bad = {
    "drift_records_total": "counter-agg",
    "sum(drift_records_total)": "counter-agg",
    "sum by (le) (drift_evaluation_duration_seconds_bucket)": "counter-agg",
    "drift_evaluation_duration_seconds_count{model=\"$model\"}": "counter-agg",
    "rate(drift_records_total[5m])": "rate-interval",
    "increase(drift_webhook_deliveries_total[$__range])": "rate-interval",
    "rate(drift_window_rows[$__rate_interval])": "gauge drift_window_rows inside",
    "max_over_time(drift_records_total[$__rate_interval])": "counter-agg",
    "drift_feature_statistic{model=\"fraud\"}": "hard-coded model",
    "drift_feature_statistic{model=~\"fraud|churn\"}": "hard-coded model",
    "drift_feature_statistic{model=\"$model\", feature=\"amount\"}": "hard-coded feature",
    "drift_records_accepted_total": "not in exporters/METRICS.md",
    "up{job=\"driftd\"}": "not in exporters/METRICS.md",
    "sum by (modle) (drift_model_drift)": "label modle",
    "drift_model_drift{feature=\"$feature\"}": "has no label feature",
    "drift_model_drift{model=\"$modell\"}": "undefined variable",
    "sum(rate(drift_records_total[$__rate_interval])": "unbalanced",
    "rate(drift_records_total{model=\"$model\"[$__rate_interval])": "promql",
    "sumx(drift_model_drift)": "unknown function",
  };
  const good = [
    "sum by (outcome) (rate(drift_records_total[$__rate_interval]))",
    "histogram_quantile(0.99, sum by (le, model) (rate(drift_evaluation_duration_seconds_bucket{model=~\"$model\"}[$__rate_interval])))",
    "time() - max by (model) (drift_last_evaluation_timestamp_seconds{model=~\"$model\"})",
    "topk(10, max by (model, feature) (drift_feature_statistic{model=\"$model\", test=\"psi\"}))",
    "sum(increase(drift_webhook_deliveries_total[$__rate_interval])) by (webhook, outcome)",
    "max by (instance) (drift_gpu_memory_used_bytes)",
  ];
  const failures = [];
  for (const [expr, expected] of Object.entries(bad)) {
    const f = lintExpr(expr, catalogue, vars);
    if (!f.some((x) => x.includes(expected))) failures.push(`expected "${expected}" for ${expr}, got ${JSON.stringify(f)}`);
  }
  for (const expr of good) {
    const f = lintExpr(expr, catalogue, vars);
    if (f.length) failures.push(`expected no findings for ${expr}, got ${JSON.stringify(f)}`);
  }
  const inputs = JSON.stringify({ __inputs: [], uid: "x", panels: [{ id: 1, type: "stat", datasource: "${DS_PROMETHEUS}" }] });
  const f = lintDashboard(inputs, catalogue);
  for (const expected of ["__inputs", "uid x", "tags", "schemaVersion", "template-datasource", "panel-datasource",
                          "panel-units", "no description", "panel-no-targets"]) {
    if (!f.some((x) => x.includes(expected))) failures.push(`expected "${expected}" for ${inputs}`);
  }
  return failures;
}

// ---- main --------------------------------------------------------------------------------------

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dashboardsDir = path.resolve(process.argv[2] ?? path.join(root, "dashboards"));
  const metricsMd = path.resolve(process.argv[3] ?? path.join(root, "exporters", "METRICS.md"));
  const catalogue = readCatalogue(metricsMd);
  let failed = false;
  if (Object.keys(catalogue).length < 20) {
    console.error(`${metricsMd}: catalogue table not found (${Object.keys(catalogue).length} rows)`);
    process.exit(1);
  }
  const selfFailures = selfTest(catalogue);
  for (const s of selfFailures) console.error(`self-test FAILED: ${s}`);
  if (selfFailures.length) failed = true;
  else console.log("self-test: the expression rules catch every known-bad query");

  const files = fs.readdirSync(dashboardsDir).filter((f) => f.endsWith(".json")).sort();
  if (files.length === 0) { console.error(`no dashboards in ${dashboardsDir}`); process.exit(1); }
  const parsed = [];
  for (const file of files) {
    const text = fs.readFileSync(path.join(dashboardsDir, file), "utf8");
    let findings;
    try {
      findings = lintDashboard(text, catalogue);
      parsed.push([file, JSON.parse(text)]);
    } catch (e) {
      findings = [`not a dashboard: ${e.message}`];
    }
    const panels = parsed.length && parsed[parsed.length - 1][0] === file
      ? allPanels(parsed[parsed.length - 1][1]).filter((p) => p.type !== "row").length : 0;
    if (findings.length) {
      failed = true;
      for (const f of findings) console.error(`${file}: ${f}`);
    } else {
      console.log(`ok: ${file} (${panels} panels)`);
    }
  }
  const promtool = promtoolFindings(parsed);
  if (promtool === null) {
    console.log("promtool not found (Debian package prometheus): Prometheus's parser not run here " +
                "(the dashboards e2e test runs every query on a real Prometheus)");
  } else if (promtool.length) {
    failed = true;
    for (const f of promtool) console.error(f);
  } else {
    console.log("ok: promtool parses every expression");
  }
  process.exit(failed ? 1 : 0);
}
