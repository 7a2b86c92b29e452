//! The diagnostics surface of the core: what wakes the journal, and what an accepted upload tells. The
//! journal itself (`JournalCore`), redaction and the report live in the lazily loaded module: a healthy
//! page never needs them. Used by `js/diagnostics.js`. Every call is total: bad input gives a value
//! (false, null), never a panic.

use wasm_bindgen::prelude::*;

use serde_json::Value;

use crate::diagnostics::journal;
use crate::to_js;
use crate::storm::upload::{parse_upload_request, ParsedUpload};

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

/// What an accepted keys/upload tells the diagnostics: `{ ed25519, userId, deviceId, otkCounts }`
/// (each null when the request or answer does not say).
#[wasm_bindgen(js_name = readAcceptedUpload, unchecked_return_type = "{ userId: string | null, deviceId: string | null, ed25519: string | null, otkCounts: Record<string, number> | null }")]
pub fn read_accepted_upload(request_body: &str, answer: &[u8]) -> JsValue {
    let keys = match parse_upload_request(request_body.as_bytes()) {
        ParsedUpload::Comparable(req) => req.device_keys,
        _ => None,
    };
    let otk_counts = serde_json::from_slice::<Value>(answer)
        .ok()
        .and_then(|v| v.get("one_time_key_counts").filter(|c| c.is_object()).cloned())
        .unwrap_or(Value::Null);
    to_js(&serde_json::json!({
        "userId": keys.as_ref().map(|k| &k.user_id),
        "deviceId": keys.as_ref().map(|k| &k.device_id),
        "ed25519": keys.as_ref().and_then(|k| k.ed25519.as_ref()),
        "otkCounts": otk_counts,
    }))
}
