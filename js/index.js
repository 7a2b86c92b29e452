// matrix-crypto-guardian — the npm entry.
//
//   import { Guardian } from "matrix-crypto-guardian";
//   const guardian = await Guardian.start();          // before the MatrixClient makes its first request
//   guardian.attach(client);                          // after login
//   guardian.addEventListener("storm", (e) => …);
//
// This file is the thin JS adapter around the wasm modules (src/*/adapter.rs): it owns the event target, the
// in-memory session facts and the loading of the modules, each when a page first needs it — the core at
// start (writer, store-loss check, persistence), the storm watch with the first keys/upload or the first
// sign of trouble (it also runs the journal, report and remedy models), forensics (matrix-sdk-crypto) for
// a diagnosis or an export. Decisions are the modules'.
import initCore, { coreVersion, consoleSignature, sessionKeys, presetCryptoStores, readSession, storesToRead, checkStore } from "./core/guardian_core.js";
import { QUIET_STORM, QUIET_OTK_HEALTH } from "./storm-idle.js";
import { installFetchTap } from "./fetch-tap.js";
import { installConsoleTap, consoleTapOf, uninstallConsoleTap, OWN_PREFIX } from "./console-tap.js";
import { Diagnostics } from "./diagnostics.js";
// The writer election is the core's (src/writer/lock.rs: Web Locks, the lease fallback, the tab census).
import { WriterLock, writerLockName, writerHeldElsewhere, writerMechanism } from "./core/guardian_core.js";
import { snapshotSession, sessionToken } from "./prevention.js";
// The own database, the store probe, the database listing and persistent storage are the core's too.
import { OwnDb, probeCryptoStore, databaseNames, startPersistence } from "./core/guardian_core.js";
import { guardianLanguage } from "./language.js";
import { importUrl } from "./import-url.js";
import { isNode, wasmBytes, CORE_WASM, moduleWasm, whenIdle } from "./platform.js";

export { isKeysUpload, GUARDIAN_HEADER } from "./fetch-tap.js";
export { GuardianPanel, definePanel } from "./panel-element.js";

/** Thrown by Guardian.start() for an option it does not know or cannot use; `option` names it. */
export class GuardianOptionError extends TypeError {
  constructor(option, message) {
    super(`matrix-crypto-guardian: option "${option}": ${message}`);
    this.name = "GuardianOptionError";
    this.option = option;
  }
}

/** The core wasm, compiling since the drop-in's first line (a Promise<WebAssembly.Module>; js/dropin.js). */
const CORE_MODULE_KEY = Symbol.for("matrix-crypto-guardian/core-module");

/** Marks a client's initRustCrypto wrapped by the guardian (once per client). */
const CRYPTO_INIT_WATCH = Symbol.for("matrix-crypto-guardian/crypto-init-watch");

const OPTION_CHECKS = {
  // First half-open probe after the breaker opens; doubles after each failed probe.
  probeAfterMs: (v) => Number.isFinite(v) && v >= 1000 || "must be a number of milliseconds ≥ 1000",
  // Cap of the probe backoff.
  maxProbeAfterMs: (v) => Number.isFinite(v) && v >= 1000 || "must be a number of milliseconds ≥ 1000",
  // Diagnose a conflict with the forensics module (fetched on first conflict only).
  diagnose: (v) => typeof v === "boolean" || "must be true or false",
  // Where the core wasm is fetched from (default: next to this file).
  coreWasmUrl: (v) => typeof v === "string" || v instanceof URL || "must be a URL or string",
  // Where the forensics module is imported from (default: ./forensics/forensics.js next to this file).
  forensicsUrl: (v) => typeof v === "string" || v instanceof URL || "must be a URL or string",
  // Name of the single-writer lock (default: derived from the store prefix, user and device).
  writerLockName: (v) => (typeof v === "string" && v.trim() !== "") || "must be a non-empty string",
  // Prefix of the crypto store's IndexedDB names (default "matrix-js-sdk::matrix-sdk-crypto").
  cryptoStorePrefix: (v) => (typeof v === "string" && v !== "") || "must be a non-empty string",
  // Where the client keeps its session in localStorage, for the store-loss check at start.
  preset: (v) => ["cinny", "element", "generic"].includes(v) || 'must be "cinny", "element" or "generic"',
  // The session, when the host names it itself ({ userId, deviceId }); wins over the preset's keys.
  session: (v) => (v && typeof v.userId === "string" && typeof v.deviceId === "string") || "must be { userId, deviceId }",
  // IndexedDB names of the crypto store (default: the preset's rust and legacy names).
  cryptoStores: (v) => (Array.isArray(v) && v.every((n) => typeof n === "string")) || "must be an array of database names",
  // Ask for persistent storage (default true): at start where no prompt can show, else on the first user gesture.
  persist: (v) => typeof v === "boolean" || "must be true or false",
  // Show the guardian's own recovery prompt (default true); false: the host handles the events itself.
  prompt: (v) => typeof v === "boolean" || "must be true or false",
  // Language of the guardian's own texts (prompt, panel), a tag such as "en" or "pt-BR" (default: the page's).
  lang: (v) => (typeof v === "string" && /^[a-z]{2,3}(-[a-z0-9]{2,8})*$/i.test(v)) || 'must be a language tag such as "en" or "pt-BR"',
  // Most entries the diagnostics journal keeps per session (default 200; repeats are counted, not added).
  journalCapacity: (v) => (Number.isInteger(v) && v >= 10 && v <= 10000) || "must be an integer from 10 to 10000",
  // The host's matrix-js-sdk version, shown in the diagnostics report (the SDK does not expose it).
  sdkVersion: (v) => typeof v === "string" || "must be a string",
  // Name of the guardian's own IndexedDB database (default "matrix-crypto-guardian"; tests use others).
  ownDatabaseName: (v) => (typeof v === "string" && v !== "") || "must be a non-empty string",
  // Replacements for any of the prompt's strings ({ key: text }, keys as in js/i18n/en.js).
  strings: (v) => (v && typeof v === "object" && Object.values(v).every((s) => typeof s === "string")) || "must be an object of strings",
  // What "sign out" clears after the server logout, and where it goes: { databases, localStorageKeys, localStoragePrefixes, reloadTo } (default: the preset's).
  signOut: (v) => (v && typeof v === "object") || "must be an object",
};

function checkOptions(options) {
  if (options === null || typeof options !== "object") throw new GuardianOptionError("options", "must be an object");
  for (const [name, value] of Object.entries(options)) {
    const check = OPTION_CHECKS[name];
    if (!check) {
      throw new GuardianOptionError(name, `unknown option; known: ${Object.keys(OPTION_CHECKS).join(", ")}`);
    }
    if (value === undefined) continue;
    const verdict = check(value);
    if (verdict !== true) throw new GuardianOptionError(name, verdict);
  }
}

let starting = null;

// The localStorage keys each preset reads, needed before the wasm has loaded; the core checks that it
// agrees (sessionKeys) so the two lists cannot drift apart silently.
const PRESET_SESSION_KEYS = {
  cinny: ["matrixSessions", "cinny_user_id", "cinny_device_id", "cinny_hs_base_url"],
  element: ["mx_user_id", "mx_device_id", "mx_hs_url"],
};

export class Guardian extends EventTarget {
  #storm = null; // the storm watch (GuardianCore), once its module loaded (#stormWatch)
  #watch = null; // the watch module, loading or loaded
  #lease = null; // the lease module, loaded at start by a page without Web Locks
  #watchLoaded = null; // the watch module once loaded (#stormWatch): its functions called synchronously
  #options;
  #session = { userId: null, deviceId: null, baseUrl: null, authorization: null };
  #client = null;
  #forensics = null;
  #writer = null;
  #storeCheck = { verdict: "not-checked" };
  #persistence = { supported: null, persisted: null, outcome: "not-requested", usage: null, quota: null };
  #requestPersistence = null;
  #releaseUploads = null;
  #uploadsHeld = null;
  #diagnostics = null;
  #ownDb = null; // the guardian's own database (src/diagnostics/own_db.rs): the diagnostics' and the sentinel's
  #recovery = null; // the RecoveryFlow (js/recovery.js), once loaded: with the first trouble that needs the user
  #recoveryLoading = null;
  #headless = null; // js/headless.js (Node's writer role, the bots' API), once asked for
  #bots = null; // its BotHost: checkBotStore / replaceDevice
  #wrappedTaps = []; // wrapFetch()'s taps
  #storeMismatch = null; // { at, message } once initRustCrypto() refused another account's store
  // stop() aborts it: every tap, listener, timer, lock and request of this guardian ends through it (each
  // registers its own teardown on the signal where it is set up).
  #lifetime = new AbortController();

  /** The version of the guardian (npm package and wasm core are released together). */
  static get version() {
    return coreVersion();
  }

  /**
   * Starts the guardian once per page and resolves to it. The fetch tap is installed synchronously,
   * before this returns a promise, so call start() before the MatrixClient's first request.
   */
  static start(options = {}) {
    try {
      checkOptions(options);
    } catch (err) {
      return Promise.reject(err);
    }
    const tap = installFetchTap(globalThis);
    installConsoleTap(globalThis);
    if (starting) return starting;
    // The session as it was before this page could log in: read synchronously, before any await, so
    // a login later in this page is never mistaken for a surviving session.
    const sessionAtStart = { preset: options.preset || "generic", values: snapshotSession(PRESET_SESSION_KEYS[options.preset] || []) };
    starting = (async () => {
      // The drop-in has started compiling the core already (js/dropin.js); else Node reads the wasm from the
      // package's files (its fetch cannot read file: URLs) and browsers fetch it.
      const early = options.coreWasmUrl ? null : globalThis[CORE_MODULE_KEY];
      delete globalThis[CORE_MODULE_KEY];
      const coreWasm = (early && (await early.catch(() => null))) || (await wasmBytes(options.coreWasmUrl || CORE_WASM)) || options.coreWasmUrl;
      await initCore(coreWasm ? { module_or_path: coreWasm } : undefined);
      const guardian = new Guardian(options);
      guardian.#onStop(() => {
        globalThis[Symbol.for("matrix-crypto-guardian/fetch-tap")]?.uninstall?.();
        uninstallConsoleTap(globalThis);
      });
      if (tap) tap.attach(guardian.#uploadHandler());
      // A page's session and stores are checked here; a bot's with checkBotStore(), which knows its session.
      // A page without Web Locks loads the lease module meanwhile: acquireWriter() makes its lock from it.
      if (!isNode()) await Promise.all([guardian.#checkStore(sessionAtStart), guardian.#loadLeaseIfNeeded()]);
      // Asked once the page is idle: the host's own start goes first (nothing waits on the answer).
      if (options.persist !== false) whenIdle().then(() => guardian.#startPersistence());
      return guardian;
    })();
    starting.catch(() => {
      // Fail open: a guardian that cannot start must not hold the host's uploads.
      if (tap) tap.abandon();
      starting = null;
    });
    return starting;
  }

  constructor(options) {
    super();
    if (!(options && typeof options === "object")) throw new TypeError("use Guardian.start()");
    this.#options = { diagnose: true, ...options };
    try {
      // One per guardian: the store-loss check reads its sentinel through it, the diagnostics the rest.
      this.#ownDb = new OwnDb(options.ownDatabaseName);
      this.#diagnostics = new Diagnostics(this, {
        capacity: options.journalCapacity,
        db: this.#ownDb,
        sdkVersion: options.sdkVersion,
        consoleTap: consoleTapOf(globalThis),
        loadModule: () => this.#watchModule(),
        signal: this.#lifetime.signal,
      });
    } catch {
      // Fail open: the guardian works without its journal.
    }
    this.#onStop(() => {
      for (const tap of this.#wrappedTaps.splice(0)) tap.uninstall(); // the wrapped fetchFns call through untouched
      this.#bots?.stop();
      // Without a guardian nothing holds the host's uploads.
      this.#letUploadsGo();
    });
  }

  /** Runs `teardown` when stop() ends this guardian (at once if it already has); a throw stops nothing else. */
  #onStop(teardown) {
    const run = () => {
      try {
        teardown();
      } catch {
        // fail open: the other teardowns run all the same
      }
    };
    if (this.#lifetime.signal.aborted) run();
    else this.#lifetime.signal.addEventListener("abort", run, { once: true });
  }

  get version() {
    return coreVersion();
  }

  /** The language of the guardian's own texts: the `lang` option, else the page's `<html lang>`, else "en". */
  get language() {
    return guardianLanguage(this.#options.lang);
  }

  /**
   * Connects a matrix-js-sdk MatrixClient: its user, device and homeserver are used for diagnosis.
   * Returns the guardian.
   */
  attach(client) {
    if (!client || typeof client.getUserId !== "function") {
      throw new TypeError("matrix-crypto-guardian: attach() expects a matrix-js-sdk MatrixClient");
    }
    this.#client = client;
    this.#session.userId = client.getUserId();
    this.#session.deviceId = client.getDeviceId();
    this.#session.baseUrl = client.getHomeserverUrl();
    this.#diagnostics?.attachSession(client).catch(() => {});
    this.#recovery?.attached();
    this.#watchCryptoInit(client);
    return this;
  }

  /**
   * Sees how `client.initRustCrypto()` ends, without changing it: the host gets the very promise the SDK
   * returned. A rejection "the account in the store doesn't match the account in the constructor" (the
   * store holds another user or device) is journaled as `store-mismatch`: some clients then delete every
   * store and retry with the same device id, a store loss they make themselves.
   */
  #watchCryptoInit(client) {
    try {
      const original = client.initRustCrypto;
      if (typeof original !== "function" || original[CRYPTO_INIT_WATCH]) return;
      const onFailure = (err) => this.#cryptoInitFailed(err);
      const watched = function (...args) {
        const result = original.apply(this, args);
        if (result && typeof result.then === "function") result.then(undefined, onFailure);
        return result;
      };
      watched[CRYPTO_INIT_WATCH] = original;
      client.initRustCrypto = watched;
    } catch {
      // A frozen client: nothing is watched, nothing breaks.
    }
  }

  #cryptoInitFailed(err) {
    try {
      const message = String((err && err.message) || err).slice(0, 1000);
      if (consoleSignature(message) !== "store-account-mismatch") return;
      this.#storeMismatch = { at: Date.now(), message };
      this.#emit([{ type: "store-mismatch", detail: { ...this.#storeMismatch } }]);
    } catch {
      // observation only
    }
  }

  /** `{ at, message }` once initRustCrypto() refused a store holding another account in this page; else null. */
  storeMismatch() {
    return this.#storeMismatch ? { ...this.#storeMismatch } : null;
  }

  /** The result of the store-loss check made at start (`verdict`: no-session | healthy | store-lost | unknown). */
  storeCheck() {
    return structuredClone(this.#storeCheck);
  }

  /**
   * Runs the store-loss check again, on the session and databases as they are now; resolves to storeCheck().
   * For a crypto store deleted while the page runs (a client that wipes its own stores and retries with the
   * same device id): the drop-in calls it before the store is opened again. While a store loss waits for
   * the user's choice, it answers that and checks nothing.
   */
  async checkStoreAgain() {
    if (this.#storeCheck.verdict !== "store-lost" || !this.#releaseUploads) {
      const preset = this.#options.preset || "generic";
      await this.#checkStore({ preset, values: snapshotSession(PRESET_SESSION_KEYS[preset] || []) });
    }
    return this.storeCheck();
  }

  /** Persistent storage: `{ supported, persisted, outcome, usage, quota }`. */
  persistence() {
    return { ...this.#persistence };
  }

  /** Asks for persistent storage now (call it from a user gesture, e.g. at login). */
  async requestPersistence() {
    this.#startPersistence();
    await this.#requestPersistence?.request();
    return this.persistence();
  }

  /** The core's persistent-storage request (src/persistence/adapter.rs): asks now or on the first gesture. */
  #startPersistence() {
    if (this.#requestPersistence || this.#lifetime.signal.aborted) return;
    try {
      const request = startPersistence((s) => this.#persistenceChanged(s));
      this.#requestPersistence = request;
      this.#onStop(() => request.stop()); // its first-gesture listeners
    } catch {
      // Fail open: no persistence request, the rest of the guardian works.
    }
  }

  /**
   * After a store loss the user chose to go on with this device anyway: key uploads are released.
   * Their choice is recorded in the `store-loss-accepted` event (and the journal).
   */
  continueDespiteStoreLoss() {
    if (!this.#releaseUploads) return false;
    this.#releaseUploads();
    this.#releaseUploads = null;
    this.#uploadsHeld = null;
    this.#emit([{ type: "store-loss-accepted", detail: { at: Date.now(), session: this.#storeCheck.session || null } }]);
    return true;
  }

  async #checkStore({ preset, values }) {
    const known = sessionKeys(preset);
    if (known.join() !== (PRESET_SESSION_KEYS[preset] || []).join()) throw new Error(`preset ${preset}: key lists disagree`);
    const stores = this.#options.cryptoStores || presetCryptoStores(preset);
    const fallbackStores = stores.length ? stores : ["matrix-js-sdk::matrix-sdk-crypto"];
    // The browser's facts, gathered here; the verdict is the core's (src/store_loss/model.rs).
    const session = readSession(preset, values || {}, this.#options.session || null);
    // Where indexedDB.databases() is missing, the client's own store names are probed one by one.
    const databases = await databaseNames(fallbackStores).catch(() => null);
    const seen = [];
    let sentinel = null;
    if (session) {
      // The identity this device was last seen uploading (any failure: none; the check then rests on the store).
      sentinel = await this.#ownDb?.load("sentinel", `${session.userId}|${session.deviceId}`).catch(() => null);
      // The store is not opened at all while another tab is this session's crypto writer (the session's
      // lock, or the store-wide one a tab takes without a known session, the drop-in): a tab that is not
      // the writer never opens the crypto store — and the writer's own start checked it.
      const probe = async (name, userId, deviceId) => {
        try {
          const elsewhere = await writerHeldElsewhere([
            writerLockName(this.#options.writerLockName, this.#options.cryptoStorePrefix, userId, deviceId),
            writerLockName(this.#options.writerLockName, this.#options.cryptoStorePrefix, undefined, undefined),
          ]);
          return elsewhere ? null : await probeCryptoStore(name, 3000);
        } catch {
          return null;
        }
      };
      // The client's own store names and every `*::matrix-sdk-crypto` (a per-session prefix): whose each
      // one is, its account says.
      const names = databases ? storesToRead(databases, fallbackStores) : [];
      seen.push(...(await Promise.all(names.map(async (name) => ({ name, contents: await probe(name, session.userId, session.deviceId) })))));
    }
    this.#storeCheck = checkStore(session, databases ?? undefined, fallbackStores, seen, sentinel ?? undefined);
    if (this.#storeCheck.verdict === "unknown") {
      // No hold, no prompt: one line in the diagnostics (the journal and the report keep the verdict).
      this.#emit([{ type: "store-check", detail: structuredClone(this.#storeCheck) }]);
    }
    if (this.#storeCheck.verdict === "store-lost") {
      // Hold key uploads until the user has chosen: a blank store would publish a new identity under
      // the old device id and start the storm.
      this.#uploadsHeld = new Promise((resolve) => (this.#releaseUploads = resolve));
      this.#emit([{ type: "store-lost", detail: structuredClone(this.#storeCheck) }]);
      this.#recoveryFlow().then((flow) => flow.needed("store-lost", this.#storeCheck.reason, false)).catch(() => {});
    }
  }

  #persistenceChanged(state) {
    this.#persistence = state;
    this.#emit([{ type: "persistence", detail: { ...state } }]);
  }

  /**
   * Makes this tab the session's one crypto writer. mode "wait" resolves true once acquired; "ifAvailable"
   * resolves false at once if another tab holds it; "steal" takes it over (the holder gets writer-lost).
   * Call it before `client.initRustCrypto()`. userId/deviceId default to the attached client's.
   */
  acquireWriter({ mode = "wait", userId, deviceId } = {}) {
    if (!["wait", "ifAvailable", "steal"].includes(mode)) {
      return Promise.reject(new TypeError(`matrix-crypto-guardian: acquireWriter mode must be "wait", "ifAvailable" or "steal"`));
    }
    // Node's writer role is the process's (js/headless.js).
    if (isNode()) return this.#nodeParts().then(({ ProcessWriter }) => this.#acquire(() => new ProcessWriter({ emit: (events) => this.#emit(events) }), mode));
    const name = () => writerLockName(
      this.#options.writerLockName,
      this.#options.cryptoStorePrefix,
      userId ?? this.#session.userId ?? undefined,
      deviceId ?? this.#session.deviceId ?? undefined,
    );
    // Without Web Locks the lease module's WriterLock (loaded at start); the core's throws there (fail open).
    const Lock = this.#lease?.WriterLock ?? WriterLock;
    return this.#acquire(() => new Lock(name(), (events) => this.#emit(events), undefined), mode);
  }

  /** Makes this guardian's writer with `make` the first time, then asks it for the role. */
  #acquire(make, mode) {
    if (this.#lifetime.signal.aborted) return Promise.reject(new Error("matrix-crypto-guardian: stopped"));
    try {
      if (!this.#writer) {
        const writer = make();
        this.#writer = writer;
        // The browser's WriterLock: the lock or lease, its listeners, timers and census channel.
        this.#onStop(() => {
          writer.release();
          writer.stop?.();
        });
      }
      return this.#writer.acquire(mode);
    } catch (err) {
      return Promise.reject(err); // the drop-in then lets the crypto store open (fail open)
    }
  }

  /** Gives the writer role up (or stops waiting for it). */
  releaseWriter() {
    try {
      this.#writer?.release();
    } catch {
      // a failed core call: nothing more to give up here
    }
  }

  /** { mechanism: "web-locks" | "lease", name, tabId, role, isWriter, since, lost, census }. */
  writer() {
    if (this.#writer) return this.#writer.state();
    return { mechanism: isNode() ? "process" : writerMechanism(), name: null, tabId: null, role: "idle", isWriter: false, since: null, lost: null, census: null };
  }

  /** Roll call of this session's open tabs: { tabs, writer, waiting, … } (about 200 ms). */
  writerCensus() {
    return this.#writer ? this.#writer.census() : Promise.resolve(null);
  }

  storm() {
    // Before the first keys/upload the watch is not loaded: a fresh watch's state (written from the model).
    return this.#storm ? this.#storm.storm() : structuredClone(QUIET_STORM);
  }

  /**
   * One-time-key health beyond the conflict: `{ kind: "healthy" | "otk-inflation" | "otk-limit", reason, since,
   * figures }` — see docs/diagnostics.md.
   */
  otkHealth() {
    return this.#storm ? this.#storm.otkHealth() : structuredClone(QUIET_OTK_HEALTH);
  }

  /** What the recovery prompt shows: `{ cause, reason, session, facts, offers, snoozedUntil }`, or null. */
  recovery() {
    return this.#recovery ? this.#recovery.view() : null;
  }

  /** Gathers the facts shown before any choice (key backup, secret storage, cross-signing, …) again. */
  recoveryFacts() {
    return this.#recovery ? this.#recovery.refreshFacts() : Promise.resolve(null);
  }

  /** The remedies offered now, best first: `[{ remedy, recommended, loses }]`. */
  remedies() {
    return this.#recovery ? this.#recovery.view()?.offers ?? [] : [];
  }

  /** Runs one remedy: "export-keys" {passphrase}, "sign-out" {clearAnyway?}, "repair", "continue", "snooze" {ms?}. */
  runRemedy(name, args = {}) {
    if (name === "sign-out" && isNode()) {
      // It clears browser storage and reloads the page; a bot's counterpart is replaceDevice().
      return Promise.reject(new Error('matrix-crypto-guardian: "sign-out" is for pages; in Node.js use replaceDevice({ login })'));
    }
    return this.#recoveryFlow().then((flow) => flow.run(name, args));
  }

  /** Opens the recovery prompt (when one is pending and the prompt is not disabled). */
  openPrompt() {
    return this.#recovery ? this.#recovery.openPrompt() : false;
  }

  /**
   * The session the remedies act on. The token is read when asked, never stored: the attached client's,
   * else the host's own session store (the preset's localStorage, read now: a refreshed token is the
   * current one), else the Authorization of a keys/upload the host sent. Whichever it is, a sign-out
   * confirms it is this device's before it counts (js/remedies.js serverLogout).
   */
  #remedySession() {
    const check = this.#storeCheck;
    const lost = check.session || {};
    const c = this.#client;
    const bearer = bearerToken(this.#session.authorization);
    const userId = this.#session.userId || lost.userId || null;
    const deviceId = this.#session.deviceId || lost.deviceId || null;
    const preset = this.#options.preset || "generic";
    return {
      userId,
      deviceId,
      baseUrl: this.#session.baseUrl || lost.homeserver || baseUrlOf(this.#session.uploadUrl),
      accessToken: (c && typeof c.getAccessToken === "function" && c.getAccessToken()) || sessionToken(preset, userId, deviceId) || bearer,
      preset,
      // This session's crypto store and the stores of other accounts, as the store-loss check found them.
      ownStore: check.store || check.emptyStore || null,
      otherStores: check.others || [],
    };
  }

  /**
   * Resolves to the diagnostics journal of this session: `{ v, session, capacity, total, dropped, keCounts,
   * entries }` (null without diagnostics). The journal sleeps until the first sign of trouble; reading it
   * wakes it (its code is in the lazily loaded module, so this rejects if that module cannot load).
   */
  journal() {
    return this.#diagnostics ? this.#diagnostics.journal() : Promise.resolve(null);
  }

  /** Writes the journal to the guardian's own database now (it is otherwise written within a second). */
  flushJournal() {
    return this.#diagnostics ? this.#diagnostics.flush() : Promise.resolve();
  }

  /** The redacted diagnostics report (schema "matrix-crypto-guardian.report", docs/diagnostics.md). */
  report() {
    return this.#diagnostics ? this.#diagnostics.report() : Promise.reject(new Error("matrix-crypto-guardian: diagnostics unavailable"));
  }

  /** Saves the report as matrix-crypto-guardian-report-<UTC time>.json; resolves to the file name. */
  downloadReport() {
    return this.#diagnostics ? this.#diagnostics.downloadReport() : Promise.reject(new Error("matrix-crypto-guardian: diagnostics unavailable"));
  }

  /** Copies the report to the clipboard; resolves to true when copied. */
  copyReport() {
    return this.#diagnostics ? this.#diagnostics.copyReport() : Promise.resolve(false);
  }

  /** For the panel: `{ journal: { state, reason? }, keCounts, last, ownDatabase }`, now, without waking the journal. */
  diagnosticsSummary(lastN = 10) {
    const d = this.#diagnostics;
    return d ? { journal: d.journalState(), keCounts: d.keCounts(), last: d.lastEntries(lastN), ownDatabase: d.ownDatabase() } : null;
  }

  // ---- Node.js bots: the work is js/headless.js's (BotHost); docs/integration-node.md ----

  /** A bot's store-loss check before its first upload: `{ homeserver, userId, deviceId, accessToken, indexedDB }`. */
  checkBotStore(bot) {
    return this.#botHost().then((bots) => bots.check(bot));
  }

  /** After checkBotStore() found a store loss: signs the old device out, `login()` (the host's) logs a new one in. */
  replaceDevice(options) {
    return this.#botHost().then((bots) => bots.replace(options));
  }

  /** Guards a client's own `fetchFn` like the global fetch (`createClient({ fetchFn: guardian.wrapFetch(f) })`). */
  wrapFetch(fetchFn) {
    if (typeof fetchFn !== "function") throw new TypeError("matrix-crypto-guardian: wrapFetch expects a function");
    // One that is the global fetch is guarded already.
    const globalTap = globalThis[Symbol.for("matrix-crypto-guardian/fetch-tap")];
    if (fetchFn === globalThis.fetch || fetchFn === globalTap?.original) return globalThis.fetch;
    const scope = { fetch: fetchFn };
    const tap = installFetchTap(scope);
    tap.attach(this.#uploadHandler());
    this.#wrappedTaps.push(tap);
    return scope.fetch;
  }

  /** js/headless.js, loaded once, the first time Node's writer role or a bot's API is asked for. */
  #nodeParts() {
    this.#headless ??= import("./headless.js").catch((err) => {
      this.#headless = null; // tried again on the next call
      throw err;
    });
    return this.#headless;
  }

  #botHost() {
    return this.#nodeParts().then(({ BotHost }) => {
      this.#bots ??= new BotHost({
        module: () => this.#watchModule(),
        emit: (events) => this.#emit(events),
        cryptoStores: this.#options.cryptoStores,
        storeCheck: () => this.#storeCheck,
        setStoreCheck: (check) => (this.#storeCheck = check),
        holdUploads: () => (this.#uploadsHeld ??= new Promise((resolve) => (this.#releaseUploads = resolve))),
        letUploadsGo: () => this.#letUploadsGo(),
      });
      return this.#bots;
    });
  }

  /**
   * Takes the guardian down (a bot shutting down, a test, a host that signs out): one abort of its
   * lifetime removes the fetch and console taps, the persistence request's gesture listeners, the writer's
   * lock or lease with its listeners, timers and census channel, the journal's page listeners and the
   * prompt; held uploads are let go (without a guardian nothing holds them); then the journal is written.
   * Guardian.start() starts a new one afterwards.
   */
  async stop() {
    this.#lifetime.abort();
    await this.flushJournal().catch(() => {});
    starting = null;
  }

  #letUploadsGo() {
    this.#releaseUploads?.();
    this.#releaseUploads = null;
    this.#uploadsHeld = null;
  }

  #emit(events) {
    for (const { type, detail } of events || []) {
      this.#diagnostics?.record(type, detail);
      this.dispatchEvent(new CustomEvent(type, { detail }));
      if (this.#recovery) this.#recovery.observe(type, detail);
      // The events that can start a recovery, or settle one, load the flow; the others only concern a
      // flow that has a recovery pending (loaded already).
      else if ((type === "diagnosis" && detail?.diagnosis) || type === "store-loss-accepted") {
        this.#recoveryFlow().then((flow) => flow.observe(type, detail), () => {});
      }
    }
  }

  /** The recovery flow, loaded once (a failed load is tried again on the next need). */
  #recoveryFlow() {
    this.#recoveryLoading ??= import("./recovery.js").then(
      ({ RecoveryFlow }) =>
        (this.#recovery ??= new RecoveryFlow(this, {
          options: this.#options,
          storm: () => this.storm(),
          requestProbe: () => this.#storm?.requestProbe(Date.now()),
          session: () => this.#remedySession(),
          client: () => this.#client,
          models: () => this.#watchModule(),
          forensics: () => this.#forensicsModule(),
          emit: (events) => this.#emit(events),
          storeMismatch: () => this.storeMismatch(),
          signal: this.#lifetime.signal,
        })),
      (err) => {
        this.#recoveryLoading = null;
        console.warn(`${OWN_PREFIX} recovery: its module did not load (${err && err.message ? err.message : err})`);
        throw err;
      },
    );
    return this.#recoveryLoading;
  }

  #uploadHandler() {
    return {
      // The storm watch, loaded with the first keys/upload; false when it cannot load (the upload then goes
      // through unguarded: fail open).
      ready: () => this.#stormWatch().then(() => true, () => false),
      uploadGate: () => this.#uploadsHeld,
      // Kept in memory only (never stored, logged or reported), for the remedies and the diagnosis.
      sawRequest: (authorization, url) => {
        if (authorization) this.#session.authorization = authorization;
        if (url) this.#session.uploadUrl = url;
      },
      beforeUpload: (body, authorization, url) => {
        // Kept in memory only, for the diagnosis' /keys/query; never stored, logged or reported.
        if (authorization) this.#session.authorization = authorization;
        if (url) this.#session.uploadUrl = url;
        // An UploadVerdict: { action: "pass" | "probe" | "replay", status, body (Uint8Array), delayMs, events }.
        const verdict = this.#storm.beforeUpload(body, Date.now());
        this.#emit(verdict.events);
        return verdict;
      },
      afterUpload: (body, status, bytes, complete) => {
        const out = this.#storm.afterUpload(body, status, bytes, complete, Date.now());
        this.#emit(out.events);
        this.#diagnostics?.observeUpload(body, status, bytes, this.#watchLoaded.readAcceptedUpload);
        if (out.needsDiagnosis && this.#options.diagnose) {
          this.#diagnose().catch((err) => {
            this.#emit([{ type: "diagnosis-failed", detail: { reason: String(err) } }]);
            // Settle it as undetermined, so the core asks again for the next conflict's diagnosis.
            this.#emit(this.#storm.diagnose(undefined, undefined, Date.now()).events);
          });
        }
      },
      uploadFailed: (body, reason) => {
        const out = this.#storm.uploadFailed(body, reason, Date.now());
        this.#emit(out.events);
      },
    };
  }

  /**
   * The watch module (src/storm/adapter.rs and the journal, report and remedy adapters), loaded once; a
   * failed download is tried again on the next need.
   */
  #watchModule() {
    // A literal specifier, so Vite and webpack split the module into a lazy chunk (and emit its .wasm).
    this.#watch ??= initModule(import("./watch/guardian_watch.js"), moduleWasm("./watch/guardian_watch.js", "guardian_watch_bg.wasm")).catch((err) => {
      this.#watch = null;
      throw err;
    });
    return this.#watch;
  }

  /**
   * The lease module (src/writer/lease.rs: the writer election without Web Locks), loaded at start where a
   * page has no `navigator.locks`. If it cannot load, acquireWriter() rejects and the host goes on unguarded
   * by the writer lock (the drop-in lets the crypto store open), as when the core cannot load.
   */
  async #loadLeaseIfNeeded() {
    if (writerMechanism() !== "lease") return;
    try {
      this.#lease = await initModule(import("./lease/guardian_lease.js"), moduleWasm("./lease/guardian_lease.js", "guardian_lease_bg.wasm"));
    } catch (err) {
      console.warn(`${OWN_PREFIX} single writer: the lease module did not load (${err && err.message ? err.message : err})`);
    }
  }

  /** The storm watch, made once its module loaded (the breaker's options are the guardian's). */
  async #stormWatch() {
    const m = await this.#watchModule();
    this.#watchLoaded = m;
    this.#storm ??= new m.GuardianCore({ probeAfterMs: this.#options.probeAfterMs, maxProbeAfterMs: this.#options.maxProbeAfterMs });
    return this.#storm;
  }

  /** The forensics module (matrix-sdk-crypto), loaded once; a failed download is tried again on the next need. */
  #forensicsModule() {
    if (!this.#forensics) {
      // By default a literal specifier (a lazy chunk for bundlers); an explicit URL is imported as it is,
      // untouched by bundlers.
      const url = this.#options.forensicsUrl;
      const loading = url ? importUrl(url) : import("./forensics/forensics.js");
      this.#forensics = initModule(loading, moduleWasm(url || "./forensics/forensics.js", "forensics_bg.wasm")).catch((err) => {
        this.#forensics = null;
        throw err;
      });
    }
    return this.#forensics;
  }

  /** Diagnoses the watch's pending conflict (js/diagnosis.js, loaded with the first one). */
  async #diagnose() {
    const { diagnose } = await import("./diagnosis.js");
    const session = { baseUrl: this.#session.baseUrl || baseUrlOf(this.#session.uploadUrl), accessToken: bearerToken(this.#session.authorization) };
    this.#emit(await diagnose(this.#storm, session, () => this.#forensicsModule()));
  }
}

/** A wasm-bindgen module once its wasm is instantiated: read from the package's files in Node, fetched by the glue in browsers. */
async function initModule(loading, wasmUrl) {
  const m = await loading;
  const bytes = await wasmBytes(wasmUrl);
  await m.default(bytes ? { module_or_path: bytes } : undefined);
  return m;
}

/** The token of an `Authorization: Bearer …` the host sent, or null. */
function bearerToken(authorization) {
  const match = authorization && /^Bearer (.+)$/i.exec(authorization);
  return match ? match[1] : null;
}

function baseUrlOf(url) {
  if (!url) return null;
  const at = String(url).indexOf("/_matrix/");
  return at > 0 ? String(url).slice(0, at) : null;
}
