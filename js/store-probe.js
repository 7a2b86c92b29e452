// Reads what a crypto store holds before the SDK opens it: its object stores, the key *names* of the rust
// store's `core` object store, whose account it holds (the account record's user and device id, nothing
// else of it: the record also holds the pickled private keys, dropped here unread), and the legacy libolm
// store's account count. Never a write. The decisions (is there an account, is it this session's?) are the
// core's: `account_presence` and `check_store` in src/store_loss/model.rs.
//
// Careful with a database that is not ours: the open has no version (no upgrade of the SDK's schema);
// if the database vanished since it was listed, the open would create it blank, so the upgrade is
// aborted; the connection closes at once, and on `versionchange`, so it never blocks the SDK's own
// upgrade; an open that does not finish in time is "not read", not "empty".
import { GATE } from "./idb-gate.js";

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

/**
 * How many room keys (inbound group sessions) a rust crypto store holds, counted by IndexedDB without
 * reading one of them; null when it cannot be counted (no such store, a timeout). For the prompt's
 * "exportable keys": room keys never leave the store only to be counted.
 */
export async function countRoomKeys(name, scope = globalThis, { timeoutMs = 3000 } = {}) {
  try {
    const counted = await probeCryptoStore(name, scope, timeoutMs, async (db) => {
      // The newest schema's name (inbound_group_sessions3 in matrix-sdk-indexeddb today).
      const store = [...db.objectStoreNames].filter((n) => /^inbound_group_sessions\d*$/.test(n)).sort().pop();
      return store ? { count: await requestResult(db.transaction(store, "readonly").objectStore(store).count()) } : null;
    });
    return counted && Number.isInteger(counted.count) ? counted.count : null;
  } catch {
    return null;
  }
}

function probeCryptoStore(name, scope, timeoutMs, read = readContents) {
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
      read(db).then(
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
    const core = db.transaction("core", "readonly").objectStore("core");
    // Every key name: `core` holds a handful of fixed entries (account, cross-signing identity, backup
    // keys, sync token, migration flags), never per-room or per-message data, so there is no cap to hit.
    const [keys, account] = await Promise.all([requestResult(core.getAllKeys()), requestResult(core.get("account"))]);
    // Key names only; a non-string key (binary) is not a plain name, which the core reads as "cannot tell".
    contents.coreKeys = keys.map((k) => (typeof k === "string" ? k : "<binary>"));
    const owner = accountOwner(account);
    if (owner) Object.assign(contents, owner);
  } else if (objectStores.includes("account")) {
    contents.legacyAccounts = await requestResult(db.transaction("account", "readonly").objectStore("account").count());
  }
  return contents;
}

/**
 * `{ accountUserId, accountDeviceId }` of a rust store's account record, or null when it cannot be read
 * (a passphrase-encrypted store). The record is the pickled account, plain or as JSON text (base64 in
 * some versions); only the two public ids are kept.
 */
export function accountOwner(value, depth = 0) {
  if (value == null || depth > 3) return null;
  if (typeof value === "string") {
    for (const text of [value, fromBase64(value)]) {
      if (text === null) continue;
      try {
        const owner = accountOwner(JSON.parse(text), depth + 1);
        if (owner) return owner;
      } catch {
        // not JSON: next form
      }
    }
    return null;
  }
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
    try {
      return accountOwner(new TextDecoder("utf-8", { fatal: true }).decode(value), depth + 1);
    } catch {
      return null; // encrypted bytes
    }
  }
  if (typeof value !== "object") return null;
  if (typeof value.user_id === "string" && typeof value.device_id === "string") {
    return { accountUserId: value.user_id, accountDeviceId: value.device_id };
  }
  return "Unencrypted" in value ? accountOwner(value.Unencrypted, depth + 1) : null;
}

function fromBase64(text) {
  try {
    return /^[A-Za-z0-9+/=_-]+$/.test(text) ? new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0))) : null;
  } catch {
    return null;
  }
}

function requestResult(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}
