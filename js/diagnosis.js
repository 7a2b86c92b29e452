// The diagnosis' browser side, loaded with the first conflict that needs one: the device's ed25519 as the
// homeserver publishes it (POST /keys/query) and matrix-sdk-crypto's check of the key the server holds
// (the forensics module). Which divergence it is, is the storm watch's decision (src/diagnosis/model.rs).

/**
 * Diagnoses the conflict the storm watch has pending; resolves to the watch's events for it (none when
 * nothing is pending). `storm`: the watch (GuardianCore). `session`: `{ baseUrl, authorization }`, kept in
 * memory only by the guardian, never stored, logged or reported. `forensics()`: resolves to the
 * matrix-sdk-crypto module.
 */
export async function diagnose(storm, session, forensics) {
  const need = storm.diagnosisInput();
  if (!need) return [];
  let ed25519 = need.currentEd25519 || null;
  if (!ed25519 && need.userId && need.deviceId) ed25519 = await queryOwnEd25519(storm, session, need.userId, need.deviceId);
  let verdict = null;
  if (ed25519 && need.oldKeyJson && need.userId && need.deviceId) {
    verdict = (await forensics()).verifyOneTimeKey(need.oldKeyJson, need.userId, need.deviceId, ed25519);
  }
  return storm.diagnose(verdict, ed25519, Date.now()).events;
}

/** The device's current ed25519 key as the homeserver publishes it (`POST /keys/query`). */
async function queryOwnEd25519(storm, { baseUrl, authorization }, userId, deviceId) {
  if (!baseUrl || !authorization) return null;
  const { HS_CALL_TIMEOUT_MS } = await import("./remedies.js"); // loaded on trouble only
  const tap = globalThis[Symbol.for("matrix-crypto-guardian/fetch-tap")];
  const fetchOriginal = tap ? tap.original : fetch;
  const base = baseUrl.endsWith("/") ? baseUrl : baseUrl + "/";
  const response = await fetchOriginal.call(globalThis, new URL("_matrix/client/v3/keys/query", base), {
    method: "POST",
    headers: { authorization, "content-type": "application/json" },
    body: JSON.stringify({ device_keys: { [userId]: [deviceId] } }),
    // A hung homeserver must not hold the diagnosis: no answer in time is "undetermined".
    signal: AbortSignal.timeout(HS_CALL_TIMEOUT_MS),
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  return storm.ed25519FromKeysQuery(response.status, bytes, userId, deviceId) || null;
}
