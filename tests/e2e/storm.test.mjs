// Storm watch end to end: the keys/upload "already exists" loop, with and without the guardian, in the
// same run, counted by the real Synapse's access log. Short windows (a busy peer makes every /sync
// complete within about a second); the 60-second versions are in `npm run bench`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { sendMessage, openRoom, waitForAppState, withArtifacts } from '../support/browser.mjs';
import { busyPeer, evictScenario, guardianView, startStack, twoTabsScenario, waitForGuardianEvent } from '../support/scenarios.mjs';

const WINDOW_MS = 12_000;

describe('storm watch against a real homeserver', { timeout: 240_000 }, () => {
  let stack;
  let peer;
  before(async () => {
    stack = await startStack();
    peer = await busyPeer(stack.hs, { perSecond: 3 });
  });
  after(async () => {
    peer?.stop();
    await stack?.close();
  });

  test('evict: without the guardian the server sees the storm; with it at most one conflict, diagnosed as identity replaced', async () => {
    const baseline = await evictScenario(stack, { guardian: 'off', windowMs: WINDOW_MS, peer, prefix: 'evictoff' });
    await baseline.page.close();
    assert.ok(baseline.conflicts >= 3, `baseline: the unguarded client storms (got ${baseline.conflicts} conflicting uploads in ${WINDOW_MS} ms)`);

    const guarded = await evictScenario(stack, { guardian: 'npm', windowMs: WINDOW_MS, peer, prefix: 'evictnpm' });
    await withArtifacts('storm-evict', [guarded.page], async () => {
      assert.ok(guarded.conflicts <= 1, `with the guardian at most 1 conflicting upload reaches the server (got ${guarded.conflicts}; baseline ${baseline.conflicts})`);
      await waitForGuardianEvent(guarded.page, 'storm');
      await waitForGuardianEvent(guarded.page, 'diagnosis');
      const { storm, events } = await guardianView(guarded.page);
      assert.ok(events.includes('breaker-open'), `events: ${events}`);
      assert.equal(storm.breaker.state, 'open');
      assert.ok(storm.breaker.localAnswers >= 2, `the SDK kept retrying and was answered locally: ${JSON.stringify(storm.breaker)}`);
      assert.equal(storm.diagnosis.kind, 'identity-replaced', storm.diagnosis.reason);
      assert.match(storm.conflict.keyId, /^signed_curve25519:/);
      assert.equal(storm.conflict.signerDeviceId, guarded.deviceId);
      const fetched = await guarded.page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name));
      assert.ok(fetched.some((n) => n.includes('/pkg/forensics/forensics_bg.wasm')), 'the conflict loaded the forensics module');

      // While the breaker is open the client keeps working: it receives the peer's messages and sends its own.
      await openRoom(guarded.page, peer.roomId);
      const before = peer.sent;
      peer.start();
      await guarded.page.waitForFunction(
        (n) => [...document.querySelectorAll('.event .body')].some((b) => /busy (\d+)/.test(b.textContent) && Number(RegExp.$1) >= n),
        before,
        { timeout: 15_000 },
      );
      peer.stop();
      const text = `still alive ${Date.now()}`;
      await sendMessage(guarded.page, text);
      const { chunk } = await stack.hs.api('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(peer.roomId)}/messages?dir=b&limit=20`, { token: peer.peer.accessToken });
      assert.ok(chunk.some((e) => e.content && e.content.body === text), 'the peer received the message sent while the breaker was open');
    });
    await guarded.page.close();
  });

  test('drop-in: the one <script> line stops the evict storm with no other change to the client', async () => {
    const guarded = await evictScenario(stack, { guardian: 'dropin', windowMs: WINDOW_MS, peer, prefix: 'evictdrop' });
    await withArtifacts('storm-evict-dropin', [guarded.page], async () => {
      assert.ok(guarded.conflicts <= 1, `at most 1 conflicting upload reaches the server (got ${guarded.conflicts})`);
      await waitForGuardianEvent(guarded.page, 'diagnosis');
      const { storm } = await guardianView(guarded.page);
      assert.ok(storm.breaker.localAnswers >= 2, JSON.stringify(storm.breaker));
      assert.equal(storm.diagnosis.kind, 'identity-replaced', storm.diagnosis.reason);
      assert.equal(await guarded.page.evaluate(() => window.matrixCryptoGuardian === window.demo.guardian), true);
    });
    await guarded.page.close();
  });

  /** The evict scenario with one of the package's lazily loaded modules (`pkg/<name>/`) blocked from the reload on. */
  async function evictWithModuleBlocked(name, prefix) {
    const blocked = [];
    const guarded = await evictScenario(stack, {
      guardian: 'npm',
      windowMs: WINDOW_MS,
      peer,
      prefix,
      beforeReload: (context) =>
        context.route(`**/pkg/${name}/**`, (route) => {
          blocked.push(route.request().url());
          return route.abort();
        }),
    });
    return { blocked, guarded };
  }

  /** No error reached the demo, and a message sent from `page` reaches the peer. */
  async function assertClientKeepsWorking(page, without) {
    const shown = await page.evaluate(() => document.querySelector('#app-error')?.textContent || '');
    assert.equal(shown, '', 'no error reached the demo');
    await openRoom(page, peer.roomId);
    const text = `alive without the ${without} module ${Date.now()}`;
    await sendMessage(page, text);
    const { chunk } = await stack.hs.api('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(peer.roomId)}/messages?dir=b&limit=20`, { token: peer.peer.accessToken });
    assert.ok(chunk.some((e) => e.content && e.content.body === text), 'the peer received the message');
  }

  test('the forensics module blocked: the watch still stops the storm, the diagnosis and the report say why, the client keeps working', async () => {
    const { blocked, guarded } = await evictWithModuleBlocked('forensics', 'evictnolazy');
    await withArtifacts('storm-evict-no-lazy-module', [guarded.page], async () => {
      assert.ok(blocked.length >= 1, 'the page tried to load the forensics module (conflict)');
      assert.ok(guarded.conflicts <= 1, `the breaker lives in the watch module: at most 1 conflicting upload (got ${guarded.conflicts})`);
      await waitForGuardianEvent(guarded.page, 'diagnosis-failed');
      const { storm, events } = await guardianView(guarded.page);
      assert.ok(events.includes('breaker-open'), `events: ${events}`);
      assert.ok(storm.breaker.localAnswers >= 2, JSON.stringify(storm.breaker));
      assert.equal(storm.diagnosis.kind, 'undetermined', storm.diagnosis.reason);
      // The report is the watch module's: it is built, and its storm says the diagnosis was undetermined.
      const report = await guarded.page.evaluate(() => window.demo.guardian.report());
      assert.equal(report.storm.diagnosis.kind, 'undetermined', JSON.stringify(report.storm));
      // The client keeps working while the breaker is open.
      await assertClientKeepsWorking(guarded.page, 'forensics');
    });
    await guarded.page.close();
  });

  test('the watch module blocked: uploads go to the server unguarded (fail open), the report fails with the reason, the client keeps working', async () => {
    const { blocked, guarded } = await evictWithModuleBlocked('watch', 'evictnowatch');
    await withArtifacts('storm-evict-no-watch-module', [guarded.page], async () => {
      assert.ok(blocked.length >= 1, 'the first keys/upload tried to load the watch module');
      // Nothing guards the uploads: they reach the server as without the guardian (no local answer, no hang).
      assert.ok(guarded.conflicts >= 2, `unguarded uploads reach the server (got ${guarded.conflicts})`);
      const { storm } = await guardianView(guarded.page);
      assert.equal(storm.active, false, 'storm() answers with a fresh watch: it saw nothing');
      const report = await guarded.page.evaluate(() => window.demo.guardian.report().then(() => 'built', (e) => `failed: ${e.message}`));
      assert.match(report, /^failed: .*watch/i);
      await assertClientKeepsWorking(guarded.page, 'watch');
    });
    await guarded.page.close();
  });

  test('two tabs on one session: at most one conflicting upload per tab, diagnosed as concurrent writers', async () => {
    const baseline = await twoTabsScenario(stack, { guardian: 'off', query: { writer: 'off' }, windowMs: WINDOW_MS, peer, prefix: 'tabsoff' });
    await Promise.all(baseline.pages.map((p) => p.close()));
    assert.ok(baseline.conflicts >= 2, `baseline: two unguarded tabs conflict (got ${baseline.conflicts} in ${WINDOW_MS} ms, ${baseline.claims} claims)`);

    const guarded = await twoTabsScenario(stack, { guardian: 'npm', query: { writer: 'off' }, windowMs: WINDOW_MS, peer, prefix: 'tabsnpm' });
    await withArtifacts('storm-two-tabs', guarded.pages, async () => {
      assert.ok(guarded.conflicts <= 2, `at most 1 per tab reaches the server (got ${guarded.conflicts}; baseline ${baseline.conflicts})`);
      const stormy = guarded.guardians.filter((g) => g && g.storm.active);
      assert.ok(stormy.length >= 1, 'at least one tab detected the storm');
      for (const g of guarded.guardians) assert.ok(g.storm.breaker.serverConflicts <= 1, JSON.stringify(g.storm.breaker));
      const page = guarded.pages[guarded.guardians.indexOf(stormy[0])];
      await waitForGuardianEvent(page, 'diagnosis');
      const { storm } = await guardianView(page);
      assert.equal(storm.diagnosis.kind, 'concurrent-writers', storm.diagnosis.reason);
      await waitForAppState(page, ['ready']);
    });
  });
});
