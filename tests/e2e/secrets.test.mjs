// The secrets scan (issue 9): every scenario, short, against a real Synapse with real matrix-js-sdk (rust
// crypto) in Chromium; after each, everything the guardian wrote — report() and the downloaded report, what
// its API hands the host, every record of its own IndexedDB database, its localStorage entries, every
// console message of the page, the DOM of its prompt, panel and writer overlay (shadow roots included) — is
// searched for the session's real access token, its password, every room key (plaintext `session_key`
// from matrix-js-sdk's own export) and the passphrase of the room-key export. 0 hits. Sources are scanned
// for the secrets of every scenario so far, so one session's secret cannot show up in another's output
// either.
//
// Scenarios: evict (store lost, continue, storm, diagnosis, then a room-key export through the recovery
// prompt), two tabs without the writer lock (storm, concurrent writers), the store-loss prompt's sign-out
// (before and after the reload), and a normal encrypted chat with the writer lock on (npm on one side, the
// drop-in on the other, whose second tab shows the writer overlay).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { acceptInvite, login, newUserPage, sendMessage, startDm, waitForAppState, waitForDecrypted, waitForInvite, withArtifacts } from '../support/browser.mjs';
import { busyPeer, evictScenario, freshUser, LOGIN_TIMEOUT_MS, snapshotPkg, startStack, twoTabsScenario, waitForGuardianEvent } from '../support/scenarios.mjs';
import { accessTokenOf, guardianOutput, roomKeysOf, scanForSecrets } from '../support/secrets.mjs';

const WINDOW_MS = 8_000;
const PROMPT = 'matrix-crypto-guardian-prompt';
// The export's passphrase: what a user would type, unique to this run.
const PASSPHRASE = `secret export phrase ${Math.random().toString(36).slice(2)}`;

describe('secrets scan: nothing the guardian writes holds a token, password, passphrase or room key', { timeout: 420_000 }, () => {
  let stack;
  let busy;
  let pkgCopy;
  /** Every secret met so far: { kind, value, scenario }. */
  const secrets = [];
  const scanned = [];

  before(async () => {
    pkgCopy = await snapshotPkg(process.env.MCG_PKG_DIR || undefined); // immune to a rebuild of pkg/ meanwhile
    stack = await startStack({ pkg: pkgCopy });
    busy = await busyPeer(stack.hs, { perSecond: 3 });
  });
  after(async () => {
    busy?.stop();
    await stack?.close();
    if (pkgCopy) rmSync(dirname(pkgCopy), { recursive: true, force: true });
  });

  const remember = (scenario, kind, values) => {
    for (const value of values) if (!secrets.some((s) => s.value === value)) secrets.push({ scenario, kind, value });
  };
  /** The session's token and password (and, later, its room keys) become secrets to look for. */
  const sessionSecrets = async (scenario, page, user) => {
    remember(scenario, 'access token', [await accessTokenOf(page)]);
    remember(scenario, 'password', [user.password]);
  };
  /** The room keys the pages' clients hold become secrets too; returns how many distinct ones. */
  const roomKeys = async (scenario, pages) => {
    const keys = new Set();
    for (const page of pages) for (const key of await roomKeysOf(page)) keys.add(key);
    remember(scenario, 'room key', [...keys]);
    return keys.size;
  };
  /** Collects what the guardian of each page wrote and asserts that no secret known so far is in it. */
  const assertClean = async (scenario, pages) => {
    const sources = {};
    for (const page of pages) Object.assign(sources, await guardianOutput(page));
    for (const [source, text] of Object.entries(sources)) assert.ok(text.length > 0, `${scenario}: ${source} was read`);
    const hits = scanForSecrets(sources, secrets);
    scanned.push({ scenario, sources: Object.keys(sources).length, bytes: Object.values(sources).reduce((n, t) => n + t.length, 0) });
    assert.deepEqual(hits, [], `${scenario}: secrets found (source and kind named; the values are never printed)`);
  };
  /** An encrypted DM with the busy peer's user and one message in it: this device now holds a room key. */
  const encryptedMessage = async (page, tag) => {
    await startDm(page, busy.peer.userId);
    await sendMessage(page, `a secret-free message ${tag}`);
  };

  test('the scanner finds planted secrets (self-check) and needs real values', () => {
    const planted = [
      { kind: 'access token', value: 'syt_c2VjcmV0_AbCdEfGhIjKlMnOpQrSt_0a1b2c' },
      { kind: 'password', value: 'pw-hunter2' },
      { kind: 'room key', value: 'AQAAAAAc1vM2hx8N3FM5Jv+u7WnpF0ZKnW3fb6JWzN2tTqfO5kD4m1s2t3u4v5w6x7y8z9A0B1C2D3E4F5G6H7I8J9K0L1M2N3O4P5Q6R7S8T9U0V1W2' },
      { kind: 'passphrase', value: 'correct horse battery' },
    ];
    const [token, password, key, phrase] = planted.map((p) => p.value);
    const sources = {
      clean: `nothing here but a public key ${'A'.repeat(43)} and "access_token":"[redacted]"`,
      token: `Authorization: Bearer ${token}`,
      password: JSON.stringify({ login: { password } }),
      'cut key': `…${key.slice(40, 120)}…`, // a room key cut short, as a journal line of 800 characters would
      'URL-encoded phrase': `?p=${encodeURIComponent(phrase)}`,
    };
    const hits = scanForSecrets(sources, planted);
    assert.deepEqual(
      hits.map(({ source, kind }) => `${kind} in ${source}`).sort(),
      ['access token in token', 'passphrase in URL-encoded phrase', 'password in password', 'room key in cut key'].sort(),
    );
    assert.throws(() => scanForSecrets(sources, [{ kind: 'access token', value: '' }]), /empty/);
  });

  test('evict: store lost, "continue", the storm and its diagnosis; room keys exported through the recovery prompt', async () => {
    const run = await evictScenario(stack, { guardian: 'npm', windowMs: WINDOW_MS, peer: busy, prefix: 'secevict' });
    const { page, user } = run;
    await withArtifacts('secrets-evict', [page], async () => {
      await sessionSecrets('evict', page, user);
      await waitForGuardianEvent(page, 'storm');
      await waitForGuardianEvent(page, 'diagnosis', 30_000);
      assert.equal(await page.evaluate(() => window.demo.guardian.storm().diagnosis.kind), 'identity-replaced');
      await encryptedMessage(page, 'evict');
      assert.ok((await roomKeys('evict', [page])) >= 1, 'the device holds a room key');
      await assertClean('evict', [page]);

      // The prompt for the store loss's diagnosis now offers the export (the new store holds a room key):
      // the user types a passphrase into the prompt, the file is downloaded.
      remember('export', 'passphrase', [PASSPHRASE]);
      await page.evaluate(() => window.demo.guardian.recoveryFacts());
      await page.waitForSelector(`${PROMPT}[open] #remedy-export-keys`, { timeout: 30_000 });
      await page.click(`${PROMPT} #remedy-export-keys`);
      await page.fill(`${PROMPT} #mcg-passphrase`, PASSPHRASE);
      await page.fill(`${PROMPT} #mcg-passphrase-confirm`, PASSPHRASE);
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.click(`${PROMPT} #mcg-export-start`)]);
      const exported = await readFile(await download.path(), 'utf8');
      assert.match(exported, /^-----BEGIN MEGOLM SESSION DATA-----/, 'the export happened');
      const done = await page.evaluate(() => window.demo.guardianEvents.find((e) => e.type === 'remedy' && e.detail.remedy === 'export-keys' && e.detail.phase === 'done')?.detail);
      assert.ok(done && done.count >= 1, `export done: ${JSON.stringify(done)}`);
      // The export file is the guardian's output too: encrypted, so no plaintext key and no passphrase in it.
      assert.deepEqual(scanForSecrets({ 'exported key file': exported }, secrets), [], 'export file: secrets found');
      await assertClean('export', [page]);
    });
    await page.context().close();
  });

  test('two tabs without the writer lock: storm, concurrent writers, an encrypted message', async () => {
    const tabs = await twoTabsScenario(stack, { guardian: 'npm', windowMs: WINDOW_MS, peer: busy, prefix: 'sectabs', query: { writer: 'off' } });
    await withArtifacts('secrets-two-tabs', tabs.pages, async () => {
      await sessionSecrets('two tabs', tabs.pages[0], tabs.user);
      // The tab whose engine met the conflict diagnoses it (the other may never see one).
      const diagnosed = await Promise.any(tabs.pages.map((p) => waitForGuardianEvent(p, 'diagnosis', 30_000).then(() => p)));
      assert.equal(await diagnosed.evaluate(() => window.demo.guardian.storm().diagnosis.kind), 'concurrent-writers');
      await encryptedMessage(diagnosed, 'two tabs');
      assert.ok((await roomKeys('two tabs', tabs.pages)) >= 1, 'the device holds a room key');
      await assertClean('two tabs', tabs.pages);
    });
    await tabs.pages[0].context().close();
  });

  test('store-loss prompt → sign out: server logout, stores cleared, reload to the login form', async () => {
    const run = await evictScenario(stack, { guardian: 'npm', windowMs: 1_000, peer: busy, prefix: 'secsignout', storeLoss: 'ask' });
    const { page, user } = run;
    await withArtifacts('secrets-sign-out', [page], async () => {
      await sessionSecrets('sign-out', page, user);
      await page.waitForSelector(`${PROMPT}[open] #remedy-sign-out`, { timeout: 30_000 });
      await assertClean('store-loss prompt', [page]);
      await Promise.all([page.waitForEvent('load', { timeout: 30_000 }), page.click(`${PROMPT} #remedy-sign-out`)]);
      await waitForAppState(page, 'login');
      assert.equal(await accessTokenOf(page), null, 'signed out: the session is gone from localStorage');
      await page.waitForFunction(() => typeof window.demo.guardian?.report === 'function', null, { timeout: 30_000 });
      // The journal of the signed-out session stays in the guardian's database, and the console kept
      // every line of both page loads.
      await assertClean('after sign-out', [page]);
    });
    await page.context().close();
  });

  test('a normal encrypted chat (writer lock on): npm on one side, the drop-in on the other, with its writer overlay in a second tab', async () => {
    const { hs, web, browser } = stack;
    const [alice, bob] = [await freshUser(hs, 'secalice'), await freshUser(hs, 'secbob')];
    const a = await newUserPage(browser, { baseUrl: web.url, homeserver: hs.baseUrl, guardian: 'npm', name: 'secrets-alice' });
    const b = await newUserPage(browser, { baseUrl: web.url, homeserver: hs.baseUrl, guardian: 'dropin', name: 'secrets-bob' });
    const pages = [a, b];
    await withArtifacts('secrets-chat', pages, async () => {
      await Promise.all([login(a, alice.localpart, alice.password, { timeout: LOGIN_TIMEOUT_MS }), login(b, bob.localpart, bob.password, { timeout: LOGIN_TIMEOUT_MS })]);
      await sessionSecrets('chat', a, alice);
      await sessionSecrets('chat', b, bob);
      assert.equal(await a.evaluate(() => window.demo.guardian.writer().isWriter), true, 'the writer lock is on');
      const roomId = await startDm(a, bob.userId);
      await waitForInvite(b, { roomId });
      await acceptInvite(b, roomId);
      busy.start();
      await sendMessage(a, 'hello bob');
      await waitForDecrypted(b, 'hello bob', 45_000);
      await sendMessage(b, 'hello alice');
      await waitForDecrypted(a, 'hello alice', 45_000);
      busy.stop();
      assert.ok((await roomKeys('chat', [a, b])) >= 2, "each side holds its own and the other side's room key");
      // Bob opens the chat in a second tab: the drop-in holds its crypto store and shows the writer overlay.
      const b2 = await newUserPage(browser, { baseUrl: web.url, homeserver: hs.baseUrl, guardian: 'dropin', name: 'secrets-bob-2', context: b.context() });
      pages.push(b2);
      await b2.waitForSelector('matrix-crypto-guardian-writer[data-state="elsewhere"]', { state: 'attached', timeout: 30_000 });
      await b2.waitForFunction(() => typeof window.demo.guardian?.report === 'function', null, { timeout: 30_000 });
      await assertClean('chat', pages);
    });
    await Promise.all([a.context().close(), b.context().close()]);
  });

  test('the secrets looked for were real: tokens, passwords, room keys, the passphrase', () => {
    const kinds = (kind) => secrets.filter((s) => s.kind === kind);
    assert.ok(kinds('access token').length >= 5 && kinds('access token').every((s) => s.value.length > 10 && s.value.startsWith('syt_')), 'real access tokens');
    assert.ok(kinds('password').length >= 5 && kinds('password').every((s) => s.value.length >= 8));
    assert.ok(kinds('room key').length >= 1, 'at least one room key');
    assert.ok(kinds('room key').every((s) => /^[A-Za-z0-9+/]{100,}$/.test(s.value)), 'room keys are base64 session keys');
    assert.equal(kinds('passphrase').length, 1);
    const summary = ['access token', 'password', 'room key', 'passphrase'].map((k) => `${kinds(k).length} × ${k}`).join(', ');
    console.log(`# secrets looked for: ${summary}; ${scanned.length} scans, ${scanned.reduce((n, s) => n + s.sources, 0)} sources, ${(scanned.reduce((n, s) => n + s.bytes, 0) / 1024).toFixed(0)} KiB`);
  });
});
