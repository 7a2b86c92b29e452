// One crypto writer per session across tabs (issue 4), in Chromium, several pages of one browser context.
//
// Part 1 (no homeserver): a minimal host page with the drop-in that opens the crypto store the way
// matrix-sdk-crypto-wasm does (IDBFactory.prototype.open, onupgradeneeded/onsuccess handlers, instanceof
// checks) plus an unrelated database; the gate, the lock, the overlay, takeover and a randomized stress of
// opening/closing/reloading 2–5 tabs — with Web Locks, and with navigator.locks removed before load (lease).
// Part 2: the demo client (real matrix-js-sdk rust crypto) against a real Synapse with a busy peer.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { serve } from '../../scripts/serve.mjs';
import { launchBrowser, login, newUserPage, openRoom, waitForAppState, waitForDecrypted, withArtifacts } from '../support/browser.mjs';
import { busyPeer, freshUser, startStack, twoTabsScenario } from '../support/scenarios.mjs';

const PREFIX = 'matrix-js-sdk::matrix-sdk-crypto';
const HARNESS_PATH = '/writer-harness.html';
const API_PATH = '/writer-api.html';
const STRESS_SEQUENCES = Number(process.env.MCG_WRITER_STRESS || 20);
// MCG_PKG_DIR: serve the guardian from a snapshot of pkg/ (while someone else rebuilds pkg/).
const PKG_DIR = process.env.MCG_PKG_DIR || undefined;

// A host page: the drop-in first, then the host's own code opening the crypto store (held in a non-writer
// tab) and an unrelated database (never held).
const HARNESS_HTML = `<!doctype html><html><head><meta charset="utf-8">
<script src="/pkg/dropin.js"></script>
<script>
window.harness = { cryptoOpen: false, otherOpen: false, isOpenRequest: null, error: null, writes: 0 };
const req = indexedDB.open('${PREFIX}', 1);
window.harness.isOpenRequest = req instanceof IDBOpenDBRequest;
req.onupgradeneeded = (e) => e.target.result.createObjectStore('s');
req.onsuccess = () => {
  const db = req.result;
  window.harness.cryptoOpen = true;
  // A host that gives the role up stops its engine first (closes the store), then releases.
  window.harness.stop = () => {
    window.harness.stopped = true;
    db.close();
  };
  // an engine that keeps writing, like the rust crypto's outgoing-request loop
  const write = () => {
    if (window.harness.stopped) return;
    try {
      const tx = db.transaction('s', 'readwrite');
      tx.objectStore('s').put(Date.now(), 'beat');
      tx.oncomplete = () => window.harness.writes++;
    } catch (e) {
      window.harness.stoppedWith = e.name;
      return;
    }
    setTimeout(write, 100);
  };
  write();
};
req.onerror = () => (window.harness.error = String(req.error));
const other = indexedDB.open('matrix-js-sdk:web-sync-store', 1);
other.onsuccess = () => (window.harness.otherOpen = true);
</script></head><body><h1>host</h1></body></html>`;

// A host on the npm API that asks for the role itself (no drop-in, no overlay).
const API_HTML = `<!doctype html><html><head><meta charset="utf-8"><script type="module">
import { Guardian } from '/pkg/index.js';
const guardian = await Guardian.start({ persist: false, prompt: false });
window.writerEvents = [];
for (const type of ['writer-acquired', 'writer-waiting', 'writer-lost']) guardian.addEventListener(type, () => window.writerEvents.push(type));
window.guardian = guardian;
</script></head><body><h1>api host</h1></body></html>`;

/**
 * Every page of the context reports to node, from under the gate (an init script runs before the drop-in,
 * so its wrapper is the inner one): the real crypto-store opens that succeeded and when the document went
 * away or lost the role. Times are Date.now(): the system clock every renderer process reads alike. (Not
 * performance.timeOrigin + now(): each process maps its monotonic clock to wall time on its own, and two tabs'
 * readings differed by ~5 ms, which made a clean handover look like an overlap.)
 */
async function instrument(context, { removeLocks = false } = {}) {
  const log = [];
  await context.exposeBinding('__mcgWriterLog', ({ page }, entry) => log.push({ ...entry, page }));
  await context.addInitScript(({ removeLocks, prefix }) => {
    if (removeLocks) delete Navigator.prototype.locks;
    const doc = Math.random().toString(36).slice(2);
    const now = () => Date.now();
    const report = (kind, extra) => window.__mcgWriterLog && window.__mcgWriterLog({ kind, doc, at: now(), ...extra });
    const open = IDBFactory.prototype.open;
    IDBFactory.prototype.open = function (name, ...rest) {
      const request = open.call(this, name, ...rest);
      if (String(name).startsWith(prefix)) {
        request.addEventListener('success', () => {
          report('open', { name: String(name) });
          request.result.addEventListener('close', () => report('close')); // closed by the browser
        });
      }
      return request;
    };
    const close = IDBDatabase.prototype.close;
    IDBDatabase.prototype.close = function () {
      if (this.name.startsWith(prefix)) report('close'); // closed by the page (stopClient, the gate)
      return close.call(this);
    };
    // A binding call during pagehide may not reach node before the page is gone; localStorage is written
    // synchronously, so the end of a document is journaled there and read back by ends().
    addEventListener('pagehide', () => {
      try {
        const ends = JSON.parse(localStorage.getItem('__mcgWriterEnds') || '[]');
        ends.push({ kind: 'end', doc, at: now() });
        localStorage.setItem('__mcgWriterEnds', JSON.stringify(ends));
      } catch {}
    });
    document.addEventListener('matrix-crypto-guardian:ready', (e) => e.detail.addEventListener('writer-lost', () => report('lost')));
  }, { removeLocks, prefix: PREFIX });
  return log;
}

/** The open log plus the documents' ends journaled in localStorage (read through any live page). */
async function fullLog(log, context, url) {
  const page = await context.newPage();
  await page.route('**/blank-for-log', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html>' }));
  await page.goto(new URL('/blank-for-log', url).href);
  const ends = await page.evaluate(() => JSON.parse(localStorage.getItem('__mcgWriterEnds') || '[]'));
  await page.close();
  return [...log, ...ends];
}

/**
 * Intervals during which a document had the crypto store open: from its first real open to its pagehide,
 * its writer-lost or the close of its last connection. Returns the pairs of documents whose intervals overlap.
 */
function overlaps(log) {
  const byDoc = new Map();
  for (const e of [...log].sort((a, b) => a.at - b.at)) {
    const d = byDoc.get(e.doc) || { doc: e.doc, start: null, end: null, open: 0 };
    if (e.kind === 'open') {
      if (d.start === null) d.start = e.at;
      d.open++;
    }
    if (e.kind === 'close' && d.open > 0 && --d.open === 0 && d.end === null) d.end = e.at;
    if ((e.kind === 'end' || e.kind === 'lost') && d.start !== null && d.end === null) d.end = e.at;
    byDoc.set(e.doc, d);
  }
  const spans = [...byDoc.values()].filter((d) => d.start !== null).map((d) => ({ ...d, end: d.end ?? Infinity }));
  const bad = [];
  for (let i = 0; i < spans.length; i++) {
    for (let j = i + 1; j < spans.length; j++) {
      const [a, b] = [spans[i], spans[j]];
      if (a.start < b.end && b.start < a.end) bad.push([a, b]);
    }
  }
  return bad;
}

const harnessState = (page) => page.evaluate(() => ({ ...window.harness, writer: window.matrixCryptoGuardian?.writer?.() ?? null }));
const overlayState = (page) => page.evaluate(() => document.querySelector('matrix-crypto-guardian-writer')?.dataset.state ?? 'none');
const waitWriter = (page, timeout = 10_000) => page.waitForFunction(() => window.harness.cryptoOpen && window.matrixCryptoGuardian?.writer?.().isWriter, null, { timeout });
const clickOverlay = (page, label) => page.locator('matrix-crypto-guardian-writer').getByRole('button', { name: label }).click();

async function harnessPage(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => window.matrixCryptoGuardian && !window.matrixCryptoGuardian.loading && typeof window.matrixCryptoGuardian.writer === 'function', null, { timeout: 15_000 });
  return page;
}

/** Locks held for the writer lock right now (Web Locks' own view), from any live page. */
async function heldWriterLocks(page) {
  return page.evaluate(async () => {
    if (!navigator.locks) return null;
    const name = window.matrixCryptoGuardian.writer().name;
    const { held } = await navigator.locks.query();
    return held.filter((l) => l.name === name).length;
  });
}

for (const mechanism of ['web-locks', 'lease']) {
  describe(`single writer, drop-in harness (${mechanism})`, { timeout: 180_000 }, () => {
    let browser;
    let web;
    before(async () => {
      [browser, web] = await Promise.all([launchBrowser(), serve({ pkg: PKG_DIR })]);
    });
    after(async () => {
      await browser?.close();
      await web?.close();
    });

    async function newContext() {
      const context = await browser.newContext();
      await context.route(`**${HARNESS_PATH}`, (route) => route.fulfill({ contentType: 'text/html', body: HARNESS_HTML }));
      await context.route(`**${API_PATH}`, (route) => route.fulfill({ contentType: 'text/html', body: API_HTML }));
      const log = await instrument(context, { removeLocks: mechanism === 'lease' });
      return { context, log, url: new URL(HARNESS_PATH, web.url).href };
    }

    test('second tab: the crypto-store open waits (a real IDBOpenDBRequest), other databases do not; close the writer → it takes over', async () => {
      const { context, log, url } = await newContext();
      const pages = [];
      await withArtifacts(`writer-${mechanism}-handover`, () => pages, async () => {
        const first = await harnessPage(context, url);
        pages.push(first);
        await waitWriter(first);
        // Alone, it never said another tab writes, not even while its own request was being granted.
        assert.equal(await first.locator('matrix-crypto-guardian-writer').count(), 0, 'no overlay in a lone tab');
        const a = await harnessState(first);
        assert.equal(a.writer.mechanism, mechanism);
        assert.equal(a.isOpenRequest, true);

        const second = await harnessPage(context, url);
        pages.push(second);
        await second.waitForFunction(() => window.harness.otherOpen, null, { timeout: 10_000 });
        await second.waitForFunction(() => document.querySelector('matrix-crypto-guardian-writer')?.dataset.state === 'elsewhere', null, { timeout: 10_000 });
        const b = await harnessState(second);
        assert.equal(b.isOpenRequest, true, 'the held open is an IDBOpenDBRequest to its users');
        assert.equal(b.cryptoOpen, false, 'the non-writer tab has not opened the crypto store');
        assert.equal(b.writer.role, 'waiting');
        const dialog = second.locator('matrix-crypto-guardian-writer').getByRole('dialog');
        assert.match(await dialog.textContent(), /open in another tab/i);
        assert.equal(await second.locator('matrix-crypto-guardian-writer').getByRole('button', { name: 'Use here' }).count(), 1);
        assert.equal(await second.locator('matrix-crypto-guardian-writer').getByRole('button', { name: 'Close' }).count(), 1);
        const census = await second.evaluate(() => window.matrixCryptoGuardian.writerCensus());
        assert.equal(census.tabs, 2);
        assert.equal(census.writer, a.writer.tabId);
        if (mechanism === 'web-locks') assert.equal(await heldWriterLocks(second), 1);

        await first.close();
        await waitWriter(second);
        assert.equal(await overlayState(second), 'hidden');
        await second.waitForFunction(() => window.harness.writes > 0, null, { timeout: 10_000 });
        assert.deepEqual(overlaps(await fullLog(log, context, url)), [], 'never two documents with the crypto store open');
        assert.equal(log.filter((e) => e.kind === 'open').length, 2, 'one real open per writer, in turn');
      });
      await context.close();
    });

    test('"Use here" in the second tab: the first is told, stops writing, offers to reload; the second writes', async () => {
      const { context, log, url } = await newContext();
      const pages = [];
      await withArtifacts(`writer-${mechanism}-steal`, () => pages, async () => {
        const first = await harnessPage(context, url);
        pages.push(first);
        await waitWriter(first);
        await first.waitForFunction(() => window.harness.writes > 0);
        const second = await harnessPage(context, url);
        pages.push(second);
        await second.waitForFunction(() => document.querySelector('matrix-crypto-guardian-writer')?.dataset.state === 'elsewhere', null, { timeout: 10_000 });
        await clickOverlay(second, 'Use here');
        await waitWriter(second);
        await first.waitForFunction(() => document.querySelector('matrix-crypto-guardian-writer')?.dataset.state === 'lost', null, { timeout: 10_000 });
        const a = await harnessState(first);
        assert.equal(a.writer.role, 'lost');
        assert.equal(a.writer.lost.reason, 'stolen');
        await first.waitForFunction(() => window.harness.stoppedWith, null, { timeout: 5_000 });
        assert.equal(a.stoppedWith ?? (await harnessState(first)).stoppedWith, 'InvalidStateError', 'the old engine can no longer write: its connection is closed');
        assert.equal(await first.locator('matrix-crypto-guardian-writer').getByRole('button', { name: 'Reload' }).count(), 1);
        await second.waitForFunction(() => window.harness.writes > 0, null, { timeout: 10_000 });
        assert.deepEqual(overlaps(await fullLog(log, context, url)), []);
        // Reload in the old tab: it waits behind the new writer.
        await clickOverlay(first, 'Reload');
        await first.waitForFunction(() => window.matrixCryptoGuardian?.writer?.().role === 'waiting', null, { timeout: 10_000 });
        assert.equal((await harnessState(first)).cryptoOpen, false);
      });
      await context.close();
    });

    async function apiPage(context) {
      const page = await context.newPage();
      await page.goto(new URL(API_PATH, web.url).href);
      await page.waitForFunction(() => window.guardian, null, { timeout: 15_000 });
      return page;
    }

    test('release() while a steal waits for the old writer to stop: never "writer acquired", the role is given up', async () => {
      const { context } = await newContext();
      const pages = [];
      await withArtifacts(`writer-${mechanism}-release-during-steal`, () => pages, async () => {
        const page = await apiPage(context);
        pages.push(page);
        const out = await page.evaluate(async () => {
          const g = window.guardian;
          const stealing = g.acquireWriter({ mode: 'steal' });
          const w = g.writer();
          // Held by this tab (Web Locks' own view, or the lease entry) while the steal waits (up to 1 s)
          // for the old writer's "stopped": the moment to release.
          const heldHere = async () => {
            if (navigator.locks) return (await navigator.locks.query()).held.some((l) => l.name === w.name);
            const lease = JSON.parse(localStorage.getItem(`matrix-crypto-guardian:lease:${w.name}`) || 'null');
            return !!lease && lease.owner === w.tabId && lease.beat >= 1;
          };
          while (!(await heldHere())) await new Promise((r) => setTimeout(r, 5));
          const roleWhenReleased = g.writer().role;
          g.releaseWriter();
          const resolved = await stealing;
          await new Promise((r) => setTimeout(r, 1500)); // past the steal's wait for "stopped"
          return { roleWhenReleased, resolved, role: g.writer().role, events: window.writerEvents, heldAfter: await heldHere() };
        });
        assert.notEqual(out.roleWhenReleased, 'writer', 'released during the steal\'s wait (precondition)');
        assert.equal(out.resolved, false, 'the steal resolves false: released before it was granted');
        assert.equal(out.role, 'idle');
        assert.ok(!out.events.includes('writer-acquired'), `no writer-acquired after the release: ${out.events}`);
        assert.equal(out.heldAfter, false, 'the lock (or lease) is not held');
      });
      await context.close();
    });

    test('ifAvailable while a wait is pending answers false and leaves the wait alone: it is granted when the writer leaves', async () => {
      const { context } = await newContext();
      const pages = [];
      await withArtifacts(`writer-${mechanism}-if-available-while-waiting`, () => pages, async () => {
        const first = await apiPage(context);
        pages.push(first);
        assert.equal(await first.evaluate(() => window.guardian.acquireWriter({ mode: 'wait' })), true);
        const second = await apiPage(context);
        pages.push(second);
        await second.evaluate(() => {
          window.waited = null;
          window.guardian.acquireWriter({ mode: 'wait' }).then((v) => (window.waited = v));
        });
        await second.waitForFunction(() => window.guardian.writer().role === 'waiting', null, { timeout: 15_000 });
        const now = await second.evaluate(async () => ({ answer: await window.guardian.acquireWriter({ mode: 'ifAvailable' }), role: window.guardian.writer().role, waited: window.waited }));
        assert.deepEqual(now, { answer: false, role: 'waiting', waited: null }, 'false now; the wait goes on');
        await first.evaluate(() => window.guardian.releaseWriter());
        await second.waitForFunction(() => window.waited !== null, null, { timeout: 15_000 });
        assert.deepEqual(await second.evaluate(() => ({ waited: window.waited, role: window.guardian.writer().role })), { waited: true, role: 'writer' });
        assert.equal(await first.evaluate(() => window.guardian.writer().role), 'idle');
      });
      await context.close();
    });

    test(`stress: ${STRESS_SEQUENCES} randomized sequences of opening/closing/reloading 2–5 tabs, steals ("Use here") and releases, never two writers`, async () => {
      const { context, log, url } = await newContext();
      let seed = 0x4d43 + (mechanism === 'lease' ? 1 : 0);
      const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const pages = [];
      let lockViolations = 0;
      let writerChecks = 0;
      await withArtifacts(`writer-${mechanism}-stress`, () => pages, async () => {
        for (let s = 0; s < STRESS_SEQUENCES; s++) {
          const want = 2 + Math.floor(random() * 4);
          while (pages.length < want) pages.push(await harnessPage(context, url));
          const action = random();
          const victim = pages[Math.floor(random() * pages.length)];
          if (action < 0.3) {
            pages.splice(pages.indexOf(victim), 1);
            await victim.close();
          } else if (action < 0.5) {
            await victim.reload();
          } else if (action < 0.65) {
            pages.push(await harnessPage(context, url));
          } else if (action < 0.85) {
            // "Use here" in any tab (the writer's own steal is a no-op), sometimes released again at once.
            const releaseAtOnce = random() < 0.3;
            await victim.evaluate((again) => {
              const g = window.matrixCryptoGuardian;
              const stealing = g.acquireWriter({ mode: 'steal' });
              if (again) g.releaseWriter();
              return stealing;
            }, releaseAtOnce);
          } else {
            // The host gives the role up: its engine stops, then it releases (a waiting tab takes over).
            await victim.evaluate(() => {
              window.harness.stop?.();
              window.matrixCryptoGuardian.releaseWriter();
            });
          }
          // After each step some tab becomes the writer (the lease takes a settle delay), and only one.
          if (pages.length) {
            await pages[0].waitForFunction(() => window.matrixCryptoGuardian?.writerCensus, null, { timeout: 15_000 });
            const deadline = Date.now() + 15_000;
            let writers = [];
            while (Date.now() < deadline) {
              writers = [];
              let candidates = 0; // tabs that wait for the role (released and stolen tabs do not)
              for (const p of pages) {
                const w = await p.evaluate(() => window.matrixCryptoGuardian?.writer?.() ?? null);
                if (w?.isWriter) writers.push(p);
                else if (!w || w.role === 'waiting' || w.role === 'writer') candidates++;
              }
              if (writers.length >= 1 || candidates === 0) break;
              await new Promise((r) => setTimeout(r, 50));
            }
            writerChecks++;
            assert.ok(writers.length <= 1, `sequence ${s}: ${writers.length} tabs say they write`);
            if (mechanism === 'web-locks') {
              const held = await heldWriterLocks(pages[0]);
              if (held > 1) lockViolations++;
            }
          }
        }
        for (const p of pages.splice(0)) await p.close();
        assert.equal(lockViolations, 0, 'navigator.locks.query(): never two holders');
        assert.deepEqual(overlaps(await fullLog(log, context, url)), [], 'the open log: never two documents with the crypto store open at once');
        assert.ok(writerChecks >= STRESS_SEQUENCES);
        assert.ok(log.filter((e) => e.kind === 'open').length >= 3, 'the role moved between tabs');
      });
      await context.close();
    });
  });
}

// ------------------------------------------------------------------------------------------------
// Part 2: the demo client on real matrix-js-sdk rust crypto against a real Synapse.

const UPLOAD = { method: 'POST', pathIncludes: '/keys/upload' };
const WINDOW_MS = 12_000;

/** Claims this device's one-time keys and keeps the account busy, so every writing engine replenishes. */
async function pressure(stack, peer, user, deviceId, windowMs, page) {
  let claims = 0;
  const timer = setInterval(() => {
    stack.hs.api('POST', '/_matrix/client/v3/keys/claim', {
      token: peer.peer.accessToken,
      body: { one_time_keys: { [user.userId]: { [deviceId]: 'signed_curve25519' } } },
    }).then(() => claims++, () => {});
  }, 250);
  peer.start();
  await page.waitForTimeout(windowMs);
  peer.stop();
  clearInterval(timer);
  return claims;
}

describe('single writer against a real homeserver', { timeout: 300_000 }, () => {
  let stack;
  let peer;
  before(async () => {
    stack = await startStack();
    if (PKG_DIR) {
      const web = await serve({ homeserver: stack.hs.baseUrl, pkg: PKG_DIR });
      const close = stack.close;
      stack = { ...stack, web, close: async () => (await web.close(), await close()) };
    }
    peer = await busyPeer(stack.hs, { perSecond: 3 });
  });
  after(async () => {
    peer?.stop();
    await stack?.close();
  });

  async function sessionContext(mode, { removeLocks = false } = {}) {
    const context = await stack.browser.newContext({ viewport: { width: 1100, height: 800 } });
    const log = await instrument(context, { removeLocks });
    const opts = { baseUrl: stack.web.url, homeserver: stack.hs.baseUrl, guardian: mode, context };
    return { context, log, opts };
  }

  for (const mechanism of ['web-locks', 'lease']) test(`npm (${mechanism}): two tabs, one writer — 0 conflicting uploads (baseline in the same run), messages decrypted; failover on close; "Use here"`, async () => {
    const baseline = await twoTabsScenario(stack, { guardian: 'off', windowMs: WINDOW_MS, peer, prefix: `wtoff${mechanism[0]}`, untilConflicts: 2 });
    await Promise.all(baseline.pages.map((p) => p.close()));
    await baseline.pages[0].context().close();

    const user = await freshUser(stack.hs, `wtnpm${mechanism[0]}`);
    const { context, log, opts } = await sessionContext('npm', { removeLocks: mechanism === 'lease' });
    const pages = [];
    const sender = await newUserPage(stack.browser, { baseUrl: stack.web.url, homeserver: stack.hs.baseUrl, guardian: 'off', name: 'sender' });
    pages.push(sender);
    await withArtifacts(`writer-npm-${mechanism}`, () => pages, async () => {
      const senderUser = await freshUser(stack.hs, `wtsend${mechanism[0]}`);
      await login(sender, senderUser.localpart, senderUser.password);
      const first = await newUserPage(stack.browser, { ...opts, name: 'tab1' });
      pages.push(first);
      const { deviceId } = await login(first, user.localpart, user.password);
      await stack.hs.waitForRequests({ ...UPLOAD, status: 200, user: user.userId }, 1, { timeout: 30_000 });
      await first.evaluate((r) => window.demo.client.joinRoom(r), peer.roomId);
      assert.equal(await first.evaluate(() => window.demo.guardian.writer().isWriter), true);

      const second = await newUserPage(stack.browser, { ...opts, name: 'tab2' });
      pages.push(second);
      await waitForAppState(second, 'waiting-for-writer');
      assert.equal(await second.evaluate(() => window.demo.guardian.writer().mechanism), mechanism);

      const since = stack.hs.mark();
      const claims = await pressure(stack, peer, user, deviceId, WINDOW_MS, first);
      // encrypted messages from a real peer client, decrypted in the writer tab
      const roomId = await sender.evaluate((u) => window.demo.startDm(u), user.userId);
      await first.waitForSelector(`#room-list [data-room-id="${roomId}"][data-membership="join"]`, { timeout: 30_000 });
      await openRoom(first, roomId);
      for (const text of ['one', 'two']) {
        await sender.evaluate((t) => window.demo.sendMessage(t), `npm ${text}`);
        await waitForDecrypted(first, `npm ${text}`);
      }
      const conflicts = stack.hs.countRequests({ ...UPLOAD, status: 400, user: user.userId, since });
      assert.ok(baseline.conflicts >= 2, `baseline: two unguarded tabs conflict (${baseline.conflicts})`);
      assert.equal(conflicts, 0, `0 conflicting uploads with the guardian (baseline ${baseline.conflicts}; ${claims} claims)`);
      const openers = new Set(log.filter((e) => e.kind === 'open').map((e) => e.page));
      assert.deepEqual([...openers], [first], 'only the writer tab opened the crypto store');

      // Close the writer: the waiting tab becomes writer, starts its engine, decrypts new messages.
      await first.close();
      await waitForAppState(second, 'ready', { timeout: 45_000 });
      await openRoom(second, roomId);
      await sender.evaluate(() => window.demo.sendMessage('npm after failover'));
      await waitForDecrypted(second, 'npm after failover');

      // "Use here" in a third tab: the second is told and stops, the third takes over and works.
      const third = await newUserPage(stack.browser, { ...opts, name: 'tab3' });
      pages.push(third);
      await waitForAppState(third, 'waiting-for-writer');
      await third.click('#writer-use-here');
      await waitForAppState(second, 'writer-lost');
      assert.equal(await second.evaluate(() => window.demo.guardian.writer().lost.reason), 'stolen');
      await waitForAppState(third, 'ready', { timeout: 45_000 });
      await openRoom(third, roomId);
      await sender.evaluate(() => window.demo.sendMessage('npm after use here'));
      await waitForDecrypted(third, 'npm after use here');
      assert.equal(stack.hs.countRequests({ ...UPLOAD, status: 400, user: user.userId, since }), 0, 'still 0 conflicting uploads');
      const full = await fullLog(log, context, stack.web.url);
      // The stolen tab's client stopped; its document still exists, so its span ends with writer-lost.
      assert.deepEqual(overlaps(full), [], 'never two documents with the crypto store open at once');
    });
    await context.close();
    await sender.context().close();
  });

  for (const mechanism of ['web-locks', 'lease']) test(`drop-in (${mechanism}): the second tab never opens the crypto store, its overlay says why; 0 conflicts; it takes over on close`, async () => {
    const user = await freshUser(stack.hs, 'wtdrop');
    const { context, log, opts } = await sessionContext('dropin', { removeLocks: mechanism === 'lease' });
    const pages = [];
    await withArtifacts(`writer-dropin-${mechanism}`, () => pages, async () => {
      const first = await newUserPage(stack.browser, { ...opts, name: 'tab1' });
      pages.push(first);
      const { deviceId } = await login(first, user.localpart, user.password);
      await stack.hs.waitForRequests({ ...UPLOAD, status: 200, user: user.userId }, 1, { timeout: 30_000 });
      await first.evaluate((r) => window.demo.client.joinRoom(r), peer.roomId);
      const second = await newUserPage(stack.browser, { ...opts, name: 'tab2' });
      pages.push(second);
      await second.waitForFunction(() => document.querySelector('matrix-crypto-guardian-writer')?.dataset.state === 'elsewhere', null, { timeout: 30_000 });
      assert.equal(await second.locator('matrix-crypto-guardian-writer').getByRole('dialog').count(), 1);
      assert.equal(await second.evaluate(() => window.matrixCryptoGuardian.writer().mechanism), mechanism);

      const since = stack.hs.mark();
      await pressure(stack, peer, user, deviceId, WINDOW_MS, first);
      assert.equal(stack.hs.countRequests({ ...UPLOAD, status: 400, user: user.userId, since }), 0, '0 conflicting uploads');
      const openers = new Set(log.filter((e) => e.kind === 'open').map((e) => e.page));
      assert.deepEqual([...openers], [first], 'only the writer tab opened the crypto store');

      await first.close();
      await waitForAppState(second, 'ready', { timeout: 45_000 });
      assert.equal(await second.evaluate(() => document.querySelector('matrix-crypto-guardian-writer').dataset.state), 'hidden');
      await second.evaluate((r) => window.demo.client.joinRoom(r), peer.roomId);
      assert.deepEqual(overlaps(await fullLog(log, context, stack.web.url)), []);
    });
    await context.close();
  });
});
