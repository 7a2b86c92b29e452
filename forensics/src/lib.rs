//! Forensics module of matrix-crypto-guardian, loaded by the browser only when needed.
//!
//! Two jobs, both done by matrix-sdk-crypto itself rather than re-implemented:
//! - [`verify_one_time_key`]: was this signed one-time key (e.g. the "Old key" of Synapse's
//!   `One time key signed_curve25519:<id> already exists` answer) signed by this device's current
//!   Ed25519 key? `Valid` ⇒ same identity (concurrent writers); `Invalid` ⇒ the identity was
//!   replaced (store loss).
//! - [`encrypt_room_key_export`]: turn matrix-js-sdk's `exportRoomKeysAsJson()` into the standard
//!   passphrase-protected Megolm key export file, before a sign-out clears the store.
//!
//! Nothing else: the guardian's own models that run after trouble (journal, report, remedies) are in the
//! watch module (the guardian crate's `watch` feature), so this module carries matrix-sdk-crypto alone.
//!
//! The pure functions build and are tested natively; the `#[wasm_bindgen]` surface (module `wasm`)
//! exists only on wasm32.

mod export;
mod otk;
#[cfg(target_arch = "wasm32")]
mod wasm;

pub use export::{
    count_exported_room_keys, decrypt_room_key_export, encrypt_room_key_export,
    DEFAULT_EXPORT_ROUNDS, MAX_EXPORT_ROUNDS,
};
pub use otk::{verify_one_time_key, Verdict, MAX_SIGNED_KEY_JSON};

/// `matrix-crypto-guardian-forensics <version> (matrix-sdk-crypto <version>)`.
pub fn version() -> String {
    format!(
        "{} {} (matrix-sdk-crypto {})",
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
        matrix_sdk_crypto::VERSION
    )
}
