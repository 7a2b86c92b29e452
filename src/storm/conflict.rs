//! Classifies the homeserver's answer to `POST /_matrix/client/v3/keys/upload`.
//!
//! The storm we stop is a 400 that says a one-time key id is already taken by different key
//! material. Each homeserver words it differently (checked against their sources):
//!
//! * **Synapse** (`synapse/handlers/e2e_keys.py`, `_upload_one_time_keys_for_user`, 1.163):
//!   `SynapseError(400, "One time key %s:%s already exists. Old key: %s; new key: %r")`, i.e.
//!   `{"errcode":"M_UNKNOWN","error":"One time key signed_curve25519:AAAAAAAAAA0 already exists.
//!   Old key: {\"key\":…}; new key: {'key': …}"}`. The old key is the canonical JSON Synapse
//!   stored; it is read from the message. The new key is a *Python repr* of what the request
//!   sent; it is not read from the message: [`Conflict::fill_new_key_from`] takes it from the
//!   failing request, the authoritative copy (the repr only repeats it). A real repr parser cost
//!   the core wasm 8 KB, and the cheap shortcut — swapping `'` for `"`, as matrix-rust-sdk's
//!   `DuplicateOneTimeKeyErrorMessage` does — breaks on `True` and on quotes inside strings.
//!   Fallback keys are upserted (`_set_e2e_fallback_keys_txn`), so Synapse has no fallback-key
//!   conflict.
//! * **Dendrite** (`userapi/internal/key_api.go`, `uploadOneTimeKeys`): a 400 whose body is the
//!   per-device error map, no `errcode`: `{"@u:hs":{"DEV":{"error":"@u:hs device DEV: algorithm /
//!   key ID signed_curve25519:AAAA one-time key already exists"}}}` (older builds: `"Err"`).
//! * **Conduit, conduwuit, continuwuity, tuwunel** (`add_one_time_key`): overwrite the stored key
//!   silently and answer 200, so they never storm. [`Homeserver::ConduitFamily`] therefore only
//!   comes from [`Homeserver::from_server_name`], never from an error text.
//!
//! Anything else that mentions an existing one-time key still counts as a conflict
//! (`details_known: false`): failing soft here costs one unnecessary breaker trip, failing hard
//! costs a storm. Hostile input (HTML error pages, truncated or huge bodies, invalid UTF-8, deep
//! nesting) always yields a classification and never panics.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use crate::storm::upload::{SignedKey, UploadRequest};

/// Bodies larger than this are not parsed as JSON, only scanned (a Synapse conflict is < 1 KB).
pub const MAX_PARSE_BYTES: usize = 1 << 20;
/// How much of a body (or error text) the text scanners look at.
pub const SCAN_BYTES: usize = 64 * 1024;
/// The server's message is kept up to this many bytes (cut at a char boundary, then `…`).
pub const MAX_MESSAGE_BYTES: usize = 2048;
/// errcodes are short identifiers; anything longer is cut.
const MAX_ERRCODE_BYTES: usize = 64;

/// Which kind of key the server says is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum KeyKind {
    OneTimeKey,
    FallbackKey,
}

impl KeyKind {
    /// The JSON name: `"one-time-key"` | `"fallback-key"`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The homeserver implementation, as far as the answer (or a known server name) tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Homeserver {
    Synapse,
    ConduitFamily,
    Dendrite,
    Unknown,
}

impl Homeserver {
    /// The JSON name: `"synapse"` | `"conduit-family"` | `"dendrite"` | `"unknown"`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Maps a server software name (e.g. `server.name` of `/_matrix/federation/v1/version`, or a
    /// `Server` header) to a flavour.
    pub fn from_server_name(name: &str) -> Self {
        let n = name.to_ascii_lowercase();
        if n.contains("synapse") {
            Homeserver::Synapse
        } else if n.contains("dendrite") {
            Homeserver::Dendrite
        } else if [
            "conduit",
            "conduwuit",
            "continuwuity",
            "tuwunel",
            "grapevine",
        ]
        .iter()
        .any(|f| n.contains(f))
        {
            Homeserver::ConduitFamily
        } else {
            Homeserver::Unknown
        }
    }
}

/// A key-id conflict reported by the homeserver.
///
/// Its JSON (`ConflictSummary` in TypeScript: `guardian.storm().conflict`, the events, the report) is what a
/// host, a report or a prompt needs: the keys' public halves, not their raw JSON, and not the server's
/// error text. The raw keys stay in memory for the diagnosis (`DiagnosisNeeds::old_key_json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    pub kind: KeyKind,
    /// e.g. `signed_curve25519`
    pub algorithm: Option<String>,
    /// The full id as in the request's `one_time_keys` map: `signed_curve25519:AAAAAAAAAA0`.
    pub key_id: Option<String>,
    /// What the server holds under that id, read from the answer (Synapse prints it).
    #[serde(serialize_with = "public_key")]
    pub old_key: Option<SignedKey>,
    /// What the request tried to store under that id. Never read from the answer: filled from the
    /// failing request by [`Conflict::fill_new_key_from`].
    #[serde(serialize_with = "public_key")]
    pub new_key: Option<SignedKey>,
    /// First ed25519 signer of the old key (else of the new key, once filled from the request).
    /// For Dendrite, which prints no keys, the user and device the server names.
    pub signer_user_id: Option<String>,
    pub signer_device_id: Option<String>,
    /// True when the key id and the old key were read from the answer and the new key was taken
    /// from the failing request ([`Conflict::fill_new_key_from`]); the answer alone never makes
    /// it true.
    pub details_known: bool,
    pub homeserver: Homeserver,
}

/// A key as its public half (unpadded base64), or null.
fn public_key<S: serde::Serializer>(key: &Option<SignedKey>, serializer: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&key.as_ref().map(|k| k.key.as_str()), serializer)
}

impl Conflict {
    /// Whether old and new keys carry different public keys (None when either is unknown).
    pub fn key_material_differs(&self) -> Option<bool> {
        Some(self.old_key.as_ref()?.key != self.new_key.as_ref()?.key)
    }

    /// Takes the new key from the failing request: the key `request` holds under this conflict's
    /// key id (its one-time or fallback keys). Synapse also prints it, as a Python repr that is not
    /// parsed (see the module docs): the request is the authoritative copy. Without a key id, or
    /// when the request does not hold that id, the new key stays unknown.
    ///
    /// When the answer named no signer (a legacy unsigned old key, or no old key at all), the new
    /// key's first ed25519 signer is used: the device that made the failing request.
    /// `details_known` is recomputed: key id and old key from the answer, new key from the request.
    pub fn fill_new_key_from(&mut self, request: &UploadRequest) {
        let new_key = self.key_id.as_deref().and_then(|id| request.signed_key(id)).cloned();
        if let Some(key) = &new_key {
            if self.signer_user_id.is_none() && self.signer_device_id.is_none() {
                if let Some((user, device)) = key.ed25519_signers().into_iter().next() {
                    self.signer_user_id = Some(user);
                    self.signer_device_id = Some(device);
                }
            }
        }
        self.new_key = new_key;
        self.details_known = self.key_id.is_some() && self.old_key.is_some() && self.new_key.is_some();
    }

    fn fail_soft(kind: KeyKind, key_id: Option<String>) -> Self {
        Conflict {
            kind,
            algorithm: key_id.as_deref().and_then(algorithm_of),
            key_id,
            old_key: None,
            new_key: None,
            signer_user_id: None,
            signer_device_id: None,
            details_known: false,
            homeserver: Homeserver::Unknown,
        }
    }
}

/// The server's cap on the one-time keys a device may hold. Synapse 1.163
/// (`synapse/handlers/e2e_keys.py`, `_upload_one_time_keys_for_user`) answers an upload that would
/// leave the device holding more than 500 keys of an algorithm with
/// `400 {"errcode":"M_TOO_LARGE","error":"Uploading 50 more signed_curve25519 one-time keys would leave
/// the device holding 550, over the limit of 500"}`. matrix-js-sdk re-sends the same request after
/// every sync, so this is a loop of its own (after OTK inflation, matrix-js-sdk issue 5501). The
/// figures are read from Synapse's wording; another server's wording leaves them `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtkLimit {
    /// e.g. `signed_curve25519`
    pub algorithm: Option<String>,
    /// Keys the rejected request carried ("Uploading N more").
    pub uploading: Option<u64>,
    /// What the device would have held ("would leave the device holding T").
    pub would_hold: Option<u64>,
    /// The server's limit ("over the limit of L").
    pub limit: Option<u64>,
}

impl OtkLimit {
    /// What the server holds now: `would_hold - uploading`, when both are known.
    pub fn server_holds(&self) -> Option<u64> {
        self.would_hold?.checked_sub(self.uploading?)
    }
}

/// Why an identical keys/upload will keep failing until something changes on the server: the answers
/// the breaker stops the loop on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum LoopCause {
    /// "One time key … already exists".
    Conflict,
    /// The server's cap on one-time keys per device ([`OtkLimit`]).
    OtkLimit,
}

impl LoopCause {
    /// The JSON name: `"conflict"` | `"otk-limit"`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The classification of one keys/upload answer. It stays in the model (the storm watch, the breaker and
/// one-time-key health decide on it); what reaches JS is their state and events.
// Short-lived (one per answer) and matched on everywhere: not boxing the big variant keeps
// `UploadAnswer::Conflict(c)` patterns simple.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum UploadAnswer {
    /// 2xx with a JSON object (Synapse: `{"one_time_key_counts": {...}}`).
    Accepted {
        one_time_key_counts: BTreeMap<String, u64>,
    },
    /// The key-id conflict that drives the storm.
    Conflict(Conflict),
    /// The server's cap on one-time keys per device (Synapse: 400 `M_TOO_LARGE`).
    OtkLimit(OtkLimit),
    /// A readable Matrix error that is not a conflict (rate limit, a body too large, bad token, …).
    OtherError {
        status: u16,
        errcode: Option<String>,
        message: Option<String>,
    },
    /// Not a Matrix answer we can read: HTML proxy page, truncated, too large, not JSON.
    Unreadable { status: u16, reason: String },
}

impl UploadAnswer {
    pub fn conflict(&self) -> Option<&Conflict> {
        match self {
            UploadAnswer::Conflict(c) => Some(c),
            _ => None,
        }
    }

    pub fn otk_limit(&self) -> Option<&OtkLimit> {
        match self {
            UploadAnswer::OtkLimit(l) => Some(l),
            _ => None,
        }
    }

    pub fn is_accepted(&self) -> bool {
        matches!(self, UploadAnswer::Accepted { .. })
    }

    /// Whether the identical request will keep failing until something changes on the server: the
    /// answers the breaker stops the loop on (and replays).
    pub fn loop_cause(&self) -> Option<LoopCause> {
        match self {
            UploadAnswer::Conflict(_) => Some(LoopCause::Conflict),
            UploadAnswer::OtkLimit(_) => Some(LoopCause::OtkLimit),
            _ => None,
        }
    }
}

/// Classifies a keys/upload answer. `body` is what was read of it (the fetch tap caps reads);
/// `body_complete` is false when the read stopped early.
pub fn classify_upload_answer(status: u16, body: &[u8], body_complete: bool) -> UploadAnswer {
    if body.len() > MAX_PARSE_BYTES {
        let reason = ["body too large to parse (", &body.len().to_string(), " bytes)"].concat();
        return classify_unparsed(status, body, reason);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => classify_object(status, &map),
        Ok(_) => classify_unparsed(status, body, "JSON body is not an object".into()),
        Err(e) => {
            let reason = describe_unreadable(body, body_complete, &e);
            classify_unparsed(status, body, reason)
        }
    }
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

fn classify_object(status: u16, map: &Map<String, Value>) -> UploadAnswer {
    if is_success(status) {
        let counts = map
            .get("one_time_key_counts")
            .and_then(Value::as_object)
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                    .collect()
            })
            .unwrap_or_default();
        return UploadAnswer::Accepted {
            one_time_key_counts: counts,
        };
    }
    let errcode = map
        .get("errcode")
        .and_then(Value::as_str)
        .map(|s| truncate(s, MAX_ERRCODE_BYTES));
    if let Some(error) = map.get("error").and_then(Value::as_str) {
        if let Some(c) = conflict_from_text(error) {
            return UploadAnswer::Conflict(c);
        }
        if let Some(l) = otk_limit_from_text(error, errcode.as_deref()) {
            return UploadAnswer::OtkLimit(l);
        }
        return UploadAnswer::OtherError {
            status,
            errcode,
            message: Some(truncate(error, MAX_MESSAGE_BYTES)),
        };
    }
    if errcode.is_none() {
        if let Some((user, device, error)) = dendrite_key_error(map) {
            if let Some(mut c) = conflict_from_text(error) {
                c.homeserver = Homeserver::Dendrite;
                c.signer_user_id = c.signer_user_id.or(Some(truncate(user, 256)));
                c.signer_device_id = c.signer_device_id.or(Some(truncate(device, 256)));
                return UploadAnswer::Conflict(c);
            }
            return UploadAnswer::OtherError {
                status,
                errcode: None,
                message: Some(truncate(error, MAX_MESSAGE_BYTES)),
            };
        }
    }
    UploadAnswer::OtherError {
        status,
        errcode,
        message: None,
    }
}

/// Dendrite answers key errors as `{"<user>": {"<device>": {"error": "…"}}}`.
fn dendrite_key_error(map: &Map<String, Value>) -> Option<(&str, &str, &str)> {
    for (user, devices) in map {
        let Value::Object(devices) = devices else {
            continue;
        };
        for (device, err) in devices {
            let Value::Object(err) = err else { continue };
            for field in ["error", "Err", "Error"] {
                if let Some(text) = err.get(field).and_then(Value::as_str) {
                    return Some((user, device, text));
                }
            }
        }
    }
    None
}

/// The body is not a JSON object: still look for a conflict in its text (a truncated Synapse
/// answer still names the key id), else call it unreadable.
fn classify_unparsed(status: u16, body: &[u8], reason: String) -> UploadAnswer {
    if !is_success(status) {
        let text = lossy_prefix(body, SCAN_BYTES);
        // A cut JSON body: decode what there is of its "error" string, which un-escapes the old key.
        let error = partial_json_string_field(&text, "error");
        let candidate = error.as_deref().unwrap_or(&text);
        if let Some(c) = conflict_from_text(candidate) {
            return UploadAnswer::Conflict(c);
        }
    }
    UploadAnswer::Unreadable { status, reason }
}

fn describe_unreadable(body: &[u8], body_complete: bool, e: &serde_json::Error) -> String {
    let trimmed = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| &body[i..]);
    match trimmed {
        None => "empty body".into(),
        Some(t) if t.first() == Some(&b'<') => {
            "HTML/XML page instead of a Matrix answer (a proxy or gateway error?)".into()
        }
        _ if !body_complete => ["truncated body (", &body.len().to_string(), " bytes read)"].concat(),
        _ if core::str::from_utf8(body).is_err() => "body is not valid UTF-8".into(),
        // Read whole, yet the value never ended: a body cut before the tap saw it.
        _ if e.is_eof() => format!("body is not JSON: it ends mid-value ({e})"),
        _ => format!("body is not JSON: {e}"),
    }
}

/// Finds a conflict in a server's error text: Synapse's exact wording with details, Dendrite's
/// wording, or (failing soft) any text about an existing one-time/fallback key.
fn conflict_from_text(text: &str) -> Option<Conflict> {
    let text = cut(text, SCAN_BYTES);
    if let Some(c) = parse_synapse(text).or_else(|| parse_dendrite(text)) {
        return Some(c);
    }
    let lower = text.to_ascii_lowercase();
    let mentions_otk = [
        "one time key",
        "one-time key",
        "onetime key",
        "one_time_key",
    ]
    .iter()
    .any(|p| lower.contains(p))
        || has_word(&lower, "otk");
    let mentions_fallback = lower.contains("fallback key") || lower.contains("fallback_key");
    let mentions_exists = [
        "already exist",
        "exists already",
        "already been uploaded",
        "already uploaded",
        "duplicate",
    ]
    .iter()
    .any(|p| lower.contains(p));
    let names_key_id = find_key_id(text).is_some();
    if !(mentions_exists && (mentions_otk || mentions_fallback || names_key_id)) {
        return None;
    }
    let kind = if mentions_fallback && !mentions_otk {
        KeyKind::FallbackKey
    } else {
        KeyKind::OneTimeKey
    };
    Some(Conflict::fail_soft(kind, find_key_id(text)))
}

/// The one-time-key cap in a server's error text. Synapse's wording (module docs of [`OtkLimit`]) gives
/// the figures; a `M_TOO_LARGE` that speaks of one-time keys in other words is still the cap (failing
/// soft as for the conflict: one unneeded breaker trip at worst), without figures. A `M_TOO_LARGE`
/// about anything else (a request body too large) is not.
fn otk_limit_from_text(text: &str, errcode: Option<&str>) -> Option<OtkLimit> {
    let text = cut(text, SCAN_BYTES);
    let lower = text.to_ascii_lowercase();
    let about_otks = ["one-time key", "one time key", "one_time_key"].iter().any(|p| lower.contains(p));
    let synapse = text.contains(" would leave the device holding ") && text.contains("over the limit of ");
    if !(about_otks && (synapse || errcode == Some("M_TOO_LARGE"))) {
        return None;
    }
    // "Uploading <N> more <alg> one-time keys would leave the device holding <T>, over the limit of <L>"
    let number_after = |mark: &str| -> Option<u64> {
        let at = text.find(mark)? + mark.len();
        let digits = text[at..].bytes().take_while(u8::is_ascii_digit);
        // 19 digits always fit a u64; longer is nonsense, not a figure.
        let (count, value) = digits.fold((0, 0u64), |(c, v), d| (c + 1, v.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))));
        (1..=19).contains(&count).then_some(value)
    };
    let algorithm = text.find("Uploading ").and_then(|at| {
        let mut words = text[at..].split_whitespace().skip(2);
        (words.next() == Some("more")).then(|| words.next()).flatten()
    });
    Some(OtkLimit {
        algorithm: algorithm.filter(|a| a.len() <= 64 && !a.contains("one-time")).map(str::to_owned),
        uploading: number_after("Uploading "),
        would_hold: number_after("would leave the device holding "),
        limit: number_after("over the limit of "),
    })
}

const SYNAPSE_PREFIX: &str = "One time key ";
const SYNAPSE_EXISTS: &str = " already exists";

/// `One time key <alg>:<id> already exists. Old key: <json>; new key: <python repr>`: the key id
/// and the old key (the new key comes from the request).
fn parse_synapse(text: &str) -> Option<Conflict> {
    let start = text.find(SYNAPSE_PREFIX)? + SYNAPSE_PREFIX.len();
    let rest = &text[start..];
    let end = rest.find(SYNAPSE_EXISTS)?;
    let key_id = rest[..end].trim();
    if key_id.is_empty() || key_id.len() > 256 || key_id.contains(char::is_whitespace) {
        return None;
    }
    let old_key = parse_old_key(&rest[end + SYNAPSE_EXISTS.len()..]);
    let signer = old_key
        .as_ref()
        .and_then(|k| k.ed25519_signers().into_iter().next());
    Some(Conflict {
        kind: KeyKind::OneTimeKey,
        algorithm: algorithm_of(key_id),
        key_id: Some(key_id.to_owned()),
        old_key,
        // Not read from the repr: filled from the request (`Conflict::fill_new_key_from`).
        new_key: None,
        details_known: false,
        signer_user_id: signer.as_ref().map(|s| s.0.clone()),
        signer_device_id: signer.map(|s| s.1),
        homeserver: Homeserver::Synapse,
    })
}

/// The JSON after `. Old key:`; whatever follows it (`; new key: <repr>`, or a cut) is ignored.
fn parse_old_key(after: &str) -> Option<SignedKey> {
    let at = after.find("Old key:")? + "Old key:".len();
    // The key's JSON ends where its value does; serde_json's stream reader stops there.
    let old = serde_json::Deserializer::from_slice(&after.as_bytes()[at..]).into_iter::<Value>().next()?.ok()?;
    SignedKey::from_value(&old)
}

/// `<user> device <device>: algorithm / key ID <alg>:<id> one-time key already exists`
fn parse_dendrite(text: &str) -> Option<Conflict> {
    const MARK: &str = "algorithm / key ID ";
    let at = text.find(MARK)?;
    let after = &text[at + MARK.len()..];
    // `after` starts with the id once leading blanks are gone, so the slice below is on a boundary.
    let after = after.trim_start();
    let key_id = after.split_whitespace().next()?;
    if !after[key_id.len()..].contains("already exists") {
        return None;
    }
    let head = text[..at].trim_end().trim_end_matches(':');
    const DEVICE: &str = " device ";
    let (user, device) = match head.rfind(DEVICE) {
        Some(at) => (head[..at].split_whitespace().last(), Some(head[at + DEVICE.len()..].trim())),
        None => (None, None),
    };
    let fallback = after.contains("fallback");
    Some(Conflict {
        kind: if fallback {
            KeyKind::FallbackKey
        } else {
            KeyKind::OneTimeKey
        },
        algorithm: algorithm_of(key_id),
        key_id: Some(key_id.to_owned()),
        old_key: None,
        new_key: None,
        signer_user_id: user.map(str::to_owned),
        signer_device_id: device.filter(|d| !d.is_empty()).map(str::to_owned),
        details_known: false,
        homeserver: Homeserver::Dendrite,
    })
}

fn algorithm_of(key_id: &str) -> Option<String> {
    key_id
        .split_once(':')
        .map(|(a, _)| a.to_owned())
        .filter(|a| !a.is_empty())
}

/// A `<...curve25519>:<id>` token anywhere in the text.
fn find_key_id(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(rel) = text[from..].find("curve25519:") {
        let at = from + rel;
        let colon = at + "curve25519".len();
        let mut start = at;
        while start > 0
            && (bytes[start - 1].is_ascii_alphanumeric() || matches!(bytes[start - 1], b'_' | b'.'))
        {
            start -= 1;
        }
        let mut end = colon + 1;
        while end < bytes.len()
            && (bytes[end].is_ascii_alphanumeric()
                || matches!(bytes[end], b'+' | b'/' | b'=' | b'_' | b'-'))
        {
            end += 1;
        }
        if end > colon + 1 {
            return Some(text[start..end].to_owned());
        }
        from = colon + 1;
    }
    None
}

fn has_word(lower: &str, word: &str) -> bool {
    let b = lower.as_bytes();
    let mut from = 0;
    while let Some(rel) = lower[from..].find(word) {
        let at = from + rel;
        let before = at.checked_sub(1).map(|i| b[i]);
        let after = b.get(at + word.len()).copied();
        let boundary = |c: Option<u8>| !matches!(c, Some(c) if c.is_ascii_alphanumeric());
        // "otks" counts as the word too
        if boundary(before) && (boundary(after) || after == Some(b's')) {
            return true;
        }
        from = at + word.len();
    }
    false
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `cut`, plus an ellipsis when something was dropped.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    let c = cut(s, max);
    if c.len() < s.len() {
        [c, "…"].concat()
    } else {
        c.to_owned()
    }
}

fn lossy_prefix(body: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&body[..body.len().min(max)]).into_owned()
}

/// Decodes the string value of `"field":"…"` from possibly cut JSON text, up to its closing quote
/// or the end of the text. Good enough to recover Synapse's message from a truncated body.
fn partial_json_string_field(text: &str, field: &str) -> Option<String> {
    let pat = ["\"", field, "\""].concat();
    let at = text.find(&pat)? + pat.len();
    let rest = text[at..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('b') => out.push('\u{08}'),
                Some('f') => out.push('\u{0C}'),
                Some('u') => {
                    let unit = hex4(&mut chars);
                    let ch = match unit {
                        // A surrogate pair (how JSON escapes a character beyond the BMP, e.g. an
                        // emoji under Python's default ensure_ascii): join it.
                        Some(hi @ 0xD800..=0xDBFF) => {
                            let mut ahead = chars.clone();
                            let lo = (ahead.next() == Some('\\') && ahead.next() == Some('u'))
                                .then(|| hex4(&mut ahead))
                                .flatten()
                                .filter(|lo| (0xDC00..=0xDFFF).contains(lo));
                            lo.and_then(|lo| {
                                chars = ahead;
                                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                            })
                        }
                        Some(u) => char::from_u32(u),
                        None => None,
                    };
                    out.push(ch.unwrap_or('\u{FFFD}'));
                }
                Some(other) => out.push(other), // \" \\ \/
                None => break,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

/// The four hex digits of a `\u` escape, consumed from `chars`.
fn hex4(chars: &mut core::str::Chars<'_>) -> Option<u32> {
    let hex: String = chars.by_ref().take(4).collect();
    if hex.len() != 4 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(&hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storm::upload::{parse_upload_request, ParsedUpload};
    use serde_json::json;

    const SYNAPSE_TWO_TABS: &str = r#"{"errcode":"M_UNKNOWN","error":"One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"FxKIHL+kexv7OtMnjordEg4tzuYK+q9vvKn1VNrNylA\",\"signatures\":{\"@guardian:localhost\":{\"ed25519:GUARDIANDEV\":\"pKd6kpaW\"}}}; new key: {'key': 'zqVNmqfYi6SO1RchNXie7Brajsh/bzt7X4o0aBbsGTg', 'signatures': {'@guardian:localhost': {'ed25519:GUARDIANDEV': '//kgiUtP'}}}"}"#;
    /// The keys/upload request SYNAPSE_TWO_TABS answered: the key its repr prints, and another.
    const TWO_TABS_REQUEST: &str = r#"{"one_time_keys":{"signed_curve25519:AAAAAAAAAA0":{"key":"zqVNmqfYi6SO1RchNXie7Brajsh/bzt7X4o0aBbsGTg","signatures":{"@guardian:localhost":{"ed25519:GUARDIANDEV":"//kgiUtP"}}},"signed_curve25519:AAAAAAAAAA4":{"key":"other","signatures":{}}}}"#;

    fn conflict(status: u16, body: &str) -> Conflict {
        match classify_upload_answer(status, body.as_bytes(), true) {
            UploadAnswer::Conflict(c) => c,
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    /// A Synapse conflict answer with `msg` as its error text.
    fn synapse(msg: &str) -> Conflict {
        conflict(400, &json!({"errcode": "M_UNKNOWN", "error": msg}).to_string())
    }

    fn request(body: &str) -> UploadRequest {
        match parse_upload_request(body.as_bytes()) {
            ParsedUpload::Comparable(r) => r,
            other => panic!("not a comparable request: {other:?}"),
        }
    }

    #[test]
    fn synapse_conflict_in_full() {
        let mut c = conflict(400, SYNAPSE_TWO_TABS);
        assert_eq!(c.kind, KeyKind::OneTimeKey);
        assert_eq!(c.key_id.as_deref(), Some("signed_curve25519:AAAAAAAAAA0"));
        assert_eq!(c.algorithm.as_deref(), Some("signed_curve25519"));
        assert_eq!(c.homeserver, Homeserver::Synapse);
        let old = c.old_key.clone().unwrap();
        assert_eq!(old.key, "FxKIHL+kexv7OtMnjordEg4tzuYK+q9vvKn1VNrNylA");
        assert_eq!(
            old.signature("@guardian:localhost", "GUARDIANDEV"),
            Some("pKd6kpaW")
        );
        assert_eq!(c.signer_user_id.as_deref(), Some("@guardian:localhost"));
        assert_eq!(c.signer_device_id.as_deref(), Some("GUARDIANDEV"));
        // The answer alone: the repr of the new key is not read.
        assert_eq!(c.new_key, None);
        assert!(!c.details_known);
        assert_eq!(c.key_material_differs(), None);

        // The new key is the request's key under that id, whole (signatures and raw JSON).
        let req = request(TWO_TABS_REQUEST);
        c.fill_new_key_from(&req);
        let want = req.signed_key("signed_curve25519:AAAAAAAAAA0").unwrap();
        assert_eq!(c.new_key.as_ref(), Some(want));
        let new = c.new_key.as_ref().unwrap();
        assert_eq!(new.key, "zqVNmqfYi6SO1RchNXie7Brajsh/bzt7X4o0aBbsGTg");
        assert_eq!(new.signature("@guardian:localhost", "GUARDIANDEV"), Some("//kgiUtP"));
        assert_eq!(
            serde_json::to_value(&new.raw).unwrap(),
            json!({"key": "zqVNmqfYi6SO1RchNXie7Brajsh/bzt7X4o0aBbsGTg", "signatures": {"@guardian:localhost": {"ed25519:GUARDIANDEV": "//kgiUtP"}}})
        );
        assert!(c.details_known);
        assert_eq!(c.key_material_differs(), Some(true));
        // The old key named the signer: it stays.
        assert_eq!(c.signer_user_id.as_deref(), Some("@guardian:localhost"));
        assert_eq!(c.old_key.as_ref(), Some(&old));
    }

    #[test]
    fn the_request_not_the_repr_is_the_new_key() {
        // The repr holds True and a quote inside a string (what the naive ' -> " swap gets wrong);
        // it is ignored either way: the request's key under that id is the new key.
        let msg = r#"One time key signed_curve25519:AAAAAAAAAAE already exists. Old key: {"fallback":true,"key":"b2xk","signatures":{}}; new key: {'key': "it's", 'fallback': True, 'signatures': {}}"#;
        let mut c = synapse(msg);
        assert_eq!(c.old_key.as_ref().unwrap().fallback, Some(true));
        assert_eq!(c.new_key, None);
        c.fill_new_key_from(&request(
            r#"{"fallback_keys":{"signed_curve25519:AAAAAAAAAAE":{"key":"it's","fallback":true,"signatures":{}}}}"#,
        ));
        assert!(c.details_known);
        let new = c.new_key.as_ref().unwrap();
        assert_eq!((new.key.as_str(), new.fallback), ("it's", Some(true)));
        // Both keys unsigned: no signer.
        assert_eq!((c.signer_user_id.as_deref(), c.signer_device_id.as_deref()), (None, None));

        // Were the server's repr ever to disagree with the request, the request wins.
        let mut c = synapse(msg);
        c.fill_new_key_from(&request(
            r#"{"one_time_keys":{"signed_curve25519:AAAAAAAAAAE":{"key":"b2xk","signatures":{}}}}"#,
        ));
        assert_eq!(c.new_key.as_ref().unwrap().key, "b2xk");
        assert_eq!(c.new_key.as_ref().unwrap().fallback, None);
        assert_eq!(c.key_material_differs(), Some(false));
    }

    #[test]
    fn the_signer_falls_back_to_the_new_keys() {
        // A legacy unsigned old key names nobody; the request's key was signed by this device.
        let msg = r#"One time key signed_curve25519:AAAA already exists. Old key: "b2xk"; new key: {'key': 'bmV3'}"#;
        let mut c = synapse(msg);
        assert_eq!((c.signer_user_id.as_deref(), c.signer_device_id.as_deref()), (None, None));
        c.fill_new_key_from(&request(
            r#"{"one_time_keys":{"signed_curve25519:AAAA":{"key":"bmV3","signatures":{"@u:hs":{"ed25519:DEV":"sig","curve25519:DEV":"x"}}}}}"#,
        ));
        assert_eq!(c.signer_user_id.as_deref(), Some("@u:hs"));
        assert_eq!(c.signer_device_id.as_deref(), Some("DEV"));
        assert!(c.details_known);
        // A key signed with no ed25519 key names nobody either.
        let mut c = synapse(msg);
        c.fill_new_key_from(&request(
            r#"{"one_time_keys":{"signed_curve25519:AAAA":{"key":"bmV3","signatures":{"@u:hs":{"curve25519:DEV":"x"}}}}}"#,
        ));
        assert_eq!((c.signer_user_id.as_deref(), c.signer_device_id.as_deref()), (None, None));
        assert!(c.new_key.is_some());
    }

    #[test]
    fn the_new_key_stays_unknown_when_the_request_does_not_hold_the_id() {
        let mut c = conflict(400, SYNAPSE_TWO_TABS);
        // Other ids only; the id with an unreadable key; no keys at all.
        for body in [
            r#"{"one_time_keys":{"signed_curve25519:AAAAAAAAAA4":{"key":"other"}}}"#,
            r#"{"one_time_keys":{"signed_curve25519:AAAAAAAAAA0":7}}"#,
            r#"{"device_keys":{"user_id":"@guardian:localhost","device_id":"GUARDIANDEV"}}"#,
        ] {
            c.fill_new_key_from(&request(body));
            assert_eq!(c.new_key, None, "{body}");
            assert!(!c.details_known, "{body}");
            assert_eq!(c.key_material_differs(), None, "{body}");
            assert!(c.old_key.is_some(), "{body}");
        }
        // No key id to look up (a fail-soft wording): nothing to take.
        let mut c = conflict(400, r#"{"errcode":"M_UNKNOWN","error":"Duplicate one-time key upload"}"#);
        assert_eq!(c.key_id, None);
        c.fill_new_key_from(&request(TWO_TABS_REQUEST));
        assert_eq!((c.new_key, c.details_known), (None, false));
    }

    #[test]
    fn synapse_unsigned_string_keys() {
        let mut c = synapse(
            r#"One time key curve25519:AAAAAAAAAGQ already exists. Old key: "8oo0dEe9"; new key: 'blu2LHMo'"#,
        );
        assert_eq!(c.key_id.as_deref(), Some("curve25519:AAAAAAAAAGQ"));
        assert_eq!(c.old_key.as_ref().unwrap().key, "8oo0dEe9");
        assert!(c.old_key.as_ref().unwrap().signatures.is_empty());
        c.fill_new_key_from(&request(r#"{"one_time_keys":{"curve25519:AAAAAAAAAGQ":"blu2LHMo"}}"#));
        let new = c.new_key.as_ref().unwrap();
        assert_eq!(new.key, "blu2LHMo");
        assert_eq!(new.raw, Value::from("blu2LHMo"));
        assert!(c.details_known);
    }

    #[test]
    fn field_report_paraphrase_without_semicolon() {
        // seeds/001 KE-1: "… Old key: {…} new key: {…}" — a human paraphrase, still a conflict.
        let mut c = synapse(
            "One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {…} new key: {…}",
        );
        assert_eq!(c.key_id.as_deref(), Some("signed_curve25519:AAAAAAAAAA0"));
        assert!(!c.details_known);
        // No old key to compare with: the request's key alone does not make the details known.
        c.fill_new_key_from(&request(TWO_TABS_REQUEST));
        assert!(c.new_key.is_some());
        assert!(!c.details_known);
        // Without the ';' the old key is still read.
        let mut c = synapse(
            r#"One time key signed_curve25519:AAAA already exists. Old key: {"key":"a"} new key: {'key': 'b'}"#,
        );
        assert_eq!(c.old_key.as_ref().unwrap().key, "a");
        c.fill_new_key_from(&request(r#"{"one_time_keys":{"signed_curve25519:AAAA":{"key":"b"}}}"#));
        assert!(c.details_known);
        assert_eq!(c.new_key.unwrap().key, "b");
        // The old key is Synapse's canonical JSON: a repr in its place is not read.
        let c = synapse(r#"One time key signed_curve25519:AAAA already exists. Old key: {'key': 'a'}; new key: {'key': 'b'}"#);
        assert_eq!(c.key_id.as_deref(), Some("signed_curve25519:AAAA"));
        assert_eq!(c.old_key, None);
    }

    #[test]
    fn dendrite_names_no_keys_but_the_request_has_the_new_one() {
        let body = json!({"@a:b": {"D": {"error": "@a:b device D: algorithm / key ID signed_curve25519:X one-time key already exists"}}}).to_string();
        let mut c = conflict(400, &body);
        c.fill_new_key_from(&request(
            r#"{"one_time_keys":{"signed_curve25519:X":{"key":"k","signatures":{"@other:hs":{"ed25519:O":"s"}}}}}"#,
        ));
        assert_eq!(c.new_key.as_ref().unwrap().key, "k");
        // Dendrite prints no old key: still not the full details; the server-named signer stays.
        assert!(!c.details_known);
        assert_eq!((c.signer_user_id.as_deref(), c.signer_device_id.as_deref()), (Some("@a:b"), Some("D")));
    }

    #[test]
    fn dendrite_map_shape() {
        let body = json!({"@alice:example.org": {"JLAFKJWSCS": {"error":
            "@alice:example.org device JLAFKJWSCS: algorithm / key ID signed_curve25519:AAAAHQ one-time key already exists"}}})
        .to_string();
        let c = conflict(400, &body);
        assert_eq!(c.homeserver, Homeserver::Dendrite);
        assert_eq!(c.key_id.as_deref(), Some("signed_curve25519:AAAAHQ"));
        assert_eq!(c.signer_user_id.as_deref(), Some("@alice:example.org"));
        assert_eq!(c.signer_device_id.as_deref(), Some("JLAFKJWSCS"));
        assert!(!c.details_known);
        // older Dendrite: field "Err"
        let old = json!({"@a:b": {"D": {"Err": "@a:b device D: algorithm / key ID signed_curve25519:X one-time key already exists"}}}).to_string();
        assert_eq!(
            conflict(400, &old).key_id.as_deref(),
            Some("signed_curve25519:X")
        );
        // a Dendrite key error that is not a conflict
        let other = json!({"@a:b": {"D": {"error": "failed to store one-time keys: disk full"}}})
            .to_string();
        assert!(
            matches!(classify_upload_answer(400, other.as_bytes(), true),
            UploadAnswer::OtherError { errcode: None, message: Some(ref m), .. } if m.contains("disk full"))
        );
    }

    #[test]
    fn dendrite_wording_with_odd_spacing_and_non_ascii() {
        // Extra blanks before a multibyte "id": slicing must stay on char boundaries.
        let text = "@a:b device D: algorithm / key ID   \u{2603}:x already exists";
        let body = json!({"@a:b": {"D": {"error": text}}}).to_string();
        assert_eq!(conflict(400, &body).key_id.as_deref(), Some("\u{2603}:x"));
        let body = json!({"@a:b": {"D": {"error": "algorithm / key ID \u{e9}"}}}).to_string();
        assert!(matches!(
            classify_upload_answer(400, body.as_bytes(), true),
            UploadAnswer::OtherError { .. }
        ));
    }

    #[test]
    fn fail_soft_wordings() {
        for (text, kind, id) in [
            (
                "OTK signed_curve25519:AAAB already exists on this server",
                KeyKind::OneTimeKey,
                Some("signed_curve25519:AAAB"),
            ),
            ("Duplicate one-time key upload", KeyKind::OneTimeKey, None),
            (
                "The fallback key signed_curve25519:AAAC already exists",
                KeyKind::FallbackKey,
                Some("signed_curve25519:AAAC"),
            ),
            (
                "key signed_curve25519:AAAD already exists",
                KeyKind::OneTimeKey,
                Some("signed_curve25519:AAAD"),
            ),
            ("ONE TIME KEY xyz ALREADY EXISTS", KeyKind::OneTimeKey, None),
        ] {
            let c = conflict(
                400,
                &json!({"errcode": "M_UNKNOWN", "error": text}).to_string(),
            );
            assert_eq!(c.kind, kind, "{text}");
            assert_eq!(c.key_id.as_deref(), id, "{text}");
            assert!(!c.details_known);
            assert_eq!(c.homeserver, Homeserver::Unknown);
        }
    }

    #[test]
    fn not_conflicts() {
        for (status, body) in [
            (
                413,
                r#"{"errcode":"M_TOO_LARGE","error":"Request body too large"}"#,
            ),
            (
                429,
                r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":2000}"#,
            ),
            (
                401,
                r#"{"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token passed.","soft_logout":false}"#,
            ),
            (
                400,
                r#"{"errcode":"M_UNKNOWN","error":"hotkey already exists"}"#,
            ),
        ] {
            match classify_upload_answer(status, body.as_bytes(), true) {
                UploadAnswer::OtherError {
                    status: s,
                    errcode,
                    message,
                } => {
                    assert_eq!(s, status);
                    assert!(errcode.is_some());
                    assert!(message.is_some());
                }
                other => panic!("{body}: {other:?}"),
            }
        }
        // error fields of the wrong type
        assert_eq!(
            classify_upload_answer(400, br#"{"errcode": 5, "error": ["x"]}"#, true),
            UploadAnswer::OtherError {
                status: 400,
                errcode: None,
                message: None
            }
        );
    }

    #[test]
    fn accepted() {
        let a = classify_upload_answer(
            200,
            br#"{"one_time_key_counts":{"signed_curve25519":50}}"#,
            true,
        );
        assert_eq!(
            a,
            UploadAnswer::Accepted {
                one_time_key_counts: [("signed_curve25519".to_string(), 50)].into()
            }
        );
        // spec-less 2xx object: accepted, no counts; 2xx that is no object: unreadable
        assert_eq!(
            classify_upload_answer(200, b"{}", true),
            UploadAnswer::Accepted {
                one_time_key_counts: BTreeMap::new()
            }
        );
        assert!(matches!(
            classify_upload_answer(200, b"[1]", true),
            UploadAnswer::Unreadable { status: 200, .. }
        ));
        // a conflict text in a 2xx is not a conflict
        let body = json!({"one_time_key_counts": {}, "error": "One time key a:b already exists. Old key: \"x\"; new key: 'y'"}).to_string();
        assert!(classify_upload_answer(200, body.as_bytes(), true).is_accepted());
    }

    #[test]
    fn hostile_bodies() {
        let html = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
        match classify_upload_answer(502, html, true) {
            UploadAnswer::Unreadable {
                status: 502,
                reason,
            } => assert!(reason.contains("HTML")),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            classify_upload_answer(400, b"", true),
            UploadAnswer::Unreadable {
                status: 400,
                reason: "empty body".into()
            }
        );
        match classify_upload_answer(400, b"\xff\xfe{\"a\"", true) {
            UploadAnswer::Unreadable { reason, .. } => {
                assert!(reason.contains("UTF-8"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        match classify_upload_answer(400, br#"{"errcode":"M_UNKN"#, false) {
            UploadAnswer::Unreadable { reason, .. } => assert!(reason.contains("truncated")),
            other => panic!("{other:?}"),
        }
        let deep = "[".repeat(1_000_000);
        assert!(matches!(
            classify_upload_answer(400, deep.as_bytes(), true),
            UploadAnswer::Unreadable { .. }
        ));
        let deep_obj = "{\"a\":".repeat(100_000);
        assert!(matches!(
            classify_upload_answer(400, deep_obj.as_bytes(), false),
            UploadAnswer::Unreadable { .. }
        ));
    }

    #[test]
    fn truncated_synapse_body_still_names_the_key() {
        // Cut right after the old key: the message is recovered from the partial JSON string.
        let cut_at = SYNAPSE_TWO_TABS.find("; new key").unwrap() + 3;
        let c = match classify_upload_answer(400, &SYNAPSE_TWO_TABS.as_bytes()[..cut_at], false) {
            UploadAnswer::Conflict(c) => c,
            other => panic!("{other:?}"),
        };
        assert_eq!(c.key_id.as_deref(), Some("signed_curve25519:AAAAAAAAAA0"));
        assert_eq!(
            c.old_key.as_ref().unwrap().key,
            "FxKIHL+kexv7OtMnjordEg4tzuYK+q9vvKn1VNrNylA"
        );
        assert!(c.new_key.is_none());
        assert!(!c.details_known);
    }

    #[test]
    fn ten_megabytes() {
        // Conflict text at the front of a huge body: scanned, classified fail-soft.
        let mut big = SYNAPSE_TWO_TABS.as_bytes()[..200].to_vec();
        big.resize(10 * 1024 * 1024, b'x');
        let c = match classify_upload_answer(400, &big, true) {
            UploadAnswer::Conflict(c) => c,
            other => panic!("{other:?}"),
        };
        assert_eq!(c.key_id.as_deref(), Some("signed_curve25519:AAAAAAAAAA0"));
        // What is kept of it (and shown) is small.
        assert!(serde_json::to_string(&c).unwrap().len() < 1024);
        // A huge body without a conflict, valid JSON or not.
        let mut junk = br#"{"errcode":"M_UNKNOWN","error":""#.to_vec();
        junk.resize(10 * 1024 * 1024, b'a');
        junk.extend_from_slice(b"\"}");
        match classify_upload_answer(400, &junk, true) {
            UploadAnswer::Unreadable { reason, .. } => assert!(reason.contains("too large")),
            other => panic!("{other:?}"),
        }
        // Invalid UTF-8 all the way through.
        let bad = vec![0xC3u8; 10 * 1024 * 1024];
        assert!(matches!(
            classify_upload_answer(400, &bad, true),
            UploadAnswer::Unreadable { .. }
        ));
        // A very long but parseable message is cut at a char boundary.
        let long = json!({"errcode": "M_UNKNOWN", "error": "é".repeat(300_000)}).to_string();
        match classify_upload_answer(400, long.as_bytes(), true) {
            UploadAnswer::OtherError {
                message: Some(m), ..
            } => {
                assert!(m.len() <= MAX_MESSAGE_BYTES + 3 && m.ends_with('…'));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn server_names() {
        assert_eq!(Homeserver::from_server_name("Synapse"), Homeserver::Synapse);
        assert_eq!(
            Homeserver::from_server_name("continuwuity"),
            Homeserver::ConduitFamily
        );
        assert_eq!(
            Homeserver::from_server_name("Conduit"),
            Homeserver::ConduitFamily
        );
        assert_eq!(
            Homeserver::from_server_name("Dendrite"),
            Homeserver::Dendrite
        );
        assert_eq!(Homeserver::from_server_name("nginx"), Homeserver::Unknown);
    }

    #[test]
    fn serialises_for_js() {
        let UploadAnswer::Conflict(mut c) = classify_upload_answer(400, SYNAPSE_TWO_TABS.as_bytes(), true) else { panic!("a conflict") };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["kind"], "one-time-key");
        assert_eq!(v["keyId"], "signed_curve25519:AAAAAAAAAA0");
        assert_eq!(v["oldKey"], "FxKIHL+kexv7OtMnjordEg4tzuYK+q9vvKn1VNrNylA");
        // The answer alone: no new key, so the details are not known yet.
        assert!(v["newKey"].is_null());
        assert_eq!(v["detailsKnown"], false);
        assert_eq!(v["homeserver"], "synapse");
        c.fill_new_key_from(&request(TWO_TABS_REQUEST));
        // The request's own key, signatures and all (as the diagnosis reads it); in JSON its public half.
        let new_key = c.new_key.as_ref().unwrap();
        assert_eq!(new_key.raw["signatures"]["@guardian:localhost"]["ed25519:GUARDIANDEV"], "//kgiUtP");
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["newKey"], "zqVNmqfYi6SO1RchNXie7Brajsh/bzt7X4o0aBbsGTg");
        assert_eq!(v["detailsKnown"], true);
        assert_eq!(
            classify_upload_answer(429, br#"{"errcode":"M_LIMIT_EXCEEDED"}"#, true),
            UploadAnswer::OtherError { status: 429, errcode: Some("M_LIMIT_EXCEEDED".into()), message: None }
        );
    }

    #[test]
    fn unreadable_reasons_say_where() {
        let reason = |body: &[u8], complete: bool| match classify_upload_answer(500, body, complete) {
            UploadAnswer::Unreadable { reason, .. } => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(br#"{"a" 1}"#, true), "body is not JSON: expected `:` at line 1 column 6");
        assert_eq!(reason(b"Internal Server Error", true), "body is not JSON: expected value at line 1 column 1");
        assert_eq!(
            reason(br#"{"a": [1"#, true),
            "body is not JSON: it ends mid-value (EOF while parsing a list at line 1 column 8)"
        );
        assert_eq!(reason(br#"{"a": [1"#, false), "truncated body (8 bytes read)");
    }

    proptest::proptest! {
        /// Any bytes, any status: a classification, never a panic; a conflict's JSON reads back.
        #[test]
        fn total_on_any_body(
            status in proptest::prop_oneof![proptest::strategy::Just(400u16), 100u16..600],
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
            complete in proptest::prelude::any::<bool>(),
        ) {
            if let UploadAnswer::Conflict(c) = classify_upload_answer(status, &body, complete) {
                let text = serde_json::to_value(&c).unwrap().to_string();
                proptest::prop_assert!(serde_json::from_str::<Value>(&text).is_ok());
            }
        }

        /// Synapse's wording around arbitrary old/new literals: classified, never a panic, and
        /// whatever the new-key literal says, no new key is read from it.
        #[test]
        fn total_on_any_synapse_message(old in "\\PC{0,40}", new in "\\PC{0,40}") {
            let msg = format!("One time key signed_curve25519:AAAA already exists. Old key: {old}; new key: {new}");
            let body = json!({"errcode": "M_UNKNOWN", "error": msg}).to_string();
            let c = conflict(400, &body);
            proptest::prop_assert_eq!(c.key_id.as_deref(), Some("signed_curve25519:AAAA"));
            proptest::prop_assert!(c.new_key.is_none() && !c.details_known);
        }
    }

    #[test]
    fn the_servers_otk_cap_is_its_own_kind() {
        // Synapse 1.163.2's wording (tests/fixtures/synapse/error_otk_limit_pile_up.json is the real one).
        let body = r#"{"errcode":"M_TOO_LARGE","error":"Uploading 50 more signed_curve25519 one-time keys would leave the device holding 550, over the limit of 500"}"#;
        let answer = classify_upload_answer(400, body.as_bytes(), true);
        let UploadAnswer::OtkLimit(l) = &answer else { panic!("{answer:?}") };
        assert_eq!(l.algorithm.as_deref(), Some("signed_curve25519"));
        assert_eq!((l.uploading, l.would_hold, l.limit), (Some(50), Some(550), Some(500)));
        assert_eq!(l.server_holds(), Some(500));
        assert_eq!(answer.loop_cause(), Some(LoopCause::OtkLimit));
        assert!(answer.conflict().is_none());
        // Other wording about one-time keys under M_TOO_LARGE: the cap, without figures.
        let other = classify_upload_answer(400, br#"{"errcode":"M_TOO_LARGE","error":"too many one-time keys"}"#, true);
        let UploadAnswer::OtkLimit(l) = &other else { panic!("{other:?}") };
        assert_eq!((l.uploading, l.would_hold, l.limit, l.server_holds()), (None, None, None, None));
        // Absurd figures are not figures.
        let absurd = r#"{"errcode":"M_TOO_LARGE","error":"Uploading 99999999999999999999999 more signed_curve25519 one-time keys would leave the device holding x, over the limit of 500"}"#;
        let UploadAnswer::OtkLimit(l) = classify_upload_answer(400, absurd.as_bytes(), true) else { panic!() };
        assert_eq!((l.uploading, l.would_hold, l.limit), (None, None, Some(500)));
        // A conflict stays a conflict; a body too large is not the cap.
        assert_eq!(classify_upload_answer(400, CONFLICT_FOR_CAUSE, true).loop_cause(), Some(LoopCause::Conflict));
        assert_eq!(classify_upload_answer(413, br#"{"errcode":"M_TOO_LARGE","error":"Request body too large"}"#, true).loop_cause(), None);
        assert_eq!(classify_upload_answer(200, br#"{"one_time_key_counts":{}}"#, true).loop_cause(), None);
    }

    const CONFLICT_FOR_CAUSE: &[u8] = br#"{"errcode":"M_UNKNOWN","error":"One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"a\"}; new key: {'key': 'b'}"}"#;

    proptest::proptest! {
        /// Any figures in Synapse's wording are read back exactly; any text never panics.
        #[test]
        fn otk_limit_figures_round_trip(n in 0u64..1_000_000, held in 0u64..10_000_000, limit in 0u64..100_000, noise in ".{0,200}") {
            let text = format!("Uploading {n} more signed_curve25519 one-time keys would leave the device holding {held}, over the limit of {limit}");
            let body = serde_json::json!({"errcode": "M_TOO_LARGE", "error": text}).to_string();
            let UploadAnswer::OtkLimit(l) = classify_upload_answer(400, body.as_bytes(), true) else { panic!() };
            proptest::prop_assert_eq!((l.uploading, l.would_hold, l.limit), (Some(n), Some(held), Some(limit)));
            let body = serde_json::json!({"errcode": "M_TOO_LARGE", "error": noise}).to_string();
            let _ = classify_upload_answer(400, body.as_bytes(), true);
        }
    }

    #[test]
    fn json_shape() {
        let mut synapse = conflict(400, SYNAPSE_TWO_TABS);
        let synapse_alone = synapse.clone();
        synapse.fill_new_key_from(&request(TWO_TABS_REQUEST));
        let fallback_msg = r#"One time key signed_curve25519:AAAAAAAAAAE already exists. Old key: {"fallback":true,"key":"b2xk","signatures":{},"n":1.5e3}; new key: {'key': "it's", 'fallback': False, 'signatures': {}}"#;
        let mut fallback = conflict(400, &json!({"errcode": "M_UNKNOWN", "error": fallback_msg}).to_string());
        fallback.fill_new_key_from(&request(
            r#"{"fallback_keys":{"signed_curve25519:AAAAAAAAAAE":{"key":"it's","fallback":false,"signatures":{}}}}"#,
        ));
        assert_eq!(fallback.new_key.as_ref().unwrap().fallback, Some(false));
        let mut conduit = Conflict::fail_soft(KeyKind::FallbackKey, None);
        conduit.homeserver = Homeserver::ConduitFamily;
        let answers = [
            UploadAnswer::Conflict(synapse.clone()),
            UploadAnswer::Conflict(synapse_alone),
            UploadAnswer::Conflict(fallback),
            UploadAnswer::Conflict(conduit.clone()),
            classify_upload_answer(400, br#"{"@a:b":{"D":{"error":"@a:b device D: algorithm / key ID signed_curve25519:X fallback key already exists"}}}"#, true),
            classify_upload_answer(200, br#"{"one_time_key_counts":{"signed_curve25519":50,"curve25519":0}}"#, true),
            classify_upload_answer(200, b"{}", true),
            classify_upload_answer(429, br#"{"errcode":"M_LIMIT_EXCEEDED","error":"slow down"}"#, true),
            classify_upload_answer(400, b"{}", true),
            classify_upload_answer(502, b"<html>", true),
        ];
        for kind in [KeyKind::OneTimeKey, KeyKind::FallbackKey] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        // The keys as read: flags and raw JSON (the diagnosis checks the old key's signature on it)…
        let read = answers[2].conflict().unwrap();
        let old = read.old_key.as_ref().unwrap();
        assert_eq!(old.fallback, Some(true));
        assert_eq!(old.raw["n"], 1500.0);
        assert_eq!(read.new_key.as_ref().unwrap().fallback, Some(false));
        // …and the JSON a host, the report and the prompt get: public halves only, no server text.
        let v = serde_json::to_value(read).unwrap();
        assert_eq!(v["oldKey"], old.key.as_str());
        assert_eq!(v["newKey"], read.new_key.as_ref().unwrap().key.as_str());
        assert!(v.get("message").is_none() && v.get("errcode").is_none(), "{v}");
        assert!(serde_json::to_value(answers[3].conflict()).unwrap()["oldKey"].is_null());
        assert!(serde_json::to_value(answers[1].conflict()).unwrap()["newKey"].is_null());
        assert!(serde_json::to_value(&synapse.new_key).unwrap().get("fallback").is_none());
        assert_eq!(
            answers[5],
            UploadAnswer::Accepted { one_time_key_counts: BTreeMap::from([("signed_curve25519".into(), 50), ("curve25519".into(), 0)]) }
        );
        assert_eq!(
            answers[9],
            UploadAnswer::Unreadable { status: 502, reason: "HTML/XML page instead of a Matrix answer (a proxy or gateway error?)".into() }
        );
    }
}
