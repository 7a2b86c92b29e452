//! Remedies after a store loss or a key-upload storm — pure decisions, tested natively.
//!
//! * which remedies are offered for which cause and facts ([`offers`]), and what each one loses;
//! * the homeserver's answers read into facts ([`backup_fact`], [`presence_fact`], [`cross_signing_fact`]);
//! * the repair drain loop: the next step from each `/keys/claim` answer and one-time-key count ([`Drain`]);
//! * what a sign-out may delete, and only when ([`deletion_plan`], [`logout_outcome`]);
//! * snooze timing ([`snooze_until`], [`should_prompt`]).
//!
//! Ranking follows the field runbook (seeds/001 §3): signing this device out on the server and logging in
//! again has the smallest blast radius; clearing the stores without a server logout leaves the old device
//! and its stale keys on the server and can start the loop again, so it is only an explicit override.

use serde_json::Value;

/// What went wrong, as the prompt explains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Cause {
    /// The store-loss check at start: session present, crypto store gone.
    StoreLost,
    IdentityReplaced,
    ConcurrentWriters,
    ExhaustionOrOther,
    Undetermined,
}

impl Cause {
    /// From a diagnosis kind (`"identity-replaced"`, …) or `"store-lost"`; anything else is undetermined.
    pub fn parse(kind: &str) -> Cause {
        Cause::from_name(kind).unwrap_or(Cause::Undetermined)
    }

    const ALL: [Cause; 5] =
        [Cause::StoreLost, Cause::IdentityReplaced, Cause::ConcurrentWriters, Cause::ExhaustionOrOther, Cause::Undetermined];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Exactly one of the names ([`Cause::as_str`]); `None` for anything else.
    pub fn from_name(name: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// A yes/no fact that may not be known (server unreachable, no client attached, old browser).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Known {
    Yes,
    No,
    #[default]
    Unknown,
}

/// Whether this tab is the single crypto writer of the session (issue 4's writer lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum WriterFact {
    Writer,
    NotWriter,
    /// No writer lock in this page (absent API, or not acquired): never assume.
    #[default]
    Unknown,
}

/// The facts shown before any choice.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Facts {
    /// A server-side key backup exists (`GET /room_keys/version`).
    pub key_backup: Known,
    pub key_backup_version: Option<String>,
    /// `m.secret_storage.default_key` in account data.
    pub secret_storage: Known,
    /// `m.cross_signing.master` in account data or master key on `/keys/query`.
    pub cross_signing: Known,
    /// This device is signed by its owner's self-signing key.
    pub device_verified: Known,
    /// Room keys in the local store that an export would contain (None: not known).
    pub exportable_keys: Option<u64>,
    pub writer: WriterFact,
    /// The conflicting key is a one-time key (a fallback-key conflict cannot be drained).
    pub conflict_on_one_time_key: Known,
    /// A room-key export was downloaded in this page.
    pub exported: bool,
}

/// The remedies, by the name `runRemedy(name)` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Remedy {
    ExportKeys,
    SignOut,
    Repair,
    /// Store loss only: release the held uploads (the user's own risk).
    Continue,
    Snooze,
}

impl Remedy {
    const ALL: [Remedy; 5] = [Remedy::ExportKeys, Remedy::SignOut, Remedy::Repair, Remedy::Continue, Remedy::Snooze];

    /// Exactly one of the names ([`Remedy::as_str`]); `None` for anything else.
    pub fn parse(name: &str) -> Option<Remedy> {
        Remedy::ALL.into_iter().find(|r| r.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What a remedy will lose, as codes the prompt turns into sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Loss {
    /// Encrypted history this device can read and nothing else holds (no backup, no export).
    UnbackedHistory,
    /// Whether that happens is not known (backup status or key count unknown).
    MaybeHistory,
    /// The device id and its verification: the next login is a new device to verify.
    ThisDevice,
    /// Old messages sent to the lost identity stay unreadable on this device.
    MessagesToLostKeys,
    /// The loop goes on and other users keep encrypting to keys that do not exist.
    StormContinues,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    pub remedy: Remedy,
    pub recommended: bool,
    pub loses: Vec<Loss>,
}

/// Which remedies are offered for a cause and the facts, best first.
pub fn offers(cause: Cause, facts: &Facts) -> Vec<Offer> {
    let mut out = Vec::new();
    let has_keys = facts.exportable_keys.is_some_and(|n| n > 0);
    if has_keys {
        out.push(Offer { remedy: Remedy::ExportKeys, recommended: !facts.exported && facts.key_backup != Known::Yes, loses: vec![] });
    }
    let repair = cause == Cause::ConcurrentWriters
        && facts.writer == WriterFact::Writer
        && facts.conflict_on_one_time_key == Known::Yes;
    if repair {
        out.push(Offer { remedy: Remedy::Repair, recommended: true, loses: vec![] });
    }
    let mut sign_out_loses = Vec::new();
    if has_keys && !facts.exported {
        match facts.key_backup {
            Known::No => sign_out_loses.push(Loss::UnbackedHistory),
            Known::Unknown => sign_out_loses.push(Loss::MaybeHistory),
            Known::Yes => {}
        }
    } else if facts.exportable_keys.is_none() && !facts.exported && facts.key_backup != Known::Yes {
        sign_out_loses.push(Loss::MaybeHistory);
    }
    sign_out_loses.push(Loss::ThisDevice);
    out.push(Offer { remedy: Remedy::SignOut, recommended: !repair, loses: sign_out_loses });
    if cause == Cause::StoreLost {
        out.push(Offer { remedy: Remedy::Continue, recommended: false, loses: vec![Loss::MessagesToLostKeys, Loss::StormContinues] });
    }
    out.push(Offer { remedy: Remedy::Snooze, recommended: false, loses: vec![Loss::StormContinues] });
    out
}

/// Is `remedy` allowed now? (`runRemedy` refuses anything not offered.)
pub fn is_offered(cause: Cause, facts: &Facts, remedy: Remedy) -> bool {
    offers(cause, facts).iter().any(|o| o.remedy == remedy)
}

// ------------------------------------------------------------------------------------------------
// facts from the homeserver's answers

fn parse_body(body: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(body).ok()
}

fn errcode(body: &[u8]) -> Option<String> {
    parse_body(body)?.get("errcode")?.as_str().map(str::to_owned)
}

/// `GET /room_keys/version`: 200 with a version → yes; 404 `M_NOT_FOUND` → no; anything else unknown.
pub fn backup_fact(status: u16, body: &[u8]) -> (Known, Option<String>) {
    match status {
        200 => match parse_body(body).as_ref().and_then(|v| v.get("version")).and_then(Value::as_str) {
            Some(v) => (Known::Yes, Some(v.to_owned())),
            None => (Known::Unknown, None),
        },
        404 if errcode(body).as_deref() == Some("M_NOT_FOUND") => (Known::No, None),
        _ => (Known::Unknown, None),
    }
}

/// `GET /user/{u}/account_data/{type}`: 200 with an object → yes, 404 `M_NOT_FOUND` → no.
pub fn presence_fact(status: u16, body: &[u8]) -> Known {
    match status {
        200 if parse_body(body).is_some_and(|v| v.is_object()) => Known::Yes,
        404 if errcode(body).as_deref() == Some("M_NOT_FOUND") => Known::No,
        _ => Known::Unknown,
    }
}

/// From `POST /keys/query` for our own user: (cross-signing set up, this device signed by its owner).
/// "Signed" means the device carries a signature by the user's current self-signing key id; the SDK's
/// own verification status, when a client is attached, is preferred over this.
pub fn cross_signing_fact(status: u16, body: &[u8], user_id: &str, device_id: &str) -> (Known, Known) {
    let Some(v) = (status == 200).then(|| parse_body(body)).flatten() else {
        return (Known::Unknown, Known::Unknown);
    };
    let master = v.get("master_keys").and_then(|m| m.get(user_id)).is_some();
    if !master {
        return (Known::No, Known::No);
    }
    let self_signing: Vec<String> = v
        .get("self_signing_keys")
        .and_then(|m| m.get(user_id))
        .and_then(|k| k.get("keys"))
        .and_then(Value::as_object)
        .map(|keys| keys.keys().cloned().collect())
        .unwrap_or_default();
    let device = v.get("device_keys").and_then(|d| d.get(user_id)).and_then(|d| d.get(device_id));
    let verified = match device {
        None => Known::Unknown,
        Some(d) => {
            let sigs = d.get("signatures").and_then(|s| s.get(user_id)).and_then(Value::as_object);
            if sigs.is_some_and(|s| self_signing.iter().any(|k| s.contains_key(k))) {
                Known::Yes
            } else {
                Known::No
            }
        }
    };
    (Known::Yes, verified)
}

// ------------------------------------------------------------------------------------------------
// sign out

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum LogoutOutcome {
    /// The server ended the session (or had already: `M_UNKNOWN_TOKEN` without soft logout).
    SignedOut,
    /// The server answered something else: nothing may be deleted. `error` is the server's text
    /// (display it as text only).
    Failed { status: u16, errcode: Option<String>, error: Option<String> },
    /// No answer at all (network error, homeserver down).
    Unreachable { reason: String },
    /// The guardian has no token it could confirm as this device's own (none found, or the server did not
    /// accept it, or it is another device's): `/logout` was not sent, and the device is still there.
    Unconfirmed { reason: String },
}

fn capped(text: &str) -> String {
    text.chars().take(300).collect()
}

/// The server's `errcode` and its error text (capped: an HTML error page is not a message).
fn error_of(body: &[u8]) -> (Option<String>, Option<String>) {
    let v = parse_body(body);
    let code = v.as_ref().and_then(|v| v.get("errcode")).and_then(Value::as_str).map(str::to_owned);
    let error = v
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(Value::as_str)
        .map(capped)
        .or_else(|| (!body.is_empty()).then(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()));
    (code, error)
}

/// Is the token the guardian found this device's own? From `GET /account/whoami` with it (`has_token`
/// false: none was found, nothing was asked). `None`: confirmed, `/logout` may be sent; otherwise the
/// outcome that ends the sign-out before it (nothing may then be deleted).
pub fn token_check(has_token: bool, status: u16, body: &[u8], network_error: Option<&str>, user_id: &str, device_id: &str) -> Option<LogoutOutcome> {
    if !has_token {
        let reason = "the guardian found no access token for this device (attach the client, or name the session store)";
        return Some(LogoutOutcome::Unconfirmed { reason: reason.into() });
    }
    if status == 0 {
        return Some(LogoutOutcome::Unreachable { reason: capped(network_error.unwrap_or("no answer")) });
    }
    let v = parse_body(body);
    let field = |name: &str| v.as_ref().and_then(|v| v.get(name)).and_then(Value::as_str);
    match status {
        200 if field("user_id") == Some(user_id) && field("device_id") == Some(device_id) => None,
        200 => {
            let whose = [field("user_id").unwrap_or("?"), " (device ", field("device_id").unwrap_or("?"), ")"].concat();
            let reason = ["the token found belongs to ", &whose, ", not to ", user_id, " (device ", device_id, ")"].concat();
            Some(LogoutOutcome::Unconfirmed { reason: capped(&reason) })
        }
        401 | 403 => {
            let (code, _) = error_of(body);
            let reason = ["the homeserver did not accept the token found (", code.as_deref().unwrap_or("HTTP 401"), "): it may not be this device's"].concat();
            Some(LogoutOutcome::Unconfirmed { reason })
        }
        _ => {
            let (errcode, error) = error_of(body);
            Some(LogoutOutcome::Failed { status, errcode, error })
        }
    }
}

/// `POST /logout`'s answer. `status` 0 means no answer. `token_confirmed`: the token was this device's
/// own ([`token_check`]); only then does a 401 `M_UNKNOWN_TOKEN` mean the device is already gone (a
/// token that was never the device's says nothing about the device).
pub fn logout_outcome(status: u16, body: &[u8], network_error: Option<&str>, token_confirmed: bool) -> LogoutOutcome {
    if status == 0 {
        return LogoutOutcome::Unreachable { reason: capped(network_error.unwrap_or("no answer")) };
    }
    let soft = parse_body(body).as_ref().and_then(|v| v.get("soft_logout")).and_then(Value::as_bool).unwrap_or(false);
    let (errcode, error) = error_of(body);
    match status {
        200 if token_confirmed => LogoutOutcome::SignedOut,
        401 if token_confirmed && errcode.as_deref() == Some("M_UNKNOWN_TOKEN") && !soft => LogoutOutcome::SignedOut,
        _ if !token_confirmed => LogoutOutcome::Unconfirmed { reason: "the token used was not confirmed as this device's own".into() },
        _ => LogoutOutcome::Failed { status, errcode, error },
    }
}

/// What a sign-out deletes, per preset (the host may name its own).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletionPlan {
    pub databases: Vec<String>,
    pub local_storage_keys: Vec<String>,
    pub local_storage_prefixes: Vec<String>,
    /// A localStorage JSON list of sessions (`matrixSessions`) from which only this session's entry goes:
    /// the other accounts of the profile stay signed in.
    #[serde(default)]
    pub session_entry: Option<SessionEntry>,
}

/// One entry of a list of sessions in localStorage: the list's key and the entry's `userId`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionEntry {
    pub key: String,
    pub user_id: String,
}

/// The plan narrowed to one session's own stores, whatever their names, and only them. `databases`: the
/// origin's IndexedDB names now; `own_store`: the crypto store the store-loss check found for the session
/// (none when it was lost); `others`: the crypto stores the check saw holding other accounts.
///
/// The plan's default names are the session's unless its store is elsewhere or another account's store
/// has the default name; a database whose name carries the session's user id is the session's (per-session
/// names: `sync<userId>`, `<prefix><userId>::matrix-sdk-crypto`); another account's store never is.
pub fn session_plan(plan: DeletionPlan, databases: &[String], own_store: Option<&str>, others: &[String], user_id: &str) -> DeletionPlan {
    let defaults_ours = own_store.is_none_or(|s| plan.databases.iter().any(|d| d == s)) && !others.iter().any(|o| plan.databases.contains(o));
    let meta = |name: &str| name.strip_suffix("::matrix-sdk-crypto").map(|p| [p, "::matrix-sdk-crypto-meta"].concat());
    let foreign: Vec<String> = others.iter().flat_map(|o| [Some(o.clone()), meta(o)]).flatten().collect();
    let mut names: Vec<String> = if defaults_ours { plan.databases.clone() } else { Vec::new() };
    if let Some(own) = own_store {
        names.push(own.to_owned());
        names.extend(meta(own));
    }
    if !user_id.is_empty() {
        names.extend(databases.iter().filter(|d| d.contains(user_id)).cloned());
    }
    let mut out: Vec<String> = Vec::new();
    for name in names {
        if !foreign.contains(&name) && !out.contains(&name) {
            out.push(name);
        }
    }
    const SESSION_LIST: &str = "matrixSessions";
    let listed = plan.local_storage_keys.iter().any(|k| k == SESSION_LIST);
    // The single-session keys (Cinny's `cinny_*`) are the default-named session's.
    let keys = plan.local_storage_keys.into_iter().filter(|k| k != SESSION_LIST && defaults_ours).collect();
    DeletionPlan {
        databases: out,
        local_storage_keys: keys,
        local_storage_prefixes: plan.local_storage_prefixes,
        session_entry: listed.then(|| SessionEntry { key: SESSION_LIST.into(), user_id: user_id.into() }),
    }
}

/// The stores of a preset's client: crypto stores (rust + legacy), sync store, session keys.
pub fn preset_stores(preset: &str) -> DeletionPlan {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let crypto = ["matrix-js-sdk::matrix-sdk-crypto", "matrix-js-sdk::matrix-sdk-crypto-meta"];
    match preset {
        "cinny" => DeletionPlan {
            databases: s(&[crypto[0], crypto[1], "crypto-store", "matrix-js-sdk:web-sync-store"]),
            local_storage_keys: s(&["cinny_access_token", "cinny_device_id", "cinny_user_id", "cinny_hs_base_url", "matrixSessions"]),
            local_storage_prefixes: s(&["mxjssdk_"]),
            session_entry: None,
        },
        "element" => DeletionPlan {
            databases: s(&[crypto[0], crypto[1], "matrix-js-sdk:crypto", "matrix-js-sdk:riot-web-sync"]),
            local_storage_keys: s(&["mx_access_token", "mx_device_id", "mx_user_id", "mx_hs_url", "mx_is_url", "mx_has_access_token"]),
            local_storage_prefixes: s(&["mxjssdk_"]),
            session_entry: None,
        },
        _ => DeletionPlan { databases: s(&crypto), local_storage_keys: vec![], local_storage_prefixes: vec![], session_entry: None },
    }
}

/// The deletion allowed after a logout attempt: everything in `plan` after a confirmed server sign-out
/// or the user's explicit "clear anyway" (journaled by the caller); nothing otherwise.
pub fn deletion_plan(outcome: &LogoutOutcome, clear_anyway_confirmed: bool, plan: DeletionPlan) -> Option<DeletionPlan> {
    match outcome {
        LogoutOutcome::SignedOut => Some(plan),
        LogoutOutcome::Failed { .. } | LogoutOutcome::Unreachable { .. } | LogoutOutcome::Unconfirmed { .. } if clear_anyway_confirmed => Some(plan),
        _ => None,
    }
}

// ------------------------------------------------------------------------------------------------
// repair in place: drain this device's stale one-time keys

/// One observation of the drain loop.
#[derive(Debug, Clone, Copy)]
pub enum DrainInput<'a> {
    /// The answer to `POST /keys/upload {}` (the server's one-time-key counts). status 0: no answer.
    Count { status: u16, body: &'a [u8] },
    /// The answer to `POST /keys/claim` for this device's `signed_curve25519`.
    Claimed { status: u16, body: &'a [u8] },
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum DrainAction {
    /// Ask the server for the count.
    Count,
    /// Claim one key of this device.
    Claim,
    /// The server holds no one-time key of this device any more.
    Done { claimed: u64 },
    /// An answer the loop does not understand: stop, change nothing more.
    Stop { reason: String },
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DrainProgress {
    pub claimed: u64,
    /// Count at the start and last seen.
    pub initial: Option<u64>,
    pub remaining: Option<u64>,
}

/// The drain loop's state: start with [`DrainAction::Count`], feed every answer to [`Drain::next`].
#[derive(Debug, Clone)]
pub struct Drain {
    user_id: String,
    device_id: String,
    claimed: u64,
    initial: Option<u64>,
    remaining: Option<u64>,
    /// Claims since the last count: the count is re-read after each batch to see it fall.
    since_count: u64,
    finished: bool,
    /// The last claim got no key.
    empty_claim: bool,
}

/// A count is re-read after this many claims (the claim answer itself says nothing about the rest).
pub const CLAIMS_PER_COUNT: u64 = 10;
/// More claims than the server announced (+ this margin) means the keys are being refilled: stop.
pub const DRAIN_MARGIN: u64 = 5;

impl Drain {
    pub fn new(user_id: &str, device_id: &str) -> Self {
        Drain { user_id: user_id.into(), device_id: device_id.into(), claimed: 0, initial: None, remaining: None, since_count: 0, finished: false, empty_claim: false }
    }

    pub fn first(&self) -> DrainAction {
        DrainAction::Count
    }

    pub fn progress(&self) -> DrainProgress {
        DrainProgress { claimed: self.claimed, initial: self.initial, remaining: self.remaining }
    }

    fn stop(&mut self, reason: String) -> DrainAction {
        self.finished = true;
        DrainAction::Stop { reason }
    }

    pub fn next(&mut self, input: DrainInput<'_>) -> DrainAction {
        if self.finished {
            return DrainAction::Stop { reason: "the drain has already ended".into() };
        }
        match input {
            DrainInput::Count { status, body } => {
                let count = (status == 200)
                    .then(|| parse_body(body))
                    .flatten()
                    .and_then(|v| v.get("one_time_key_counts").cloned())
                    .and_then(|c| if c.is_object() { Some(c.get("signed_curve25519").and_then(Value::as_u64).unwrap_or(0)) } else { None });
                let Some(count) = count else {
                    return self.stop(format!("unexpected answer to the key count (HTTP {status})"));
                };
                self.initial.get_or_insert(count);
                if let Some(before) = self.remaining {
                    // Falling by what we claimed is expected; anything else means another writer is uploading.
                    if count > before.saturating_sub(self.since_count) && !(self.empty_claim && count <= before) {
                        return self.stop(format!("the server's key count rose from {before} to {count} while draining: another writer is uploading keys"));
                    }
                }
                self.remaining = Some(count);
                self.since_count = 0;
                if count == 0 {
                    self.finished = true;
                    return DrainAction::Done { claimed: self.claimed };
                }
                if self.claimed >= self.initial.unwrap_or(0) + DRAIN_MARGIN {
                    return self.stop(format!("claimed {} keys but the server still reports {count}", self.claimed));
                }
                DrainAction::Claim
            }
            DrainInput::Claimed { status, body } => {
                if status != 200 {
                    return self.stop(format!("unexpected answer to the key claim (HTTP {status})"));
                }
                let Some(v) = parse_body(body) else {
                    return self.stop("the key claim's answer is not JSON".into());
                };
                if v.get("failures").and_then(Value::as_object).is_some_and(|f| !f.is_empty()) {
                    return self.stop("the server reported failures for the key claim".into());
                }
                let keys = v
                    .get("one_time_keys")
                    .and_then(|u| u.get(&self.user_id))
                    .and_then(|d| d.get(&self.device_id))
                    .and_then(Value::as_object);
                let Some(keys) = keys.filter(|k| k.len() == 1) else {
                    // Someone else may have claimed the last one: re-count once; twice means the server
                    // and its count disagree, and the loop must not spin on it.
                    if self.empty_claim {
                        return self.stop("the server gave no one-time key for this device".into());
                    }
                    self.empty_claim = true;
                    self.since_count = 0;
                    return DrainAction::Count;
                };
                self.empty_claim = false;
                let (id, key) = keys.iter().next().expect("one entry");
                if !id.starts_with("signed_curve25519:") {
                    return self.stop(format!("the server gave a key of another algorithm ({id})"));
                }
                if key.get("fallback").and_then(Value::as_bool) == Some(true) {
                    // Only the fallback key is left: the one-time keys are gone. Confirm with a count.
                    self.since_count = 0;
                    return DrainAction::Count;
                }
                self.claimed += 1;
                self.since_count += 1;
                if self.since_count >= CLAIMS_PER_COUNT || self.remaining.is_some_and(|r| self.since_count >= r) {
                    DrainAction::Count
                } else {
                    DrainAction::Claim
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// snooze

/// Default snooze: one hour. The prompt also comes back at the next server conflict.
pub const DEFAULT_SNOOZE_MS: f64 = 60.0 * 60.0 * 1000.0;
pub const MIN_SNOOZE_MS: f64 = 60.0 * 1000.0;
pub const MAX_SNOOZE_MS: f64 = 24.0 * 60.0 * 60.0 * 1000.0;

/// Until when a snooze lasts (requested duration clamped to 1 min ..= 24 h; default one hour).
pub fn snooze_until(now_ms: f64, requested_ms: Option<f64>) -> f64 {
    let ms = requested_ms.filter(|m| m.is_finite()).unwrap_or(DEFAULT_SNOOZE_MS).clamp(MIN_SNOOZE_MS, MAX_SNOOZE_MS);
    now_ms + ms
}

/// Should the prompt open? Always when not snoozed; while snoozed, only for a new server conflict
/// (a conflict the server answered, not a local replay) or once the snooze has run out.
pub fn should_prompt(snoozed_until: Option<f64>, now_ms: f64, new_server_conflict: bool) -> bool {
    match snoozed_until {
        None => true,
        Some(until) => new_server_conflict || now_ms >= until,
    }
}

impl Known {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl WriterFact {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

}

impl Loss {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts { key_backup: Known::No, exportable_keys: Some(12), writer: WriterFact::Writer, conflict_on_one_time_key: Known::Yes, ..Facts::default() }
    }
    fn names(o: &[Offer]) -> Vec<Remedy> {
        o.iter().map(|o| o.remedy).collect()
    }

    #[test]
    fn repair_only_for_concurrent_writers_in_the_single_writer_tab() {
        use Remedy::*;
        assert_eq!(names(&offers(Cause::ConcurrentWriters, &facts())), vec![ExportKeys, Repair, SignOut, Snooze]);
        for writer in [WriterFact::NotWriter, WriterFact::Unknown] {
            let f = Facts { writer, ..facts() };
            assert!(!is_offered(Cause::ConcurrentWriters, &f, Repair), "{writer:?}");
        }
        let fallback = Facts { conflict_on_one_time_key: Known::No, ..facts() };
        assert!(!is_offered(Cause::ConcurrentWriters, &fallback, Repair));
        for cause in [Cause::StoreLost, Cause::IdentityReplaced, Cause::ExhaustionOrOther, Cause::Undetermined] {
            assert!(!is_offered(cause, &facts(), Repair), "{cause:?}");
            assert!(is_offered(cause, &facts(), SignOut));
        }
        assert!(offers(Cause::ConcurrentWriters, &facts()).iter().find(|o| o.remedy == Repair).unwrap().recommended);
        assert!(!offers(Cause::ConcurrentWriters, &facts()).iter().find(|o| o.remedy == SignOut).unwrap().recommended);
    }

    #[test]
    fn export_only_with_keys_and_continue_only_after_store_loss() {
        let none = Facts { exportable_keys: Some(0), ..facts() };
        assert!(!is_offered(Cause::IdentityReplaced, &none, Remedy::ExportKeys));
        assert!(!is_offered(Cause::IdentityReplaced, &Facts { exportable_keys: None, ..facts() }, Remedy::ExportKeys));
        assert!(is_offered(Cause::StoreLost, &none, Remedy::Continue));
        assert!(!is_offered(Cause::IdentityReplaced, &none, Remedy::Continue));
        assert_eq!(Remedy::parse("sign-out"), Some(Remedy::SignOut));
        assert_eq!(Remedy::parse("rm -rf"), None);
        assert_eq!(Cause::parse("pending"), Cause::Undetermined);
    }

    #[test]
    fn sign_out_says_what_is_lost() {
        let loses = |f: &Facts| offers(Cause::IdentityReplaced, f).into_iter().find(|o| o.remedy == Remedy::SignOut).unwrap().loses;
        assert_eq!(loses(&facts()), vec![Loss::UnbackedHistory, Loss::ThisDevice]);
        assert_eq!(loses(&Facts { exported: true, ..facts() }), vec![Loss::ThisDevice]);
        assert_eq!(loses(&Facts { key_backup: Known::Yes, ..facts() }), vec![Loss::ThisDevice]);
        assert_eq!(loses(&Facts { key_backup: Known::Unknown, ..facts() }), vec![Loss::MaybeHistory, Loss::ThisDevice]);
        assert_eq!(loses(&Facts { exportable_keys: Some(0), ..facts() }), vec![Loss::ThisDevice]);
        assert_eq!(loses(&Facts { exportable_keys: None, ..facts() }), vec![Loss::MaybeHistory, Loss::ThisDevice]);
        // Export is recommended until done or backed up.
        let export = |f: &Facts| offers(Cause::StoreLost, f)[0].clone();
        assert!(export(&facts()).recommended);
        assert!(!export(&Facts { exported: true, ..facts() }).recommended);
    }

    #[test]
    fn facts_from_real_answers() {
        let backup = br#"{"algorithm":"m.megolm_backup.v1.curve25519-aes-sha2","auth_data":{},"count":3,"etag":"1","version":"7"}"#;
        assert_eq!(backup_fact(200, backup), (Known::Yes, Some("7".into())));
        assert_eq!(backup_fact(404, br#"{"errcode":"M_NOT_FOUND","error":"No backup found"}"#), (Known::No, None));
        assert_eq!(backup_fact(502, b"<html>bad gateway</html>"), (Known::Unknown, None));
        assert_eq!(backup_fact(404, b"not found"), (Known::Unknown, None), "a proxy's 404 is not the server's answer");
        assert_eq!(presence_fact(200, br#"{"key":"abc"}"#), Known::Yes);
        assert_eq!(presence_fact(404, br#"{"errcode":"M_NOT_FOUND","error":"Account data not found"}"#), Known::No);
        assert_eq!(presence_fact(500, b""), Known::Unknown);

        let q = br#"{"device_keys":{"@a:hs":{"DEV":{"signatures":{"@a:hs":{"ed25519:DEV":"s","ed25519:SSK":"t"}}},
            "OTHER":{"signatures":{"@a:hs":{"ed25519:OTHER":"s"}}}}},
            "master_keys":{"@a:hs":{"keys":{"ed25519:MSK":"MSK"}}},"self_signing_keys":{"@a:hs":{"keys":{"ed25519:SSK":"SSK"}}}}"#;
        assert_eq!(cross_signing_fact(200, q, "@a:hs", "DEV"), (Known::Yes, Known::Yes));
        assert_eq!(cross_signing_fact(200, q, "@a:hs", "OTHER"), (Known::Yes, Known::No));
        assert_eq!(cross_signing_fact(200, q, "@a:hs", "GONE"), (Known::Yes, Known::Unknown));
        assert_eq!(cross_signing_fact(200, br#"{"device_keys":{}}"#, "@a:hs", "DEV"), (Known::No, Known::No));
        assert_eq!(cross_signing_fact(500, q, "@a:hs", "DEV"), (Known::Unknown, Known::Unknown));
    }

    #[test]
    fn nothing_is_deleted_unless_signed_out_or_cleared_anyway() {
        let plan = || preset_stores("cinny");
        let ok = logout_outcome(200, b"{}", None, true);
        assert_eq!(ok, LogoutOutcome::SignedOut);
        assert_eq!(deletion_plan(&ok, false, plan()), Some(plan()));
        let gone = logout_outcome(401, br#"{"errcode":"M_UNKNOWN_TOKEN","error":"Unknown access token"}"#, None, true);
        assert_eq!(gone, LogoutOutcome::SignedOut);
        let soft = logout_outcome(401, br#"{"errcode":"M_UNKNOWN_TOKEN","soft_logout":true}"#, None, true);
        assert!(matches!(soft, LogoutOutcome::Failed { status: 401, .. }));
        let hostile = logout_outcome(502, br#"{"errcode":"M_UNKNOWN","error":"<img src=x onerror=alert(1)>"}"#, None, true);
        match &hostile {
            LogoutOutcome::Failed { error, .. } => assert_eq!(error.as_deref(), Some("<img src=x onerror=alert(1)>")),
            other => panic!("{other:?}"),
        }
        let down = logout_outcome(0, b"", Some("TypeError: Failed to fetch"), true);
        assert!(matches!(down, LogoutOutcome::Unreachable { .. }));
        for failed in [&soft, &hostile, &down] {
            assert_eq!(deletion_plan(failed, false, plan()), None);
            assert_eq!(deletion_plan(failed, true, plan()), Some(plan()));
        }
        let html = logout_outcome(502, &[b'x'; 5000], None, true);
        match html {
            LogoutOutcome::Failed { error: Some(e), .. } => assert_eq!(e.len(), 300),
            other => panic!("{other:?}"),
        }
        assert!(plan().databases.contains(&"matrix-js-sdk:web-sync-store".to_string()));
        assert!(preset_stores("element").local_storage_keys.contains(&"mx_access_token".to_string()));
        assert!(preset_stores("generic").local_storage_keys.is_empty(), "a generic host names its own session keys");
    }

    #[test]
    fn a_401_for_a_token_not_confirmed_as_the_devices_own_is_never_signed_out() {
        let unknown = br#"{"errcode":"M_UNKNOWN_TOKEN","error":"Unknown access token"}"#;
        // No token at all (the drop-in without a session store): nothing is asked, nothing deleted.
        let none = token_check(false, 0, b"", None, "@a:hs", "DEV").unwrap();
        assert!(matches!(none, LogoutOutcome::Unconfirmed { .. }), "{none:?}");
        // `Bearer null` or a wrong token: Synapse's 401 says nothing about the device.
        let wrong = token_check(true, 401, unknown, None, "@a:hs", "DEV").unwrap();
        assert!(matches!(&wrong, LogoutOutcome::Unconfirmed { reason } if reason.contains("M_UNKNOWN_TOKEN")), "{wrong:?}");
        assert_eq!(logout_outcome(401, unknown, None, false), LogoutOutcome::Unconfirmed { reason: "the token used was not confirmed as this device's own".into() });
        assert!(!matches!(logout_outcome(200, b"{}", None, false), LogoutOutcome::SignedOut));
        // Another device's (or user's) token: not this device's sign-out.
        let other = token_check(true, 200, br#"{"user_id":"@a:hs","device_id":"OTHER"}"#, None, "@a:hs", "DEV").unwrap();
        assert!(matches!(&other, LogoutOutcome::Unconfirmed { reason } if reason.contains("OTHER")), "{other:?}");
        // The device's own token: /logout may go, and its 200 (or a 401 for it since) is the sign-out.
        assert_eq!(token_check(true, 200, br#"{"user_id":"@a:hs","device_id":"DEV","is_guest":false}"#, None, "@a:hs", "DEV"), None);
        assert_eq!(logout_outcome(401, unknown, None, true), LogoutOutcome::SignedOut);
        // Server down, 500, an HTML page: said as such, nothing confirmed.
        assert!(matches!(token_check(true, 0, b"", Some("Failed to fetch"), "@a:hs", "DEV"), Some(LogoutOutcome::Unreachable { .. })));
        assert!(matches!(token_check(true, 500, b"<html>oops</html>", None, "@a:hs", "DEV"), Some(LogoutOutcome::Failed { status: 500, .. })));
        assert!(matches!(token_check(true, 200, b"<html>", None, "@a:hs", "DEV"), Some(LogoutOutcome::Unconfirmed { .. })));
        for outcome in [none, wrong, other] {
            assert_eq!(deletion_plan(&outcome, false, preset_stores("cinny")), None);
        }
    }

    #[test]
    fn a_sign_out_clears_the_sessions_own_stores_whatever_their_names_and_only_them() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let dbs = names(&[
            "matrix-js-sdk::matrix-sdk-crypto",
            "matrix-js-sdk::matrix-sdk-crypto-meta",
            "matrix-js-sdk:web-sync-store",
            "matrix-js-sdk@alice:hs::matrix-sdk-crypto",
            "matrix-js-sdk@alice:hs::matrix-sdk-crypto-meta",
            "matrix-js-sdk:sync@alice:hs",
            "matrix-js-sdk@carol:hs::matrix-sdk-crypto",
            "matrix-js-sdk:sync@carol:hs",
        ]);
        // Alice's store has a per-session name; the default-named one is bob's; carol's is her own.
        let others = names(&["matrix-js-sdk::matrix-sdk-crypto", "matrix-js-sdk@carol:hs::matrix-sdk-crypto"]);
        let plan = session_plan(preset_stores("cinny"), &dbs, Some("matrix-js-sdk@alice:hs::matrix-sdk-crypto"), &others, "@alice:hs");
        assert_eq!(
            plan.databases,
            names(&["matrix-js-sdk@alice:hs::matrix-sdk-crypto", "matrix-js-sdk@alice:hs::matrix-sdk-crypto-meta", "matrix-js-sdk:sync@alice:hs"])
        );
        assert!(plan.local_storage_keys.is_empty(), "the single-session keys are not alice's: {:?}", plan.local_storage_keys);
        assert_eq!(plan.session_entry, Some(SessionEntry { key: "matrixSessions".into(), user_id: "@alice:hs".into() }));
        // Her store lost, bob's under the default name: only what carries her name.
        let lost = session_plan(preset_stores("cinny"), &dbs, None, &others, "@alice:hs");
        assert_eq!(lost.databases, names(&["matrix-js-sdk@alice:hs::matrix-sdk-crypto", "matrix-js-sdk@alice:hs::matrix-sdk-crypto-meta", "matrix-js-sdk:sync@alice:hs"]));
        // The one-session profile (the default names, no other account): the preset's plan, as before.
        let single = session_plan(preset_stores("cinny"), &names(&["matrix-js-sdk:web-sync-store"]), None, &[], "@dave:hs");
        assert_eq!(single.databases, preset_stores("cinny").databases);
        assert!(single.local_storage_keys.contains(&"cinny_access_token".to_string()));
        let element = session_plan(preset_stores("element"), &[], Some("matrix-js-sdk::matrix-sdk-crypto"), &[], "@e:hs");
        assert_eq!(element.databases, preset_stores("element").databases);
        assert_eq!(element.session_entry, None);
    }

    fn count(n: u64) -> Vec<u8> {
        format!(r#"{{"one_time_key_counts":{{"signed_curve25519":{n}}}}}"#).into_bytes()
    }
    fn claimed(id: &str, fallback: bool) -> Vec<u8> {
        let key = if fallback { r#"{"key":"k","fallback":true}"# } else { r#"{"key":"k"}"# };
        format!(r#"{{"one_time_keys":{{"@a:hs":{{"DEV":{{"{id}":{key}}}}}}},"failures":{{}}}}"#).into_bytes()
    }

    #[test]
    fn drain_claims_until_the_count_is_zero() {
        let mut d = Drain::new("@a:hs", "DEV");
        assert_eq!(d.first(), DrainAction::Count);
        assert_eq!(d.next(DrainInput::Count { status: 200, body: &count(12) }), DrainAction::Claim);
        let mut server = 12u64;
        let mut steps = 0;
        loop {
            steps += 1;
            assert!(steps < 100);
            server -= 1;
            match d.next(DrainInput::Claimed { status: 200, body: &claimed(&format!("signed_curve25519:K{server}"), false) }) {
                DrainAction::Claim => continue,
                DrainAction::Count => match d.next(DrainInput::Count { status: 200, body: &count(server) }) {
                    DrainAction::Claim => continue,
                    DrainAction::Done { claimed } => {
                        assert_eq!(claimed, 12);
                        break;
                    }
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(d.progress(), DrainProgress { claimed: 12, initial: Some(12), remaining: Some(0) });
        // Nothing left at the start: done at once, nothing claimed.
        let mut d = Drain::new("@a:hs", "DEV");
        assert_eq!(d.next(DrainInput::Count { status: 200, body: br#"{"one_time_key_counts":{}}"# }), DrainAction::Done { claimed: 0 });
    }

    #[test]
    fn drain_stops_on_anything_unexpected() {
        let start = || {
            let mut d = Drain::new("@a:hs", "DEV");
            assert_eq!(d.next(DrainInput::Count { status: 200, body: &count(3) }), DrainAction::Claim);
            d
        };
        let stops = |a: DrainAction| matches!(a, DrainAction::Stop { .. });
        assert!(stops(start().next(DrainInput::Claimed { status: 429, body: br#"{"errcode":"M_LIMIT_EXCEEDED"}"# })));
        assert!(stops(start().next(DrainInput::Claimed { status: 200, body: b"<html>" })));
        let mut d = start();
        let empty = br#"{"one_time_keys":{},"failures":{}}"#;
        assert_eq!(d.next(DrainInput::Claimed { status: 200, body: empty }), DrainAction::Count, "re-count once");
        assert_eq!(d.next(DrainInput::Count { status: 200, body: &count(2) }), DrainAction::Claim);
        assert!(stops(d.next(DrainInput::Claimed { status: 200, body: empty })), "twice: stop");
        assert!(stops(start().next(DrainInput::Claimed { status: 200, body: br#"{"one_time_keys":{},"failures":{"hs":{}}}"# })));
        assert!(stops(start().next(DrainInput::Claimed { status: 200, body: &claimed("curve25519:X", false) })));
        assert!(stops(Drain::new("@a:hs", "DEV").next(DrainInput::Count { status: 0, body: b"" })));
        assert!(stops(Drain::new("@a:hs", "DEV").next(DrainInput::Count { status: 200, body: b"{}" })));
        // A fallback key means the one-time keys are gone: re-count, then done.
        let mut d = start();
        assert_eq!(d.next(DrainInput::Claimed { status: 200, body: &claimed("signed_curve25519:F", true) }), DrainAction::Count);
        assert_eq!(d.next(DrainInput::Count { status: 200, body: &count(0) }), DrainAction::Done { claimed: 0 });
        // The count rising while draining: another writer is uploading.
        let mut d = start();
        assert_eq!(d.next(DrainInput::Claimed { status: 200, body: &claimed("signed_curve25519:A", false) }), DrainAction::Claim);
        assert_eq!(d.next(DrainInput::Claimed { status: 200, body: &claimed("signed_curve25519:B", false) }), DrainAction::Claim);
        assert_eq!(d.next(DrainInput::Claimed { status: 200, body: &claimed("signed_curve25519:C", false) }), DrainAction::Count);
        assert!(stops(d.next(DrainInput::Count { status: 200, body: &count(50) })));
        // After a stop, nothing more.
        assert!(stops(d.next(DrainInput::Count { status: 200, body: &count(0) })));
        // A claim that never lowers the count is bounded.
        let mut d = Drain::new("@a:hs", "DEV");
        assert_eq!(d.next(DrainInput::Count { status: 200, body: &count(1) }), DrainAction::Claim);
        let mut last = DrainAction::Claim;
        for _ in 0..20 {
            last = match last {
                DrainAction::Claim => d.next(DrainInput::Claimed { status: 200, body: &claimed("signed_curve25519:S", false) }),
                DrainAction::Count => d.next(DrainInput::Count { status: 200, body: &count(1) }),
                other => other,
            };
        }
        assert!(stops(last));
    }

    #[test]
    fn snooze_defaults_clamps_and_comes_back_on_a_new_conflict() {
        assert_eq!(snooze_until(1000.0, None), 1000.0 + DEFAULT_SNOOZE_MS);
        assert_eq!(snooze_until(0.0, Some(1.0)), MIN_SNOOZE_MS);
        assert_eq!(snooze_until(0.0, Some(1e12)), MAX_SNOOZE_MS);
        assert_eq!(snooze_until(0.0, Some(f64::NAN)), DEFAULT_SNOOZE_MS);
        assert!(should_prompt(None, 0.0, false));
        assert!(!should_prompt(Some(100.0), 50.0, false));
        assert!(should_prompt(Some(100.0), 50.0, true));
        assert!(should_prompt(Some(100.0), 100.0, false));
    }

}
