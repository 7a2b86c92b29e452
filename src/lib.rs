//! matrix-crypto-guardian — keeps the end-to-end-encryption store of web Matrix clients healthy.
//!
//! * [`model`]: pure decision logic (parsers, the storm breaker, diagnosis, store-loss check, writer
//!   lease, journal, report, remedies); no browser, tested natively.
//! * `api`: the core module's `#[wasm_bindgen]` surface used by the JS layer in `js/` (wasm only). The
//!   browser adapters (fetch tap, IndexedDB, Web Locks, localStorage) are that JS layer: thin, no
//!   decisions — in Rust each web-sys binding added glue and code to the wasm every page fetches.
//!   The report and remedy models are exported by the lazily loaded forensics module instead.
//!
//! The code is `no_std` + `alloc`. The core wasm is built with the `standalone` feature: no std at all,
//! its own allocator and a panic handler that only traps (see `standalone` below). Every other build
//! (native tests, the forensics module) links std as usual.
#![cfg_attr(feature = "standalone", no_std)]
extern crate alloc;

pub mod model;

#[cfg(target_arch = "wasm32")]
pub mod js_json;

#[cfg(all(target_arch = "wasm32", feature = "exports"))]
pub mod api;

/// What every module uses from `alloc` (std's prelude has it; `no_std` does not).
mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::format;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec;
    pub use alloc::vec::Vec;
}

/// The core wasm's runtime, in place of std's: the allocator std would use on wasm32 (dlmalloc), and a
/// panic handler that traps without formatting the message. A panic is a bug either way (every API call
/// is total); the JS layer catches the trap and fails open, as it did with std's `panic = "abort"`.
#[cfg(all(target_arch = "wasm32", feature = "standalone"))]
mod standalone {
    #[global_allocator]
    static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        core::arch::wasm32::unreachable()
    }
}
