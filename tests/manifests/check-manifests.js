#!/usr/bin/env node
// Renders every kustomize overlay in manifests/ with `kubectl kustomize` and checks the result:
//   - every object validates against the Kubernetes / prometheus-operator schemas
//     (kubernetes-models, @kubernetes-models/prometheus-operator);
//   - no unknown fields: the schema validators are run on a Proxy that records every property
//     they read; a field the validator never looks at (and not in a map it enumerates) is not
//     in the schema (a misspelling, or a field of another kind);
//   - only the kinds driftd ships, each with the app.kubernetes.io/* labels;
//   - every container meets the restricted Pod Security profile, has a read-only root file
//     system, CPU and memory requests and limits; driftd's containers have the probes, the
//     named port, a writable volume at state.dir and a configuration that `driftd
//     validate-config` accepts (when DRIFTD_BINARY names the binary);
//   - per overlay: native sidecar / plain container / DaemonSet / GPU scheduling;
//   - Services and monitors select the driftd Pods and name the `metrics` port;
//   - the "new user" scenario: each overlay through a user kustomization that changes only the
//     image (`images:`) and the configuration (configMapGenerator, behavior: replace), and the
//     sidecar component on a user's own Deployment;
//   - the prometheus-release component and the dashboard ConfigMaps (manifests/dashboards).
// Exit status 0 when everything passes; prints "N passed, N failed".
"use strict";

const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const YAML = require("yaml");

const ROOT = path.resolve(__dirname, "../..");
const MANIFESTS = path.join(ROOT, "manifests");
const KUBECTL = process.env.KUBECTL || "kubectl";
const DRIFTD = process.env.DRIFTD_BINARY || "";
const NODE_MODULES = path.join(__dirname, "node_modules");

const VERSION = /project\(driftd VERSION ([0-9.]+)/.exec(
  fs.readFileSync(path.join(ROOT, "CMakeLists.txt"), "utf8"))[1];
const IMAGE = "ghcr.io/driftd/driftd";
const IMAGE_CUDA = "ghcr.io/driftd/driftd-cuda";
const SHIPPED_KINDS = new Set(["ServiceAccount", "ConfigMap", "Service", "NetworkPolicy",
  "DaemonSet", "Deployment", "PodMonitor", "ServiceMonitor", "PrometheusRule"]);
const APP_LABELS = ["name", "instance", "component", "part-of", "version", "managed-by"]
  .map((k) => "app.kubernetes.io/" + k);
// Restricted Pod Security Standard: the only volume types allowed.
const ALLOWED_VOLUMES = new Set(["configMap", "secret", "emptyDir", "persistentVolumeClaim",
  "projected", "downwardAPI", "csi", "ephemeral"]);

let passed = 0;
let failed = 0;
function check(name, fn) {
  try {
    const problems = [];
    fn(problems);
    if (problems.length) throw new Error(problems.join("\n    "));
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n    ${e.message}`);
  }
}

function kustomize(dir) {
  const out = execFileSync(KUBECTL, ["kustomize", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const docs = YAML.parseAllDocuments(out);
  for (const d of docs) if (d.errors.length) throw new Error(`${dir}: ${d.errors[0].message}`);
  return docs.map((d) => d.toJS()).filter((o) => o);
}

// --- schemas -------------------------------------------------------------------------------

function modelModule(obj) {
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
  if (group === "monitoring.coreos.com")
    return path.join(NODE_MODULES, "@kubernetes-models/prometheus-operator", group, version, obj.kind + ".js");
  return path.join(NODE_MODULES, "kubernetes-models", group, version, obj.kind + ".js");
}

// The model's raw schema validator (the module requires ../../_schemas/<Name>.js).
const rawValidators = new Map();
function rawValidator(modulePath) {
  if (!rawValidators.has(modulePath)) {
    const src = fs.readFileSync(modulePath, "utf8");
    const m = /require\("((?:\.\.\/)+_schemas\/[A-Za-z0-9]+\.js)"\)/.exec(src);
    if (!m) throw new Error(`no schema reference in ${modulePath}`);
    rawValidators.set(modulePath, require(path.resolve(path.dirname(modulePath), m[1])).validate);
  }
  return rawValidators.get(modulePath);
}

function tracked(value, p, seen, enumerated) {
  if (value === null || typeof value !== "object") return value;
  return new Proxy(value, {
    get(t, k) {
      if (typeof k === "string" && Object.prototype.hasOwnProperty.call(t, k)) {
        seen.add(`${p}/${k}`);
        return tracked(t[k], `${p}/${k}`, seen, enumerated);
      }
      return t[k];
    },
    has(t, k) { if (typeof k === "string") seen.add(`${p}/${k}`); return k in t; },
    ownKeys(t) { enumerated.add(p); return Reflect.ownKeys(t); },
  });
}

// Paths of fields that the schema does not know.
function unknownFields(obj, validate) {
  const seen = new Set();
  const enumerated = new Set();
  validate(tracked(obj, "", seen, enumerated));
  const unknown = [];
  (function walk(v, p) {
    if (v === null || typeof v !== "object") return;
    for (const k of Object.keys(v)) {
      const q = `${p}/${Array.isArray(v) ? k : k.replace(/~/g, "~0").replace(/\//g, "~1")}`;
      const raw = `${p}/${k}`;
      if (!seen.has(raw) && !enumerated.has(p)) { unknown.push(q); continue; }
      walk(v[k], raw);
    }
  })(obj, "");
  return unknown;
}

function validateObject(obj, problems) {
  const id = `${obj.kind}/${obj.metadata && obj.metadata.name}`;
  if (!SHIPPED_KINDS.has(obj.kind)) { problems.push(`${id}: not a kind driftd ships`); return; }
  const modulePath = modelModule(obj);
  if (!fs.existsSync(modulePath)) { problems.push(`${id}: no schema for ${obj.apiVersion}`); return; }
  const Model = Object.values(require(modulePath))[0];
  try {
    new Model(obj).validate();
  } catch (e) {
    const errs = (e.errors || []).map((x) => `${x.instancePath} ${x.message}`);
    problems.push(`${id}: schema: ${errs.join("; ") || e.message}`);
  }
  for (const f of unknownFields(obj, rawValidator(modulePath))) problems.push(`${id}: unknown field ${f}`);
}

// --- helpers -------------------------------------------------------------------------------

const byKind = (objs, kind) => objs.filter((o) => o.kind === kind);
const workloads = (objs) => objs.filter((o) => o.kind === "DaemonSet" || o.kind === "Deployment");
const allContainers = (podSpec) => [...(podSpec.initContainers || []), ...(podSpec.containers || [])];
const isDriftd = (c) => c.name === "driftd";
const matches = (selector, labels) =>
  Object.entries(selector || {}).every(([k, v]) => (labels || {})[k] === v);

function driftdPods(objs) {
  const pods = [];
  for (const w of workloads(objs)) {
    const spec = w.spec.template.spec;
    const c = allContainers(spec).find(isDriftd);
    if (c) pods.push({ w, spec, labels: w.spec.template.metadata.labels, c });
  }
  return pods;
}

function configOf(objs, podSpec, container, problems) {
  const mount = (container.volumeMounts || []).find((m) => m.mountPath === "/etc/driftd");
  const vol = mount && (podSpec.volumes || []).find((v) => v.name === mount.name);
  if (!vol || !vol.configMap) { problems.push("driftd: no ConfigMap volume at /etc/driftd"); return null; }
  const cm = byKind(objs, "ConfigMap").find((o) => o.metadata.name === vol.configMap.name);
  if (!cm) { problems.push(`driftd: ConfigMap ${vol.configMap.name} is not in the output`); return null; }
  if (!cm.data || typeof cm.data["driftd.yaml"] !== "string") { problems.push(`${cm.metadata.name}: no driftd.yaml key`); return null; }
  return { cm, text: cm.data["driftd.yaml"], config: YAML.parse(cm.data["driftd.yaml"]) };
}

function validateConfigWithDaemon(text, problems) {
  if (!DRIFTD) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "driftd-cfg-"));
  try {
    const file = path.join(dir, "driftd.yaml");
    fs.writeFileSync(file, text);
    execFileSync(DRIFTD, ["validate-config", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    problems.push(`driftd validate-config: ${(e.stderr || e.message).trim()}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// --- the checks ------------------------------------------------------------------------------

function checkLabels(objs, problems) {
  for (const o of objs) {
    const labels = o.metadata.labels || {};
    for (const k of APP_LABELS) if (!labels[k]) problems.push(`${o.kind}/${o.metadata.name}: no label ${k}`);
    if (labels["app.kubernetes.io/part-of"] === "driftd" && labels["app.kubernetes.io/version"] !== VERSION)
      problems.push(`${o.kind}/${o.metadata.name}: app.kubernetes.io/version ${labels["app.kubernetes.io/version"]} is not the project's ${VERSION}`);
  }
  for (const { w, labels } of driftdPods(objs))
    if (w.kind === "DaemonSet") for (const k of APP_LABELS) if (!labels[k]) problems.push(`${w.kind}/${w.metadata.name}: Pod template has no label ${k}`);
}

function checkSecurity(objs, problems) {
  for (const w of workloads(objs)) {
    const spec = w.spec.template.spec;
    const id = `${w.kind}/${w.metadata.name}`;
    const psc = spec.securityContext || {};
    for (const f of ["hostNetwork", "hostPID", "hostIPC"]) if (spec[f]) problems.push(`${id}: ${f}`);
    for (const v of spec.volumes || []) {
      const type = Object.keys(v).find((k) => k !== "name");
      if (!ALLOWED_VOLUMES.has(type)) problems.push(`${id}: volume ${v.name} is ${type} (restricted profile)`);
    }
    if (spec.automountServiceAccountToken !== false) problems.push(`${id}: automountServiceAccountToken is not false`);
    for (const c of allContainers(spec)) {
      const cid = `${id} container ${c.name}`;
      const sc = c.securityContext || {};
      if (!(sc.runAsNonRoot === true || (sc.runAsNonRoot === undefined && psc.runAsNonRoot === true))) problems.push(`${cid}: runAsNonRoot is not true`);
      const uid = sc.runAsUser !== undefined ? sc.runAsUser : psc.runAsUser;
      if (!uid) problems.push(`${cid}: no non-zero runAsUser`);
      if (isDriftd(c) && uid !== 65532) problems.push(`${cid}: runAsUser ${uid}, not 65532`);
      if (sc.allowPrivilegeEscalation !== false) problems.push(`${cid}: allowPrivilegeEscalation is not false`);
      if (sc.privileged) problems.push(`${cid}: privileged`);
      if (!((sc.capabilities || {}).drop || []).includes("ALL")) problems.push(`${cid}: capabilities.drop lacks ALL`);
      if (((sc.capabilities || {}).add || []).length) problems.push(`${cid}: adds capabilities`);
      const seccomp = (sc.seccompProfile || psc.seccompProfile || {}).type;
      if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") problems.push(`${cid}: seccompProfile is not RuntimeDefault`);
      if (sc.readOnlyRootFilesystem !== true) problems.push(`${cid}: readOnlyRootFilesystem is not true`);
      for (const p of c.ports || []) if (p.hostPort) problems.push(`${cid}: hostPort`);
      const r = c.resources || {};
      for (const kind of ["requests", "limits"]) for (const res of ["cpu", "memory"])
        if (!(r[kind] || {})[res]) problems.push(`${cid}: no ${res} ${kind.slice(0, -1)}`);
    }
  }
}

function probePath(p) { return p && p.httpGet && p.httpGet.path; }

function checkDriftd(objs, problems) {
  const pods = driftdPods(objs);
  if (!pods.length) problems.push("no driftd container");
  for (const { w, spec, c } of pods) {
    const id = `${w.kind}/${w.metadata.name} driftd`;
    if (!c.image || !c.image.includes("driftd")) problems.push(`${id}: image ${c.image}`);
    if (JSON.stringify(c.args) !== JSON.stringify(["run", "--config", "/etc/driftd/driftd.yaml"]))
      problems.push(`${id}: args ${JSON.stringify(c.args)}`);
    const port = (c.ports || []).find((p) => p.name === "metrics");
    if (!port || port.containerPort !== 9108) problems.push(`${id}: no port metrics = 9108`);
    if (probePath(c.livenessProbe) !== "/healthz") problems.push(`${id}: livenessProbe is not /healthz`);
    if (probePath(c.readinessProbe) !== "/readyz") problems.push(`${id}: readinessProbe is not /readyz`);
    if (!c.startupProbe) problems.push(`${id}: no startupProbe`);
    else if ((c.startupProbe.failureThreshold || 3) * (c.startupProbe.periodSeconds || 10) < 60)
      problems.push(`${id}: startupProbe allows less than 60 s`);
    for (const p of [c.livenessProbe, c.readinessProbe, c.startupProbe])
      if (p && p.httpGet && p.httpGet.port !== "metrics" && p.httpGet.port !== 9108) problems.push(`${id}: probe port ${p.httpGet.port}`);
    const cfg = configOf(objs, spec, c, problems);
    if (!cfg) continue;
    const { config, text } = cfg;
    if (!config.server || !/^0\.0\.0\.0:9108$/.test(config.server.listen)) problems.push(`${id}: server.listen is not 0.0.0.0:9108`);
    if (config.server && config.server.ready_requires && config.server.ready_requires.length)
      problems.push(`${id}: server.ready_requires makes /readyz depend on sources or data`);
    const stateDir = config.state && config.state.dir;
    const mount = (c.volumeMounts || []).find((m) => m.mountPath === stateDir);
    const vol = mount && (spec.volumes || []).find((v) => v.name === mount.name);
    if (!vol || !(vol.emptyDir || vol.persistentVolumeClaim || vol.ephemeral) || mount.readOnly)
      problems.push(`${id}: state.dir ${stateDir} is not a writable emptyDir/PVC mount`);
    for (const s of config.sources || []) if (s.type === "file") {
      const m = (c.volumeMounts || []).find((x) => s.path.startsWith(x.mountPath + "/"));
      if (!m) problems.push(`${id}: file source ${s.path} is on no volume`);
    }
    validateConfigWithDaemon(text, problems);
  }
}

function checkServicesAndMonitors(objs, problems) {
  const pods = driftdPods(objs);
  const svcs = byKind(objs, "Service");
  for (const s of svcs) {
    const port = (s.spec.ports || []).find((p) => p.name === "metrics");
    if (!port || port.port !== 9108 || port.targetPort !== "metrics") problems.push(`Service/${s.metadata.name}: no port metrics 9108 -> metrics`);
    if (!pods.some((p) => matches(s.spec.selector, p.labels))) problems.push(`Service/${s.metadata.name}: selects no driftd Pod`);
  }
  const pms = byKind(objs, "PodMonitor");
  const sms = byKind(objs, "ServiceMonitor");
  if (pms.length + sms.length !== 1) problems.push(`${pms.length} PodMonitors and ${sms.length} ServiceMonitors: want exactly one monitor (else Pods are scraped twice)`);
  for (const m of pms) {
    if (!pods.some((p) => matches(m.spec.selector.matchLabels, p.labels))) problems.push(`PodMonitor/${m.metadata.name}: selects no driftd Pod`);
    if (!m.spec.podMetricsEndpoints.every((e) => e.port === "metrics")) problems.push(`PodMonitor/${m.metadata.name}: port is not metrics`);
  }
  for (const m of sms) {
    if (!svcs.some((s) => matches(m.spec.selector.matchLabels, s.metadata.labels))) problems.push(`ServiceMonitor/${m.metadata.name}: selects no Service`);
    if (!m.spec.endpoints.every((e) => e.port === "metrics")) problems.push(`ServiceMonitor/${m.metadata.name}: port is not metrics`);
  }
  for (const n of byKind(objs, "NetworkPolicy")) {
    if (!pods.some((p) => matches(n.spec.podSelector.matchLabels, p.labels))) problems.push(`NetworkPolicy/${n.metadata.name}: selects no driftd Pod`);
    const ports = (n.spec.ingress || []).flatMap((r) => (r.ports || [{ port: "any" }]).map((p) => p.port));
    if (JSON.stringify(ports) !== "[9108]") problems.push(`NetworkPolicy/${n.metadata.name}: ingress ports ${JSON.stringify(ports)}, want only 9108`);
  }
  for (const sa of byKind(objs, "ServiceAccount"))
    if (sa.automountServiceAccountToken !== false) problems.push(`ServiceAccount/${sa.metadata.name}: automountServiceAccountToken is not false`);
  if (byKind(objs, "PrometheusRule").length !== 1) problems.push("want the PrometheusRule");
}

function checkOverlayShape(name, objs, problems) {
  const pods = driftdPods(objs);
  for (const { w, spec, c } of pods) {
    const inInit = (spec.initContainers || []).includes(c);
    if (name.startsWith("sidecar")) {
      if (w.kind !== "Deployment") problems.push(`${name}: driftd is in a ${w.kind}`);
      if ((spec.containers || []).filter((x) => !isDriftd(x)).length === 0) problems.push(`${name}: no model container beside driftd`);
      if (name === "sidecar" && !(inInit && c.restartPolicy === "Always")) problems.push("sidecar: driftd is not an initContainers entry with restartPolicy: Always");
      if (name === "sidecar-legacy" && (inInit || c.restartPolicy)) problems.push("sidecar-legacy: driftd is not a plain container");
      const shared = (spec.volumes || []).find((v) => v.name === "driftd-predictions");
      if (!shared || !shared.emptyDir) problems.push(`${name}: no shared emptyDir driftd-predictions`);
      if (!allContainers(spec).some((x) => !isDriftd(x) && (x.volumeMounts || []).some((m) => m.name === "driftd-predictions")))
        problems.push(`${name}: the model does not mount driftd-predictions`);
    } else {
      if (w.kind !== "DaemonSet") problems.push(`${name}: driftd is in a ${w.kind}`);
      if (spec.serviceAccountName !== "driftd" || !byKind(objs, "ServiceAccount").some((s) => s.metadata.name === "driftd"))
        problems.push(`${name}: not running as ServiceAccount driftd`);
    }
    const gpuLimit = ((c.resources || {}).limits || {})["nvidia.com/gpu"];
    if (name === "daemonset-gpu") {
      if (String(gpuLimit) !== "1") problems.push("daemonset-gpu: nvidia.com/gpu limit is not 1");
      if (((c.resources || {}).requests || {})["nvidia.com/gpu"] !== undefined) problems.push("daemonset-gpu: nvidia.com/gpu belongs in limits only");
      if (!spec.nodeSelector || Object.keys(spec.nodeSelector).length === 0) problems.push("daemonset-gpu: no node selector");
      if (!(spec.tolerations || []).some((t) => t.key === "nvidia.com/gpu" && t.effect === "NoSchedule")) problems.push("daemonset-gpu: no nvidia.com/gpu NoSchedule toleration");
      if (!c.image.includes("driftd-cuda")) problems.push(`daemonset-gpu: image ${c.image} is not the CUDA image`);
      const cfg = configOf(objs, spec, c, []);
      if (!cfg || !["gpu", "auto"].includes(cfg.config.backend)) problems.push("daemonset-gpu: configuration backend is not gpu/auto");
    } else if (gpuLimit !== undefined) problems.push(`${name}: asks for a GPU`);
    if (c.image.includes("driftd") && !c.image.endsWith(":" + VERSION) && !c.image.includes("example.com"))
      problems.push(`${name}: image ${c.image} is not tagged with the project version ${VERSION}`);
  }
}

function checkAll(name, objs, problems) {
  for (const o of objs) validateObject(o, problems);
  checkLabels(objs, problems);
  checkSecurity(objs, problems);
  checkDriftd(objs, problems);
  checkServicesAndMonitors(objs, problems);
  checkOverlayShape(name, objs, problems);
}

// --- the "new user" kustomizations ---------------------------------------------------------

const USER_CONFIG = `# the user's own configuration
server:
  listen: "0.0.0.0:9108"
state:
  dir: /var/lib/driftd
backend: auto
sources:
  - name: ingest
    type: http
    format: kserve-v2
models:
  - name: user-model
    sources: [ingest]
    features:
      - {name: x, pointer: /0}
    reference: {bootstrap: 1000}
    window: {size: 5000, slide: 500}
`;

function userKustomization(dir, extra) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "my-driftd.yaml"), USER_CONFIG);
  const k = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    ...extra,
    images: [
      { name: IMAGE, newName: "registry.example.com/ml/driftd", newTag: "9.9.9" },
      { name: IMAGE_CUDA, newName: "registry.example.com/ml/driftd-cuda", newTag: "9.9.9" },
    ],
    configMapGenerator: [{ name: "driftd-config", behavior: "replace", files: ["driftd.yaml=my-driftd.yaml"] }],
  };
  fs.writeFileSync(path.join(dir, "kustomization.yaml"), YAML.stringify(k));
}

function checkUserChanges(objs, problems) {
  for (const { w, spec, c } of driftdPods(objs)) {
    if (!/^registry\.example\.com\/ml\/driftd(-cuda)?:9\.9\.9$/.test(c.image)) problems.push(`${w.kind}/${w.metadata.name}: image ${c.image} not replaced`);
    const cfg = configOf(objs, spec, c, problems);
    if (cfg && cfg.text !== USER_CONFIG) problems.push(`${w.kind}/${w.metadata.name}: configuration is not the user's file`);
  }
  for (const w of workloads(objs)) for (const c of allContainers(w.spec.template.spec))
    if (c.image.startsWith("ghcr.io/driftd/")) problems.push(`${c.name}: still ${c.image}`);
}

// --- main ----------------------------------------------------------------------------------

function main() {
  const overlays = fs.readdirSync(path.join(MANIFESTS, "overlays")).filter((d) =>
    fs.existsSync(path.join(MANIFESTS, "overlays", d, "kustomization.yaml"))).sort();
  const expected = ["daemonset", "daemonset-gpu", "sidecar", "sidecar-legacy"];
  check("the overlays are " + expected.join(", "), (p) => {
    if (JSON.stringify(overlays) !== JSON.stringify(expected)) p.push(`found ${overlays.join(", ")}`);
  });

  // The strict check must catch what the schemas let through.
  check("the unknown-field check catches misspelled fields", (p) => {
    const probe = [];
    validateObject({ apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "x", labelz: {} },
      spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } },
        spec: { containers: [{ name: "c", image: "i", imagePullPolicyy: "Always",
          securityContext: { readOnlyRootFileSystem: true } }] } } } }, probe);
    validateObject({ apiVersion: "monitoring.coreos.com/v1", kind: "PodMonitor", metadata: { name: "x" },
      spec: { selector: {}, podMetricsEndpoints: [{ port: "metrics", intervall: "30s" }] } }, probe);
    for (const f of ["/metadata/labelz", "/imagePullPolicyy", "/readOnlyRootFileSystem", "/intervall"])
      if (!probe.some((x) => x.endsWith(f))) p.push(`missed ${f}: ${probe.join("; ")}`);
  });

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "driftd-manifests-"));
  try {
    for (const name of overlays) {
      const dir = path.join(MANIFESTS, "overlays", name);
      let objs = null;
      check(`overlay ${name} renders`, () => { objs = kustomize(dir); });
      if (objs) check(`overlay ${name} validates (schemas, fields, labels, security, probes, config)`, (p) => checkAll(name, objs, p));

      const user = path.join(tmp, "user-" + name);
      userKustomization(user, { resources: [path.relative(user, dir)] });
      check(`new user: overlay ${name} with only images: and the configuration replaced`, (p) => {
        const u = kustomize(user);
        checkAll(name, u, p);
        checkUserChanges(u, p);
      });
    }

    for (const form of ["sidecar", "sidecar-legacy"]) {
      check(`new user: component ${form} on the user's own Deployment`, (p) => {
        const user = path.join(tmp, "own-" + form);
        fs.mkdirSync(user, { recursive: true });
        const example = YAML.parse(fs.readFileSync(path.join(MANIFESTS, "examples/fraud-model/deployment.yaml"), "utf8"));
        example.metadata.name = "my-model";
        const other = JSON.parse(JSON.stringify(example));
        other.metadata.name = "unmonitored";
        delete other.metadata.labels["driftd.io/sidecar"];
        fs.writeFileSync(path.join(user, "models.yaml"), YAML.stringify(example) + "---\n" + YAML.stringify(other));
        userKustomization(user, {
          resources: [path.relative(user, path.join(MANIFESTS, "base")), "models.yaml"],
          components: [path.relative(user, path.join(MANIFESTS, "components", form))],
        });
        const u = kustomize(user);
        checkAll(form, u, p);
        checkUserChanges(u, p);
        const has = (n) => allContainers(u.find((o) => o.metadata.name === n).spec.template.spec).some(isDriftd);
        if (!has("my-model")) p.push("my-model has no driftd");
        if (has("unmonitored")) p.push("an unlabelled Deployment got driftd");
      });
    }

    check("component prometheus-release labels every monitor and rule release: prometheus", (p) => {
      const user = path.join(tmp, "release");
      fs.mkdirSync(user);
      fs.writeFileSync(path.join(user, "kustomization.yaml"), YAML.stringify({
        resources: [path.relative(user, path.join(MANIFESTS, "overlays/daemonset"))],
        components: [path.relative(user, path.join(MANIFESTS, "components/prometheus-release"))],
      }));
      const u = kustomize(user);
      checkAll("daemonset", u, p);
      const mon = u.filter((o) => o.apiVersion.startsWith("monitoring.coreos.com/"));
      if (mon.length !== 2) p.push(`${mon.length} monitoring objects`);
      for (const o of mon) if (o.metadata.labels.release !== "prometheus") p.push(`${o.kind}: no release label`);
      for (const o of u) if (!o.apiVersion.startsWith("monitoring.coreos.com/") && o.metadata.labels.release) p.push(`${o.kind}: labelled release`);
    });

    checkDashboards();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  console.log(`\nmanifests: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

// manifests/dashboards renders dashboards/kustomization.yaml (next to the JSON files).
function checkDashboards() {
  const names = ["drift-overview", "model-detail", "driftd-health"];
  const dir = path.join(MANIFESTS, "dashboards");
  check(`dashboards render as ConfigMaps labelled grafana_dashboard: "1"`, (p) => {
    const objs = kustomize(dir);
    for (const o of objs) validateObject(o, p);
    checkLabels(objs, p);
    const keys = [];
    for (const o of objs) {
      if (o.kind !== "ConfigMap") { p.push(`${o.kind} among the dashboards`); continue; }
      if (o.metadata.labels.grafana_dashboard !== "1") p.push(`${o.metadata.name}: no grafana_dashboard: "1"`);
      const ks = Object.keys(o.data || {});
      if (ks.length !== 1 || !ks[0].endsWith(".json")) p.push(`${o.metadata.name}: keys ${ks.join(", ")}, want one <name>.json`);
      for (const k of ks) { keys.push(k); try { JSON.parse(o.data[k]); } catch (e) { p.push(`${k}: ${e.message}`); } }
    }
    for (const n of names) if (!keys.includes(n + ".json")) p.push(`no ConfigMap for ${n}.json`);
  });
}

main();
