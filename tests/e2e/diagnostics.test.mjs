// Diagnostics end to end: the journal (console + guardian events), the guardian's own IndexedDB, the
// redacted report and the panel — real Synapse, real matrix-js-sdk (rust crypto), Chromium.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ARTIFACTS_DIR, guardianDatabase, login, logout, logsOf, newUserPage, waitForAppState, withArtifacts } from '../support/browser.mjs';
import { busyPeer, evictScenario, freshUser, startStack, waitForGuardianEvent } from '../support/scenarios.mjs';
import { installConsoleTap } from '../../js/console-tap.js';

const WINDOW_MS = 8_000;

/** Reads the journal (waking it) until `check(journal)` holds; returns it, or the last one read. */
async function journalWhen(page, check, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const j = await page.evaluate(() => window.demo.guardian.journal());
    if (check(j) || Date.now() > deadline) return j;
    await page.waitForTimeout(200);
  }
}

async function storedJournal(page, key) {
  const dump = await guardianDatabase(page);
  const text = dump.records.journal && dump.records.journal[key];
  return text ? JSON.parse(text) : null;
}

/** The sentinel stored for `key` (`user|device`), or null. */
async function storedSentinel(page, key) {
  const dump = await guardianDatabase(page);
  const text = dump.records.sentinel && dump.records.sentinel[key];
  return text ? JSON.parse(text) : null;
}

/** Tab through the page until the focused element (inside shadow roots too) is the panel's button `action`. */
async function tabTo(page, action, maxTabs = 80) {
  for (let i = 0; i < maxTabs; i++) {
    await page.keyboard.press('Tab');
    const at = await page.evaluate(() => {
      let a = document.activeElement;
      while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
      return a && a.dataset ? a.dataset.action || null : null;
    });
    if (at === action) return i + 1;
  }
  throw new Error(`Tab never reached the panel's "${action}" button`);
}

describe('diagnostics', { timeout: 300_000 }, () => {
  let stack;
  let peer;
  before(async () => {
    stack = await startStack();
    peer = await busyPeer(stack.hs, { perSecond: 3 });
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
  });
  after(async () => {
    peer?.stop();
    await stack?.close();
  });

  test('evict storm: the downloaded report has the conflict, the diagnosis and KE-1; no token or password in report, journal database or guardian output; the panel by keyboard', async () => {
    const run = await evictScenario(stack, { guardian: 'npm', windowMs: WINDOW_MS, peer, prefix: 'diagevict' });
    const { page, user } = run;
    await withArtifacts('diagnostics-evict', [page], async () => {
      await waitForGuardianEvent(page, 'diagnosis');
      // matrix-js-sdk logs "Failed to process outgoing request … already exists" for each retry the
      // breaker answers: the console tap journals them as KE-1.
      // The storm woke the journal (it sleeps on a healthy page); it then holds the routine events seen before.
      const woken = await journalWhen(page, (j) => j && j.entries.some((e) => e.signature === 'otk-already-exists' && e.source === 'console'), 20_000);
      assert.ok(woken.entries.some((e) => e.signature === 'otk-already-exists' && e.source === 'console'), JSON.stringify(woken.entries));
      assert.ok(woken.entries.some((e) => e.signature === 'persistence'), 'the page’s persistence event, kept while the journal slept');

      const token = await page.evaluate(() => localStorage.getItem('cinny_access_token'));
      assert.match(token, /^syt_/, 'the real access token of the session');

      // The panel shows the storm (screenshot for the record), and is usable with the keyboard only:
      // Tab reaches "Download report", Enter downloads.
      const panel = page.locator('#guardian-panel');
      await page.waitForFunction(() => {
        const root = document.querySelector('#guardian-panel')?.shadowRoot;
        return root && root.querySelector('[data-capability="storm"]')?.dataset.level === 'red' && root.querySelector('[data-ke="KE-1"]')?.hasAttribute('data-hot');
      }, null, { timeout: 10_000 });
      // The recovery prompt (remedy capability) is modal and holds the focus: Escape puts it off.
      await page.keyboard.press('Escape');
      await panel.scrollIntoViewIfNeeded();
      await panel.screenshot({ path: join(ARTIFACTS_DIR, 'diagnostics-panel.png') });
      await tabTo(page, 'download');
      const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
      assert.match(download.suggestedFilename(), /^matrix-crypto-guardian-report-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z\.json$/);
      const reportPath = join(ARTIFACTS_DIR, `diagnostics-${download.suggestedFilename()}`);
      await download.saveAs(reportPath);
      const reportText = readFileSync(reportPath, 'utf8');
      const report = JSON.parse(reportText);

      assert.equal(report.schema, 'matrix-crypto-guardian.report');
      assert.equal(report.schemaVersion, 1);
      assert.equal(report.session.userId, user.userId);
      assert.equal(report.session.deviceId, run.deviceId);
      assert.match(report.storm.lastConflict.keyId, /^signed_curve25519:/);
      assert.ok(report.storm.lastConflict.oldKey && report.storm.lastConflict.newKey, JSON.stringify(report.storm.lastConflict));
      assert.notEqual(report.storm.lastConflict.oldKey, report.storm.lastConflict.newKey);
      assert.equal(report.storm.diagnosis.kind, 'identity-replaced', report.storm.diagnosis.reason);
      assert.equal(report.storm.breaker.state, 'open');
      assert.ok(report.keCounts['KE-1'] >= 2, `KE-1 count ${report.keCounts['KE-1']}`);
      assert.ok(report.journal.entries.some((e) => e.signature === 'storm' && e.ke === 'KE-1'));
      assert.ok(report.journal.entries.some((e) => e.signature === 'diagnosis' && /identity-replaced/.test(e.message)));
      assert.ok(report.journal.entries.some((e) => e.signature === 'otk-already-exists' && e.count >= 1));
      assert.ok(report.browser.userAgent);
      assert.equal(typeof report.browser.cookieEnabled, 'boolean', 'a boolean is no secret: kept as the schema says');
      assert.equal(report.ownDatabase.available, true);

      // The journal database, read back through IndexedDB in the page once the journal is written.
      await page.evaluate(() => window.demo.guardian.flushJournal());
      const dump = await guardianDatabase(page);
      assert.deepEqual(dump.stores.sort(), ['journal', 'sentinel']);
      const key = `${user.userId}|${run.deviceId}`;
      const stored = JSON.parse(dump.records.journal[key]);
      assert.ok(stored.keCounts['KE-1'] >= 2, JSON.stringify(stored.keCounts));
      const sentinel = JSON.parse(dump.records.sentinel[key]);
      assert.equal(sentinel.deviceId, run.deviceId);

      // The guardian's own console output: every line it printed with its prefix.
      const own = logsOf(page).console.filter((m) => m.text.includes('[matrix-crypto-guardian]')).map((m) => m.text).join('\n');
      const haystacks = { report: reportText, 'journal database': JSON.stringify(dump), 'guardian console output': own };
      for (const [where, text] of Object.entries(haystacks)) {
        assert.equal(text.split(token).length - 1, 0, `access token found in the ${where}`);
        assert.equal(text.split(user.password).length - 1, 0, `password found in the ${where}`);
      }

      // "Open recovery prompt" by keyboard: the guardian's prompt when it has one, else an event for the host.
      await page.evaluate(() => {
        window.__recovery = 0;
        document.addEventListener('matrix-crypto-guardian:open-recovery', () => window.__recovery++);
        const g = window.demo.guardian;
        if (typeof g.openPrompt === 'function') {
          const open = g.openPrompt;
          g.openPrompt = function (...a) {
            window.__recovery++;
            return open.apply(this, a);
          };
        }
      });
      await tabTo(page, 'recovery', 10);
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => window.__recovery === 1, null, { timeout: 5_000 });
    });
    await page.close();
  });

  test('the journal survives a reload and a sign-out/sign-in; the new session gets its own', async () => {
    const user = await freshUser(stack.hs, 'diagkeep');
    const page = await newUserPage(stack.browser, { baseUrl: stack.web.url, homeserver: stack.hs.baseUrl, guardian: 'npm', name: 'diagkeep' });
    await withArtifacts('diagnostics-keep', [page], async () => {
      const first = await login(page, user.localpart, user.password);
      const key = `${user.userId}|${first.deviceId}`;
      // A real KE-2 line as Element Call's key handling logs it, through the page's real console.
      await page.evaluate(() => console.warn('MissingKey: missing key at index 3 for participant @bob:localhost'));
      // A KE line wakes the sleeping journal (the panel's summary reads it without waking it).
      await page.waitForFunction(() => window.demo.guardian.diagnosticsSummary().keCounts['KE-2'] === 1);
      // Written without asking (a lone entry at once, a storm at most once a second).
      const deadline = Date.now() + 10_000;
      let stored = null;
      while (Date.now() < deadline && !(stored && stored.keCounts['KE-2'] === 1)) {
        stored = await storedJournal(page, key);
        if (!(stored && stored.keCounts['KE-2'] === 1)) await page.waitForTimeout(200);
      }
      assert.equal(stored?.keCounts['KE-2'], 1, `stored journal: ${JSON.stringify(stored)}`);

      // Two more lines, and the page goes at once: their write is still pending (coalesced, or its database
      // open not done) when the page is gone. What the page leaves behind must bring them back.
      await page.evaluate(() => {
        console.warn('MissingKey: missing key at index 4 for participant @carol:localhost');
        console.warn('MissingKey: missing key at index 5 for participant @dave:localhost');
      });
      // The login's first keys/upload carries the device keys; its ed25519 is stored once the server accepts
      // it, which may come after login() returns. A reload before that would leave no ed25519 to read back.
      const sentinelDeadline = Date.now() + 10_000;
      let sentinel = await storedSentinel(page, key);
      while (!sentinel?.ed25519 && Date.now() < sentinelDeadline) {
        await page.waitForTimeout(100);
        sentinel = await storedSentinel(page, key);
      }
      assert.ok(sentinel?.ed25519, `stored sentinel after the accepted upload: ${JSON.stringify(sentinel)}`);
      await page.reload();
      await waitForAppState(page, ['ready'], { timeout: 45_000 });
      // Nothing troubling in this page: the journal sleeps, nothing of it was fetched or merged.
      assert.deepEqual(await page.evaluate(() => window.demo.guardian.diagnosticsSummary().journal), { state: 'asleep' });
      // Reading it wakes it: the stored journal is merged back (under the attached client's session).
      const afterReload = await journalWhen(page, (j) => j?.keCounts['KE-2'] >= 3);
      assert.equal(afterReload.keCounts['KE-2'], 3, 'every KE-2 line kept across the reload, the last two written as the page went');
      assert.ok(afterReload.entries.some((e) => e.signature === 'missing-key-at-index'));
      const report = await page.evaluate(() => window.demo.guardian.report());
      assert.equal(report.ownDatabase.createdThisPage, false);
      assert.equal(report.ownDatabase.sentinel.deviceId, first.deviceId);
      assert.equal(report.ownDatabase.sentinel.ed25519, sentinel.ed25519, 'the ed25519 of the accepted keys/upload, read back after the reload');

      await logout(page);
      const second = await login(page, user.localpart, user.password);
      assert.notEqual(second.deviceId, first.deviceId);
      const fresh = await journalWhen(page, (j) => j?.session?.deviceId === second.deviceId);
      assert.equal(fresh.session.deviceId, second.deviceId);
      assert.equal(fresh.keCounts['KE-2'] ?? 0, 0, 'the new session starts its own journal');
      const old = await storedJournal(page, key);
      assert.equal(old.keCounts['KE-2'], 3, 'the signed-out session’s journal is still stored, whole');
      const report2 = await page.evaluate(() => window.demo.guardian.report());
      assert.ok(report2.journal.sessions.includes(key), JSON.stringify(report2.journal.sessions));
    });
    await page.close();
  });

  test('a 10-minute storm (fake clock) stays within the bound; the console tap passes through and never throws', async () => {
    const page = await newUserPage(stack.browser, { baseUrl: stack.web.url, homeserver: stack.hs.baseUrl, guardian: 'npm', name: 'diagbound' });
    await page.waitForFunction(() => window.demo && window.demo.guardian);
    const out = await page.evaluate(async () => {
      const journalModule = await import('/pkg/watch/guardian_watch.js');
      await journalModule.default();
      const { JournalCore } = journalModule;
      const j = new JournalCore(200);
      let lines = 0;
      // One line every 50 ms for 10 minutes: KE-1 repeats (deduplicated) and KE-2 lines naming ever new
      // participants (not deduplicable), plus breaker events.
      for (let t = 0; t < 600_000; t += 50, lines++) {
        j.recordConsole('error', `Failed to process outgoing request ${lines}: One time key signed_curve25519:AAAA${lines} already exists`, t);
        j.recordConsole('warn', `MissingKey: missing key at index ${lines} for participant @${lines.toString(36).replace(/\d/g, (d) => 'klmnopqrst'[d])}:hs`, t);
        if (lines % 40 === 0) j.recordEvent('breaker-probe', { state: 'probing' }, t);
      }
      const snap = j.snapshot();
      return { lines, len: j.len(), stored: j.toStoredJson().length, counts: snap.keCounts, dropped: snap.dropped, newest: Math.max(...snap.entries.map((e) => e.lastAt)) };
    });
    assert.ok(out.len <= 200, `entries ${out.len}`);
    assert.equal(out.counts['KE-1'], out.lines);
    assert.equal(out.counts['KE-2'], out.lines);
    assert.ok(out.dropped > 0);
    assert.ok(out.newest >= 599_950);
    assert.ok(out.stored < 400_000, `stored journal ${out.stored} bytes`);
    await page.close();

    // The tap itself, in node: originals called first, once, same arguments and this; a throwing sink
    // or hostile arguments never reach the caller.
    const calls = [];
    const fakeConsole = {
      error(...a) {
        calls.push(['error', this, a]);
        return 'ret';
      },
      warn() {
        throw new Error('original throws');
      },
      log() {},
      info() {},
    };
    const g = { console: fakeConsole };
    const tap = installConsoleTap(g);
    assert.equal(installConsoleTap(g), tap, 'idempotent');
    const seen = [];
    tap.attach((level, text) => {
      seen.push([level, text]);
      throw new Error('sink fails');
    });
    const err = Object.assign(new Error('One time key signed_curve25519:A already exists'), { errcode: 'M_UNKNOWN' });
    const hostile = { get message() { throw new Error('getter'); } };
    assert.equal(fakeConsole.error('Failed to process outgoing request 0:', err, hostile, Symbol('s')), 'ret');
    assert.equal(calls.length, 1);
    assert.equal(calls[0][1], fakeConsole);
    assert.equal(calls[0][2][1], err);
    assert.equal(seen.length, 1);
    assert.match(seen[0][1], /Failed to process outgoing request 0: Error: M_UNKNOWN: One time key/);
    assert.throws(() => fakeConsole.warn('MissingKey'), /original throws/);
    fakeConsole.error('[matrix-crypto-guardian] already exists one time key');
    fakeConsole.log('an ordinary line');
    assert.equal(seen.length, 1, 'own output and ordinary lines are not journaled');
  });
});
