//! matrix-crypto-guardian — keeps the end-to-end-encryption store of web Matrix clients healthy.
//!
//! One folder per capability, each with its pure model (no browser, clock passed in, tested natively
//! with `cargo test`) and, where the work is Rust's, its wasm adapter beside it:
//!
//! * [`storm`]: the storm watch — reads keys/upload requests and answers, the circuit breaker,
//!   one-time-key health. Its adapter is the core's `GuardianCore` (called by the JS fetch tap).
//! * [`diagnosis`]: which divergence is behind a conflict.
//! * [`store_loss`]: does the session's own crypto store still hold the device's account?
//! * [`writer`]: one crypto writer per session across tabs.
//! * [`remedy`]: sign out / replace the device, repairs; the same for headless hosts.
//! * [`diagnostics`]: the journal, the redacted report.
//!
//! What must run synchronously before any wasm exists (the fetch tap, the crypto-store open gate, the
//! console tap) and the custom elements are JavaScript, in `js/`. The report and remedy models run in
//! the lazily loaded module (`forensics/`), which links this crate without its exports.
extern crate alloc;

pub mod storm;
pub mod diagnosis;
pub mod store_loss;
pub mod writer;
pub mod remedy;
pub mod diagnostics;
pub mod persistence;
pub mod json;
pub mod sorted;

#[cfg(target_arch = "wasm32")]
pub mod js_json;


/// What every module uses from `alloc` (std's prelude has it; `no_std` does not).
mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::format;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec;
    pub use alloc::vec::Vec;
}
