// The budgets that matter to users (issue 18), each measured against the same run's bare page:
//
//   * bytes at start: every /pkg/ file a real drop-in page loads until the guardian is ready and the host
//     has synced once (gzipped), next to the bare page's own bytes (the same page without the drop-in);
//   * the host's time to its first completed network /sync on a reload of a healthy session, guarded ÷
//     bare, in alternating pairs (ABBA order, so drift in the machine's load falls on both sides), with
//     the ratio's 95% interval: on the demo client on loopback and over an emulated broadband link, and on
//     real Cinny built from its source;
//   * the fetch tap's added time per unrelated request: the tap around a stub fetch vs the bare stub, no
//     network, in the browser's engine (loopback requests sit in this machine's noise).
//
// Real parts: Synapse, the demo client with matrix-js-sdk rust crypto, Cinny, Chromium.
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { gzipSync } from 'node:zlib';

import { appUrl, launchBrowser, login, newUserPage } from '../tests/support/browser.mjs';
import { buildCinny, cinnyArchive, cinnyLogin, HOW_TO_GET_CINNY, openCinny, serveCinny } from '../tests/support/cinny.mjs';
import { startHomeserver } from '../tests/support/homeserver.mjs';
import { freshUser, snapshotPkg, startStack, LOGIN_TIMEOUT_MS } from '../tests/support/scenarios.mjs';

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * The 95% interval of median(guarded) ÷ median(bare), by resampling the alternating pairs with replacement
 * (a percentile bootstrap, 2000 draws, a fixed seed so one run's samples always give one interval). It says
 * how far this machine's noise lets one run's ratio be trusted.
 */
export function ratioInterval(guarded, bare, draws = 2000) {
  let seed = 0x9e3779b9;
  const random = () => {
    // mulberry32: a few lines, enough for resampling indices
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const n = Math.min(guarded.length, bare.length);
  const ratios = [];
  for (let d = 0; d < draws; d++) {
    const pick = Array.from({ length: n }, () => Math.floor(random() * n));
    ratios.push(median(pick.map((i) => guarded[i])) / median(pick.map((i) => bare[i])));
  }
  ratios.sort((a, b) => a - b);
  return [ratios[Math.floor(draws * 0.025)], ratios[Math.floor(draws * 0.975)]];
}
const SYNC = '/_matrix/client/v3/sync';

/** Navigates `page` to `url` and resolves to the responseEnd (ms after navigation start) of its first /sync. */
export async function firstSyncAt(page, url) {
  await page.goto(url);
  const handle = await page.waitForFunction(
    (sync) => {
      const done = performance.getEntriesByType('resource').find((e) => e.name.includes(sync) && e.responseEnd > 0);
      return done ? done.responseEnd : null;
    },
    SYNC,
    { timeout: 60_000, polling: 20 },
  );
  return handle.jsonValue();
}

/** Gzipped bytes of every response `page` receives while `act` runs, split by `classify(url)`. */
async function bytesDuring(page, act, classify) {
  const sums = new Map();
  const pending = [];
  const onFinished = (request) =>
    pending.push(
      (async () => {
        const kind = classify(new URL(request.url()));
        if (!kind) return;
        const response = await request.response();
        const body = response ? await response.body().catch(() => null) : null;
        if (!body) return;
        const entry = sums.get(kind) || { gz: 0, files: [] };
        entry.gz += gzipSync(body, { level: 9 }).length;
        entry.files.push(new URL(request.url()).pathname);
        sums.set(kind, entry);
      })(),
    );
  page.on('requestfinished', onFinished);
  try {
    await act();
    await page.waitForTimeout(1000); // what the page fetches right after start is still "at start"
  } finally {
    page.off('requestfinished', onFinished);
  }
  await Promise.all(pending);
  return sums;
}

/** `pairs` alternating guarded/bare measurements (ABBA order, so drift in the machine's load falls on both sides). */
export async function alternatingPairs(pairs, measure) {
  const times = { guarded: [], bare: [] };
  for (let i = 0; i < pairs; i++) {
    const order = i % 2 === 0 ? ['guarded', 'bare'] : ['bare', 'guarded'];
    for (const which of order) times[which].push(await measure(which));
  }
  return times;
}

/** The /sync budget's row: medians, their ratio against the goal, and how far this run's noise lets it be trusted. */
function syncFigure(name, times) {
  const g = median(times.guarded);
  const b = median(times.bare);
  const [low, high] = ratioInterval(times.guarded, times.bare);
  return {
    name: `${name} (median of ${times.guarded.length} alternating pairs; 95% interval of the ratio ${low.toFixed(3)}–${high.toFixed(3)})`,
    value: g,
    unit: 'ms',
    baseline: b,
    goal: 'ratio ≤ 1.02',
    ok: g / b <= 1.02,
    interval: [low, high],
    samples: times,
  };
}

/** A broadband link, through Chromium's network emulation (CDP): its latency is added to every request's round trip. */
export const NETWORK = {
  name: 'a 40 ms round trip at 100 Mbit/s (network emulation)',
  conditions: { latency: 40, downloadThroughput: 100e6 / 8, uploadThroughput: 100e6 / 8 }, // bytes per second
};

/** `measure` in alternating pairs with the network of `pages` emulated as NETWORK (back to none after). */
export async function pairsOverNetwork(pages, pairs, measure) {
  const sessions = [];
  try {
    for (const page of pages) {
      const session = await page.context().newCDPSession(page);
      sessions.push(session);
      await session.send('Network.enable');
      await session.send('Network.emulateNetworkConditions', { offline: false, ...NETWORK.conditions });
    }
    for (const which of ['guarded', 'bare', 'guarded', 'bare']) await measure(which); // warm both over the link
    return await alternatingPairs(pairs, measure);
  } finally {
    for (const session of sessions) {
      await session.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 }).catch(() => {});
      await session.detach().catch(() => {});
    }
  }
}

/**
 * The same budget on a real client: Cinny built from its source (tests/support/cinny.mjs), served as is
 * (bare) and with the drop-in line (guarded), each origin with its own healthy session of one user. Cinny
 * is test material outside the repository: without it, no row and one line saying why.
 */
async function cinnySyncFigures({ pairs, networkPairs }) {
  if (!cinnyArchive()) {
    console.log(`# Cinny /sync row not measured: ${HOW_TO_GET_CINNY}`);
    return [];
  }
  const pkg = await snapshotPkg();
  const [dist, hs, browser] = await Promise.all([buildCinny(), startHomeserver(), launchBrowser()]);
  const webs = {};
  try {
    webs.bare = await serveCinny({ dist, homeserver: hs.baseUrl });
    webs.guarded = await serveCinny({ dist, homeserver: hs.baseUrl, dropin: pkg });
    const user = await freshUser(hs, 'budgetcinny');
    const pages = {};
    for (const which of ['bare', 'guarded']) {
      pages[which] = await openCinny(browser, webs[which], { name: `budget-cinny-${which}` });
      await cinnyLogin(pages[which], user.localpart, user.password);
      await pages[which].waitForTimeout(3000); // the login's own key uploads settle: what follows are healthy reloads
    }
    const reload = (which) => firstSyncAt(pages[which], `${webs[which].url}/`);
    const times = await alternatingPairs(pairs, reload);
    const overNetwork = await pairsOverNetwork(Object.values(pages), networkPairs, reload);
    return [
      syncFigure('Cinny (real client, built from source), healthy reload: navigation → first completed /sync, guarded', times),
      syncFigure(`Cinny, healthy reload over ${NETWORK.name}: navigation → first completed /sync, guarded`, overNetwork),
    ];
  } finally {
    await browser.close().catch(() => {});
    await Promise.allSettled(Object.values(webs).map((w) => w.close()));
    await hs.stop();
    rmSync(dirname(pkg), { recursive: true, force: true });
  }
}

export async function budgetFigures({
  pairs = Number(process.env.MCG_BENCH_SYNC_PAIRS || 241),
  networkPairs = Number(process.env.MCG_BENCH_NETWORK_PAIRS || 101),
  cinnyPairs = Number(process.env.MCG_BENCH_CINNY_PAIRS || 121),
  cinnyNetworkPairs = Number(process.env.MCG_BENCH_CINNY_NETWORK_PAIRS || 81),
} = {}) {
  const pkg = await snapshotPkg(); // a rebuild of pkg/ during the runs cannot skew them
  const stack = await startStack({ pkg });
  const figures = [];
  try {
    const user = await freshUser(stack.hs, 'budget');
    // The guarded page is the bare page plus the drop-in line: both with the demo's developer tools closed,
    // as in a client that shows no panel (the panel's view loads when it is first shown: its own row below).
    const guarded = appUrl({ baseUrl: stack.web.url, homeserver: stack.hs.baseUrl, guardian: 'dropin', query: { devtools: 'closed' } });
    // The same demo page without the drop-in line and without the npm guardian: the host alone.
    const bare = appUrl({ baseUrl: stack.web.url, homeserver: stack.hs.baseUrl, guardian: 'off', query: { devtools: 'closed' } });
    const withPanel = appUrl({ baseUrl: stack.web.url, homeserver: stack.hs.baseUrl, guardian: 'dropin', query: { devtools: 'open' } });
    const page = await newUserPage(stack.browser, { baseUrl: stack.web.url, homeserver: stack.hs.baseUrl, guardian: 'dropin', name: 'budget' });
    await login(page, user.localpart, user.password, { homeserver: stack.hs.baseUrl, timeout: LOGIN_TIMEOUT_MS });
    // The first login's own keys/upload (device keys, one-time keys) loads the storm watch; let it settle, so
    // what is measured below is a reload of a healthy session, not the tail of the login.
    await page.waitForTimeout(3000);

    // Bytes at start, on a reload of the healthy session (the host's own files on the bare page).
    const own = (url) => (url.origin === new URL(stack.web.url).origin && !url.pathname.startsWith('/_matrix/') ? url : null);
    const ready = (p) => p.waitForFunction(() => window.matrixCryptoGuardian && window.matrixCryptoGuardian.loading !== true, null, { timeout: 60_000 });
    const guardianBytes = (url, p = page) => bytesDuring(
      p,
      async () => {
        await firstSyncAt(p, url);
        await ready(p);
      },
      (u) => (own(u) ? (u.pathname.startsWith('/pkg/') ? 'guardian' : 'host') : null),
    );
    const guardedBytes = await guardianBytes(guarded);
    const bareBytes = await bytesDuring(page, () => firstSyncAt(page, bare), (url) => (own(url) ? 'host' : null));
    const guardian = guardedBytes.get('guardian') || { gz: 0, files: [] };
    figures.push({
      name: `drop-in page: guardian bytes loaded at start (${guardian.files.length} files: core wasm + glue + JS), gzipped`,
      value: guardian.gz / 1024,
      unit: 'KB',
      baseline: (bareBytes.get('host')?.gz || 0) / 1024,
      budget: 100,
      files: guardian.files,
    });
    // A host that shows the panel at start (the demo's developer tools open) also loads the panel's view.
    const shown = (await guardianBytes(withPanel)).get('guardian') || { gz: 0, files: [] };
    figures.push({
      name: `drop-in page with the panel shown: guardian bytes at start (${shown.files.length} files), gzipped`,
      value: shown.gz / 1024,
      unit: 'KB',
      baseline: guardian.gz / 1024,
      goal: 'the panel view on top of the row above (baseline)',
      files: shown.files,
    });

    // Time to the first completed network /sync, alternating guarded and bare reloads (ABBA).
    const times = await alternatingPairs(pairs, (which) => firstSyncAt(page, which === 'guarded' ? guarded : bare));
    figures.push(syncFigure('healthy reload: navigation → first completed /sync, guarded', times));

    // The same reloads over a network, as a user's browser reaches a homeserver and a web server that are not
    // on its own machine: on loopback the start is bound by this machine's two cores, and every millisecond
    // of the guardian's CPU is on the host's path; over a network much of it falls in the host's waits.
    const overNetwork = await pairsOverNetwork([page], networkPairs, (which) => firstSyncAt(page, which === 'guarded' ? guarded : bare));
    figures.push(syncFigure(`healthy reload over ${NETWORK.name}: navigation → first completed /sync, guarded`, overNetwork));

    // The fetch tap around a stub fetch vs the bare stub, on unrelated requests (no network).
    const tap = await page.evaluate(async () => {
      const { installFetchTap } = await import('/pkg/fetch-tap.js');
      const answer = Promise.resolve(null);
      const stub = function () {
        return answer;
      };
      const scope = { fetch: stub };
      installFetchTap(scope);
      const url = 'https://matrix.example.org/_matrix/client/v3/sync?since=s72594_4483_1934&timeout=30000';
      const init = { method: 'GET', headers: { Authorization: 'Bearer x' } };
      const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const time = (fn, n) => {
        const t0 = performance.now();
        for (let i = 0; i < n; i++) fn();
        return ((performance.now() - t0) * 1000) / n;
      };
      const tapped = [];
      const bareUs = [];
      for (let round = 0; round < 15; round++) {
        tapped.push(time(() => scope.fetch(url, init), 50_000));
        bareUs.push(time(() => stub(url, init), 50_000));
      }
      return { tapped: median(tapped), bare: median(bareUs) };
    });
    figures.push({
      name: 'fetch tap: unrelated request through the tap (stub fetch, no network, per call)',
      value: tap.tapped,
      unit: 'µs',
      baseline: tap.bare,
      goal: '< 0.2 µs added',
      ok: tap.tapped - tap.bare < 0.2,
    });

    // A page without Web Locks (older Safari, some webviews) also loads the lease module at start: a tab of
    // the same session whose navigator.locks is gone before the page's scripts run. The first tab leaves
    // first, so this one elects itself the writer on the lease.
    await page.goto('about:blank');
    const noLocks = await page.context().newPage();
    await noLocks.addInitScript(() => {
      delete Navigator.prototype.locks;
    });
    const lease = (await guardianBytes(guarded, noLocks)).get('guardian') || { gz: 0, files: [] };
    await noLocks.close();
    figures.push({
      name: `drop-in page without Web Locks: guardian bytes at start (${lease.files.length} files), gzipped`,
      value: lease.gz / 1024,
      unit: 'KB',
      baseline: guardian.gz / 1024,
      goal: 'the lease module on top of the first row (baseline)',
      files: lease.files,
    });
    await page.close();
  } finally {
    await stack.close();
    rmSync(dirname(pkg), { recursive: true, force: true });
  }
  figures.push(...(await cinnySyncFigures({ pairs: cinnyPairs, networkPairs: cinnyNetworkPairs })));
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of await budgetFigures()) {
    console.log(`${f.name}: ${f.value.toFixed(3)} ${f.unit} (baseline ${f.baseline?.toFixed(3)}; ratio ${f.baseline ? (f.value / f.baseline).toFixed(3) : '-'})`);
    if (f.files) console.log('  ' + f.files.join('\n  '));
  }
}
