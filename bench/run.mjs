// npm run bench — every figure of the project in one table (stdout) and bench/results.json.
// Figures are measured against a baseline in the same run where one exists; budgets are checked
// here (the bench fails its own budget check), never as timed assertions in tests.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { gzipSync } from "node:zlib";
import os from "node:os";

import { stormFigures } from "./storm.mjs";
import { otkFigures } from "./otk.mjs";
import { loadingFigures } from "./loading.mjs";
import { budgetFigures } from "./budgets.mjs";
import { diagnosticsFigures } from "./diagnostics.mjs";
import { writerFigures } from "./writer.mjs";
import { engineFigures } from "./engines.mjs";
import { startLongStorm } from "./memory.mjs";

const root = new URL("../", import.meta.url);
const figures = [];

function gzipped(paths) {
  return paths.reduce((sum, p) => sum + gzipSync(readFileSync(new URL(p, root)), { level: 9 }).length, 0);
}

function record(figure) {
  figures.push(figure);
}

/** pkg/ files an ESM module pulls in at load: its static imports and re-exports, transitively. */
function staticImports(entry) {
  const seen = new Set();
  const visit = (path) => {
    if (seen.has(path)) return;
    seen.add(path);
    const text = readFileSync(new URL(path, root), "utf8");
    // Minified or not: `import … from "./x"`, `import "./x"` and `export … from "./x"` (never `import("./x")`).
    for (const [, spec] of text.matchAll(/(?:^|[;\s}])(?:import|export)\s*(?:[^"';()]*?from\s*)?["'](\.{1,2}\/[^"']+)["']/g)) {
      visit(new URL(spec, new URL(path, root)).pathname.slice(new URL(root).pathname.length));
    }
  };
  visit(entry);
  return [...seen];
}

// --- Sizes of the package's parts (the budget at start is measured on a real page load below) ---
const core = ["pkg/core/guardian_core_bg.wasm", "pkg/core/guardian_core.js"];
const watch = ["pkg/watch/guardian_watch_bg.wasm", "pkg/watch/guardian_watch.js"];
const lease = ["pkg/lease/guardian_lease_bg.wasm", "pkg/lease/guardian_lease.js"];
const forensics = ["pkg/forensics/forensics_bg.wasm", "pkg/forensics/forensics.js"];
for (const p of [...core, ...watch, ...lease, ...forensics]) {
  if (!existsSync(new URL(p, root))) throw new Error(`${p} is missing: run npm run build`);
}
const jsAtStart = staticImports("pkg/index.js").filter((p) => !core.includes(p));
record({ name: "core wasm + wasm-bindgen glue, gzipped", value: gzipped(core) / 1024, unit: "KB" });
record({ name: `JS layer loaded at start (index.js + ${jsAtStart.length - 1} modules), gzipped`, value: gzipped(jsAtStart) / 1024, unit: "KB" });
record({ name: "lazily loaded module: storm watch and after-trouble models (watch wasm + glue), gzipped: fetched with the first keys/upload or trouble", value: gzipped(watch) / 1024, unit: "KB", budget: 200 });
record({ name: "lazily loaded module: the writer lease (lease wasm + glue), gzipped: fetched at start only by a page without Web Locks", value: gzipped(lease) / 1024, unit: "KB", budget: 200 });
record({ name: "lazily loaded module: matrix-sdk-crypto checks (forensics wasm + glue), gzipped: fetched for a diagnosis or an export", value: gzipped(forensics) / 1024, unit: "KB", budget: 200 });
record({ name: "drop-in loader, gzipped", value: gzipped(["pkg/dropin.js"]) / 1024, unit: "KB" });

// --- Memory after a long real storm (issue 9): runs on its own stack alongside everything below ---
const longStorm = startLongStorm({ windowMs: Number(process.env.MCG_BENCH_STORM_MS || 600_000) });

// --- Budgets that matter to users (issue 18), against the same run's bare page: bytes at start, time to
//     the first /sync on a healthy reload, the fetch tap's cost per unrelated request ---
for (const f of await budgetFigures()) record(f);

// --- Drop-in loading (issue 8): script start -> guardian ready, next to the page's own load ---
for (const f of await loadingFigures()) record(f);

// --- Storm watch (issue 3): real Synapse, real matrix-js-sdk, Chromium ---
const windowMs = Number(process.env.MCG_BENCH_WINDOW_MS || 60_000);
for (const f of await stormFigures({ windowMs })) record(f);

// --- One-time-key health (issue 19): the SDK versions that broke it, against their baselines ---
for (const f of await otkFigures({ windowMs })) record(f);

// --- Diagnostics (issue 7): console tap, journal, own database, memory after a storm ---
for (const f of await diagnosticsFigures()) record(f);

// --- Single writer (issue 4): failover latency, Web Locks vs the lease fallback ---
for (const f of await writerFigures()) record(f);

// --- Every engine (issue 16): writer failover and detection latency in Chromium, Firefox ESR, WebKitGTK ---
for (const f of await engineFigures()) record(f);

for (const f of await longStorm.finish()) record(f);

// --- Output ---
const rows = figures.map((f) => ({
  figure: f.name,
  value: `${Number.isInteger(f.value) ? f.value : f.value.toFixed(f.unit === "KB" ? 1 : 2)} ${f.unit}`,
  baseline: f.baseline === undefined ? "" : `${Number.isInteger(f.baseline) ? f.baseline : f.baseline.toFixed(2)} ${f.unit}`,
  ratio: f.baseline ? (f.value / f.baseline).toFixed(3) : "",
  "goal/budget": f.budget !== undefined ? `≤ ${f.budget} ${f.unit}` : f.goal ?? "",
  ok: f.budget !== undefined ? (f.value <= f.budget ? "yes" : "OVER") : f.ok === undefined ? "" : f.ok ? "yes" : "no",
}));
const cols = Object.keys(rows[0]);
const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
const line = (cells) => "| " + cells.map((c, i) => String(c).padEnd(width[i])).join(" | ") + " |";
console.log(line(cols));
console.log("|" + width.map((w) => "-".repeat(w + 2)).join("|") + "|");
for (const r of rows) console.log(line(cols.map((c) => r[c])));

const results = {
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.release()}` },
  figures,
};
writeFileSync(new URL("bench/results.json", root), JSON.stringify(results, null, 2) + "\n");
console.log(JSON.stringify(results));
const over = figures.filter((f) => f.budget !== undefined && f.value > f.budget);
if (over.length) {
  console.error(`budget exceeded: ${over.map((f) => f.name).join(", ")}`);
  process.exit(1);
}
