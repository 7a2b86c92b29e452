// The one-time-key scenarios on the SDK versions that broke them (tests/sdk-versions/), shared by the e2e
// tests (short windows) and the bench (long ones). Real Synapse, real matrix-js-sdk + crypto wasm of those
// versions in Chromium; the server's access log counts what reached it, its own answers say what it holds.
import { LOGIN_TIMEOUT_MS, evictScenario, freshUser, guardianView } from './scenarios.mjs';
import { login, newUserPage } from './browser.mjs';
import { ensureSdkPage, sdkPagePath } from './sdk-versions.mjs';

const UPLOAD = { method: 'POST', pathIncludes: '/keys/upload' };
/** matrix-js-sdk 40.0.0: re-sent a failing keys/upload about 20 times a second (40.1.0: once per sync). */
export const TIGHT_LOOP_SDK = 'js-sdk-40.0.0';
/** matrix-js-sdk 42.1.0 (before PR 5503) with crypto-wasm 18.6.0: 50 new OTKs after nearly every sync (issue 5501). */
export const INFLATION_SDK = 'js-sdk-42.1.0-wasm-18.6.0';

/** What the page's guardian says about one-time keys (null without a guardian). */
export async function otkView(page) {
  return page.evaluate(() => {
    const g = window.demo && window.demo.guardian;
    return g && typeof g.otkHealth === 'function' ? g.otkHealth() : null;
  });
}

/**
 * The evict scenario (store loss under the old device id) on matrix-js-sdk 40.0.0's page, with the peer's
 * room joined but quiet: no message wakes a /sync, so an SDK that retries once per sync (40.1.0 and later)
 * sends the failing upload a few times at most, while 40.0.0 re-sends it as fast as the answers come.
 */
export async function tightLoopScenario(stack, { guardian, windowMs, peer, prefix = 'tight' }) {
  await ensureSdkPage(TIGHT_LOOP_SDK);
  const quiet = { roomId: peer.roomId, peer: peer.peer, start() {}, stop() {} };
  return evictScenario(stack, { guardian, windowMs, peer: quiet, prefix: `${prefix}${guardian}`, path: sdkPagePath(TIGHT_LOOP_SDK) });
}

/**
 * *OTK inflation*: a fresh user logs in on the matrix-js-sdk 42.1.0 + crypto-wasm 18.6.0 page; a peer sends
 * this device a to-device message `perSecond` times a second (each sync that carries one makes the SDK
 * believe the server holds no one-time keys) until the window ends or, with `untilAttempts`, until the SDK
 * has tried that many uploads over the server's cap (refused by the server, or answered with its refusal). Returns what reached the server (accepted and refused
 * uploads), what it holds at the end, and what the guardian says.
 */
export async function inflationScenario(stack, { guardian, windowMs, perSecond = 3, untilAttempts = Infinity, prefix = 'inflate' }) {
  const { hs, web, browser } = stack;
  const { path } = await ensureSdkPage(INFLATION_SDK);
  const user = await freshUser(hs, `${prefix}${guardian}`);
  const sender = await freshUser(hs, `${prefix}peer`);
  const page = await newUserPage(browser, { baseUrl: web.url, homeserver: hs.baseUrl, guardian, name: `${prefix}-${guardian}`, path });
  const { deviceId } = await login(page, user.localpart, user.password, { timeout: LOGIN_TIMEOUT_MS });
  const since = hs.mark();
  let sent = 0;
  const timer = setInterval(() => {
    const txn = `otk${Date.now()}${sent}`;
    hs.api('PUT', `/_matrix/client/v3/sendToDevice/org.example.ping/${txn}`, {
      token: sender.accessToken,
      body: { messages: { [user.userId]: { [deviceId]: { n: sent } } } },
    }).then(() => sent++, () => {});
  }, 1000 / perSecond);
  const refused = () => hs.countRequests({ ...UPLOAD, status: 400, user: user.userId, since });
  // Attempts over the cap: those that reached the server plus those the guardian answered with its refusal.
  const attempts = async () => refused() + ((await guardianView(page))?.storm.breaker.localAnswers ?? 0);
  const until = Date.now() + windowMs;
  while (Date.now() < until && (await attempts()) < untilAttempts) await page.waitForTimeout(250);
  clearInterval(timer);
  // Counted before our own look at the server below (itself a keys/upload without keys).
  const accepted = hs.countRequests({ ...UPLOAD, status: 200, user: user.userId, since });
  const refusals = refused();
  const token = await page.evaluate(() => localStorage.getItem('cinny_access_token'));
  const { one_time_key_counts: counts } = await hs.api('POST', '/_matrix/client/v3/keys/upload', { token, body: {} });
  return {
    user,
    deviceId,
    page,
    since,
    toDevice: sent,
    accepted,
    refusals,
    serverCount: counts.signed_curve25519 ?? 0,
    otk: await otkView(page),
    guardian: await guardianView(page),
  };
}

/**
 * *store mismatch*: the user's device 2 has its keys on the server (another browser); in this browser
 * device 1 is logged in, so its store holds device 1's account. The session is then switched to device 2
 * (a multi-account client's slip) and the page reloaded with `?onStoreMismatch=reset`: initRustCrypto()
 * refuses the store, the client deletes it and starts again under device 2's id — a store loss it makes
 * itself: device 2's keys on the server no longer match. The peer keeps the account busy for `windowMs`.
 */
export async function storeMismatchScenario(stack, { guardian, windowMs, peer, prefix = 'mismatch' }) {
  const { hs, web, browser } = stack;
  const user = await freshUser(hs, `${prefix}${guardian}`);
  const opts = { baseUrl: web.url, homeserver: hs.baseUrl, guardian };
  const other = await newUserPage(browser, { ...opts, guardian: 'off', name: `${prefix}-other` });
  const second = await login(other, user.localpart, user.password, { timeout: LOGIN_TIMEOUT_MS });
  await hs.waitForRequests({ ...UPLOAD, status: 200, user: user.userId }, 1);
  const secondSession = await other.evaluate(() => ({ token: localStorage.getItem('cinny_access_token'), device: localStorage.getItem('cinny_device_id') }));
  await other.close();
  const page = await newUserPage(browser, { ...opts, name: `${prefix}-${guardian}`, query: { onStoreMismatch: 'reset', storeLoss: 'continue' } });
  const first = await login(page, user.localpart, user.password, { timeout: LOGIN_TIMEOUT_MS });
  await page.evaluate((roomId) => window.demo.client.joinRoom(roomId), peer.roomId);
  await page.evaluate((s) => {
    localStorage.setItem('cinny_access_token', s.token);
    localStorage.setItem('cinny_device_id', s.device);
  }, secondSession);
  const since = hs.mark();
  await page.reload();
  peer.start();
  await page.waitForTimeout(windowMs);
  peer.stop();
  const conflicts = hs.countRequests({ ...UPLOAD, status: 400, user: user.userId, since });
  return { user, page, since, conflicts, devices: [first.deviceId, second.deviceId], guardian: await guardianView(page) };
}
