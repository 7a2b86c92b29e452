//! Store-loss check: before the SDK's first upload, does the session's own crypto store still hold the
//! device's account? [`model`] decides; `adapter` is its wasm surface.

pub mod model;
#[cfg(all(target_arch = "wasm32", feature = "exports"))]
pub mod adapter;
