//! One crypto writer per session across tabs: [`model`] (lock name, the localStorage lease, the tab
//! census, how acquire calls combine) and `adapter` (its wasm surface).

pub mod model;
#[cfg(all(target_arch = "wasm32", feature = "exports"))]
pub mod adapter;
