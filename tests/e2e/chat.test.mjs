// End-to-end: two real users on a real Synapse, in real Chromium, chat in an encrypted DM through the
// demo client with the guardian loaded npm-style (index.html).
//
//   node --test tests/e2e/
//
// Needs: the Synapse venv (~/.cache/mcg-synapse-venv or MCG_SYNAPSE_PYTHON), /usr/bin/chromium,
// node_modules. Builds www/ itself when stale; pkg/ (npm run build) is needed for the guardian assertion only
// (without it that one test is reported as TODO and only the fail-open message is checked).

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ensureWwwBuilt } from '../../scripts/build-www.mjs';
import { serve } from '../../scripts/serve.mjs';
import {
  acceptInvite,
  guardianDatabase,
  launchBrowser,
  login,
  logsOf,
  newUserPage,
  sendMessage,
  startDm,
  timeline,
  waitForDecrypted,
  waitForGuardianStatus,
  withArtifacts,
} from '../support/browser.mjs';
import { startHomeserver } from '../support/homeserver.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PKG_INDEX = join(ROOT, 'pkg', 'index.js');

function pkgVersion() {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'pkg', 'package.json'), 'utf8')).version;
  } catch {
    return null; // not built
  }
}

describe('encrypted chat between two real clients', { timeout: 120_000 }, () => {
  let hs;
  let web;
  let browser;
  let alice;
  let bob;
  let roomId;
  const users = { alice: { password: 'alice-' + Math.random().toString(36).slice(2) }, bob: { password: 'bob-' + Math.random().toString(36).slice(2) } };
  const pages = () => [alice, bob];
  let failed = false;

  before(async () => {
    const [server, b] = await Promise.all([startHomeserver(), launchBrowser(), ensureWwwBuilt()]);
    hs = server;
    browser = b;
    web = await serve({ homeserver: hs.baseUrl });
    for (const [name, u] of Object.entries(users)) Object.assign(u, await hs.registerUser(name, u.password));
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await web?.close().catch(() => {});
    await hs?.stop({ removeDir: !failed }).catch(() => {});
    if (failed && hs) console.log(`# synapse dir kept for inspection: ${hs.dir}`);
  });

  // the steps build on each other: after a failure the rest are skipped; a failing step saves
  // screenshots + console logs into .e2e-artifacts/
  const step = (name, opts, fn = opts) =>
    test(name, typeof opts === 'object' ? opts : {}, async (t) => {
      if (failed) return t.skip('an earlier step failed');
      try {
        await withArtifacts(`chat-${name}`, pages, fn);
      } catch (e) {
        failed = true;
        throw e;
      }
    });

  step('alice and bob log in with the guardian page', async () => {
    alice = await newUserPage(browser, { baseUrl: web.url, guardian: 'npm', name: 'alice' });
    bob = await newUserPage(browser, { baseUrl: web.url, guardian: 'npm', name: 'bob' });
    const [a, b] = await Promise.all([login(alice, 'alice', users.alice.password), login(bob, 'bob', users.bob.password)]);
    assert.equal(a.userId, '@alice:localhost');
    assert.equal(b.userId, '@bob:localhost');
    assert.match(a.deviceId, /^[A-Z]{10}$/);
    // session kept the way Cinny does
    const stored = await alice.evaluate(() => ({
      token: !!localStorage.getItem('cinny_access_token'),
      device: localStorage.getItem('cinny_device_id'),
      user: localStorage.getItem('cinny_user_id'),
      hs: localStorage.getItem('cinny_hs_base_url'),
    }));
    assert.deepEqual(stored, { token: true, device: a.deviceId, user: a.userId, hs: hs.baseUrl });
    const dbs = await alice.evaluate(async () => (await indexedDB.databases()).map((d) => d.name).sort());
    assert.ok(dbs.includes('matrix-js-sdk:web-sync-store'), `sync store missing: ${dbs}`);
    assert.ok(dbs.includes('matrix-js-sdk::matrix-sdk-crypto'), `crypto store missing: ${dbs}`);
  });

  step('alice starts an encrypted DM with bob, bob joins', async () => {
    roomId = await startDm(alice, users.bob.userId);
    assert.match(roomId, /^!\S+$/); // room v12 ids carry no server name
    await acceptInvite(bob, roomId);
    const encrypted = await bob.evaluate((r) => window.demo.client.isRoomEncrypted(r), roomId);
    assert.equal(encrypted, true);
  });

  step('they exchange messages both ways and both see them decrypted', async () => {
    const m1 = `hello bob ${Date.now()}`;
    const m2 = `hi alice ${Date.now()}`;
    const id1 = await sendMessage(alice, m1);
    const seen1 = await waitForDecrypted(bob, m1, 20_000);
    assert.equal(seen1.eventId, id1);
    assert.equal(seen1.sender, users.alice.userId);

    const id2 = await sendMessage(bob, m2);
    const seen2 = await waitForDecrypted(alice, m2, 20_000);
    assert.equal(seen2.eventId, id2);
    assert.equal(seen2.sender, users.bob.userId);

    // each side sees both messages, decrypted, none undecryptable; the DOM text is the plaintext
    for (const page of [alice, bob]) {
      await waitForDecrypted(page, m1, 10_000);
      await waitForDecrypted(page, m2, 10_000);
      const tl = await timeline(page);
      const bodies = tl.filter((e) => e.decrypted).map((e) => e.body);
      assert.ok(bodies.includes(m1) && bodies.includes(m2), `${logsOf(page).name}: ${JSON.stringify(tl)}`);
      assert.equal(tl.filter((e) => e.utd).length, 0, `${logsOf(page).name} has UTDs: ${JSON.stringify(tl)}`);
      assert.ok(tl.every((e) => e.encrypted), 'every message in the DM is encrypted');
      assert.equal(logsOf(page).errors.length, 0, `${logsOf(page).name} page errors: ${JSON.stringify(logsOf(page).errors)}`);
    }

    // the server saw the messages as ciphertext and no keys/upload was refused
    assert.ok(hs.countRequests({ method: 'PUT', pathIncludes: `/rooms/${encodeURIComponent(roomId)}/send/m.room.encrypted/`, status: 200 }) >= 2);
    assert.equal(hs.countRequests({ method: 'PUT', pathIncludes: '/send/m.room.message/' }), 0);
    assert.ok(hs.countRequests({ method: 'POST', pathIncludes: '/keys/upload', status: 200 }) >= 2);
    assert.equal(hs.countRequests({ method: 'POST', pathIncludes: '/keys/upload', status: 400 }), 0);
  });

  // Without pkg/ this step fails (the chat above works without the guardian, which proves nothing about it).
  const pkgBuilt = existsSync(PKG_INDEX);
  step('the page reports the guardian loaded with its version; the forensics module was never fetched and the journal slept', async () => {
    assert.ok(pkgBuilt, 'pkg/ is built (npm test runs npm run build first)');
    for (const page of [alice, bob]) {
      const status = await waitForGuardianStatus(page);
      assert.equal(status.state, 'loaded', status.text);
      assert.equal(status.text, `guardian ${pkgVersion()} loaded`);
      // Lazy forensics: no conflict happened, so the matrix-sdk-crypto module must not have been downloaded.
      const fetched = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name));
      assert.ok(fetched.some((n) => n.includes('/pkg/core/guardian_core_bg.wasm')), 'the core wasm was loaded');
      assert.ok(!fetched.some((n) => n.includes('/pkg/forensics/')), `forensics fetched without a conflict: ${fetched.filter((n) => n.includes('forensics'))}`);
      // Nor was the journal woken (its code is in that module): nothing troubling, no journal written; the
      // store-loss sentinel, which every healthy page keeps, is.
      assert.deepEqual(await page.evaluate(() => window.demo.guardian.diagnosticsSummary().journal), { state: 'asleep' });
      const db = await guardianDatabase(page);
      assert.deepEqual(Object.keys(db.records.journal || {}), [], 'no journal written by a healthy page');
      assert.equal(Object.keys(db.records.sentinel || {}).length, 1, `the sentinel of the session: ${JSON.stringify(db.records)}`);
    }
  });
});
