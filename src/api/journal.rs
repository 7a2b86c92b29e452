//! The diagnostics surface: `JournalCore` (the journal in memory), the guardian's own database, and
//! the redacted report. Used by `js/diagnostics.js`. Every call is total: bad input gives a value
//! (false, null, an error string in a rejected promise), never a panic.
use wasm_bindgen::prelude::*;

use super::to_js;
use crate::browser::own_db::OwnDb;
use crate::model::journal::{sentinel_update, Journal, Sentinel, SessionId, DEFAULT_CAPACITY};
use crate::model::redact::redact_text;
use crate::model::report::{build_report, ReportInput};
use crate::model::upload::{parse_upload_request, ParsedUpload};

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
        let detail: serde_json::Value = serde_wasm_bindgen::from_value(detail).unwrap_or(serde_json::Value::Null);
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

    /// The persisted form, as JSON text.
    #[wasm_bindgen(js_name = toStoredJson)]
    pub fn to_stored_json(&self) -> String {
        serde_json::to_string(&self.journal.to_stored()).unwrap_or_default()
    }

    /// `{ v, session, capacity, total, dropped, keCounts, entries }` (what `guardian.journal()` returns).
    pub fn snapshot(&self) -> JsValue {
        to_js(&self.journal.to_stored())
    }

    /// `{ "KE-1": n, … }`, every KE present.
    #[wasm_bindgen(js_name = keCounts)]
    pub fn ke_counts(&self) -> JsValue {
        to_js(&self.journal.ke_counts())
    }

    /// The most recent `n` entries, most recent last.
    pub fn last(&self, n: u32) -> JsValue {
        to_js(&self.journal.last(n as usize))
    }

    pub fn len(&self) -> u32 {
        self.journal.entries().len() as u32
    }

    /// The redacted report as JSON text, from what the JS layer gathered (`input`, a plain object).
    #[wasm_bindgen(js_name = buildReport)]
    pub fn build_report(&self, input: JsValue) -> String {
        let input: ReportInput = serde_wasm_bindgen::from_value(input).unwrap_or_default();
        serde_json::to_string_pretty(&build_report(input, &self.journal)).unwrap_or_default()
    }
}

/// Redacts secrets from free text (what the guardian itself prints).
#[wasm_bindgen(js_name = redactText)]
pub fn redact_text_js(text: &str) -> String {
    redact_text(text)
}

/// What an accepted keys/upload tells the diagnostics: `{ ed25519?, userId?, deviceId?, otkCounts? }`.
#[wasm_bindgen(js_name = readAcceptedUpload)]
pub fn read_accepted_upload(request_body: &str, answer: &[u8]) -> JsValue {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Accepted {
        user_id: Option<String>,
        device_id: Option<String>,
        ed25519: Option<String>,
        otk_counts: Option<serde_json::Value>,
    }
    let keys = match parse_upload_request(request_body.as_bytes()) {
        ParsedUpload::Comparable(req) => req.device_keys,
        _ => None,
    };
    let otk_counts = serde_json::from_slice::<serde_json::Value>(answer)
        .ok()
        .and_then(|v| v.get("one_time_key_counts").filter(|c| c.is_object()).cloned());
    to_js(&Accepted {
        user_id: keys.as_ref().map(|k| k.user_id.clone()),
        device_id: keys.as_ref().map(|k| k.device_id.clone()),
        ed25519: keys.and_then(|k| k.ed25519),
        otk_counts,
    })
}

fn db(name: Option<String>) -> OwnDb {
    name.map(|n| OwnDb::named(&n)).unwrap_or_default()
}

/// Opens (creating/migrating) the guardian's own database: `{ previousVersion, version }`.
#[wasm_bindgen(js_name = ownDbOpen)]
pub async fn own_db_open(name: Option<String>) -> Result<JsValue, JsValue> {
    let opened = db(name).open().await?;
    let out = js_sys::Object::new();
    js_sys::Reflect::set(&out, &"previousVersion".into(), &opened.previous_version.into())?;
    js_sys::Reflect::set(&out, &"version".into(), &crate::browser::own_db::SCHEMA_VERSION.into())?;
    Ok(out.into())
}

/// The stored journal of a session (JSON text) or null.
#[wasm_bindgen(js_name = ownDbLoadJournal)]
pub async fn own_db_load_journal(session_key: String, name: Option<String>) -> Result<Option<String>, JsValue> {
    db(name).load_journal(&session_key).await
}

#[wasm_bindgen(js_name = ownDbSaveJournal)]
pub async fn own_db_save_journal(session_key: String, json: String, name: Option<String>) -> Result<(), JsValue> {
    db(name).save_journal(&session_key, &json).await
}

/// Keys (`user|device`) of every stored journal.
#[wasm_bindgen(js_name = ownDbJournalSessions)]
pub async fn own_db_journal_sessions(name: Option<String>) -> Result<Vec<String>, JsValue> {
    db(name).journal_sessions().await
}

/// Observes the session (and an ed25519 from an accepted upload); writes the sentinel only when it
/// changed. Resolves to the current sentinel (a plain object) or null.
#[wasm_bindgen(js_name = ownDbObserveSentinel)]
pub async fn own_db_observe_sentinel(
    user_id: String,
    device_id: String,
    ed25519: Option<String>,
    now_ms: f64,
    name: Option<String>,
) -> Result<JsValue, JsValue> {
    let db = db(name);
    let key = SessionId { user_id: user_id.clone(), device_id: device_id.clone() }.key();
    let stored: Option<Sentinel> = db.load_sentinel(&key).await?.and_then(|t| serde_json::from_str(&t).ok());
    match sentinel_update(stored.as_ref(), &user_id, &device_id, ed25519.as_deref(), now_ms) {
        Some(next) => {
            db.save_sentinel(&key, &serde_json::to_string(&next).unwrap_or_default()).await?;
            Ok(to_js(&next))
        }
        None => Ok(to_js(&stored)),
    }
}

/// The stored sentinel of a session, or null (read only).
#[wasm_bindgen(js_name = ownDbLoadSentinel)]
pub async fn own_db_load_sentinel(session_key: String, name: Option<String>) -> Result<JsValue, JsValue> {
    let stored: Option<Sentinel> = db(name).load_sentinel(&session_key).await?.and_then(|t| serde_json::from_str(&t).ok());
    Ok(to_js(&stored))
}
