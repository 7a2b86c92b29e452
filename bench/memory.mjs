// Memory after a long real storm (issue 9): the *evict* scenario runs for `windowMs` (default 10 min) with
// and without the guardian, side by side on their own Synapse and Chromium, while the rest of the bench
// runs. After the window, in each page: the JS heap after a forced GC (CDP), and for the guarded page the
// guardian's own wasm memory and journal; plus the conflicting uploads each let through.
import { busyPeer, evictScenario, startStack } from '../tests/support/scenarios.mjs';

/** Starts the long storm now; `finish()` resolves to its figures once the window has passed. */
export function startLongStorm({ windowMs }) {
  const run = (async () => {
    const stack = await startStack();
    try {
      const peer = await busyPeer(stack.hs, { perSecond: 2 });
      // Both scenarios share the peer, so both accounts see the same traffic. evictScenario starts and
      // stops the peer around its window; with two at once, the first to finish would stop it early, so the
      // peer is kept running here for the whole window instead.
      const steady = { ...peer, start() {}, stop() {} };
      peer.start();
      const [off, on] = await Promise.all([
        evictScenario(stack, { guardian: 'off', windowMs, peer: steady, prefix: 'memoff' }),
        evictScenario(stack, { guardian: 'npm', windowMs, peer: steady, prefix: 'memon' }),
      ]);
      peer.stop();
      const [heapOff, heapOn] = [await heapAfterGc(off.page), await heapAfterGc(on.page)];
      const guardian = await on.page.evaluate(async () => {
        // A second init() of a wasm-bindgen module returns the instance already running.
        const core = await (await import('/pkg/core/guardian_core.js')).default();
        const report = await window.demo.guardian.report();
        return { wasmBytes: core.memory.buffer.byteLength, journalEntries: report.journal?.entries?.length ?? null };
      });
      return { heapOff, heapOn, guardian, conflictsOff: off.conflicts, conflictsOn: on.conflicts };
    } finally {
      await stack.close();
    }
  })();
  // Keeps an early failure from being an unhandled rejection while the rest of the bench runs.
  run.catch(() => {});

  return {
    async finish() {
      const m = await run;
      const minutes = Math.round(windowMs / 60_000);
      const mb = (bytes) => bytes / 1048576;
      return [
        { name: `JS heap after a ${minutes}-min storm (after GC), with guardian`, value: mb(m.heapOn), baseline: mb(m.heapOff), unit: 'MB', goal: 'ratio ≤ 1.5' , ok: m.heapOn / m.heapOff <= 1.5 },
        { name: `guardian core wasm memory after the ${minutes}-min storm`, value: mb(m.guardian.wasmBytes), unit: 'MB' },
        { name: `journal entries after the ${minutes}-min storm`, value: m.guardian.journalEntries ?? NaN, unit: 'entries', budget: 200 },
        // While the breaker is open, one real upload goes through as a probe after 1 min, then 2, 4, 8 … min
        // later (t = 1, 3, 7, 15 … min): the first conflict plus the probes due in the window.
        { name: `conflicting uploads at the server, ${minutes}-min evict storm`, value: m.conflictsOn, baseline: m.conflictsOff, unit: 'requests', goal: `≤ ${1 + probesWithin(minutes)} (first + probes)`, ok: m.conflictsOn <= 1 + probesWithin(minutes) },
      ];
    },
  };
}

/** Probes the breaker sends within `minutes` of opening (backoff 1 min, doubling). */
function probesWithin(minutes) {
  return Math.floor(Math.log2(minutes + 1));
}

async function heapAfterGc(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  await cdp.detach();
  return usedSize;
}
