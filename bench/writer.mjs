// Single writer (issue 4): failover latency — from the writer tab's pagehide to the waiting tab's
// writer-acquired — with Web Locks and with the localStorage lease (navigator.locks removed before load).
// Real Chromium, two pages of one context, the drop-in on a minimal host page that opens the crypto store.
// Times are performance.timeOrigin + now in each page (one machine clock); the end of the closing page is
// journaled in localStorage during its pagehide.
import { serve } from "../scripts/serve.mjs";
import { launchBrowser } from "../tests/support/browser.mjs";

const HOST = `<!doctype html><html><head><meta charset="utf-8">
<script src="/pkg/dropin.js"></script>
<script>
indexedDB.open('matrix-js-sdk::matrix-sdk-crypto', 1).onupgradeneeded = (e) => e.target.result.createObjectStore('s');
document.addEventListener('matrix-crypto-guardian:ready', (e) => e.detail.addEventListener('writer-acquired', () => {
  window.acquiredAt = performance.timeOrigin + performance.now();
}));
addEventListener('pagehide', () => localStorage.setItem('bench-pagehide', String(performance.timeOrigin + performance.now())));
</script></head><body>bench</body></html>`;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
}

async function failovers(browser, url, { removeLocks, trials }) {
  const latencies = [];
  for (let i = 0; i < trials; i++) {
    const context = await browser.newContext();
    if (removeLocks) await context.addInitScript(() => delete Navigator.prototype.locks);
    await context.route("**/bench-writer.html", (r) => r.fulfill({ contentType: "text/html", body: HOST }));
    const open = async () => {
      const page = await context.newPage();
      await page.goto(url);
      await page.waitForFunction(() => ["writer", "waiting"].includes(window.matrixCryptoGuardian?.writer?.().role), null, { timeout: 15_000 });
      return page;
    };
    const first = await open();
    await first.waitForFunction(() => window.acquiredAt);
    const second = await open();
    await second.waitForFunction(() => window.matrixCryptoGuardian.writer().role === "waiting");
    await first.close();
    await second.waitForFunction(() => window.acquiredAt, null, { timeout: 30_000 });
    const latency = await second.evaluate(() => window.acquiredAt - Number(localStorage.getItem("bench-pagehide")));
    latencies.push(latency);
    await context.close();
  }
  return latencies;
}

export async function writerFigures({ trials = Number(process.env.MCG_BENCH_WRITER_TRIALS || 15) } = {}) {
  const [browser, web] = await Promise.all([launchBrowser(), serve({ pkg: process.env.MCG_PKG_DIR || undefined })]);
  try {
    const url = new URL("/bench-writer.html", web.url).href;
    const locks = await failovers(browser, url, { removeLocks: false, trials });
    const lease = await failovers(browser, url, { removeLocks: true, trials });
    const webLocksMedian = median(locks);
    return [
      { name: `writer failover, Web Locks (median of ${trials}, pagehide → writer-acquired)`, value: webLocksMedian, unit: "ms", goal: "≤ 50 ms", ok: webLocksMedian <= 50 },
      { name: `writer failover, Web Locks (max of ${trials})`, value: Math.max(...locks), unit: "ms" },
      { name: `writer failover, lease fallback (median of ${trials})`, value: median(lease), unit: "ms" },
      { name: `writer failover, lease fallback (max of ${trials})`, value: Math.max(...lease), unit: "ms" },
    ];
  } finally {
    await browser.close();
    await web.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of await writerFigures()) console.log(`${f.name}: ${f.value.toFixed(1)} ${f.unit}${f.goal ? ` (goal ${f.goal}: ${f.ok ? "ok" : "MISSED"})` : ""}`);
}
