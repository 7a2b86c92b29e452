// One-time-key health beyond "already exists", on the SDK versions that broke it (pinned in
// tests/sdk-versions/), each against a same-run baseline without the guardian: what the real Synapse holds
// and was sent (its own answers, its access log), and what the user sees. Short windows; the long ones are
// in `npm run bench`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { login, newUserPage, openRoom, sendMessage, withArtifacts } from '../support/browser.mjs';
import { LOGIN_TIMEOUT_MS, busyPeer, freshUser, guardianView, startStack, waitForGuardianEvent } from '../support/scenarios.mjs';
import { INFLATION_SDK, TIGHT_LOOP_SDK, inflationScenario, tightLoopScenario } from '../support/otk-scenarios.mjs';
import { sdkVersionsOf } from '../support/sdk-versions.mjs';

const WINDOW_MS = 12_000;

/** The panel's row for a capability: `{ level, why }`. */
async function panelRow(page, id) {
  return page.evaluate(async (id) => {
    await import('/pkg/panel.js');
    const panel = document.createElement('matrix-crypto-guardian-panel');
    panel.guardian = window.demo.guardian;
    document.body.append(panel);
    panel.refresh?.();
    const li = panel.shadowRoot.querySelector(`li[data-capability="${id}"]`) || panel.shadowRoot.querySelector(`[data-id="${id}"]`);
    const out = li ? { level: li.dataset.level, why: li.textContent } : null;
    panel.remove();
    return out;
  }, id);
}

describe('one-time-key health on the SDK versions that broke it', { timeout: 600_000 }, () => {
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

  test('matrix-js-sdk 40.0.0 tight loop: the baseline hammers the server; with the guardian at most one conflicting upload, and the page keeps working', async () => {
    assert.equal(sdkVersionsOf(TIGHT_LOOP_SDK).jsSdk, '40.0.0');
    const baseline = await tightLoopScenario(stack, { guardian: 'off', windowMs: WINDOW_MS, peer });
    await baseline.page.close();
    // No message wakes a /sync in this window: 40.1.0 and later would retry a few times at most; 40.0.0 does not wait for a sync.
    assert.ok(baseline.conflicts >= 20, `baseline: matrix-js-sdk 40.0.0 re-sends the failing upload in a tight loop (got ${baseline.conflicts} conflicting uploads in ${WINDOW_MS} ms)`);

    const guarded = await tightLoopScenario(stack, { guardian: 'npm', windowMs: WINDOW_MS, peer });
    await withArtifacts('otk-tight-loop', [guarded.page], async () => {
      assert.ok(guarded.conflicts <= 1, `with the guardian at most 1 conflicting upload reaches the server (got ${guarded.conflicts}; baseline ${baseline.conflicts})`);
      await waitForGuardianEvent(guarded.page, 'diagnosis');
      const { storm } = await guardianView(guarded.page);
      assert.equal(storm.breaker.state, 'open');
      assert.equal(storm.breaker.cause, 'conflict');
      assert.ok(storm.breaker.localAnswers >= 20, `the SDK kept hammering and was answered locally: ${JSON.stringify(storm.breaker)}`);
      assert.equal(storm.diagnosis.kind, 'identity-replaced', storm.diagnosis.reason);
      // The page stays responsive: the user reads the peer's messages and sends one the peer receives.
      await openRoom(guarded.page, peer.roomId);
      const text = `responsive ${Date.now()}`;
      await sendMessage(guarded.page, text);
      const { chunk } = await stack.hs.api('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(peer.roomId)}/messages?dir=b&limit=20`, { token: peer.peer.accessToken });
      assert.ok(chunk.some((e) => e.content && e.content.body === text), 'the peer received the message sent during the tight loop');
    });
    await guarded.page.close();
  });

  test('OTK inflation (js-sdk 42.1.0 + crypto-wasm 18.6.0): named with its figures; at the server cap the refused upload stops reaching the server', async () => {
    assert.deepEqual(sdkVersionsOf(INFLATION_SDK), { jsSdk: '42.1.0', cryptoWasm: '18.6.0' });
    const baseline = await inflationScenario(stack, { guardian: 'off', windowMs: 40_000, untilRefusals: 4 });
    await baseline.page.close();
    assert.ok(baseline.accepted >= 5, `baseline: the SDK keeps uploading one-time keys (${baseline.accepted} accepted uploads after ${baseline.toDevice} to-device messages)`);
    assert.ok(baseline.serverCount > 100, `baseline: the server holds more keys than the device keeps (${baseline.serverCount})`);
    assert.ok(baseline.refusals >= 4, `baseline: past the cap the refused upload is re-sent after every sync (${baseline.refusals} refusals)`);

    const guarded = await inflationScenario(stack, { guardian: 'npm', windowMs: 40_000, untilRefusals: 4 });
    await withArtifacts('otk-inflation', [guarded.page], async () => {
      const { otk, guardian } = guarded;
      // Accepted uploads are never held or answered locally: the server got them all (the pile-up is the SDK's).
      assert.ok(guarded.accepted >= 5, `the accepted uploads went to the server (${guarded.accepted})`);
      assert.ok(['otk-inflation', 'otk-limit'].includes(otk.kind), JSON.stringify(otk));
      await waitForGuardianEvent(guarded.page, 'otk-inflation', 5_000);
      assert.ok(otk.figures.keysUploaded >= 250 && otk.figures.acceptedUploads >= 5, JSON.stringify(otk.figures));
      assert.ok(otk.figures.peakServerCount > otk.figures.deviceCapacity, JSON.stringify(otk.figures));
      assert.match(otk.reason, /5501/);
      if (otk.kind === 'otk-limit') {
        // The cap reached: one refusal reached the server, every repeat got its own answer locally.
        await waitForGuardianEvent(guarded.page, 'otk-limit', 5_000);
        assert.ok(guarded.refusals <= 1, `at most one refused upload reaches the server (got ${guarded.refusals}; baseline ${baseline.refusals})`);
        assert.equal(otk.figures.limit, 500);
        assert.equal(guardian.storm.breaker.cause, 'otk-limit');
        assert.equal(guardian.storm.active, false, 'the cap is not reported as the conflict storm');
        assert.ok(otk.figures.heldAtLimit <= guarded.serverCount + 50 && otk.figures.heldAtLimit > 400, `figures match the server: ${otk.figures.heldAtLimit} vs ${guarded.serverCount}`);
      }
      // What the user (or the developer) sees: the panel row and the report, with the figures.
      const row = await panelRow(guarded.page, 'otk');
      assert.equal(row?.level, 'red', JSON.stringify(row));
      const report = await guarded.page.evaluate(() => window.demo.guardian.report());
      assert.equal(report.otkHealth.kind, otk.kind);
      assert.equal(report.otkHealth.figures.acceptedUploads >= otk.figures.acceptedUploads, true);
      const journal = await guarded.page.evaluate(() => window.demo.guardian.journal());
      assert.ok(journal.entries.some((e) => e.signature === 'otk-inflation'), 'journaled with its own signature');
    });
    assert.ok(guarded.otk.kind === 'otk-limit', `the window reached the server's cap (server holds ${guarded.serverCount}, ${guarded.refusals} refusals): ${guarded.otk.reason}`);
    await guarded.page.close();
  });

  test('store mismatch: initRustCrypto() refusing another account\'s store is journaled, shown, and explains the store loss the client then makes', async () => {
    const { hs, web, browser } = stack;
    const user = await freshUser(hs, 'mismatch');
    // Device 2 of the user, with its keys on the server (another browser).
    const other = await newUserPage(browser, { baseUrl: web.url, homeserver: hs.baseUrl, guardian: 'off', name: 'mismatch-other' });
    const second = await login(other, user.localpart, user.password, { timeout: LOGIN_TIMEOUT_MS });
    await hs.waitForRequests({ method: 'POST', pathIncludes: '/keys/upload', status: 200, user: user.userId }, 1);
    const secondSession = await other.evaluate(() => ({ token: localStorage.getItem('cinny_access_token'), device: localStorage.getItem('cinny_device_id') }));
    await other.close();
    // Device 1 in this browser: its store holds device 1's account.
    const page = await newUserPage(browser, { baseUrl: web.url, homeserver: hs.baseUrl, guardian: 'npm', name: 'mismatch', query: { onStoreMismatch: 'reset', storeLoss: 'continue' } });
    const first = await login(page, user.localpart, user.password, { timeout: LOGIN_TIMEOUT_MS });
    assert.notEqual(first.deviceId, second.deviceId);
    // The session is switched to device 2 while the store still holds device 1 (a multi-account client's slip):
    // initRustCrypto() refuses it; the client deletes the store and starts again under device 2's id.
    await page.evaluate((s) => {
      localStorage.setItem('cinny_access_token', s.token);
      localStorage.setItem('cinny_device_id', s.device);
    }, secondSession);
    const since = hs.mark();
    await page.reload();
    peer.start();
    await withArtifacts('otk-store-mismatch', [page], async () => {
      await waitForGuardianEvent(page, 'store-mismatch', 60_000);
      const mismatch = await page.evaluate(() => window.demo.guardian.storeMismatch());
      assert.match(mismatch.message, /doesn't match the account in the constructor/);
      // The reset made a store loss of device 2: its old keys are on the server, the new store's are refused.
      await waitForGuardianEvent(page, 'diagnosis', 60_000);
      const { storm } = await guardianView(page);
      assert.equal(storm.diagnosis.kind, 'identity-replaced', storm.diagnosis.reason);
      assert.ok(hs.countRequests({ method: 'POST', pathIncludes: '/keys/upload', status: 400, user: user.userId, since }) <= 1);
      // The prompt says what made the loss.
      await page.waitForSelector('matrix-crypto-guardian-prompt', { state: 'attached', timeout: 30_000 });
      const explained = await page.waitForFunction(() => {
        const p = document.querySelector('matrix-crypto-guardian-prompt');
        return p && p.shadowRoot && p.shadowRoot.querySelector('#mcg-store-mismatch')?.textContent;
      }, null, { timeout: 30_000 });
      assert.match(await explained.jsonValue(), /belonged to another account or device/);
      const row = await panelRow(page, 'store-mismatch');
      assert.equal(row?.level, 'red', JSON.stringify(row));
      const report = await page.evaluate(() => window.demo.guardian.report());
      assert.match(report.storeMismatch.message, /doesn't match the account/);
      const journal = await page.evaluate(() => window.demo.guardian.journal());
      assert.ok(journal.entries.some((e) => e.signature === 'store-account-mismatch'), JSON.stringify(journal.entries.map((e) => e.signature)));
    });
    peer.stop();
    await page.close();
  });
});
