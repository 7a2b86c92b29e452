//! Remedies: sign out or replace the device once the store is lost, and what a repair may do
//! ([`model`]); the same for headless hosts, bots in Node.js ([`headless`]).

pub mod headless;
pub mod model;
/// The remedy decisions' wasm surface, in the lazily loaded watch module.
#[cfg(all(target_arch = "wasm32", feature = "watch"))]
pub mod adapter;
/// The headless hosts' decisions' wasm surface, in the lazily loaded watch module.
#[cfg(all(target_arch = "wasm32", feature = "watch"))]
pub mod headless_adapter;
