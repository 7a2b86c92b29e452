//! matrix-crypto-guardian — keeps the end-to-end-encryption store of web Matrix clients healthy.
//!
//! * [`model`]: pure decision logic (parsers, the storm breaker, diagnosis); no browser, tested natively.
//! * `browser`: thin web-sys adapters (wasm only).
//! * `api`: the `#[wasm_bindgen]` surface used by the JS layer in `js/` (wasm only).
pub mod model;

#[cfg(target_arch = "wasm32")]
pub mod browser;
#[cfg(target_arch = "wasm32")]
mod api;
