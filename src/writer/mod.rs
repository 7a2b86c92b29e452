//! One crypto writer per session across tabs: [`model`] (lock name, the localStorage lease, the tab
//! census, how acquire calls combine: the decisions, pure) and, in the browser, `lock` (the `WriterLock`
//! on Web Locks), `lease` (its localStorage fallback), `census` (the tab census over BroadcastChannel) and
//! `adapter` (the lock name for JS).

pub mod model;
#[cfg(all(target_arch = "wasm32", feature = "start"))]
pub mod adapter;
// The `WriterLock` is in two modules: the core's elects on Web Locks; the lease module's also on the
// localStorage lease, which only a browser without Web Locks needs (`lease::LINKED`).
#[cfg(all(target_arch = "wasm32", any(feature = "start", feature = "lease")))]
pub mod lock;
#[cfg(all(target_arch = "wasm32", any(feature = "start", feature = "lease")))]
mod lease;
#[cfg(all(target_arch = "wasm32", any(feature = "start", feature = "lease")))]
mod census;
