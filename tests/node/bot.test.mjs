// The guardian in Node.js (issue 20): run with Node >= 22 (scripts/test.sh: "engine node"). Everything is
// real: Synapse on 127.0.0.1, examples/bot/bot.mjs (matrix-js-sdk 43, rust crypto, fake-indexeddb) as a
// child process, a peer on matrix-js-sdk in this process. The server's own access log counts the
// conflicting uploads that reached it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import * as sdk from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";
import { startHomeserver } from "../support/homeserver.mjs";

const ROOT = new URL("../../", import.meta.url).pathname;
const BOT = join(ROOT, "examples/bot/bot.mjs");
const PKG = join(ROOT, "pkg/index.js");
const CONFLICTS = { method: "POST", pathIncludes: "/keys/upload", status: 400 };
// Limits, not measurements: a loaded 2-core machine compiles matrix-sdk-crypto-wasm slowly.
const STEP_MS = 60_000;

// The peer's SDK chatter: child loggers (created later at debug level) take the root's method factory.
const sdkMethods = logger.methodFactory;
logger.methodFactory = (method, ...rest) => (method === "warn" || method === "error" ? sdkMethods(method, ...rest) : () => {});
logger.rebuild();
let hs;
before(async () => {
  hs = await startHomeserver();
});
after(async () => {
  await hs?.stop();
});

/** The bot as a child process on this Node; its JSON lines, waitable. */
function runBot({ user, password, data, flags = [] }) {
  const child = spawn(process.execPath, [BOT, "--data", data, ...flags], {
    env: { ...process.env, MCG_HOMESERVER: hs.baseUrl, MCG_BOT_USER: user, MCG_BOT_PASSWORD: password, MCG_GUARDIAN_MODULE: PKG },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines = [];
  const waiters = [];
  let output = "";
  let buffer = "";
  child.stdout.on("data", (chunk) => {
    output += chunk;
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      let line;
      try {
        line = JSON.parse(text);
      } catch {
        continue;
      }
      lines.push(line);
      for (const w of [...waiters]) if (w.match(line)) w.resolve(line);
    }
  });
  child.stderr.on("data", (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return {
    lines,
    get output() {
      return output;
    },
    exited,
    /** The first line (seen or to come) that matches. */
    waitFor(match, what, timeout = STEP_MS) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`bot: no ${what} within ${timeout} ms\n${output.slice(-3000)}`)), timeout);
        waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) });
        exited.then(({ code, signal }) => {
          clearTimeout(timer);
          reject(new Error(`bot exited (${code ?? signal}) before ${what}\n${output.slice(-3000)}`));
        });
      });
    },
    /** SIGTERM: the bot prints its storm state and report, then exits; "alive" if it did not. */
    async stop(timeout = 20_000) {
      child.kill("SIGTERM");
      const timer = new Promise((resolve) => setTimeout(resolve, timeout, "alive"));
      const ended = await Promise.race([exited, timer]);
      if (ended === "alive") child.kill("SIGKILL");
      return ended;
    },
  };
}

function quietLogger() {
  const quiet = { trace() {}, debug() {}, info() {}, log() {}, warn() {}, error() {} };
  return { ...quiet, getChild: () => quiet };
}

/** A peer on matrix-js-sdk with rust crypto (in memory) in this process, with an encrypted room and a busy one. */
async function startPeer(prefix) {
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const bot = await hs.registerUser(`${prefix}bot${Date.now().toString(36)}`, password);
  const peerUser = await hs.registerUser(`${prefix}peer${Date.now().toString(36)}`, "peer-pw");
  const client = sdk.createClient({ baseUrl: hs.baseUrl, ...peerUser, logger: quietLogger() });
  await client.initRustCrypto({ useIndexedDB: false });
  const synced = new Promise((resolve) => client.once(sdk.ClientEvent.Sync, resolve));
  await client.startClient({ initialSyncLimit: 0 });
  await synced;
  const { room_id: roomId } = await client.createRoom({
    invite: [bot.userId],
    initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
  });
  // Plain messages in a second room keep the bot's syncs short: the SDK retries a failed upload per sync.
  const { room_id: busyRoom } = await client.createRoom({ invite: [bot.userId] });
  let busy = null;
  let sent = 0;
  return {
    bot: { userId: bot.userId, localpart: bot.userId.slice(1).split(":")[0], password },
    roomId,
    async waitForJoin() {
      for (let t = Date.now(); Date.now() - t < STEP_MS; ) {
        if (client.getRoom(roomId)?.getMember(bot.userId)?.membership === "join") return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error("the bot did not join");
    },
    send: (text) => client.sendTextMessage(roomId, text),
    /** Until the peer's crypto knows the bot's device `deviceId` (its keys on the server, the device list synced). */
    async waitForDevice(deviceId) {
      for (let t = Date.now(); Date.now() - t < STEP_MS; ) {
        const devices = (await client.getCrypto().getUserDeviceInfo([bot.userId], true)).get(bot.userId);
        if (devices?.has(deviceId)) return;
        await new Promise((r) => setTimeout(r, 300));
      }
      throw new Error(`the peer never saw device ${deviceId}`);
    },
    keepBusy() {
      busy ??= setInterval(() => client.sendTextMessage(busyRoom, `busy ${sent++}`).catch(() => {}), 250);
    },
    stop() {
      clearInterval(busy);
      client.stopClient();
    },
  };
}

/** The bot's first life: logs in with its fixed device id, joins, decrypts "hello 1", stops. */
async function firstLife(peer, data) {
  const bot = runBot({ user: peer.bot.localpart, password: peer.bot.password, data });
  const ready = await bot.waitFor((l) => l.event === "ready", "ready");
  assert.equal(ready.deviceId, "ECHOBOT");
  await bot.waitFor((l) => l.event === "joined" && l.roomId === peer.roomId, "join");
  await peer.waitForJoin();
  await peer.waitForDevice("ECHOBOT");
  await peer.send("hello 1");
  await bot.waitFor((l) => l.event === "message" && l.body === "hello 1", "hello 1 decrypted");
  assert.notEqual(await bot.stop(), "alive", "the first life stops on SIGTERM");
  return bot;
}

function devicesOf(accessToken) {
  return hs.api("GET", "/_matrix/client/v3/devices", { token: accessToken }).then((r) => r.devices.map((d) => d.device_id));
}

test("Guardian.start() in Node: the wasm from the package's files, no browser parts, stop() lets the process end", async () => {
  const script = `
    const { Guardian } = await import(${JSON.stringify(PKG)});
    const before = globalThis.fetch;
    const g = await Guardian.start({ prompt: false });
    const out = { version: g.version, tapped: globalThis.fetch !== before, again: (await Guardian.start()) === g };
    out.writer = await g.acquireWriter();
    out.stolen = await g.acquireWriter({ mode: "steal" });
    out.writerState = g.writer();
    out.persistence = g.persistence();
    out.prompt = g.openPrompt();
    out.storeCheck = g.storeCheck();
    out.signOut = await g.runRemedy("sign-out").then(() => "ran", (e) => e.message);
    out.journal = await g.journal().then((j) => ({ signatures: j.entries.map((e) => e.signature) }), (e) => ({ error: String(e) }));
    await g.stop();
    out.restored = globalThis.fetch === before;
    out.restarted = (await Guardian.start()) !== g;
    await (await Guardian.start()).stop();
    console.log(JSON.stringify(out));`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const ended = await Promise.race([
    new Promise((resolve) => child.on("exit", (code) => resolve(code))),
    new Promise((resolve) => setTimeout(resolve, 30_000, "alive")),
  ]);
  if (ended === "alive") child.kill("SIGKILL");
  assert.equal(ended, 0, `the process ends by itself, cleanly\n${out}\n${err}`);
  assert.equal(err, "", "no warnings or errors");
  const r = JSON.parse(out.trim().split("\n").pop());
  assert.match(r.version, /^\d+\.\d+\.\d+/);
  assert.equal(r.tapped, true, "Node's global fetch (matrix-js-sdk's) is wrapped");
  assert.equal(r.again, true, "one guardian per process");
  assert.equal(r.writer, true);
  assert.equal(r.stolen, true);
  assert.deepEqual([r.writerState.mechanism, r.writerState.role, r.writerState.isWriter], ["process", "writer", true]);
  assert.deepEqual([r.persistence.supported, r.persistence.outcome], [false, "unsupported"]);
  assert.equal(r.prompt, false, "no prompt without a page");
  assert.equal(r.storeCheck.verdict, "not-checked", "a bot's store is checked with checkBotStore()");
  assert.match(r.signOut, /in Node\.js use replaceDevice/, "the page's sign-out (clears browser storage, reloads) is refused");
  assert.ok(r.journal.signatures?.includes("writer-acquired"), `the journal (the lazily loaded module, from the package's files too): ${JSON.stringify(r.journal)}`);
  assert.equal(r.restored, true, "stop() puts Node's fetch back");
  assert.equal(r.restarted, true, "start() after stop() starts a new guardian");
});

test("checkBotStore reads a real store and the server's real keys; replaceDevice refuses what is not a new device", async () => {
  const password = "pw-check";
  const { userId } = await hs.registerUser(`check${Date.now().toString(36)}`, password);
  const script = `
    import "fake-indexeddb/auto";
    const { Guardian } = await import(${JSON.stringify(PKG)});
    const sdk = await import("matrix-js-sdk");
    (await import("matrix-js-sdk/lib/logger.js")).logger.setLevel("error");
    const homeserver = process.env.HS;
    const login = async (deviceId) => {
      const r = await fetch(homeserver + "/_matrix/client/v3/login", { method: "POST", body: JSON.stringify({
        type: "m.login.password", identifier: { type: "m.id.user", user: process.env.BOT_USER }, password: process.env.BOT_PASSWORD, device_id: deviceId }) });
      return r.json();
    };
    const first = await login("PROBE");
    const session = { homeserver, userId: first.user_id, deviceId: first.device_id, accessToken: first.access_token };
    const g = await Guardian.start({ prompt: false });
    const out = { first: await g.checkBotStore({ ...session, indexedDB }) };
    const quiet = { trace() {}, debug() {}, info() {}, log() {}, warn() {}, error() {} };
    const client = sdk.createClient({ baseUrl: homeserver, ...session, logger: { ...quiet, getChild: () => quiet } });
    await client.initRustCrypto();
    await client.startClient({ initialSyncLimit: 0 });
    for (let i = 0; i < 300 && !out.uploaded; i++) {
      const q = await fetch(homeserver + "/_matrix/client/v3/keys/query", { method: "POST", headers: { authorization: "Bearer " + session.accessToken },
        body: JSON.stringify({ device_keys: { [session.userId]: ["PROBE"] } }) }).then((r) => r.json());
      out.uploaded = q.device_keys?.[session.userId]?.PROBE?.keys?.["ed25519:PROBE"];
      if (!out.uploaded) await new Promise((r) => setTimeout(r, 200));
    }
    out.healthy = await g.checkBotStore({ ...session, indexedDB });
    out.inMemory = await g.checkBotStore({ ...session, indexedDB: null });
    out.badToken = await g.checkBotStore({ ...session, accessToken: "not-a-token", indexedDB: null });
    out.inMemoryAgain = await g.checkBotStore({ ...session, indexedDB: null });
    client.stopClient();
    out.sameDevice = await g.replaceDevice({ login: () => login("PROBE") }).then(() => "accepted", (e) => e.message);
    out.afterRefusal = g.storeCheck().verdict;
    out.journal = (await g.journal()).entries.map((e) => e.message).join(" | ");
    await g.stop();
    console.log(JSON.stringify(out));
    process.exit(0); // matrix-js-sdk leaves timers after stopClient()`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    cwd: ROOT,
    env: { ...process.env, HS: hs.baseUrl, BOT_USER: userId.slice(1).split(":")[0], BOT_PASSWORD: password },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const code = await new Promise((resolve) => child.on("exit", resolve));
  assert.equal(code, 0, `${out}\n${err}`);
  const r = JSON.parse(out.trim().split("\n").pop());
  assert.equal(r.first.verdict, "new-device", "before the first upload the server has no keys for the device");
  assert.ok(r.uploaded, "the client uploaded its keys");
  assert.equal(r.healthy.verdict, "healthy");
  assert.equal(r.healthy.account, "present", "the probe read the rust store's account key name through fake-indexeddb");
  assert.equal(r.healthy.serverIdentity, r.uploaded);
  assert.equal(r.inMemory.verdict, "store-lost", "an in-memory store starts blank while the server has the device's keys");
  assert.equal(r.inMemory.knownIdentity, r.uploaded, "the identity the server has for the device");
  assert.deepEqual([r.inMemory.missing, r.inMemory.emptyStore], [[], null]);
  assert.equal(r.badToken.verdict, "unknown");
  assert.match(r.badToken.reason, /401 \(M_UNKNOWN_TOKEN\)/);
  assert.match(r.sameDevice, /PROBE again: a replacement needs a new device id/, "never a fake success");
  assert.equal(r.afterRefusal, "store-lost", "uploads stay held after a refusal");
  assert.match(r.journal, /replace-device stopped/);
  assert.ok(!out.includes("syt_") && !err.includes("syt_"), "no token in the output");
});

/**
 * The bot's first life, its data folder wiped, then its second life with `flags` while the peer keeps it
 * busy; `check` gets `{ peer, bot, first, since, oldToken, data }` (`since`: the log mark at the wipe).
 */
async function secondLife(prefix, flags, check) {
  const peer = await startPeer(prefix);
  const data = mkdtempSync(join(tmpdir(), "mcg-bot-"));
  try {
    const first = await firstLife(peer, data);
    const oldToken = sessionIn(data).accessToken;
    rmSync(data, { recursive: true, force: true }); // the data folder wiped; the store was in the process anyway
    const since = hs.mark();
    peer.keepBusy();
    const bot = runBot({ user: peer.bot.localpart, password: peer.bot.password, data, flags });
    await check({ peer, bot, first, since, oldToken, data });
  } finally {
    peer.stop();
    rmSync(data, { recursive: true, force: true });
  }
}

function sessionIn(data) {
  return JSON.parse(readFileSync(join(data, "session.json"), "utf8"));
}

test("a bot whose store was wiped: the guardian signs the old device out, a new device logs in, 0 conflicting uploads, the peer's new message decrypts", () =>
  secondLife("g", [], async ({ peer, bot, first, since, oldToken, data }) => {
    assert.equal(first.lines.find((l) => l.event === "guardian")?.verdict, "new-device", "a first start is a new device");
    const check = await bot.waitFor((l) => l.event === "guardian" && l.verdict, "the store check");
    assert.equal(check.verdict, "store-lost");
    assert.equal(check.deviceId, "ECHOBOT");
    assert.match(check.reason, /ECHOBOT.*on the server.*not there/);
    assert.deepEqual(check.missing, ["matrix-js-sdk::matrix-sdk-crypto"], "the data folder's store is gone");
    const replaced = await bot.waitFor((l) => l.event === "guardian" && l.replaced, "the replacement");
    assert.equal(replaced.replaced, "ECHOBOT");
    assert.notEqual(replaced.deviceId, "ECHOBOT");
    const ready = await bot.waitFor((l) => l.event === "ready", "ready");
    assert.equal(ready.deviceId, replaced.deviceId);

    await peer.waitForDevice(replaced.deviceId);
    await peer.send("hello 2");
    await bot.waitFor((l) => l.event === "message" && l.body === "hello 2", "hello 2 decrypted on the new device");
    assert.equal(hs.countRequests({ ...CONFLICTS, since }), 0, "no conflicting upload reached the server");
    assert.equal(hs.countRequests({ ...CONFLICTS, user: peer.bot.userId }), 0);
    assert.equal(bot.lines.filter((l) => l.event === "undecryptable").length, 0);

    // The old device is gone from the server; its token too.
    const newToken = sessionIn(data).accessToken;
    const devices = await devicesOf(newToken);
    assert.ok(devices.includes(replaced.deviceId) && !devices.includes("ECHOBOT"), devices.join());
    await assert.rejects(devicesOf(oldToken), /401/);

    assert.notEqual(await bot.stop(), "alive", "the guarded bot stops on SIGTERM");
    // The report says what happened, and nothing secret.
    const text = JSON.stringify(bot.lines.find((l) => l.event === "report").report);
    assert.match(text, /replace-device done/);
    assert.match(text, /store-lost/);
    for (const secret of [oldToken, newToken, peer.bot.password]) assert.ok(!bot.output.includes(secret), "no token or password in the bot's output");
    assert.doesNotMatch(bot.output, /syt_/);
  }));

test("the same bot without the guardian storms under its old device id and cannot read the peer's new message", () =>
  secondLife("n", ["--no-guardian"], async ({ peer, bot, since }) => {
    const ready = await bot.waitFor((l) => l.event === "ready", "ready");
    assert.equal(ready.deviceId, "ECHOBOT", "the same device id, a blank store");
    await hs.waitForRequests({ ...CONFLICTS, since }, 3, { timeout: STEP_MS });
    await peer.send("hello 2");
    const seen = await bot.waitFor((l) => (l.event === "message" && l.body === "hello 2") || (l.event === "undecryptable" && l.roomId === peer.roomId), "hello 2");
    assert.equal(seen.event, "undecryptable", "the peer's message cannot be read");
    assert.notEqual(await bot.stop(), "alive");
  }));

test("watch only (no store check), the client's own fetchFn wrapped: the storm watch opens the breaker and answers the retries locally", () =>
  secondLife("w", ["--watch-only", "--fetch-fn"], async ({ peer, bot, since }) => {
    await bot.waitFor((l) => l.event === "breaker-open", "the breaker opening");
    assert.ok(hs.countRequests({ ...CONFLICTS, since }) >= 1, "the conflict the breaker saw came from the server");
    // The SDK retries the upload after each completed sync: six more syncs, six chances to storm.
    const opened = hs.mark();
    await hs.waitForRequests({ method: "GET", pathIncludes: "/sync", user: peer.bot.userId, since: opened }, 6, { timeout: STEP_MS });
    assert.notEqual(await bot.stop(), "alive");
    const { storm } = bot.lines.find((l) => l.event === "storm");
    assert.equal(storm.breaker.state, "open", JSON.stringify(storm));
    assert.ok(storm.breaker.localAnswers >= 1, `the SDK's retries were answered locally: ${JSON.stringify(storm.breaker)}`);
    assert.equal(hs.countRequests({ ...CONFLICTS, since: opened }), 0, "while open, no conflicting upload reached the server");
  }));
