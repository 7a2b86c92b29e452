// The drop-in as an operator meets it: one <script> line added to a deployed client, nothing else.
//  - www/dropin.html is www/index.html plus that line (the test proves it);
//  - two tabs on one session: the line alone keeps the server free of the conflict storm
//    (evict with the drop-in: tests/e2e/storm.test.mjs);
//  - the core wasm blocked: the client logs in, syncs and exchanges encrypted messages exactly as
//    without the guardian, and one console warning from the guardian says why.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
  acceptInvite,
  login,
  logsOf,
  newUserPage,
  openApp,
  sendMessage,
  startDm,
  waitForDecrypted,
  waitForGuardianStatus,
  waitForSyncs,
  withArtifacts,
} from '../support/browser.mjs';
import { busyPeer, freshUser, guardianView, snapshotPkg, startStack, twoTabsScenario, waitForGuardianEvent } from '../support/scenarios.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WINDOW_MS = 12_000;
// Only the guardian's core wasm; matrix-sdk-crypto-wasm (under /dist/) must load as usual.
const CORE_WASM = /\/pkg\/core\/guardian_core_bg\.wasm(?:[?#]|$)/;
const GUARDIAN_LINE = /^\[matrix-crypto-guardian\]/;

describe('the drop-in page is the demo page plus one line', () => {
  test('www/dropin.html differs from www/index.html only by the <script> line and data-* attributes', () => {
    const read = (f) => readFileSync(join(ROOT, 'www', f), 'utf8').split('\n');
    const index = read('index.html');
    const dropin = read('dropin.html');
    const scriptLines = dropin.filter((l) => /<script\b[^>]*\bsrc="[^"]*\/dropin\.js"/.test(l));
    assert.equal(scriptLines.length, 1, 'exactly one drop-in <script> line');
    assert.match(scriptLines[0], /^\s*<script src="\/pkg\/dropin\.js"(?: data-[a-z-]+="[^"]*")*><\/script>$/, 'a classic script, configured by data-* only');
    const headAt = dropin.findIndex((l) => /<head>/.test(l));
    assert.equal(dropin.indexOf(scriptLines[0]), headAt + 1, 'first in <head>');
    const withoutData = (lines) => lines.map((l) => l.replace(/\s+data-[a-z-]+="[^"]*"/g, ''));
    assert.deepEqual(withoutData(dropin.filter((l) => l !== scriptLines[0])), withoutData(index));
  });
});

describe('drop-in against a real homeserver', { timeout: 300_000 }, () => {
  let stack;
  let peer;
  let pkgCopy;
  before(async () => {
    pkgCopy = await snapshotPkg();
    stack = await startStack({ pkg: pkgCopy });
    peer = await busyPeer(stack.hs, { perSecond: 3 });
  });
  after(async () => {
    peer?.stop();
    await stack?.close();
    if (pkgCopy) rmSync(dirname(pkgCopy), { recursive: true, force: true });
  });

  test('two tabs on one session: the drop-in line alone keeps the conflicts at the server to at most one per tab', async () => {
    // With the single-writer lock in the drop-in the second tab waits for the first (no second engine);
    // without it, each tab's breaker stops its own loop. Either way: ≤ 1 conflict per tab.
    let held = false;
    const settled = async (page) => {
      const how = await page.waitForFunction(
        () => (document.body.dataset.appState === 'ready' ? 'ready' : document.querySelector('matrix-crypto-guardian-writer[data-state="elsewhere"]') ? 'held' : null),
        null,
        { timeout: 30_000 },
      );
      held = (await how.jsonValue()) === 'held';
    };
    const run = await twoTabsScenario(stack, { guardian: 'dropin', windowMs: WINDOW_MS, peer, prefix: 'tabsdrop', secondTabSettled: settled });
    await withArtifacts('dropin-two-tabs', run.pages, async () => {
      assert.ok(run.conflicts <= 2, `at most 1 conflicting upload per tab reaches the server (got ${run.conflicts}, ${run.claims} claims)`);
      for (const g of run.guardians) assert.ok(!g || g.storm.breaker.serverConflicts <= 1, JSON.stringify(g && g.storm.breaker));
      if (held) {
        assert.equal(run.conflicts, 0, 'the second tab ran no engine: nothing to conflict with');
      } else {
        const stormy = run.pages.filter((_, i) => run.guardians[i]?.storm.active);
        if (run.conflicts > 0) {
          assert.ok(stormy.length >= 1, 'a tab that met a conflict detected it');
          await waitForGuardianEvent(stormy[0], 'diagnosis');
          assert.equal((await guardianView(stormy[0])).storm.diagnosis.kind, 'concurrent-writers');
        }
      }
      for (const page of run.pages) {
        assert.equal(await page.evaluate(() => window.matrixCryptoGuardian === window.demo.guardian), true);
        assert.deepEqual(logsOf(page).errors, [], 'no page errors');
      }
    });
    console.log(`# two tabs (drop-in): ${run.conflicts} conflicts at the server, second tab ${held ? 'held by the writer lock' : 'ran its own engine'}`);
    await Promise.all(run.pages.map((p) => p.close()));
  });

  test('a healthy reload loads the start only: the panel view when the panel is shown, the recovery flow and the Node parts never', async () => {
    const user = await freshUser(stack.hs, 'lazy');
    const page = await newUserPage(stack.browser, { baseUrl: stack.web.url, homeserver: stack.hs.baseUrl, guardian: 'dropin', name: 'lazy', query: { devtools: 'closed' } });
    await withArtifacts('dropin-lazy', [page], async () => {
      await login(page, user.localpart, user.password, { homeserver: stack.hs.baseUrl, timeout: 120_000 });
      const pkgFiles = [];
      page.on('request', (r) => {
        const path = new URL(r.url()).pathname;
        if (path.startsWith('/pkg/')) pkgFiles.push(path.slice('/pkg/'.length));
      });
      await openApp(page);
      await page.waitForFunction(() => window.matrixCryptoGuardian && window.matrixCryptoGuardian.loading !== true, null, { timeout: 30_000 });
      await waitForSyncs(page, 1);
      await page.waitForTimeout(1000);
      for (const start of ['dropin.js', 'dropin-start.js', 'core/guardian_core_bg.wasm', 'core/guardian_core.js']) {
        assert.ok(pkgFiles.includes(start), `${start} loaded at start: ${pkgFiles.join(' ')}`);
      }
      for (const lazy of ['panel.js', 'recovery.js', 'prompt.js', 'remedies.js', 'headless.js', 'platform.js', 'index.js', 'report.js', 'diagnosis.js', 'lease/guardian_lease.js', 'lease/guardian_lease_bg.wasm']) {
        assert.ok(!pkgFiles.includes(lazy), `${lazy} not loaded on a healthy reload: ${pkgFiles.join(' ')}`);
      }
      // The storm state is answered before any upload all the same (js/storm-idle.js, written from the model).
      const storm = await page.evaluate(() => window.matrixCryptoGuardian.storm());
      assert.equal(storm.active, false);
      assert.equal(storm.breaker.state, 'closed');
      // The user opens the developer tools: the panel's view loads and shows the guardian.
      await page.click('#devtools > summary');
      await page.waitForFunction(() => (document.querySelector('#guardian-panel')?.shadowRoot?.textContent || '').length > 40, null, { timeout: 15_000 });
      assert.ok(pkgFiles.includes('panel.js'), `panel.js loaded once the panel is shown: ${pkgFiles.join(' ')}`);
    });
    await page.context().close();
  });

  test('bad data-* attributes: one warning names them, the guardian starts with the defaults', async () => {
    const context = await stack.browser.newContext();
    const page = await context.newPage();
    const lines = [];
    page.on('console', (m) => GUARDIAN_LINE.test(m.text()) && lines.push({ type: m.type(), text: m.text() }));
    const url = new URL('/attributes.html', stack.web.url).href;
    await page.route(url, (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: '<!doctype html><html><head><script src="/pkg/dropin.js" data-preset="cinnyy" data-promt="off" data-lang="de"></script></head><body></body></html>',
      }),
    );
    await page.goto(url);
    const started = await page.evaluate(async () => {
      const g = await window.matrixCryptoGuardian.ready;
      return { guardian: !!g && typeof g.storm === 'function', marks: performance.getEntriesByType('mark').map((m) => m.name) };
    });
    assert.equal(started.guardian, true, 'the guardian started despite the bad attributes');
    assert.deepEqual(started.marks, ['matrix-crypto-guardian:script-start', 'matrix-crypto-guardian:ready']);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0].type, 'warning');
    assert.match(lines[0].text, /data-preset="cinnyy" is ignored: must be cinny, element or generic; data-promt is not known/);
    await context.close();
  });

  test('core wasm blocked: the client logs in, syncs and chats encrypted as without the guardian; one warning says why', async () => {
    const { hs, web, browser } = stack;
    const [alice, bob] = [await freshUser(hs, 'blockeda'), await freshUser(hs, 'blockedb')];
    const a = await newUserPage(browser, { baseUrl: web.url, homeserver: hs.baseUrl, guardian: 'dropin', name: 'blocked-alice', goto: false });
    const blocked = [];
    await a.route(CORE_WASM, (route) => {
      blocked.push(route.request().url());
      return route.abort('blockedbyclient');
    });
    await openApp(a);
    const b = await newUserPage(browser, { baseUrl: web.url, homeserver: hs.baseUrl, guardian: 'off', name: 'blocked-bob' });
    await withArtifacts('dropin-wasm-blocked', [a, b], async () => {
      await login(a, alice.localpart, alice.password);
      await login(b, bob.localpart, bob.password);
      await waitForSyncs(a, 1);
      assert.ok(blocked.length >= 1, 'the core wasm was requested and blocked');
      const status = await waitForGuardianStatus(a);
      assert.equal(status.state, 'unavailable', status.text);
      const g = await a.evaluate(() => ({ failed: window.matrixCryptoGuardian?.failed ?? null, hasStorm: typeof window.matrixCryptoGuardian?.storm === 'function' }));
      assert.ok(g.failed, 'window.matrixCryptoGuardian says it failed');
      assert.equal(g.hasStorm, false);

      const roomId = await startDm(a, bob.userId);
      await acceptInvite(b, roomId);
      const hello = `hello from a guardian-less drop-in ${Date.now()}`;
      await sendMessage(a, hello);
      await waitForDecrypted(b, hello);
      const back = `and back ${Date.now()}`;
      await sendMessage(b, back);
      await waitForDecrypted(a, back);

      // The server saw this device's keys: uploads were never held by a guardian that is not there.
      assert.ok(hs.countRequests({ method: 'POST', pathIncludes: '/keys/upload', status: 200, user: alice.userId }) >= 1);
      const lines = logsOf(a).console.filter((m) => GUARDIAN_LINE.test(m.text));
      assert.equal(lines.length, 1, `exactly one guardian console line: ${JSON.stringify(lines)}`);
      assert.equal(lines[0].type, 'warning');
      assert.match(lines[0].text, /not active \(the client runs unguarded\): .*(fetch|wasm|WebAssembly)/i);
      assert.deepEqual(logsOf(a).errors, [], 'no page errors');
    });
    await Promise.all([a.context().close(), b.context().close()]);
  });
});
