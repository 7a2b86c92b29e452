// The npm surface as a web-client developer meets it: `npm pack ./pkg`, a tiny Vite app and a tiny
// webpack 5 app (tests/bundlers/*, their own pinned lockfiles) install the tarball, build with no plugin
// for the wasm, and load in Chromium: the guardian starts, a wrong option is a GuardianOptionError naming
// it, the panel mounts, the core wasm is fetched, the forensics module is not (it is a lazy chunk), and
// the console has no error. The Vite app also compiles strict TypeScript against index.d.ts and panel.d.ts
// (`tsc --noEmit`): the public API, the README's panel snippet, a misspelled event name (a type error), and
// its panel page is TypeScript that `vite build` bundles too, so the types and the module agree on exports.
//
// Installs from the npm registry into a temp copy (npm's cache makes later runs fast).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { serve } from '../../scripts/serve.mjs';
import { launchBrowser, saveArtifacts } from '../support/browser.mjs';
import { snapshotPkg } from '../support/scenarios.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PKG = join(ROOT, 'pkg');
const APPS = join(ROOT, 'tests', 'bundlers');
const NPM_FLAGS = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

function run(cmd, args, cwd) {
  return new Promise((resolvePromise, reject) => {
    execFile(cmd, args, { cwd, maxBuffer: 32 << 20}, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed:\n${stdout}\n${stderr}`));
      else resolvePromise(stdout);
    });
  });
}

/** Every file under dir, relative. */
function filesUnder(dir, prefix = '') {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

// Without pkg/ this suite fails, never skips: a run that tested nothing must not read as green.
describe('npm package in real bundlers', { timeout: 600_000 }, () => {
  let tmp;
  let tarball;
  let browser;
  let pkgCopy;

  before(async () => {
    assert.ok(existsSync(join(PKG, 'index.js')), `${PKG} is not built: run npm run build first`);
    tmp = mkdtempSync(join(tmpdir(), 'mcg-bundlers-'));
    pkgCopy = await snapshotPkg(PKG); // a rebuild of pkg/ during the run cannot tear the tarball
    assert.ok(existsSync(join(pkgCopy, 'panel.js')), 'the package ships the panel module');
    const packed = JSON.parse(await run('npm', ['pack', pkgCopy, '--pack-destination', tmp, '--json', '--loglevel=error'], tmp));
    tarball = join(tmp, packed[0].filename);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    if (pkgCopy) rmSync(dirname(pkgCopy), { recursive: true, force: true });
  });

  /** Copies the app, installs its pinned bundler and the tarball, builds it; returns the app dir. */
  async function buildApp(name) {
    const dir = join(tmp, name);
    cpSync(join(APPS, name), dir, { recursive: true, filter: (src) => !/[/\\](node_modules|dist)$/.test(src) });
    // `npm install` with the committed lockfile (exact versions) rather than `npm ci`: the lockfile written
    // against a registry mirror that lacks other platforms' optional packages (rollup's) never satisfies
    // `npm ci`'s sync check. --no-save keeps the copy's lockfile as committed.
    await run('npm', ['install', '--no-save', ...NPM_FLAGS, tarball], dir);
    await run('npm', ['run', 'build', '--silent'], dir);
    return dir;
  }

  /** Loads one page of the built app; returns what it published plus console errors and requests. */
  async function loadPage(url, artifactName) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = [];
    const requests = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(`console.error: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()}: ${r.url()}`));
    page.on('request', (r) => requests.push(r.url()));
    try {
      await page.goto(url);
      await page.waitForFunction(() => document.body.dataset.state !== 'loading', null, { timeout: 30_000 });
      const result = await page.evaluate(() => window.bundlerCheck);
      return { result, problems, requests };
    } catch (e) {
      await saveArtifacts(artifactName, [page]);
      throw e;
    } finally {
      await context.close();
    }
  }

  function assertPage({ result, problems, requests }, label) {
    assert.deepEqual(problems, [], `${label}: no console errors, page errors or failed requests`);
    assert.equal(result.error, null, `${label}: ${result.error}`);
    assert.equal(result.started, true, `${label}: Guardian.start() resolved to a Guardian`);
    assert.match(result.version, /^\d+\.\d+\.\d+/);
    assert.equal(result.storm, 'closed');
    assert.equal(result.optionError.name, 'GuardianOptionError', JSON.stringify(result.optionError));
    assert.equal(result.optionError.typed, true, 'instanceof GuardianOptionError across the bundle');
    assert.equal(result.optionError.option, 'probeAfterMs');
    assert.match(result.optionError.message, /option "probeAfterMs": must be/);
    assert.ok(requests.some((u) => /guardian_core_bg[-.][^/]*wasm$|guardian_core_bg\.wasm$/.test(u)), `${label}: the core wasm was fetched (${requests.join(', ')})`);
    assert.ok(!requests.some((u) => /forensics|guardian_watch|guardian_lease/.test(u)), `${label}: the watch, lease and forensics modules were not fetched without a need (${requests.join(', ')})`);
  }

  async function checkApp(name) {
    const dir = await buildApp(name);
    const dist = join(dir, 'dist');
    const emitted = filesUnder(dist);
    assert.ok(emitted.some((f) => /guardian_core_bg.*\.wasm$/.test(f)), `${name}: core wasm emitted (${emitted})`);
    assert.ok(emitted.some((f) => /forensics_bg.*\.wasm$/.test(f)), `${name}: forensics wasm emitted as a lazy asset (${emitted})`);
    const web = await serve({ www: dist });
    try {
      assertPage(await loadPage(`${web.url}/index.html`, `bundlers-${name}`), name);
      const withPanel = await loadPage(`${web.url}/with-panel.html`, `bundlers-${name}-panel`);
      assertPage(withPanel, `${name} with panel`);
      assert.equal(withPanel.result.panel?.defined, true, JSON.stringify(withPanel.result.panel));
      assert.equal(withPanel.result.panel.shadow, true, 'the panel renders into a shadow root');
      assert.match(withPanel.result.panel.text, /\w/, 'the panel shows something');
    } finally {
      await web.close();
    }
    return dir;
  }

  test('Vite 7: builds with no wasm plugin, starts the guardian in Chromium, types compile (strict)', async () => {
    const dir = await checkApp('vite-app');
    await run('npm', ['run', 'typecheck', '--silent'], dir);
  });

  test('webpack 5: builds with no wasm loader, starts the guardian in Chromium', async () => {
    await checkApp('webpack-app');
  });
});
