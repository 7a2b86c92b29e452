//! The diagnostics surface of the core: what wakes the journal. The journal itself (`JournalCore`),
//! redaction, the report and what an accepted upload tells live in the lazily loaded watch module: a
//! healthy page never needs them. Used by `js/diagnostics.js`. Every call is total: bad input gives a value
//! (false, null), never a panic.

use wasm_bindgen::prelude::*;

use crate::diagnostics::journal;

/// Whether a guardian event wakes the journal: any journaled event but the routine ones every page
/// has (the writer acquired, persistence). Until it wakes, the page keeps its events in memory.
#[wasm_bindgen(js_name = wakesJournal)]
pub fn wakes_journal(kind: &str) -> bool {
    journal::wakes_journal(kind)
}

/// Whether a console line is one the journal keeps (a KE signature): such a line wakes it.
#[wasm_bindgen(js_name = consoleLineWakesJournal)]
pub fn console_line_wakes_journal(text: &str) -> bool {
    journal::classify_console(text).is_some()
}

/// The journal's signature name for a console line or an error message (e.g. `"store-account-mismatch"`),
/// or `undefined`: the one list of signatures (model/journal.rs), for JS that must recognise a line.
#[wasm_bindgen(js_name = consoleSignature)]
pub fn console_signature(text: &str) -> Option<String> {
    journal::classify_console(text).map(|sig| sig.name.to_owned())
}
