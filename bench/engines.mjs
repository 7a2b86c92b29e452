// Per engine (issue 16): writer failover (median, max) and storm detection latency in Chromium, Firefox
// ESR and WebKitGTK — the same page and the same measurement in each, driven through
// tests/support/browser.mjs (playwright-core for Chromium, WebDriver for the others).
//   failover   two tabs of one profile on a host page with the drop-in; the writer tab closes; from its
//              pagehide (sent as a beacon) to the waiting tab's writer-acquired (performance.timeOrigin + now
//              in each tab: one machine clock). The mechanism the engine gets (Web Locks, or the lease where the
//              engine has no navigator.locks) is named in the figure.
//   detection  the host has the 400 of a keys/upload conflict (Synapse's own answer, replayed by this
//              bench's server) → the guardian's "storm" event.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';

import { launchBrowser } from '../tests/support/browser.mjs';
import { MIME } from '../scripts/serve.mjs';

const ROOT = new URL('../', import.meta.url).pathname;
const SYNAPSE_CONFLICT = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/synapse/conflict_identity_replaced.json'), 'utf8'));

const HOST = `<!doctype html><html><head><meta charset="utf-8">
<script src="/pkg/dropin.js"></script>
<script>
indexedDB.open('matrix-js-sdk::matrix-sdk-crypto', 1).onupgradeneeded = (e) => e.target.result.createObjectStore('s');
document.addEventListener('matrix-crypto-guardian:ready', (e) => e.detail.addEventListener('writer-acquired', () => {
  window.acquiredAt = performance.timeOrigin + performance.now();
}));
addEventListener('pagehide', () => navigator.sendBeacon('/bench-pagehide?at=' + (performance.timeOrigin + performance.now())));
</script></head><body>bench</body></html>`;

/** The host page, pkg/, and a keys/upload that answers as Synapse does after a store loss. */
async function benchServer(pkgDir) {
  const state = { pagehideAt: null };
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname;
    if (req.method === 'POST' && path === '/bench-pagehide') {
      req.resume();
      state.pagehideAt = Number(url.searchParams.get('at'));
      return res.writeHead(204).end();
    }
    if (req.method === 'POST' && path === '/_matrix/client/v3/keys/upload') {
      req.resume();
      const { status, content_type: type, body } = SYNAPSE_CONFLICT.response;
      res.writeHead(status, { 'content-type': type });
      return res.end(body);
    }
    if (path === '/bench.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      return res.end(HOST);
    }
    if (path.startsWith('/pkg/')) {
      const file = join(pkgDir, normalize(path.slice(5)).replace(/^(\.\.[/\\])+/, ''));
      try {
        const body = readFileSync(file);
        res.writeHead(200, { 'content-type': MIME[extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
        return res.end(body);
      } catch {
        /* fall through */
      }
    }
    res.writeHead(404).end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, state, close: () => new Promise((r) => server.close(r)) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function failovers(browser, server, trials) {
  const url = new URL('/bench.html', server.url).href;
  const latencies = [];
  let mechanism = null;
  for (let i = 0; i < trials; i++) {
    const context = await browser.newContext();
    const open = async () => {
      const page = await context.newPage();
      await page.goto(url);
      await page.waitForFunction(() => ['writer', 'waiting'].includes(window.matrixCryptoGuardian?.writer?.().role), null, { timeout: 30_000 });
      return page;
    };
    const first = await open();
    await first.waitForFunction(() => window.acquiredAt, null, { timeout: 30_000 });
    mechanism = await first.evaluate(() => window.matrixCryptoGuardian.writer().mechanism);
    const second = await open();
    await second.waitForFunction(() => window.matrixCryptoGuardian.writer().role === 'waiting', null, { timeout: 30_000 });
    server.state.pagehideAt = null;
    await first.close();
    await second.waitForFunction(() => window.acquiredAt, null, { timeout: 30_000, polling: 20 });
    // The closing tab's pagehide time comes as a beacon (a localStorage write from a closing tab reaches the
    // other tabs late, or not at all, in Firefox).
    const until = Date.now() + 10_000;
    while (server.state.pagehideAt === null && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    if (server.state.pagehideAt === null) throw new Error(`${browser.engine ?? 'chromium'}: no pagehide beacon from the closed writer tab`);
    latencies.push((await second.evaluate(() => window.acquiredAt)) - server.state.pagehideAt);
    await context.close();
  }
  return { latencies, mechanism };
}

async function detection(browser, origin, samples) {
  const latencies = [];
  const context = await browser.newContext();
  for (let i = 0; i < samples; i++) {
    const page = await context.newPage();
    await page.goto(new URL('/pkg/package.json', origin).href);
    const ms = await page.evaluate(async (requestBody) => {
      const { Guardian } = await import('/pkg/index.js');
      const guardian = await Guardian.start({ diagnose: false, persist: false, prompt: false });
      const stormAt = new Promise((resolve) => guardian.addEventListener('storm', () => resolve(performance.now()), { once: true }));
      const response = await fetch(new URL('/_matrix/client/v3/keys/upload', location.href), { method: 'POST', body: JSON.stringify(requestBody) });
      const hostHasIt = performance.now();
      await response.text();
      return (await stormAt) - hostHasIt;
    }, SYNAPSE_CONFLICT.request.body);
    latencies.push(Math.max(0, ms));
    await page.close();
  }
  await context.close();
  return latencies;
}

/** Figures for each engine of MCG_BENCH_ENGINES (default all three). */
export async function engineFigures({
  engines = (process.env.MCG_BENCH_ENGINES || 'chromium firefox webkit').split(/\s+/).filter(Boolean),
  trials = Number(process.env.MCG_BENCH_ENGINE_TRIALS || 7),
  samples = Number(process.env.MCG_BENCH_ENGINE_SAMPLES || 7),
} = {}) {
  const server = await benchServer(process.env.MCG_PKG_DIR || join(ROOT, 'pkg'));
  const figures = [];
  try {
    for (const engine of engines) {
      const browser = await launchBrowser({ engine });
      try {
        const { latencies, mechanism } = await failovers(browser, server, trials);
        const failover = median(latencies);
        figures.push({ engine, name: `${engine}: writer failover, ${mechanism} (median of ${trials}, pagehide → writer-acquired)`, value: failover, unit: 'ms', goal: '≤ 50 ms', ok: failover <= 50 });
        figures.push({ engine, name: `${engine}: writer failover, ${mechanism} (max of ${trials})`, value: Math.max(...latencies), unit: 'ms' });
        const detect = await detection(browser, server.url, samples);
        figures.push({ engine, name: `${engine}: detection latency, 400 at the host → storm event (median of ${samples})`, value: median(detect), unit: 'ms', goal: '≤ 50 ms', ok: median(detect) <= 50 });
        figures.push({ engine, name: `${engine}: detection latency (max of ${samples})`, value: Math.max(...detect), unit: 'ms' });
      } finally {
        await browser.close();
      }
    }
  } finally {
    await server.close();
  }
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of await engineFigures()) console.log(`${f.name}: ${f.value.toFixed(1)} ${f.unit}${f.goal ? ` (goal ${f.goal}: ${f.ok ? 'ok' : 'MISSED'})` : ''}`);
}
