// A real client: Cinny 4.2.3 on matrix-js-sdk 35 with rust crypto, built from its own source (the archive
// in ../shared/clients/, or $MCG_CINNY_SRC; test material, never part of the package), driven through its
// own UI (login form, room list, composer) against a real Synapse.
//
// Builds (scripts/cinny.sh, cached by the archive's hash and the inputs' hashes):
//  - plain: Cinny as it is. Served without the guardian (the baselines) and with the drop-in: one <script>
//    line first in <head> of its index.html and pkg/ next to it, no other change;
//  - guide: the npm integration exactly as docs/integration-cinny.md tells an operator (its patch, taken
//    from the guide, applied here; the package installed from the `npm pack` tarball of pkg/);
//  - per-session: Cinny with `initRustCrypto({ cryptoDatabasePrefix })` per session (a one-line patch);
//  - wipe: Cinny that deletes its stores and retries with the same device id when the crypto store
//    belongs to another account.
// Every scenario runs against a baseline without the guardian in the same run; the server's access log
// counts the conflicting uploads, its /keys/query says which identity the device has.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { launchBrowser, logsOf, withArtifacts } from '../support/browser.mjs';
import {
  buildCinny,
  cinnyArchive,
  cinnyLogin,
  cinnySend,
  CINNY_TIMEOUT_MS,
  composer,
  DROPIN_LINE,
  HOW_TO_GET_CINNY,
  loginForm,
  openCinny,
  openCinnyRoom,
  PATCHES_DIR,
  serveCinny,
  waitForCinnyClient,
  waitForCinnyText,
} from '../support/cinny.mjs';
import { startHomeserver } from '../support/homeserver.mjs';
import { busyPeer, freshUser, snapshotPkg } from '../support/scenarios.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const UPLOAD = { method: 'POST', pathIncludes: '/keys/upload' };
const PROMPT = 'matrix-crypto-guardian-prompt';
const WRITER_OVERLAY = 'matrix-crypto-guardian-writer';
const DEFAULT_STORES = ['matrix-js-sdk::matrix-sdk-crypto', 'matrix-js-sdk::matrix-sdk-crypto-meta'];
// Short windows with a busy account: matrix-js-sdk retries a failed upload once per completed /sync.
const WINDOW_MS = 10_000;

const archive = cinnyArchive();
if (!archive) {
  // Test material outside the repository: without it, one line (npm test's "client cinny: not run: …")
  // says so and how to get it.
  test('Cinny suite', { skip: HOW_TO_GET_CINNY }, () => {});
} else {
  cinnySuite();
}

/** The diff blocks of docs/integration-cinny.md, as one patch file (the guide is what gets applied). */
function guidePatch(dir) {
  const md = readFileSync(join(ROOT, 'docs', 'integration-cinny.md'), 'utf8');
  const blocks = [...md.matchAll(/```diff\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 1, 'docs/integration-cinny.md has the patch as ```diff blocks');
  const file = join(dir, 'integration-cinny.patch');
  writeFileSync(file, blocks.join(''));
  return file;
}

/** `npm pack` of a pkg/ copy: the tarball an operator's `npm install matrix-crypto-guardian` gets. */
function packPkg(pkgDir, dest) {
  execFileSync('npm', ['pack', pkgDir, '--pack-destination', dest, '--silent'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const tgz = readdirSync(dest).find((f) => f.endsWith('.tgz'));
  return join(dest, tgz);
}

function cinnySuite() {
  describe('Cinny (real client, built from source)', { timeout: 25 * 60_000 }, () => {
    let tmp, pkgCopy, hs, browser, peer, bob, bobPage;
    const webs = {};
    const evicted = {}; // pages the eviction test leaves at the prompt, for the sign-out tests
    const figures = [];
    const report = (line) => {
      figures.push(line);
      console.log(`# ${line}`);
    };

    before(async () => {
      tmp = mkdtempSync(join(tmpdir(), 'mcg-cinny-'));
      pkgCopy = await snapshotPkg();
      const tarball = packPkg(pkgCopy, tmp);
      // One build at a time (scripts/cinny.sh serialises them anyway); each is cached after its first run.
      const plain = await buildCinny();
      const guide = await buildCinny({ pkg: tarball, patches: [guidePatch(tmp)] });
      const perSession = await buildCinny({ patches: [join(PATCHES_DIR, 'per-session-crypto-prefix.patch')] });
      const wipe = await buildCinny({ patches: [join(PATCHES_DIR, 'wipe-stores-on-account-mismatch.patch')] });
      [hs, browser] = await Promise.all([startHomeserver(), launchBrowser()]);
      const serve = (dist, dropin) => serveCinny({ dist, homeserver: hs.baseUrl, dropin: dropin ? pkgCopy : null });
      Object.assign(webs, {
        baseline: await serve(plain, false),
        dropin: await serve(plain, true),
        guide: await serve(guide, false),
        perSession: await serve(perSession, true),
        perSessionBaseline: await serve(perSession, false),
        wipe: await serve(wipe, true),
        wipeBaseline: await serve(wipe, false),
      });
      peer = await busyPeer(hs, { perSecond: 3 });
      // Bob: the peer who writes encrypted messages, in his own Cinny (no guardian).
      bob = await freshUser(hs, 'bob');
      bobPage = await openCinny(browser, webs.baseline, { name: 'bob' });
      await cinnyLogin(bobPage, bob.localpart, bob.password);
    });

    after(async () => {
      peer?.stop();
      await browser?.close().catch(() => {});
      await Promise.allSettled(Object.values(webs).map((w) => w.close()));
      await hs?.stop();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
      if (pkgCopy) rmSync(dirname(pkgCopy), { recursive: true, force: true });
      if (figures.length) console.log(`# Cinny figures (guarded vs baseline, same run):\n#   ${figures.join('\n#   ')}`);
    });

    // ---- helpers over the real server and Cinny ----

    /** A fresh user in the busy room and in an encrypted room with Bob (joined with its first device). */
    async function cinnyUser(prefix) {
      const user = await freshUser(hs, prefix);
      const roomName = `secret ${user.localpart}`;
      const { room_id: roomId } = await hs.api('POST', '/_matrix/client/v3/createRoom', {
        token: bob.accessToken,
        body: { name: roomName, invite: [user.userId], initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }] },
      });
      for (const room of [roomId, peer.roomId]) {
        await hs.api('POST', `/_matrix/client/v3/join/${encodeURIComponent(room)}`, { token: user.accessToken, body: {} });
      }
      return { ...user, roomId, roomName };
    }

    /** The device's ed25519 identity key as the server publishes it (null: no keys). */
    async function serverIdentity(userId, deviceId) {
      const res = await hs.api('POST', '/_matrix/client/v3/keys/query', { token: bob.accessToken, body: { device_keys: { [userId]: [deviceId] } } });
      const keys = res.device_keys?.[userId]?.[deviceId]?.keys || {};
      return keys[`ed25519:${deviceId}`] ?? null;
    }

    /** The user's devices at the server, asked with its registration session (another device). */
    async function serverDevices(user) {
      const res = await hs.api('GET', '/_matrix/client/v3/devices', { token: user.accessToken });
      return res.devices.map((d) => d.device_id);
    }

    /** Logs in through Cinny and waits until the device's keys reached the server. */
    async function loginAndUpload(web, user, name, context) {
      const since = hs.mark();
      const page = await openCinny(browser, web, { name, context });
      const { deviceId } = await cinnyLogin(page, user.localpart, user.password);
      await hs.waitForRequests({ ...UPLOAD, status: 200, user: user.userId, since }, 1, { timeout: 60_000 });
      const identity = await serverIdentity(user.userId, deviceId);
      assert.ok(identity, `the new device ${deviceId} has its identity at the server`);
      return { page, deviceId, identity };
    }

    /** Deletes IndexedDB databases from a page of the origin that is not the app (localStorage stays). */
    async function deleteDatabases(context, web, names) {
      const blank = await context.newPage();
      await blank.goto(new URL('/config.json', web.url).href);
      await blank.evaluate(async (names) => {
        for (const name of names) {
          await new Promise((res, rej) => {
            const req = indexedDB.deleteDatabase(name);
            req.onsuccess = res;
            req.onblocked = res;
            req.onerror = () => rej(req.error);
          });
        }
      }, names);
      await blank.close();
    }

    /**
     * *evict with traffic*: log in, close Cinny, delete the crypto store (localStorage, the session,
     * stays), reopen Cinny while the busy peer posts. Returns the reopened page and what the server saw.
     */
    async function evict(web, prefix, { stores = DEFAULT_STORES, windowMs = WINDOW_MS } = {}) {
      const user = await cinnyUser(prefix);
      const first = await loginAndUpload(web, user, `${prefix}-1`);
      const context = first.page.context();
      await first.page.close();
      await deleteDatabases(context, web, typeof stores === 'function' ? stores(user) : stores);
      const since = hs.mark();
      peer.start();
      const page = await openCinny(browser, web, { name: `${prefix}-2`, context });
      await page.waitForTimeout(windowMs);
      peer.stop();
      return {
        user,
        page,
        since,
        deviceId: first.deviceId,
        identityBefore: first.identity,
        identityAfter: await serverIdentity(user.userId, first.deviceId),
        conflicts: hs.countRequests({ ...UPLOAD, status: 400, user: user.userId, since }),
      };
    }

    const promptOpen = (page) => page.locator(`${PROMPT}[open]`).count().then((n) => n === 1);
    const waitForPrompt = (page) => page.locator(`${PROMPT}[open] [role=dialog]`).waitFor({ timeout: 60_000 });
    const clickRemedy = (page, name) => page.locator(`${PROMPT} button[data-remedy="${name}"], ${PROMPT} #store-lost-${name}`).first().click();

    /** Bob sends an encrypted message to the user's room from his Cinny. */
    async function bobSays(user, text) {
      await bobPage.goto(new URL(`/home/${encodeURIComponent(user.roomId)}/`, webs.baseline.url).href);
      await composer(bobPage).waitFor({ timeout: CINNY_TIMEOUT_MS });
      await cinnySend(bobPage, text);
      await waitForCinnyText(bobPage, text);
    }

    // ---- the scenarios ----

    test('drop-in: index.html is Cinny\'s own plus one line, first in <head>', () => {
      const original = webs.baseline.indexHtml; // dist/index.html as Vite wrote it
      const changed = webs.dropin.indexHtml;
      const a = original.split('\n');
      const b = changed.split('\n');
      assert.equal(b.length, a.length + 1);
      const at = b.findIndex((l) => l.trim() === DROPIN_LINE);
      assert.equal(b[at - 1].trim(), '<head>', 'first in <head>');
      assert.deepEqual(b.filter((_, i) => i !== at), a, 'no other change');
    });

    test('evict with traffic: the drop-in and the guide hold the storm, the baseline storms', async () => {
      // Same traffic, same window, side by side: no guardian, the drop-in, the npm integration of the guide.
      const [base, dropin, guide] = await Promise.all([evict(webs.baseline, 'evbase'), evict(webs.dropin, 'evdrop'), evict(webs.guide, 'evguide')]);
      const pages = [base.page, dropin.page, guide.page];
      await withArtifacts('cinny-evict', pages, async () => {
        report(`evict: baseline ${base.conflicts} conflicts, identity ${base.identityAfter === base.identityBefore ? 'unchanged' : 'replaced'}; drop-in ${dropin.conflicts}, ${dropin.identityAfter === dropin.identityBefore ? 'unchanged' : 'replaced'}; guide ${guide.conflicts}, ${guide.identityAfter === guide.identityBefore ? 'unchanged' : 'replaced'}`);
        assert.ok(base.conflicts > 0, `the baseline storms (${base.conflicts} conflicting uploads)`);
        assert.notEqual(base.identityAfter, base.identityBefore, 'without the guardian a new identity is published under the old device id');
        for (const [name, run] of [['drop-in', dropin], ['guide', guide]]) {
          assert.equal(run.conflicts, 0, `${name}: no conflicting upload reached the server`);
          assert.equal(run.identityAfter, run.identityBefore, `${name}: the device's identity at the server is unchanged`);
          await waitForPrompt(run.page);
          assert.equal(await promptOpen(run.page), true, `${name}: the prompt is on screen`);
        }
      });

      evicted.dropin = dropin;
      // The guide's Cinny: sign out from the prompt ends the device at the server and returns to Cinny's login.
      await withArtifacts('cinny-guide-sign-out', [guide.page, bobPage], async () => {
        await signOutAndComeBack(guide, 'guide');
      });
      await Promise.all([base.page.context().close(), guide.page.context().close()]);
    });

    test('sign out from the prompt (drop-in, no client attached): the device is gone at the server, a fresh login decrypts', async () => {
      // Needs the session's token without a client (issue 15 item 1): without it the logout cannot succeed.
      const run = evicted.dropin;
      assert.ok(run, 'the eviction above left its drop-in page at the prompt');
      try {
        await withArtifacts('cinny-dropin-sign-out', [run.page, bobPage], () => signOutAndComeBack(run, 'drop-in'));
      } finally {
        await run.page.context().close();
      }
    });

    async function signOutAndComeBack(run, name) {
      const { page, user, deviceId } = run;
      await clickRemedy(page, 'sign-out');
      await loginForm(page).waitFor({ timeout: 60_000 });
      const devices = await serverDevices(user);
      assert.ok(!devices.includes(deviceId), `${name}: the device ${deviceId} is gone at the server (devices: ${devices})`);
      // A fresh login (a new device) decrypts what Bob sends next.
      await cinnyLogin(page, user.localpart, user.password);
      await hs.waitForRequests({ ...UPLOAD, status: 200, user: user.userId, since: run.since }, 1, { timeout: 60_000 });
      await openCinnyRoom(page, user.roomName);
      const text = `after sign-out (${name}) ${Date.now()}`;
      await bobSays(user, text);
      await waitForCinnyText(page, text);
      report(`sign out (${name}): device gone at the server, back at Cinny's login, a fresh login decrypted Bob's next message`);
    }

    test('"continue at my own risk": at most one conflicting upload reaches the server', async () => {
      const [base, run] = await Promise.all([evict(webs.baseline, 'contbase'), evict(webs.dropin, 'contdrop', { windowMs: 4000 })]);
      await withArtifacts('cinny-continue', [base.page, run.page], async () => {
        await waitForPrompt(run.page);
        const since = hs.mark();
        await clickRemedy(run.page, 'continue');
        peer.start();
        await run.page.waitForTimeout(WINDOW_MS);
        peer.stop();
        const conflicts = hs.countRequests({ ...UPLOAD, status: 400, user: run.user.userId, since });
        report(`continue at own risk: drop-in ${conflicts} conflicts after the choice; baseline ${base.conflicts} in the same kind of window`);
        assert.ok(base.conflicts > 0, `the baseline storms (${base.conflicts})`);
        assert.ok(conflicts <= 1, `at most 1 conflicting upload after "continue" (got ${conflicts})`);
        assert.ok(hs.countRequests({ ...UPLOAD, user: run.user.userId, since }) >= 1, 'the uploads were released');
      });
      await Promise.all([base.page.context().close(), run.page.context().close()]);
    });

    test('two tabs: the second waits, "Use here" moves the writer, closing the writer hands over and it decrypts', async () => {
      // Baseline: two tabs of plain Cinny on one session while Bob's peer claims one-time keys.
      const twoTabs = async (web, prefix) => {
        const user = await cinnyUser(prefix);
        const first = await loginAndUpload(web, user, `${prefix}-1`);
        const second = await openCinny(browser, web, { name: `${prefix}-2`, context: first.page.context() });
        return { user, ...first, first: first.page, second };
      };
      const [base, run] = await Promise.all([twoTabs(webs.baseline, 'tabsbase'), twoTabs(webs.dropin, 'tabsdrop')]);
      const pages = [base.first, base.second, run.first, run.second, bobPage];
      await withArtifacts('cinny-two-tabs', pages, async () => {
        await waitForCinnyClient(base.second);
        // The guarded second tab waits behind the writer overlay.
        await run.second.locator(`${WRITER_OVERLAY}[data-state=elsewhere]`).waitFor({ state: 'attached', timeout: 60_000 });
        const since = hs.mark();
        const claims = setInterval(() => {
          for (const r of [base, run]) {
            hs.api('POST', '/_matrix/client/v3/keys/claim', { token: bob.accessToken, body: { one_time_keys: { [r.user.userId]: { [r.deviceId]: 'signed_curve25519' } } } }).catch(() => {});
          }
        }, 250);
        const count = (r) => hs.countRequests({ ...UPLOAD, status: 400, user: r.user.userId, since });
        peer.start();
        // The same span for both: the window, longer (at most 3 windows) while the baseline's second engine
        // has not met the first yet — a loaded machine can start it late; the claims keep both accounts busy.
        await run.first.waitForTimeout(WINDOW_MS);
        for (const end = Date.now() + 2 * WINDOW_MS; count(base) === 0 && Date.now() < end; ) await run.first.waitForTimeout(1000);
        peer.stop();
        clearInterval(claims);
        report(`two tabs: drop-in ${count(run)} conflicts (second tab waiting); baseline ${count(base)}`);
        assert.ok(count(base) > 0, `the baseline's two engines conflict (${count(base)})`);
        assert.equal(count(run), 0, 'no conflict with the drop-in: one engine');

        // "Use here" in the second tab moves the writer: the first tab stops, the second runs Cinny.
        await run.second.locator(WRITER_OVERLAY).getByRole('button', { name: 'Use here' }).click();
        await run.first.locator(`${WRITER_OVERLAY}[data-state=lost]`).waitFor({ state: 'attached', timeout: 30_000 });
        await waitForCinnyClient(run.second);
        // The first tab reloads and waits; closing the writer tab hands the role over to it.
        await run.first.reload();
        await run.first.locator(`${WRITER_OVERLAY}[data-state=elsewhere]`).waitFor({ state: 'attached', timeout: 60_000 });
        await run.second.close();
        await waitForCinnyClient(run.first);
        await openCinnyRoom(run.first, run.user.roomName);
        const text = `after the handover ${Date.now()}`;
        await bobSays(run.user, text);
        await waitForCinnyText(run.first, text);
        assert.equal(hs.countRequests({ ...UPLOAD, status: 400, user: run.user.userId, since }), 0, 'still no conflict');
        report('two tabs: "Use here" moved the writer; closing the writer handed over; the new writer decrypted Bob\'s next message');
      });
      await Promise.all([base.first.context().close(), run.first.context().close()]);
    });

    const perSessionStores = (user) => [`crypto${user.userId}::matrix-sdk-crypto`, `crypto${user.userId}::matrix-sdk-crypto-meta`];

    test('per-session crypto store names: a healthy reload is not called a store loss, uploads flow', async () => {
      const user = await cinnyUser('prefix');
      const first = await loginAndUpload(webs.perSession, user, 'prefix-1');
      await withArtifacts('cinny-per-session-healthy', [first.page], async () => {
        const names = await first.page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
        assert.ok(names.includes(perSessionStores(user)[0]), `the store is named per session: ${names}`);
        assert.ok(!names.includes(DEFAULT_STORES[0]), 'no store under the default name');
        // A healthy reload, then Bob claims this device's one-time keys: the client must be free to upload new ones.
        await first.page.reload();
        await waitForCinnyClient(first.page);
        const since = hs.mark();
        const claims = setInterval(() => {
          hs.api('POST', '/_matrix/client/v3/keys/claim', { token: bob.accessToken, body: { one_time_keys: { [user.userId]: { [first.deviceId]: 'signed_curve25519' } } } }).catch(() => {});
        }, 250);
        peer.start();
        try {
          const check = await first.page.evaluate(async () => (await window.matrixCryptoGuardian.ready).storeCheck());
          assert.notEqual(check.verdict, 'store-lost', `a healthy store under its per-session name is no store loss: ${JSON.stringify(check)}`);
          await hs.waitForRequests({ ...UPLOAD, status: 200, user: user.userId, since }, 1, { timeout: 30_000 });
        } finally {
          peer.stop();
          clearInterval(claims);
        }
        assert.equal(await first.page.locator(`${PROMPT}[open]`).count(), 0, 'no store-loss prompt');
        assert.equal(hs.countRequests({ ...UPLOAD, status: 400, user: user.userId, since }), 0);
      });
      await first.page.context().close();
    });

    test('per-session crypto store names: an eviction is still caught', async () => {
      const stores = perSessionStores;
      const [base, run] = await Promise.all([evict(webs.perSessionBaseline, 'prefbase', { stores }), evict(webs.perSession, 'prefdrop', { stores })]);
      await withArtifacts('cinny-per-session-evict', [base.page, run.page], async () => {
        report(`per-session names, evict: drop-in ${run.conflicts} conflicts, identity ${run.identityAfter === run.identityBefore ? 'unchanged' : 'replaced'}; baseline ${base.conflicts}, ${base.identityAfter === base.identityBefore ? 'unchanged' : 'replaced'}`);
        assert.ok(base.conflicts > 0, `the baseline storms (${base.conflicts})`);
        assert.notEqual(base.identityAfter, base.identityBefore);
        assert.equal(run.conflicts, 0, 'no conflicting upload');
        assert.equal(run.identityAfter, run.identityBefore, "the device's identity at the server is unchanged");
        await waitForPrompt(run.page);
      });
      await Promise.all([base.page.context().close(), run.page.context().close()]);
    });

    test('a client that wipes its own stores and retries with the same device id: caught whether it wipes before the guardian starts or the guardian starts first', async () => {
      // The trigger: the session in localStorage is moved to the user's second device (whose keys are on the
      // server) while the crypto store holds the first device's account. initRustCrypto() fails with "the
      // account in the store doesn't match the account in the constructor"; this Cinny (the wipe patch)
      // reloads, deletes all its stores with mx.clearStores() and starts again with the same session: a
      // blank store under the second device id. `delay`: which side starts late, so that the wipe comes
      // after the guardian's start (Cinny's entry script late) or before it (the guardian's core late).
      const mismatch = async (web, prefix, delay) => {
        const user = await cinnyUser(prefix);
        const first = await loginAndUpload(web, user, `${prefix}-1`);
        const context = first.page.context();
        await first.page.close();
        const other = await loginAndUpload(webs.baseline, user, `${prefix}-other`);
        const session = await other.page.evaluate(() => ({ token: localStorage.getItem('cinny_access_token'), deviceId: localStorage.getItem('cinny_device_id') }));
        await other.page.context().close();
        const blank = await context.newPage();
        await blank.goto(new URL('/config.json', web.url).href);
        await blank.evaluate((s) => {
          localStorage.setItem('cinny_access_token', s.token);
          localStorage.setItem('cinny_device_id', s.deviceId);
        }, session);
        await blank.close();
        if (delay) await context.route(delay, async (route) => setTimeout(() => route.continue().catch(() => {}), 3000));
        const since = hs.mark();
        peer.start();
        const page = await openCinny(browser, web, { name: `${prefix}-2`, context });
        await page.waitForTimeout(2 * WINDOW_MS); // two starts: the failed one, its reload and the wipe
        peer.stop();
        return {
          user,
          page,
          since,
          deviceId: session.deviceId,
          identityBefore: other.identity,
          identityAfter: await serverIdentity(user.userId, session.deviceId),
          conflicts: hs.countRequests({ ...UPLOAD, status: 400, user: user.userId, since }),
        };
      };
      const [base, after, before] = await Promise.all([
        mismatch(webs.wipeBaseline, 'wipebase'),
        mismatch(webs.wipe, 'wipeafter', '**/assets/index-*.js'),
        mismatch(webs.wipe, 'wipebefore', '**/matrix-crypto-guardian/core/guardian_core_bg.wasm'),
      ]);
      const identity = (r) => (r.identityAfter === r.identityBefore ? 'unchanged' : 'replaced');
      report(`wipe and retry: baseline ${base.conflicts} conflicts, identity ${identity(base)}; drop-in, wipe after its start ${after.conflicts}, ${identity(after)}; wipe before its start ${before.conflicts}, ${identity(before)}`);
      const wipeOrder = [];
      await withArtifacts('cinny-wipe', [base.page, after.page, before.page], async () => {
        assert.notEqual(base.identityAfter, base.identityBefore, 'without the guardian the wipe publishes a new identity under the old device id');
        assert.ok(base.conflicts > 0, `the baseline storms (${base.conflicts})`);
        for (const [when, run] of [['after', after], ['before', before]]) {
          // What happened first in the page that wiped: its deletion of the crypto store, or the guardian's start.
          const order = await run.page.evaluate(() => {
            const gate = window[Symbol.for('matrix-crypto-guardian/idb-gate')];
            const ready = performance.getEntriesByName('matrix-crypto-guardian:ready')[0];
            const deleted = gate?.deletions()[0]?.at ?? null;
            return { deleted, ready: ready ? performance.timeOrigin + ready.startTime : null, check: window.matrixCryptoGuardian?.storeCheck?.() };
          });
          assert.ok(order.ready, `the guardian started: ${JSON.stringify(order)}`);
          if (order.deleted === null) {
            // The guardian's check ran before Cinny's failed start: it read the store's account, another
            // device's, so the session's own store is lost and Cinny's open is held before it can fail and
            // wipe. (A deletion after the start is proven on a bare page: tests/e2e/host-wipe.test.mjs.)
            assert.ok(order.check?.others?.includes('matrix-js-sdk::matrix-sdk-crypto'), `the store is seen as another device's: ${JSON.stringify(order.check)}`);
          } else {
            assert.equal(order.deleted > order.ready ? 'after' : 'before', when, `the wipe came ${when} the guardian's start`);
          }
          wipeOrder.push(`${when}: ${order.deleted === null ? 'caught before Cinny could wipe' : `wiped ${when} the start`}`);
          assert.equal(order.check?.verdict, 'store-lost', JSON.stringify(order.check));
          assert.equal(run.identityAfter, run.identityBefore, `wipe ${when} the start: no new identity under the device id`);
          assert.equal(run.conflicts, 0, `wipe ${when} the start: no conflicting upload`);
          await waitForPrompt(run.page);
        }
      });
      report(`wipe order: ${wipeOrder.join('; ')}`);
      await Promise.all([base.page.context().close(), after.page.context().close(), before.page.context().close()]);
    });
  });
}
