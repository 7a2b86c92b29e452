//! The journal, exported from the lazily loaded watch module: `JournalCore` (the journal of one session in
//! memory: classification, de-duplication, bounds, redaction, the stored form), `redactText` and the
//! redacted report built from it (`buildReport`).
//!
//! The journal wakes on the first sign of trouble in a page (a storm, a store loss, a KE line in the
//! console…) or when it is read; until then the page keeps its few routine events (writer, persistence)
//! in memory and the core only tells what wakes it (`wakesJournal`, `consoleLineWakesJournal`). A healthy
//! page so never downloads the journal's code nor writes a journal. Every call is total: bad input gives a
//! value (false, null), never a panic.
use crate::diagnostics::journal::{Journal, SessionId, DEFAULT_CAPACITY};
use crate::diagnostics::redact::redact_text;
use crate::diagnostics::report::{build_report, ReportInput};
use crate::to_js;
use serde_json::Value;
use crate::storm::upload::{parse_upload_request, ParsedUpload};
use wasm_bindgen::prelude::*;

// The journal's shapes, for the generated .d.ts (js/index.d.ts re-exports them).
#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r##"
export type Ke = "KE-1" | "KE-2" | "KE-3" | "KE-4";
export type KeCounts = Record<Ke, number>;
export interface JournalEntry {
  source: "console" | "network" | "guardian";
  /** Console level ("error", "warn", "log", "info") or "event". */
  level: string;
  ke: Ke | null;
  /** e.g. "otk-already-exists", "outgoing-request-failed", "storm", "breaker-open". */
  signature: string;
  /** Redacted, at most 800 characters. */
  message: string;
  firstAt: number;
  lastAt: number;
  /** Occurrences folded into this entry (repeats differing only in numbers count here). */
  count: number;
}
export interface JournalSnapshot {
  /** Stored format version (2). */
  v: number;
  session: { userId: string; deviceId: string } | null;
  capacity: number;
  total: number;
  dropped: number;
  keCounts: Partial<KeCounts>;
  entries: JournalEntry[];
}
"##;

#[wasm_bindgen]
pub struct JournalCore {
    journal: Journal,
}

#[wasm_bindgen]
impl JournalCore {
    /// An empty journal holding at most `capacity` entries (default 200).
    #[wasm_bindgen(constructor)]
    pub fn new(capacity: Option<u32>) -> JournalCore {
        JournalCore { journal: Journal::new(capacity.map(|c| c as usize).unwrap_or(DEFAULT_CAPACITY)) }
    }

    /// Records a console line if it matches a signature; returns whether it did.
    #[wasm_bindgen(js_name = recordConsole)]
    pub fn record_console(&mut self, level: &str, text: &str, now_ms: f64) -> bool {
        self.journal.record_console(level, text, now_ms)
    }

    /// Records a guardian event (type + detail); returns whether its type is journaled.
    #[wasm_bindgen(js_name = recordEvent)]
    pub fn record_event(&mut self, kind: &str, detail: JsValue, now_ms: f64) -> bool {
        let detail: Value = serde_wasm_bindgen::from_value(detail).unwrap_or(Value::Null);
        self.journal.record_event(kind, &detail, now_ms)
    }

    /// The session key (`user|device`) or undefined.
    #[wasm_bindgen(js_name = sessionKey)]
    pub fn session_key(&self) -> Option<String> {
        self.journal.session().map(SessionId::key)
    }

    /// Switches to a session: the entries recorded so far stay unless `fresh`.
    #[wasm_bindgen(js_name = setSession)]
    pub fn set_session(&mut self, user_id: String, device_id: String, fresh: bool) {
        if fresh {
            self.journal = Journal::new(self.journal.capacity());
        }
        self.journal.set_session(Some(SessionId { user_id, device_id }));
    }

    /// Merges a stored journal (JSON text of any known format) under this page's entries.
    /// Returns false when the text is unreadable (then nothing changes).
    #[wasm_bindgen(js_name = mergeStored)]
    pub fn merge_stored(&mut self, json: &str) -> bool {
        match Journal::from_stored(json, self.journal.capacity()) {
            Some(mut stored) => {
                stored.set_session(self.journal.session().cloned());
                stored.absorb(&self.journal);
                self.journal = stored;
                true
            }
            None => false,
        }
    }

    /// The persisted form, as JSON text (also what `buildReport` reads): `JSON.stringify` of `snapshot()`,
    /// so the stored text is what JS writes for the same object.
    #[wasm_bindgen(js_name = toStoredJson)]
    pub fn to_stored_json(&self) -> String {
        js_sys::JSON::stringify(&to_js(&self.journal.to_stored())).ok().and_then(|s| s.as_string()).unwrap_or_default()
    }

    /// `{ v, session, capacity, total, dropped, keCounts, entries }` (what `guardian.journal()` resolves to).
    #[wasm_bindgen(unchecked_return_type = "JournalSnapshot")]
    pub fn snapshot(&self) -> JsValue {
        to_js(&self.journal.to_stored())
    }

    /// `{ "KE-1": n, … }`, every KE present.
    #[wasm_bindgen(js_name = keCounts, unchecked_return_type = "Partial<KeCounts>")]
    pub fn ke_counts(&self) -> JsValue {
        to_js(&self.journal.ke_counts())
    }

    /// The most recent `n` entries, most recent last.
    #[wasm_bindgen(unchecked_return_type = "JournalEntry[]")]
    pub fn last(&self, n: u32) -> JsValue {
        to_js(&self.journal.last(n as usize))
    }

    /// How many entries the journal holds (a JS method: JS callers compare it with 0, no `is_empty` needed).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u32 {
        self.journal.entries().len() as u32
    }
}

/// Redacts secrets from free text (what the guardian itself prints).
#[wasm_bindgen(js_name = redactText)]
pub fn redact_text_js(text: &str) -> String {
    redact_text(text)
}

/// The redacted report (a plain object), from what the JS layer gathered (`input`, a plain object; read as
/// empty when it does not fit) and the journal in its stored form (`journal_json`, from `JournalCore.toStoredJson()`).
#[wasm_bindgen(js_name = buildReport)]
pub fn build_report_js(input: JsValue, journal_json: &str, capacity: u32) -> JsValue {
    let input: ReportInput = serde_wasm_bindgen::from_value(input).unwrap_or_default();
    let journal = Journal::from_stored(journal_json, capacity as usize).unwrap_or_else(|| Journal::new(capacity as usize));
    to_js(&build_report(input, &journal))
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
