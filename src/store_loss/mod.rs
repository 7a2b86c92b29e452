//! Store-loss check: before the SDK's first upload, does the session's own crypto store still hold the
//! device's account? [`model`] decides; `adapter` is its wasm surface.

pub mod model;
#[cfg(all(target_arch = "wasm32", feature = "start"))]
pub mod adapter;
/// The browser side of the check: the database listing and the store probe (indexed_db_futures).
#[cfg(all(target_arch = "wasm32", feature = "start"))]
pub mod probe;
