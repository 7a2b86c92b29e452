//! matrix-crypto-guardian — keeps the end-to-end-encryption store of web Matrix clients healthy.
//!
//! One folder per capability, each with its pure model (no browser, clock passed in, tested natively
//! with `cargo test`) and, where the work is Rust's, its wasm adapter beside it:
//!
//! * [`storm`]: the storm watch — reads keys/upload requests and answers, the circuit breaker,
//!   one-time-key health. Its adapter is `GuardianCore` (called by the JS fetch tap).
//! * [`diagnosis`]: which divergence is behind a conflict.
//! * [`store_loss`]: does the session's own crypto store still hold the device's account?
//! * [`writer`]: one crypto writer per session across tabs.
//! * [`remedy`]: sign out / replace the device, repairs; the same for headless hosts.
//! * [`diagnostics`]: the journal, the redacted report.
//!
//! The adapters make three wasm modules of this crate, by *when* a page needs them (three builds, one per
//! feature; `scripts/build.sh`):
//!
//! * `start` — the core, fetched at start: the writer election, the store-loss check, persistent storage,
//!   the guardian's own database, what wakes the journal.
//! * `watch` — loaded with the first keys/upload or the first sign of trouble: the storm watch, the
//!   journal, the report, the remedies, the bots' decisions.
//! * `lease` — loaded at start only by a page without Web Locks: the writer election with its
//!   localStorage lease (the core's writer is on Web Locks alone).
//!
//! matrix-sdk-crypto's checks (signatures, room-key export) are a fourth module (`forensics/`), loaded only
//! for a diagnosis or an export. What must run synchronously before any wasm exists (the fetch tap, the
//! crypto-store open gate, the console tap) and the custom elements are JavaScript, in `js/`.
pub mod storm;
pub mod diagnosis;
pub mod store_loss;
pub mod writer;
pub mod remedy;
pub mod diagnostics;
pub mod persistence;
/// Reading the JS layer's plain objects in the core (no serde deserializer at start).
#[cfg(target_arch = "wasm32")]
pub mod js_object;
/// Stored JSON text read back member by member (the engine's `JSON.parse` in wasm).
pub mod stored_json;

/// The crate version, which is also the npm package's.
#[cfg(all(target_arch = "wasm32", feature = "start"))]
#[wasm_bindgen::prelude::wasm_bindgen(js_name = coreVersion)]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// A model value as the plain JS object (or array, string, number, null) `JSON.parse` would make of its
/// JSON: serde-wasm-bindgen's `json_compatible` serializer (maps as objects, integers as numbers), members in
/// their declaration order. Every adapter crosses with it.
///
/// Straight from the value, not through a `serde_json::Value`: the core then links neither `Value`'s
/// serializer nor its map (core wasm −1.3 KB gzipped); the watch module, where many more types cross, pays
/// +3.4 KB for the per-type serializers and stays far under its budget.
#[cfg(target_arch = "wasm32")]
pub fn to_js<T: serde::Serialize + ?Sized>(value: &T) -> wasm_bindgen::JsValue {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(wasm_bindgen::JsValue::NULL)
}
