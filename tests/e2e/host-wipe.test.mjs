// A host that deletes its own crypto store while it runs and opens it again (issue 17 item 4: clients that,
// on "the account in the store doesn't match the account in the constructor", wipe their stores and retry
// with the same device id). The drop-in sees the deletion, holds the next open of the store and runs the
// store-loss check again: the blank store is not created until the user has chosen, as after an eviction.
// The real client doing it is in tests/clients/cinny.test.mjs; this is the same sequence on a bare page.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { serve } from '../../scripts/serve.mjs';
import { launchBrowser, withArtifacts } from '../support/browser.mjs';
import { snapshotPkg } from '../support/scenarios.mjs';

const NAME = 'matrix-js-sdk::matrix-sdk-crypto';
const HOST_PATH = '/host-wipe.html';
const host = (guardian) =>
  `<!doctype html><html><head><meta charset="utf-8">${guardian ? '<script src="/pkg/dropin.js" data-preset="cinny"></script>' : ''}</head><body>host</body></html>`;

/** In the page (no guardian yet): a Cinny session and its crypto store holding an account. */
async function plantHealthySession(homeserver) {
  localStorage.setItem('cinny_access_token', 'syt_dGVzdA_notarealtoken_0000');
  localStorage.setItem('cinny_device_id', 'WIPETEST');
  localStorage.setItem('cinny_user_id', '@wipe:localhost');
  localStorage.setItem('cinny_hs_base_url', homeserver);
  await new Promise((resolve, reject) => {
    const req = indexedDB.open('matrix-js-sdk::matrix-sdk-crypto', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('core').put('pickled', 'account');
    req.onsuccess = () => {
      req.result.close();
      resolve();
    };
    req.onerror = () => reject(req.error);
  });
}

/** In the page: the host's wipe (delete, wait) and its open again; resolves to what it saw within `ms`. */
async function wipeAndOpen({ name, ms }) {
  await new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = resolve;
    req.onerror = () => reject(req.error);
  });
  window.__open = { events: [] };
  const req = indexedDB.open(name, 1);
  for (const type of ['upgradeneeded', 'success', 'error', 'blocked']) req.addEventListener(type, () => window.__open.events.push(type));
  req.onupgradeneeded = () => req.result.createObjectStore('core');
  await new Promise((r) => setTimeout(r, ms));
  return window.__open.events.slice();
}

describe('a host that wipes its crypto store and opens it again', { timeout: 120_000 }, () => {
  let browser;
  let web;
  let pkgCopy;
  before(async () => {
    pkgCopy = await snapshotPkg(process.env.MCG_PKG_DIR || undefined);
    [browser, web] = await Promise.all([launchBrowser(), serve({ pkg: pkgCopy })]);
  });
  after(async () => {
    await browser?.close();
    await web?.close();
    if (pkgCopy) rmSync(dirname(pkgCopy), { recursive: true, force: true });
  });

  async function hostPage(guardian) {
    const context = await browser.newContext();
    await context.route(`**${HOST_PATH}*`, (route) => route.fulfill({ contentType: 'text/html', body: host(new URL(route.request().url()).search === '?guardian') }));
    const page = await context.newPage();
    await page.goto(new URL(HOST_PATH, web.url).href);
    await page.evaluate(plantHealthySession, web.url);
    await page.goto(new URL(`${HOST_PATH}${guardian ? '?guardian' : ''}`, web.url).href);
    if (guardian) await page.evaluate(() => window.matrixCryptoGuardian.ready);
    return page;
  }

  test('the drop-in holds the reopen, calls it a store loss and prompts; without it the blank store opens at once', async () => {
    const off = await hostPage(false);
    const on = await hostPage(true);
    await withArtifacts('host-wipe', [on], async () => {
      assert.deepEqual(await off.evaluate(wipeAndOpen, { name: NAME, ms: 500 }), ['upgradeneeded', 'success'], 'without the guardian: a blank store at once');

      assert.equal((await on.evaluate(() => window.matrixCryptoGuardian.storeCheck())).verdict, 'healthy', 'healthy at start');
      assert.deepEqual(await on.evaluate(wipeAndOpen, { name: NAME, ms: 1500 }), [], 'the reopen waits');
      const state = await on.evaluate(() => {
        const gate = window[Symbol.for('matrix-crypto-guardian/idb-gate')];
        return { check: window.matrixCryptoGuardian.storeCheck(), deletions: gate.deletions().map((d) => d.name), pending: gate.pending() };
      });
      assert.equal(state.check.verdict, 'store-lost', JSON.stringify(state.check));
      assert.deepEqual(state.check.session, { userId: '@wipe:localhost', deviceId: 'WIPETEST', homeserver: web.url });
      assert.deepEqual(state.deletions, [NAME]);
      assert.equal(state.pending, 1);
      await on.locator('matrix-crypto-guardian-prompt[open] [role=dialog]').waitFor({ timeout: 30_000 });

      // The user's "continue at my own risk": the open proceeds.
      await on.evaluate(() => window.matrixCryptoGuardian.continueDespiteStoreLoss());
      await on.waitForFunction(() => window.__open.events.includes('success'), null, { timeout: 10_000 });
      assert.deepEqual(await on.evaluate(() => window.__open.events), ['upgradeneeded', 'success']);
    });
    await Promise.all([off.context().close(), on.context().close()]);
  });

  test('a reopen after deleting another database, or the open of a store that is there, is not held', async () => {
    const on = await hostPage(true);
    const events = await on.evaluate(async () => {
      await new Promise((r) => (indexedDB.deleteDatabase('matrix-js-sdk:web-sync-store').onsuccess = r));
      const seen = [];
      await new Promise((resolve) => {
        const req = indexedDB.open('matrix-js-sdk::matrix-sdk-crypto');
        req.onsuccess = () => {
          seen.push('success');
          req.result.close();
          resolve();
        };
        req.onerror = () => resolve(seen.push('error'));
      });
      return seen;
    });
    assert.deepEqual(events, ['success']);
    assert.equal((await on.evaluate(() => window.matrixCryptoGuardian.storeCheck())).verdict, 'healthy');
    await on.context().close();
  });
});
