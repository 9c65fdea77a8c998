// Type-checks every dashboard in dashboards/ against the Dashboard type of @grafana/schema
// (pinned in package-lock.json) with tsc --strict: each file becomes
//
//   import type { Dashboard } from "@grafana/schema";
//   export const d = <the JSON> satisfies GrafanaJson<Dashboard>;
//
// GrafanaJson<T> (grafana-json.ts) is Dashboard with each TypeScript string enum replaced by the
// union of its values: a JSON file can only spell `"mode": "absolute"`, never
// `ThresholdsMode.Absolute`, and plain `satisfies Dashboard` rejects every such value. Unknown
// keys, wrong types and invalid enum values still fail. A self-test first checks that broken
// dashboards are rejected, so the check cannot pass by checking nothing.
//
// Usage: node typecheck.mjs [dashboards-dir]   (default: ../../dashboards)
// Exit status: 0 all dashboards type-check, 1 a dashboard does not (or the self-test failed),
// 77 skipped (packages not installed: run `npm ci` here).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const dashboardsDir = path.resolve(process.argv[2] ?? path.join(here, "..", "..", "dashboards"));
const tsc = path.join(here, "node_modules", "typescript", "bin", "tsc");

if (!fs.existsSync(tsc) || !fs.existsSync(path.join(here, "node_modules", "@grafana", "schema"))) {
  console.log(`SKIPPED: ${path.join(here, "node_modules")} lacks typescript or @grafana/schema; ` +
              `run \`npm ci\` in ${here} (scripts/test.sh does)`);
  process.exit(77);
}

const files = fs.readdirSync(dashboardsDir).filter((f) => f.endsWith(".json")).sort();
if (files.length === 0) {
  console.error(`no dashboards in ${dashboardsDir}`);
  process.exit(1);
}

// The wrapper of one dashboard (no newline before `satisfies`: TS1434).
function wrap(json) {
  return 'import type { Dashboard } from "@grafana/schema";\n' +
         'import type { GrafanaJson } from "./grafana-json";\n' +
         `export const d = ${json.trimEnd()} satisfies GrafanaJson<Dashboard>;\n`;
}

// Runs tsc over `sources` ({name: text}) in a fresh directory below this one (so that
// node_modules resolves); returns {ok, output}.
function typecheck(sources) {
  const dir = fs.mkdtempSync(path.join(here, ".tmp-typecheck-"));
  try {
    fs.copyFileSync(path.join(here, "grafana-json.ts"), path.join(dir, "grafana-json.ts"));
    const names = [];
    for (const [name, text] of Object.entries(sources)) {
      fs.writeFileSync(path.join(dir, name), text);
      names.push(path.join(dir, name));
    }
    try {
      execFileSync(process.execPath, [tsc, "--noEmit", "--strict", "--moduleResolution", "bundler",
                                      "--module", "esnext", "--target", "es2022", "--skipLibCheck",
                                      "--pretty", "false", ...names],
                   { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      return { ok: true, output: "" };
    } catch (e) {
      if (e.status === null || e.status === undefined) throw e;  // tsc did not run
      return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}`.split(dir + path.sep).join("") };
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---- self-test: the check must reject broken dashboards --------------------------------------
const sample = JSON.parse(fs.readFileSync(path.join(dashboardsDir, files[0]), "utf8"));
const firstPanel = (d) => d.panels.find((p) => p.type !== "row");
const broken = {
  "unknown dashboard key": (d) => { d.refreshInterval = "30s"; },
  "unknown panel key": (d) => { firstPanel(d).descriptoin = "typo"; },
  "gridPos as a string": (d) => { firstPanel(d).gridPos.w = "12"; },
  "invalid threshold mode": (d) => {
    firstPanel(d).fieldConfig.defaults.thresholds = { mode: "absolut", steps: [] };
  },
  "schemaVersion missing": (d) => { delete d.schemaVersion; },
  "variable of an unknown type": (d) => { d.templating.list[0].type = "prometheus"; },
};
const brokenSources = {};
for (const [what, breakIt] of Object.entries(broken)) {
  const d = structuredClone(sample);
  breakIt(d);
  brokenSources[`broken-${Object.keys(brokenSources).length}.ts`] = wrap(JSON.stringify(d, null, 2));
}
let failed = false;
// One tsc run per broken file would be slow; tsc reports errors per file, so one run suffices.
const brokenResult = typecheck(brokenSources);
Object.keys(broken).forEach((what, k) => {
  if (brokenResult.ok || !brokenResult.output.includes(`broken-${k}.ts(`)) {
    console.error(`self-test FAILED: a dashboard with ${what} type-checks`);
    failed = true;
  }
});
const sampleResult = typecheck({ "sample.ts": wrap(JSON.stringify(sample)) });
if (!sampleResult.ok) {
  console.error(`self-test: ${files[0]} as is must type-check:\n${sampleResult.output}`);
  failed = true;
}
if (!failed) console.log(`self-test: ${Object.keys(broken).length} broken dashboards rejected`);

// ---- the dashboards ---------------------------------------------------------------------------
const sources = {};
for (const file of files) {
  const text = fs.readFileSync(path.join(dashboardsDir, file), "utf8");
  try {
    JSON.parse(text);
  } catch (e) {
    console.error(`${file}: not JSON: ${e.message}`);
    failed = true;
    continue;
  }
  sources[file.replace(/\.json$/, ".ts")] = wrap(text);
}
const result = typecheck(sources);
if (result.ok) {
  for (const file of Object.keys(sources)) console.log(`ok: ${file.replace(/\.ts$/, ".json")} satisfies Dashboard`);
} else {
  console.error(`dashboards do not type-check against @grafana/schema:\n${result.output}`);
  failed = true;
}
process.exit(failed ? 1 : 0);
