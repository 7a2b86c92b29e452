// matrix-crypto-guardian — the npm entry.
//
//   import { Guardian } from "matrix-crypto-guardian";
//   const guardian = await Guardian.start();          // before the MatrixClient makes its first request
//   guardian.attach(client);                          // after login
//   guardian.addEventListener("storm", (e) => …);
//
// This file is the thin JS adapter around the wasm core (src/api.rs): it owns the event target, the
// in-memory session facts and the lazy loading of the forensics module. Decisions are the core's.
import initCore, { GuardianCore, coreVersion } from "./core/guardian_core.js";
import { installFetchTap } from "./fetch-tap.js";

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

export class Guardian extends EventTarget {
  #core;
  #options;
  #session = { userId: null, deviceId: null, baseUrl: null, authorization: null };
  #client = null;
  #forensics = null;

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
    starting = (async () => {
      await initCore(options.coreWasmUrl ? { module_or_path: options.coreWasmUrl } : undefined);
      const guardian = new Guardian(options);
      if (tap) tap.attach(guardian.#uploadHandler());
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
