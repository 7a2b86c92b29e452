// Prevention end to end: the store-loss check before the SDK starts, no false alarms on the ordinary
// paths, and persistent storage asked for and reported truthfully either way.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { login, logout, newUserPage, waitForAppState, withArtifacts } from '../support/browser.mjs';
import { busyPeer, evictScenario, freshUser, startStack } from '../support/scenarios.mjs';

const UPLOADS = { method: 'POST', pathIncludes: '/keys/upload' };

const guardianFacts = (page) =>
  page.evaluate(() => ({
    check: window.demo.guardian.storeCheck(),
    // The guardian's recovery prompt, open for the store loss.
    warned: !!document.querySelector('matrix-crypto-guardian-prompt[open]') && window.demo.guardian.recovery()?.cause === 'store-lost',
    events: window.demo.guardianEvents.map((e) => e.type),
  }));

describe('prevention against a real homeserver', { timeout: 240_000 }, () => {
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

  for (const guardian of ['npm', 'dropin']) {
    test(`evict (${guardian}): store-lost is raised before the SDK sends any keys/upload, and none reaches the server`, async () => {
      const run = await evictScenario(stack, { guardian, windowMs: 8_000, peer, prefix: `lost${guardian}`, storeLoss: 'ask' });
      await withArtifacts(`prevention-evict-${guardian}`, [run.page], async () => {
        const uploads = stack.hs.countRequests({ ...UPLOADS, user: run.user.userId, since: run.since });
        assert.equal(uploads, 0, 'no keys/upload at all while the user has not chosen');
        assert.equal(run.conflicts, 0);
        const { check, warned } = await guardianFacts(run.page);
        assert.equal(check.verdict, 'store-lost', JSON.stringify(check));
        assert.equal(check.session.userId, run.user.userId);
        assert.equal(check.session.deviceId, run.deviceId);
        assert.ok(check.missing.includes('matrix-js-sdk::matrix-sdk-crypto'));
        // The sentinel saw this device's identity in its accepted upload before the loss, and names it
        // (drop-in: from the session the upload itself names).
        assert.match(check.knownIdentity ?? '', /^[A-Za-z0-9+/]{43}$/, JSON.stringify(check));
        assert.ok(check.reason.includes(check.knownIdentity));
        assert.ok(warned, 'the user is told');
        // npm: the host started its client, which keeps syncing (the peer's messages still arrive).
        // Drop-in: the host waits in initRustCrypto() for its crypto store, held until the user chooses.
        const seen = await run.page.evaluate(() => document.querySelector('#sync-state').dataset.syncCount);
        if (guardian === 'npm') assert.ok(Number(seen) > 0, `sync count ${seen}`);

        const storeExists = () => run.page.evaluate(async () => (await indexedDB.databases()).some((d) => d.name === 'matrix-js-sdk::matrix-sdk-crypto'));
        // Drop-in: the crypto-store open itself is held, so no blank store is even created.
        if (guardian === 'dropin') assert.equal(await storeExists(), false, 'no blank crypto store while the user has not chosen');

        // Choosing to continue releases the uploads (and the storm watch takes over from there).
        const since = stack.hs.mark();
        await run.page.click('#store-lost-continue');
        peer.start();
        await stack.hs.waitForRequests({ ...UPLOADS, user: run.user.userId, since }, 1, { timeout: 20_000 });
        peer.stop();
        const { events } = await guardianFacts(run.page);
        assert.ok(events.includes('store-loss-accepted'), events.join());
        assert.equal(await storeExists(), true, 'the engine starts once the user chose');
      });
      await run.page.close();
    });
  }

  test('the prompt\'s module fails to download once (a network blip): uploads stay held, the prompt opens on the retry', async () => {
    const downloads = []; // "aborted" | "served", in order
    const run = await evictScenario(stack, {
      guardian: 'npm',
      windowMs: 1_000,
      peer,
      prefix: 'lostblip',
      storeLoss: 'ask',
      beforeReload: (context) =>
        context.route('**/pkg/watch/guardian_watch_bg.wasm', (route) => {
          downloads.push(downloads.length === 0 ? 'aborted' : 'served');
          return downloads.length === 1 ? route.abort() : route.continue();
        }),
    });
    await withArtifacts('prevention-evict-blip', [run.page], async () => {
      assert.equal(downloads[0], 'aborted', 'the first download of the module failed');
      assert.equal((await guardianFacts(run.page)).check.verdict, 'store-lost');
      // The next need of the module (the recovery's retry 2 s after the failure, or the journal waking on
      // the next event, whichever comes first) downloads it again: the prompt opens then, for the store loss.
      await run.page.waitForFunction(() => !!document.querySelector('matrix-crypto-guardian-prompt[open]'), null, { timeout: 15_000 });
      const { warned } = await guardianFacts(run.page);
      assert.ok(warned, 'the user is told once the module is there');
      assert.deepEqual(downloads.slice(0, 2), ['aborted', 'served'], 'downloaded again after the failure');
      assert.equal(stack.hs.countRequests({ ...UPLOADS, user: run.user.userId, since: run.since }), 0, 'no keys/upload while the user has not chosen');
    });
    await run.page.close();
  });

  test('a crypto store that is there but holds no account is a store loss too (drop-in holds the open)', async () => {
    const run = await evictScenario(stack, { guardian: 'dropin', windowMs: 5_000, peer, prefix: 'emptied', storeLoss: 'ask', loss: 'account' });
    await withArtifacts('prevention-emptied-store', [run.page], async () => {
      assert.equal(stack.hs.countRequests({ ...UPLOADS, user: run.user.userId, since: run.since }), 0, 'no keys/upload while the user has not chosen');
      const { check, warned } = await guardianFacts(run.page);
      assert.equal(check.verdict, 'store-lost', JSON.stringify(check));
      assert.equal(check.emptyStore, 'matrix-js-sdk::matrix-sdk-crypto');
      assert.deepEqual(check.missing, []);
      assert.match(check.reason, /holds no account/);
      assert.match(check.knownIdentity ?? '', /^[A-Za-z0-9+/]{43}$/, JSON.stringify(check));
      assert.ok(warned, 'the user is told');
      // The guardian only read key names: the database is still there, at the SDK's own version.
      const stores = await run.page.evaluate(async () => (await indexedDB.databases()).filter((d) => d.name.startsWith('matrix-js-sdk::matrix-sdk-crypto')));
      assert.ok(stores.some((d) => d.name === 'matrix-js-sdk::matrix-sdk-crypto' && d.version > 1), JSON.stringify(stores));
    });
    await run.page.close();
  });

  test('drop-in: the single-writer module fails to load: the store-loss hold stays (no blank store, no upload), the prompt still works', async () => {
    const blocked = [];
    const run = await evictScenario(stack, {
      guardian: 'dropin',
      windowMs: 4_000,
      peer,
      prefix: 'lostnooverlay',
      storeLoss: 'ask',
      beforeReload: (context) =>
        context.route('**/pkg/dropin-writer.js', (route) => (blocked.push(route.request().url()), route.abort('blockedbyclient'))),
    });
    await withArtifacts('prevention-evict-no-overlay', [run.page], async () => {
      assert.ok(blocked.length >= 1, 'the single-writer module was requested and blocked');
      const { check, warned } = await guardianFacts(run.page);
      assert.equal(check.verdict, 'store-lost', JSON.stringify(check));
      assert.equal(stack.hs.countRequests({ ...UPLOADS, user: run.user.userId, since: run.since }), 0, 'no keys/upload while the user has not chosen');
      const held = await run.page.evaluate(async () => ({
        holds: window[Symbol.for('matrix-crypto-guardian/idb-gate')].holds(),
        store: (await indexedDB.databases()).some((d) => d.name === 'matrix-js-sdk::matrix-sdk-crypto'),
      }));
      assert.deepEqual(held.holds, ['store-check'], 'the writer hold went with its module, the store-loss hold stayed');
      assert.equal(held.store, false, 'no blank crypto store while the user has not chosen');
      assert.ok(warned, 'the prompt is open');
      // The prompt is still the way out: "continue" releases the uploads and the store opens.
      const since = stack.hs.mark();
      await run.page.click('#store-lost-continue');
      peer.start();
      await stack.hs.waitForRequests({ ...UPLOADS, user: run.user.userId, since }, 1, { timeout: 20_000 });
      peer.stop();
      assert.equal(await run.page.evaluate(async () => (await indexedDB.databases()).some((d) => d.name === 'matrix-js-sdk::matrix-sdk-crypto')), true);
    });
    await run.page.close();
  });

  test('no false store-lost: first login on a fresh profile, reloads, sign-out and sign-in again', async () => {
    const user = await freshUser(stack.hs, 'noalarm');
    const page = await newUserPage(stack.browser, { baseUrl: stack.web.url, homeserver: stack.hs.baseUrl, guardian: 'npm', name: 'noalarm' });
    await withArtifacts('prevention-no-false-alarm', [page], async () => {
      await waitForAppState(page, 'login');
      assert.equal((await guardianFacts(page)).check.verdict, 'no-session', 'fresh profile');
      const first = await login(page, user.localpart, user.password);
      await stack.hs.waitForRequests({ ...UPLOADS, status: 200, user: user.userId }, 1, { timeout: 30_000 });
      const checks = [];
      for (let i = 0; i < 2; i++) {
        await page.reload();
        await waitForAppState(page, 'ready');
        checks.push(await guardianFacts(page));
      }
      await logout(page);
      checks.push(await guardianFacts(page));
      const second = await login(page, user.localpart, user.password);
      assert.notEqual(second.deviceId, first.deviceId, 'a sign-in after a sign-out is a new device');
      await page.reload();
      await waitForAppState(page, 'ready');
      checks.push(await guardianFacts(page));
      assert.deepEqual(checks.map((c) => c.check.verdict), ['healthy', 'healthy', 'no-session', 'healthy']);
      // Healthy because the store was read and holds the account, not merely because it exists.
      assert.deepEqual(checks.filter((c) => c.check.verdict === 'healthy').map((c) => c.check.account), ['present', 'present', 'present']);
      for (const c of checks) {
        assert.equal(c.warned, false);
        assert.ok(!c.events.includes('store-lost'), c.events.join());
      }
    });
    await page.context().close();
  });

  test('no false store-lost with per-session store names (drop-in, cinny preset): another name, several accounts, a default-named store of another account; each reloaded, uploads flowing', async () => {
    // One profile, three accounts kept like multi-account Cinny-family clients keep them (`matrixSessions`):
    // alice and carol with their own crypto stores (`matrix-js-sdk<userId>::matrix-sdk-crypto`), bob on the
    // default names — so the store under the default name is bob's, and alice (the first session) has none.
    const users = { alice: await freshUser(stack.hs, 'msalice'), bob: await freshUser(stack.hs, 'msbob'), carol: await freshUser(stack.hs, 'mscarol') };
    const query = (name) => ({ sessions: 'list', account: users[name].userId, ...(name === 'bob' ? { stores: 'default' } : {}) });
    const context = await stack.browser.newContext();
    const pages = [];
    const open = async (name) => {
      const page = await newUserPage(stack.browser, { baseUrl: stack.web.url, homeserver: stack.hs.baseUrl, guardian: 'dropin', name: `ms-${name}`, context, query: query(name) });
      pages.push(page);
      return page;
    };
    await withArtifacts('prevention-multi-account', () => pages, async () => {
      const devices = {};
      for (const name of ['alice', 'bob', 'carol']) {
        const page = await open(name);
        devices[name] = (await login(page, users[name].localpart, users[name].password)).deviceId;
        await stack.hs.waitForRequests({ ...UPLOADS, status: 200, user: users[name].userId }, 1, { timeout: 30_000 });
        // Each account in the busy room, so its page syncs (and replenishes keys) while the peer posts.
        await stack.hs.api('POST', `/_matrix/client/v3/join/${encodeURIComponent(peer.roomId)}`, { token: users[name].accessToken, body: {} });
        await pages.pop().close();
        if (name === 'alice') {
          // Alone in the profile, her store under its per-session name and none under the default name:
          // a healthy reload (before the fix: "store lost", the prompt, uploads held).
          const again = await open('alice');
          await waitForAppState(again, 'ready');
          await again.waitForFunction(() => window.matrixCryptoGuardian && !window.matrixCryptoGuardian.loading, null, { timeout: 15_000 });
          const alone = await again.evaluate(() => ({ check: window.matrixCryptoGuardian.storeCheck(), prompt: !!document.querySelector('matrix-crypto-guardian-prompt[open]') }));
          assert.equal(alone.check.verdict, 'healthy', JSON.stringify(alone.check));
          assert.equal(alone.check.store, `matrix-js-sdk${users.alice.userId}::matrix-sdk-crypto`);
          assert.equal(alone.prompt, false);
          await pages.pop().close();
        }
      }
      const names = await (await open('alice')).evaluate(async () => (await indexedDB.databases()).map((d) => d.name).filter((n) => n.endsWith('::matrix-sdk-crypto')).sort());
      assert.deepEqual(names, ['matrix-js-sdk::matrix-sdk-crypto', `matrix-js-sdk${users.alice.userId}::matrix-sdk-crypto`, `matrix-js-sdk${users.carol.userId}::matrix-sdk-crypto`].sort());
      await pages.pop().close();

      for (const name of ['alice', 'bob', 'carol']) {
        const page = await open(name);
        await waitForAppState(page, 'ready');
        await page.waitForFunction(() => window.matrixCryptoGuardian && !window.matrixCryptoGuardian.loading, null, { timeout: 15_000 });
        const facts = await page.evaluate(() => ({
          check: window.matrixCryptoGuardian.storeCheck(),
          prompt: !!document.querySelector('matrix-crypto-guardian-prompt[open]'),
          events: window.demo.guardianEvents.map((e) => e.type),
        }));
        // The check is about the first session (alice): her store is found by the account inside it,
        // under its own name; bob's default-named store is named as another account's.
        assert.equal(facts.check.verdict, 'healthy', `${name}: ${JSON.stringify(facts.check)}`);
        assert.equal(facts.check.session.userId, users.alice.userId);
        assert.equal(facts.check.store, `matrix-js-sdk${users.alice.userId}::matrix-sdk-crypto`);
        assert.equal(facts.check.account, 'present');
        assert.deepEqual([...facts.check.others].sort(), ['matrix-js-sdk::matrix-sdk-crypto', `matrix-js-sdk${users.carol.userId}::matrix-sdk-crypto`].sort());
        assert.equal(facts.prompt, false, `${name}: no prompt`);
        assert.ok(!facts.events.includes('store-lost'), facts.events.join());
        // Uploads flow: claimed keys are replenished (nothing holds keys/upload).
        const since = stack.hs.mark();
        for (let i = 0; i < 30; i++) {
          await stack.hs.api('POST', '/_matrix/client/v3/keys/claim', {
            token: peer.peer.accessToken,
            body: { one_time_keys: { [users[name].userId]: { [devices[name]]: 'signed_curve25519' } } },
          });
        }
        peer.start();
        await stack.hs.waitForRequests({ ...UPLOADS, status: 200, user: users[name].userId, since }, 1, { timeout: 30_000 });
        peer.stop();
        await pages.pop().close();
      }
    });
    await context.close();
  });

  test('a crypto store the check cannot attribute makes the verdict "unknown": no prompt, no hold, one journal line — never "store lost"', async () => {
    // A session kept in `matrixSessions` whose own store is not under the default name, and one
    // `*::matrix-sdk-crypto` store whose names are hashed (a passphrase-encrypted store): it may be hers.
    const context = await stack.browser.newContext();
    const setup = await context.newPage();
    await setup.goto(new URL('/config.json', stack.web.url).href);
    const prepare = (withStore) => setup.evaluate(async ({ hs, withStore }) => {
      localStorage.setItem('matrixSessions', JSON.stringify([{ baseUrl: hs, userId: '@nobody:localhost', deviceId: 'NOBODYDEV', accessToken: 'syt_not_a_real_token_000' }]));
      await new Promise((r) => { const q = indexedDB.deleteDatabase('opaque::matrix-sdk-crypto'); q.onsuccess = q.onerror = q.onblocked = r; });
      if (!withStore) return;
      await new Promise((resolve, reject) => {
        const req = indexedDB.open('opaque::matrix-sdk-crypto', 3);
        req.onupgradeneeded = () => req.result.createObjectStore('core').put(new Uint8Array([1, 2, 3]), 'q8N2mZr0b3YkE1x9dF+Xw7hJ5uLp4cVt6sAaBbCcDdE=');
        req.onsuccess = () => { req.result.close(); resolve(); };
        req.onerror = () => reject(req.error);
      });
    }, { hs: stack.hs.baseUrl, withStore });
    const verdictOnLoad = async () => {
      const page = await newUserPage(stack.browser, { baseUrl: stack.web.url, homeserver: stack.hs.baseUrl, guardian: 'dropin', name: 'unknown-store', context, query: { sessions: 'list', autojoin: '0' } });
      await page.waitForFunction(() => window.matrixCryptoGuardian && window.matrixCryptoGuardian.storeCheck, null, { timeout: 15_000 });
      const facts = await page.evaluate(async () => {
        const g = window.matrixCryptoGuardian;
        const journal = await g.journal();
        return {
          check: g.storeCheck(),
          prompt: !!document.querySelector('matrix-crypto-guardian-prompt'),
          lines: journal.entries.filter((e) => e.signature === 'store-check').map((e) => e.message),
        };
      });
      await page.close();
      return facts;
    };
    await withArtifacts('prevention-unknown-store', [setup], async () => {
      // Without that store: nothing can be hers, her store is lost (the same check says "lost" when it can tell).
      await prepare(false);
      const lost = await verdictOnLoad();
      assert.equal(lost.check.verdict, 'store-lost', JSON.stringify(lost.check));
      await prepare(true);
      const unknown = await verdictOnLoad();
      assert.equal(unknown.check.verdict, 'unknown', JSON.stringify(unknown.check));
      assert.match(unknown.check.reason, /opaque::matrix-sdk-crypto could not be attributed/);
      assert.equal(unknown.prompt, false, 'no prompt');
      assert.equal(unknown.lines.length, 1, 'one line in the journal');
      assert.match(unknown.lines[0], /verdict unknown/);
    });
    await context.close();
  });

  for (const [setting, expected] of [['granted', true], ['denied', false]]) {
    test(`persistent storage ${setting} by the browser is reported truthfully`, async () => {
      const context = await stack.browser.newContext();
      const cdp = await stack.browser.newBrowserCDPSession();
      const origin = new URL(stack.web.url).origin;
      const browserContextId = await contextId(context);
      if (setting === 'granted') await cdp.send('Browser.grantPermissions', { permissions: ['durableStorage'], origin, browserContextId });
      else await cdp.send('Browser.setPermission', { permission: { name: 'persistent-storage' }, setting, origin, browserContextId });
      const page = await newUserPage(stack.browser, { baseUrl: stack.web.url, homeserver: stack.hs.baseUrl, guardian: 'npm', name: `persist-${setting}`, context });
      await waitForAppState(page, 'login');
      await page.waitForFunction(() => !['pending', 'not-requested'].includes(window.demo.guardian.persistence().outcome), null, { timeout: 10_000 });
      const state = await page.evaluate(async () => ({
        reported: window.demo.guardian.persistence(),
        browser: await navigator.storage.persisted(),
        events: window.demo.guardianEvents.filter((e) => e.type === 'persistence').map((e) => e.detail.outcome),
      }));
      assert.equal(state.browser, expected, 'the browser agrees with the setting');
      assert.equal(state.reported.persisted, expected);
      assert.equal(state.reported.supported, true);
      assert.ok(expected ? /^(already-persisted|granted)$/.test(state.reported.outcome) : state.reported.outcome === 'denied', state.reported.outcome);
      assert.ok(Number.isFinite(state.reported.quota) && state.reported.quota > 0, 'estimate() recorded');
      assert.ok(state.events.length >= 1, 'a persistence event was emitted');
      await context.close();
    });
  }
});

/** The CDP browserContextId of a Playwright context. */
async function contextId(context) {
  const probe = await context.newPage();
  const session = await context.newCDPSession(probe);
  const { targetInfo } = await session.send('Target.getTargetInfo');
  await probe.close();
  return targetInfo.browserContextId;
}
