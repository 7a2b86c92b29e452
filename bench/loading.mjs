// Drop-in loading figures for npm run bench: the time from the drop-in script's first line to a ready
// guardian (its User Timing marks "matrix-crypto-guardian:script-start" and ":ready"), next to the same
// page's own load time (navigation start → load event end), in the same runs. Each run is a fresh browser
// context (cold cache: the wasm is fetched and compiled every time) on the demo client's drop-in page.
import { ensureWwwBuilt } from '../scripts/build-www.mjs';
import { serve } from '../scripts/serve.mjs';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';

import { launchBrowser } from '../tests/support/browser.mjs';
import { snapshotPkg } from '../tests/support/scenarios.mjs';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function loadingFigures({ runs = 7 } = {}) {
  await ensureWwwBuilt();
  const pkg = await snapshotPkg(); // a rebuild of pkg/ during the runs cannot skew them
  const [web, browser] = await Promise.all([serve({ pkg }), launchBrowser()]);
  const samples = [];
  try {
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(new URL('/dropin.html', web.url).href, { waitUntil: 'load' });
      await page.waitForFunction(() => performance.getEntriesByName('matrix-crypto-guardian:ready').length > 0, null, { timeout: 30_000 });
      samples.push(
        await page.evaluate(() => {
          const at = (name) => performance.getEntriesByName(name)[0].startTime;
          const nav = performance.getEntriesByType('navigation')[0];
          return {
            scriptStart: at('matrix-crypto-guardian:script-start'),
            ready: at('matrix-crypto-guardian:ready') - at('matrix-crypto-guardian:script-start'),
            pageLoad: nav.loadEventEnd,
          };
        }),
      );
      await context.close();
    }
  } finally {
    await Promise.allSettled([browser.close(), web.close()]);
    rmSync(dirname(pkg), { recursive: true, force: true });
  }
  const pageLoad = median(samples.map((s) => s.pageLoad));
  return [
    {
      name: `drop-in: script start → guardian ready (median of ${runs}, cold)`,
      value: median(samples.map((s) => s.ready)),
      unit: 'ms',
      baseline: pageLoad,
      goal: 'next to the page load (baseline)',
    },
    { name: `drop-in page: navigation → load event (median of ${runs})`, value: pageLoad, unit: 'ms' },
    { name: 'drop-in: script start after navigation (median)', value: median(samples.map((s) => s.scriptStart)), unit: 'ms' },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of await loadingFigures()) console.log(`${f.name}: ${f.value.toFixed(1)} ${f.unit}${f.baseline ? ` (page load ${f.baseline.toFixed(1)} ms)` : ''}`);
}
