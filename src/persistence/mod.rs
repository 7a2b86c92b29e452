//! Persistent storage: asks the browser to keep this origin's storage (the crypto store with it) through
//! eviction, without surprising the user. [`model`] decides what to ask when and what to report; `adapter`
//! runs it on `navigator.storage` (web-sys `StorageManager`) and the first user gesture (gloo-events).


pub mod model;
#[cfg(all(target_arch = "wasm32", feature = "start"))]
pub mod adapter;
