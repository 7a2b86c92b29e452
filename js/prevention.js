// Prevention: persistent storage and the store-loss check, the browser side.
// The store-loss decision itself is the core's (src/model/store_loss.rs); this file only gathers facts.

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
