// matrix-crypto-guardian — the npm entry.
//
//   import { Guardian } from "matrix-crypto-guardian";
//   const guardian = await Guardian.start();          // before the MatrixClient makes its first request
//   guardian.attach(client);                          // after login
//   guardian.addEventListener("storm", (e) => …);
//
// This file is the thin JS adapter around the wasm core (src/api.rs): it owns the event target, the
// in-memory session facts and the lazy loading of the forensics module. Decisions are the core's.
import initCore, { GuardianCore, coreVersion, sessionKeys, presetCryptoStores, checkStoreAtStart } from "./core/guardian_core.js";
import { installFetchTap } from "./fetch-tap.js";
import { snapshotSession, startPersistence } from "./prevention.js";

export { isKeysUpload, GUARDIAN_HEADER } from "./fetch-tap.js";

/** Thrown by Guardian.start() for an option it does not know or cannot use; `option` names it. */
export class GuardianOptionError extends TypeError {
  constructor(option, message) {
    super(`matrix-crypto-guardian: option "${option}": ${message}`);
    this.name = "GuardianOptionError";
    this.option = option;
  }
}

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
  // Where the client keeps its session in localStorage, for the store-loss check at start.
  preset: (v) => ["cinny", "element", "generic"].includes(v) || 'must be "cinny", "element" or "generic"',
  // The session, when the host names it itself ({ userId, deviceId }); wins over the preset's keys.
  session: (v) => (v && typeof v.userId === "string" && typeof v.deviceId === "string") || "must be { userId, deviceId }",
  // IndexedDB names of the crypto store (default: the preset's rust and legacy names).
  cryptoStores: (v) => (Array.isArray(v) && v.every((n) => typeof n === "string")) || "must be an array of database names",
  // Ask for persistent storage at start (default true).
  persist: (v) => typeof v === "boolean" || "must be true or false",
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
  #core;
  #options;
  #session = { userId: null, deviceId: null, baseUrl: null, authorization: null };
  #client = null;
  #forensics = null;
  #storeCheck = { verdict: "not-checked" };
  #persistence = { supported: null, persisted: null, outcome: "not-requested", usage: null, quota: null };
  #requestPersistence = null;
  #releaseUploads = null;
  #uploadsHeld = null;

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
    if (starting) return starting;
    // The session as it was before this page could log in: read synchronously, before any await, so
    // a login later in this page is never mistaken for a surviving session.
    const sessionAtStart = { preset: options.preset || "generic", values: snapshotSession(PRESET_SESSION_KEYS[options.preset] || []) };
    starting = (async () => {
      await initCore(options.coreWasmUrl ? { module_or_path: options.coreWasmUrl } : undefined);
      const guardian = new Guardian(options);
      if (tap) tap.attach(guardian.#uploadHandler());
      await guardian.#checkStore(sessionAtStart);
      if (options.persist !== false) guardian.#requestPersistence = startPersistence((s) => guardian.#persistenceChanged(s));
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
    this.#core = new GuardianCore({
      probeAfterMs: options.probeAfterMs,
      maxProbeAfterMs: options.maxProbeAfterMs,
    });
  }

  get version() {
    return coreVersion();
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
    return this;
  }

  /** The result of the store-loss check made at start (`verdict`: no-session | healthy | store-lost | unknown). */
  storeCheck() {
    return structuredClone(this.#storeCheck);
  }

  /** Persistent storage: `{ supported, persisted, outcome, usage, quota }`. */
  persistence() {
    return { ...this.#persistence };
  }

  /** Asks for persistent storage now (call it from a user gesture, e.g. at login). */
  async requestPersistence() {
    if (!this.#requestPersistence) this.#requestPersistence = startPersistence((s) => this.#persistenceChanged(s));
    else await this.#requestPersistence();
    return this.persistence();
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
    this.#storeCheck = await checkStoreAtStart(preset, values || {}, this.#options.session || null, fallbackStores, null);
    if (this.#storeCheck.verdict === "store-lost") {
      // Hold key uploads until the user has chosen: a blank store would publish a new identity under
      // the old device id and start the storm.
      this.#uploadsHeld = new Promise((resolve) => (this.#releaseUploads = resolve));
      this.#emit([{ type: "store-lost", detail: structuredClone(this.#storeCheck) }]);
    }
  }

  #persistenceChanged(state) {
    this.#persistence = state;
    this.#emit([{ type: "persistence", detail: { ...state } }]);
  }

  /** The current storm state: breaker, failing key ids, counts, diagnosis. */
  storm() {
    return this.#core.storm();
  }

  #emit(events) {
    for (const { type, detail } of events || []) {
      this.dispatchEvent(new CustomEvent(type, { detail }));
    }
  }

  #uploadHandler() {
    return {
      uploadGate: () => this.#uploadsHeld,
      beforeUpload: (body, authorization, url) => {
        // Kept in memory only, for the diagnosis' /keys/query; never stored, logged or reported.
        if (authorization) this.#session.authorization = authorization;
        if (url) this.#session.uploadUrl = url;
        const out = this.#core.beforeUpload(body, Date.now());
        this.#emit(out.events);
        return out.decision;
      },
      afterUpload: (body, status, bytes, complete) => {
        const out = this.#core.afterUpload(body, status, bytes, complete, Date.now());
        this.#emit(out.events);
        if (out.needsDiagnosis && this.#options.diagnose) {
          this.#diagnose().catch((err) => this.#emit([{ type: "diagnosis-failed", detail: { reason: String(err) } }]));
        }
      },
      uploadFailed: (body, reason) => {
        const out = this.#core.uploadFailed(body, reason, Date.now());
        this.#emit(out.events);
      },
    };
  }

  async #forensicsModule() {
    if (!this.#forensics) {
      const url = this.#options.forensicsUrl || new URL("./forensics/forensics.js", import.meta.url);
      this.#forensics = import(/* webpackIgnore: true */ /* @vite-ignore */ String(url)).then(async (m) => {
        await m.default();
        return m;
      });
    }
    return this.#forensics;
  }

  async #diagnose() {
    const need = this.#core.diagnosisInput();
    if (!need) return;
    let ed25519 = need.currentEd25519 || null;
    if (!ed25519 && need.userId && need.deviceId) ed25519 = await this.#queryOwnEd25519(need.userId, need.deviceId);
    let verdict = null;
    if (ed25519 && need.oldKeyJson && need.userId && need.deviceId) {
      const forensics = await this.#forensicsModule();
      verdict = forensics.verifyOneTimeKey(need.oldKeyJson, need.userId, need.deviceId, ed25519);
    }
    this.#emit(this.#core.diagnose(verdict, ed25519, Date.now()).events);
  }

  /** The device's current ed25519 key as the homeserver publishes it (`POST /keys/query`). */
  async #queryOwnEd25519(userId, deviceId) {
    const base = this.#session.baseUrl || baseUrlOf(this.#session.uploadUrl);
    if (!base || !this.#session.authorization) return null;
    const tap = globalThis[Symbol.for("matrix-crypto-guardian/fetch-tap")];
    const fetchOriginal = tap ? tap.original : fetch;
    const response = await fetchOriginal.call(globalThis, new URL("_matrix/client/v3/keys/query", withSlash(base)), {
      method: "POST",
      headers: { authorization: this.#session.authorization, "content-type": "application/json" },
      body: JSON.stringify({ device_keys: { [userId]: [deviceId] } }),
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    return this.#core.ed25519FromKeysQuery(response.status, bytes, userId, deviceId) || null;
  }
}

function baseUrlOf(url) {
  if (!url) return null;
  const at = String(url).indexOf("/_matrix/");
  return at > 0 ? String(url).slice(0, at) : null;
}

function withSlash(url) {
  return url.endsWith("/") ? url : url + "/";
}
