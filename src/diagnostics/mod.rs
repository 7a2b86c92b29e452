//! Diagnostics: the journal of what happened ([`journal`]), the redacted report ([`report`], [`redact`]),
//! and `adapter` (the journal's wasm surface).

pub mod journal;
pub mod redact;
pub mod report;
#[cfg(all(target_arch = "wasm32", feature = "exports"))]
pub mod adapter;
