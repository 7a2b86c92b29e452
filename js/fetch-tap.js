// The fetch tap: the only code that sits in the host's request path.
//
// It is plain JavaScript, not wasm, on purpose: the drop-in must install it synchronously, before the
// host's first request and before the wasm has loaded, and the check that lets every unrelated request
// through must cost nothing (no clone, no wasm call, no allocation beyond the URL test).
//
// Rules (DESIGN.md): fail open — any error inside the guardian falls back to the host's own fetch; the
// host always receives the Response it would have received (we read a clone, capped); the tap never
// invents a success: a local answer only ever replays the server's own last 400, marked by a header.

const TAP_KEY = Symbol.for("matrix-crypto-guardian/fetch-tap");
const KEYS_UPLOAD = /\/_matrix\/client\/(?:v3|r0|unstable)\/keys\/upload(?:\/[^/?#]*)?(?:[?#]|$)/;
export const READ_CAP_BYTES = 64 * 1024;
export const GUARDIAN_HEADER = "x-matrix-crypto-guardian";
// How long an upload may wait for the wasm core before it is let through unguarded (fail open).
const CORE_WAIT_MS = 10_000;
// How long a new upload waits for the previous upload's answer to be read (keeps decisions in order).
const OBSERVE_WAIT_MS = 2_000;

/** The URL string of a fetch input (string, URL or Request), or null. */
function urlOf(input) {
  if (typeof input === "string") return input;
  if (input instanceof URL) return input.href;
  if (input && typeof input.url === "string") return input.url;
  return null;
}

/** True when (input, init) is a POST to a client-server keys/upload endpoint. Cheap and total. */
export function isKeysUpload(input, init) {
  const url = urlOf(input);
  if (url === null || !KEYS_UPLOAD.test(url)) return false;
  const method = (init && init.method) || (input instanceof Request ? input.method : "GET");
  return String(method).toUpperCase() === "POST";
}

/** Reads at most `cap` bytes of a Response clone; reports whether the whole body was read. */
export async function readCapped(response, cap = READ_CAP_BYTES) {
  if (!response.body) return { bytes: new Uint8Array(0), complete: true };
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size + value.byteLength > cap) {
        chunks.push(value.subarray(0, cap - size));
        size = cap;
        reader.cancel().catch(() => {});
        return { bytes: concat(chunks, size), complete: false };
      }
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    return { bytes: concat(chunks, size), complete: false };
  }
  return { bytes: concat(chunks, size), complete: true };
}

function concat(chunks, size) {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

async function requestBodyText(input, init) {
  if (init && init.body != null) {
    const body = init.body;
    if (typeof body === "string") return body;
    // Other body kinds (Blob, ArrayBuffer, …) are read through a throwaway Request; the original is untouched.
    return await new Request("http://guardian.invalid/", { method: "POST", body }).text();
  }
  if (input instanceof Request) return await input.clone().text();
  return "";
}

/** A promise that never settles: `withTimeout(NEVER, ms)` is a plain wait that keeps no Node process alive. */
const NEVER = new Promise(() => {});

function withTimeout(promise, ms) {
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(resolve, ms, undefined);
    timer?.unref?.(); // Node: a pending wait never keeps a bot's process alive
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * Installs the tap on `scope` (window, or a worker's self) once, and returns it. A later call returns
 * the same tap, so the drop-in and the npm API can both call it.
 *
 * The tap does nothing until a handler is attached with `tap.attach(handler)`; a keys/upload sent
 * before that waits (at most CORE_WAIT_MS) for it. The handler is the guardian:
 *   ready() -> Promise<boolean>      (optional; its storm watch loaded — false: let the upload through)
 *   beforeUpload(bodyText, authorization, url) -> { action: "pass" | "probe" | "replay", status?, body? }
 *   afterUpload(bodyText, status, bytes, complete)
 *   uploadFailed(bodyText, error)
 *   sawRequest(authorization, url)   (optional; before any hold: kept in memory for the remedies)
 */
export function installFetchTap(scope = globalThis) {
  if (scope[TAP_KEY]) return scope[TAP_KEY];
  const original = scope.fetch;
  if (typeof original !== "function") return null;

  let handler = null;
  let resolveReady;
  const ready = new Promise((resolve) => (resolveReady = resolve));
  let lastObservation = Promise.resolve();

  const tap = {
    original,
    attach(h) {
      handler = h;
      resolveReady(h);
    },
    /** The core will not come (wasm failed to load): stop waiting, let everything through. */
    abandon() {
      handler = null;
      resolveReady(null);
    },
    get attached() {
      return handler !== null;
    },
    /** Guardian.stop(): the scope's fetch back as it was (if nobody wrapped it since), no handler. */
    uninstall() {
      tap.abandon();
      if (scope.fetch === fetchWithGuardian) scope.fetch = original;
      if (scope[TAP_KEY] === tap) delete scope[TAP_KEY];
    },
  };

  // `self` is the `this` the host called fetch with, passed on unchanged: the host's own fetch (or its
  // wrapper) behaves exactly as without the tap (native fetch rejects a non-window `this`).
  async function guardUpload(self, args, input, init) {
    // While the upload waits here (for the core, a hold or the previous answer), the host's AbortSignal
    // still works as it does on a bare fetch: the upload rejects at once with the signal's reason and
    // nothing is sent.
    const abort = watchAbort(input, init);
    try {
      return await decideAndSend(self, args, input, init, abort);
    } finally {
      abort.dispose();
    }
  }

  async function decideAndSend(self, args, input, init, abort) {
    const h = handler || (await abort.race(withTimeout(ready, CORE_WAIT_MS)));
    if (!h) return Reflect.apply(original, self, args);
    let body;
    let decision;
    try {
      // The host's own Authorization, read before any hold (a sign-out from the prompt may need it).
      if (h.sawRequest) h.sawRequest(authorizationOf(input, init), urlOf(input));
      // Uploads are held while the guardian waits for the user (e.g. a store loss seen at start).
      if (h.uploadGate) await abort.race(h.uploadGate());
      // The handler's own module (the storm watch) loads with the first upload; a module that cannot load
      // lets the upload through unguarded (the next upload tries to load it again).
      if (h.ready && !(await abort.race(withTimeout(h.ready(), CORE_WAIT_MS)))) return Reflect.apply(original, self, args);
      body = await abort.race(requestBodyText(input, init));
      // The previous upload's answer must be seen before this one is decided (a storm is back-to-back).
      await abort.race(withTimeout(lastObservation, OBSERVE_WAIT_MS));
      // An aborted request is never ours to answer: no decision, no replay.
      abort.throwIfAborted();
      decision = h.beforeUpload(body, authorizationOf(input, init), urlOf(input));
    } catch (err) {
      if (abort.aborted) throw abort.reason;
      reportInternal(err);
      return Reflect.apply(original, self, args);
    }
    if (decision && decision.action === "replay") {
      // Spaced by the core (StormConfig::replay_spacing_ms): the same answer, later, so an SDK that re-sends at
      // once (matrix-js-sdk 40.0.0) cannot spin the page. An abort meanwhile rejects as a bare fetch would.
      if (decision.delayMs > 0) await abort.race(withTimeout(NEVER, decision.delayMs));
      try {
        return new Response(decision.body, {
          status: decision.status,
          statusText: "Bad Request",
          headers: { "content-type": "application/json", [GUARDIAN_HEADER]: "breaker-open; replay of the server's last answer" },
        });
      } catch (err) {
        // Fail open: a replay we cannot build (e.g. a status Response refuses) goes to the server instead.
        reportInternal(err);
      }
    }
    let response;
    try {
      response = await Reflect.apply(original, self, args);
    } catch (err) {
      try {
        h.uploadFailed(body, String(err && err.name ? err.name : err));
      } catch (inner) {
        reportInternal(inner);
      }
      throw err;
    }
    try {
      const copy = response.clone();
      lastObservation = readCapped(copy).then(
        ({ bytes, complete }) => h.afterUpload(body, response.status, bytes, complete),
        reportInternal,
      ).catch(reportInternal);
    } catch (err) {
      reportInternal(err);
    }
    return response;
  }

  function fetchWithGuardian(input, init) {
    if (!orElse(() => isKeysUpload(input, init), false)) return Reflect.apply(original, this, arguments);
    return guardUpload(this, arguments, input, init);
  }

  try {
    Object.defineProperty(scope, TAP_KEY, { value: tap, configurable: true });
    scope.fetch = fetchWithGuardian;
  } catch (err) {
    reportInternal(err);
    return null;
  }
  return tap;
}

/** `read()`, or `fallback` when reading throws (a hostile or exotic input must not break fetch). */
function orElse(read, fallback) {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/**
 * Watches the AbortSignal fetch would use: `race(p)` settles like `p` unless the signal aborts first, then
 * rejects with the signal's reason (as a bare fetch does); `dispose()` stops watching. No signal (or one we
 * cannot read): nothing is watched, every wait is as before.
 */
function watchAbort(input, init) {
  const signal = orElse(() => signalOf(input, init), null);
  if (!signal || typeof signal.addEventListener !== "function") {
    return { aborted: false, reason: undefined, race: (p) => p, throwIfAborted() {}, dispose() {} };
  }
  let onAbort = null;
  const aborted = new Promise((_, reject) => {
    onAbort = () => reject(abortReason(signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {}); // observed through race(); never an unhandled rejection
  return {
    get aborted() {
      return signal.aborted === true;
    },
    get reason() {
      return abortReason(signal);
    },
    race: (p) => Promise.race([p, aborted]),
    throwIfAborted() {
      if (signal.aborted) throw abortReason(signal);
    },
    dispose: () => signal.removeEventListener("abort", onAbort),
  };
}

/** What a bare fetch rejects with for an aborted signal: its reason, or an AbortError without one. */
function abortReason(signal) {
  return signal.reason !== undefined ? signal.reason : new DOMException("signal is aborted without reason", "AbortError");
}

/** The AbortSignal fetch would use: init.signal when given, else the Request's. */
function signalOf(input, init) {
  if (init && init.signal !== undefined) return init.signal;
  return input instanceof Request ? input.signal : null;
}

function authorizationOf(input, init) {
  const h = (init && init.headers) || (input instanceof Request ? input.headers : null);
  if (!h) return null;
  if (h instanceof Headers) return h.get("authorization");
  if (Array.isArray(h)) {
    const pair = h.find(([k]) => String(k).toLowerCase() === "authorization");
    return pair ? pair[1] : null;
  }
  for (const k of Object.keys(h)) if (k.toLowerCase() === "authorization") return h[k];
  return null;
}

let warned = false;
function reportInternal(err) {
  // One console line, never a throw into the host. Uses the original console method so the console tap
  // (diagnostics) does not classify the guardian's own words.
  if (warned) return;
  warned = true;
  try {
    console.warn("[matrix-crypto-guardian] internal error, continuing without guarding this request:", err);
  } catch {}
}
