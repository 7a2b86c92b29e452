//! The diagnostics report: one JSON document a user can attach to a bug report.
//!
//! Schema `matrix-crypto-guardian.report`, version [`SCHEMA_VERSION`]; every field is documented in
//! `docs/diagnostics.md`. Sections other capabilities fill (storage, writer, ownDatabase, …) are
//! optional: `null` means "not measured in this build or this page", never a guess.
//!
//! The report is built from what the JS layer gathers ([`ReportInput`]) plus the journal, then
//! redacted as a whole ([`super::redact::redact_value`]) — so a secret that slipped into any input
//! (a URL with a query, a header, a free-text reason) is removed by structure or by shape.
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::journal::Journal;
use super::json::ToJson;
use super::redact::{redact_text, redact_value};

pub const SCHEMA: &str = "matrix-crypto-guardian.report";
/// Bump on any change that removes or retypes a field; adding an optional field does not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// What the JS layer gathers for a report. Unknown members are ignored; every member is optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReportInput {
    pub generated_at: Option<f64>,
    pub guardian_version: Option<String>,
    pub sdk: Option<SdkSection>,
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    pub homeserver: Option<String>,
    pub browser: Option<BrowserSection>,
    pub storage: Option<StorageSection>,
    pub own_database: Option<OwnDatabaseSection>,
    pub writer: Option<WriterSection>,
    pub otk_counts: Option<OtkCountsSection>,
    /// `guardian.storm()` as is.
    pub storm: Option<Value>,
    /// Sessions with a stored journal in this browser (keys `user|device`), this one included.
    pub journal_sessions: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SdkSection {
    /// e.g. "matrix-js-sdk" (what the host says; null when it did not).
    pub name: Option<String>,
    pub version: Option<String>,
    /// `client.getCrypto().getVersion()`, e.g. "Rust SDK 0.16.0 (…), Vodozemac 0.9.0".
    pub crypto_version: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrowserSection {
    pub user_agent: Option<String>,
    pub language: Option<String>,
    pub online: Option<bool>,
    pub cookie_enabled: Option<bool>,
}

/// Filled by the persistence capability: `navigator.storage.persisted()` / `estimate()`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StorageSection {
    pub persisted: Option<bool>,
    pub usage: Option<f64>,
    pub quota: Option<f64>,
}

/// The guardian's own IndexedDB (`matrix-crypto-guardian`).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OwnDatabaseSection {
    pub available: bool,
    /// The database did not exist when this page opened it.
    pub created_this_page: bool,
    /// The schema version it had before this page opened it (0 = did not exist).
    pub previous_version: Option<u32>,
    /// This session's sentinel (user, device, ed25519 once seen, first/last seen), if stored.
    pub sentinel: Option<Value>,
    pub error: Option<String>,
}

/// Filled by the single-writer capability.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WriterSection {
    /// "web-locks" | "lease" | null.
    pub mechanism: Option<String>,
    /// e.g. "writer" | "waiting" | "lost".
    pub state: Option<String>,
    /// Tabs of this session seen (census).
    pub tabs: Option<u32>,
    pub census: Option<Value>,
}

/// One-time-key counts the server reported (`one_time_key_counts` of a keys/upload answer).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OtkCountsSection {
    pub counts: Option<Value>,
    pub seen_at: Option<f64>,
    /// Where they were read: "keys/upload".
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub schema: &'static str,
    pub schema_version: u32,
    pub generated_at: Option<f64>,
    pub guardian: GuardianSection,
    pub sdk: Option<SdkSection>,
    pub session: SessionSection,
    pub browser: Option<BrowserSection>,
    pub storage: Option<StorageSection>,
    pub own_database: Option<OwnDatabaseSection>,
    /// Plain-words statements about what the report can and cannot know (e.g. whole-origin eviction).
    pub notes: Vec<String>,
    pub writer: Option<WriterSection>,
    pub otk_counts: Option<OtkCountsSection>,
    pub storm: Option<StormSection>,
    pub ke_counts: std::collections::BTreeMap<&'static str, u64>,
    pub journal: JournalSection,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GuardianSection {
    pub version: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSection {
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    /// The homeserver's origin only (scheme, host, port): no path, no query.
    pub homeserver: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StormSection {
    pub active: Option<bool>,
    pub count: Option<u64>,
    pub first_seen: Option<f64>,
    pub breaker: Option<Value>,
    pub diagnosis: Option<Value>,
    pub last_conflict: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalSection {
    pub capacity: usize,
    pub total: u64,
    pub dropped: u64,
    pub sessions: Option<Vec<String>>,
    /// Most recent last ([`super::journal::Entry`]'s JSON shape).
    pub entries: Vec<Value>,
}

/// `https://hs.example:8448/some/path?x=1` → `https://hs.example:8448`.
pub fn origin_of(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => (&url[..i + 3], &url[i + 3..]),
        None => ("", url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    // Drop userinfo (`user:pass@host`).
    let host = &rest[..end];
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    format!("{scheme}{host}")
}

/// A model value in its own JSON shape ([`ToJson`]) as a `serde_json::Value`, through the text.
fn to_serde_json(v: &impl ToJson) -> Value {
    serde_json::from_str(&v.to_json().to_json_string()).unwrap_or(Value::Null)
}

fn storm_section(storm: &Value) -> StormSection {
    let get = |k: &str| storm.get(k).filter(|v| !v.is_null()).cloned();
    StormSection {
        active: storm.get("active").and_then(Value::as_bool),
        count: storm.get("count").and_then(Value::as_u64),
        first_seen: storm.get("firstSeen").and_then(Value::as_f64),
        breaker: get("breaker"),
        diagnosis: get("diagnosis"),
        last_conflict: get("conflict"),
    }
}

/// Builds the report and redacts it; the result is safe to download, copy or print.
pub fn build_report(input: ReportInput, journal: &Journal) -> Value {
    let mut notes = Vec::new();
    match &input.own_database {
        Some(db) if !db.available => notes.push(format!(
            "The guardian's own database could not be opened{}; the journal covers this page only.",
            db.error.as_deref().map(|e| format!(" ({})", redact_text(e))).unwrap_or_default()
        )),
        Some(db) if db.created_this_page => notes.push(
            "The guardian's own database did not exist before this page: either the guardian runs here for the first \
             time, or the browser cleared this site's whole storage (whole-origin eviction). Journal entries from before \
             this page, if there were any, are gone; the report cannot tell which of the two it was."
                .into(),
        ),
        Some(db) if db.sentinel.is_none() && input.device_id.is_some() => notes.push(
            "The guardian has no earlier record of this device in its own database: the session is new to it, or \
             began before the guardian was installed."
                .into(),
        ),
        None => notes.push("The guardian's own database was not consulted for this report.".into()),
        _ => {}
    }
    let report = Report {
        schema: SCHEMA,
        schema_version: SCHEMA_VERSION,
        generated_at: input.generated_at,
        guardian: GuardianSection { version: input.guardian_version },
        sdk: input.sdk,
        session: SessionSection {
            user_id: input.user_id,
            device_id: input.device_id,
            homeserver: input.homeserver.as_deref().map(origin_of),
        },
        browser: input.browser,
        storage: input.storage,
        own_database: input.own_database,
        notes,
        writer: input.writer,
        otk_counts: input.otk_counts,
        storm: input.storm.as_ref().filter(|s| s.is_object()).map(storm_section),
        ke_counts: journal.ke_counts().into_iter().collect(),
        journal: JournalSection {
            capacity: journal.capacity(),
            total: journal.total(),
            dropped: journal.dropped(),
            sessions: input.journal_sessions,
            entries: journal.last(journal.capacity()).iter().map(to_serde_json).collect(),
        },
    };
    let mut value = serde_json::to_value(&report).unwrap_or(Value::Null);
    redact_value(&mut value);
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOKEN: &str = "syt_YWxpY2U_qTfMzKvUXcPNbEzpWtLD_0wUfZR";

    fn input(extra: Value) -> ReportInput {
        let mut base = json!({
            "generatedAt": 1_700_000_000_000.0,
            "guardianVersion": "0.1.0",
            "sdk": {"name": "matrix-js-sdk", "version": "43.0.0", "cryptoVersion": "Rust SDK 0.16.0, Vodozemac 0.9.0"},
            "userId": "@alice:localhost",
            "deviceId": "DEVICEID",
            "homeserver": format!("http://user:pw@127.0.0.1:8008/base?access_token={TOKEN}"),
            "browser": {"userAgent": "Chromium"},
            "ownDatabase": {"available": true, "createdThisPage": false, "previousVersion": 2, "sentinel": {"deviceId": "DEVICEID"}},
            "storm": {
                "active": true, "count": 7, "firstSeen": 1.0, "keyIds": ["signed_curve25519:AAAA"],
                "diagnosis": {"kind": "identity-replaced", "reason": "why"},
                "breaker": {"state": "open", "serverConflicts": 1},
                "conflict": {"keyId": "signed_curve25519:AAAA", "oldKey": "mQ4cWt7tXnSjr/Pq5ZJs1hC3sVhnnqxOgF9hQL6yU1U", "newKey": "Zx9cWt7tXnSjr/Pq5ZJs1hC3sVhnnqxOgF9hQL6yU1U"}
            }
        });
        if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
            b.extend(e);
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn report_has_the_sections_and_the_conflict() {
        let mut j = Journal::default();
        j.record_console("error", "Failed to process outgoing request 0: One time key signed_curve25519:AAAA already exists", 2.0);
        j.record_console("error", "Failed to process outgoing request 1: One time key signed_curve25519:AAAA already exists", 3.0);
        let r = build_report(input(json!({})), &j);
        assert_eq!(r["schema"], SCHEMA);
        assert_eq!(r["schemaVersion"], 1);
        assert_eq!(r["session"]["homeserver"], "http://127.0.0.1:8008");
        assert_eq!(r["keCounts"]["KE-1"], 2);
        assert_eq!(r["keCounts"]["KE-3"], 0);
        assert_eq!(r["storm"]["diagnosis"]["kind"], "identity-replaced");
        assert_eq!(r["storm"]["lastConflict"]["oldKey"], "mQ4cWt7tXnSjr/Pq5ZJs1hC3sVhnnqxOgF9hQL6yU1U");
        assert_eq!(r["journal"]["entries"][0]["count"], 2);
        assert!(r["storage"].is_null() && r["writer"].is_null());
        assert!(r["notes"].as_array().unwrap().is_empty(), "{}", r["notes"]);
    }

    #[test]
    fn secrets_in_any_input_are_removed() {
        let mut j = Journal::default();
        j.record_console("error", &format!("MissingKey at https://hs/x?access_token={TOKEN}"), 1.0);
        let hostile = input(json!({
            "sdk": {"name": format!("Bearer {TOKEN}"), "version": "password=hunter2"},
            "browser": {"userAgent": format!("UA {TOKEN}")},
            "writer": {"mechanism": "web-locks", "census": {"accessToken": TOKEN, "tabs": [{"url": "http://x/?loginToken=abc123abc"}]}},
            "ownDatabase": {"available": false, "createdThisPage": false, "error": format!("open failed for {TOKEN}")},
            "storm": {"conflict": {"keyId": "k", "raw": format!("{{\"access_token\":\"{TOKEN}\"}}")}},
            "journalSessions": [format!("@a:b|{TOKEN}")],
        }));
        let s = build_report(hostile, &j).to_string();
        assert!(!s.contains("qTfMzKvUXcPNbEzpWtLD"), "{s}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(!s.contains("abc123abc"), "{s}");
    }

    #[test]
    fn whole_origin_eviction_is_stated_plainly() {
        let j = Journal::default();
        let r = build_report(input(json!({"ownDatabase": {"available": true, "createdThisPage": true, "previousVersion": 0}})), &j);
        let notes = r["notes"].to_string();
        assert!(notes.contains("whole-origin eviction"), "{notes}");
        assert!(notes.contains("cannot tell"), "{notes}");
        let r = build_report(input(json!({"ownDatabase": null})), &j);
        assert!(r["notes"].to_string().contains("not consulted"));
    }

    #[test]
    fn origin_strips_path_query_and_userinfo() {
        assert_eq!(origin_of("https://a:b@hs.example:8448/p?q=1#f"), "https://hs.example:8448");
        assert_eq!(origin_of("hs.example"), "hs.example");
        assert_eq!(origin_of(""), "");
    }
}
