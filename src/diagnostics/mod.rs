//! Diagnostics: the journal of what happened ([`journal`]), the redacted report ([`report`], [`redact`]),
//! `adapter` (the journal's wasm surface) and `own_db` (where journals and sentinels are stored).

pub mod journal;
pub mod redact;
pub mod report;
#[cfg(all(target_arch = "wasm32", feature = "exports"))]
pub mod adapter;
/// The guardian's own IndexedDB database (journal and sentinel storage).
#[cfg(all(target_arch = "wasm32", feature = "exports"))]
pub mod own_db;
