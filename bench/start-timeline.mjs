// Where the guarded page's start goes, next to the bare page's: a diagnostic for issue 18's /sync budget,
// not part of `npm run bench` (its figures are the budgets' row; this says why that row is what it is).
//
//   node bench/start-timeline.mjs [pairs=15] [profiled loads=10] [--network]
//
// --network: the timeline's reloads over the budgets' emulated broadband link (bench/budgets.mjs, NETWORK).
//
// 1. A timeline of a healthy reload, guarded and bare in alternating pairs (ABBA): the median time after
//    navigation start of each request and response, of the guardian's User Timing marks, of
//    DOMContentLoaded and of each IndexedDB open, its first and its last (an init script wraps
//    IDBFactory.open below the drop-in's gate, so a held open shows when it reaches the browser).
// 2. The main thread's time by who ran it, over guarded reloads under the CPU profiler (a sample belongs to
//    the innermost frame with a script URL: the guardian's files under /pkg/, else the host's). The profiler
//    slows the page: compare the shares, not the milliseconds with part 1.
//
// Real parts, as in bench/budgets.mjs: Synapse, the demo client with matrix-js-sdk rust crypto, Chromium.
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';

import { appUrl, login, newUserPage } from '../tests/support/browser.mjs';
import { freshUser, snapshotPkg, startStack, LOGIN_TIMEOUT_MS } from '../tests/support/scenarios.mjs';
import { alternatingPairs, firstSyncAt, median, NETWORK, pairsOverNetwork } from './budgets.mjs';

/** Below the gate: every IndexedDB open as it reaches the browser, and its success. */
function recordIdbOpens() {
  const events = (window.__startTimeline = []);
  const open = IDBFactory.prototype.open;
  IDBFactory.prototype.open = function (name, ...rest) {
    events.push([`idb open ${name}`, performance.now()]);
    const request = open.call(this, name, ...rest);
    request.addEventListener('success', () => events.push([`idb opened ${name}`, performance.now()]));
    return request;
  };
}

/** The first time of each event of the page just loaded (ms after navigation start). */
function pageEvents() {
  const at = { DOMContentLoaded: performance.getEntriesByType('navigation')[0].domContentLoadedEventStart };
  const first = (name, t) => (at[name] ??= t);
  for (const e of performance.getEntriesByType('resource')) {
    // Content hashes out of chunk names, queries out of URLs: the same request on both pages has one name.
    const path = new URL(e.name).pathname.replace(/-[A-Z0-9]{8}\.js$/, '.js');
    first(`request ${path}`, e.startTime);
    first(`response ${path}`, e.responseEnd);
  }
  for (const m of performance.getEntriesByType('mark')) first(`mark ${m.name}`, m.startTime);
  // An open's first and last time: on the guarded page the crypto store's first open is the guardian's
  // probe, its last the host's own (on the bare page both are the host's).
  for (const [name, t] of window.__startTimeline || []) {
    first(name, t);
    at[`${name} (last)`] = t;
  }
  return at;
}

/** Main-thread milliseconds of one CPU profile, by who ran them. */
function mainThreadByOwner(profile, into) {
  const node = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const child of n.children || []) parent.set(child, n.id);
  // The drop-in's taps (dropin.js) calling the real fetch or IndexedDB open or delete run the host's request: those
  // samples are the host's (named `open` or, below this bench's own wrapper, `IDBFactory.open`). The core's
  // own opens (the probe, its database) stay the guardian's.
  const PASSED_THROUGH = new Set(['fetch', 'open', 'deleteDatabase']);
  const owner = (id) => {
    const leaf = node.get(id).callFrame;
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const { url } = node.get(at).callFrame;
      if (!url) continue;
      const path = new URL(url).pathname;
      if (!path.startsWith('/pkg/')) return `host ${path.startsWith('/dist/') ? '/dist/*' : path}`;
      if (leaf.url) return `guardian ${path}`;
      return path === '/pkg/dropin.js' && PASSED_THROUGH.has(leaf.functionName.split('.').pop()) ? `host ${leaf.functionName} through ${path}` : `guardian ${path} → ${leaf.functionName || 'native'}`;
    }
    return leaf.functionName || '(native)';
  };
  profile.samples.forEach((id, i) => {
    const key = owner(id);
    into[key] = (into[key] || 0) + (profile.timeDeltas[i + 1] ?? 0) / 1000;
  });
}

export async function startTimeline({ pairs = 15, profiled = 10, network = false } = {}) {
  const pkg = await snapshotPkg();
  const stack = await startStack({ pkg });
  try {
    const user = await freshUser(stack.hs, 'timeline');
    const page = await newUserPage(stack.browser, { baseUrl: stack.web.url, homeserver: stack.hs.baseUrl, guardian: 'dropin', name: 'timeline' });
    await login(page, user.localpart, user.password, { homeserver: stack.hs.baseUrl, timeout: LOGIN_TIMEOUT_MS });
    await page.waitForTimeout(3000); // the login's own uploads settle: what follows are healthy reloads
    const url = (guardian) => appUrl({ baseUrl: stack.web.url, homeserver: stack.hs.baseUrl, guardian, query: { devtools: 'closed' } });
    const reload = async (which) => {
      await firstSyncAt(page, url(which === 'guarded' ? 'dropin' : 'off'));
      await page.waitForTimeout(300); // what follows the first /sync closely
    };

    await page.context().addInitScript(recordIdbOpens);
    const timeline = async (which) => {
      await reload(which);
      return page.evaluate(pageEvents);
    };
    const runs = network ? await pairsOverNetwork([page], pairs, timeline) : await alternatingPairs(pairs, timeline);

    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
    const owners = {};
    for (let i = 0; i < profiled; i++) {
      await cdp.send('Profiler.start');
      await reload('guarded');
      mainThreadByOwner((await cdp.send('Profiler.stop')).profile, owners);
    }
    return { runs, owners, profiled };
  } finally {
    await stack.close();
    rmSync(dirname(pkg), { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const network = args.includes('--network');
  const [pairs = 15, profiled = 10] = args.filter((a) => a !== '--network').map(Number);
  const { runs, owners } = await startTimeline({ pairs, profiled, network });
  const at = (which, name) => {
    const xs = runs[which].map((r) => r[name]).filter((t) => t !== undefined);
    return xs.length ? median(xs) : undefined;
  };
  const names = [...new Set([...runs.guarded, ...runs.bare].flatMap(Object.keys))];
  const when = (name) => at('guarded', name) ?? at('bare', name);
  names.sort((a, b) => when(a) - when(b));
  const ms = (t) => (t === undefined ? '' : t.toFixed(1)).padStart(8);
  console.log(`\nhealthy reload${network ? ` over ${NETWORK.name}` : ''}, median ms after navigation start (${pairs} alternating pairs)\n${'event'.padEnd(72)} guarded     bare  guarded−bare`);
  for (const name of names) {
    const g = at('guarded', name);
    const b = at('bare', name);
    const firstName = name.replace(/ \(last\)$/, '');
    if (firstName !== name && g === at('guarded', firstName) && b === at('bare', firstName)) continue; // opened once
    console.log(`${name.slice(0, 72).padEnd(72)}${ms(g)} ${ms(b)}  ${g !== undefined && b !== undefined ? ms(g - b) : ''}`);
  }
  if (profiled > 0) {
    console.log(`\nmain thread of a guarded reload to its first /sync, ms per load (${profiled} loads under the profiler)`);
    const total = (prefix) => Object.entries(owners).filter(([k]) => k.startsWith(prefix)).reduce((s, [, v]) => s + v, 0) / profiled;
    console.log(`guardian ${total('guardian').toFixed(1)}, host ${total('host').toFixed(1)} (the rest: idle, GC, the browser's own)`);
    for (const [name, v] of Object.entries(owners).filter(([k]) => k.startsWith('guardian')).sort((a, b) => b[1] - a[1]).slice(0, 15)) {
      console.log(`${(v / profiled).toFixed(2).padStart(8)}  ${name}`);
    }
  }
  process.exit(0);
}
