//! One crypto writer per session across tabs: [`model`] (lock name, the localStorage lease, the tab
//! census, how acquire calls combine: the decisions, pure) and, in the browser, `lock` (the `WriterLock`
//! on Web Locks), `lease` (its localStorage fallback), `census` (the tab census over BroadcastChannel) and
//! `adapter` (the lock name for JS).

pub mod model;
#[cfg(all(target_arch = "wasm32", feature = "start"))]
pub mod adapter;
#[cfg(all(target_arch = "wasm32", feature = "start"))]
pub mod lock;
#[cfg(all(target_arch = "wasm32", feature = "start"))]
mod lease;
#[cfg(all(target_arch = "wasm32", feature = "start"))]
mod census;
