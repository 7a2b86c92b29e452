// The guardian's own IndexedDB database, "matrix-crypto-guardian" (never the SDK's stores): the journal
// and the per-device sentinel. A thin adapter: values are the core's JSON text, stored as they are.
//
// Schema (IndexedDB version = SCHEMA_VERSION):
//  * v1 (pre-release shape): object store "journal" only; records were format-1 journals (one element per
//    console line, no counts, no session).
//  * v2: "journal" (key "user|device" → JSON text of a format-2 journal) and "sentinel" (key "user|device"
//    → JSON text of the core's Sentinel).
// Migrations are additive steps run in `upgradeneeded` (old < n ⇒ apply step n), so a database of any
// older version reaches the current one. Records migrate lazily: the core reads every stored journal
// format and the next write stores the current one — nothing is rewritten inside the upgrade transaction,
// so an interrupted upgrade cannot lose a journal. Every call opens, acts and closes, so the guardian never
// holds a connection that would block another tab's upgrade.

export const OWN_DB_NAME = "matrix-crypto-guardian";
export const SCHEMA_VERSION = 2;
const JOURNAL = "journal";
const SENTINEL = "sentinel";

function failure(what, error) {
  return new Error(`matrix-crypto-guardian own database: ${what}: ${error?.message || error || "failed"}`);
}

/** Opens (creating or migrating) the database: `{ db, previousVersion }` (0: it did not exist). */
function open(name) {
  return new Promise((resolve, reject) => {
    let previousVersion = SCHEMA_VERSION; // no upgrade ran: it existed at the current version
    let req;
    try {
      req = indexedDB.open(name, SCHEMA_VERSION);
    } catch (e) {
      reject(failure("open", e));
      return;
    }
    req.onupgradeneeded = (event) => {
      previousVersion = event.oldVersion;
      const db = req.result;
      const has = (store) => db.objectStoreNames.contains(store);
      if (event.oldVersion < 1 && !has(JOURNAL)) db.createObjectStore(JOURNAL); // step 1: the journal
      if (event.oldVersion < 2 && !has(SENTINEL)) db.createObjectStore(SENTINEL); // step 2: the sentinel
    };
    req.onsuccess = () => {
      const db = req.result;
      // Another tab upgrading (a newer guardian): step aside at once.
      db.onversionchange = () => db.close();
      resolve({ db, previousVersion });
    };
    req.onerror = () => reject(failure("open", req.error));
  });
}

/** Runs `act(objectStore)` in one transaction on a fresh connection; resolves with the request's result. */
async function withStore(name, store, mode, act) {
  const { db } = await open(name);
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(store, mode);
      const req = act(tx.objectStore(store));
      let result;
      req.onsuccess = () => (result = req.result);
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(failure(`${store} ${mode}`, tx.error || req.error));
      tx.onabort = () => reject(failure(`${store} ${mode}`, tx.error || "aborted"));
    });
  } finally {
    db.close();
  }
}

/** One database of the guardian's (`name`: another one for tests). */
export class OwnDb {
  #name;
  constructor(name = OWN_DB_NAME) {
    this.#name = name;
  }

  /** Opens (and migrates) once: `{ previousVersion, version }`. */
  async open() {
    const { db, previousVersion } = await open(this.#name);
    db.close();
    return { previousVersion, version: SCHEMA_VERSION };
  }

  /** The stored journal of a session (JSON text) or null. */
  async loadJournal(sessionKey) {
    return (await withStore(this.#name, JOURNAL, "readonly", (s) => s.get(sessionKey))) ?? null;
  }

  async saveJournal(sessionKey, json) {
    await withStore(this.#name, JOURNAL, "readwrite", (s) => s.put(json, sessionKey));
  }

  /** Keys (`user|device`) of every stored journal. */
  async journalSessions() {
    return (await withStore(this.#name, JOURNAL, "readonly", (s) => s.getAllKeys())).map(String);
  }

  /** The stored sentinel of a session (JSON text) or null. */
  async loadSentinel(sessionKey) {
    return (await withStore(this.#name, SENTINEL, "readonly", (s) => s.get(sessionKey))) ?? null;
  }

  async saveSentinel(sessionKey, json) {
    await withStore(this.#name, SENTINEL, "readwrite", (s) => s.put(json, sessionKey));
  }
}
