// The drop-in's IndexedDB gate against a host that opens the crypto store from a dedicated Worker (issue 9,
// hostile pages). The gate wraps the page's own `indexedDB.open`; a worker has its own global, which the
// guardian cannot reach, so a worker's open is never held (docs/integration-matrix-js-sdk.md says so). What
// this proves: the host sees exactly what it sees without the guardian. The same sequence runs in two
// browser contexts, the drop-in on and off, in a tab whose gate holds the crypto store: a tab that is NOT
// the crypto writer (another tab holds the role), and a tab after a store loss the user has not answered:
//   1. a Worker opens `matrix-js-sdk::matrix-sdk-crypto` (v1), writes and reads, keeps the connection;
//   2. the page opens the same name at v2 from the main thread: with the drop-in it waits until the hold
//      ends (the other tab closes; the user continues), then — as without the guardian — `blocked` fires,
//      the worker's connection gets `versionchange` and closes, `upgradeneeded` and `success` follow.
// Every event either side saw, the database afterwards, and the absence of errors are compared. Not compared:
// `event.target` of a held open's events, which is the real request rather than the object `open()`
// returned (a known, documented property of the gate: js/idb-gate.js); `this` in the handlers is compared.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { serve } from '../../scripts/serve.mjs';
import { launchBrowser, withArtifacts } from '../support/browser.mjs';
import { snapshotPkg } from '../support/scenarios.mjs';

const NAME = 'matrix-js-sdk::matrix-sdk-crypto';
const HARNESS_PATH = '/worker-harness.html';
// The host page: nothing but the drop-in line (or not); the host's code runs through page.evaluate.
const harness = (guardian) =>
  `<!doctype html><html><head><meta charset="utf-8">${guardian ? '<script src="/pkg/dropin.js" data-preset="cinny"></script>' : ''}</head><body>host</body></html>`;

/** In the page: starts a dedicated Worker that opens the crypto store at v1 and keeps it open until told to close. */
function startWorker(name) {
  const source = `
    const log = [];
    let db = null;
    const say = (entry) => { log.push(entry); postMessage(log); };
    onmessage = ({ data }) => {
      if (data === 'close') { db.close(); say({ call: 'close' }); return; }
      const req = indexedDB.open(${JSON.stringify(name)}, 1);
      say({ call: 'open', isRequest: req instanceof IDBOpenDBRequest, readyState: req.readyState });
      req.onblocked = (e) => say({ event: 'blocked', oldVersion: e.oldVersion, newVersion: e.newVersion });
      req.onerror = () => say({ event: 'error', error: req.error && req.error.name });
      req.onupgradeneeded = (e) => {
        say({ event: 'upgradeneeded', oldVersion: e.oldVersion, newVersion: e.newVersion });
        e.target.result.createObjectStore('core').put('written by the worker', 'account');
      };
      req.onsuccess = () => {
        db = req.result;
        db.onversionchange = (e) => say({ event: 'versionchange', oldVersion: e.oldVersion, newVersion: e.newVersion });
        const get = db.transaction('core').objectStore('core').get('account');
        get.onsuccess = () => say({ event: 'success', version: db.version, stores: [...db.objectStoreNames], read: get.result });
      };
    };`;
  const worker = new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));
  window.__worker = { worker, log: [], errors: [] };
  worker.onmessage = ({ data }) => (window.__worker.log = data);
  worker.onerror = (e) => window.__worker.errors.push(String(e.message));
  worker.postMessage('open');
}

/** In the page: the host's own main-thread open of the same name at v2; `blocked` asks the worker to close. */
function openFromMainThread(name) {
  const log = [];
  window.__main = { log };
  const req = indexedDB.open(name, 2);
  log.push({ call: 'open', isRequest: req instanceof IDBOpenDBRequest, readyState: req.readyState });
  const seen = (type, e, extra = {}) =>
    log.push({ event: type, oldVersion: e.oldVersion ?? null, newVersion: e.newVersion ?? null, readyState: req.readyState, ...extra });
  req.onblocked = function (e) {
    seen('blocked', e, { thisIsRequest: this === req });
    window.__worker.worker.postMessage('close');
  };
  req.onupgradeneeded = function (e) {
    seen('upgradeneeded', e, { thisIsRequest: this === req, resultIsDatabase: e.target.result instanceof IDBDatabase });
    e.target.result.createObjectStore('meta').put('written by the host', 'account');
  };
  req.addEventListener('success', (e) => {
    const db = req.result;
    seen('success', e, { sameResult: db === e.target.result, version: db.version, stores: [...db.objectStoreNames] });
    const get = db.transaction('core').objectStore('core').get('account');
    get.onsuccess = () => {
      log.push({ read: get.result });
      db.close();
    };
  });
  req.onerror = function (e) {
    seen('error', e, { error: req.error && req.error.name });
  };
}

/** Init script: a Cinny session in localStorage (its crypto store is not there: the store-loss check says so). */
function plantCinnySession(homeserver) {
  if (localStorage.getItem('cinny_user_id')) return;
  localStorage.setItem('cinny_access_token', 'syt_dGVzdA_notarealtoken_0000');
  localStorage.setItem('cinny_device_id', 'WORKERTEST');
  localStorage.setItem('cinny_user_id', '@worker:localhost');
  localStorage.setItem('cinny_hs_base_url', homeserver);
}

/** In the page: the drop-in's gate as the guardian sees it (null without the guardian). */
function gateState() {
  const gate = window[Symbol.for('matrix-crypto-guardian/idb-gate')];
  const g = window.matrixCryptoGuardian;
  return gate ? { holds: gate.holds(), pending: gate.pending(), opens: gate.opens().map((o) => ({ name: o.name, held: o.held })), role: g?.writer?.().role ?? null } : null;
}

describe('a host that opens the crypto store from a Worker: the same with and without the drop-in', { timeout: 120_000 }, () => {
  let browser;
  let web;
  let pkgCopy;
  before(async () => {
    pkgCopy = await snapshotPkg(process.env.MCG_PKG_DIR || undefined); // immune to a rebuild of pkg/ meanwhile
    [browser, web] = await Promise.all([launchBrowser(), serve({ pkg: pkgCopy })]);
  });
  after(async () => {
    await browser?.close();
    await web?.close();
    if (pkgCopy) rmSync(dirname(pkgCopy), { recursive: true, force: true });
  });

  /**
   * The sequence in a fresh context; returns what the host saw and what the gate did. `hold` is what holds
   * the host tab's crypto-store opens with the drop-in: 'writer' (another tab is the writer, and closes to
   * release it) or 'store-check' (a Cinny session without its crypto store: a store loss, released by the
   * user's "continue").
   */
  async function runSequence(guardian, hold) {
    const context = await browser.newContext();
    await context.route(`**${HARNESS_PATH}`, (route) => route.fulfill({ contentType: 'text/html', body: harness(guardian) }));
    if (hold === 'store-check') await context.addInitScript(plantCinnySession, web.url);
    const url = new URL(HARNESS_PATH, web.url).href;
    const problems = [];
    const open = async (name) => {
      const page = await context.newPage();
      page.on('pageerror', (e) => problems.push(`${name} pageerror: ${e.message}`));
      // The store-loss prompt asks the (fake) homeserver for its facts: those 404s are not the host's problem.
      page.on('console', (m) => m.type() === 'error' && !/^Failed to load resource/.test(m.text()) && problems.push(`${name} console error: ${m.text()}`));
      await page.goto(url);
      return page;
    };
    const gate = {};
    const holder = hold === 'writer' ? await open('holder') : null;
    if (holder && guardian) await holder.waitForFunction(() => window.matrixCryptoGuardian?.writer?.().isWriter === true, null, { timeout: 15_000 });
    const host = await open('host');
    try {
      return await withArtifacts(`idb-worker-${hold}-${guardian ? 'on' : 'off'}`, [host], async () => {
        if (guardian) {
          await host.waitForFunction(
            (hold) => {
              const g = window.matrixCryptoGuardian;
              if (typeof g?.writer !== 'function') return false;
              return hold === 'writer' ? g.writer().role === 'waiting' : g.storeCheck().verdict === 'store-lost' && g.writer().role === 'writer';
            },
            hold,
            { timeout: 15_000 },
          );
        }

        // 1. The worker's open, while this tab's gate holds the crypto store: it is not held.
        await host.evaluate(startWorker, NAME);
        await host.waitForFunction(() => window.__worker.log.some((e) => e.event === 'success' || e.event === 'error'), null, { timeout: 10_000 });
        gate.afterWorkerOpen = await host.evaluate(gateState);

        // 2. The main thread's open of the same name, at the next version.
        await host.evaluate(openFromMainThread, NAME);
        await host.waitForTimeout(500);
        gate.whileHeld = await host.evaluate(gateState);
        const early = await host.evaluate(() => ({ main: window.__main.log.slice(), worker: window.__worker.log.slice() }));
        // The hold ends (with the drop-in the held open runs now): the other tab goes away, or the user
        // continues despite the store loss.
        if (holder) await holder.close();
        else if (guardian) await host.evaluate(() => window.matrixCryptoGuardian.continueDespiteStoreLoss());
        await host.waitForFunction(() => window.__main.log.some((e) => 'read' in e || e.event === 'error'), null, { timeout: 15_000 });
        gate.end = await host.evaluate(gateState);
        const seen = await host.evaluate(() => ({ main: window.__main.log, worker: window.__worker.log, workerErrors: window.__worker.errors }));
        const databases = await host.evaluate(async () => (await indexedDB.databases()).filter((d) => d.name.startsWith('matrix-js-sdk')));
        return { ...seen, early, gate, databases, problems };
      });
    } finally {
      await context.close();
    }
  }

  for (const [hold, role] of [['writer', 'waiting'], ['store-check', 'writer']]) {
    test(`held by "${hold}": a dedicated Worker opens the crypto store, then the page opens it from the main thread`, async () => {
      const off = await runSequence(false, hold);
      const on = await runSequence(true, hold);

      // Without the guardian: the worker's v1 open succeeded; the page's v2 open was blocked by the worker's
      // connection, which got versionchange, closed, and the upgrade ran.
      assert.deepEqual(off.worker.map((e) => e.call || e.event), ['open', 'upgradeneeded', 'success', 'versionchange', 'close'], JSON.stringify(off.worker));
      assert.deepEqual(off.main.map((e) => e.call || e.event || 'read'), ['open', 'blocked', 'upgradeneeded', 'success', 'read'], JSON.stringify(off.main));

      // With the drop-in: exactly the same, event for event.
      assert.deepEqual(on.worker, off.worker, "the worker's open behaves the same with the drop-in");
      assert.deepEqual(on.main, off.main, "the page's main-thread open gets the same IDBOpenDBRequest events");
      assert.deepEqual(on.workerErrors, off.workerErrors);
      assert.deepEqual(on.databases, off.databases, 'the same database afterwards');
      assert.deepEqual(on.problems, [], 'no page error or console error with the drop-in');
      assert.deepEqual(off.problems, []);

      // The gate stayed consistent: it never saw the worker's open (it cannot), it held the main thread's
      // open (the worker meanwhile got nothing: no versionchange), and let it run once the hold ended.
      assert.equal(off.gate.afterWorkerOpen, null);
      assert.deepEqual(on.gate.afterWorkerOpen, { holds: [hold], pending: 0, opens: [], role });
      assert.deepEqual(on.gate.whileHeld, { holds: [hold], pending: 1, opens: [{ name: NAME, held: true }], role });
      assert.deepEqual(on.early.main, [off.main[0]], 'while held: only the open call, still pending, as a real request');
      assert.deepEqual(on.early.worker, off.worker.slice(0, 3), 'while held: the worker saw nothing more');
      assert.deepEqual(on.gate.end, { holds: [], pending: 0, opens: [{ name: NAME, held: true }], role: 'writer' });
    });
  }
});
