// Firefox ESR and WebKitGTK through their WebDriver servers (geckodriver, WebKitWebDriver), driven by
// selenium-webdriver, behind the small part of playwright-core's Browser/BrowserContext/Page API that the
// page helpers (browser.mjs) and the scenarios (scenarios.mjs, tests/e2e/engines.test.mjs) use — so one
// scenario runs in every engine. playwright-core drives Chromium itself (it cannot drive stock Firefox or
// WebKitGTK).
//
//   browser   one Xvfb for WebKit (MiniBrowser has no headless mode); nothing for Firefox
//   context   one WebDriver server process + one session = one browser profile (own storage), like a
//             playwright context; its first window stays on about:blank so that closing every page never
//             ends the session
//   page      one window (tab) of the session; every command switches to it first, one command at a time
//
// What WebDriver classic has no counterpart for (request interception, init scripts, bindings, downloads,
// media emulation) is not offered: a scenario that needs it stays Chromium-only. Console messages and page
// errors come through WebDriver BiDi where the server offers it (geckodriver); WebKitWebDriver offers none,
// so logsOf() of a WebKit page stays empty (the guardian's journal, its console tap, is what tests read).
// MCG_WEBDRIVER_DEBUG=1 prints every command on stderr.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Builder, Capabilities } from 'selenium-webdriver';
import getLogInspector from 'selenium-webdriver/bidi/logInspector.js';

const DEBUG = !!process.env.MCG_WEBDRIVER_DEBUG; // every command on stderr

export const FIREFOX_PATH = process.env.MCG_FIREFOX || '/usr/bin/firefox-esr';
export const MINIBROWSER_PATH = process.env.MCG_MINIBROWSER || '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

const ENGINES = {
  firefox: {
    server: () => process.env.GECKODRIVER || 'geckodriver',
    // Its own BiDi port too: the default (9222) would be shared by every Firefox of the run.
    serverArgs: async (port) => ['--host', '127.0.0.1', '--port', String(port), '--websocket-port', String(await freePort()), '--log', 'error'],
    capabilities: () => ({
      browserName: 'firefox',
      webSocketUrl: true, // WebDriver BiDi: console messages and page errors
      'moz:firefoxOptions': {
        binary: FIREFOX_PATH,
        args: ['-headless', '-width', '1100', '-height', '800'],
        prefs: {
          // a test profile: no first-run pages, no background traffic to the outside
          'browser.shell.checkDefaultBrowser': false,
          'app.update.enabled': false,
          'datareporting.policy.dataSubmissionEnabled': false,
          'network.captive-portal-service.enabled': false,
          'browser.safebrowsing.malware.enabled': false,
          'browser.safebrowsing.phishing.enabled': false,
          // JSON as text, like the other engines (scenarios open /config.json as a blank page of the origin)
          'devtools.jsonview.enabled': false,
        },
      },
    }),
  },
  webkit: {
    server: () => process.env.WEBKITWEBDRIVER || 'WebKitWebDriver',
    serverArgs: (port) => [`--port=${port}`],
    capabilities: () => ({
      browserName: 'MiniBrowser',
      'webkitgtk:browserOptions': { binary: MINIBROWSER_PATH, args: ['--automation'] },
    }),
    display: true,
  },
};

export function isWebDriverEngine(engine) {
  return Object.hasOwn(ENGINES, engine);
}

// Every process started here, ended when node exits however it exits (a crashed test leaves no browser).
const children = new Set();
function killChildren() {
  for (const child of children) {
    try {
      process.kill(-child.pid, 'SIGKILL'); // its process group: the driver and the browser it started
    } catch {
      /* gone */
    }
  }
}
process.once('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killChildren();
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  });
}
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Starts Xvfb on a free display; resolves with { display, stop }. */
async function startXvfb() {
  for (let n = 90 + (process.pid % 300); ; n++) {
    if (existsSync(`/tmp/.X${n}-lock`) || existsSync(`/tmp/.X11-unix/X${n}`)) continue;
    const proc = track(spawn('Xvfb', [`:${n}`, '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], { stdio: 'ignore', detached: true }));
    const exited = new Promise((r) => proc.once('exit', r));
    const until = Date.now() + 10_000;
    while (Date.now() < until && proc.exitCode === null && !existsSync(`/tmp/.X11-unix/X${n}`)) await sleep(50);
    if (proc.exitCode === null && existsSync(`/tmp/.X11-unix/X${n}`)) {
      return {
        display: `:${n}`,
        async stop() {
          proc.kill('SIGTERM');
          await Promise.race([exited, sleep(3000)]);
        },
      };
    }
    proc.kill('SIGKILL');
    if (n > 1000) throw new Error('Xvfb: no free display');
  }
}

/** A WebDriver server on a free port, ready (its /status answers). */
async function startServer(engine, env) {
  const spec = ENGINES[engine];
  const port = await freePort();
  // Its output goes to a file (read when it fails): a pipe closed at node's exit would make it panic.
  const logDir = mkdtempSync(join(tmpdir(), `mcg-${engine}-driver-`));
  const logFile = join(logDir, 'driver.log');
  const out = openSync(logFile, 'w');
  const proc = track(spawn(spec.server(), await spec.serverArgs(port), { stdio: ['ignore', out, out], env, detached: true }));
  closeSync(out);
  const stderr = () => {
    try {
      return readFileSync(logFile, 'utf8').slice(-4000);
    } catch {
      return '';
    }
  };
  const failed = new Promise((_, reject) => {
    proc.once('error', (e) => reject(new Error(`${spec.server()}: ${e.message}`)));
    proc.once('exit', (code) => reject(new Error(`${spec.server()} exited with ${code}: ${stderr()}`)));
  });
  failed.catch(() => {});
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 20_000;
  for (;;) {
    const ok = await Promise.race([fetch(`${url}/status`).then((r) => r.ok, () => false), failed]);
    if (ok) break;
    if (Date.now() > until) throw new Error(`${spec.server()} did not answer on ${url}: ${stderr()}`);
    await sleep(100);
  }
  return {
    url,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, sleep(3000)]);
      }
      try {
        process.kill(-proc.pid, 'SIGKILL'); // whatever of its process group is left (a browser that hung)
      } catch {
        /* all gone */
      }
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}

/** In the page: finds `selector`, also inside open shadow roots (`host inner` crosses one root, as playwright's CSS does). */
function deepQuery(selector) {
  const direct = document.querySelector(selector);
  if (direct) return direct;
  const parts = selector.split(' ');
  for (let i = 1; i < parts.length; i++) {
    const host = document.querySelector(parts.slice(0, i).join(' '));
    const inner = host && host.shadowRoot && host.shadowRoot.querySelector(parts.slice(i).join(' '));
    if (inner) return inner;
  }
  return null;
}
const DEEP_QUERY = `const deepQuery = ${deepQuery.toString()};`;

function visible(el) {
  if (!el) return false;
  const style = getComputedStyle(el);
  return el.getClientRects().length > 0 && style.visibility !== 'hidden';
}
const VISIBLE = `const visible = ${visible.toString()};`;

/**
 * In the page: a result as plain data. WebDriver refuses cyclic values (playwright copes), and a client
 * object returned by accident (`client.joinRoom()` resolves with a Room) must not drag its whole graph
 * across: plain objects and arrays are copied (a cycle becomes undefined), other objects become {}.
 */
function plain(value, seen = new Set()) {
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
  if (value instanceof Date) return value.toISOString();
  if (seen.has(value)) return undefined;
  const proto = Object.getPrototypeOf(value);
  // A plain object's prototype is some realm's Object.prototype (the script may run in another realm).
  if (!Array.isArray(value) && proto !== null && Object.getPrototypeOf(proto) !== null) return {};
  seen.add(value);
  const out = Array.isArray(value) ? value.map((v) => plain(v, seen)) : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v, seen)]));
  seen.delete(value);
  return out;
}
const PLAIN = `const plain = ${plain.toString()};`;

/** A value handle, as page.waitForFunction() returns one in playwright. */
class ValueHandle {
  constructor(value) {
    this.value = value;
  }
  async jsonValue() {
    return this.value;
  }
}

class WebDriverPage {
  #listeners = new Map();
  constructor(context, handle) {
    this._context = context;
    this.handle = handle;
    this.closed = false;
    this.keyboard = { press: (key) => this.#run((d) => d.actions().sendKeys(KEYS[key] ?? key).perform()) };
  }

  context() {
    return this._context;
  }
  isClosed() {
    return this.closed;
  }
  on(event, fn) {
    if (!this.#listeners.has(event)) this.#listeners.set(event, []);
    this.#listeners.get(event).push(fn);
  }
  _emit(event, value) {
    for (const fn of this.#listeners.get(event) || []) fn(value);
  }

  #run(fn, label = '') {
    if (this.closed) return Promise.reject(new Error('page is closed'));
    if (DEBUG) console.error(`[webdriver ${this.handle.slice(0, 8)}] ${label || fn.toString().slice(0, 80)}`);
    return this._context._exclusive(this.handle, fn);
  }

  async goto(url) {
    await this.#run((d) => d.get(url));
  }
  async reload() {
    await this.#run((d) => d.navigate().refresh());
  }
  async url() {
    return this.#run((d) => d.getCurrentUrl());
  }

  /** Runs `fn(arg)` in the page and returns its (awaited, JSON-like) result. */
  async evaluate(fn, arg) {
    const call = typeof fn === 'function' ? `(${fn.toString()}).apply(null, arguments)` : `(${fn})`;
    // WebDriver answers null for undefined: say which it was.
    const { value, undef } = await this.#run(
      (d) => d.executeScript(`${PLAIN} return Promise.resolve(${call}).then((v) => ({ value: plain(v), undef: v === undefined }));`, arg),
      `evaluate ${call.slice(0, 100)}`,
    );
    return undef ? undefined : value;
  }

  async waitForTimeout(ms) {
    await sleep(ms);
  }

  /** Polls `fn(arg)` in the page until it returns something truthy. */
  async waitForFunction(fn, arg, { timeout = 30_000, polling = 100 } = {}) {
    const until = Date.now() + timeout;
    let lastError = null;
    for (;;) {
      try {
        const value = await this.evaluate(fn, arg);
        if (value) return new ValueHandle(value);
        lastError = null;
      } catch (e) {
        if (this.closed) throw e;
        lastError = e; // a navigation in between: try again
      }
      if (Date.now() > until) {
        throw new Error(`waitForFunction: timeout ${timeout} ms exceeded${lastError ? ` (last error: ${lastError.message})` : ''}\n  ${String(fn).slice(0, 300)}`);
      }
      await sleep(polling);
    }
  }

  /** Waits for `selector` (visible by default; `state: 'attached'` for present). Resolves with an element handle. */
  async waitForSelector(selector, { timeout = 30_000, state = 'visible' } = {}) {
    const check = new Function('args', `${DEEP_QUERY} ${VISIBLE}
      const [selector, state] = args;
      const el = deepQuery(selector);
      if (state === 'detached') return !el;
      if (state === 'hidden') return !el || !visible(el);
      return state === 'attached' ? !!el : visible(el);`);
    await this.waitForFunction(check, [selector, state], { timeout }).catch((e) => {
      e.message = `waitForSelector("${selector}", ${state}): ${e.message.split('\n')[0]}`;
      throw e;
    });
    return state === 'detached' || state === 'hidden' ? null : this.$(selector);
  }

  async $(selector) {
    const found = await this.evaluate(new Function('selector', `${DEEP_QUERY} return !!deepQuery(selector);`), selector);
    return found ? new WebDriverElement(this, selector) : null;
  }

  async $$eval(selector, fn) {
    return this.evaluate(new Function('args', `return (${fn.toString()})([...document.querySelectorAll(args[0])]);`), [selector]);
  }

  async textContent(selector) {
    return this.evaluate(new Function('selector', `${DEEP_QUERY} const el = deepQuery(selector); return el ? el.textContent : null;`), selector);
  }

  /** The element as a WebDriver reference (also inside a shadow root), once visible. */
  async _element(selector, timeout = 30_000) {
    await this.waitForSelector(selector, { timeout });
    return this.#run((d) => d.executeScript(`${DEEP_QUERY} return deepQuery(arguments[0]);`, selector));
  }

  /** A real click (trusted events: a user gesture for the page). */
  async click(selector, { timeout } = {}) {
    const el = await this._element(selector, timeout);
    await this.#run(() => el.click());
  }

  /** Clears the field and types `value` (real key events). */
  async fill(selector, value, { timeout } = {}) {
    const el = await this._element(selector, timeout);
    await this.#run(async () => {
      await el.clear();
      if (value) await el.sendKeys(value);
    });
  }

  /** 'load': resolves once the page has navigated (a new document) and finished loading. */
  async waitForEvent(event, { timeout = 30_000 } = {}) {
    if (event !== 'load') throw new Error(`waitForEvent('${event}') is not offered over WebDriver`);
    const mark = `mcg${Math.random().toString(36).slice(2)}`;
    await this.evaluate((m) => (window.__mcgDocumentMark = m), mark);
    await this.waitForFunction((m) => window.__mcgDocumentMark !== m && document.readyState === 'complete', mark, { timeout });
  }

  /** A screenshot of the window. WebKitWebDriver can take minutes (or never answer) under Xvfb: `timeout`. */
  async screenshot({ path, timeout = 10_000 } = {}) {
    const shot = this.#run((d) => d.takeScreenshot(), 'screenshot');
    const png = await Promise.race([shot, sleep(timeout).then(() => Promise.reject(new Error(`screenshot: no answer in ${timeout} ms`)))]);
    if (path) writeFileSync(path, Buffer.from(png, 'base64'));
    return Buffer.from(png, 'base64');
  }

  async close() {
    if (this.closed) return;
    await this._context._closePage(this);
  }
}

const KEYS = { Tab: '\uE004', Enter: '\uE007', Escape: '\uE00C' };

class WebDriverElement {
  constructor(page, selector) {
    this.page = page;
    this.selector = selector;
  }
  async getAttribute(name) {
    return this.page.evaluate(new Function('args', `${DEEP_QUERY} const el = deepQuery(args[0]); return el ? el.getAttribute(args[1]) : null;`), [this.selector, name]);
  }
  async click() {
    await this.page.click(this.selector);
  }
}

class WebDriverContext {
  #queue = Promise.resolve();
  #current = null;
  #pages = [];
  #anchor;
  constructor(browser, driver, server, anchor) {
    this._browser = browser;
    this.driver = driver;
    this.server = server;
    this.#current = anchor;
    this.#anchor = anchor; // never closed: a new tab opens from a window that is still there
    this.closed = false;
  }

  pages() {
    return this.#pages.filter((p) => !p.closed);
  }

  /** One WebDriver command sequence at a time, in the window `handle`. */
  _exclusive(handle, fn) {
    const run = this.#queue.then(async () => {
      if (this.closed) throw new Error('context is closed');
      if (handle && this.#current !== handle) {
        await this.driver.switchTo().window(handle);
        this.#current = handle;
      }
      return fn(this.driver);
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  async newPage() {
    const handle = await this._exclusive(this.#anchor, async (d) => {
      await d.switchTo().newWindow('tab');
      this.#current = await d.getWindowHandle();
      return this.#current;
    });
    const page = new WebDriverPage(this, handle);
    this.#pages.push(page);
    this._browser._pagesByHandle.set(handle, page);
    return page;
  }

  async _closePage(page) {
    await this._exclusive(page.handle, async (d) => {
      await d.close();
      page.closed = true;
      this.#current = null;
    }).catch(() => {
      page.closed = true;
    });
  }

  /** Ends the session and its server, without waiting behind a command that hangs. */
  async close() {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.#pages) p.closed = true;
    await Promise.race([this.driver.quit().catch(() => {}), sleep(10_000)]);
    await this.server.stop();
    this._browser._contexts.delete(this);
  }
}

class WebDriverBrowser {
  constructor(engine, env, display) {
    this.engine = engine;
    this.env = env;
    this.display = display;
    this._contexts = new Set();
    this._pagesByHandle = new Map();
  }

  /** A new profile: its own WebDriver server and session. */
  async newContext() {
    const server = await startServer(this.engine, this.env);
    let driver;
    try {
      driver = await new Builder().usingServer(server.url).withCapabilities(new Capabilities(ENGINES[this.engine].capabilities())).build();
      await driver.manage().setTimeouts({ script: 120_000, pageLoad: 120_000 });
      if (this.engine === 'webkit') await driver.manage().window().setRect({ width: 1100, height: 800 }).catch(() => {});
    } catch (e) {
      await server.stop();
      throw e;
    }
    const anchor = await driver.getWindowHandle();
    const context = new WebDriverContext(this, driver, server, anchor);
    this._contexts.add(context);
    if (this.engine === 'firefox') await this.#listenToLogs(driver);
    return context;
  }

  /** Console messages and uncaught errors of every page of the session, through WebDriver BiDi. */
  async #listenToLogs(driver) {
    const inspector = await getLogInspector(driver);
    const pageOf = (entry) => this._pagesByHandle.get(entry.source?.context ?? entry.source?.browsingContextId);
    await inspector.onConsoleEntry((entry) => {
      const page = pageOf(entry);
      const type = entry.method === 'warn' ? 'warning' : entry.method;
      page?._emit('console', { type: () => type, text: () => entry.text ?? '' });
    });
    await inspector.onJavascriptException((entry) => {
      pageOf(entry)?._emit('pageerror', { message: entry.text, stack: entry.stackTrace ? JSON.stringify(entry.stackTrace) : '' });
    });
  }

  async close() {
    await Promise.allSettled([...this._contexts].map((c) => c.close()));
    await this.display?.stop();
  }
}

/** Starts what the engine needs to open contexts (Xvfb for WebKit). */
export async function launchWebDriverBrowser(engine) {
  if (!isWebDriverEngine(engine)) throw new Error(`unknown engine ${engine}: chromium, firefox or webkit`);
  const env = { ...process.env };
  let display = null;
  if (ENGINES[engine].display) {
    display = await startXvfb();
    env.DISPLAY = display.display;
  }
  return new WebDriverBrowser(engine, env, display);
}
