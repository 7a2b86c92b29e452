//! The diagnostics report: one JSON document a user can attach to a bug report.
//!
//! Schema `matrix-crypto-guardian.report`, version [`SCHEMA_VERSION`]; every field is documented in
//! `docs/diagnostics.md`. Sections other capabilities fill (storage, writer, ownDatabase, …) are
//! optional: `null` means "not measured in this build or this page", never a guess.
//!
//! The report is built from what the JS layer gathers ([`ReportInput`]) plus the journal, then
//! redacted as a whole ([`crate::diagnostics::redact::redact_value`]) — so a secret that slipped into any input
//! (a URL with a query, a header, a free-text reason) is removed by structure or by shape.

#[allow(unused_imports)]
use crate::prelude::*;
use crate::diagnostics::journal::Journal;
use crate::json::{self, optional, string, ToJson, Value};
use crate::diagnostics::redact::{redact_text, redact_value};
use crate::sorted::SortedMap;

pub const SCHEMA: &str = "matrix-crypto-guardian.report";
/// Bump on any change that removes or retypes a field; adding an optional field does not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// What the JS layer gathers for a report. Unknown members are ignored; every member is optional.
#[derive(Debug, Default, Clone)]
#[cfg_attr(test, derive(PartialEq, serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase", default))]
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
    #[cfg_attr(test, serde(deserialize_with = "serde_support::de_value"))]
    pub storm: Option<Value>,
    /// `guardian.otkHealth()` as is: one-time-key inflation and the server's cap, with their figures.
    #[cfg_attr(test, serde(deserialize_with = "serde_support::de_value"))]
    pub otk_health: Option<Value>,
    /// The store-account mismatch initRustCrypto() met in this page (`guardian.storeMismatch()`), if any.
    #[cfg_attr(test, serde(deserialize_with = "serde_support::de_value"))]
    pub store_mismatch: Option<Value>,
    /// Sessions with a stored journal in this browser (keys `user|device`), this one included.
    pub journal_sessions: Option<Vec<String>>,
    /// `guardian.storeCheck()` as is: the store-loss check made at start.
    #[cfg_attr(test, serde(deserialize_with = "serde_support::de_value"))]
    pub store_check: Option<Value>,
    /// `guardian.recovery()` as is: the pending recovery (cause, offers), or null.
    #[cfg_attr(test, serde(deserialize_with = "serde_support::de_value"))]
    pub recovery: Option<Value>,
}

#[derive(Debug, Default, Clone)]
#[cfg_attr(test, derive(PartialEq, serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase", default))]
pub struct SdkSection {
    /// e.g. "matrix-js-sdk" (what the host says; null when it did not).
    pub name: Option<String>,
    pub version: Option<String>,
    /// `client.getCrypto().getVersion()`, e.g. "Rust SDK 0.16.0 (…), Vodozemac 0.9.0".
    pub crypto_version: Option<String>,
}

#[derive(Debug, Default, Clone)]
#[cfg_attr(test, derive(PartialEq, serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase", default))]
pub struct BrowserSection {
    pub user_agent: Option<String>,
    pub language: Option<String>,
    pub online: Option<bool>,
    pub cookie_enabled: Option<bool>,
}

/// Filled by the persistence capability: `navigator.storage.persisted()` / `estimate()`.
#[derive(Debug, Default, Clone)]
#[cfg_attr(test, derive(PartialEq, serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase", default))]
pub struct StorageSection {
    pub persisted: Option<bool>,
    pub usage: Option<f64>,
    pub quota: Option<f64>,
}

/// The guardian's own IndexedDB (`matrix-crypto-guardian`).
#[derive(Debug, Default, Clone)]
#[cfg_attr(test, derive(PartialEq, serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase", default))]
pub struct OwnDatabaseSection {
    pub available: bool,
    /// The database did not exist when this page opened it.
    pub created_this_page: bool,
    /// The schema version it had before this page opened it (0 = did not exist).
    pub previous_version: Option<u32>,
    /// This session's sentinel (user, device, ed25519 once seen, first/last seen), if stored.
    #[cfg_attr(test, serde(serialize_with = "serde_support::ser_value", deserialize_with = "serde_support::de_value"))]
    pub sentinel: Option<Value>,
    pub error: Option<String>,
}

/// Filled by the single-writer capability.
#[derive(Debug, Default, Clone)]
#[cfg_attr(test, derive(PartialEq, serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase", default))]
pub struct WriterSection {
    /// "web-locks" | "lease" | null.
    pub mechanism: Option<String>,
    /// e.g. "writer" | "waiting" | "lost".
    pub state: Option<String>,
    /// Tabs of this session seen (census).
    pub tabs: Option<u32>,
    #[cfg_attr(test, serde(serialize_with = "serde_support::ser_value", deserialize_with = "serde_support::de_value"))]
    pub census: Option<Value>,
}

/// One-time-key counts the server reported (`one_time_key_counts` of a keys/upload answer).
#[derive(Debug, Default, Clone)]
#[cfg_attr(test, derive(PartialEq, serde::Serialize, serde::Deserialize))]
#[cfg_attr(test, serde(rename_all = "camelCase", default))]
pub struct OtkCountsSection {
    #[cfg_attr(test, serde(serialize_with = "serde_support::ser_value", deserialize_with = "serde_support::de_value"))]
    pub counts: Option<Value>,
    pub seen_at: Option<f64>,
    /// Where they were read: "keys/upload".
    pub source: Option<String>,
}

#[derive(Debug, Clone)]
#[cfg_attr(test, derive(serde::Serialize))]
#[cfg_attr(test, serde(rename_all = "camelCase"))]
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
    /// The store-loss check made at start (`{ verdict, session, missing, emptyStore, knownIdentity,
    /// reason, others, … }`, as `guardian.storeCheck()`), or null.
    #[cfg_attr(test, serde(serialize_with = "serde_support::ser_value"))]
    pub store_check: Option<Value>,
    /// What the guardian recommends now: `{ cause, remedy, loses }` (the first recommended offer of the
    /// pending recovery), or null when nothing is pending.
    #[cfg_attr(test, serde(serialize_with = "serde_support::ser_value"))]
    pub recommended_remedy: Option<Value>,
    /// `{ kind, reason, since, figures }` (model/otk_health.rs), as the guardian gave it.
    #[cfg_attr(test, serde(serialize_with = "serde_support::ser_value"))]
    pub otk_health: Option<Value>,
    /// `{ at, message, expected, got }` when initRustCrypto() found another account's store.
    #[cfg_attr(test, serde(serialize_with = "serde_support::ser_value"))]
    pub store_mismatch: Option<Value>,
    pub ke_counts: SortedMap<&'static str, u64>,
    pub journal: JournalSection,
}

#[derive(Debug, Clone)]
#[cfg_attr(test, derive(serde::Serialize))]
#[cfg_attr(test, serde(rename_all = "camelCase"))]
pub struct GuardianSection {
    pub version: Option<String>,
}

#[derive(Debug, Clone)]
#[cfg_attr(test, derive(serde::Serialize))]
#[cfg_attr(test, serde(rename_all = "camelCase"))]
pub struct SessionSection {
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    /// The homeserver's origin only (scheme, host, port): no path, no query.
    pub homeserver: Option<String>,
}

#[derive(Debug, Clone)]
#[cfg_attr(test, derive(serde::Serialize))]
#[cfg_attr(test, serde(rename_all = "camelCase"))]
pub struct StormSection {
    pub active: Option<bool>,
    pub count: Option<u64>,
    pub first_seen: Option<f64>,
    #[cfg_attr(test, serde(serialize_with = "serde_support::ser_value"))]
    pub breaker: Option<Value>,
    #[cfg_attr(test, serde(serialize_with = "serde_support::ser_value"))]
    pub diagnosis: Option<Value>,
    #[cfg_attr(test, serde(serialize_with = "serde_support::ser_value"))]
    pub last_conflict: Option<Value>,
}

#[derive(Debug, Clone)]
#[cfg_attr(test, derive(serde::Serialize))]
#[cfg_attr(test, serde(rename_all = "camelCase"))]
pub struct JournalSection {
    pub capacity: usize,
    pub total: u64,
    pub dropped: u64,
    pub sessions: Option<Vec<String>>,
    /// Most recent last ([`crate::diagnostics::journal::Entry`]'s JSON shape).
    #[cfg_attr(test, serde(serialize_with = "serde_support::ser_values"))]
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
        guardian: GuardianSection { version: input.guardian_version },
        sdk: input.sdk,
        session: SessionSection { user_id, device_id, homeserver: homeserver.as_deref().map(origin_of) },
        browser: input.browser,
        storage: input.storage,
        own_database: input.own_database,
        notes,
        writer: input.writer,
        otk_counts: input.otk_counts,
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
            entries: journal.last(journal.capacity()).iter().map(ToJson::to_json).collect(),
        },
    };
    let mut value = report.to_json();
    redact_value(&mut value);
    value
}

/// `{ cause, remedy, loses }` of the first recommended offer of a pending recovery (`guardian.recovery()`).
fn recommended_of(recovery: &Value) -> Option<Value> {
    let offer = recovery.get("offers")?.as_array()?.iter().find(|o| o.get("recommended").and_then(Value::as_bool) == Some(true))?;
    Some(json::object([
        ("cause", recovery.get("cause").cloned().unwrap_or(Value::Null)),
        ("remedy", offer.get("remedy").cloned().unwrap_or(Value::Null)),
        ("loses", offer.get("loses").cloned().unwrap_or(Value::Null)),
    ]))
}

// ---- JSON shapes: the report's sections as the JS layer and docs/diagnostics.md read them (every
// member written, null when unknown), and the readers of what the JS layer gathers. The test at the
// end pins both to the serde derives they replace. ----

/// `{ name, version, cryptoVersion }`.
impl ToJson for SdkSection {
    fn to_json(&self) -> Value {
        json::object([
            ("name", self.name.as_deref().into()),
            ("version", self.version.as_deref().into()),
            ("cryptoVersion", self.crypto_version.as_deref().into()),
        ])
    }
}

/// `{ userAgent, language, online, cookieEnabled }`.
impl ToJson for BrowserSection {
    fn to_json(&self) -> Value {
        json::object([
            ("userAgent", self.user_agent.as_deref().into()),
            ("language", self.language.as_deref().into()),
            ("online", self.online.into()),
            ("cookieEnabled", self.cookie_enabled.into()),
        ])
    }
}

/// `{ persisted, usage, quota }`.
impl ToJson for StorageSection {
    fn to_json(&self) -> Value {
        json::object([
            ("persisted", self.persisted.into()),
            ("usage", self.usage.into()),
            ("quota", self.quota.into()),
        ])
    }
}

/// `{ available, createdThisPage, previousVersion, sentinel, error }`.
impl ToJson for OwnDatabaseSection {
    fn to_json(&self) -> Value {
        json::object([
            ("available", self.available.into()),
            ("createdThisPage", self.created_this_page.into()),
            ("previousVersion", self.previous_version.into()),
            ("sentinel", self.sentinel.to_json()),
            ("error", self.error.as_deref().into()),
        ])
    }
}

/// `{ mechanism, state, tabs, census }`.
impl ToJson for WriterSection {
    fn to_json(&self) -> Value {
        json::object([
            ("mechanism", self.mechanism.as_deref().into()),
            ("state", self.state.as_deref().into()),
            ("tabs", self.tabs.into()),
            ("census", self.census.to_json()),
        ])
    }
}

/// `{ counts, seenAt, source }`.
impl ToJson for OtkCountsSection {
    fn to_json(&self) -> Value {
        json::object([
            ("counts", self.counts.to_json()),
            ("seenAt", self.seen_at.into()),
            ("source", self.source.as_deref().into()),
        ])
    }
}

/// `{ version }`.
impl ToJson for GuardianSection {
    fn to_json(&self) -> Value {
        json::object([("version", self.version.as_deref().into())])
    }
}

/// `{ userId, deviceId, homeserver }`.
impl ToJson for SessionSection {
    fn to_json(&self) -> Value {
        json::object([
            ("userId", self.user_id.as_deref().into()),
            ("deviceId", self.device_id.as_deref().into()),
            ("homeserver", self.homeserver.as_deref().into()),
        ])
    }
}

/// `{ active, count, firstSeen, breaker, diagnosis, lastConflict }`.
impl ToJson for StormSection {
    fn to_json(&self) -> Value {
        json::object([
            ("active", self.active.into()),
            ("count", self.count.into()),
            ("firstSeen", self.first_seen.into()),
            ("breaker", self.breaker.to_json()),
            ("diagnosis", self.diagnosis.to_json()),
            ("lastConflict", self.last_conflict.to_json()),
        ])
    }
}

/// `{ capacity, total, dropped, sessions, entries }`.
impl ToJson for JournalSection {
    fn to_json(&self) -> Value {
        json::object([
            ("capacity", self.capacity.into()),
            ("total", self.total.into()),
            ("dropped", self.dropped.into()),
            ("sessions", self.sessions.clone().into()),
            ("entries", self.entries.to_json()),
        ])
    }
}

/// `{ schema, schemaVersion, generatedAt, guardian, sdk, session, browser, storage, ownDatabase, notes,
/// writer, otkCounts, storm, otkHealth, storeMismatch, keCounts, journal }` (absent sections: null).
impl ToJson for Report {
    fn to_json(&self) -> Value {
        json::object([
            ("schema", self.schema.into()),
            ("schemaVersion", self.schema_version.into()),
            ("generatedAt", self.generated_at.into()),
            ("guardian", self.guardian.to_json()),
            ("sdk", self.sdk.to_json()),
            ("session", self.session.to_json()),
            ("browser", self.browser.to_json()),
            ("storage", self.storage.to_json()),
            ("ownDatabase", self.own_database.to_json()),
            ("notes", self.notes.clone().into()),
            ("writer", self.writer.to_json()),
            ("otkCounts", self.otk_counts.to_json()),
            ("storm", self.storm.to_json()),
            ("storeCheck", self.store_check.clone().unwrap_or(Value::Null)),
            ("recommendedRemedy", self.recommended_remedy.clone().unwrap_or(Value::Null)),
            ("otkHealth", self.otk_health.to_json()),
            ("storeMismatch", self.store_mismatch.to_json()),
            ("keCounts", Value::Object(self.ke_counts.iter().map(|(ke, n)| ((*ke).to_owned(), (*n).into())).collect())),
            ("journal", self.journal.to_json()),
        ])
    }
}

/// Any JSON number that is a finite `f64` (serde refused what overflows one).
fn number(v: &Value) -> Option<f64> {
    v.as_f64().filter(|f| f.is_finite())
}

fn any(v: &Value) -> Option<Value> {
    Some(v.clone())
}

impl SdkSection {
    /// Reads `{ name?, version?, cryptoVersion? }` (strings or null); `None` for a non-object or a
    /// member of another type.
    pub fn from_json(v: &Value) -> Option<SdkSection> {
        v.as_object()?;
        Some(SdkSection {
            name: optional(v, "name", string)?,
            version: optional(v, "version", string)?,
            crypto_version: optional(v, "cryptoVersion", string)?,
        })
    }
}

impl BrowserSection {
    /// Reads `{ userAgent?, language?, online?, cookieEnabled? }`.
    pub fn from_json(v: &Value) -> Option<BrowserSection> {
        v.as_object()?;
        Some(BrowserSection {
            user_agent: optional(v, "userAgent", string)?,
            language: optional(v, "language", string)?,
            online: optional(v, "online", Value::as_bool)?,
            cookie_enabled: optional(v, "cookieEnabled", Value::as_bool)?,
        })
    }
}

impl StorageSection {
    /// Reads `{ persisted?, usage?, quota? }`.
    pub fn from_json(v: &Value) -> Option<StorageSection> {
        v.as_object()?;
        Some(StorageSection {
            persisted: optional(v, "persisted", Value::as_bool)?,
            usage: optional(v, "usage", number)?,
            quota: optional(v, "quota", number)?,
        })
    }
}

impl OwnDatabaseSection {
    /// Reads `{ available?, createdThisPage?, previousVersion?, sentinel?, error? }`: the two flags
    /// default to false when missing (not when null: that fails, as with serde).
    pub fn from_json(v: &Value) -> Option<OwnDatabaseSection> {
        v.as_object()?;
        let flag = |key: &str| v.get(key).map_or(Some(false), Value::as_bool);
        Some(OwnDatabaseSection {
            available: flag("available")?,
            created_this_page: flag("createdThisPage")?,
            previous_version: optional(v, "previousVersion", |n| u32::try_from(n.as_u64()?).ok())?,
            sentinel: optional(v, "sentinel", any)?,
            error: optional(v, "error", string)?,
        })
    }
}

impl WriterSection {
    /// Reads `{ mechanism?, state?, tabs?, census? }`.
    pub fn from_json(v: &Value) -> Option<WriterSection> {
        v.as_object()?;
        Some(WriterSection {
            mechanism: optional(v, "mechanism", string)?,
            state: optional(v, "state", string)?,
            tabs: optional(v, "tabs", |n| u32::try_from(n.as_u64()?).ok())?,
            census: optional(v, "census", any)?,
        })
    }
}

impl OtkCountsSection {
    /// Reads `{ counts?, seenAt?, source? }`.
    pub fn from_json(v: &Value) -> Option<OtkCountsSection> {
        v.as_object()?;
        Some(OtkCountsSection {
            counts: optional(v, "counts", any)?,
            seen_at: optional(v, "seenAt", number)?,
            source: optional(v, "source", string)?,
        })
    }
}

impl ReportInput {
    /// Reads what the JS layer gathered: an object whose members are all optional (missing or null:
    /// not known) and unknown members ignored. `None` for a non-object or a member of the wrong type
    /// anywhere, as serde refused it (callers then build the report from an empty input).
    pub fn from_json(v: &Value) -> Option<ReportInput> {
        v.as_object()?;
        Some(ReportInput {
            generated_at: optional(v, "generatedAt", number)?,
            guardian_version: optional(v, "guardianVersion", string)?,
            sdk: optional(v, "sdk", SdkSection::from_json)?,
            user_id: optional(v, "userId", string)?,
            device_id: optional(v, "deviceId", string)?,
            homeserver: optional(v, "homeserver", string)?,
            browser: optional(v, "browser", BrowserSection::from_json)?,
            storage: optional(v, "storage", StorageSection::from_json)?,
            own_database: optional(v, "ownDatabase", OwnDatabaseSection::from_json)?,
            writer: optional(v, "writer", WriterSection::from_json)?,
            otk_counts: optional(v, "otkCounts", OtkCountsSection::from_json)?,
            storm: optional(v, "storm", any)?,
            otk_health: optional(v, "otkHealth", any)?,
            store_mismatch: optional(v, "storeMismatch", any)?,
            journal_sessions: optional(v, "journalSessions", |a| {
                a.as_array()?.iter().map(string).collect::<Option<Vec<_>>>()
            })?,
            store_check: optional(v, "storeCheck", any)?,
            recovery: optional(v, "recovery", any)?,
        })
    }
}

/// `serialize_with` / `deserialize_with` for the `json::Value` fields of the test-only serde derives.
#[cfg(test)]
mod serde_support {
    use crate::json::{self, Value};
    use serde::{Deserialize, Serialize};

    pub(super) fn ser_value<S: serde::Serializer>(v: &Option<Value>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().map(json::to_serde).serialize(s)
    }

    pub(super) fn ser_values<S: serde::Serializer>(v: &[Value], s: S) -> Result<S::Ok, S::Error> {
        v.iter().map(json::to_serde).collect::<Vec<_>>().serialize(s)
    }

    pub(super) fn de_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
        let v = Option::<serde_json::Value>::deserialize(d)?;
        Ok(v.map(|v| json::from_str(&v.to_string()).expect("serde_json writes JSON")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::to_serde;
    use serde_json::json;

    const TOKEN: &str = "syt_YWxpY2U_qTfMzKvUXcPNbEzpWtLD_0wUfZR";

    /// A serde_json value as the model's own.
    fn ours(v: &serde_json::Value) -> Value {
        json::from_str(&v.to_string()).unwrap()
    }

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
        ReportInput::from_json(&ours(&base)).unwrap()
    }

    fn report(input: ReportInput, journal: &Journal) -> serde_json::Value {
        to_serde(&build_report(input, journal))
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
        let s = build_report(hostile, &j).to_json_string();
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

    /// The hand-written JSON is exactly what the serde derives wrote (docs/diagnostics.md documents
    /// it; JS parses it), and the input is read or refused exactly as serde did.
    #[test]
    fn json_shapes_are_serdes() {
        use crate::storm::conflict::test_support::assert_same_json;

        let full = Report {
            schema: SCHEMA,
            schema_version: SCHEMA_VERSION,
            generated_at: Some(1_700_000_000_123.5),
            guardian: GuardianSection { version: Some("0.1.0".into()) },
            sdk: Some(SdkSection { name: Some("n".into()), version: Some("v".into()), crypto_version: Some("c \"q\"\n".into()) }),
            session: SessionSection { user_id: Some("@a:b".into()), device_id: Some("D".into()), homeserver: Some("https://hs".into()) },
            browser: Some(BrowserSection {
                user_agent: Some("UA".into()),
                language: Some("en".into()),
                online: Some(true),
                cookie_enabled: Some(false),
            }),
            storage: Some(StorageSection { persisted: Some(false), usage: Some(12.5), quota: Some(1e10) }),
            own_database: Some(OwnDatabaseSection {
                available: true,
                created_this_page: true,
                previous_version: Some(2),
                sentinel: Some(ours(&json!({"deviceId": "D", "firstSeen": 1}))),
                error: Some("e".into()),
            }),
            notes: vec!["one".into(), "two".into()],
            writer: Some(WriterSection {
                mechanism: Some("web-locks".into()),
                state: Some("writer".into()),
                tabs: Some(3),
                census: Some(ours(&json!([{"tab": 1}]))),
            }),
            otk_counts: Some(OtkCountsSection {
                counts: Some(ours(&json!({"signed_curve25519": 50}))),
                seen_at: Some(2.0),
                source: Some("keys/upload".into()),
            }),
            storm: Some(StormSection {
                active: Some(true),
                count: Some(7),
                first_seen: Some(1.0),
                breaker: Some(ours(&json!({"state": "open"}))),
                diagnosis: Some(ours(&json!({"kind": "pending"}))),
                last_conflict: Some(ours(&json!("x"))),
            }),
            store_check: Some(ours(&json!({"verdict": "store-lost", "missing": ["m"]}))),
            recommended_remedy: Some(ours(&json!({"cause": "store-lost", "remedy": "sign-out", "loses": ["this-device"]}))),
            otk_health: Some(ours(&json!({"kind": "otk-limit", "figures": {"limit": 500}}))),
            store_mismatch: Some(ours(&json!({"at": 1, "message": "m"}))),
            ke_counts: [("KE-1", 2), ("KE-2", 0)].into(),
            journal: JournalSection {
                capacity: 200,
                total: 3,
                dropped: 1,
                sessions: Some(vec!["@a:b|D".into()]),
                entries: vec![ours(&json!({"count": 2})), Value::Null],
            },
        };
        let empty = Report {
            generated_at: None,
            guardian: GuardianSection { version: None },
            sdk: Some(SdkSection::default()),
            session: SessionSection { user_id: None, device_id: None, homeserver: None },
            browser: Some(BrowserSection::default()),
            storage: Some(StorageSection::default()),
            own_database: Some(OwnDatabaseSection::default()),
            notes: vec![],
            writer: Some(WriterSection::default()),
            otk_counts: Some(OtkCountsSection::default()),
            storm: Some(StormSection { active: None, count: None, first_seen: None, breaker: None, diagnosis: None, last_conflict: None }),
            store_check: None,
            recommended_remedy: None,
            ke_counts: SortedMap::new(),
            journal: JournalSection { capacity: 0, total: 0, dropped: 0, sessions: None, entries: vec![] },
            ..full.clone()
        };
        let none = Report {
            sdk: None,
            browser: None,
            storage: None,
            own_database: None,
            writer: None,
            otk_counts: None,
            storm: None,
            otk_health: None,
            store_mismatch: None,
            ..empty.clone()
        };
        for r in [&full, &empty, &none] {
            assert_same_json(r);
        }
        // The one-time-key health and the store mismatch reach the report as the guardian gave them.
        let built = build_report(input(json!({"otkHealth": {"kind": "otk-limit", "figures": {"limit": 500, "heldAtLimit": 455}}, "storeMismatch": {"at": 3, "message": "m"}})), &Journal::default());
        assert_eq!(to_serde(&built)["otkHealth"]["figures"]["heldAtLimit"], 455);
        assert_eq!(to_serde(&built)["storeMismatch"]["at"], 3);
        // And a whole built report, text included, reads back as serde's.
        let built = build_report(input(json!({})), &Journal::default());
        assert_eq!(to_serde(&built), serde_json::from_str::<serde_json::Value>(&built.to_json_string()).unwrap());

        let inputs = [
            json!({}),
            json!({"unknown": [1, 2], "generatedAt": 12, "guardianVersion": null, "storm": null, "journalSessions": null}),
            json!({"generatedAt": 1.5, "storm": [1, "x"], "journalSessions": ["a", "b"], "homeserver": "h", "userId": "u", "deviceId": "d"}),
            json!({"sdk": {}, "browser": {}, "storage": {}, "ownDatabase": {}, "writer": {}, "otkCounts": {}}),
            json!({"otkHealth": {"kind": "otk-inflation", "figures": {"serverCount": 150}}, "storeMismatch": {"at": 2, "message": "m"}}),
            json!({"otkHealth": null, "storeMismatch": null}),
            json!({"sdk": null, "browser": null, "storage": null, "ownDatabase": null, "writer": null, "otkCounts": null}),
            json!({
                "sdk": {"name": "n", "version": null, "cryptoVersion": "c", "other": 1},
                "browser": {"userAgent": "UA", "language": "en", "online": false, "cookieEnabled": true},
                "storage": {"persisted": true, "usage": 10, "quota": 2.5},
                "ownDatabase": {"available": true, "createdThisPage": false, "previousVersion": 4294967295u64, "sentinel": false, "error": "e"},
                "writer": {"mechanism": "lease", "state": "lost", "tabs": 0, "census": {"a": [null]}},
                "otkCounts": {"counts": 3, "seenAt": -1, "source": "keys/upload"},
            }),
            // Wrong types anywhere: the whole input is refused.
            json!({"generatedAt": "now"}),
            json!({"guardianVersion": 1}),
            json!({"journalSessions": "a"}),
            json!({"journalSessions": ["a", 1]}),
            json!({"sdk": "x"}),
            json!({"sdk": {"name": 1}}),
            json!({"browser": {"online": "yes"}}),
            json!({"storage": {"usage": "1"}}),
            json!({"ownDatabase": {"available": null}}),
            json!({"ownDatabase": {"createdThisPage": 1}}),
            json!({"ownDatabase": {"previousVersion": -1}}),
            json!({"ownDatabase": {"previousVersion": 1.5}}),
            json!({"ownDatabase": {"previousVersion": 4294967296u64}}),
            json!({"writer": {"tabs": 2.0}}),
            json!({"otkCounts": {"seenAt": true}}),
            json!(null),
            json!("x"),
            json!(1),
        ];
        for v in &inputs {
            let theirs = serde_json::from_value::<ReportInput>(v.clone()).ok();
            assert_eq!(ReportInput::from_json(&ours(v)), theirs, "{v}");
        }
        assert_eq!(inputs.iter().filter(|v| ReportInput::from_json(&ours(v)).is_some()).count(), 8);
        // The one difference: serde also took a struct as an array of its fields; JSON.stringify of the
        // gathered object never writes that, and it is now an empty input like any other refusal.
        assert!(serde_json::from_value::<ReportInput>(json!([])).is_ok());
        assert_eq!(ReportInput::from_json(&ours(&json!([]))), None);
        assert_eq!(ReportInput::from_json(&ours(&json!({"sdk": ["n"]}))), None);
        // Numbers past an f64 were refused by serde_json's parser; they are refused here too.
        let huge = r#"{"generatedAt": 1e400}"#;
        assert!(serde_json::from_str::<ReportInput>(huge).is_err());
        assert_eq!(ReportInput::from_json(&json::from_str(huge).unwrap()), None);
    }
}
