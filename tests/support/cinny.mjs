// Cinny, built from its own source (test material: AGPL, never part of the package), as a real client
// for the end-to-end suite tests/clients/cinny.test.mjs.
//
//   const dist = await buildCinny();                                   // scripts/cinny.sh, cached
//   const web = await serveCinny({ dist, homeserver: hs.baseUrl, dropin: pkgDir });
//   const page = await openCinny(browser, web, { name: 'alice' });
//   await cinnyLogin(page, 'alice', 'pw');
//
// The archive: $MCG_CINNY_SRC (the .tar.gz, or a folder holding it), else ../shared/clients/ beside the
// repository (scripts/cinny.sh says the same).
import { execFile } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { MIME } from '../../scripts/serve.mjs';
import { newUserPage } from './browser.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CINNY_ARCHIVE = 'cinny-4.2.3-rust-crypto.tar.gz';
export const PATCHES_DIR = join(ROOT, 'tests', 'clients', 'patches');

/**
 * Path of the Cinny source archive, or null when it is not there: $MCG_CINNY_SRC (the archive or its folder),
 * else shared/clients/ beside the repository, or one level up (a clone inside a folder of clones).
 */
export function cinnyArchive() {
  const candidates = process.env.MCG_CINNY_SRC
    ? [process.env.MCG_CINNY_SRC]
    : [join(ROOT, '..', 'shared', 'clients'), join(ROOT, '..', '..', 'shared', 'clients')];
  for (let p of candidates) {
    if (existsSync(p) && statSync(p).isDirectory()) p = join(p, CINNY_ARCHIVE);
    if (existsSync(p)) return p;
  }
  return null;
}

export const HOW_TO_GET_CINNY = `Cinny source not found: put ${CINNY_ARCHIVE} in ../shared/clients/ beside the repository or set MCG_CINNY_SRC to it`;

/**
 * Builds Cinny (scripts/cinny.sh: cached by the archive's hash and the inputs' hashes) and resolves to its
 * dist/ directory. `patches`: unified diffs (paths) applied to Cinny's tree; `pkg`: an `npm pack` tarball
 * installed into it.
 */
export function buildCinny({ patches = [], pkg } = {}) {
  const args = [join(ROOT, 'scripts', 'cinny.sh'), ...(pkg ? ['--pkg', pkg] : []), ...patches];
  return new Promise((res, rej) => {
    const env = { ...process.env, MCG_CINNY_SRC: cinnyArchive() ?? '' }; // the one place that finds it
    execFile('bash', args, { env, maxBuffer: 64 * 1024 * 1024, timeout: 20 * 60_000 }, (err, stdout, stderr) => {
      if (err) return rej(new Error(`scripts/cinny.sh failed (${err.code ?? err.signal}):\n${String(stderr).slice(-4000)}`));
      const lines = String(stdout).trim().split('\n');
      res(lines[lines.length - 1]);
    });
  });
}

/** The one line an operator adds, first in <head>: the drop-in served from /matrix-crypto-guardian/. */
export const DROPIN_LINE = '<script src="/matrix-crypto-guardian/dropin.js" data-preset="cinny"></script>';

/** Cinny's index.html with the drop-in line inserted right after `<head>` (nothing else changes). */
export function withDropIn(indexHtml) {
  const at = indexHtml.indexOf('<head>');
  if (at < 0) throw new Error('index.html has no <head>');
  const end = at + '<head>'.length;
  return `${indexHtml.slice(0, end)}\n    ${DROPIN_LINE}${indexHtml.slice(end)}`;
}

function under(base, rel) {
  const p = normalize(join(base, rel));
  return p === base || p.startsWith(base + sep) ? p : null;
}

/**
 * Serves a Cinny dist/ on 127.0.0.1 the way its nginx config does: an SPA fallback to index.html, any
 * `…/olm.wasm` from /olm.wasm, and /config.json pointing at `homeserver` only. `dropin`: a copy of pkg/
 * served at /matrix-crypto-guardian/, with the drop-in line added to index.html (an operator's deployment).
 */
export async function serveCinny({ dist, homeserver, dropin = null }) {
  const distDir = resolve(dist);
  const original = readFileSync(join(distDir, 'index.html'), 'utf8');
  const indexHtml = dropin ? withDropIn(original) : original;
  const config = JSON.stringify({ defaultHomeserver: 0, homeserverList: [homeserver], allowCustomHomeservers: false, hashRouter: { enabled: false, basename: '/' } });

  const server = createServer((req, res) => {
    const send = (status, body, type) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    try {
      const path = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
      if (path === '/config.json') return send(200, config, MIME['.json']);
      if (path === '/' || path === '/index.html') return send(200, indexHtml, MIME['.html']);
      let file;
      if (dropin && path.startsWith('/matrix-crypto-guardian/')) file = under(resolve(dropin), path.slice('/matrix-crypto-guardian/'.length));
      else if (path.endsWith('/olm.wasm')) file = join(distDir, 'olm.wasm');
      else file = under(distDir, path);
      if (!file) return send(403, 'forbidden\n', 'text/plain');
      if (!existsSync(file) || !statSync(file).isFile()) {
        // SPA fallback: a route of the app (no file extension) gets index.html; a missing asset is a 404.
        return extname(path) ? send(404, `not found: ${path}\n`, 'text/plain') : send(200, indexHtml, MIME['.html']);
      }
      res.writeHead(200, {
        'content-type': MIME[extname(file).toLowerCase()] || 'application/octet-stream',
        'content-length': statSync(file).size,
        'cache-control': 'no-store',
      });
      if (req.method === 'HEAD') return res.end();
      createReadStream(file).on('error', () => res.destroy()).pipe(res);
    } catch (e) {
      send(500, `error: ${e.message}\n`, 'text/plain');
    }
  });
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((res, rej) => server.once('error', rej).listen(0, '127.0.0.1', res));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    indexHtml,
    close: () =>
      new Promise((res) => {
        server.close(() => res());
        for (const s of sockets) s.destroy();
      }),
  };
}

// ------------------------------------------------------------------------------------------------
// Cinny's UI

// A limit, not a measurement: the first Cinny page of a context compiles matrix-sdk-crypto-wasm.
export const CINNY_TIMEOUT_MS = 120_000;

/** Opens Cinny in a new tab (of `context`, or of a fresh context). */
export async function openCinny(browser, web, { name = 'cinny', context, path = '/' } = {}) {
  // Service workers off: Cinny's only fetches media with the token; one per origin would outlive the test.
  const page = await newUserPage(browser, { baseUrl: web.url, name, context, contextOptions: { serviceWorkers: 'block' }, goto: false });
  await page.goto(new URL(path, web.url).href);
  return page;
}

/** Cinny's login form is on screen. */
export const loginForm = (page) => page.locator('input[name=usernameInput]');

/** Logs in through Cinny's form and waits until the client has loaded (its room navigation shows). */
export async function cinnyLogin(page, localpart, password, { timeout = CINNY_TIMEOUT_MS } = {}) {
  await loginForm(page).waitFor({ timeout });
  await page.fill('input[name=usernameInput]', localpart);
  await page.fill('input[name=passwordInput]', password);
  await page.locator('form button[type=submit]').click();
  await waitForCinnyClient(page, { timeout });
  return page.evaluate(() => ({ userId: localStorage.getItem('cinny_user_id'), deviceId: localStorage.getItem('cinny_device_id') }));
}

/** Cinny has loaded its client: its Home navigation (with "Create Room") is on screen. */
export async function waitForCinnyClient(page, { timeout = CINNY_TIMEOUT_MS } = {}) {
  await page.getByText('Create Room', { exact: true }).first().waitFor({ timeout });
}

/** Opens a room from Cinny's room list (its Home, where it starts) by the room's name. */
export async function openCinnyRoom(page, roomName, { timeout = 60_000 } = {}) {
  const item = page.getByText(roomName, { exact: true }).first(); // the navigation comes before the room view
  await item.waitFor({ timeout });
  await item.click();
  await composer(page).waitFor({ timeout });
}

/** Cinny's composer (a Slate editor). */
export const composer = (page) => page.locator('[data-editable-name=RoomInput][contenteditable=true]').first();

/** Types a message into the composer and sends it with Enter. */
export async function cinnySend(page, text) {
  await composer(page).click();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

/** Waits until the open room's timeline shows `text` (an encrypted message shows only once decrypted). */
export async function waitForCinnyText(page, text, { timeout = 60_000 } = {}) {
  await page.getByText(text, { exact: true }).first().waitFor({ timeout });
}
