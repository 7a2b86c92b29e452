// Guardian.stop() in a page: one abort of the guardian's lifetime ends every tap, lock, channel and listener
// it set up, and a new Guardian.start() works afterwards. Real Chromium, the built package, no homeserver
// (nothing here talks to one).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { serve } from '../../scripts/serve.mjs';
import { launchBrowser, withArtifacts } from '../support/browser.mjs';

describe('Guardian.stop() in a page', () => {
  let web;
  let browser;
  before(async () => {
    [web, browser] = await Promise.all([serve({}), launchBrowser()]);
  });
  after(async () => {
    await Promise.allSettled([browser?.close(), web?.close()]);
  });

  test('stop(): fetch and console back as they were, the writer lock released, the census channel silent, no writer after it; start() again works', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await withArtifacts('stop', [page], async () => {
      await page.goto(new URL('/config.json', web.url).href);
      const r = await page.evaluate(async () => {
        const bare = { fetch: window.fetch, error: console.error, warn: console.warn };
        const { Guardian } = await import('/pkg/index.js');
        const guardian = await Guardian.start({ persist: false });
        const tapped = window.fetch !== bare.fetch && console.error !== bare.error;
        await guardian.acquireWriter({ mode: 'wait', userId: '@stop:hs.example', deviceId: 'STOPDEVICE' });
        const { name, tabId, role } = guardian.writer();
        const heldNames = async () => (await navigator.locks.query()).held.map((l) => l.name);
        const heldBefore = (await heldNames()).includes(name);
        // Who answers a roll call on the writer's census channel, within `ms`.
        const rollCall = async (ms) => {
          const channel = new BroadcastChannel(`matrix-crypto-guardian:census:${name}`);
          const answers = [];
          channel.onmessage = (e) => answers.push(e.data);
          channel.postMessage({ kind: 'who', tab: 'probe', role: 'idle' });
          await new Promise((resolve) => setTimeout(resolve, ms));
          channel.close();
          return answers.filter((a) => a && a.tab === tabId);
        };
        const answeredBefore = (await rollCall(300)).length;

        await guardian.stop();

        const heldAfter = (await heldNames()).includes(name);
        const answeredAfter = (await rollCall(300)).length;
        const afterStop = await guardian.acquireWriter({ mode: 'wait' }).then(
          () => 'acquired',
          (e) => String(e && e.message),
        );
        const restored = window.fetch === bare.fetch && console.error === bare.error && console.warn === bare.warn;
        const again = await Guardian.start({ persist: false });
        const restarted = again !== guardian && window.fetch !== bare.fetch;
        await again.stop();
        return { tapped, role, heldBefore, answeredBefore, heldAfter, answeredAfter, afterStop, restored, restarted, restoredAgain: window.fetch === bare.fetch };
      });
      assert.equal(r.tapped, true, 'start() installed the fetch and console taps');
      assert.equal(r.role, 'writer');
      assert.equal(r.heldBefore, true, 'the writer lock was held');
      assert.ok(r.answeredBefore >= 1, 'the writer answered a roll call on its census channel');
      assert.equal(r.heldAfter, false, 'stop() released the Web Lock');
      assert.equal(r.answeredAfter, 0, 'stop() closed the census channel: nobody answers');
      assert.match(r.afterStop, /stopped/, 'a stopped guardian elects no writer');
      assert.equal(r.restored, true, 'fetch and console are the page\'s own again');
      assert.equal(r.restarted, true, 'Guardian.start() after stop() starts a new guardian with its tap');
      assert.equal(r.restoredAgain, true);
    });
    await context.close();
  });
});
