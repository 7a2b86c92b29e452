//! The standard Megolm room-key export file (`-----BEGIN MEGOLM SESSION DATA-----`), made by
//! matrix-sdk-crypto's [`matrix_sdk_crypto::encrypt_room_key_export`] from the JSON array that
//! matrix-js-sdk's `CryptoApi.exportRoomKeysAsJson()` returns.
//!
//! Error texts never quote the input: it holds room keys.

use matrix_sdk_crypto::{olm::ExportedRoomKey, KeyExportError};

/// PBKDF2 rounds Element Web / matrix-js-sdk use when exporting room keys.
pub const DEFAULT_EXPORT_ROUNDS: u32 = 500_000;

/// Upper bound on rounds (PBKDF2-SHA512 runs synchronously on the page's thread).
pub const MAX_EXPORT_ROUNDS: u32 = 10_000_000;

/// serde_json's error category, without its message (which may quote the input).
fn category(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "i/o",
        serde_json::error::Category::Syntax => "syntax",
        serde_json::error::Category::Data => "data",
        serde_json::error::Category::Eof => "unexpected end of input",
    }
}

fn parse_keys(exported_keys_json: &str) -> Result<Vec<ExportedRoomKey>, String> {
    serde_json::from_str::<Vec<ExportedRoomKey>>(exported_keys_json).map_err(|e| {
        // Only the category and position: serde_json's message could quote a session key.
        format!(
            "room keys are not a JSON array of exported room keys ({} error at line {}, column {})",
            category(&e),
            e.line(),
            e.column()
        )
    })
}

/// Encrypt `exported_keys_json` (a JSON array of `ExportedRoomKey` objects, e.g. the string
/// `exportRoomKeysAsJson()` resolves to) with `passphrase` into the text of a Megolm key export
/// file, importable by Element / matrix-js-sdk `importRoomKeysAsJson` after decryption, and by
/// matrix-sdk-crypto's `decrypt_room_key_export`.
///
/// `rounds` is the PBKDF2 iteration count, 1 ..= [`MAX_EXPORT_ROUNDS`]; use
/// [`DEFAULT_EXPORT_ROUNDS`] unless testing. An empty passphrase is refused.
pub fn encrypt_room_key_export(
    exported_keys_json: &str,
    passphrase: &str,
    rounds: u32,
) -> Result<String, String> {
    if passphrase.is_empty() {
        return Err("the passphrase is empty".to_owned());
    }
    if rounds == 0 || rounds > MAX_EXPORT_ROUNDS {
        return Err(format!("rounds must be between 1 and {MAX_EXPORT_ROUNDS}"));
    }
    let keys = parse_keys(exported_keys_json)?;
    matrix_sdk_crypto::encrypt_room_key_export(&keys, passphrase, rounds)
        .map_err(|e| format!("could not serialize the room keys ({} error)", category(&e)))
}

/// Decrypt the text of a Megolm key export file with `passphrase`; returns the JSON array of
/// exported room keys (as matrix-sdk-crypto serializes `ExportedRoomKey`).
pub fn decrypt_room_key_export(export_text: &str, passphrase: &str) -> Result<String, String> {
    let keys = matrix_sdk_crypto::decrypt_room_key_export(export_text.as_bytes(), passphrase)
        .map_err(|e| match e {
            // Decrypted, but not room keys: don't let serde_json quote the plaintext.
            KeyExportError::Json(e) => {
                format!(
                    "the decrypted key export is not room keys ({} error)",
                    category(&e)
                )
            }
            e => format!("could not decrypt the key export: {e}"),
        })?;
    serde_json::to_string(&keys)
        .map_err(|e| format!("could not serialize the room keys ({} error)", category(&e)))
}

/// How many room keys a JSON array of exported room keys holds (checks that it parses).
pub fn count_exported_room_keys(exported_keys_json: &str) -> Result<usize, String> {
    parse_keys(exported_keys_json).map(|keys| keys.len())
}
