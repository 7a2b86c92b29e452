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

function withTimeout(promise, ms) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(resolve, ms, undefined))]);
}

/**
 * Installs the tap on `scope` (window, or a worker's self) once, and returns it. A later call returns
 * the same tap, so the drop-in and the npm API can both call it.
 *
 * The tap does nothing until a handler is attached with `tap.attach(handler)`; a keys/upload sent
 * before that waits (at most CORE_WAIT_MS) for it. The handler is the guardian core:
 *   beforeUpload(bodyText, authorization, url) -> { action: "pass" | "probe" | "replay", status?, body? }
 *   afterUpload(bodyText, status, bytes, complete)
 *   uploadFailed(bodyText, error)
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
  };

  // `self` is the `this` the host called fetch with, passed on unchanged: the host's own fetch (or its
  // wrapper) behaves exactly as without the tap (native fetch rejects a non-window `this`).
  async function guardUpload(self, args, input, init) {
    const h = handler || (await withTimeout(ready, CORE_WAIT_MS));
    if (!h) return Reflect.apply(original, self, args);
    let body;
    let decision;
    try {
      // Uploads are held while the guardian waits for the user (e.g. a store loss seen at start).
      if (h.uploadGate) await h.uploadGate();
      body = await requestBodyText(input, init);
      // The previous upload's answer must be seen before this one is decided (a storm is back-to-back).
      await withTimeout(lastObservation, OBSERVE_WAIT_MS);
      // An aborted request is the host's own fetch's to reject (with the abort reason), never ours to
      // answer: no decision, no replay.
      if (signalOf(input, init)?.aborted) return Reflect.apply(original, self, args);
      decision = h.beforeUpload(body, authorizationOf(input, init), urlOf(input));
    } catch (err) {
      reportInternal(err);
      return Reflect.apply(original, self, args);
    }
    if (decision && decision.action === "replay") {
      // Spaced by the core (StormConfig::replay_spacing_ms): the same answer, later, so an SDK that re-sends at
      // once (matrix-js-sdk 40.0.0) cannot spin the page. A request aborted meanwhile is the host's fetch's to reject.
      if (decision.delayMs > 0) {
        await waitOrAbort(decision.delayMs, signalOf(input, init));
        if (signalOf(input, init)?.aborted) return Reflect.apply(original, self, args);
      }
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
    let upload = false;
    try {
      upload = isKeysUpload(input, init);
    } catch {
      upload = false;
    }
    if (!upload) return Reflect.apply(original, this, arguments);
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

/** Resolves after `ms`, or as soon as `signal` aborts. */
function waitOrAbort(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    try {
      signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    } catch {
      // a foreign signal: the timer alone
    }
  });
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
