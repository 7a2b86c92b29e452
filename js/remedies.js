// Remedies, the browser side: homeserver calls, the export download, deleting stores. Every decision —
// which remedy is offered, what the drain does next, what may be deleted — is the model's
// (src/model/remedy.rs), run by the lazily loaded module (`m`: the forensics module, loaded after trouble
// only). Tokens stay in memory; nothing here logs one.

/** fetch as it was before the guardian's tap (our own calls must not go through the storm watch). */
function originalFetch() {
  const tap = globalThis[Symbol.for("matrix-crypto-guardian/fetch-tap")];
  return tap && tap.original ? tap.original : globalThis.fetch;
}

/** One homeserver call: `{ status, bytes, error }`; status 0 when there was no answer. Never throws. */
export async function hsCall(session, method, path, body) {
  // No token (the drop-in before the client sent an authenticated request): nothing is sent. "Bearer null"
  // would be answered 401 M_UNKNOWN_TOKEN, which reads as "already signed out" — and a sign-out would then
  // delete the local stores while the device stays on the server.
  if (!session.accessToken) return { status: 0, bytes: new Uint8Array(), error: "no access token of this session seen yet" };
  try {
    const url = new URL(path.replace(/^\//, ""), session.baseUrl.endsWith("/") ? session.baseUrl : session.baseUrl + "/");
    const headers = { authorization: `Bearer ${session.accessToken}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await originalFetch().call(globalThis, url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: response.status, bytes: new Uint8Array(await response.arrayBuffer()), error: null };
  } catch (err) {
    return { status: 0, bytes: new Uint8Array(), error: String(err && err.message ? err.message : err) };
  }
}

const enc = encodeURIComponent;

/**
 * The facts shown before any choice. `client` (optional) is the attached MatrixClient: its crypto API
 * counts the exportable room keys and knows the device's verification better than the raw server data.
 */
export async function gatherFacts(session, client, m) {
  const { userId, deviceId } = session;
  const [backup, ssss, master, query] = await Promise.all([
    hsCall(session, "GET", "_matrix/client/v3/room_keys/version"),
    hsCall(session, "GET", `_matrix/client/v3/user/${enc(userId)}/account_data/m.secret_storage.default_key`),
    hsCall(session, "GET", `_matrix/client/v3/user/${enc(userId)}/account_data/m.cross_signing.master`),
    hsCall(session, "POST", "_matrix/client/v3/keys/query", { device_keys: { [userId]: [] } }),
  ]);
  const b = m.backupFact(backup.status, backup.bytes);
  const cs = m.crossSigningFact(query.status, query.bytes, userId, deviceId);
  const masterInAccountData = m.presenceFact(master.status, master.bytes);
  const facts = {
    keyBackup: b.known,
    keyBackupVersion: b.version ?? null,
    secretStorage: m.presenceFact(ssss.status, ssss.bytes),
    crossSigning: cs.crossSigning === "unknown" ? masterInAccountData : cs.crossSigning,
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
    try {
      // Counted, then dropped at once: room keys never leave this function.
      facts.exportableKeys = JSON.parse(await crypto.exportRoomKeysAsJson()).length;
    } catch {
      facts.exportableKeys = null;
    }
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

/** POST /logout with the session's token → the core's outcome `{ outcome, status?, errcode?, error?, reason? }`. */
export async function serverLogout(session, m) {
  const r = await hsCall(session, "POST", "_matrix/client/v3/logout", {});
  return m.logoutOutcome(r.status, r.bytes, r.error ?? undefined);
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
