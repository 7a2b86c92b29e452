// For the drop-in variants of bench/start-variants.mjs (never shipped): the browser calls that the store-loss
// check and the writer election make on a healthy reload of the demo's session (preset "cinny"), written
// straight in JS: the session's localStorage keys, the database listing, the sentinel read in the guardian's
// own database, the lock snapshot, the crypto store's `core` read, the writer's Web Lock. No module is
// loaded and nothing is decided: what the gate's work costs the host without the code that decides it.
import { gate } from "./taps-only.js";

const request = (req) => new Promise((resolve, reject) => {
  req.onsuccess = () => resolve(req.result);
  req.onerror = () => reject(req.error);
});
/** Holds the gate as the drop-in does and makes those calls; resolves to what releases the holds. */
export async function gateWork() {
  const storeHold = gate.hold("store-check");
  const writerHold = gate.hold("writer");
  try {
    const [userId, deviceId] = ["cinny_user_id", "cinny_device_id", "matrixSessions", "cinny_hs_base_url"].map((k) => localStorage.getItem(k));
    const databases = await indexedDB.databases();
    if (databases.some((d) => d.name === "matrix-crypto-guardian")) {
      const own = await request(indexedDB.open("matrix-crypto-guardian"));
      const [first] = own.objectStoreNames;
      if (first) await request(own.transaction(first).objectStore(first).get(`${userId}|${deviceId}`)).catch(() => null);
      own.close();
    }
    await navigator.locks.query();
    const name = "matrix-js-sdk::matrix-sdk-crypto";
    if (databases.some((d) => d.name === name)) {
      gate.bypass(1);
      const opening = indexedDB.open(name);
      gate.bypass(-1);
      const db = await request(opening);
      const core = db.transaction("core").objectStore("core");
      await Promise.all([request(core.getAllKeys()), request(core.get("account"))]);
      db.close();
    }
    return { storeHold, writerHold, lockName: `matrix-crypto-guardian/writer/${name}` };
  } catch (e) {
    gate.releaseAll();
    throw e;
  }
}

/** Lets the crypto store open once `ready` (gateWork's result) settles, and the writer's lock is held. */
export function releaseWhenDone(ready) {
  ready.then(
    ({ storeHold, writerHold, lockName }) => {
      storeHold();
      navigator.locks.request(lockName, () => {
        writerHold();
        return new Promise(() => {}); // held for the page's life, as the writer's is
      });
    },
    (e) => console.warn("[bench variant] browser work failed:", e),
  );
}
