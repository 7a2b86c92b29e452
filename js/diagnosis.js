// The diagnosis' browser side, loaded with the first conflict that needs one: the device's ed25519 as the
// homeserver publishes it (POST /keys/query) and matrix-sdk-crypto's check of the key the server holds
// (the forensics module). Which divergence it is, is the storm watch's decision (src/diagnosis/model.rs).

/**
 * Diagnoses the conflict the storm watch has pending; resolves to the watch's events for it (none when
 * nothing is pending). `storm`: the watch (GuardianCore). `session`: `{ baseUrl, accessToken }`, kept in
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
async function queryOwnEd25519(storm, session, userId, deviceId) {
  if (!session.baseUrl || !session.accessToken) return null;
  const { hsCall } = await import("./remedies.js"); // loaded on trouble only
  const answer = await hsCall(session, "POST", "_matrix/client/v3/keys/query", { device_keys: { [userId]: [deviceId] } });
  // No answer (none in time from a hung homeserver, or the network): the diagnosis fails and says why.
  if (answer.status === 0) throw new Error(answer.error);
  return storm.ed25519FromKeysQuery(answer.status, answer.bytes, userId, deviceId) || null;
}
