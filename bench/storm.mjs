// Storm-watch figures for npm run bench, each against its baseline in the same run:
//   (the fetch tap's cost per unrelated request is bench/budgets.mjs's: a loopback request's time sits in
//   this machine's noise, so it is measured on a stub fetch there)
//   * detection latency: the host has the 400 → the "storm" event
//   * conflicting uploads reaching Synapse, with vs without the guardian (busy evict, two tabs; 60 s)
import { readFileSync } from 'node:fs';

import { busyPeer, evictScenario, startStack, twoTabsScenario } from '../tests/support/scenarios.mjs';

const SYNAPSE_CONFLICT = JSON.parse(
  readFileSync(new URL('../tests/fixtures/synapse/conflict_identity_replaced.json', import.meta.url), 'utf8'),
);

/** A page of the demo's origin with the guardian's ESM entry imported (not started). */
async function blankPage(stack) {
  const context = await stack.browser.newContext();
  const page = await context.newPage();
  await page.goto(new URL('/config.json', stack.web.url).href);
  return page;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function detectionLatency(stack, { samples = 9 } = {}) {
  const latencies = [];
  for (let i = 0; i < samples; i++) {
    const page = await blankPage(stack);
    await page.route('**/_matrix/client/v3/keys/upload', (route) =>
      route.fulfill({ status: SYNAPSE_CONFLICT.response.status, contentType: SYNAPSE_CONFLICT.response.content_type, body: SYNAPSE_CONFLICT.response.body }),
    );
    const ms = await page.evaluate(async (requestBody) => {
      const { Guardian } = await import('/pkg/index.js');
      const guardian = await Guardian.start({ diagnose: false });
      const stormAt = new Promise((resolve) => guardian.addEventListener('storm', () => resolve(performance.now()), { once: true }));
      const response = await fetch(new URL('/_matrix/client/v3/keys/upload', location.href), { method: 'POST', body: JSON.stringify(requestBody) });
      const hostHasIt = performance.now();
      await response.text();
      return (await stormAt) - hostHasIt;
    }, SYNAPSE_CONFLICT.request.body);
    latencies.push(Math.max(0, ms));
    await page.context().close();
  }
  return { medianMs: median(latencies), maxMs: Math.max(...latencies) };
}

export async function stormFigures({ windowMs = 60_000 } = {}) {
  const stack = await startStack();
  const figures = [];
  try {
    const latency = await detectionLatency(stack);
    figures.push({ name: 'detection latency: 400 at the host → storm event (median)', value: latency.medianMs, unit: 'ms', goal: '≤ 50 ms', ok: latency.medianMs <= 50 });

    const peer = await busyPeer(stack.hs, { perSecond: 2 });
    const seconds = windowMs / 1000;
    const evictOff = await evictScenario(stack, { guardian: 'off', windowMs, peer, prefix: 'bevictoff' });
    await evictOff.page.close();
    const evictOn = await evictScenario(stack, { guardian: 'npm', windowMs, peer, prefix: 'bevicton' });
    await evictOn.page.close();
    figures.push({ name: `conflicting uploads at the server, busy evict, ${seconds} s`, value: evictOn.conflicts, baseline: evictOff.conflicts, unit: 'requests', goal: '≤ 1', ok: evictOn.conflicts <= 1 });

    const tabsOff = await twoTabsScenario(stack, { guardian: 'off', query: { writer: 'off' }, windowMs, peer, prefix: 'btabsoff' });
    await Promise.all(tabsOff.pages.map((p) => p.close()));
    const tabsOn = await twoTabsScenario(stack, { guardian: 'npm', query: { writer: 'off' }, windowMs, peer, prefix: 'btabson' });
    await Promise.all(tabsOn.pages.map((p) => p.close()));
    figures.push({ name: `conflicting uploads at the server, two tabs, ${seconds} s`, value: tabsOn.conflicts, baseline: tabsOff.conflicts, unit: 'requests', goal: '≤ 1 per tab', ok: tabsOn.conflicts <= 2 });

    // The same two tabs with the single-writer lock on (the demo's default): the second tab waits.
    const tabsWriter = await twoTabsScenario(stack, {
      guardian: 'npm',
      windowMs,
      peer,
      prefix: 'btabswriter',
      secondTabSettled: (page) => page.waitForFunction(() => document.body.dataset.appState === 'waiting-for-writer', null, { timeout: 30_000 }),
    });
    await Promise.all(tabsWriter.pages.map((p) => p.close()));
    figures.push({ name: `conflicting uploads at the server, two tabs with the writer lock, ${seconds} s`, value: tabsWriter.conflicts, baseline: tabsOff.conflicts, unit: 'requests', goal: '0', ok: tabsWriter.conflicts === 0 });
  } finally {
    await stack.close();
  }
  return figures;
}
