// One-time-key health beyond "already exists", on the SDK versions that broke it (pinned in
// tests/sdk-versions/), each against a same-run baseline without the guardian: what the real Synapse holds
// and was sent (its own answers, its access log), and what the user sees. Short windows; the long ones are
// in `npm run bench`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { openRoom, sendMessage, withArtifacts } from '../support/browser.mjs';
import { busyPeer, guardianView, startStack, waitForGuardianEvent } from '../support/scenarios.mjs';
import { INFLATION_SDK, TIGHT_LOOP_SDK, inflationScenario, storeMismatchScenario, tightLoopScenario } from '../support/otk-scenarios.mjs';
import { sdkVersionsOf } from '../support/sdk-versions.mjs';

const WINDOW_MS = 12_000;

/** The panel's row for a capability: `{ level, why }`. */
async function panelRow(page, id) {
  return page.evaluate(async (id) => {
    await import('/pkg/panel.js');
    const panel = document.createElement('matrix-crypto-guardian-panel');
    panel.guardian = window.demo.guardian;
    document.body.append(panel);
    // The element draws once its view (panel.js) has loaded: wait for the row, at most 5 s.
    let li = null;
    for (let waited = 0; !li && waited < 5000; waited += 50) {
      panel.refresh();
      li = panel.shadowRoot.querySelector(`li[data-capability="${id}"]`);
      if (!li) await new Promise((resolve) => setTimeout(resolve, 50));
    }
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

  test('matrix-js-sdk 40.0.0 tight loop: the baseline hammers the server; with the guardian at most one conflicting upload, and the page keeps working', async (t) => {
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
      t.diagnostic(`conflicting uploads at the server: ${guarded.conflicts} (baseline ${baseline.conflicts}); retries answered locally: ${storm.breaker.localAnswers}`);
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

  test('OTK inflation (js-sdk 42.1.0 + crypto-wasm 18.6.0): named with its figures; at the server cap the refused upload stops reaching the server', async (t) => {
    assert.deepEqual(sdkVersionsOf(INFLATION_SDK), { jsSdk: '42.1.0', cryptoWasm: '18.6.0' });
    const baseline = await inflationScenario(stack, { guardian: 'off', windowMs: 40_000, untilAttempts: 4 });
    await baseline.page.close();
    assert.ok(baseline.accepted >= 5, `baseline: the SDK keeps uploading one-time keys (${baseline.accepted} accepted uploads after ${baseline.toDevice} to-device messages)`);
    assert.ok(baseline.serverCount > 100, `baseline: the server holds more keys than the device keeps (${baseline.serverCount})`);
    assert.ok(baseline.refusals >= 4, `baseline: past the cap the refused upload is re-sent after every sync (${baseline.refusals} refusals)`);

    const guarded = await inflationScenario(stack, { guardian: 'npm', windowMs: 40_000, untilAttempts: 4 });
    await withArtifacts('otk-inflation', [guarded.page], async () => {
      const { otk, guardian } = guarded;
      // Accepted uploads are never held or answered locally: the server got them all (the pile-up is the SDK's).
      assert.ok(guarded.accepted >= 5, `the accepted uploads went to the server (${guarded.accepted})`);
      assert.equal(otk.kind, 'otk-limit', `the window reached the server's cap (server holds ${guarded.serverCount}, ${guarded.refusals} refusals): ${otk.reason}`);
      await waitForGuardianEvent(guarded.page, 'otk-inflation', 5_000);
      assert.ok(otk.figures.keysUploaded >= 250 && otk.figures.acceptedUploads >= 5, JSON.stringify(otk.figures));
      assert.ok(otk.figures.peakServerCount > otk.figures.deviceCapacity, JSON.stringify(otk.figures));
      assert.match(otk.reason, /5501/);
      t.diagnostic(`accepted uploads ${guarded.accepted} (baseline ${baseline.accepted}), refused at the server ${guarded.refusals} (baseline ${baseline.refusals}), server holds ${guarded.serverCount} (baseline ${baseline.serverCount}), local answers ${guardian.storm.breaker.localAnswers}`);
      // The cap reached: one refusal reached the server, every repeat got the server's own answer locally.
      await waitForGuardianEvent(guarded.page, 'otk-limit', 5_000);
      assert.ok(guarded.refusals <= 1, `at most one refused upload reaches the server (got ${guarded.refusals}; baseline ${baseline.refusals})`);
      assert.equal(otk.figures.limit, 500);
      assert.equal(otk.figures.heldAtLimit, guarded.serverCount, 'the figures are what the server holds');
      assert.equal(guardian.storm.breaker.cause, 'otk-limit');
      assert.ok(guardian.storm.breaker.localAnswers >= 3, `the SDK's repeats were answered locally: ${JSON.stringify(guardian.storm.breaker)}`);
      assert.equal(guardian.storm.active, false, 'the cap is not reported as the conflict storm');
      // What the user (or the developer) sees: the panel row and the report, with the figures.
      const row = await panelRow(guarded.page, 'otk');
      assert.equal(row?.level, 'red', JSON.stringify(row));
      const report = await guarded.page.evaluate(() => window.demo.guardian.report());
      assert.equal(report.otkHealth.kind, otk.kind);
      assert.equal(report.otkHealth.figures.acceptedUploads >= otk.figures.acceptedUploads, true);
      const journal = await guarded.page.evaluate(() => window.demo.guardian.journal());
      assert.ok(journal.entries.some((e) => e.signature === 'otk-inflation'), 'journaled with its own signature');
    });
    await guarded.page.close();
  });

  test('store mismatch: initRustCrypto() refusing another account\'s store is journaled, shown, and explains the store loss the client then makes', async (t) => {
    const baseline = await storeMismatchScenario(stack, { guardian: 'off', windowMs: WINDOW_MS, peer });
    await baseline.page.close();
    assert.notEqual(baseline.devices[0], baseline.devices[1]);
    assert.ok(baseline.conflicts >= 3, `baseline: the store the client reset storms (${baseline.conflicts} conflicting uploads in ${WINDOW_MS} ms)`);

    const { page, conflicts } = await storeMismatchScenario(stack, { guardian: 'npm', windowMs: WINDOW_MS, peer });
    await withArtifacts('otk-store-mismatch', [page], async () => {
      t.diagnostic(`conflicting uploads at the server: ${conflicts} (baseline ${baseline.conflicts})`);
      assert.ok(conflicts <= 1, `with the guardian at most 1 conflicting upload reaches the server (got ${conflicts}; baseline ${baseline.conflicts})`);
      await waitForGuardianEvent(page, 'store-mismatch');
      const mismatch = await page.evaluate(() => window.demo.guardian.storeMismatch());
      assert.match(mismatch.message, /doesn't match the account in the constructor/);
      // The reset made a store loss of device 2: its old keys are on the server, the new store's are refused.
      await waitForGuardianEvent(page, 'diagnosis', 30_000);
      const { storm } = await guardianView(page);
      assert.equal(storm.diagnosis.kind, 'identity-replaced', storm.diagnosis.reason);
      // What the user sees: the prompt says what made the loss; the panel and the report name it.
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
    await page.close();
  });
});
