// The fetch tap against a hostile page and a hostile server: whatever the server answers and however the
// page calls fetch, the host sees exactly what it sees without the guardian (status, headers, body bytes,
// url, redirected, type, errors), the guardian never wedges, and its own replay while the breaker is open
// is the server's exact 400, marked by the x-matrix-crypto-guardian header.
//
// Every case runs twice in the same run against the same endpoint: once in a page without the guardian
// (`off`), once in a page where `await Guardian.start()` ran first (`on`). No Synapse: the server is
// tests/support/tap-harness.mjs on 127.0.0.1.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { launchBrowser } from '../support/browser.mjs';
import { GUARDIAN_HEADER_NAME, pageHelpers, startHostileServer, TEN_MB, UPLOAD_PATH } from '../support/tap-harness.mjs';

const AUTH = [
  ['content-type', 'application/json'],
  ['authorization', 'Bearer syt_hostile_test_token'],
  ['x-host', 'matrix-js-sdk'],
];

let counter = 0;
/** A keys/upload body with one key id of its own, so that every case is a different request. */
function uploadBody(label) {
  const id = `signed_curve25519:${label}${(counter += 1)}`;
  return { id, body: JSON.stringify({ one_time_keys: { [id]: { key: `k${label}`, signatures: {} } } }) };
}

describe('fetch tap: hostile answers and hostile callers', { timeout: 120_000 }, () => {
  let hs;
  let browser;
  const pages = [];

  // One page without the guardian and one with it, shared by the tests (each test uses key ids of its
  // own, so a breaker opened by one test never answers another's requests).
  let off;
  let on;
  before(async () => {
    hs = await startHostileServer();
    browser = await launchBrowser();
    off = await openPage();
    on = await openPage({ guardian: true });
  });
  after(async () => {
    await browser?.close();
    await hs?.close();
  });

  /**
   * A page on the hostile server with the test helpers; `guardian` starts the guardian first.
   * `hostWrap`: 'before' wraps window.fetch before the guardian starts, 'after' once it has.
   */
  async function openPage({ guardian, hostWrap } = {}) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const info = { page, console: [], pageErrors: [] };
    page.on('console', (m) => info.console.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => info.pageErrors.push(e.message));
    await page.addInitScript(pageHelpers);
    await page.goto(`${hs.url}/`);
    const wrap = () => {
      window.__hostCalls = [];
      const inner = window.fetch;
      window.fetch = function hostFetch(input, init) {
        const url = String(input instanceof Request ? input.url : input);
        if (!url.includes('/__seen')) window.__hostCalls.push(url.replace(location.origin, ''));
        // A host that answers one URL itself (a mock, a cache): its Response is what the caller gets.
        if (url.includes('case=host-mock')) {
          return Promise.resolve(new Response('{"mocked":true}', { status: 200, headers: { 'x-mock': '1' } }));
        }
        return inner.apply(this, arguments);
      };
    };
    if (hostWrap === 'before') await page.evaluate(wrap);
    if (guardian) {
      await page.evaluate(async () => {
        const { Guardian } = await import('/pkg/index.js');
        window.guardian = await Guardian.start();
      });
    }
    if (hostWrap === 'after') await page.evaluate(wrap);
    pages.push(info);
    return info;
  }

  const run = (info, spec) => info.page.evaluate((s) => window.__tap.run(s), spec);
  const storm = (info) => info.page.evaluate(() => window.guardian.storm());

  /** No page error, no unhandled rejection, no "internal error" line from the guardian. */
  async function assertClean(info, { internalErrorsAllowed = false } = {}) {
    assert.deepEqual(info.pageErrors, [], 'page errors');
    assert.deepEqual(await info.page.evaluate(() => window.__tap.errors), [], 'unhandled errors in the page');
    if (!internalErrorsAllowed) {
      assert.deepEqual(info.console.filter((l) => l.includes('[matrix-crypto-guardian] internal error')), [], 'guardian internal errors');
    }
  }

  /** Runs spec in the `off` page, then in the `on` page; asserts the host saw the same, and so did the server. */
  async function same(off, on, spec, what = spec.tag) {
    const mine = (from, to) => hs.log.slice(from, to).filter((e) => e.tag === spec.tag);
    const n0 = hs.log.length;
    const a = await run(off, spec);
    const n1 = hs.log.length;
    const b = await run(on, spec);
    const n2 = hs.log.length;
    assert.deepEqual(b, a, `${what}: the host sees the same with the guardian`);
    if (spec.tag) assert.deepEqual(mine(n1, n2), mine(n0, n1), `${what}: the server received the same request(s)`);
    return a;
  }

  test('keys/upload answered with HTML, cut JSON, 10 MB, a slow drip, wrong types, 204: the host sees the same, the tap keeps working', async () => {
    const cases = [
      'html502', 'truncated', 'cut', 'big', 'drip', 'text-plain', 'no-type', 'octet-200', 'html-200',
      'json-charset-latin1', 'empty204', 'empty-400', 'redirect307', 'ok',
    ];
    const seen = {};
    for (const c of cases) {
      const { body } = uploadBody(c.replace(/\W/g, ''));
      const tag = `answer-${c}`;
      seen[c] = await same(off, on, { url: `${UPLOAD_PATH}?case=${c}&tag=${tag}`, tag, method: 'POST', body, headers: 'object', headerPairs: AUTH }, c);
    }
    // What the host saw is what the server sent (spot checks of the hostile parts).
    assert.equal(seen.html502.status, 502);
    assert.match(seen.html502.head, /502 Bad Gateway/);
    assert.equal(seen.big.length, TEN_MB);
    assert.equal(seen.cut.bodyError.name, 'TypeError', 'a connection cut mid-body is a TypeError for the host');
    assert.equal(seen.empty204.status, 204);
    assert.equal(seen.empty204.length, 0);
    assert.equal(seen.redirect307.redirected, true);
    assert.equal(seen.drip.status, 400);
    assert.match(seen.drip.head, /already exists/);
    // Each request reached the server once per page: the guardian answered none of them itself.
    for (const c of cases) assert.equal(hs.requests(`answer-${c}`).length, 2 + (c === 'redirect307' ? 2 : 0), c);

    // The guardian read them all and still guards: the next conflict opens the breaker on its ids.
    const { id, body } = uploadBody('after');
    const spec = { url: `${UPLOAD_PATH}?case=conflict&tag=answer-after`, tag: 'answer-after', method: 'POST', body, headers: 'object', headerPairs: AUTH };
    await same(off, on, spec, 'conflict after the hostile answers');
    await on.page.waitForFunction((k) => window.guardian.storm().breaker.failingKeyIds.join() === k, id);
    const s = await storm(on);
    assert.equal(s.breaker.state, 'open');
    assert.ok(s.breaker.serverConflicts >= 5, `conflicts seen in the hostile answers too: ${JSON.stringify(s.breaker)}`);
    await assertClean(off);
    await assertClean(on);
  });

  test('requests that are not a keys/upload POST pass untouched: status, headers, bytes, url, redirected, type', async () => {
    const specs = [];
    for (const input of ['string', 'url', 'request']) {
      specs.push({ url: '/_matrix/client/v3/sync?case=echo&tag=plain-sync', tag: 'plain-sync', input, headers: 'headers', headerPairs: AUTH });
      specs.push({ url: '/_matrix/client/v3/keys/query?case=echo&tag=plain-query', tag: 'plain-query', input, method: 'POST', body: '{"device_keys":{}}', headers: 'array', headerPairs: AUTH });
      specs.push({ url: '/_matrix/client/v3/sync?case=redirect302&tag=plain-redirect', tag: 'plain-redirect', input });
      // keys/upload, but not a POST
      specs.push({ url: `${UPLOAD_PATH}?case=echo&tag=plain-put`, tag: 'plain-put', input, method: 'PUT', body: uploadBody('put').body, headers: 'object', headerPairs: AUTH });
      specs.push({ url: `${UPLOAD_PATH}?case=echo&tag=plain-get`, tag: 'plain-get', input });
      // an upload-looking path that is not the client-server keys/upload
      specs.push({ url: '/_matrix/client/v3/keys/uploadx?case=echo&tag=plain-x', tag: 'plain-x', input, method: 'POST', body: uploadBody('x').body });
    }
    const conflictsBefore = (await storm(on)).breaker.serverConflicts;
    for (const spec of specs) await same(off, on, spec, `${spec.tag} (${spec.input})`);
    const redirected = await run(on, { url: '/_matrix/client/v3/sync?case=redirect302&tag=plain-redirect', tag: 'plain-redirect' });
    assert.equal(redirected.redirected, true);
    assert.equal(redirected.type, 'basic');
    assert.match(redirected.url, /case=echo/);
    // The guardian saw no upload.
    assert.equal((await storm(on)).breaker.serverConflicts, conflictsBefore);
    await assertClean(off);
    await assertClean(on);
  });

  test('keys/upload made with a string, a URL, a Request (with a body), and headers as Headers / array / object: same answer, and the guardian reads every one', async () => {
    for (const input of ['string', 'url', 'request', 'request+init']) {
      for (const headers of ['headers', 'array', 'object']) {
        for (const bodyKind of ['string', 'blob', 'buffer']) {
          const { id, body } = uploadBody(`${input}${headers}${bodyKind}`.replace(/\W/g, ''));
          const tag = `input-${input.replace('+', '-')}-${headers}-${bodyKind}`;
          const spec = { url: `${UPLOAD_PATH}?case=conflict&tag=${tag}`, tag, input, method: 'POST', body, bodyKind, headers, headerPairs: AUTH };
          const seen = await same(off, on, spec, tag);
          assert.equal(seen.status, 400);
          const [req] = hs.requests(tag);
          assert.equal(req.bodyLength, body.length, `${tag}: the server got the whole body`);
          assert.equal(req.headers.authorization, AUTH[1][1], `${tag}: and the headers`);
          // The guardian parsed this request: its key id is now the one the breaker guards.
          await on.page.waitForFunction((k) => window.guardian.storm().breaker.failingKeyIds.join() === k, id);
        }
      }
    }
    await assertClean(off);
    await assertClean(on);
  });

  test('this-binding: fetch.call(window), a detached fetch, apply(null), Reflect.apply, call on a non-window', async () => {
    for (const call of ['call-window', 'detached', 'apply-null', 'reflect', 'call-object']) {
      const { body } = uploadBody(call.replace(/\W/g, ''));
      const up = { url: `${UPLOAD_PATH}?case=conflict&tag=this-${call}`, tag: `this-${call}`, method: 'POST', body, headers: 'object', headerPairs: AUTH, call };
      const seen = await same(off, on, up, `upload, ${call}`);
      const plain = { url: `/_matrix/client/v3/sync?case=echo&tag=this-plain-${call}`, tag: `this-plain-${call}`, call };
      await same(off, on, plain, `sync, ${call}`);
      if (call === 'call-object') assert.equal(seen.rejected?.name, 'TypeError', 'native fetch refuses a non-window `this`, and so does the tap');
      else assert.equal(seen.status, 400);
    }
    await assertClean(off);
    await assertClean(on);
  });

  test('AbortSignal: aborted in flight, before sending, and mid-body: the same AbortError; the guardian does not wedge', async () => {
    const upload = (tag, extra) => ({ url: `${UPLOAD_PATH}?case=${extra.case}&tag=${tag}`, tag, method: 'POST', body: uploadBody(tag.replace(/\W/g, '')).body, headers: 'object', headerPairs: AUTH, ...extra });

    const inFlight = await same(off, on, upload('abort-in-flight', { case: 'hang', signal: 'abort-when-seen' }), 'upload aborted while the server holds it');
    assert.equal(inFlight.rejected?.name, 'AbortError');
    const pre = await same(off, on, upload('abort-pre', { case: 'ok', signal: 'pre-aborted' }), 'upload with an already aborted signal');
    assert.equal(pre.rejected?.name, 'AbortError');
    const midBody = await same(off, on, upload('abort-mid-body', { case: 'partial-hang', signal: 'abort-mid-body' }), 'upload aborted while its body is read');
    assert.equal(midBody.bodyError?.name, 'AbortError');
    const plain = await same(off, on, { url: '/_matrix/client/v3/sync?case=hang&tag=abort-sync', tag: 'abort-sync', signal: 'abort-when-seen' }, 'sync aborted in flight');
    assert.equal(plain.rejected?.name, 'AbortError');

    // The breaker open on a request, then that same request with an aborted signal: still the AbortError,
    // not the replay (the host asked for nothing).
    const { id: openId, body } = uploadBody('abortopen');
    const failing = { url: `${UPLOAD_PATH}?case=conflict&tag=abort-open`, tag: 'abort-open', method: 'POST', body, headers: 'object', headerPairs: AUTH };
    await same(off, on, failing, 'the conflict that opens the breaker');
    await on.page.waitForFunction((k) => window.guardian.storm().breaker.failingKeyIds.join() === k, openId);
    const abortedWhileOpen = await same(off, on, { ...failing, signal: 'pre-aborted' }, 'the failing request, aborted, while the breaker is open');
    assert.equal(abortedWhileOpen.rejected?.name, 'AbortError');

    // Not wedged: a later upload reaches the server and its answer reaches the host.
    const later = await same(off, on, upload('abort-later', { case: 'ok' }), 'a later upload');
    assert.equal(later.status, 200);
    assert.equal(hs.requests('abort-later').length, 2);
    await assertClean(off);
    await assertClean(on);
  });

  test('an upload aborted while it waits (for the core, for a hold, for the previous answer) rejects at once with the signal\'s reason; nothing is sent', async () => {
    // In the page: starts an upload, aborts it 50 ms later with a reason of the host's own, and tells
    // whether the rejection was that very reason and how long the fetch took to settle. `giveUpMs`: a
    // wait longer than any of the tap's own (the hold never ends): the fetch is then still pending.
    const abortWhileWaiting = (page, { tag, body, giveUpMs = 15_000 }) =>
      page.evaluate(
        async ({ url, body, headerPairs, giveUpMs }) => {
          const controller = new AbortController();
          const reason = new Error('the host gave up');
          const started = performance.now();
          const fetching = fetch(url, { method: 'POST', body, headers: Object.fromEntries(headerPairs), signal: controller.signal }).then(
            (r) => ({ settled: 'resolved', status: r.status }),
            (e) => ({ settled: 'rejected', sameReason: e === reason, name: e && e.name }),
          );
          setTimeout(() => controller.abort(reason), 50);
          const out = await Promise.race([fetching, new Promise((r) => setTimeout(r, giveUpMs, { settled: 'still waiting' }))]);
          return { ...out, ms: performance.now() - started };
        },
        { url: `${UPLOAD_PATH}?case=ok&tag=${tag}`, body, headerPairs: AUTH, giveUpMs },
      );
    const context = await browser.newContext();
    const fresh = async () => {
      const page = await context.newPage();
      await page.addInitScript(pageHelpers);
      await page.goto(`${hs.url}/`);
      return page;
    };

    // 1. Waiting for the core: the tap is installed, no core has attached yet (it waits up to 10 s).
    const early = await fresh();
    await early.evaluate(async () => {
      const { installFetchTap } = await import('/pkg/fetch-tap.js');
      window.tapOnly = installFetchTap(window);
    });
    const core = await abortWhileWaiting(early, { tag: 'abort-wait-core', body: uploadBody('abortcore').body });
    assert.equal(core.settled, 'rejected', JSON.stringify(core));
    assert.equal(core.sameReason, true, 'rejected with the signal\'s own reason');
    assert.ok(core.ms < 10_000, `settled before the tap's own wait for the core ended (${Math.round(core.ms)} ms)`);
    assert.equal(await early.evaluate(() => window.tapOnly.attached), false, 'the core never attached meanwhile');

    // 2. Held: a store loss at start holds key uploads until the user chooses (here: never).
    const held = await fresh();
    const verdict = await held.evaluate(async () => {
      const name = 'mcg-abort::matrix-sdk-crypto';
      await new Promise((resolve, reject) => {
        const req = indexedDB.open(name, 1);
        req.onupgradeneeded = () => req.result.createObjectStore('core'); // a store without an account
        req.onsuccess = () => (req.result.close(), resolve());
        req.onerror = () => reject(req.error);
      });
      const { Guardian } = await import('/pkg/index.js');
      window.guardian = await Guardian.start({
        session: { userId: '@abort:hs.invalid', deviceId: 'ABORTDEV' },
        cryptoStores: [name],
        cryptoStorePrefix: name,
        prompt: false,
        persist: false,
        ownDatabaseName: 'mcg-abort-own',
      });
      return window.guardian.storeCheck().verdict;
    });
    assert.equal(verdict, 'store-lost', 'precondition: uploads are held');
    const hold = await abortWhileWaiting(held, { tag: 'abort-wait-hold', body: uploadBody('aborthold').body });
    assert.equal(hold.settled, 'rejected', `an aborted upload does not wait for the hold to end: ${JSON.stringify(hold)}`);
    assert.equal(hold.sameReason, true, 'rejected with the signal\'s own reason');

    // 3. Waiting for the previous upload's answer, whose body never ends (the tap waits up to 2 s for it).
    const busy = await fresh();
    await busy.evaluate(async ({ url, body, headerPairs }) => {
      const { Guardian } = await import('/pkg/index.js');
      window.guardian = await Guardian.start({ persist: false, prompt: false, ownDatabaseName: 'mcg-abort-own-2' });
      window.firstUpload = new AbortController();
      const r = await fetch(url, { method: 'POST', body, headers: Object.fromEntries(headerPairs), signal: window.firstUpload.signal });
      window.firstStatus = r.status; // its body hangs half-way: the tap is still reading its copy
    }, { url: `${UPLOAD_PATH}?case=partial-hang&tag=abort-wait-first`, body: uploadBody('abortfirst').body, headerPairs: AUTH });
    const previous = await abortWhileWaiting(busy, { tag: 'abort-wait-previous', body: uploadBody('abortprev').body });
    assert.equal(previous.settled, 'rejected', JSON.stringify(previous));
    assert.equal(previous.sameReason, true, 'rejected with the signal\'s own reason');
    assert.ok(previous.ms < 2_000, `settled before the tap's own wait for the previous answer ended (${Math.round(previous.ms)} ms)`);
    await busy.evaluate(() => window.firstUpload.abort());

    // Nothing of the aborted uploads reached the server; the first upload did.
    for (const tag of ['abort-wait-core', 'abort-wait-hold', 'abort-wait-previous']) {
      assert.equal(await early.evaluate((t) => window.__tap.seenCount(t), tag), 0, `${tag}: the server received nothing`);
    }
    assert.equal(hs.requests('abort-wait-first').length, 1);
    for (const page of [early, held, busy]) assert.deepEqual(await page.evaluate(() => window.__tap.errors), [], 'no unhandled errors');
    await early.evaluate(() => window.tapOnly.abandon());
    await context.close();
  });

  test('a streaming request body (ReadableStream, duplex half) to keys/upload: the same outcome with the guardian', async (t) => {
    // Pages of its own: the tap may log one internal-error line here, which the other tests forbid.
    const off = await openPage();
    const on = await openPage({ guardian: true });
    for (const input of ['string', 'request']) {
      const { body } = uploadBody(`stream${input}`);
      const tag = `stream-${input}`;
      const seen = await same(off, on, { url: `${UPLOAD_PATH}?case=conflict&tag=${tag}`, tag, input, method: 'POST', body, bodyKind: 'stream', headers: 'object', headerPairs: AUTH }, tag);
      // Whatever the browser does with a streamed upload over HTTP/1.1, the guardian changes nothing (same()
      // above), and what it does is one of two outcomes: it refuses the stream (a TypeError, nothing sent),
      // or the server gets the whole stream, both times, and answers it.
      const sent = hs.requests(tag);
      const outcome = { rejected: seen.rejected?.name ?? null, status: seen.status ?? null, sent: sent.length, lengths: sent.map((r) => r.bodyLength) };
      t.diagnostic(`${tag}: ${JSON.stringify(outcome)}`);
      const refused = outcome.rejected === 'TypeError' && outcome.sent === 0;
      const delivered = outcome.status === 400 && outcome.sent === 2 && outcome.lengths.every((n) => n === body.length);
      assert.ok(refused || delivered, `${tag}: neither refused unsent nor delivered whole: ${JSON.stringify(outcome)}`);
    }
    await assertClean(off);
    // The tap cannot read a stream without consuming it, so it lets the request through unguarded and
    // may say so once on the console; nothing else.
    await assertClean(on, { internalErrorsAllowed: true });
  });

  test('a host that wraps fetch before the guardian starts, and one that wraps after', async () => {
    const off = await openPage({ hostWrap: 'before' });
    const before = await openPage({ guardian: true, hostWrap: 'before' });
    const afterWrap = await openPage({ guardian: true, hostWrap: 'after' });
    const { body } = uploadBody('wrap');
    const { body: mockBody } = uploadBody('mock');
    const results = {};
    for (const [name, info] of [['off', off], ['before', before], ['after', afterWrap]]) {
      const tag = `wrap-${name}`;
      const spec = { url: `${UPLOAD_PATH}?case=conflict&tag=${tag}`, tag, method: 'POST', body, headers: 'object', headerPairs: AUTH };
      const first = await run(info, spec);
      if (name !== 'off') await info.page.waitForFunction(() => window.guardian.storm().breaker.state === 'open');
      const second = await run(info, spec);
      const plain = await run(info, { url: '/_matrix/client/v3/sync?case=echo&tag=wrap-plain' });
      const mock = await run(info, { url: `${UPLOAD_PATH}?case=host-mock&tag=wrap-mock`, method: 'POST', body: mockBody });
      const calls = await info.page.evaluate(() => window.__hostCalls);
      results[name] = { first, second, plain, mock, calls, served: hs.requests(tag).length };
    }
    const { off: o, before: b, after: a } = results;
    // The server's first 400 is the same everywhere (but for the ?tag= in its url), and so is the replay's body.
    const noUrl = ({ url, ...rest }) => rest;
    assert.deepEqual(noUrl(b.first), noUrl(o.first));
    assert.deepEqual(noUrl(a.first), noUrl(o.first));
    for (const r of [b.second, a.second]) {
      assert.equal(r.status, 400);
      assert.equal(r.sha256, o.first.sha256, 'the replay is the server\'s answer, byte for byte');
      assert.ok(r.headers.some(([k]) => k === GUARDIAN_HEADER_NAME), 'the replay is marked');
    }
    assert.deepEqual(o.second, o.first, 'without the guardian the server answers again');
    assert.ok(!o.second.headers.some(([k]) => k === GUARDIAN_HEADER_NAME));
    assert.equal(o.served, 2);
    assert.equal(b.served, 1);
    assert.equal(a.served, 1);
    // Other requests, and the host's own mocked answer, are untouched either way.
    assert.deepEqual(b.plain, o.plain);
    assert.deepEqual(a.plain, o.plain);
    assert.deepEqual(b.mock, o.mock);
    assert.deepEqual(a.mock, o.mock);
    // Wrapped before: the guardian sits inside the host's wrapper's view (the replay never reaches it);
    // wrapped after: the host's wrapper sees every call, replay included.
    const uploads = (calls) => calls.filter((u) => u.includes('case=conflict')).length;
    assert.equal(uploads(o.calls), 2);
    assert.equal(uploads(b.calls), 1);
    assert.equal(uploads(a.calls), 2);
    for (const info of [off, before, afterWrap]) await assertClean(info);
  });

  test('breaker open: identical retries are answered with the server\'s exact 400 bytes and the x-matrix-crypto-guardian header', async () => {
    const { id, body } = uploadBody('replay');
    const spec = { url: `${UPLOAD_PATH}?case=conflict&tag=replay`, tag: 'replay', method: 'POST', body, headers: 'object', headerPairs: AUTH };
    const first = await same(off, on, spec, 'the first conflict');
    assert.equal(first.status, 400);
    assert.ok(!first.headers.some(([k]) => k === GUARDIAN_HEADER_NAME));
    await on.page.waitForFunction((k) => window.guardian.storm().breaker.failingKeyIds.join() === k, id);
    const localBefore = (await storm(on)).breaker.localAnswers;
    for (let i = 0; i < 3; i++) {
      const server = await run(off, spec);
      const local = await run(on, spec);
      assert.deepEqual(server, first, 'without the guardian: the server again');
      assert.equal(local.status, 400);
      assert.equal(local.length, first.length);
      assert.equal(local.sha256, first.sha256, 'the replay is byte for byte the server\'s answer');
      const marker = local.headers.find(([k]) => k === GUARDIAN_HEADER_NAME);
      assert.ok(marker, `the replay carries ${GUARDIAN_HEADER_NAME}`);
      assert.match(marker[1], /replay/);
    }
    assert.equal(hs.requests('replay').length, 1 + 1 + 3, 'the guardian page reached the server once, the other page every time');
    const s = await storm(on);
    assert.equal(s.breaker.state, 'open');
    assert.equal(s.breaker.localAnswers, localBefore + 3);
    assert.deepEqual(s.breaker.failingKeyIds, [id]);
    // A different request still reaches the server while the breaker is open.
    const other = await same(off, on, { ...spec, tag: 'replay-other', url: `${UPLOAD_PATH}?case=ok&tag=replay-other`, body: uploadBody('other').body }, 'another upload while open');
    assert.equal(other.status, 200);
    await assertClean(off);
    await assertClean(on);
  });
});
