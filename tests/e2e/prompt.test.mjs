// The recovery prompt shows the state after a choice, not the one it opened with (issue 15, item 7).
// A page on the npm API in a store-lost state (its session named, its crypto store there but without an
// account), then: the user's "continue" in the prompt, or the host's own continueDespiteStoreLoss() —
// either way the store-lost prompt is over; a refused upload afterwards opens the prompt for its own cause,
// with that cause's words only. No Synapse: the server is tests/support/tap-harness.mjs on 127.0.0.1.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { launchBrowser, saveArtifacts } from '../support/browser.mjs';
import { pageHelpers, startHostileServer, UPLOAD_PATH } from '../support/tap-harness.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const AUTH = { 'content-type': 'application/json', authorization: 'Bearer syt_prompt_test' };

describe('the recovery prompt after a choice', { timeout: 120_000 }, () => {
  let hs;
  let browser;
  let en;
  before(async () => {
    assert.ok(existsSync(join(ROOT, 'pkg', 'index.js')), 'pkg/ is built (npm run build)');
    [hs, browser] = await Promise.all([startHostileServer(), launchBrowser()]);
    en = (await import(pathToFileURL(join(ROOT, 'js', 'i18n', 'en.js')).href)).default;
  });
  after(async () => {
    await browser?.close();
    await hs?.close();
  });

  /** A page whose guardian found a store loss at start (prompt open); `n` keeps its databases apart. */
  async function storeLostPage(context, n) {
    const page = await context.newPage();
    await page.addInitScript(pageHelpers);
    await page.goto(`${hs.url}/`);
    const verdict = await page.evaluate(async (n) => {
      const name = `mcg-prompt-${n}::matrix-sdk-crypto`;
      await new Promise((resolve, reject) => {
        const req = indexedDB.open(name, 1);
        req.onupgradeneeded = () => req.result.createObjectStore('core'); // a store without an account
        req.onsuccess = () => (req.result.close(), resolve());
        req.onerror = () => reject(req.error);
      });
      const { Guardian } = await import('/pkg/index.js');
      window.guardian = await Guardian.start({
        session: { userId: '@prompt:hs.invalid', deviceId: `PROMPT${n}` },
        cryptoStores: [name],
        cryptoStorePrefix: name,
        persist: false,
        ownDatabaseName: `mcg-prompt-own-${n}`,
        lang: 'en',
      });
      return window.guardian.storeCheck().verdict;
    }, n);
    assert.equal(verdict, 'store-lost', 'precondition: a store loss at start');
    await page.waitForFunction(() => !!document.querySelector('matrix-crypto-guardian-prompt[open]')?.shadowRoot?.querySelector('#store-lost-continue'), null, { timeout: 20_000 });
    return page;
  }

  const promptState = (page) =>
    page.evaluate(() => {
      const el = document.querySelector('matrix-crypto-guardian-prompt');
      const root = el?.shadowRoot;
      return {
        open: !!el && el.hasAttribute('open'),
        visibleText: el && el.hasAttribute('open') ? root.textContent : '',
        title: root?.querySelector('#mcg-title')?.textContent ?? null,
        what: root?.querySelector('#mcg-what')?.textContent ?? null,
        alert: root?.querySelector('#mcg-alert')?.textContent ?? null,
        status: root?.querySelector('#mcg-status')?.textContent ?? null,
        recovery: window.guardian.recovery()?.cause ?? null,
      };
    });

  test('"continue" chosen by the host\'s own UI (continueDespiteStoreLoss): the store-lost prompt closes', async () => {
    const context = await browser.newContext();
    const pages = [];
    try {
      const page = await storeLostPage(context, 1);
      pages.push(page);
      assert.equal((await promptState(page)).title, en['title.store-lost']);
      assert.equal(await page.evaluate(() => window.guardian.continueDespiteStoreLoss()), true);
      await page.waitForFunction(() => !document.querySelector('matrix-crypto-guardian-prompt')?.hasAttribute('open'), null, { timeout: 5_000 }).catch(() => {});
      const after = await promptState(page);
      assert.equal(after.recovery, null, 'nothing pending after the choice');
      assert.equal(after.open, false, `the store-lost text is gone: ${after.visibleText}`);
    } catch (err) {
      await saveArtifacts('prompt-host-continue', pages).catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });

  test('"continue" in the prompt, then a refused upload: the prompt shows the new cause\'s words only', async () => {
    const context = await browser.newContext();
    const pages = [];
    try {
      const page = await storeLostPage(context, 2);
      pages.push(page);
      await page.locator('matrix-crypto-guardian-prompt').locator('#store-lost-continue').click();
      await page.waitForFunction(() => !document.querySelector('matrix-crypto-guardian-prompt')?.hasAttribute('open'), null, { timeout: 5_000 });
      assert.equal((await promptState(page)).recovery, null);

      // The released upload meets the server's "already exists" (as a legacy client's new account does).
      const status = await page.evaluate(
        async ({ url, headers }) =>
          (await fetch(url, { method: 'POST', headers, body: JSON.stringify({ one_time_keys: { 'signed_curve25519:AAAAAQ': { key: 'k', signatures: {} } } }) })).status,
        { url: `${UPLOAD_PATH}?case=conflict&tag=prompt-after`, headers: AUTH },
      );
      assert.equal(status, 400, 'the upload was released and answered');
      await page.waitForFunction(() => document.querySelector('matrix-crypto-guardian-prompt')?.hasAttribute('open'), null, { timeout: 20_000 });
      const now = await promptState(page);
      assert.notEqual(now.recovery, 'store-lost');
      assert.equal(now.title, en[`title.${now.recovery}`], JSON.stringify(now));
      assert.equal(now.what, en[`what.${now.recovery}`]);
      assert.ok(!now.visibleText.includes(en['what.store-lost']), 'no store-lost words left');
      assert.equal(now.alert, '', 'no alert left from the earlier choice');
      assert.equal(await page.locator('matrix-crypto-guardian-prompt').locator('#store-lost-continue').count(), 0, 'no "continue" for a cause that does not offer it');
    } catch (err) {
      await saveArtifacts('prompt-after-continue', pages).catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
