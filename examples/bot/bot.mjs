#!/usr/bin/env node
// A Matrix bot on matrix-js-sdk with rust crypto, guarded by matrix-crypto-guardian (Node.js >= 22).
//
// It logs in with a fixed device id (as many bot configs do), keeps its session in its data folder, joins
// the rooms it is invited to and prints every message it can decrypt. Its crypto store is IndexedDB through
// fake-indexeddb (or in memory with --store memory): either way it lives in the process, so every restart
// starts with a blank store — the same state as a wiped data folder. Without the guardian that is the
// "One time key … already exists" storm under the old device id; with it, the bot checks its store
// before its first upload, signs the lost device out and logs in a new one.
//
//   MCG_HOMESERVER=http://127.0.0.1:8008 MCG_BOT_USER=echobot MCG_BOT_PASSWORD=… \
//     node examples/bot/bot.mjs [--data DIR] [--device ID] [--store indexeddb|memory] [--no-guardian]
//
// Output: one JSON object per line ({ event: "ready" | "message" | "undecryptable" | "guardian" | … }).
// SIGINT/SIGTERM stop it; it then prints the guardian's storm state and redacted report, and exits.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    data: { type: "string", default: new URL("./data", import.meta.url).pathname },
    device: { type: "string", default: process.env.MCG_BOT_DEVICE || "ECHOBOT" },
    store: { type: "string", default: "indexeddb" },
    "no-guardian": { type: "boolean", default: false },
    // The guardian without the store check: only its storm watch and breaker (to see them at work).
    "watch-only": { type: "boolean", default: false },
    // The client gets its own fetchFn (one that bypasses the global fetch), guarded with wrapFetch().
    "fetch-fn": { type: "boolean", default: false },
  },
});
const homeserver = need("MCG_HOMESERVER");
const user = need("MCG_BOT_USER");
const password = need("MCG_BOT_PASSWORD");
const guarded = !args["no-guardian"];
const useIndexedDB = args.store === "indexeddb";

function need(name) {
  if (!process.env[name]) {
    console.error(`set ${name}`);
    process.exit(2);
  }
  return process.env[name];
}

function say(event, detail = {}) {
  process.stdout.write(JSON.stringify({ event, ...detail }) + "\n");
}

// The IndexedDB shim must be in place before matrix-js-sdk and the guardian look for `indexedDB`.
if (useIndexedDB) await import("fake-indexeddb/auto");
// In your bot: import { Guardian } from "matrix-crypto-guardian";
const { Guardian } = await import(process.env.MCG_GUARDIAN_MODULE || "../../pkg/index.js");
// A fetch of the bot's own, taken before the guardian wraps the global one (think: undici with a proxy).
const ownFetch = globalThis.fetch.bind(globalThis);
// Before the SDK makes its first request: the guardian wraps the global fetch matrix-js-sdk uses.
const guardian = guarded ? await Guardian.start({ prompt: false }) : null;
const sdk = await import("matrix-js-sdk");
quietSdkLogs((await import("matrix-js-sdk/lib/logger.js")).logger);

// ---- the session: the data folder's, else a password login with the configured device id ----
mkdirSync(args.data, { recursive: true });
const sessionFile = join(args.data, "session.json");

async function passwordLogin(deviceId) {
  const response = await fetch(new URL("/_matrix/client/v3/login", homeserver), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      type: "m.login.password",
      identifier: { type: "m.id.user", user },
      password,
      ...(deviceId ? { device_id: deviceId } : {}),
      initial_device_display_name: "guarded bot",
    }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`login failed: ${response.status} ${body.errcode}`);
  const session = { userId: body.user_id, deviceId: body.device_id, accessToken: body.access_token };
  writeFileSync(sessionFile, JSON.stringify(session), { mode: 0o600 });
  return session;
}

let session;
try {
  session = JSON.parse(readFileSync(sessionFile, "utf8"));
} catch {
  session = await passwordLogin(args.device);
}

// ---- the guardian's check, before the crypto store is opened and anything is uploaded ----
if (guardian && !args["watch-only"]) {
  const check = await guardian.checkBotStore({ homeserver, ...session, indexedDB: useIndexedDB ? globalThis.indexedDB : null });
  say("guardian", { verdict: check.verdict, deviceId: session.deviceId, reason: check.reason ?? null, missing: check.missing ?? null });
  if (check.verdict === "store-lost") {
    // Unattended: the old device is signed out on the server, then we log in a new one (no device id:
    // the server picks a new one).
    const out = await guardian.replaceDevice({ login: () => passwordLogin(undefined) });
    session = out.session;
    say("guardian", { replaced: out.oldDeviceId, deviceId: out.newDeviceId });
  }
}
guardian?.addEventListener("breaker-open", (e) => say("breaker-open", { type: e.detail?.type ?? null }));

// ---- the client ----
const fetchFn = args["fetch-fn"] ? (guardian ? guardian.wrapFetch(ownFetch) : ownFetch) : undefined;
const client = sdk.createClient({ baseUrl: homeserver, ...session, fetchFn, logger: quietLogger() });
guardian?.attach(client);
await guardian?.acquireWriter(); // in Node: this process is the writer at once
await client.initRustCrypto({ useIndexedDB });

client.on(sdk.RoomMemberEvent.Membership, (_event, member) => {
  if (member.membership === "invite" && member.userId === client.getUserId()) {
    client.joinRoom(member.roomId).then(() => say("joined", { roomId: member.roomId }), (err) => say("join-failed", { error: String(err) }));
  }
});
client.on(sdk.MatrixEventEvent.Decrypted, (event) => {
  if (event.getSender() === client.getUserId()) return;
  if (event.isDecryptionFailure()) say("undecryptable", { roomId: event.getRoomId(), reason: event.decryptionFailureReason ?? null });
  else if (event.getType() === "m.room.message") say("message", { roomId: event.getRoomId(), body: event.getContent().body, sender: event.getSender() });
});
client.once(sdk.ClientEvent.Sync, (state) => say("ready", { deviceId: client.getDeviceId(), sync: state, guardian: guarded }));
await client.startClient({ initialSyncLimit: 0 });

// ---- stopping ----
async function stop() {
  client.stopClient();
  if (guardian) {
    say("storm", { storm: guardian.storm() });
    const report = await guardian.report().catch((err) => ({ error: String(err) }));
    say("report", { report });
    await guardian.stop(); // nothing of the guardian is left to keep the process alive
  }
  say("stopped");
  // matrix-js-sdk 43 leaves timers after stopClient(), with or without the guardian (its capability poll,
  // every request's timeout): without this the process would linger for minutes.
  process.exit(0);
}
process.once("SIGTERM", stop);
process.once("SIGINT", stop);

/** The SDK's module-level logger keeps warnings and errors only (its child loggers take its method factory). */
function quietSdkLogs(root) {
  const methods = root.methodFactory;
  root.methodFactory = (method, ...rest) => (method === "warn" || method === "error" ? methods(method, ...rest) : () => {});
  root.rebuild();
}

/** matrix-js-sdk's logger, without the debug chatter (warnings and errors stay). */
function quietLogger() {
  const quiet = { trace() {}, debug() {}, info() {}, log() {}, warn: console.warn.bind(console), error: console.error.bind(console) };
  return { ...quiet, getChild: () => quiet };
}
