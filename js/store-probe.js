// Reads what a crypto store holds before the SDK opens it: its object stores, the first key *names* of
// the rust store's `core` object store, and the legacy libolm store's account count. Never a value, never
// a write. The decision (is there an account?) is the core's: `account_presence` in
// src/model/store_loss.rs.
//
// Careful with a database that is not ours: the open has no version (no upgrade of the SDK's schema);
// if the database vanished since it was listed, the open would create it blank, so the upgrade is
// aborted; the connection closes at once, and on `versionchange`, so it never blocks the SDK's own
// upgrade; an open that does not finish in time is "not read", not "empty".
import { GATE } from "./idb-gate.js";

const CORE_KEYS_READ = 16;

/**
 * `(name, userId, deviceId) => Promise<StoreContents | null>` for the core's checkStore.
 * `writerElsewhere(userId, deviceId)`: whether another tab is this session's crypto writer now; then the
 * store is not opened at all (a tab that is not the writer never opens the crypto store — and the
 * writer's own start checked it).
 */
export function storeProber(scope = globalThis, { timeoutMs = 3000, writerElsewhere = async () => false } = {}) {
  return async (name, userId, deviceId) => {
    try {
      if (await writerElsewhere(userId, deviceId)) return null;
      return await probeCryptoStore(name, scope, timeoutMs);
    } catch {
      return null;
    }
  };
}

/**
 * Names of this origin's IndexedDB databases, or null where they cannot be listed (Firefox before 126,
 * some webviews): for the store-loss check that is "unknown", never "lost".
 */
export async function databaseNames(scope = globalThis) {
  try {
    const list = await scope.indexedDB.databases();
    return list.map((d) => d && d.name).filter((n) => typeof n === "string" && n !== "");
  } catch {
    return null;
  }
}

function probeCryptoStore(name, scope, timeoutMs) {
  const factory = scope.indexedDB;
  if (!factory) return Promise.resolve(null);
  const gate = scope[GATE]; // the drop-in's gate holds crypto-store opens until this check is done
  return new Promise((resolve) => {
    let settled = false;
    const finish = (value) => {
      if (!settled) {
        settled = true;
        resolve(value);
      }
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    const request = gate ? gate.openUngated(factory, name) : factory.open(name);
    request.onupgradeneeded = () => {
      // It did not exist after all: leave no blank database behind.
      request.transaction.abort();
      clearTimeout(timer);
      finish({ objectStores: [] });
    };
    request.onerror = (event) => {
      event.preventDefault?.(); // an aborted upgrade is expected here, not an uncaught error
      clearTimeout(timer);
      finish((request.error && request.error.name === "AbortError") ? { objectStores: [] } : null);
    };
    request.onsuccess = () => {
      const db = request.result;
      db.onversionchange = () => db.close();
      if (settled) return db.close();
      readContents(db).then(
        (contents) => {
          db.close();
          clearTimeout(timer);
          finish(contents);
        },
        () => {
          db.close();
          clearTimeout(timer);
          finish(null);
        },
      );
    };
  });
}

async function readContents(db) {
  const objectStores = [...db.objectStoreNames];
  const contents = { objectStores };
  if (objectStores.includes("core")) {
    const keys = await requestResult(db.transaction("core", "readonly").objectStore("core").getAllKeys(null, CORE_KEYS_READ));
    // Key names only; a non-string key (binary) is not a plain name, which the core reads as "cannot tell".
    contents.coreKeys = keys.map((k) => (typeof k === "string" ? k : "<binary>"));
  } else if (objectStores.includes("account")) {
    contents.legacyAccounts = await requestResult(db.transaction("account", "readonly").objectStore("account").count());
  }
  return contents;
}

function requestResult(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}
