//! matrix-crypto-guardian — keeps the end-to-end-encryption store of web Matrix clients healthy.
//!
//! * [`model`]: pure decision logic (parsers, the storm breaker, diagnosis, store-loss check, writer
//!   lease, journal, report, remedies); no browser, tested natively.
//! * `api`: the core module's `#[wasm_bindgen]` surface used by the JS layer in `js/` (wasm only). The
//!   browser adapters (fetch tap, IndexedDB, Web Locks, localStorage) are that JS layer: thin, no
//!   decisions — in Rust each web-sys binding added glue and code to the wasm every page fetches.
//!   The report and remedy models are exported by the lazily loaded forensics module instead.
pub mod model;

#[cfg(all(target_arch = "wasm32", feature = "exports"))]
pub mod api;
