// Prevention: persistent storage and the store-loss check, the browser side.
// The store-loss decision itself is the core's (src/store_loss/model.rs); this file only gathers facts.

/**
 * Persistent storage, asked for without surprising the user. `persisted()` first; then, by what the
 * Permissions API says of `persistent-storage`:
 *  - "granted": `persist()` at once (no prompt can show);
 *  - "denied": reported as denied, not asked (the browser already said no);
 *  - "prompt" or no answer: `persist()` may show a permission prompt (Firefox does; Chromium decides
 *    silently), so it is asked on the first user gesture (`click`/`keyup`), never at page load — a prompt
 *    out of nowhere at load is what users deny. Reported as "awaiting-gesture" until then, "asking" while
 *    the browser has not answered.
 * If a request is denied, asked once more on the next gesture (some browsers only grant then). No
 * `navigator.storage` (WebKitGTK, insecure contexts): "unsupported". Calls `report(state)` with every outcome.
 * Returns a function that asks now (guardian.requestPersistence(), meant for a user gesture such as login).
 */
export function startPersistence(report, scope = globalThis) {
  const storage = scope.navigator && scope.navigator.storage;
  const state = { supported: !!(storage && storage.persist && storage.persisted), persisted: null, outcome: "pending", usage: null, quota: null };
  const publish = async (outcome) => {
    state.outcome = outcome;
    try {
      const { usage, quota } = await storage.estimate();
      Object.assign(state, { usage, quota });
    } catch {
      // estimate() is optional; usage/quota stay null.
    }
    report({ ...state });
  };
  if (!state.supported) {
    state.outcome = "unsupported";
    report({ ...state });
    return async () => ({ ...state });
  }

  let asking = null;
  const ask = (context) =>
    (asking ??= (async () => {
      state.outcome = "asking";
      report({ ...state });
      try {
        state.persisted = await storage.persist();
      } catch {
        state.persisted = false;
      }
      await publish(state.persisted ? `granted${context}` : `denied${context}`);
      return { ...state };
    })().finally(() => (asking = null)));

  // `click`/`keyup`, not `pointerdown`: the outcome must not land between a press and its release
  // (a host that shows it could move the very button the user is pressing).
  const onGesture = () => {
    scope.removeEventListener("click", onGesture, true);
    scope.removeEventListener("keyup", onGesture, true);
    if (!state.persisted) ask("-on-gesture");
  };
  const askOnGesture = () => {
    if (!scope.addEventListener) return;
    scope.addEventListener("click", onGesture, { capture: true, passive: true });
    scope.addEventListener("keyup", onGesture, { capture: true, passive: true });
  };

  (async () => {
    let persisted;
    try {
      persisted = await storage.persisted();
    } catch {
      persisted = false;
    }
    const permission = persisted ? null : await permissionState(scope);
    if (state.outcome !== "pending") return; // asked meanwhile (requestPersistence): that answer stands
    state.persisted = persisted;
    if (persisted) return publish("already-persisted");
    if (permission === "granted") {
      await ask("");
      if (!state.persisted) askOnGesture();
    } else if (permission === "denied") {
      await publish("denied");
    } else {
      await publish("awaiting-gesture");
      askOnGesture();
    }
  })();
  return () => ask("-on-request");
}

/** "granted" | "denied" | "prompt" for persistent-storage, or null where the Permissions API cannot say. */
async function permissionState(scope) {
  try {
    const status = await scope.navigator.permissions.query({ name: "persistent-storage" });
    return status.state;
  } catch {
    return null;
  }
}

/** Reads the preset's session keys from localStorage now (call it synchronously at start). */
export function snapshotSession(keys, scope = globalThis) {
  const values = {};
  try {
    for (const key of keys) values[key] = scope.localStorage.getItem(key);
  } catch {
    // localStorage blocked (privacy mode, sandboxed iframe): no session seen.
  }
  return values;
}

/**
 * The access token the host keeps for this session in its own session store (never stored, logged or
 * reported by the guardian), or null: Cinny's `matrixSessions` entry of this user and device, else its
 * `cinny_access_token` when `cinny_user_id`/`cinny_device_id` name this device; Element's
 * `mx_access_token` where it is a plain token (newer Element keeps it encrypted elsewhere: null). Read
 * at the moment of use. Whether it really is this device's, the server says (`/account/whoami`).
 */
export function sessionToken(preset, userId, deviceId, scope = globalThis) {
  if (!userId || !deviceId) return null;
  try {
    const get = (k) => scope.localStorage.getItem(k);
    const plain = (t) => (typeof t === "string" && /^[\x21-\x7e]{8,}$/.test(t) && !/^[[{"]/.test(t) ? t : null);
    if (preset === "cinny") {
      const list = JSON.parse(get("matrixSessions") || "null");
      const entry = Array.isArray(list) ? list.find((s) => s && s.userId === userId && s.deviceId === deviceId) : null;
      if (entry) return plain(entry.accessToken);
      if (get("cinny_user_id") === userId && get("cinny_device_id") === deviceId) return plain(get("cinny_access_token"));
    } else if (preset === "element") {
      if (get("mx_user_id") === userId && get("mx_device_id") === deviceId) return plain(get("mx_access_token"));
    }
  } catch {
    // localStorage blocked or a malformed list: no token from here.
  }
  return null;
}
