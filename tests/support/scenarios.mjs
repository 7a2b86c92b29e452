// The divergence scenarios of the storm watch, shared by the end-to-end tests (short windows) and the
// bench (long windows). Everything is real: Synapse, matrix-js-sdk rust crypto in Chromium, and the
// server's own access log is what counts the conflicting uploads that reached it.
import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ensureWwwBuilt } from '../../scripts/build-www.mjs';
import { serve } from '../../scripts/serve.mjs';
import { launchBrowser, login, newUserPage } from './browser.mjs';
import { startHomeserver } from './homeserver.mjs';

export const CRYPTO_STORES = ['matrix-js-sdk::matrix-sdk-crypto', 'matrix-js-sdk::matrix-sdk-crypto-meta'];
const UPLOAD = { method: 'POST', pathIncludes: '/keys/upload' };
// A limit, not a measurement: the first page of a fresh browser compiles matrix-sdk-crypto-wasm, which
// takes long on a loaded 2-core machine.
export const LOGIN_TIMEOUT_MS = 120_000;

/**
 * Synapse + the demo client's server + the browser (`engine`, default MCG_ENGINE or Chromium). `close()` stops all three. `pkg`: serve the guardian
 * package from this directory instead of pkg/ (e.g. a snapshot, immune to a rebuild during the run).
 */
export async function startStack({ pkg, engine } = {}) {
  const [hs, browser] = await Promise.all([startHomeserver(), launchBrowser({ engine }), ensureWwwBuilt()]);
  const web = await serve({ homeserver: hs.baseUrl, pkg });
  return {
    hs,
    web,
    browser,
    async close() {
      await Promise.allSettled([browser.close(), web.close()]);
      await hs.stop();
    },
  };
}

let userSerial = 0;
/** Registers a fresh user (each scenario run gets its own device and keys). */
export async function freshUser(hs, prefix) {
  const localpart = `${prefix}${Date.now().toString(36)}${userSerial++}`;
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const user = await hs.registerUser(localpart, password);
  return { ...user, localpart, password };
}

/**
 * A peer who keeps the account busy: a room it posts into `perSecond` times a second, so every /sync of
 * the members completes quickly — matrix-js-sdk retries a failed keys/upload once per completed /sync.
 */
export async function busyPeer(hs, { perSecond = 2 } = {}) {
  const peer = await freshUser(hs, 'peer');
  const { room_id: roomId } = await hs.api('POST', '/_matrix/client/v3/createRoom', {
    token: peer.accessToken,
    body: { preset: 'public_chat', name: 'busy room' },
  });
  let timer = null;
  let sent = 0;
  return {
    peer,
    roomId,
    get sent() {
      return sent;
    },
    start() {
      timer ??= setInterval(() => {
        const txn = `t${Date.now()}${sent}`;
        hs.api('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txn}`, {
          token: peer.accessToken,
          body: { msgtype: 'm.text', body: `busy ${sent}` },
        }).then(() => sent++, () => {});
      }, 1000 / perSecond);
    },
    stop() {
      clearInterval(timer);
      timer = null;
    },
  };
}

/** Joins the page's logged-in client to a room (through the client itself). */
async function joinFromPage(page, roomId) {
  await page.evaluate((r) => window.demo.client.joinRoom(r), roomId);
}

/** What the page's guardian says (null when the page runs without it). */
export async function guardianView(page) {
  return page.evaluate(() => {
    const g = window.demo && window.demo.guardian;
    if (!g || typeof g.storm !== 'function') return null;
    const events = [...document.querySelectorAll('#guardian-events li[data-guardian-event]')].map((li) => li.dataset.guardianEvent);
    return { storm: g.storm(), events };
  });
}

/** Waits until the page's guardian has emitted an event of that type (or the timeout passes). */
export async function waitForGuardianEvent(page, type, timeout = 15_000) {
  await page.waitForSelector(`#guardian-events li[data-guardian-event="${type}"]`, { state: 'attached', timeout });
}

/**
 * *evict*: log in, let the keys upload, close the tab, delete only the crypto IndexedDB, reload with the
 * same localStorage session, while the peer keeps the account busy for `windowMs`. `loss: 'account'`
 * empties the store's `core` object store (the account) instead of deleting the database: a store that
 * is there but holds no identity. With the guardian,
 * the store-loss check warns at start; `storeLoss: 'continue'` (default) takes the user's "continue at my
 * own risk" so the storm itself can be watched, `'ask'` leaves the warning unanswered. `path`: another
 * page of the demo (e.g. '/csp.html').
 * Returns the conflicting uploads the server answered and what the guardian saw.
 */
export async function evictScenario(stack, { guardian, windowMs, peer, prefix = 'evict', storeLoss = 'continue', loss = 'database', path, beforeReload }) {
  const { hs, web, browser } = stack;
  const user = await freshUser(hs, prefix);
  const opts = { baseUrl: web.url, homeserver: hs.baseUrl, guardian, name: `${prefix}-${guardian}`, path };
  let page = await newUserPage(browser, opts);
  const context = page.context();
  const { deviceId } = await login(page, user.localpart, user.password, { timeout: LOGIN_TIMEOUT_MS });
  await hs.waitForRequests({ ...UPLOAD, status: 200, user: user.userId }, 1, { timeout: 30_000 });
  await joinFromPage(page, peer.roomId);
  await page.close();

  // The store loss: only the crypto databases go; localStorage (the session) and the sync store stay.
  const blank = await context.newPage();
  await blank.goto(new URL('/config.json', web.url).href);
  if (loss === 'account') await blank.evaluate(emptyCoreStore, CRYPTO_STORES[0]);
  else await blank.evaluate(async (names) => {
    for (const name of names) {
      await new Promise((resolve, reject) => {
        const req = indexedDB.deleteDatabase(name);
        req.onsuccess = resolve;
        req.onerror = () => reject(req.error);
        req.onblocked = resolve;
      });
    }
  }, CRYPTO_STORES);
  await blank.close();

  // `beforeReload(context)`: e.g. routes that block a download in the page that meets the store loss.
  if (beforeReload) await beforeReload(context);
  const since = hs.mark();
  // storeLoss 'continue': the user goes on despite the store-loss warning (so the storm can be watched);
  // 'ask': the demo waits for the user's choice.
  page = await newUserPage(browser, { ...opts, context, query: storeLoss === 'continue' ? { storeLoss } : {} });
  peer.start();
  await page.waitForTimeout(windowMs);
  peer.stop();
  const conflicts = hs.countRequests({ ...UPLOAD, status: 400, user: user.userId, since });
  return { user, deviceId, page, since, conflicts, guardian: await guardianView(page) };
}

/** In the page: clears the rust crypto store's `core` object store (where its account lives). */
async function emptyCoreStore(name) {
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open(name);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  await new Promise((resolve, reject) => {
    const tx = db.transaction('core', 'readwrite');
    tx.objectStore('core').clear();
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  });
  db.close();
}

/**
 * *two tabs on one session* (no writer lock): both tabs run the rust crypto engine on one store. The
 * peer claims this device's one-time keys so both engines replenish them, each with its own in-memory
 * key counter — the same key ids with different key material reach the server. The peer also keeps
 * the account busy: a claim alone wakes no /sync, and the engines only replenish after a sync.
 * `untilConflicts` (a baseline's): the window goes on, at most two more windows, until that many conflicts
 * reached the server — a loaded machine can start the second engine late.
 */
export async function twoTabsScenario(stack, { guardian, windowMs, peer, claimsPerSecond = 4, prefix = 'tabs', query, secondTabSettled = secondTabReady, untilConflicts = 0 }) {
  const { hs, web, browser } = stack;
  const user = await freshUser(hs, prefix);
  const opts = { baseUrl: web.url, homeserver: hs.baseUrl, guardian, name: `${prefix}-${guardian}-1`, query };
  const first = await newUserPage(browser, opts);
  const { deviceId } = await login(first, user.localpart, user.password, { timeout: LOGIN_TIMEOUT_MS });
  await hs.waitForRequests({ ...UPLOAD, status: 200, user: user.userId }, 1, { timeout: 30_000 });
  await joinFromPage(first, peer.roomId);
  const second = await newUserPage(browser, { ...opts, name: `${prefix}-${guardian}-2`, context: first.context() });
  await secondTabSettled(second);

  const since = hs.mark();
  let claims = 0;
  const timer = setInterval(() => {
    hs.api('POST', '/_matrix/client/v3/keys/claim', {
      token: peer.peer.accessToken,
      body: { one_time_keys: { [user.userId]: { [deviceId]: 'signed_curve25519' } } },
    }).then(() => claims++, () => {});
  }, 1000 / claimsPerSecond);
  const count = () => hs.countRequests({ ...UPLOAD, status: 400, user: user.userId, since });
  peer.start();
  await first.waitForTimeout(windowMs);
  for (const end = Date.now() + 2 * windowMs; count() < untilConflicts && Date.now() < end; ) await first.waitForTimeout(1000);
  peer.stop();
  clearInterval(timer);
  const conflicts = count();
  return {
    user,
    deviceId,
    pages: [first, second],
    since,
    claims,
    conflicts,
    guardians: [await guardianView(first), await guardianView(second)],
  };
}

/** twoTabsScenario's default: the second tab runs its own crypto engine (the app is ready). */
export async function secondTabReady(page) {
  await page.waitForFunction(() => document.body.dataset.appState === 'ready', null, { timeout: 30_000 });
}

/**
 * A private copy of pkg/ for one test file, so that a rebuild of pkg/ during the run (another build on
 * the same checkout) cannot pull files from under the pages. Waits for a build in progress to finish
 * (package.json is the build's last file).
 */
export async function snapshotPkg(pkgDir = new URL('../../pkg/', import.meta.url).pathname, { timeout = 180_000 } = {}) {
  const until = Date.now() + timeout;
  const complete = () => ['index.js', 'dropin.js', 'package.json', 'core/guardian_core_bg.wasm'].every((f) => existsSync(join(pkgDir, f)));
  while (!complete()) {
    if (Date.now() > until) throw new Error(`${pkgDir} is not built (npm run build)`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const dir = join(mkdtempSync(join(tmpdir(), 'mcg-pkg-')), 'pkg');
  cpSync(pkgDir, dir, { recursive: true });
  return dir;
}
