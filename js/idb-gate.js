// The IndexedDB gate: holds `indexedDB.open()` of the crypto store until every hold is released.
//
//   const gate = installIdbGate(window, { prefix: "matrix-js-sdk::matrix-sdk-crypto" });
//   const release = gate.hold("writer");   // opens of matching names now wait
//   release();                             // …and proceed once no hold remains
//
// A generic hold mechanism: the single-writer lock holds it until this tab is the writer; the store-loss
// check may add its own hold. Only crypto stores are touched (names starting with the prefix, which also
// matches the `-meta` store, and every `*::matrix-sdk-crypto[-meta]`); every other database opens exactly as
// without the gate.
//
// A held open returns at once (as `open()` must) an object that *is* an IDBOpenDBRequest as far as its
// users can tell (`instanceof IDBOpenDBRequest`, which matrix-sdk-crypto-wasm's bindings check): its
// prototype is IDBOpenDBRequest.prototype and it has its own `result`, `error`, `readyState`, `source`,
// `transaction`, `on*` handlers and listener methods. When released, the real open runs, and each of its
// events (upgradeneeded, blocked, success, error) is handed to the proxy's handlers synchronously from
// inside the real event's dispatch — so the upgrade transaction is still active — with `event.target` the
// real request (so `event.target.result` is the real IDBDatabase). Fail open: if anything about the proxy cannot be built, the open proceeds at once.
//
// Deletions of the crypto store are watched, never held: `onDelete` tells the drop-in, which holds the next
// open until the store-loss check has looked again (a client that wipes its own store and retries).
//
// Plain JS, no wasm: it is installed synchronously by the drop-in before the host's first line runs.

export const GATE = Symbol.for("matrix-crypto-guardian/idb-gate");
const EVENTS = ["upgradeneeded", "blocked", "success", "error"];

export const DEFAULT_CRYPTO_STORE_PREFIX = "matrix-js-sdk::matrix-sdk-crypto";

/** Every rust crypto store, whatever its prefix: multi-account clients name one per session. */
const RUST_STORE_NAME = /::matrix-sdk-crypto(-meta)?$/;

/**
 * Same rule as the model's `is_crypto_store` (src/writer/model.rs): the prefix's names and every rust crypto
 * store. The gate must decide synchronously, before the wasm loads.
 */
export function isCryptoStore(name, prefix) {
  if (typeof name !== "string") return false;
  return RUST_STORE_NAME.test(name) || (typeof prefix === "string" && prefix !== "" && name.startsWith(prefix));
}

/**
 * Installs the gate once per global (later calls return the same gate). Returns null where there is no
 * IndexedDB. `onPending(count)` is called when the number of held opens changes.
 */
export function installIdbGate(global, { prefix = DEFAULT_CRYPTO_STORE_PREFIX } = {}) {
  if (global[GATE]) return global[GATE];
  const Factory = global.IDBFactory;
  if (!Factory || !Factory.prototype || typeof Factory.prototype.open !== "function") return null;
  const originalOpen = Factory.prototype.open;
  const originalDelete = typeof Factory.prototype.deleteDatabase === "function" ? Factory.prototype.deleteDatabase : null;
  const deleteListeners = new Set();
  const deletions = []; // { name, at }: crypto-store deletions this page asked for
  const holds = new Map(); // id -> reason
  let holdSerial = 0;
  const waiting = []; // [{ run }]
  const connections = new Set(); // IDBDatabase objects of the crypto store opened in this page
  const listeners = new Set();
  const log = []; // { name, at, held } for diagnostics and tests
  let currentPrefix = prefix;
  let bypassing = 0; // > 0 while the guardian's own probe opens (gate.bypass)

  const notify = () => {
    for (const fn of listeners) {
      try {
        fn(waiting.length);
      } catch {
        /* a listener's bug is not the host's problem */
      }
    }
  };

  const track = (request) => {
    try {
      request.addEventListener("success", () => {
        const db = request.result;
        connections.add(db);
        db.addEventListener("close", () => connections.delete(db));
      });
    } catch {
      /* tracking is best effort */
    }
    return request;
  };

  const flush = () => {
    if (holds.size > 0) return;
    const queued = waiting.splice(0);
    for (const entry of queued) entry.run();
    if (queued.length) notify();
  };

  function gatedOpen(name, ...rest) {
    if (bypassing > 0 || !isCryptoStore(String(name), currentPrefix)) return originalOpen.call(this, name, ...rest);
    log.push({ name: String(name), at: Date.now(), held: holds.size > 0 });
    if (holds.size === 0) return track(originalOpen.call(this, name, ...rest));
    let proxy;
    try {
      proxy = heldRequest(() => track(originalOpen.call(this, name, ...rest)), waiting, global);
    } catch {
      return track(originalOpen.call(this, name, ...rest));
    }
    notify();
    return proxy;
  }

  // A deletion is never held or changed; it is only seen, before it starts, so that a listener can hold the
  // next open (a client that deletes its own crypto store and opens it again makes a store loss).
  function watchedDelete(name, ...rest) {
    if (isCryptoStore(String(name), currentPrefix)) {
      deletions.push({ name: String(name), at: Date.now() });
      for (const fn of deleteListeners) {
        try {
          fn(String(name));
        } catch {
          /* a listener's bug is not the host's problem */
        }
      }
    }
    return originalDelete.call(this, name, ...rest);
  }

  Factory.prototype.open = gatedOpen;
  if (originalDelete) Factory.prototype.deleteDatabase = watchedDelete;

  const gate = {
    /** Adds a hold; opens of the crypto store wait until every hold is released. Returns release(). */
    hold(reason = "hold") {
      const id = ++holdSerial;
      holds.set(id, String(reason));
      return () => {
        if (holds.delete(id)) flush();
      };
    },
    /** Reasons of the current holds. */
    holds: () => [...holds.values()],
    /** Number of crypto-store opens waiting. */
    pending: () => waiting.length,
    /** `fn(pendingCount)` on every change; returns unsubscribe. */
    onPending(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    /** `fn(name)` when this page asks to delete a crypto store (before the deletion starts); returns unsubscribe. */
    onDelete(fn) {
      deleteListeners.add(fn);
      return () => deleteListeners.delete(fn);
    },
    /** Every crypto-store deletion this page asked for: [{ name, at }]. */
    deletions: () => deletions.slice(),
    /** Every crypto-store open this page attempted: [{ name, at, held }]. */
    opens: () => log.slice(),
    /** Open connections to the crypto store made in this page. */
    connections: () => connections.size,
    /**
     * Closes this page's connections to the crypto store (after losing the writer role: the engine's next
     * transaction fails instead of writing). Returns how many were closed.
     */
    closeConnections() {
      let n = 0;
      for (const db of connections) {
        try {
          db.close();
          n++;
        } catch {
          /* already closing */
        }
      }
      connections.clear();
      return n;
    },
    setPrefix(p) {
      if (typeof p === "string" && p) currentPrefix = p;
    },
    get prefix() {
      return currentPrefix;
    },
    /**
     * `bypass(+1)` … `bypass(-1)`: opens made in between (synchronously) pass the gate, unlogged — the
     * guardian's own read of the crypto store before the SDK starts (src/store_loss/probe.rs) must not wait
     * behind the very hold that waits for it.
     */
    bypass(delta) {
      bypassing = Math.max(0, bypassing + (delta > 0 ? 1 : -1));
    },
    /** Removes every hold (fail open) and lets waiting opens proceed. */
    releaseAll() {
      holds.clear();
      flush();
    },
    /** Puts the original open back (tests; holds are released first). */
    uninstall() {
      gate.releaseAll();
      if (Factory.prototype.open === gatedOpen) Factory.prototype.open = originalOpen;
      if (originalDelete && Factory.prototype.deleteDatabase === watchedDelete) Factory.prototype.deleteDatabase = originalDelete;
      delete global[GATE];
    },
  };
  Object.defineProperty(global, GATE, { value: gate, configurable: true });
  return gate;
}

/** The gate installed in this global, if any. */
export function idbGateOf(global) {
  return global[GATE] || null;
}

/** An IDBOpenDBRequest look-alike whose real open runs when the gate lets it. */
function heldRequest(openReal, waiting, global) {
  const Proto = global.IDBOpenDBRequest && global.IDBOpenDBRequest.prototype;
  const proxy = Object.create(Proto || Object.prototype);
  const listeners = Object.fromEntries(EVENTS.map((t) => [t, []])); // [{ fn, once }]
  const handlers = Object.fromEntries(EVENTS.map((t) => [t, null]));
  let real = null;
  let earlyError = null;

  const own = (name, get, set) => Object.defineProperty(proxy, name, { get, set, enumerable: true, configurable: true });
  own("readyState", () => (real ? real.readyState : earlyError ? "done" : "pending"));
  own("result", () => {
    if (real) return real.result;
    throw new DOMException("The request has not finished.", "InvalidStateError");
  });
  own("error", () => {
    if (real) return real.error;
    if (earlyError) return earlyError;
    throw new DOMException("The request has not finished.", "InvalidStateError");
  });
  own("source", () => null);
  own("transaction", () => (real ? real.transaction : null));
  for (const type of EVENTS) {
    own(`on${type}`, () => handlers[type], (fn) => {
      handlers[type] = typeof fn === "function" ? fn : null;
    });
  }
  const method = (name, value) => Object.defineProperty(proxy, name, { value, configurable: true });
  method("addEventListener", (type, fn, options) => {
    const list = listeners[type];
    if (!list || !fn || list.some((l) => l.fn === fn)) return;
    list.push({ fn, once: !!(options && typeof options === "object" && options.once) });
  });
  method("removeEventListener", (type, fn) => {
    const list = listeners[type];
    if (list) listeners[type] = list.filter((l) => l.fn !== fn);
  });
  method("dispatchEvent", () => true);

  // Hand the real event (its target is the real request) to the proxy's listeners and handler, from inside
  // the real event's dispatch. Listeners first, then the handler, as for a real EventTarget.
  const forward = (type, event) => {
    for (const l of listeners[type].slice()) {
      if (l.once) listeners[type] = listeners[type].filter((x) => x !== l);
      try {
        if (typeof l.fn === "function") l.fn.call(proxy, event);
        else if (l.fn && typeof l.fn.handleEvent === "function") l.fn.handleEvent(event);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    const fn = handlers[type];
    if (fn) fn.call(proxy, event);
  };

  waiting.push({
    run() {
      try {
        real = openReal();
      } catch (err) {
        // The real open threw synchronously (e.g. a bad version): report it the way a request would.
        earlyError = err;
        const fake = { type: "error", target: proxy, preventDefault() {}, stopPropagation() {} };
        queueMicrotask(() => forward("error", fake));
        return;
      }
      for (const type of EVENTS) real.addEventListener(type, (event) => forward(type, event));
    },
  });
  return proxy;
}
