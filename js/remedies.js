// Remedies, the browser side: homeserver calls, the export download, deleting stores. Every decision —
// which remedy is offered, what the drain does next, what may be deleted — is the model's
// (src/remedy/model.rs), run by the lazily loaded module (`m`: the watch module, loaded after trouble
// only). Tokens stay in memory; nothing here logs one.
import { countRoomKeys } from "./core/guardian_core.js";

/** fetch as it was before the guardian's tap (our own calls must not go through the storm watch). */
function originalFetch() {
  const tap = globalThis[Symbol.for("matrix-crypto-guardian/fetch-tap")];
  return tap && tap.original ? tap.original : globalThis.fetch;
}

/** How long one homeserver call of the guardian may take, answer included: a hung server is "no answer". */
export const HS_CALL_TIMEOUT_MS = 10_000;

/**
 * One homeserver call: `{ status, bytes, error }`; status 0 when there was no answer (none within
 * `timeoutMs`, or no token to send: never `Bearer null`). Never throws.
 */
export async function hsCall(session, method, path, body, { timeoutMs = HS_CALL_TIMEOUT_MS } = {}) {
  if (!session.accessToken || !session.baseUrl) return { status: 0, bytes: new Uint8Array(), error: "no access token for this device" };
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
  try {
    const url = new URL(path.replace(/^\//, ""), session.baseUrl.endsWith("/") ? session.baseUrl : session.baseUrl + "/");
    const headers = { authorization: `Bearer ${session.accessToken}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: controller.signal };
    const response = await originalFetch().call(globalThis, url, init);
    return { status: response.status, bytes: new Uint8Array(await response.arrayBuffer()), error: null };
  } catch (err) {
    const reason = controller.signal.aborted ? controller.signal.reason : err;
    return { status: 0, bytes: new Uint8Array(), error: String(reason && reason.message ? reason.message : reason) };
  } finally {
    clearTimeout(timer);
  }
}

const enc = encodeURIComponent;

/**
 * The facts shown before any choice. `client` (optional) is the attached MatrixClient: its crypto API
 * counts the exportable room keys and knows the device's verification better than the raw server data.
 */
export async function gatherFacts(session, client, m) {
  const { userId, deviceId } = session;
  const accountData = (type) => hsCall(session, "GET", `_matrix/client/v3/user/${enc(userId)}/account_data/${type}`);
  // An attached client that has synced holds the account data already: no request (an absent event is a
  // 404, which browsers print as a red console error although it is the normal "not set up").
  const synced = !!(client && typeof client.getAccountData === "function" && typeof client.isInitialSyncComplete === "function" && client.isInitialSyncComplete());
  const [backup, query, ssss] = await Promise.all([
    hsCall(session, "GET", "_matrix/client/v3/room_keys/version"),
    hsCall(session, "POST", "_matrix/client/v3/keys/query", { device_keys: { [userId]: [] } }),
    synced ? null : accountData("m.secret_storage.default_key"),
  ]);
  const b = m.backupFact(backup.status, backup.bytes);
  const cs = m.crossSigningFact(query.status, query.bytes, userId, deviceId);
  // The master key's account data only when /keys/query could not tell.
  let crossSigning = cs.crossSigning;
  if (crossSigning === "unknown") {
    const master = synced ? null : await accountData("m.cross_signing.master");
    crossSigning = synced ? (client.getAccountData("m.cross_signing.master") ? "yes" : "no") : m.presenceFact(master.status, master.bytes);
  }
  const facts = {
    keyBackup: b.known,
    keyBackupVersion: b.version ?? null,
    secretStorage: synced ? (client.getAccountData("m.secret_storage.default_key") ? "yes" : "no") : m.presenceFact(ssss.status, ssss.bytes),
    crossSigning,
    deviceVerified: cs.deviceVerified,
    exportableKeys: null,
  };
  const crypto = client && typeof client.getCrypto === "function" ? client.getCrypto() : null;
  if (crypto) {
    try {
      const status = await crypto.getDeviceVerificationStatus(userId, deviceId);
      if (status) facts.deviceVerified = status.signedByOwner ? "yes" : "no";
    } catch {
      // keep the server's view
    }
    // Counted in the store itself (IndexedDB count): no room key leaves the store only to be counted.
    facts.exportableKeys = await countRoomKeys(session.ownStore || "matrix-js-sdk::matrix-sdk-crypto", 3000).catch(() => null);
  }
  return facts;
}

/**
 * Export room keys: from the client's crypto, encrypted by the forensics module into the standard Megolm
 * export file, downloaded as `fileName`. Returns `{ count, file, text }` (text: the encrypted file).
 */
export async function exportRoomKeys(client, forensics, passphrase, { rounds, fileName = "element-keys.txt", download = true, onWorking } = {}) {
  const crypto = client && typeof client.getCrypto === "function" ? client.getCrypto() : null;
  if (!crypto) throw new Error("no crypto client attached");
  const json = await crypto.exportRoomKeysAsJson();
  const count = JSON.parse(json).length;
  if (onWorking) onWorking(count);
  // Let the working state paint before PBKDF2 blocks the thread for about a second.
  await new Promise((r) => setTimeout(r, 30));
  const text = forensics.encryptRoomKeyExport(json, passphrase, rounds);
  if (download && typeof document !== "undefined") {
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = fileName;
    a.rel = "noopener";
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
  return { count, file: fileName, text };
}

/**
 * Signs this device out on the server → the model's outcome `{ outcome, status?, errcode?, error?, reason? }`.
 * The token is first confirmed as this device's own (`GET /account/whoami`): a token the guardian did not
 * have, or that is another device's, never makes a "signed out" (and so never a deletion).
 */
export async function serverLogout(session, m) {
  const hasToken = !!session.accessToken;
  const who = hasToken ? await hsCall(session, "GET", "_matrix/client/v3/account/whoami") : { status: 0, bytes: new Uint8Array(), error: null };
  const stop = m.tokenCheck(hasToken, who.status, who.bytes, who.error ?? undefined, session.userId, session.deviceId);
  if (stop) return stop;
  const r = await hsCall(session, "POST", "_matrix/client/v3/logout", {});
  return m.logoutOutcome(r.status, r.bytes, r.error ?? undefined, true);
}

// A delete queued behind another that is blocked gets no event at all until that one ends: bounded, and
// reported as still pending rather than deleted.
const DELETE_WAIT_MS = 5000;

function deleteDatabase(name) {
  const pending = new Promise((resolve) => setTimeout(resolve, DELETE_WAIT_MS, { name, result: "pending" }));
  return Promise.race([pending, deleteDatabaseNow(name)]);
}

function deleteDatabaseNow(name) {
  return new Promise((resolve) => {
    let req;
    try {
      req = indexedDB.deleteDatabase(name);
    } catch (err) {
      resolve({ name, result: `error: ${err}` });
      return;
    }
    req.onsuccess = () => resolve({ name, result: "deleted" });
    req.onerror = () => resolve({ name, result: `error: ${req.error}` });
    // Blocked: an open connection somewhere (another tab); the delete completes when it closes.
    req.onblocked = () => resolve({ name, result: "blocked" });
  });
}

/**
 * Deletes what `plan` names (from the core's deletionPlan: only after a server sign-out or an explicit
 * "clear anyway"). The client is stopped first and its own clearStores() closes its databases.
 */
export async function clearStores(plan, client) {
  if (!plan) return { deleted: false };
  if (client) {
    try {
      client.stopClient();
    } catch {
      /* already stopped */
    }
    try {
      await Promise.race([client.clearStores(), new Promise((r) => setTimeout(r, 5000))]);
    } catch {
      // the explicit deletes below still run
    }
  }
  const databases = await Promise.all(plan.databases.map(deleteDatabase));
  const keys = [];
  if (plan.sessionEntry) {
    // A list of sessions (multi-account): only this session's entry goes, the other accounts stay.
    const { key, userId } = plan.sessionEntry;
    try {
      const list = JSON.parse(localStorage.getItem(key) || "[]");
      const left = Array.isArray(list) ? list.filter((s) => !(s && s.userId === userId)) : [];
      if (left.length) localStorage.setItem(key, JSON.stringify(left));
      else localStorage.removeItem(key);
      keys.push(`${key}[${userId}]`);
    } catch {
      // unreadable list: left as it is
    }
  }
  for (const key of Object.keys(localStorage)) {
    if (plan.localStorageKeys.includes(key) || plan.localStoragePrefixes.some((p) => key.startsWith(p))) {
      localStorage.removeItem(key);
      keys.push(key);
    }
  }
  return { deleted: true, databases, localStorageKeys: keys };
}

/**
 * Repair in place: claims this device's one-time keys (`POST /keys/claim`) until the server's count
 * (`POST /keys/upload {}`) is 0, step by step as the core's drain loop says. `onProgress({claimed,
 * initial, remaining})` after each step. Returns `{ outcome: "done"|"stop", claimed, reason? }`.
 */
export async function drainOneTimeKeys(session, m, onProgress) {
  const drain = new m.RemedyDrain(session.userId, session.deviceId);
  try {
    let step = drain.first();
    for (;;) {
      if (step.action === "count") {
        const r = await hsCall(session, "POST", "_matrix/client/v3/keys/upload", {});
        step = drain.count(r.status, r.bytes);
      } else if (step.action === "claim") {
        const r = await hsCall(session, "POST", "_matrix/client/v3/keys/claim", {
          one_time_keys: { [session.userId]: { [session.deviceId]: "signed_curve25519" } },
        });
        step = drain.claimed(r.status, r.bytes);
      } else if (step.action === "done") {
        return { outcome: "done", ...drain.progress() };
      } else {
        return { outcome: "stop", reason: step.reason, ...drain.progress() };
      }
      if (onProgress) onProgress(drain.progress());
    }
  } finally {
    drain.free();
  }
}
