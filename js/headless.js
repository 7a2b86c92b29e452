// Node.js and other hosts without a page (bots, bridges on matrix-js-sdk): what the browser parts become
// there. docs/integration-node.md is the guide. Loaded by index.js in Node, and in a page only if it calls a
// bot's API (checkBotStore, replaceDevice): a browser's start never fetches it.
//
// * The wasm modules are read from the package's own files (js/platform.js).
// * The writer role is the process's own: a Node process has no tabs to share a store with (see
//   ProcessWriter for what that leaves to the host).
// * The store-loss check for bots (checkBotStore) and the headless remedy (replaceDevice): the facts are
//   gathered here, the decisions are the model's (src/remedy/headless.rs), run by the lazily loaded module.
// The prompt, the panel, Web Locks and persistent storage simply do not exist here (their own feature
// tests already say so); nothing in this file keeps the process alive.
import { databaseNames, probeCryptoStore } from "./core/guardian_core.js";

/**
 * The writer role in Node: the process is the only "tab", so it is the writer as soon as it asks, in
 * every mode, and nothing waits or polls. Two processes sharing one on-disk store are not seen here:
 * a bot runs one process per store (a process manager or a lock file of the host's keeps it so).
 */
export class ProcessWriter {
  #emit;
  #since = null;

  constructor({ emit }) {
    this.#emit = emit;
  }

  acquire() {
    if (this.#since === null) {
      this.#since = Date.now();
      this.#emit([{ type: "writer-acquired", detail: { mechanism: "process", mode: "process", at: this.#since } }]);
    }
    return Promise.resolve(true);
  }

  release() {
    this.#since = null;
  }

  state() {
    const isWriter = this.#since !== null;
    return { mechanism: "process", name: null, tabId: null, role: isWriter ? "writer" : "idle", isWriter, since: this.#since, lost: null, census: null };
  }

  census() {
    return Promise.resolve(null);
  }
}

/** The crypto store's database name for matrix-js-sdk's default prefix ("matrix-js-sdk"). */
export const DEFAULT_CRYPTO_STORES = ["matrix-js-sdk::matrix-sdk-crypto"];

/**
 * Checks a bot's session against its crypto store before the SDK starts. `bot`: `{ homeserver, userId,
 * deviceId, accessToken, indexedDB, cryptoStores? }` where `indexedDB` is the IDBFactory the SDK will use
 * (fake-indexeddb's, a shim's) or `null` for an in-memory store (`initRustCrypto({ useIndexedDB: false })`).
 * Reads the device's public keys on the server and the store's key names only. `m`: the lazily loaded
 * module. Resolves to the model's verdict (src/remedy/headless.rs).
 */
export async function checkBotStore(bot, m) {
  const session = { userId: bot.userId, deviceId: bot.deviceId, homeserver: bot.homeserver };
  let store = { kind: "memory" };
  if (bot.indexedDB) {
    // Read through the global `indexedDB` (src/store_loss/probe.rs), the factory matrix-sdk-crypto-wasm
    // opens its store with: the shim must be installed globally (as `fake-indexeddb/auto` does).
    const cryptoStores = bot.cryptoStores || DEFAULT_CRYPTO_STORES;
    const databases = (await databaseNames(cryptoStores).catch(() => null)) || [];
    const found = cryptoStores.find((name) => databases.includes(name));
    const contents = found ? await probeCryptoStore(found, 3000).catch(() => null) : null;
    store = { kind: "indexeddb", databases, cryptoStores, contents };
  }
  const query = await queryDevice(bot, bot.deviceId);
  return m.checkBotStore(session, store, query.status, query.bytes, query.error ?? undefined);
}

/** The device's entry on `POST /keys/query` (its public keys), with the session's own token. */
async function queryDevice(session, deviceId) {
  const { hsCall } = await import("./remedies.js");
  return hsCall(httpSession(session), "POST", "_matrix/client/v3/keys/query", { device_keys: { [session.userId]: [deviceId] } });
}

function httpSession(s) {
  return { baseUrl: s.homeserver, accessToken: s.accessToken };
}

/**
 * The headless remedy after a bot's store loss: signs the old device out on the server (which deletes it
 * and its keys), then asks the host for a new device through `login({ userId, oldDeviceId })`, which
 * resolves to `{ userId, deviceId, accessToken }` (matrix-js-sdk's login answer `{ user_id, device_id,
 * access_token }` too). The model says whether the host may go on (src/remedy/headless.rs accept_replacement).
 * `emit(phase, extra)` reports each step; the tokens never leave this function but in `session`.
 * Resolves to `{ session, oldDeviceId, newDeviceId }`; rejects with the reason when the host must not go on.
 */
export async function replaceDevice(old, login, m, emit) {
  emit("logout", { deviceId: old.deviceId });
  // The bot's token is first confirmed as the old device's own (as in a page's sign-out, remedies.js): a
  // 401 for a token that was never this device's says nothing about the device.
  const session = httpSession(old);
  const { hsCall } = await import("./remedies.js"); // homeserver calls: loaded on first need, as in a page
  const who = await hsCall(session, "GET", "_matrix/client/v3/account/whoami");
  const unconfirmed = m.tokenCheck(!!old.accessToken, who.status, who.bytes, who.error ?? undefined, old.userId, old.deviceId);
  const logout = unconfirmed ? null : await hsCall(session, "POST", "_matrix/client/v3/logout", {});
  const outcome = unconfirmed ?? m.logoutOutcome(logout.status, logout.bytes, logout.error ?? undefined, true);
  emit("logout-answered", { logout: outcome });
  if (outcome.outcome !== "signed-out") {
    const reason = `the old device ${old.deviceId} was not signed out on the server (${outcome.outcome}${outcome.status ? " " + outcome.status : ""})`;
    emit("stopped", { reason });
    throw new Error(`matrix-crypto-guardian: ${reason}; nothing else was done`);
  }
  emit("login", { oldDeviceId: old.deviceId });
  let answer;
  try {
    answer = await login({ userId: old.userId, oldDeviceId: old.deviceId });
  } catch (err) {
    const reason = `the host's login failed: ${err && err.message ? err.message : err}`;
    emit("stopped", { reason });
    throw new Error(`matrix-crypto-guardian: ${reason}`);
  }
  const fresh = {
    userId: answer?.userId ?? answer?.user_id,
    deviceId: answer?.deviceId ?? answer?.device_id,
    accessToken: answer?.accessToken ?? answer?.access_token,
    homeserver: answer?.homeserver ?? old.homeserver,
  };
  const query = typeof fresh.accessToken === "string" ? await queryDevice(fresh, fresh.deviceId) : { status: 0, bytes: new Uint8Array(), error: "no access token" };
  const refused = m.acceptReplacement(
    { userId: old.userId, deviceId: old.deviceId },
    logout.status,
    logout.bytes,
    true, // tokenCheck confirmed the token above (else this line is not reached)
    { userId: String(fresh.userId ?? ""), deviceId: String(fresh.deviceId ?? "") },
    query.status,
    query.bytes,
    query.error ?? undefined,
  );
  if (refused) {
    emit("stopped", { reason: refused });
    throw new Error(`matrix-crypto-guardian: ${refused}`);
  }
  return { session: fresh, oldDeviceId: old.deviceId, newDeviceId: fresh.deviceId };
}

/**
 * The Guardian's Node.js surface for bots: checkBotStore(), replaceDevice(), wrapFetch(). `ctx` is the
 * guardian's side: `{ module(), emit(events), cryptoStores, uploadHandler(), storeCheck(), setStoreCheck(c),
 * holdUploads(), letUploadsGo() }`. The bot's session (token included) is kept here, in memory only, for
 * replaceDevice().
 */
export class BotHost {
  #ctx;
  #bot = null;

  constructor(ctx) {
    this.#ctx = ctx;
  }

  /**
   * `{ homeserver, userId, deviceId, accessToken, indexedDB, cryptoStores? }` → the model's verdict
   * `{ verdict: "new-device" | "healthy" | "store-lost" | "unknown", … }` (also the guardian's storeCheck()).
   * On "store-lost": a `store-lost` event, and key uploads held until replaceDevice() or
   * continueDespiteStoreLoss().
   */
  async check(bot) {
    for (const k of ["homeserver", "userId", "deviceId", "accessToken"]) {
      if (typeof bot?.[k] !== "string" || bot[k] === "") throw new TypeError(`matrix-crypto-guardian: checkBotStore needs { ${k} }`);
    }
    const target = { ...bot, indexedDB: bot.indexedDB ?? null, cryptoStores: bot.cryptoStores || this.#ctx.cryptoStores };
    const check = await checkBotStore(target, await this.#ctx.module());
    this.#bot = target;
    this.#ctx.setStoreCheck(check);
    if (check.verdict === "store-lost") {
      this.#ctx.holdUploads();
      this.#ctx.emit([{ type: "store-lost", detail: structuredClone(check) }]);
    }
    return structuredClone(check);
  }

  /**
   * After check() said "store-lost": replaceDevice() below, each step a `remedy` event (journaled). Once the
   * model accepts the new device the held uploads go on and storeCheck() is `{ verdict: "replaced", … }`.
   */
  async replace({ login } = {}) {
    if (typeof login !== "function") throw new TypeError("matrix-crypto-guardian: replaceDevice needs { login }");
    const lost = this.#ctx.storeCheck();
    if (!this.#bot || lost.verdict !== "store-lost") {
      throw new Error("matrix-crypto-guardian: replaceDevice follows a checkBotStore() that found a store loss");
    }
    const emit = (phase, extra = {}) =>
      this.#ctx.emit([{ type: "remedy", detail: { remedy: "replace-device", phase, action: `replace-device ${phase}`, at: Date.now(), ...extra } }]);
    emit("started", { deviceId: this.#bot.deviceId, reason: lost.reason });
    const out = await replaceDevice(this.#bot, login, await this.#ctx.module(), emit);
    this.#bot = { ...this.#bot, ...out.session };
    const session = { userId: out.session.userId, deviceId: out.newDeviceId, homeserver: this.#bot.homeserver };
    this.#ctx.setStoreCheck({ verdict: "replaced", session, replacedDevice: out.oldDeviceId });
    emit("done", { oldDeviceId: out.oldDeviceId, newDeviceId: out.newDeviceId, reason: `device ${out.oldDeviceId} signed out, new device ${out.newDeviceId}` });
    this.#ctx.letUploadsGo();
    return out;
  }

  /** Guardian.stop(): the session is forgotten. */
  stop() {
    this.#bot = null;
  }
}
