// Real Chromium (Debian's /usr/bin/chromium) driven by playwright-core, and page helpers for the demo client.
//
//   const browser = await launchBrowser();
//   const alice = await newUserPage(browser, { baseUrl: web.url, homeserver: hs.baseUrl, guardian: 'npm', name: 'alice' });
//   await login(alice, 'alice', 'pw');
//   const roomId = await startDm(alice, '@bob:localhost');
//   await sendMessage(alice, 'hello');
//
// Every page collects its console messages and page errors (logsOf(page)); saveArtifacts() writes a
// screenshot + the logs into .e2e-artifacts/.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS_DIR = join(ROOT, '.e2e-artifacts');

export const CHROMIUM_PATH = process.env.MCG_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The engine the scenarios run in: MCG_ENGINE=chromium (default) | firefox | webkit. */
export const ENGINE = process.env.MCG_ENGINE || 'chromium';

/**
 * Launch the engine's browser (Chromium by default). Never downloads a browser. Firefox and WebKit are
 * driven over WebDriver (tests/support/webdriver.mjs) behind the part of playwright's API these helpers use.
 * @param {{engine?: 'chromium'|'firefox'|'webkit', executablePath?: string, args?: string[], slowMo?: number}} [opts]
 * @returns {Promise<import('playwright-core').Browser>}
 */
export async function launchBrowser({ engine = ENGINE, executablePath = CHROMIUM_PATH, args = [], slowMo } = {}) {
  if (engine !== 'chromium') return (await import('./webdriver.mjs')).launchWebDriverBrowser(engine);
  return chromium.launch({
    executablePath,
    // --headless=new is passed explicitly; tell playwright not to add its own headless flags
    headless: false,
    args: [...CHROMIUM_ARGS, ...args],
    slowMo,
  });
}

// ------------------------------------------------------------------------------------------------
// pages

const LOG_CAP = 20_000;
const pageInfo = new WeakMap();

/** { name, console: [{type, text, at}], errors: [{message, stack, at}], url } of a page made by newUserPage. */
export function logsOf(page) {
  return pageInfo.get(page) || { name: '?', console: [], errors: [] };
}

/** Console lines of a page matching a string or RegExp. */
export function consoleMatching(page, pattern) {
  const test = typeof pattern === 'string' ? (t) => t.includes(pattern) : (t) => pattern.test(t);
  return logsOf(page).console.filter((m) => test(m.text));
}

function attachLogs(page, name) {
  const info = { name, console: [], errors: [] };
  pageInfo.set(page, info);
  page.on('console', (msg) => {
    if (info.console.length >= LOG_CAP) info.console.shift();
    info.console.push({ type: msg.type(), text: msg.text(), at: Date.now() });
  });
  page.on('pageerror', (err) => {
    info.errors.push({ message: err.message, stack: err.stack, at: Date.now() });
  });
  page.on('crash', () => info.errors.push({ message: 'page crashed', at: Date.now() }));
  return info;
}

/**
 * URL of the demo app for a guardian mode. `path` picks another page of www/ (e.g. '/csp.html').
 * @param {{baseUrl: string, homeserver?: string, guardian?: 'npm'|'off'|'dropin', query?: Record<string,string>, path?: string}} o
 */
export function appUrl({ baseUrl, homeserver, guardian = 'npm', query = {}, path }) {
  const u = new URL(path || (guardian === 'dropin' ? '/dropin.html' : '/'), baseUrl);
  if (guardian === 'off') u.searchParams.set('guardian', 'off');
  if (homeserver) u.searchParams.set('hs', homeserver);
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  return u.toString();
}

const contextSetups = new Set();

/**
 * Runs `await setup(context)` on every context newUserPage creates from now on (in this test process),
 * before its first page: e.g. an init script that must see every page, also those the scenarios open.
 * Returns a function that removes it.
 */
export function onNewContext(setup) {
  contextSetups.add(setup);
  return () => contextSetups.delete(setup);
}

/**
 * A fresh browser context (its own localStorage/IndexedDB, like a separate browser profile) with one page
 * on the demo app. Pass `context` to open a second tab in an existing context instead.
 * @param {import('playwright-core').Browser} browser
 * @param {{baseUrl: string, homeserver?: string, guardian?: 'npm'|'off'|'dropin', name?: string,
 *          context?: import('playwright-core').BrowserContext, contextOptions?: object,
 *          query?: Record<string,string>, path?: string, goto?: boolean}} opts
 * @returns {Promise<import('playwright-core').Page>}  page.context() is its context
 */
export async function newUserPage(browser, { baseUrl, homeserver, guardian = 'npm', name = 'user', context, contextOptions = {}, query, path, goto = true } = {}) {
  let ctx = context;
  if (!ctx) {
    ctx = await browser.newContext({ viewport: { width: 1100, height: 800 }, ...contextOptions });
    for (const setup of contextSetups) await setup(ctx);
  }
  const page = await ctx.newPage();
  const info = attachLogs(page, name);
  info.url = appUrl({ baseUrl, homeserver, guardian, query, path });
  info.guardian = guardian;
  if (goto) await page.goto(info.url);
  return page;
}

/** Navigate (again) to the app URL this page was made for (e.g. after clearing storage). */
export async function openApp(page, overrides) {
  const info = logsOf(page);
  const url = overrides ? appUrl(overrides) : info.url;
  await page.goto(url);
}

// ------------------------------------------------------------------------------------------------
// app state

/** body[data-app-state]: loading | login | logging-in | starting | started | ready | error | logged-out */
export async function appState(page) {
  return page.evaluate(() => document.body.dataset.appState);
}

export async function waitForAppState(page, states, { timeout = 30_000 } = {}) {
  const want = Array.isArray(states) ? states : [states];
  await page.waitForFunction((w) => w.includes(document.body.dataset.appState), want, { timeout });
  return appState(page);
}

/** Text of #guardian-status. */
export async function guardianStatus(page) {
  return (await page.textContent('#guardian-status')) || '';
}

/** { text, state } of the guardian status once it is no longer "loading". */
export async function waitForGuardianStatus(page, { timeout = 30_000 } = {}) {
  await page.waitForFunction(() => {
    const el = document.querySelector('#guardian-status');
    return el && !/loading/.test(el.textContent);
  }, null, { timeout });
  return page.evaluate(() => {
    const el = document.querySelector('#guardian-status');
    return { text: el.textContent, state: el.dataset.state || null };
  });
}

/** { userId, deviceId } shown in #whoami. */
export async function whoami(page) {
  return page.evaluate(() => {
    const el = document.querySelector('#whoami');
    return { userId: el.dataset.userId || null, deviceId: el.dataset.deviceId || null };
  });
}

/** Current sync state text (#sync-state) and how many syncs completed. */
export async function syncState(page) {
  return page.evaluate(() => {
    const el = document.querySelector('#sync-state');
    return { state: el.textContent, count: Number(el.dataset.syncCount || 0) };
  });
}

/** Wait until at least `n` more syncs complete than now. */
export async function waitForSyncs(page, n = 1, { timeout = 30_000 } = {}) {
  const { count } = await syncState(page);
  await page.waitForFunction((target) => Number(document.querySelector('#sync-state').dataset.syncCount || 0) >= target, count + n, { timeout });
}

// ------------------------------------------------------------------------------------------------
// user actions

/**
 * Log in through the form (or accept an already resumed session) and wait for the first sync.
 * @returns {Promise<{userId: string, deviceId: string}>}
 */
export async function login(page, localpart, password, { homeserver, timeout = 45_000 } = {}) {
  const state = await waitForAppState(page, ['login', 'starting', 'started', 'ready', 'error'], { timeout });
  if (state === 'error') throw new Error(`app failed to start: ${await page.textContent('#app-error')}`);
  if (state === 'login') {
    if (homeserver) await page.fill('#login-hs', homeserver);
    await page.fill('#login-user', localpart);
    await page.fill('#login-password', password);
    await page.click('#login-submit');
    await page.waitForFunction(
      () => ['ready', 'error'].includes(document.body.dataset.appState) || document.querySelector('#login-error')?.textContent,
      null,
      { timeout },
    );
    const err = await page.textContent('#login-error');
    if (err) throw new Error(err);
  }
  const final = await waitForAppState(page, ['ready', 'error'], { timeout });
  if (final === 'error') throw new Error(`app failed: ${await page.textContent('#app-error')}`);
  return whoami(page);
}

/** Log out with the app's button (server logout, then stores cleared, page reloads to the login form). */
export async function logout(page, { timeout = 30_000 } = {}) {
  await Promise.all([page.waitForEvent('load', { timeout }), page.click('#logout')]);
  await waitForAppState(page, 'login', { timeout });
}

const roomSel = (roomId) => `#room-list [data-room-id="${roomId.replace(/"/g, '\\"')}"]`;

/**
 * Start an encrypted DM through the UI; resolves with the new room id once it is open.
 */
export async function startDm(page, userId, { timeout = 30_000 } = {}) {
  const before = await page.evaluate(() => document.querySelector('#timeline').dataset.currentRoom || null);
  await page.fill('#dm-user', userId);
  await page.click('#dm-start');
  const handle = await page.waitForFunction(
    (prev) => {
      const cur = document.querySelector('#timeline').dataset.currentRoom;
      const err = document.querySelector('#app-error');
      if (err && !err.hidden && /start DM/.test(err.textContent)) return { error: err.textContent };
      return cur && cur !== prev ? { roomId: cur } : null;
    },
    before,
    { timeout },
  );
  const res = await handle.jsonValue();
  if (res.error) throw new Error(res.error);
  await page.waitForSelector(`${roomSel(res.roomId)}[data-membership="join"]`, { timeout });
  return res.roomId;
}

/** Wait for a room to show up in the room list (optionally with a membership). */
export async function waitForRoom(page, roomId, { membership, timeout = 30_000 } = {}) {
  const sel = membership ? `${roomSel(roomId)}[data-membership="${membership}"]` : roomSel(roomId);
  await page.waitForSelector(sel, { timeout, state: 'attached' });
}

/** Wait for the first invite (or the one for roomId), returns its room id. */
export async function waitForInvite(page, { roomId, timeout = 30_000 } = {}) {
  const sel = roomId ? roomSel(roomId) : '#room-list [data-room-id]';
  // auto-join may already have turned the invite into a join: accept either
  const handle = await page.waitForSelector(`${sel}[data-membership="invite"], ${sel}[data-membership="join"]`, { timeout, state: 'attached' });
  return handle.getAttribute('data-room-id');
}

/**
 * Make sure we are joined to roomId (the app auto-joins invites by default; with ?autojoin=0 this clicks
 * Join), then open it.
 */
export async function acceptInvite(page, roomId, { timeout = 30_000 } = {}) {
  await waitForRoom(page, roomId, { timeout });
  const joinBtn = await page.$(`${roomSel(roomId)}[data-membership="invite"] [data-action="join"]`);
  if (joinBtn) await joinBtn.click().catch(() => {}); // may have been re-rendered away by auto-join
  await waitForRoom(page, roomId, { membership: 'join', timeout });
  await openRoom(page, roomId, { timeout });
  return roomId;
}

/** Open a room from the room list. */
export async function openRoom(page, roomId, { timeout = 30_000 } = {}) {
  await waitForRoom(page, roomId, { timeout });
  await page.click(`${roomSel(roomId)} .open-room`);
  await page.waitForSelector(`#timeline[data-current-room="${roomId}"]`, { timeout, state: 'attached' });
  await page.waitForSelector('#composer:not([hidden])', { timeout });
}

/**
 * Type and send a message in the open room; resolves with its event id once the server accepted it.
 */
export async function sendMessage(page, text, { timeout = 30_000 } = {}) {
  await page.fill('#composer-input', text);
  await page.click('#composer-send');
  const handle = await page.waitForFunction(
    (t) => {
      for (const li of document.querySelectorAll('#timeline .event')) {
        if (li.querySelector('.body')?.textContent === t && li.dataset.eventId?.startsWith('$')) return li.dataset.eventId;
      }
      const err = document.querySelector('#app-error');
      if (err && !err.hidden && /send failed/.test(err.textContent)) return { error: err.textContent };
      return null;
    },
    text,
    { timeout },
  );
  const res = await handle.jsonValue();
  if (res && res.error) throw new Error(res.error);
  return res;
}

/** Events of the open room as rendered: [{eventId, sender, type, body, encrypted, decrypted, utd}] */
export async function timeline(page) {
  return page.$$eval('#timeline .event', (lis) =>
    lis.map((li) => ({
      eventId: li.dataset.eventId,
      sender: li.dataset.sender,
      type: li.dataset.type,
      body: li.querySelector('.body')?.textContent ?? '',
      encrypted: li.dataset.encrypted === 'true',
      decrypted: li.dataset.decrypted === 'true',
      utd: li.dataset.utd === 'true',
      pending: li.dataset.pending === 'true',
    })),
  );
}

/**
 * Wait until the open room shows `text` as a successfully decrypted event (data-decrypted="true").
 * Resolves with that event; on timeout the error lists what the timeline shows.
 */
export async function waitForDecrypted(page, text, timeout = 30_000) {
  try {
    const handle = await page.waitForFunction(
      (t) => {
        for (const li of document.querySelectorAll('#timeline .event[data-decrypted="true"]')) {
          if (li.querySelector('.body')?.textContent === t) return { eventId: li.dataset.eventId, sender: li.dataset.sender };
        }
        return null;
      },
      text,
      { timeout },
    );
    return await handle.jsonValue();
  } catch (e) {
    const tl = await timeline(page).catch(() => []);
    e.message += `\n  waiting for decrypted "${text}" on ${logsOf(page).name}; timeline: ${JSON.stringify(tl)}`;
    throw e;
  }
}

/** Number of "unable to decrypt" events in the open room. */
export async function countUtds(page) {
  return page.$$eval('#timeline .event[data-utd="true"]', (l) => l.length);
}

// ------------------------------------------------------------------------------------------------
// artifacts

/**
 * Screenshot + console/page errors of each page into .e2e-artifacts/<prefix>-<page name>.{png,log}.
 * Never throws.
 */
export async function saveArtifacts(prefix, pages) {
  const dir = ARTIFACTS_DIR;
  try {
    mkdirSync(dir, { recursive: true });
  } catch {
    return [];
  }
  const safe = (s) => String(s).replace(/[^\w.-]+/g, '_');
  const written = [];
  for (const page of pages.filter(Boolean)) {
    const info = logsOf(page);
    const base = join(dir, `${safe(prefix)}-${safe(info.name)}`);
    try {
      if (!page.isClosed()) {
        await page.screenshot({ path: `${base}.png`, fullPage: true, timeout: 5000 });
        written.push(`${base}.png`);
      }
    } catch {
      /* page gone */
    }
    try {
      const lines = [
        `# ${info.name} ${info.url || ''}`,
        ...info.errors.map((e) => `[pageerror] ${e.message}\n${e.stack || ''}`),
        ...info.console.map((m) => `${new Date(m.at).toISOString()} [${m.type}] ${m.text}`),
      ];
      writeFileSync(`${base}.log`, lines.join('\n') + '\n');
      written.push(`${base}.log`);
    } catch {
      /* ignore */
    }
  }
  return written;
}

/** Run fn; on failure save artifacts of `pages()` (a getter, pages may not exist yet) and rethrow. */
export async function withArtifacts(prefix, pages, fn) {
  try {
    return await fn();
  } catch (e) {
    const files = await saveArtifacts(prefix, typeof pages === 'function' ? pages() : pages);
    if (files.length) e.message += `\n  artifacts: ${files.join(', ')}`;
    throw e;
  }
}

/**
 * Every record of the guardian's own IndexedDB database, read in the page:
 * `{ stores, version, records: { store: { key: value } } }`.
 */
export function guardianDatabase(page, name = 'matrix-crypto-guardian') {
  return page.evaluate(
    (name) =>
      new Promise((resolve, reject) => {
        const req = indexedDB.open(name);
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const db = req.result;
          const stores = [...db.objectStoreNames];
          if (!stores.length) {
            db.close();
            return resolve({ stores, version: db.version, records: {} });
          }
          const tx = db.transaction(stores, 'readonly');
          const records = {};
          for (const s of stores) {
            const keys = tx.objectStore(s).getAllKeys();
            const values = tx.objectStore(s).getAll();
            values.onsuccess = () => (records[s] = Object.fromEntries(keys.result.map((k, i) => [k, values.result[i]])));
          }
          tx.oncomplete = () => {
            db.close();
            resolve({ stores, version: db.version, records });
          };
        };
      }),
    name,
  );
}
