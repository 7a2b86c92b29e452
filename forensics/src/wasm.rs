//! The `#[wasm_bindgen]` surface. Small on purpose: three functions, strings in and out.
//! Nothing here can panic on caller input (release builds abort on panic).

use wasm_bindgen::prelude::*;

/// Verify a signed one-time/fallback key against a device's Ed25519 key.
///
/// Returns `"valid"`, `"invalid"`, `"no-signature"` or `"malformed: <reason>"`.
#[wasm_bindgen(js_name = verifyOneTimeKey)]
pub fn verify_one_time_key(
    signed_key_json: &str,
    user_id: &str,
    device_id: &str,
    ed25519: &str,
) -> String {
    crate::verify_one_time_key(signed_key_json, user_id, device_id, ed25519).to_string()
}

/// Encrypt the JSON array from `exportRoomKeysAsJson()` into a Megolm key export file's text.
/// `rounds` defaults to 500000 (Element's) when `undefined`. Throws an `Error` on bad input.
#[wasm_bindgen(js_name = encryptRoomKeyExport)]
pub fn encrypt_room_key_export(
    keys_json: &str,
    passphrase: &str,
    rounds: Option<u32>,
) -> Result<String, JsError> {
    crate::encrypt_room_key_export(
        keys_json,
        passphrase,
        rounds.unwrap_or(crate::DEFAULT_EXPORT_ROUNDS),
    )
    .map_err(|e| JsError::new(&e))
}

/// `matrix-crypto-guardian-forensics <version> (matrix-sdk-crypto <version>)`.
#[wasm_bindgen(js_name = forensicsVersion)]
pub fn forensics_version() -> String {
    crate::version()
}
