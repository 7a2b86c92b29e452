//! Diagnostics: the journal of what happened ([`journal`]), the redacted report ([`report`], [`redact`]),
//! `adapter` (in the core: what wakes the journal, what an accepted upload tells), `journal_adapter` (in the
//! lazily loaded watch module: the journal itself and the report) and `own_db` (where journals and
//! sentinels are stored).

pub mod journal;
pub mod redact;
pub mod report;
#[cfg(all(target_arch = "wasm32", feature = "start"))]
pub mod adapter;
/// The journal, redaction and the report, in the lazily loaded watch module.
#[cfg(all(target_arch = "wasm32", feature = "watch"))]
pub mod journal_adapter;
/// The guardian's own IndexedDB database (journal and sentinel storage).
#[cfg(all(target_arch = "wasm32", feature = "start"))]
pub mod own_db;
