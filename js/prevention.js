// Prevention: persistent storage and the store-loss check, the browser side.
// The store-loss decision itself is the core's (src/model/store_loss.rs); this file only gathers facts.

/**
 * Asks for persistent storage: `persisted()`, else `persist()`; if denied, once more on the next user
 * gesture (some browsers only grant then). Calls `report(state)` with every outcome.
 * Returns a function that asks again (guardian.requestPersistence()).
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

  const ask = async (context) => {
    try {
      state.persisted = await storage.persist();
    } catch {
      state.persisted = false;
    }
    await publish(state.persisted ? `granted${context}` : `denied${context}`);
    return { ...state };
  };

  // `click`/`keyup`, not `pointerdown`: the retry's outcome must not land between a press and its release
  // (a host that shows it could move the very button the user is pressing).
  const onGesture = () => {
    scope.removeEventListener("click", onGesture, true);
    scope.removeEventListener("keyup", onGesture, true);
    if (!state.persisted) ask("-on-gesture");
  };

  (async () => {
    try {
      state.persisted = await storage.persisted();
    } catch {
      state.persisted = false;
    }
    if (state.persisted) return publish("already-persisted");
    await ask("");
    if (!state.persisted && scope.addEventListener) {
      scope.addEventListener("click", onGesture, { capture: true, passive: true });
      scope.addEventListener("keyup", onGesture, { capture: true, passive: true });
    }
  })();
  return () => ask("-on-request");
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
