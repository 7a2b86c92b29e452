// Diagnostics figures (issue 7): what the journal costs, in a real Chromium page of the demo client with
// the guardian loaded (no homeserver needed: nothing here talks to one).
//   - console tap: a tapped console call vs the bare original (non-matching and matching lines)
//   - journal: classify + record per line (wasm, in the lazily loaded module where the journal lives)
//   - persistence: one journal save (200 entries, the worst case, coalesced to ≤ 1/s) through
//     the core's own database (src/diagnostics/own_db.rs: open, put, close per save) vs a bare IndexedDB put of the same bytes in the same page
//   - memory after a simulated 10-minute storm (fake clock): stored size, wasm memory
import { ensureWwwBuilt } from "../scripts/build-www.mjs";
import { serve } from "../scripts/serve.mjs";
import { launchBrowser, newUserPage } from "../tests/support/browser.mjs";

export async function diagnosticsFigures() {
  await ensureWwwBuilt();
  const web = await serve({ homeserver: "http://127.0.0.1:9" });
  const browser = await launchBrowser();
  try {
    const page = await newUserPage(browser, { baseUrl: web.url, homeserver: "http://127.0.0.1:9", guardian: "npm", name: "bench-diag" });
    await page.waitForFunction(() => window.demo && window.demo.guardian, null, { timeout: 30_000 });
    const m = await page.evaluate(async () => {
      // The journal's code is in the lazily loaded module (it wakes on trouble).
      const core = await import("/pkg/watch/guardian_watch.js");
      const exports = await core.default();
      const { OwnDb } = await import("/pkg/core/guardian_core.js"); // initialised by the page's guardian
      const { installConsoleTap } = await import("/pkg/console-tap.js");
      const now = () => performance.now();
      const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

      // Console tap, on a fake console so nothing is printed: alternate tapped and bare calls.
      const bare = { error() {}, warn() {}, log() {}, info() {} };
      const tapped = { console: { error() {}, warn() {}, log() {}, info() {} } };
      installConsoleTap(tapped).attach(() => {});
      const plain = "FetchHttpApi: <-- GET /sync [200ms 200]";
      const hit = "Failed to process outgoing request 0: One time key signed_curve25519:AAAA already exists";
      const time = (fn, n) => {
        const t0 = now();
        for (let i = 0; i < n; i++) fn(i);
        return ((now() - t0) * 1000) / n;
      };
      const rounds = (fn) => median(Array.from({ length: 7 }, () => time(fn, 20_000)));
      const tapPlain = rounds(() => tapped.console.error(plain, 1));
      const barePlain = rounds(() => bare.error(plain, 1));
      const tapHit = rounds(() => tapped.console.error(hit));

      // Journal record per line (classification, redaction, dedup) in wasm.
      const j = new core.JournalCore(200);
      const recordUs = rounds((i) => j.recordConsole("error", `${hit} ${i}`, i));

      // Persistence: a full 200-entry journal, saved through the guardian's own database vs a bare put.
      const full = new core.JournalCore(200);
      for (let i = 0; i < 200; i++) full.recordConsole("warn", `MissingKey: missing key at index 1 for participant @${i.toString(36).replace(/\d/g, (d) => "klmnopqrst"[d])}:hs`, i);
      const json = full.toStoredJson();
      const dbName = "mcg-bench-own-db";
      const own = new OwnDb(dbName);
      await own.open();
      const bareDb = await new Promise((resolve, reject) => {
        const req = indexedDB.open("mcg-bench-bare", 1);
        req.onupgradeneeded = () => req.result.createObjectStore("s");
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      const barePut = () =>
        new Promise((resolve, reject) => {
          const tx = bareDb.transaction("s", "readwrite");
          tx.objectStore("s").put(json, "k");
          tx.oncomplete = resolve;
          tx.onerror = () => reject(tx.error);
        });
      const saves = [];
      const puts = [];
      for (let i = 0; i < 15; i++) {
        let t0 = now();
        await own.saveJournal("@bench:hs|DEV", json);
        saves.push(now() - t0);
        t0 = now();
        await barePut();
        puts.push(now() - t0);
      }
      bareDb.close();

      // Memory after a 10-minute storm (fake clock, a KE-1 and a distinct KE-2 line every 50 ms).
      const storm = new core.JournalCore(200);
      for (let t = 0, n = 0; t < 600_000; t += 50, n++) {
        storm.recordConsole("error", `${hit}${n}`, t);
        storm.recordConsole("warn", `MissingKey: missing key at index ${n} for participant @${n.toString(36).replace(/\d/g, (d) => "klmnopqrst"[d])}:hs`, t);
      }
      return {
        tapPlain, barePlain, tapHit, recordUs,
        save: median(saves), put: median(puts), bytes: json.length,
        stormEntries: storm.len(), stormStored: storm.toStoredJson().length,
        wasmMemory: exports.memory.buffer.byteLength,
      };
    });
    return [
      { name: "console tap: tapped call, ordinary line", value: m.tapPlain, unit: "µs", baseline: m.barePlain, goal: "≤ 1 µs added" , ok: m.tapPlain - m.barePlain <= 1 },
      { name: "console tap: tapped call, KE line journaled", value: m.tapHit, unit: "µs", baseline: m.barePlain },
      { name: "journal: classify + redact + record, per line (wasm)", value: m.recordUs, unit: "µs", goal: "≤ 50 µs", ok: m.recordUs <= 50 },
      { name: `journal save, 200 entries (${(m.bytes / 1024).toFixed(0)} KB), own DB (open, put, close)`, value: m.save, unit: "ms", baseline: m.put, goal: "≤ 1 save/s (coalesced)" },
      { name: "journal save cost per entry", value: m.save / 200, unit: "ms", baseline: m.put / 200 },
      { name: "10-min storm (24 000 lines): entries kept", value: m.stormEntries, unit: "entries", budget: 200 },
      { name: "10-min storm: stored journal size", value: m.stormStored / 1024, unit: "KB" },
      { name: "journal module wasm memory after the storm", value: m.wasmMemory / 1048576, unit: "MB" },
    ];
  } finally {
    await browser.close();
    await web.close();
  }
}
