//! The diagnostics report: one JSON document a user can attach to a bug report.
//!
//! Schema `matrix-crypto-guardian.report`, version [`SCHEMA_VERSION`]; every field is documented in
//! `docs/diagnostics.md`. Sections other capabilities fill (storage, writer, ownDatabase, …) are
//! optional: `null` means "not measured in this build or this page", never a guess.
//!
//! The report is built from what the JS layer gathers ([`ReportInput`]) plus the journal, then
//! redacted as a whole ([`crate::diagnostics::redact::redact_value`]) — so a secret that slipped into any input
//! (a URL with a query, a header, a free-text reason) is removed by structure or by shape.

use crate::diagnostics::journal::{Entry, Journal};
use serde_json::Value;
use crate::diagnostics::redact::{redact_text, redact_value};
use std::collections::BTreeMap;

pub const SCHEMA: &str = "matrix-crypto-guardian.report";
/// Bump on any change that removes or retypes a field; adding an optional field does not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// What the JS layer gathers for a report. Unknown members are ignored; every member is optional.
#[derive(Debug, Default, Clone, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReportInput {
    pub generated_at: Option<f64>,
    pub guardian_version: Option<String>,
    /// The sections `sdk`, `browser`, `storage`, `writer` and `otkCounts` are copied into the report
    /// with the members `SDK_MEMBERS`, `BROWSER_MEMBERS`, … name.
    pub sdk: Option<Value>,
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    pub homeserver: Option<String>,
    pub browser: Option<Value>,
    pub storage: Option<Value>,
    pub own_database: Option<OwnDatabaseSection>,
    pub writer: Option<Value>,
    pub otk_counts: Option<Value>,
    /// `guardian.storm()` as is.
    pub storm: Option<Value>,
    /// `guardian.otkHealth()` as is: one-time-key inflation and the server's cap, with their figures.
    pub otk_health: Option<Value>,
    /// The store-account mismatch initRustCrypto() met in this page (`guardian.storeMismatch()`), if any.
    pub store_mismatch: Option<Value>,
    /// Sessions with a stored journal in this browser (keys `user|device`), this one included.
    pub journal_sessions: Option<Vec<String>>,
    /// `guardian.storeCheck()` as is: the store-loss check made at start.
    pub store_check: Option<Value>,
    /// `guardian.recovery()` as is: the pending recovery (cause, offers), or null.
    pub recovery: Option<Value>,
}

/// The sections the report copies from what the JS layer gathers, deciding nothing about them: each
/// keeps the members named here (`null` for one the input lacks) and drops any other.
///
/// `sdk`: `name` (e.g. "matrix-js-sdk"; null when the host did not say), `version`, and `cryptoVersion`
/// (`client.getCrypto().getVersion()`, e.g. "Rust SDK 0.16.0 (…), Vodozemac 0.9.0").
const SDK_MEMBERS: &[&str] = &["name", "version", "cryptoVersion"];
const BROWSER_MEMBERS: &[&str] = &["userAgent", "language", "online", "cookieEnabled"];
/// Filled by the persistence capability: `navigator.storage.persisted()` / `estimate()`.
const STORAGE_MEMBERS: &[&str] = &["persisted", "usage", "quota"];
/// Filled by the single-writer capability: `mechanism` ("web-locks" | "lease" | null), `state` (e.g.
/// "writer" | "waiting" | "lost"), `tabs` (tabs of this session seen) and the `census` itself.
const WRITER_MEMBERS: &[&str] = &["mechanism", "state", "tabs", "census"];
/// One-time-key counts the server reported (`one_time_key_counts` of a keys/upload answer), when
/// (`seenAt`) and where (`source`: "keys/upload") they were read.
const OTK_COUNTS_MEMBERS: &[&str] = &["counts", "seenAt", "source"];

/// A copied section: the named members of `given` (an object); `None` when it is not an object.
fn section(given: Option<Value>, members: &[&str]) -> Option<Value> {
    let Value::Object(mut given) = given? else { return None };
    Some(Value::Object(members.iter().map(|&m| (m.to_owned(), given.remove(m).unwrap_or(Value::Null))).collect()))
}

/// The guardian's own IndexedDB (`matrix-crypto-guardian`).
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub schema: &'static str,
    pub schema_version: u32,
    pub generated_at: Option<f64>,
    /// `{ version }`
    pub guardian: Value,
    pub sdk: Option<Value>,
    /// `{ userId, deviceId, homeserver }`: the homeserver's origin only (scheme, host, port), no path, no query.
    pub session: Value,
    pub browser: Option<Value>,
    pub storage: Option<Value>,
    pub own_database: Option<OwnDatabaseSection>,
    /// Plain-words statements about what the report can and cannot know (e.g. whole-origin eviction).
    pub notes: Vec<String>,
    pub writer: Option<Value>,
    pub otk_counts: Option<Value>,
    pub storm: Option<Value>,
    /// The store-loss check made at start (`{ verdict, session, missing, emptyStore, knownIdentity,
    /// reason, others, … }`, as `guardian.storeCheck()`), or null.
    pub store_check: Option<Value>,
    /// What the guardian recommends now: `{ cause, remedy, loses }` (the first recommended offer of the
    /// pending recovery), or null when nothing is pending.
    pub recommended_remedy: Option<Value>,
    /// `{ kind, reason, since, figures }` (model/otk_health.rs), as the guardian gave it.
    pub otk_health: Option<Value>,
    /// `{ at, message, expected, got }` when initRustCrypto() found another account's store.
    pub store_mismatch: Option<Value>,
    pub ke_counts: BTreeMap<&'static str, u64>,
    pub journal: JournalSection,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalSection {
    pub capacity: usize,
    pub total: u64,
    pub dropped: u64,
    pub sessions: Option<Vec<String>>,
    /// Most recent last.
    pub entries: Vec<Entry>,
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

/// `{ active, count, firstSeen, breaker, diagnosis, lastConflict }` of `guardian.storm()`.
fn storm_section(storm: &Value) -> Value {
    let get = |k: &str| storm.get(k).filter(|v| !v.is_null()).cloned();
    serde_json::json!({
        "active": storm.get("active").and_then(Value::as_bool),
        "count": storm.get("count").and_then(Value::as_u64),
        "firstSeen": storm.get("firstSeen").and_then(Value::as_f64),
        "breaker": get("breaker"),
        "diagnosis": get("diagnosis"),
        "lastConflict": get("conflict"),
    })
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
    // Without attach() (the drop-in) the session may be known only from the store-loss check.
    let checked = input.store_check.as_ref().filter(|c| c.is_object());
    let checked_session = |field: &str| checked.and_then(|c| c.get("session")).and_then(|s| s.get(field)).and_then(Value::as_str).map(str::to_owned);
    let user_id = input.user_id.or_else(|| checked_session("userId"));
    let device_id = input.device_id.or_else(|| checked_session("deviceId"));
    let homeserver = input.homeserver.or_else(|| checked_session("homeserver"));
    let recommended_remedy = input.recovery.as_ref().and_then(recommended_of);
    let report = Report {
        schema: SCHEMA,
        schema_version: SCHEMA_VERSION,
        generated_at: input.generated_at,
        guardian: serde_json::json!({ "version": input.guardian_version }),
        sdk: section(input.sdk, SDK_MEMBERS),
        session: serde_json::json!({ "userId": user_id, "deviceId": device_id, "homeserver": homeserver.as_deref().map(origin_of) }),
        browser: section(input.browser, BROWSER_MEMBERS),
        storage: section(input.storage, STORAGE_MEMBERS),
        own_database: input.own_database,
        notes,
        writer: section(input.writer, WRITER_MEMBERS),
        otk_counts: section(input.otk_counts, OTK_COUNTS_MEMBERS),
        storm: input.storm.as_ref().filter(|s| s.is_object()).map(storm_section),
        store_check: checked.cloned(),
        recommended_remedy,
        otk_health: input.otk_health.filter(Value::is_object),
        store_mismatch: input.store_mismatch.filter(Value::is_object),
        ke_counts: journal.ke_counts(),
        journal: JournalSection {
            capacity: journal.capacity(),
            total: journal.total(),
            dropped: journal.dropped(),
            sessions: input.journal_sessions,
            entries: journal.last(journal.capacity()).to_vec(),
        },
    };
    let mut value = serde_json::to_value(&report).unwrap_or_default();
    redact_value(&mut value);
    value
}

/// `{ cause, remedy, loses }` of the first recommended offer of a pending recovery (`guardian.recovery()`).
fn recommended_of(recovery: &Value) -> Option<Value> {
    let offer = recovery.get("offers")?.as_array()?.iter().find(|o| o.get("recommended").and_then(Value::as_bool) == Some(true))?;
    Some(serde_json::json!({
        "cause": recovery.get("cause").cloned().unwrap_or(Value::Null),
        "remedy": offer.get("remedy").cloned().unwrap_or(Value::Null),
        "loses": offer.get("loses").cloned().unwrap_or(Value::Null),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOKEN: &str = "syt_YWxpY2U_qTfMzKvUXcPNbEzpWtLD_0wUfZR";

    fn input(extra: serde_json::Value) -> ReportInput {
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
        if let (serde_json::Value::Object(b), serde_json::Value::Object(e)) = (&mut base, extra) {
            b.extend(e);
        }
        serde_json::from_value(base).unwrap()
    }

    fn report(input: ReportInput, journal: &Journal) -> serde_json::Value {
        serde_json::to_value(&build_report(input, journal)).unwrap()
    }

    #[test]
    fn report_has_the_sections_and_the_conflict() {
        let mut j = Journal::default();
        j.record_console("error", "Failed to process outgoing request 0: One time key signed_curve25519:AAAA already exists", 2.0);
        j.record_console("error", "Failed to process outgoing request 1: One time key signed_curve25519:AAAA already exists", 3.0);
        let r = report(input(json!({})), &j);
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
    fn a_store_loss_caught_without_attach_names_the_session_the_verdict_and_the_remedy() {
        let j = Journal::default();
        let check = json!({
            "verdict": "store-lost",
            "session": {"userId": "@bob:localhost", "deviceId": "BOBDEV", "homeserver": "http://127.0.0.1:8008/"},
            "missing": ["matrix-js-sdk::matrix-sdk-crypto"], "emptyStore": null,
            "knownIdentity": "mQ4cWt7tXnSjr/Pq5ZJs1hC3sVhnnqxOgF9hQL6yU1U", "reason": "gone", "others": []
        });
        let recovery = json!({
            "cause": "store-lost",
            "offers": [
                {"remedy": "sign-out", "recommended": true, "loses": ["maybe-history", "this-device"]},
                {"remedy": "continue", "recommended": false, "loses": ["messages-to-lost-keys"]}
            ]
        });
        let r = report(input(json!({"userId": null, "deviceId": null, "homeserver": null, "storeCheck": check, "recovery": recovery})), &j);
        assert_eq!(r["session"], json!({"userId": "@bob:localhost", "deviceId": "BOBDEV", "homeserver": "http://127.0.0.1:8008"}));
        assert_eq!(r["storeCheck"]["verdict"], "store-lost");
        assert_eq!(r["storeCheck"]["knownIdentity"], "mQ4cWt7tXnSjr/Pq5ZJs1hC3sVhnnqxOgF9hQL6yU1U");
        assert_eq!(r["storeCheck"]["missing"], json!(["matrix-js-sdk::matrix-sdk-crypto"]));
        assert_eq!(r["recommendedRemedy"], json!({"cause": "store-lost", "remedy": "sign-out", "loses": ["maybe-history", "this-device"]}));
        // Nothing pending, nothing checked: null, never a guess.
        let r = report(input(json!({})), &j);
        assert!(r["storeCheck"].is_null() && r["recommendedRemedy"].is_null());
        assert_eq!(r["session"]["userId"], "@alice:localhost", "the attached session wins");
    }

    #[test]
    fn copied_sections_keep_their_named_members_only() {
        let j = Journal::default();
        let r = report(input(json!({"storage": {"persisted": true, "quota": 5, "secret": "x"}, "writer": "web-locks"})), &j);
        assert_eq!(r["storage"], json!({"persisted": true, "usage": null, "quota": 5}));
        assert_eq!(r["browser"], json!({"userAgent": "Chromium", "language": null, "online": null, "cookieEnabled": null}));
        assert!(r["writer"].is_null() && r["otkCounts"].is_null());
    }

    #[test]
    fn whole_origin_eviction_is_stated_plainly() {
        let j = Journal::default();
        let r = report(input(json!({"ownDatabase": {"available": true, "createdThisPage": true, "previousVersion": 0}})), &j);
        let notes = r["notes"].to_string();
        assert!(notes.contains("whole-origin eviction"), "{notes}");
        assert!(notes.contains("cannot tell"), "{notes}");
        let r = report(input(json!({"ownDatabase": null})), &j);
        assert!(r["notes"].to_string().contains("not consulted"));
    }

    #[test]
    fn origin_strips_path_query_and_userinfo() {
        assert_eq!(origin_of("https://a:b@hs.example:8448/p?q=1#f"), "https://hs.example:8448");
        assert_eq!(origin_of("hs.example"), "hs.example");
        assert_eq!(origin_of(""), "");
    }

}
