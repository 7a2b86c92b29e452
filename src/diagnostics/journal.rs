//! The journal: what went wrong with this session's encryption, in classified, bounded, de-duplicated
//! entries that survive reloads (the browser adapter persists [`Journal::to_stored`]).
//!
//! Sources:
//! * **console** lines, classified by the field kit's signatures ([`classify_console`]): KE-1 (the
//!   keys/upload "already exists" conflict), KE-2 (Element Call media keys: `MissingKey`, `missing key at
//!   index`, `io.element.call.encryption_keys`), KE-3 (`DecryptionError … missing field 'algorithm'`),
//!   KE-4 (MatrixRTC delayed events: `update_delayed_event`, delayed-event timeouts), plus matrix-js-sdk's
//!   `Failed to process outgoing request`;
//! * **guardian** events (storm, breaker, diagnosis, writer, persistence, store loss, remedy), see
//!   [`classify_event`].
//!
//! A storm repeats the same line after every /sync: entries are de-duplicated on (source, signature,
//! message with digit runs folded) and counted, and the journal never holds more than `capacity`
//! entries (the least recently seen goes first). Per-KE totals are kept apart from the entries, so
//! they stay exact when entries are dropped. Every message is redacted and cut before it is stored.

use std::collections::BTreeMap;

use serde_json::Value;
use crate::diagnostics::redact::redact_text;

/// Default bound on entries (the seed's ring buffer held 200 lines).
pub const DEFAULT_CAPACITY: usize = 200;
/// Longest message kept, in characters (a KE-1 line with both keys is about 600).
pub const MAX_MESSAGE_CHARS: usize = 800;
/// The stored record's format version ([`Journal::to_stored`]); older ones are read by [`Journal::from_stored`].
pub const STORED_FORMAT: u32 = 2;

/// The field kit's symptom classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum Ke {
    /// keys/upload one-time-key conflict storm.
    #[serde(rename = "KE-1")]
    Ke1,
    /// Element Call media keys missing / undecryptable.
    #[serde(rename = "KE-2")]
    Ke2,
    /// Timeline decryption error: missing `algorithm`.
    #[serde(rename = "KE-3")]
    Ke3,
    /// MatrixRTC delayed-event timeouts.
    #[serde(rename = "KE-4")]
    Ke4,
}

impl Ke {
    pub const ALL: [Ke; 4] = [Ke::Ke1, Ke::Ke2, Ke::Ke3, Ke::Ke4];
    pub fn label(self) -> &'static str {
        match self {
            Ke::Ke1 => "KE-1",
            Ke::Ke2 => "KE-2",
            Ke::Ke3 => "KE-3",
            Ke::Ke4 => "KE-4",
        }
    }

    /// The inverse of [`Ke::label`].
    pub fn parse(label: &str) -> Option<Ke> {
        Ke::ALL.into_iter().find(|ke| ke.label() == label)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Source {
    Console,
    Network,
    Guardian,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(name: &str) -> Option<Source> {
        [Source::Console, Source::Network, Source::Guardian].into_iter().find(|s| s.as_str() == name)
    }
}

/// What a line or event was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    pub ke: Option<Ke>,
    /// Stable short name, e.g. `otk-already-exists`.
    pub name: &'static str,
}

/// Classifies one console line (its arguments joined); `None` for lines the journal ignores.
/// Cheap: a few case-insensitive substring searches.
pub fn classify_console(text: &str) -> Option<Signature> {
    let lower = text.to_ascii_lowercase();
    let has = |needle: &str| lower.contains(needle);
    // KE-1: the conflict text itself; "already exists" alone is too common (room aliases, users), so a
    // key must be named.
    if has("already exists")
        && (has("one time key") || has("one-time key") || has("fallback key") || has("_curve25519:") || has("keys/upload"))
    {
        return Some(Signature { ke: Some(Ke::Ke1), name: "otk-already-exists" });
    }
    if has("missing key at index") {
        return Some(Signature { ke: Some(Ke::Ke2), name: "missing-key-at-index" });
    }
    if text.contains("MissingKey") {
        return Some(Signature { ke: Some(Ke::Ke2), name: "missing-key" });
    }
    if has("io.element.call.encryption_keys") {
        return Some(Signature { ke: Some(Ke::Ke2), name: "call-encryption-keys" });
    }
    if has("missing field") && has("algorithm") {
        return Some(Signature { ke: Some(Ke::Ke3), name: "missing-algorithm" });
    }
    if has("update_delayed_event") {
        return Some(Signature { ke: Some(Ke::Ke4), name: "update-delayed-event" });
    }
    if has("delayed event") && (has("timed out") || has("timeout") || has("failed") || has("error")) {
        return Some(Signature { ke: Some(Ke::Ke4), name: "delayed-event-timeout" });
    }
    // initRustCrypto() on a store that holds another account (matrix-sdk-crypto's MismatchedAccount):
    // some multi-account clients then delete every store and retry with the same device id, a store
    // loss they make themselves.
    if has("account in the store doesn't match the account in the constructor")
        || has("account in the store does not match the account in the constructor")
    {
        return Some(Signature { ke: None, name: "store-account-mismatch" });
    }
    if has("failed to process outgoing request") {
        return Some(Signature { ke: None, name: "outgoing-request-failed" });
    }
    None
}

/// Classifies a guardian event by its DOM event type; `None` for types the journal ignores.
pub fn classify_event(kind: &str) -> Option<(Source, Signature)> {
    let (source, ke, name) = match kind {
        // The conflict answered by the server: KE-1 seen on the network, not only in the console.
        "storm" => (Source::Network, Some(Ke::Ke1), "storm"),
        "breaker-open" => (Source::Network, None, "breaker-open"),
        "breaker-probe" => (Source::Network, None, "breaker-probe"),
        "breaker-closed" => (Source::Network, None, "breaker-closed"),
        "diagnosis" => (Source::Guardian, None, "diagnosis"),
        // One-time-key health beyond the conflict (model/otk_health.rs), seen on the network.
        "otk-inflation" => (Source::Network, None, "otk-inflation"),
        "otk-limit" => (Source::Network, None, "otk-limit"),
        // initRustCrypto() refused the store: it holds another account (the guardian saw the rejection).
        "store-mismatch" => (Source::Guardian, None, "store-account-mismatch"),
        "diagnosis-failed" => (Source::Guardian, None, "diagnosis-failed"),
        "writer-acquired" => (Source::Guardian, None, "writer-acquired"),
        "writer-lost" => (Source::Guardian, None, "writer-lost"),
        "persistence" => (Source::Guardian, None, "persistence"),
        "store-lost" => (Source::Guardian, None, "store-lost"),
        // The store-loss check could not tell ("unknown"): no prompt, this line only.
        "store-check" => (Source::Guardian, None, "store-check"),
        "store-loss-accepted" => (Source::Guardian, None, "store-loss-accepted"),
        "remedy" => (Source::Guardian, None, "remedy"),
        "error" => (Source::Guardian, None, "guardian-error"),
        _ => return None,
    };
    Some((source, Signature { ke, name }))
}

/// Whether an event wakes the journal of a page: every journaled type but the routine ones each page
/// has. A healthy page then never loads the journal's code (it lives in the lazily loaded module); its
/// routine events are kept in memory and journaled if trouble comes later in that page.
pub fn wakes_journal(kind: &str) -> bool {
    !matches!(kind, "writer-acquired" | "persistence") && classify_event(kind).is_some()
}

/// A one-line summary of a guardian event's detail: the fields a reader needs, never the raw detail.
pub fn summarize_event(kind: &str, detail: &Value) -> String {
    let s = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    let mut parts = Vec::new();
    let mut push = |label: &str, v: Option<String>| {
        if let Some(v) = v {
            parts.push(format!("{label} {v}"));
        }
    };
    // A missing member (or a member of a non-object) reads as null, as serde_json's `v["a"]["b"]` did.
    let at = |path: &[&str]| path.iter().try_fold(detail, |v, k| v.get(k)).and_then(s);
    push("key", at(&["conflict", "keyId"]));
    push("diagnosis", at(&["diagnosis", "kind"]));
    if kind == "diagnosis" {
        push("because", at(&["diagnosis", "reason"]));
    }
    push("breaker", at(&["breaker", "state"]).or_else(|| at(&["state"])));
    push("verdict", at(&["verdict"]));
    push("mechanism", at(&["mechanism"]));
    push("persisted", at(&["persisted"]));
    push("action", at(&["action"]));
    push("reason", at(&["reason"]));
    if parts.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {}", parts.join(", "))
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub source: Source,
    /// Console level (`error`, `warn`, `log`, `info`) or `event`.
    pub level: String,
    pub ke: Option<Ke>,
    pub signature: String,
    /// Redacted and cut to [`MAX_MESSAGE_CHARS`].
    pub message: String,
    pub first_at: f64,
    pub last_at: f64,
    pub count: u64,
}

/// The session a journal belongs to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionId {
    pub user_id: String,
    pub device_id: String,
}

impl SessionId {
    /// The key the journal is stored under.
    pub fn key(&self) -> String {
        format!("{}|{}", self.user_id, self.device_id)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Journal {
    capacity: usize,
    entries: Vec<Entry>,
    /// Dedup keys, parallel to `entries`.
    keys: Vec<String>,
    ke_counts: BTreeMap<Ke, u64>,
    /// Occurrences recorded (entries × counts), including dropped ones.
    total: u64,
    /// Entries pushed out by the bound.
    dropped: u64,
    session: Option<SessionId>,
}

/// The persisted form (also `guardian.journal()`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredJournal {
    pub v: u32,
    pub session: Option<SessionId>,
    pub capacity: usize,
    pub total: u64,
    pub dropped: u64,
    pub ke_counts: BTreeMap<Ke, u64>,
    pub entries: Vec<Entry>,
}

/// The shape written before [`STORED_FORMAT`] 2 (schema v1): one element per line, no counts, no session.
#[derive(Debug, PartialEq, serde::Deserialize)]
struct StoredV1 {
    entries: Vec<StoredV1Line>,
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct StoredV1Line {
    #[serde(default)]
    ke: Option<Ke>,
    #[serde(default)]
    level: Option<String>,
    line: String,
    at: f64,
}

impl Default for Journal {
    fn default() -> Self {
        Journal::new(DEFAULT_CAPACITY)
    }
}

fn fold_digits(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_digits = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// What entries are de-duplicated on (kept in memory only, never stored).
fn dedup_key(source: Source, signature: &str, message: &str) -> String {
    format!("{}|{}|{}", source.as_str(), signature, fold_digits(message))
}

fn cut(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

impl Journal {
    /// An empty journal holding at most `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> Self {
        Journal {
            capacity: capacity.max(1),
            entries: Vec::new(),
            keys: Vec::new(),
            ke_counts: BTreeMap::new(),
            total: 0,
            dropped: 0,
            session: None,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
    pub fn total(&self) -> u64 {
        self.total
    }
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
    pub fn session(&self) -> Option<&SessionId> {
        self.session.as_ref()
    }
    pub fn set_session(&mut self, session: Option<SessionId>) {
        self.session = session;
    }

    /// Occurrences per KE, every KE present (0 when unseen).
    pub fn ke_counts(&self) -> BTreeMap<&'static str, u64> {
        Ke::ALL.iter().map(|ke| (ke.label(), self.ke_counts.get(ke).copied().unwrap_or(0))).collect()
    }

    /// Records a console line; returns whether it was classified (and so recorded).
    pub fn record_console(&mut self, level: &str, text: &str, now_ms: f64) -> bool {
        match classify_console(text) {
            Some(sig) => {
                let level = match level {
                    "error" | "warn" | "info" | "log" | "debug" => level,
                    _ => "log",
                };
                self.record(Source::Console, level, sig, text, now_ms, 1);
                true
            }
            None => false,
        }
    }

    /// Records a guardian event; returns whether its type is journaled.
    pub fn record_event(&mut self, kind: &str, detail: &Value, now_ms: f64) -> bool {
        match classify_event(kind) {
            Some((source, sig)) => {
                self.record(source, "event", sig, &summarize_event(kind, detail), now_ms, 1);
                true
            }
            None => false,
        }
    }

    fn record(&mut self, source: Source, level: &str, sig: Signature, text: &str, now_ms: f64, count: u64) {
        let message = cut(&redact_text(&cut(text, MAX_MESSAGE_CHARS * 2)), MAX_MESSAGE_CHARS);
        let key = dedup_key(source, sig.name, &message);
        self.total += count;
        if let Some(ke) = sig.ke {
            *self.ke_counts.entry(ke).or_insert_with(|| 0) += count;
        }
        if let Some(i) = self.keys.iter().position(|k| *k == key) {
            let e = &mut self.entries[i];
            e.count += count;
            e.last_at = e.last_at.max(now_ms);
            e.first_at = e.first_at.min(now_ms);
            return;
        }
        self.entries.push(Entry {
            source,
            level: level.to_owned(),
            ke: sig.ke,
            signature: sig.name.to_owned(),
            message,
            first_at: now_ms,
            last_at: now_ms,
            count,
        });
        self.keys.push(key);
        self.enforce_bound();
    }

    fn enforce_bound(&mut self) {
        while self.entries.len() > self.capacity {
            // The least recently seen goes; ties: the oldest inserted.
            let (i, _) = self
                .entries
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.last_at.partial_cmp(&b.1.last_at).unwrap_or(core::cmp::Ordering::Equal))
                .expect("non-empty");
            self.entries.remove(i);
            self.keys.remove(i);
            self.dropped += 1;
        }
    }

    /// The most recent `n` entries, most recent last.
    pub fn last(&self, n: usize) -> Vec<Entry> {
        let mut entries = self.entries.clone();
        entries.sort_by(|a, b| a.last_at.total_cmp(&b.last_at)); // stable: equal times keep their order
        entries.split_off(entries.len().saturating_sub(n))
    }

    /// The persisted form as JSON text (what the browser adapter stores; [`Journal::from_stored`] reads it).
    pub fn to_stored_json(&self) -> String {
        serde_json::to_string(&self.to_stored()).unwrap_or_default()
    }

    pub fn to_stored(&self) -> StoredJournal {
        StoredJournal {
            v: STORED_FORMAT,
            session: self.session.clone(),
            capacity: self.capacity,
            total: self.total,
            dropped: self.dropped,
            ke_counts: self.ke_counts.clone(),
            entries: self.entries.clone(),
        }
    }

    /// Reads a stored journal of any known format; `None` when unreadable (a damaged record is not
    /// trusted). Messages are redacted again: a record written by an older, laxer version gets cleaned.
    pub fn from_stored(json: &str, capacity: usize) -> Option<Journal> {
        let value = serde_json::from_slice::<Value>(json.as_bytes()).ok()?;
        let mut journal = Journal::new(capacity);
        match value.get("v").and_then(Value::as_u64) {
            Some(2) => {
                let stored = serde_json::from_value::<StoredJournal>(value).ok()?;
                journal.session = stored.session;
                journal.total = stored.total;
                journal.dropped = stored.dropped;
                journal.ke_counts = stored.ke_counts;
                for mut e in stored.entries {
                    e.message = cut(&redact_text(&e.message), MAX_MESSAGE_CHARS);
                    let key = dedup_key(e.source, &e.signature, &e.message);
                    journal.entries.push(e);
                    journal.keys.push(key);
                }
                journal.enforce_bound();
            }
            None => {
                // Format 1: replay the lines; counts are rebuilt from them.
                let old = serde_json::from_value::<StoredV1>(value).ok()?;
                for line in old.entries {
                    let level = line.level.as_deref().unwrap_or("log");
                    let sig = classify_console(&line.line)
                        .or(line.ke.map(|ke| Signature { ke: Some(ke), name: "legacy" }))
                        .unwrap_or(Signature { ke: None, name: "legacy" });
                    journal.record(Source::Console, level, sig, &line.line, line.at, 1);
                }
            }
            Some(_) => return None,
        }
        Some(journal)
    }

    /// Folds `other` (e.g. what this page recorded before the session was known) into this journal.
    pub fn absorb(&mut self, other: &Journal) {
        for (e, key) in other.entries.iter().zip(&other.keys) {
            if let Some(i) = self.keys.iter().position(|k| k == key) {
                let mine = &mut self.entries[i];
                mine.count += e.count;
                mine.first_at = mine.first_at.min(e.first_at);
                mine.last_at = mine.last_at.max(e.last_at);
            } else {
                self.entries.push(e.clone());
                self.keys.push(key.clone());
            }
        }
        for (ke, n) in &other.ke_counts {
            *self.ke_counts.entry(*ke).or_insert_with(|| 0) += n;
        }
        self.total += other.total;
        self.dropped += other.dropped;
        self.enforce_bound();
    }
}

/// The per-device sentinel in the guardian's own database: who this device is, and since when.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sentinel {
    pub user_id: String,
    pub device_id: String,
    /// The device's ed25519 key as sent in a keys/upload the server accepted (`None` until seen).
    pub ed25519: Option<String>,
    /// An earlier ed25519 of this device id, kept when it changed (the identity was replaced).
    pub previous_ed25519: Option<String>,
    pub first_seen: f64,
    pub last_seen: f64,
}

/// How stale `last_seen` may get before it alone is worth a write.
pub const SENTINEL_REFRESH_MS: f64 = 24.0 * 3600.0 * 1000.0;

/// The sentinel to write after observing the session (and, from an accepted keys/upload, its ed25519),
/// or `None` when nothing changed enough to write: the store is written only on a change (new device,
/// a first or different ed25519) or once a day for `last_seen`.
pub fn sentinel_update(stored: Option<&Sentinel>, user_id: &str, device_id: &str, ed25519: Option<&str>, now_ms: f64) -> Option<Sentinel> {
    match stored {
        Some(s) if s.user_id == user_id && s.device_id == device_id => {
            let key_changed = matches!(ed25519, Some(k) if s.ed25519.as_deref() != Some(k));
            if !key_changed && now_ms - s.last_seen < SENTINEL_REFRESH_MS {
                return None;
            }
            let mut next = s.clone();
            if key_changed {
                next.previous_ed25519 = s.ed25519.clone().or(s.previous_ed25519.clone());
                next.ed25519 = ed25519.map(str::to_owned);
            }
            next.last_seen = now_ms;
            Some(next)
        }
        _ => Some(Sentinel {
            user_id: user_id.to_owned(),
            device_id: device_id.to_owned(),
            ed25519: ed25519.map(str::to_owned),
            previous_ed25519: None,
            first_seen: now_ms,
            last_seen: now_ms,
        }),
    }
}

impl Sentinel {

    /// Reads the stored JSON text (what [`Sentinel::to_json_string`] or the JS layer's `JSON.stringify`
    /// wrote); `None` when unreadable.
    pub fn parse(text: &str) -> Option<Sentinel> {
        use crate::stored_json::{number, optional_text, parse, text as member};
        let v = parse(text)?;
        Some(Sentinel {
            user_id: member(&v, "userId")?,
            device_id: member(&v, "deviceId")?,
            ed25519: optional_text(&v, "ed25519")?,
            previous_ed25519: optional_text(&v, "previousEd25519")?,
            first_seen: number(&v, "firstSeen")?,
            last_seen: number(&v, "lastSeen")?,
        })
    }

    /// The JSON text stored in the guardian's own database.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An event detail as the JS layer hands it over.
    fn detail(v: serde_json::Value) -> Value {
        serde_json::from_str::<Value>(&v.to_string()).unwrap()
    }

    /// Real lines: the seed's signatures (001 §1) and matrix-js-sdk 43 output captured in the e2e runs.
    const REAL: &[(&str, Option<Ke>, &str)] = &[
        ("Failed to process outgoing request 0: M_UNKNOWN: MatrixError: [400] One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"mQ4cWt7tXnSjr/Pq5ZJs1hC3sVhnnqxOgF9hQL6yU1U\",\"signatures\":{}}; new key: {'key': 'Zx9'} (http://127.0.0.1:8008/_matrix/client/v3/keys/upload)", Some(Ke::Ke1), "otk-already-exists"),
        ("POST /_matrix/client/v3/keys/upload 400 M_UNKNOWN: One time key signed_curve25519:AAAAAQ already exists. Old key: {…} new key: {…}", Some(Ke::Ke1), "otk-already-exists"),
        ("MissingKey: missing key at index 7 for participant @bob:matrix.lotusguild.org", Some(Ke::Ke2), "missing-key-at-index"),
        ("WARN matrix_sdk_crypto::machine: Received an unexpected encrypted to-device event sender=@bob:x event_type=\"io.element.call.encryption_keys\"", Some(Ke::Ke2), "call-encryption-keys"),
        ("Error decrypting event (id=$abc type=m.room.encrypted sender=@bob:x): DecryptionError[msg: missing field 'algorithm' at line 1 column 138]", Some(Ke::Ke3), "missing-algorithm"),
        ("[MembershipManager] Network local timeout error while sending event, immediate retry AbortError: Restart delayed event timed out before the HS responded", Some(Ke::Ke4), "delayed-event-timeout"),
        ("POST /_matrix/client/unstable/org.matrix.msc4157.update_delayed_event/abc 502", Some(Ke::Ke4), "update-delayed-event"),
        ("Failed to process outgoing request 2: Error: fetch failed", None, "outgoing-request-failed"),
        // initRustCrypto()'s rejection (matrix-sdk-crypto's CryptoStoreError::MismatchedAccount), as clients log it.
        ("Error: the account in the store doesn't match the account in the constructor: expected @alice:example.com:DEVICE_A, got @alice:example.com:DEVICE_B", None, "store-account-mismatch"),
    ];

    /// Lines that must not be classified (or not as KE-1).
    const HOSTILE: &[&str] = &[
        "M_ROOM_IN_USE: Room alias #general:example.org already exists",
        "User ID already exists",
        "already exists",
        "the algorithm is fine",
        "",
        "syncing… delayed event queue is empty",
    ];

    #[test]
    fn classifies_real_lines() {
        for (line, ke, name) in REAL {
            let sig = classify_console(line).unwrap_or_else(|| panic!("unclassified: {line}"));
            assert_eq!((sig.ke, sig.name), (*ke, *name), "{line}");
        }
    }

    #[test]
    fn trouble_wakes_the_journal_routine_does_not() {
        for kind in ["storm", "breaker-open", "otk-inflation", "otk-limit", "store-mismatch", "diagnosis", "diagnosis-failed", "writer-lost", "store-lost", "store-check", "remedy", "error"] {
            assert!(wakes_journal(kind), "{kind}");
        }
        // Every page has these; they are journaled only once something else woke the journal.
        for kind in ["writer-acquired", "persistence"] {
            assert!(!wakes_journal(kind) && classify_event(kind).is_some(), "{kind}");
        }
        // Not journaled at all.
        for kind in ["ready", "store-healthy", "", "STORM"] {
            assert!(!wakes_journal(kind), "{kind}");
        }
    }

    #[test]
    fn ignores_hostile_lines() {
        for line in HOSTILE {
            assert_eq!(classify_console(line), None, "{line}");
        }
        // Big, odd input is handled (and cheap).
        let huge = "ä".repeat(100_000) + "One time key signed_curve25519:A already exists";
        assert_eq!(classify_console(&huge).unwrap().ke, Some(Ke::Ke1));
    }

    #[test]
    fn storm_is_deduplicated_and_counted() {
        let mut j = Journal::default();
        for i in 0..1000 {
            // The key id and the request number vary; the entry does not multiply.
            let line = format!("Failed to process outgoing request {i}: One time key signed_curve25519:AAAA{i} already exists");
            assert!(j.record_console("error", &line, i as f64));
        }
        assert_eq!(j.entries().len(), 1);
        assert_eq!(j.entries()[0].count, 1000);
        assert_eq!(j.entries()[0].first_at, 0.0);
        assert_eq!(j.entries()[0].last_at, 999.0);
        assert_eq!(j.ke_counts()["KE-1"], 1000);
        assert_eq!(j.total(), 1000);
    }

    #[test]
    fn ten_minute_storm_of_varied_lines_stays_within_the_bound() {
        // A fake clock: 10 minutes, a line every 100 ms, messages varying beyond digits.
        let mut j = Journal::new(50);
        let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];
        let mut t = 0.0;
        let mut n = 0u64;
        while t < 600_000.0 {
            let w = words[(n as usize * 7) % words.len()];
            let w2 = words[(n as usize / 8) % words.len()];
            j.record_console("warn", &format!("MissingKey: missing key at index {n} for participant @{w}{w2}-{}:x", n % 97), t);
            j.record_event("breaker-probe", &detail(json!({"state": "probing"})), t);
            t += 100.0;
            n += 1;
        }
        assert!(j.entries().len() <= 50);
        assert_eq!(j.ke_counts()["KE-2"], n);
        assert!(j.dropped() > 0);
        // The most recent survive.
        assert!(j.entries().iter().any(|e| e.last_at >= 599_900.0));
    }

    #[test]
    fn messages_are_redacted_and_cut() {
        let mut j = Journal::default();
        let line = format!(
            "Failed to process outgoing request: One time key signed_curve25519:A already exists (https://hs/_matrix/client/v3/keys/upload?access_token=syt_YWxpY2U_secretsecret_123) {}",
            "x".repeat(5000)
        );
        j.record_console("error", &line, 1.0);
        let m = &j.entries()[0].message;
        assert!(!m.contains("secretsecret"), "{m}");
        assert!(m.chars().count() <= MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn guardian_events_become_entries() {
        let mut j = Journal::default();
        let storm = json!({"active": true, "conflict": {"keyId": "signed_curve25519:AAAA"}, "diagnosis": {"kind": "pending", "reason": "r"}, "breaker": {"state": "open"}});
        assert!(j.record_event("storm", &detail(storm), 5.0));
        assert!(j.record_event("diagnosis", &detail(json!({"diagnosis": {"kind": "identity-replaced", "reason": "the old key was signed by another identity"}})), 6.0));
        assert!(!j.record_event("unknown-type", &detail(json!({})), 7.0));
        assert_eq!(j.ke_counts()["KE-1"], 1);
        assert_eq!(j.entries()[0].message, "storm: key signed_curve25519:AAAA, diagnosis pending, breaker open");
        assert!(j.entries()[1].message.contains("identity-replaced"));
        assert_eq!(j.entries()[1].source, Source::Guardian);
    }

    #[test]
    fn stored_round_trip_and_format_1() {
        let mut j = Journal::new(10);
        j.set_session(Some(SessionId { user_id: "@a:b".into(), device_id: "DEV".into() }));
        j.record_console("error", "One time key signed_curve25519:A already exists", 1.0);
        j.record_console("error", "One time key signed_curve25519:A already exists", 2.0);
        let back = Journal::from_stored(&j.to_stored_json(), 10).unwrap();
        assert_eq!(back, j);

        let v1 = r#"{"entries":[{"ke":"KE-1","level":"error","line":"One time key signed_curve25519:A already exists","at":1},
                     {"line":"One time key signed_curve25519:A already exists","at":2},
                     {"ke":"KE-4","line":"something legacy","at":3}]}"#;
        let old = Journal::from_stored(v1, 10).unwrap();
        assert_eq!(old.entries().len(), 2);
        assert_eq!(old.entries()[0].count, 2);
        assert_eq!(old.ke_counts()["KE-1"], 2);
        assert_eq!(old.ke_counts()["KE-4"], 1);

        assert!(Journal::from_stored("{\"v\":99}", 10).is_none());
        assert!(Journal::from_stored("not json", 10).is_none());
    }

    #[test]
    fn absorb_merges_counts() {
        let mut stored = Journal::new(10);
        stored.record_console("error", "One time key signed_curve25519:A already exists", 1.0);
        let mut page = Journal::new(10);
        page.record_console("error", "One time key signed_curve25519:A already exists", 5.0);
        page.record_console("warn", "MissingKey: missing key at index 1", 6.0);
        stored.absorb(&page);
        assert_eq!(stored.entries().len(), 2);
        assert_eq!(stored.entries()[0].count, 2);
        assert_eq!(stored.ke_counts()["KE-1"], 2);
        assert_eq!(stored.ke_counts()["KE-2"], 1);
        assert_eq!(stored.entries()[1].ke, Some(Ke::Ke2));
    }

    #[test]
    fn sentinel_is_written_only_on_change() {
        let first = sentinel_update(None, "@a:b", "DEV", None, 0.0).unwrap();
        assert_eq!(first.first_seen, 0.0);
        assert_eq!(sentinel_update(Some(&first), "@a:b", "DEV", None, 1000.0), None);
        let keyed = sentinel_update(Some(&first), "@a:b", "DEV", Some("ED1"), 2000.0).unwrap();
        assert_eq!((keyed.ed25519.as_deref(), keyed.first_seen, keyed.last_seen), (Some("ED1"), 0.0, 2000.0));
        assert_eq!(sentinel_update(Some(&keyed), "@a:b", "DEV", Some("ED1"), 3000.0), None);
        let replaced = sentinel_update(Some(&keyed), "@a:b", "DEV", Some("ED2"), 4000.0).unwrap();
        assert_eq!((replaced.ed25519.as_deref(), replaced.previous_ed25519.as_deref()), (Some("ED2"), Some("ED1")));
        assert!(sentinel_update(Some(&keyed), "@a:b", "DEV", None, SENTINEL_REFRESH_MS + 2000.0).is_some());
        assert_eq!(sentinel_update(Some(&keyed), "@a:b", "OTHER", None, 5.0).unwrap().first_seen, 5.0);
    }

    #[test]
    fn a_stored_sentinel_reads_back_whole_and_a_malformed_one_not_at_all() {
        let replaced = Sentinel {
            user_id: "@a:b".into(),
            device_id: "DEV".into(),
            ed25519: Some("ED2".into()),
            previous_ed25519: Some("ED1".into()),
            first_seen: 1.5,
            last_seen: 1796487005515.0,
        };
        assert_eq!(Sentinel::parse(&replaced.to_json_string()), Some(replaced.clone()));
        let fresh = Sentinel { ed25519: None, previous_ed25519: None, ..replaced };
        assert_eq!(Sentinel::parse(&fresh.to_json_string()), Some(fresh));
        // Written by the JS layer's JSON.stringify of the same object: members in any order, nulls kept.
        let stringified = r#"{"lastSeen":2,"firstSeen":1,"previousEd25519":null,"ed25519":"K","deviceId":"D","userId":"@u:hs"}"#;
        assert_eq!(Sentinel::parse(stringified).map(|s| (s.ed25519, s.last_seen)), Some((Some("K".into()), 2.0)));
        for bad in ["", "{not json", "null", "[]", r#"{"userId":"@u:hs","deviceId":"D","firstSeen":1}"#,
            r#"{"userId":"@u:hs","deviceId":"D","ed25519":7,"firstSeen":1,"lastSeen":2}"#,
            r#"{"userId":1,"deviceId":"D","firstSeen":1,"lastSeen":2}"#] {
            assert_eq!(Sentinel::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn event_details_are_read_like_serde_json_indexing() {
        let d = detail(json!({"conflict": "not an object", "diagnosis": {"kind": 3}, "state": true, "persisted": null, "reason": 1.5}));
        assert_eq!(summarize_event("x", &d), "x: diagnosis 3, breaker true, reason 1.5");
        assert_eq!(summarize_event("x", &Value::Null), "x");
    }
}
