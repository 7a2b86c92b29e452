// Prevention, the parts that must run synchronously in JS: the session snapshot at start and the host's
// token at the moment of use. Persistent storage is the core's (src/persistence/), the store-loss decision
// too (src/store_loss/model.rs); the store probe and the database listing are src/store_loss/probe.rs.

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
