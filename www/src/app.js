// The demo chat client: a small but real Matrix client on matrix-js-sdk 43 + rust crypto.
//
// It behaves like Cinny where it matters to the guardian:
//  - session in localStorage as plain strings cinny_access_token / cinny_device_id / cinny_user_id /
//    cinny_hs_base_url, resumed on reload without a new login;
//  - sync store IndexedDBStore dbName "web-sync-store" (IndexedDB "matrix-js-sdk:web-sync-store");
//  - client.initRustCrypto() with the default IndexedDB crypto store ("matrix-js-sdk::matrix-sdk-crypto").
//
// Guardian integration, chosen by the page:
//  - index.html (data-guardian-mode="npm"): `await import('/pkg/index.js')`, `Guardian.start({})` before the
//    MatrixClient exists, `guardian.attach(client)` before the client starts;
//  - dropin.html (data-guardian-mode="dropin"): /pkg/dropin.js is the first <script> in <head>; the app only
//    reads window.matrixCryptoGuardian to show its status;
//  - ?guardian=off on either page: no guardian at all (the baseline).
// Any guardian failure is caught and shown; the chat keeps working.
//
// Stable hooks for tests: #login-form, #room-list [data-room-id], #composer, #timeline .event[data-event-id]
// (data-encrypted, data-decrypted, data-utd), #sync-state, #guardian-status, #guardian-events, #whoami,
// body[data-app-state], window.demo.

import {
  ClientEvent,
  createClient,
  EventStatus,
  IndexedDBStore,
  MatrixEventEvent,
  RoomEvent,
} from 'matrix-js-sdk';
// The same rust crypto matrix-js-sdk runs on: its own Megolm key-file decryption, for "Import room keys".
import { OlmMachine } from '@matrix-org/matrix-sdk-crypto-wasm';

const SESSION_KEYS = {
  accessToken: 'cinny_access_token',
  deviceId: 'cinny_device_id',
  userId: 'cinny_user_id',
  baseUrl: 'cinny_hs_base_url',
};
const SYNC_DB_NAME = 'web-sync-store';
// `?sessions=list`: sessions kept like multi-account Cinny-family clients do — a `matrixSessions` JSON array
// in localStorage, one per account, each with its own stores (`sync<userId>`, crypto prefix
// `matrix-js-sdk<userId>` → IndexedDB `matrix-js-sdk<userId>::matrix-sdk-crypto`), or the default stores
// (`fallbackSdkStores`) with `&stores=default`. `&account=<userId>` picks the session to run (default: the first).
const SESSIONS_LIST_KEY = 'matrixSessions';
const GUARDIAN_EVENTS = [
  'storm',
  'breaker-open',
  'breaker-probe', 'diagnosis-failed',
  'breaker-closed',
  'otk-inflation',
  'otk-limit',
  'store-mismatch',
  'store-lost',
  'writer-acquired',
  'writer-lost',
  'writer-waiting',
  'diagnosis',
  'remedy',
  'recovery',
  'recovery-facts',
  'persistence',
  'store-loss-accepted',
  'report',
  'error',
];

const params = new URLSearchParams(location.search);
const pageMode = document.documentElement.dataset.guardianMode || 'npm';
const guardianMode = params.get('guardian') === 'off' ? 'off' : pageMode;
const autoJoin = params.get('autojoin') !== '0';

const demo = {
  client: null,
  guardian: null,
  guardianMode,
  guardianEvents: [],
  guardianError: null,
  config: null,
  currentRoomId: null,
  syncCount: 0,
  ready: null,
  // filled in below
};
window.demo = demo;

// ------------------------------------------------------------------------------------------------
// DOM helpers (server-provided text always via textContent)

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c) el.append(c);
  return el;
}
const $ = (sel) => document.querySelector(sel);

function setAppState(state) {
  document.body.dataset.appState = state;
}

function showError(where, err) {
  const msg = err && err.message ? err.message : String(err);
  console.error(`[demo] ${where}:`, err);
  const box = $('#app-error');
  if (box) {
    box.hidden = false;
    box.textContent = `${where}: ${msg}`;
  }
}

function renderShell() {
  document.body.replaceChildren(
    h(
      'header',
      { id: 'topbar' },
      h('strong', { text: 'mcg demo chat' }),
      h('span', { id: 'whoami', text: 'not signed in' }),
      h('span', { class: 'label', text: 'sync:' }),
      h('span', { id: 'sync-state', 'data-sync-count': '0', text: 'stopped' }),
      h('button', { id: 'logout', type: 'button', hidden: true, text: 'Sign out', onclick: () => logout() }),
    ),
    h(
      'section',
      { id: 'guardian' },
      h('span', { id: 'guardian-status', 'data-mode': guardianMode, text: guardianMode === 'off' ? 'guardian off' : 'guardian loading…' }),
      h('ul', { id: 'guardian-events' }),
    ),
    h('div', { id: 'app-error', role: 'alert', hidden: true }),
    h(
      'form',
      { id: 'login-form', hidden: true },
      h('h2', { text: 'Sign in' }),
      h('label', { text: 'Homeserver ' }, h('input', { id: 'login-hs', name: 'hs', type: 'url', required: true })),
      h('label', { text: 'Username ' }, h('input', { id: 'login-user', name: 'user', autocomplete: 'username', required: true })),
      h(
        'label',
        { text: 'Password ' },
        h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
      ),
      h('button', { id: 'login-submit', type: 'submit', text: 'Sign in' }),
      h('div', { id: 'login-error', role: 'alert' }),
    ),
    h(
      'main',
      { id: 'chat', hidden: true },
      h(
        'aside',
        { id: 'sidebar' },
        h(
          'form',
          { id: 'dm-form' },
          h('input', { id: 'dm-user', placeholder: '@bob:localhost', required: true }),
          h('button', { id: 'dm-start', type: 'submit', text: 'Start encrypted DM' }),
        ),
        h('ul', { id: 'room-list' }),
      ),
      h(
        'section',
        { id: 'room' },
        h('h2', { id: 'room-name', text: 'no room open' }),
        h('ol', { id: 'timeline' }),
        h(
          'form',
          { id: 'composer', hidden: true },
          h('input', { id: 'composer-input', autocomplete: 'off', placeholder: 'Message' }),
          h('button', { id: 'composer-send', type: 'submit', text: 'Send' }),
        ),
      ),
    ),
    // Developer tools: the guardian's panel, as a client would mount it (docs/diagnostics.md). Last in the
    // page, so its live updates never move the login form or the chat under the pointer. Open with a guardian
    // (`?devtools=closed` keeps it closed: the panel's view then never loads, as in a client without one).
    h(
      'details',
      { id: 'devtools', open: params.has('devtools') ? params.get('devtools') === 'open' : guardianMode !== 'off' },
      h('summary', { text: 'Developer tools' }),
      h('matrix-crypto-guardian-panel', { id: 'guardian-panel' }),
    ),
  );
  $('#login-form').addEventListener('submit', onLoginSubmit);
  $('#dm-form').addEventListener('submit', onDmSubmit);
  $('#composer').addEventListener('submit', onComposerSubmit);
}

// ------------------------------------------------------------------------------------------------
// guardian

function setGuardianStatus(text, state) {
  const el = $('#guardian-status');
  el.textContent = text;
  el.dataset.state = state;
}

function onGuardianEvent(type, ev) {
  const detail = ev && 'detail' in ev ? ev.detail : ev;
  const entry = { type, detail, at: Date.now() };
  demo.guardianEvents.push(entry);
  console.info(`[demo] guardian event ${type}`, detail);
  let text = type;
  try {
    if (detail !== undefined && detail !== null) text += ' ' + (typeof detail === 'string' ? detail : JSON.stringify(detail)).slice(0, 300);
  } catch {
    /* unserialisable detail */
  }
  $('#guardian-events').append(h('li', { 'data-guardian-event': type, text }));
}

function subscribeGuardian(g) {
  if (!g || typeof g.addEventListener !== 'function') return;
  const panel = $('#guardian-panel');
  if (panel) panel.guardian = g;
  for (const type of GUARDIAN_EVENTS) {
    try {
      g.addEventListener(type, (ev) => onGuardianEvent(type, ev));
    } catch (e) {
      console.warn(`[demo] guardian.addEventListener(${type}) failed`, e);
    }
  }
}

function guardianFailed(err) {
  demo.guardian = null;
  demo.guardianError = err;
  console.warn('[demo] guardian unavailable:', err);
  setGuardianStatus(`guardian unavailable: ${err && err.message ? err.message : err}`, 'unavailable');
}

async function startGuardianNpm() {
  let mod;
  try {
    // kept external by scripts/build-www.mjs: the browser loads the built package from /pkg/
    mod = await import('/pkg/index.js');
  } catch (e) {
    let missing = false;
    try {
      const r = await fetch('/pkg/index.js', { method: 'HEAD', cache: 'no-store' });
      missing = r.status === 404;
    } catch {
      /* ignore */
    }
    throw new Error(missing ? '/pkg/index.js is missing (pkg/ not built: run npm run build)' : `import('/pkg/index.js') failed: ${e.message}`);
  }
  if (!mod || !mod.Guardian || typeof mod.Guardian.start !== 'function') throw new Error('/pkg/index.js has no Guardian.start');
  const guardian = await mod.Guardian.start({ preset: 'cinny' });
  demo.guardian = guardian;
  demo.guardianModule = mod;
  subscribeGuardian(guardian);
  const version = guardian.version ?? mod.version ?? mod.VERSION ?? '?';
  setGuardianStatus(`guardian ${version} loaded`, 'loaded');
  showStoreCheck(guardian);
  return guardian;
}

// The store-loss check ran at start, before this page could log in. The guardian's own recovery prompt
// (<matrix-crypto-guardian-prompt>) tells the user and offers the remedies; its "Continue at my own risk"
// keeps the id #store-lost-continue. `?storeLoss=continue` makes that choice at once (the storm-watch
// tests need the storm to happen).
function showStoreCheck(guardian) {
  const check = typeof guardian.storeCheck === 'function' ? guardian.storeCheck() : null;
  if (!check || check.verdict !== 'store-lost') return;
  onGuardianEvent('store-lost', check);
  if (params.get('storeLoss') !== 'continue') return;
  if (typeof guardian.runRemedy === 'function') guardian.runRemedy('continue').catch(() => guardian.continueDespiteStoreLoss());
  else guardian.continueDespiteStoreLoss();
}

function withTimeout(p, ms, what) {
  return Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`${what} timed out after ${ms} ms`)), ms))]);
}

async function watchDropinGuardian() {
  const g = window.matrixCryptoGuardian;
  if (!g) throw new Error('drop-in script not loaded (window.matrixCryptoGuardian missing; is /pkg/dropin.js built?)');
  let inst = g;
  if (g.ready && typeof g.ready.then === 'function') inst = (await withTimeout(g.ready, 30_000, 'drop-in ready')) || g;
  else if (typeof g.then === 'function') inst = (await withTimeout(g, 30_000, 'drop-in')) || g;
  if (inst.error) throw inst.error instanceof Error ? inst.error : new Error(String(inst.error));
  const settled = window.matrixCryptoGuardian; // the drop-in replaces its placeholder when it settles
  if (settled && settled.failed) throw new Error(settled.failed); // it failed open (e.g. its wasm was blocked)
  demo.guardian = inst;
  subscribeGuardian(inst);
  const version = inst.version ?? g.version ?? '?';
  setGuardianStatus(`guardian ${version} loaded (drop-in)`, 'loaded');
  showStoreCheck(inst);
  return inst;
}

// ------------------------------------------------------------------------------------------------
// config + session

async function loadConfig() {
  let homeserver = null;
  try {
    const r = await fetch('/config.json', { cache: 'no-store' });
    if (r.ok) homeserver = (await r.json()).homeserver || null;
  } catch {
    /* no config */
  }
  if (params.get('hs')) homeserver = params.get('hs');
  if (!homeserver) homeserver = 'http://127.0.0.1:8008';
  demo.config = { homeserver };
  return demo.config;
}

const sessionList = () => params.get('sessions') === 'list';

function listedSessions() {
  try {
    const list = JSON.parse(localStorage.getItem(SESSIONS_LIST_KEY) || '[]');
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

function readSession() {
  if (sessionList()) {
    const list = listedSessions();
    const wanted = params.get('account');
    return (wanted ? list.find((s) => s.userId === wanted) : list[0]) || null;
  }
  const s = {};
  for (const [k, key] of Object.entries(SESSION_KEYS)) s[k] = localStorage.getItem(key);
  return s.accessToken && s.deviceId && s.userId && s.baseUrl ? s : null;
}

function saveSession(s) {
  if (sessionList()) {
    const entry = { ...s, fallbackSdkStores: params.get('stores') === 'default' };
    const list = listedSessions().filter((x) => x.userId !== s.userId);
    localStorage.setItem(SESSIONS_LIST_KEY, JSON.stringify([...list, entry]));
    return;
  }
  for (const [k, key] of Object.entries(SESSION_KEYS)) localStorage.setItem(key, s[k]);
}

function clearSession() {
  if (sessionList()) {
    const left = listedSessions().filter((x) => x.userId !== demo.session?.userId);
    if (left.length) localStorage.setItem(SESSIONS_LIST_KEY, JSON.stringify(left));
    else localStorage.removeItem(SESSIONS_LIST_KEY);
    return;
  }
  for (const key of Object.values(SESSION_KEYS)) localStorage.removeItem(key);
  // matrix-js-sdk's own small caches (sync filter ids), like Element/Cinny clear on sign-out
  for (const key of Object.keys(localStorage)) if (key.startsWith('mxjssdk_')) localStorage.removeItem(key);
}

// ------------------------------------------------------------------------------------------------
// login / start / logout

function showLogin() {
  setAppState('login');
  $('#chat').hidden = true;
  $('#logout').hidden = true;
  const form = $('#login-form');
  form.hidden = false;
  if (!$('#login-hs').value) $('#login-hs').value = demo.config.homeserver;
}

async function onLoginSubmit(ev) {
  ev.preventDefault();
  const baseUrl = $('#login-hs').value.trim().replace(/\/+$/, '');
  const user = $('#login-user').value.trim();
  const password = $('#login-password').value;
  $('#login-error').textContent = '';
  $('#login-submit').disabled = true;
  try {
    await login(baseUrl, user, password);
  } catch (e) {
    console.error('[demo] login failed', e);
    $('#login-error').textContent = `login failed: ${e.message || e}`;
    setAppState('login');
  } finally {
    $('#login-submit').disabled = false;
  }
}

async function login(baseUrl, user, password) {
  setAppState('logging-in');
  const tmp = createClient({ baseUrl });
  const res = await tmp.loginRequest({
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user },
    password,
    initial_device_display_name: `mcg demo (${guardianMode})`,
  });
  const session = { accessToken: res.access_token, deviceId: res.device_id, userId: res.user_id, baseUrl };
  saveSession(session);
  $('#login-form').hidden = true;
  await startSession(session);
}

async function startSession(session) {
  setAppState('starting');
  $('#login-form').hidden = true;
  const ownStores = sessionList() && params.get('stores') !== 'default';
  const dbName = ownStores ? `sync${session.userId}` : SYNC_DB_NAME;
  const store = new IndexedDBStore({ indexedDB: window.indexedDB, localStorage: window.localStorage, dbName });
  await store.startup();
  const client = createClient({
    baseUrl: session.baseUrl,
    accessToken: session.accessToken,
    userId: session.userId,
    deviceId: session.deviceId,
    store,
    timelineSupport: true,
  });
  demo.client = client;
  demo.session = { userId: session.userId, deviceId: session.deviceId, baseUrl: session.baseUrl };

  const who = $('#whoami');
  who.textContent = `${session.userId} ${session.deviceId}`;
  who.dataset.userId = session.userId;
  who.dataset.deviceId = session.deviceId;
  $('#logout').hidden = false;
  $('#chat').hidden = false;

  if (guardianMode === 'npm' && demo.guardian && typeof demo.guardian.attach === 'function') {
    try {
      await demo.guardian.attach(client);
    } catch (e) {
      showError('guardian.attach failed (continuing without it)', e);
    }
  }

  // npm integration of the single writer: only the writer tab runs the crypto engine.
  // `?writer=off`: no single-writer lock (tests use it to create the two-writer divergence on purpose).
  if (guardianMode === 'npm' && params.get('writer') !== 'off' && demo.guardian && typeof demo.guardian.acquireWriter === 'function') {
    await becomeWriter(demo.guardian, client);
  }
  await initCrypto(client, ownStores ? { cryptoDatabasePrefix: `matrix-js-sdk${session.userId}` } : {});
  wireClient(client);
  await client.startClient({ initialSyncLimit: 30, lazyLoadMembers: true });
  setAppState('started');
}

/**
 * `client.initRustCrypto()`. `?onStoreMismatch=reset` plays what some multi-account clients do when the
 * store holds another account ("the account in the store doesn't match the account in the constructor"):
 * delete the crypto stores and try again with the same device id — a store loss they make themselves.
 */
async function initCrypto(client, opts) {
  const reset = params.get('onStoreMismatch') === 'reset';
  // Such clients close their store connections when a deletion asks (as well-behaved IndexedDB code does):
  // the failed engine's connection would otherwise block the deletion, and the retry behind it, forever.
  const open = indexedDB.open;
  if (reset) {
    indexedDB.open = function (...args) {
      const req = open.apply(this, args);
      req.addEventListener('success', () => {
        req.result.addEventListener('versionchange', () => req.result.close());
      });
      return req;
    };
  }
  try {
    await client.initRustCrypto(opts);
  } catch (e) {
    if (params.get('onStoreMismatch') !== 'reset' || !/doesn't match the account in the constructor/.test(String(e && e.message))) throw e;
    console.warn('crypto store belongs to another account: deleting it and starting again', e);
    const prefix = opts.cryptoDatabasePrefix ?? 'matrix-js-sdk';
    for (const name of [`${prefix}::matrix-sdk-crypto`, `${prefix}::matrix-sdk-crypto-meta`]) {
      await new Promise((resolve) => {
        const req = indexedDB.deleteDatabase(name);
        req.onsuccess = req.onerror = req.onblocked = () => resolve();
      });
    }
    await client.initRustCrypto(opts);
  }
}

/**
 * Waits until this tab is the session's crypto writer (another tab may hold it: a notice offers "Use here"),
 * and stops the client if another tab takes over later. Fails open: a guardian error lets the client start.
 */
async function becomeWriter(guardian, client) {
  const notice = h('div', { id: 'writer-notice', role: 'status', hidden: true });
  $('#guardian').append(notice);
  const say = (text, button) => {
    notice.hidden = false;
    notice.replaceChildren(h('span', { text }), button || '');
  };
  guardian.addEventListener('writer-waiting', () => {
    setAppState('waiting-for-writer');
    say('This session is open in another tab.', h('button', { id: 'writer-use-here', type: 'button', text: 'Use here', onclick: () => guardian.acquireWriter({ mode: 'steal' }) }));
  });
  guardian.addEventListener('writer-acquired', () => {
    notice.hidden = true;
  });
  guardian.addEventListener('writer-lost', () => {
    // Its engine must not keep writing: stop the client (and with it the rust crypto's outgoing requests).
    try {
      client.stopClient();
    } catch (e) {
      console.warn('[demo] stopClient failed', e);
    }
    setAppState('writer-lost');
    say('Another tab took over this session; this tab stopped.', h('button', { id: 'writer-reload', type: 'button', text: 'Reload', onclick: () => location.reload() }));
  });
  try {
    await guardian.acquireWriter({ mode: 'wait' });
  } catch (e) {
    showError('acquireWriter failed (continuing without the single-writer lock)', e);
  }
  setAppState('starting');
}

async function logout() {
  const client = demo.client;
  if (!client) return;
  $('#logout').disabled = true;
  try {
    await client.logout(true);
  } catch (e) {
    // nothing is deleted unless the server logout succeeded
    showError('sign out failed (session kept)', e);
    $('#logout').disabled = false;
    return;
  }
  try {
    await withTimeout(client.clearStores(), 10_000, 'clearStores');
  } catch (e) {
    console.warn('[demo] clearing stores failed', e);
  }
  clearSession();
  demo.client = null;
  setAppState('logged-out');
  location.reload();
}

// ------------------------------------------------------------------------------------------------
// client events → UI

const joining = new Set();

function maybeAutoJoin(room) {
  if (!autoJoin || room.getMyMembership() !== 'invite' || joining.has(room.roomId)) return;
  joining.add(room.roomId);
  demo.client
    .joinRoom(room.roomId)
    .then(() => console.info(`[demo] auto-joined ${room.roomId}`))
    .catch((e) => {
      joining.delete(room.roomId);
      showError(`auto-join ${room.roomId} failed`, e);
    });
}

function wireClient(client) {
  client.on(ClientEvent.Sync, (state, prev, data) => {
    const el = $('#sync-state');
    if (state === 'SYNCING' || state === 'PREPARED') demo.syncCount++;
    el.textContent = state;
    el.dataset.syncCount = String(demo.syncCount);
    if (data && data.error) el.title = String(data.error.message || data.error);
    if (state === 'PREPARED') {
      setAppState('ready');
      for (const room of client.getRooms()) maybeAutoJoin(room);
    }
    scheduleRender();
  });
  client.on(ClientEvent.Room, (room) => {
    maybeAutoJoin(room);
    scheduleRender();
  });
  client.on(RoomEvent.MyMembership, (room) => {
    maybeAutoJoin(room);
    scheduleRender();
  });
  client.on(RoomEvent.Timeline, () => scheduleRender());
  client.on(RoomEvent.TimelineReset, () => scheduleRender());
  client.on(RoomEvent.LocalEchoUpdated, () => scheduleRender());
  client.on(RoomEvent.Name, () => scheduleRender());
  client.on(MatrixEventEvent.Decrypted, () => scheduleRender());
}

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(() => {
    renderQueued = false;
    try {
      renderRooms();
      renderTimeline();
    } catch (e) {
      console.error('[demo] render failed', e);
    }
  }, 0);
}

function visibleRooms() {
  const client = demo.client;
  if (!client) return [];
  return client
    .getRooms()
    .filter((r) => ['join', 'invite'].includes(r.getMyMembership()))
    .sort((a, b) => b.getLastActiveTimestamp() - a.getLastActiveTimestamp());
}

function renderRooms() {
  const list = $('#room-list');
  const items = visibleRooms().map((room) => {
    const membership = room.getMyMembership();
    const encrypted = demo.client.isRoomEncrypted ? safe(() => demo.client.isRoomEncrypted(room.roomId)) : undefined;
    const li = h(
      'li',
      {
        'data-room-id': room.roomId,
        'data-membership': membership,
        'data-encrypted': encrypted === undefined ? null : String(!!encrypted),
        class: room.roomId === demo.currentRoomId ? 'current' : null,
      },
      h('button', { type: 'button', class: 'open-room', text: room.name || room.roomId, onclick: () => openRoom(room.roomId) }),
    );
    if (membership === 'invite') {
      li.append(h('button', { type: 'button', 'data-action': 'join', text: 'Join', onclick: () => acceptInvite(room.roomId) }));
    }
    return li;
  });
  list.replaceChildren(...items);
}

function safe(fn) {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

function eventView(ev) {
  const encrypted = ev.isEncrypted();
  const utd = ev.isDecryptionFailure();
  const pending = encrypted && !utd && (ev.isBeingDecrypted() || ev.getType() === 'm.room.encrypted');
  let body;
  let decrypted = false;
  if (utd) body = `** unable to decrypt: ${ev.decryptionFailureReason || 'unknown'} **`;
  else if (pending) body = '… decrypting';
  else {
    const content = ev.getContent();
    body = typeof content.body === 'string' ? content.body : `[${ev.getType()}]`;
    decrypted = encrypted;
  }
  const status = ev.status || (ev.getId()?.startsWith('$') ? 'sent' : null);
  return h(
    'li',
    {
      class: `event${utd ? ' utd' : ''}`,
      'data-event-id': ev.getId(),
      'data-sender': ev.getSender(),
      'data-type': ev.getType(),
      'data-encrypted': String(encrypted),
      'data-decrypted': String(decrypted),
      'data-utd': String(utd),
      'data-pending': pending ? 'true' : null,
      'data-status': status,
    },
    h('span', { class: 'sender', text: ev.getSender() }),
    h('span', { class: 'body', text: body }),
  );
}

function isShown(ev) {
  const t = ev.getType();
  return t === 'm.room.message' || t === 'm.room.encrypted' || ev.isDecryptionFailure();
}

function renderTimeline() {
  const tl = $('#timeline');
  const room = demo.currentRoomId && demo.client ? demo.client.getRoom(demo.currentRoomId) : null;
  if (!room) {
    tl.replaceChildren();
    delete tl.dataset.currentRoom;
    $('#composer').hidden = true;
    return;
  }
  tl.dataset.currentRoom = room.roomId;
  $('#room-name').textContent = room.name || room.roomId;
  $('#composer').hidden = room.getMyMembership() !== 'join';
  const events = room.getLiveTimeline().getEvents().filter(isShown);
  const pendingEvents = safe(() => room.getPendingEvents()) || [];
  tl.replaceChildren(...[...events, ...pendingEvents.filter(isShown)].map(eventView));
}

// ------------------------------------------------------------------------------------------------
// actions (also used by tests through window.demo)

function openRoom(roomId) {
  demo.currentRoomId = roomId;
  scheduleRender();
  return roomId;
}

async function acceptInvite(roomId) {
  await demo.client.joinRoom(roomId);
  openRoom(roomId);
  return roomId;
}

async function startDm(userId) {
  const client = demo.client;
  const { room_id: roomId } = await client.createRoom({
    is_direct: true,
    preset: 'trusted_private_chat',
    invite: [userId],
    initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
  });
  // remember it as a DM, like real clients do
  try {
    const direct = client.getAccountData('m.direct')?.getContent() || {};
    const rooms = new Set(direct[userId] || []);
    rooms.add(roomId);
    await client.setAccountData('m.direct', { ...direct, [userId]: [...rooms] });
  } catch (e) {
    console.warn('[demo] m.direct update failed', e);
  }
  openRoom(roomId);
  return roomId;
}

async function sendMessage(text, roomId = demo.currentRoomId) {
  if (!roomId) throw new Error('no room open');
  const res = await demo.client.sendTextMessage(roomId, text);
  scheduleRender();
  return res.event_id;
}

async function onDmSubmit(ev) {
  ev.preventDefault();
  const input = $('#dm-user');
  const userId = input.value.trim();
  if (!userId) return;
  const btn = $('#dm-start');
  btn.disabled = true;
  try {
    await startDm(userId);
    input.value = '';
  } catch (e) {
    showError(`start DM with ${userId} failed`, e);
  } finally {
    btn.disabled = false;
  }
}

async function onComposerSubmit(ev) {
  ev.preventDefault();
  const input = $('#composer-input');
  const text = input.value;
  if (!text.trim()) return;
  input.value = '';
  try {
    await sendMessage(text);
  } catch (e) {
    showError('send failed', e);
  }
}

/** Imports a Megolm key export file (as Element's "Import room keys" does): matrix-js-sdk's own rust crypto decrypts and imports it. */
async function importRoomKeyFile(text, passphrase) {
  const json = OlmMachine.decryptExportedRoomKeys(text, passphrase);
  await demo.client.getCrypto().importRoomKeysAsJson(json);
  return JSON.parse(json).length;
}

Object.assign(demo, { importRoomKeyFile, openRoom, acceptInvite, startDm, sendMessage, logout, login, render: scheduleRender, EventStatus });

// ------------------------------------------------------------------------------------------------
// boot

async function boot() {
  renderShell();
  setAppState('loading');

  // 1. the guardian, before any MatrixClient exists
  if (guardianMode === 'npm') {
    try {
      await startGuardianNpm();
    } catch (e) {
      guardianFailed(e);
    }
  } else if (guardianMode === 'dropin') {
    // don't hold the client back: the drop-in gates what it needs by itself
    watchDropinGuardian().catch(guardianFailed);
  }

  // 2. config and session
  await loadConfig();
  const session = readSession();
  if (!session) {
    showLogin();
    return;
  }
  await startSession(session);
}

demo.ready = boot().catch((e) => {
  showError('startup failed', e);
  setAppState('error');
});
