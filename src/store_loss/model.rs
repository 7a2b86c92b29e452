//! The store-loss check: a session survives in localStorage but the crypto store it belongs to is gone.
//!
//! That is the state in which matrix-js-sdk comes back with the same device id and a blank crypto
//! store — a new identity key under the old device id — and storms (rust crypto) or silently breaks
//! (legacy libolm crypto). It must be seen *before* the SDK starts, so the check only uses what the
//! page had at start: the session keys in localStorage, the IndexedDB database names, and the
//! guardian's own per-device sentinel (the identity it saw this device upload), and what the crypto
//! store holds when it is there (a store without an account is as lost as a missing one).

use crate::stored_json::{first_item, parse, text};

/// Where a client keeps its session in localStorage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionPreset {
    /// Cinny: the `matrixSessions` JSON array (current), else the legacy `cinny_*` strings.
    Cinny,
    /// Element Web: `mx_user_id`, `mx_device_id`, `mx_hs_url`.
    Element,
}

impl SessionPreset {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "cinny" => Some(SessionPreset::Cinny),
            "element" => Some(SessionPreset::Element),
            _ => None,
        }
    }

    /// The localStorage keys this preset reads (the JS adapter reads exactly these, nothing else:
    /// never the access token).
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            SessionPreset::Cinny => &["matrixSessions", "cinny_user_id", "cinny_device_id", "cinny_hs_base_url"],
            SessionPreset::Element => &["mx_user_id", "mx_device_id", "mx_hs_url"],
        }
    }

    /// IndexedDB names of this client's crypto store: the rust crypto store (default prefix) and the
    /// legacy libolm store, which does not storm after a loss and so is only caught here.
    pub fn crypto_stores(self) -> &'static [&'static str] {
        match self {
            SessionPreset::Cinny => &["matrix-js-sdk::matrix-sdk-crypto", "crypto-store"],
            SessionPreset::Element => &["matrix-js-sdk::matrix-sdk-crypto", "matrix-js-sdk:crypto"],
        }
    }
}

/// The session found in localStorage (never the token).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionFacts {
    pub user_id: String,
    pub device_id: String,
    pub homeserver: Option<String>,
}

/// Reads the session from the preset's localStorage values (`get(key)`); any malformed value is
/// "no session" rather than an error — we only warn about what we can show.
pub fn read_session(preset: SessionPreset, get: impl Fn(&str) -> Option<String>) -> Option<SessionFacts> {
    let nonempty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
    match preset {
        SessionPreset::Cinny => {
            // The current list: its first session, or none at all when the list is empty; text that is not
            // a list falls back to the legacy keys.
            if let Some(first) = nonempty("matrixSessions").and_then(|raw| first_item(&parse(&raw)?)) {
                let first = first?;
                return Some(SessionFacts {
                    user_id: text(&first, "userId")?,
                    device_id: text(&first, "deviceId")?,
                    homeserver: text(&first, "baseUrl"),
                });
            }
            Some(SessionFacts {
                user_id: nonempty("cinny_user_id")?,
                device_id: nonempty("cinny_device_id")?,
                homeserver: nonempty("cinny_hs_base_url"),
            })
        }
        SessionPreset::Element => Some(SessionFacts {
            user_id: nonempty("mx_user_id")?,
            device_id: nonempty("mx_device_id")?,
            homeserver: nonempty("mx_hs_url"),
        }),
    }
}

/// What the guardian remembers of a device (kept in its own database by the journal code).
pub use crate::diagnostics::journal::Sentinel;

#[derive(Debug, Clone, PartialEq, serde::Serialize, strum::IntoStaticStr)]
#[serde(tag = "verdict", rename_all = "kebab-case", rename_all_fields = "camelCase")]
#[strum(serialize_all = "kebab-case")]
pub enum StoreCheck {
    /// No session at start: a first login or a signed-out client. Nothing to protect yet.
    NoSession,
    /// The session and its crypto store are both there (`account`: what the store was seen to hold).
    /// `others`: crypto stores in this origin that hold other accounts (a multi-account profile).
    Healthy { session: SessionFacts, store: String, account: AccountPresence, others: Vec<String> },
    /// The session survived, its crypto store did not (`missing`: the names looked for), or the store is
    /// there without an account (`empty_store`): either way the SDK would start a new identity under
    /// the old device id.
    StoreLost {
        session: SessionFacts,
        missing: Vec<String>,
        empty_store: Option<String>,
        known_identity: Option<String>,
        reason: String,
        others: Vec<String>,
    },
    /// The check cannot tell (the browser cannot list databases, or a crypto store that may be this
    /// session's could not be read): no hold, no prompt, only this verdict in the diagnostics.
    Unknown { session: SessionFacts, reason: String, others: Vec<String> },
}

impl StoreCheck {
    pub fn verdict(&self) -> &'static str {
        self.into()
    }
}

/// What the guardian read of a crypto store before the SDK opened it (`super::probe` reads it and
/// writes nothing). Key names, and of the account only whose it is (its user and device id).
// Deserialize: the bots' check (src/remedy/headless_adapter.rs, the watch module) takes it from JS; the start
// module reads it member by member (src/store_loss/probe.rs `contents_of`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StoreContents {
    /// The database's object stores (none: a database created blank, e.g. by an interrupted first open).
    pub object_stores: Vec<String>,
    /// The keys of the rust store's `core` object store (`None`: not read).
    pub core_keys: Option<Vec<String>>,
    /// Entries of the legacy libolm store's `account` object store (`None`: not read).
    pub legacy_accounts: Option<u32>,
    /// The user and device the store's account belongs to, as the account itself says (`None`: not
    /// readable, e.g. a passphrase-encrypted store).
    pub account_user_id: Option<String>,
    pub account_device_id: Option<String>,
}

/// Whether a crypto store holds this device's account (its identity keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum AccountPresence {
    Present,
    Absent,
    /// Not read, or unreadable: an encrypted store (a store passphrase) hashes its key names.
    Unknown,
}

/// The rust crypto store (matrix-sdk-indexeddb) keeps its account under the key `account` of the
/// `core` object store. With a store passphrase the key names are hashed (base64 of 32 bytes), so a
/// `core` that holds only plain names and none of them `account` is a store without an account, while
/// one that holds hashed names cannot be read this way.
pub fn account_presence(contents: &StoreContents) -> AccountPresence {
    let plain_name = |k: &String| (1..=40).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_');
    if let Some(keys) = &contents.core_keys {
        return if keys.iter().any(|k| k == "account") {
            AccountPresence::Present
        } else if keys.iter().all(plain_name) {
            AccountPresence::Absent
        } else {
            AccountPresence::Unknown
        };
    }
    if let Some(n) = contents.legacy_accounts {
        return if n > 0 { AccountPresence::Present } else { AccountPresence::Absent };
    }
    if contents.object_stores.is_empty() {
        return AccountPresence::Absent;
    }
    AccountPresence::Unknown
}

/// How the rust crypto store's database names end: `<prefix>::matrix-sdk-crypto` (matrix-js-sdk's
/// `initRustCrypto({ cryptoDatabasePrefix })`; multi-account clients use one prefix per session).
pub const RUST_STORE_SUFFIX: &str = "::matrix-sdk-crypto";

/// At most this many crypto stores are read at start (each read is an IndexedDB open before the SDK
/// starts). A store beyond it is "not read", which can only make the verdict "unknown", never "lost".
pub const MAX_STORES_READ: usize = 8;

/// The crypto stores to read for the check, in order: the client's own names that exist (`crypto_stores`),
/// then every other `*::matrix-sdk-crypto` database of the origin (at most [`MAX_STORES_READ`] in all).
pub fn stores_to_read(databases: &[String], crypto_stores: &[String]) -> Vec<String> {
    let mut out = crypto_databases(databases, crypto_stores);
    out.truncate(MAX_STORES_READ);
    out
}

/// Every database of the origin that may be a crypto store of this client, in reading order.
fn crypto_databases(databases: &[String], crypto_stores: &[String]) -> Vec<String> {
    let named = crypto_stores.iter().filter(|n| databases.contains(n));
    let prefixed = databases.iter().filter(|n| n.ends_with(RUST_STORE_SUFFIX) && !crypto_stores.contains(n));
    let mut out: Vec<String> = Vec::new();
    for name in named.chain(prefixed) {
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
    out
}

/// A crypto store as the check saw it: its name and what the probe read (`None`: not read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenStore {
    pub name: String,
    pub contents: Option<StoreContents>,
}

/// Whose a crypto store is, as far as the session at start can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// Its account is this session's device.
    Mine,
    /// Its account is another account's (or another device's): never this session's store.
    Other,
    /// It holds no account at all.
    Empty,
    /// It holds an account whose owner could not be read, or it was not read (`Present`/`Unknown`).
    Unsure(AccountPresence),
}

fn owner(store: &SeenStore, session: &SessionFacts) -> Owner {
    let Some(contents) = &store.contents else { return Owner::Unsure(AccountPresence::Unknown) };
    match account_presence(contents) {
        AccountPresence::Absent => Owner::Empty,
        presence => match (&contents.account_user_id, &contents.account_device_id) {
            (Some(user), Some(device)) if *user == session.user_id && *device == session.device_id => Owner::Mine,
            (Some(_), Some(_)) => Owner::Other,
            _ => Owner::Unsure(presence),
        },
    }
}

/// The check itself. `databases`: the origin's IndexedDB names, `None` where they cannot be listed.
/// `crypto_stores`: the names this client's crypto store has by default. `seen`: the stores read (from
/// [`stores_to_read`]). `sentinel`: what the guardian's own database remembers for this device.
///
/// A store is this session's when its account says so; a store under the client's default name, or
/// one whose name carries the session's user id, is taken as this session's unless its account says
/// otherwise. "Lost" only when no store can be this session's: every store read and each one holding
/// another account or nothing, or the session's own store holding nothing. Anything unread or
/// unreadable that may be this session's store makes it "unknown".
pub fn check_store(
    session: Option<SessionFacts>,
    databases: Option<&[String]>,
    crypto_stores: &[String],
    seen: &[SeenStore],
    sentinel: Option<&Sentinel>,
) -> StoreCheck {
    let Some(session) = session else { return StoreCheck::NoSession };
    let Some(databases) = databases else {
        return StoreCheck::Unknown { session, reason: "this browser cannot list IndexedDB databases".into(), others: Vec::new() };
    };
    let owners: Vec<(&SeenStore, Owner)> = seen.iter().map(|s| (s, owner(s, &session))).collect();
    let others: Vec<String> = owners.iter().filter(|(_, o)| *o == Owner::Other).map(|(s, _)| s.name.clone()).collect();
    let named_mine = |s: &SeenStore| crypto_stores.contains(&s.name) || s.name.contains(session.user_id.as_str());
    if let Some((s, _)) = owners.iter().find(|(_, o)| *o == Owner::Mine) {
        return StoreCheck::Healthy { session, store: s.name.clone(), account: AccountPresence::Present, others };
    }
    // Its own name, an account inside that cannot be attributed (a legacy store) or not read at all
    // (another tab is the writer, the probe timed out): there, and never a guess about what it holds.
    if let Some((s, Owner::Unsure(account))) = owners.iter().find(|(s, o)| named_mine(s) && matches!(o, Owner::Unsure(_))) {
        return StoreCheck::Healthy { session, store: s.name.clone(), account: *account, others };
    }
    // Any store the check could not attribute, or more stores than it reads: it may be this session's.
    let unread = crypto_databases(databases, crypto_stores).iter().filter(|n| !seen.iter().any(|s| &s.name == *n)).count();
    let unsure: Vec<&str> = owners
        .iter()
        .filter(|(s, o)| matches!(o, Owner::Unsure(_)) || (*o == Owner::Empty && !named_mine(s)))
        .map(|(s, _)| s.name.as_str())
        .collect();
    if !unsure.is_empty() || unread > 0 {
        let mut reason = ["cannot tell whether the crypto store of ", &session.user_id, " (device ", &session.device_id, ") is here: "].concat();
        if !unsure.is_empty() {
            reason.push_str(&["the store ", &unsure.join(", "), " could not be attributed to an account"].concat());
        } else {
            reason.push_str("there are more crypto stores than the check reads");
        }
        return StoreCheck::Unknown { session, reason, others };
    }
    let known_identity = sentinel
        .filter(|s| s.user_id == session.user_id && s.device_id == session.device_id)
        .and_then(|s| s.ed25519.clone());
    let head = ["a session for ", &session.user_id, " (device ", &session.device_id, ") is in localStorage"].concat();
    let (missing, empty_store, mut reason) = match owners.iter().find(|(s, o)| *o == Owner::Empty && named_mine(s)) {
        Some((store, _)) => {
            let reason = [&head, " and its crypto store (", &store.name, ") is in IndexedDB, but the store holds no account: it was emptied or recreated"].concat();
            (Vec::new(), Some(store.name.clone()), reason)
        }
        None => {
            let mut reason = [&head, ", but its crypto store (", &crypto_stores.join(" or "), ") is not in IndexedDB"].concat();
            if !others.is_empty() {
                reason.push_str(&[" (", &others.join(", "), " hold other accounts)"].concat());
            }
            reason.push_str(": the browser evicted it or it was cleared");
            (crypto_stores.to_vec(), None, reason)
        }
    };
    if let Some(key) = &known_identity {
        reason.push_str(&["; this device's identity key was ", key, ", and its private half is gone"].concat());
    }
    StoreCheck::StoreLost { session, missing, empty_store, known_identity, reason, others }
}

impl AccountPresence {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn storage(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// The sentinel of alice's device, its identity key seen as `ed25519`.
    fn alice_seen_as(ed25519: &str) -> Sentinel {
        Sentinel {
            user_id: "@alice:hs".into(),
            device_id: "DEV".into(),
            ed25519: Some(ed25519.into()),
            previous_ed25519: None,
            first_seen: 1.0,
            last_seen: 2.0,
        }
    }

    fn alice() -> SessionFacts {
        SessionFacts { user_id: "@alice:hs".into(), device_id: "DEV".into(), homeserver: Some("https://hs".into()) }
    }

    #[test]
    fn reads_cinny_current_and_legacy_and_element_sessions() {
        let current = storage(&[(
            "matrixSessions",
            r#"[{"baseUrl":"https://hs","userId":"@alice:hs","deviceId":"DEV","accessToken":"syt_secret","fallbackSdkStores":false}]"#,
        )]);
        assert_eq!(read_session(SessionPreset::Cinny, current), Some(alice()));
        let legacy = storage(&[("cinny_user_id", "@alice:hs"), ("cinny_device_id", "DEV"), ("cinny_hs_base_url", "https://hs")]);
        assert_eq!(read_session(SessionPreset::Cinny, legacy), Some(alice()));
        let element = storage(&[("mx_user_id", "@alice:hs"), ("mx_device_id", "DEV"), ("mx_hs_url", "https://hs")]);
        assert_eq!(read_session(SessionPreset::Element, element), Some(alice()));
    }

    #[test]
    fn partial_or_malformed_sessions_are_no_session() {
        assert_eq!(read_session(SessionPreset::Cinny, storage(&[("cinny_user_id", "@alice:hs")])), None);
        assert_eq!(read_session(SessionPreset::Cinny, storage(&[("matrixSessions", "[]")])), None);
        assert_eq!(read_session(SessionPreset::Cinny, storage(&[("matrixSessions", r#"[{"userId":"@a:hs"}]"#)])), None);
        assert_eq!(read_session(SessionPreset::Element, storage(&[("mx_user_id", ""), ("mx_device_id", "D")])), None);
        // Not JSON: fall back to the legacy keys.
        let junk = storage(&[("matrixSessions", "{not json"), ("cinny_user_id", "@alice:hs"), ("cinny_device_id", "DEV")]);
        assert_eq!(read_session(SessionPreset::Cinny, junk).map(|s| s.device_id), Some("DEV".into()));
    }

    fn seen(name: &str, contents: Option<StoreContents>) -> SeenStore {
        SeenStore { name: name.into(), contents }
    }

    fn rust_store(core_keys: &[&str]) -> StoreContents {
        StoreContents {
            object_stores: names(&["core", "devices", "inbound_group_sessions3"]),
            core_keys: Some(names(core_keys)),
            ..StoreContents::default()
        }
    }

    /// A rust store whose account belongs to `user`/`device`.
    fn owned_by(user: &str, device: &str) -> StoreContents {
        StoreContents { account_user_id: Some(user.into()), account_device_id: Some(device.into()), ..rust_store(&["account"]) }
    }

    const DEFAULT: &str = "matrix-js-sdk::matrix-sdk-crypto";

    fn cinny() -> Vec<String> {
        names(SessionPreset::Cinny.crypto_stores())
    }

    #[test]
    fn the_verdicts() {
        let stores = cinny();
        let evicted = names(&["matrix-js-sdk:web-sync-store"]);

        assert_eq!(check_store(None, Some(&evicted), &stores, &[], None), StoreCheck::NoSession);
        let here = [seen(DEFAULT, None)];
        assert_eq!(check_store(Some(alice()), Some(&names(&[DEFAULT])), &stores, &here, None).verdict(), "healthy");
        let legacy = [seen("crypto-store", None)];
        assert_eq!(check_store(Some(alice()), Some(&names(&["crypto-store"])), &stores, &legacy, None).verdict(), "healthy");
        assert_eq!(check_store(Some(alice()), None, &stores, &[], None).verdict(), "unknown");

        let lost = check_store(Some(alice()), Some(&evicted), &stores, &[], None);
        assert_eq!(lost.verdict(), "store-lost");
        let StoreCheck::StoreLost { known_identity, reason, missing, .. } = lost else { unreachable!() };
        assert_eq!(known_identity, None);
        assert!(missing.contains(&DEFAULT.to_owned()));
        assert!(reason.contains("@alice:hs") && reason.contains("DEV"), "{reason}");
    }

    #[test]
    fn the_sentinel_names_the_lost_identity_only_for_the_same_device() {
        let stores = cinny();
        let evicted: Vec<String> = Vec::new();
        let seen_as = alice_seen_as("ED");
        let StoreCheck::StoreLost { known_identity, .. } = check_store(Some(alice()), Some(&evicted), &stores, &[], Some(&seen_as)) else {
            panic!()
        };
        assert_eq!(known_identity.as_deref(), Some("ED"));
        let other = Sentinel { device_id: "OTHER".into(), ..seen_as };
        let StoreCheck::StoreLost { known_identity, .. } = check_store(Some(alice()), Some(&evicted), &stores, &[], Some(&other)) else {
            panic!()
        };
        assert_eq!(known_identity, None);
    }

    #[test]
    fn account_presence_reads_key_names_only() {
        // As read off a real matrix-js-sdk 43 store after login.
        assert_eq!(account_presence(&rust_store(&["HAS_MIGRATED_VERIFICATION_LATCH", "account"])), AccountPresence::Present);
        assert_eq!(account_presence(&rust_store(&["HAS_MIGRATED_VERIFICATION_LATCH"])), AccountPresence::Absent);
        assert_eq!(account_presence(&rust_store(&[])), AccountPresence::Absent);
        // A store passphrase hashes the names: we cannot tell, so we do not guess.
        assert_eq!(account_presence(&rust_store(&["q8N2mZr0b3YkE1x9dF+Xw7hJ5uLp4cVt6sAaBbCcDdE="])), AccountPresence::Unknown);
        let blank = StoreContents::default();
        assert_eq!(account_presence(&blank), AccountPresence::Absent);
        let legacy = |n| StoreContents { object_stores: names(&["account", "sessions"]), legacy_accounts: Some(n), ..StoreContents::default() };
        assert_eq!(account_presence(&legacy(1)), AccountPresence::Present);
        assert_eq!(account_presence(&legacy(0)), AccountPresence::Absent);
        let unread = StoreContents { object_stores: names(&["core"]), ..StoreContents::default() };
        assert_eq!(account_presence(&unread), AccountPresence::Unknown);
    }

    #[test]
    fn a_store_without_an_account_is_lost_and_the_sentinel_names_the_identity() {
        let stores = cinny();
        let present = names(&[DEFAULT]);
        let seen_as = alice_seen_as("ED");
        let emptied = [seen(DEFAULT, Some(rust_store(&["HAS_MIGRATED_VERIFICATION_LATCH"])))];
        let lost = check_store(Some(alice()), Some(&present), &stores, &emptied, Some(&seen_as));
        let StoreCheck::StoreLost { missing, empty_store, known_identity, reason, .. } = lost else { panic!("{lost:?}") };
        assert!(missing.is_empty());
        assert_eq!(empty_store.as_deref(), Some(DEFAULT));
        assert_eq!(known_identity.as_deref(), Some("ED"));
        assert!(reason.contains("holds no account") && reason.contains("ED"), "{reason}");

        let whole = [seen(DEFAULT, Some(rust_store(&["account"])))];
        let StoreCheck::Healthy { account, .. } = check_store(Some(alice()), Some(&present), &stores, &whole, Some(&seen_as)) else {
            panic!()
        };
        assert_eq!(account, AccountPresence::Present);
        // Not read (the probe failed or timed out): healthy, with the presence unknown — never a guess.
        let unread = [seen(DEFAULT, None)];
        let StoreCheck::Healthy { account, .. } = check_store(Some(alice()), Some(&present), &stores, &unread, Some(&seen_as)) else {
            panic!()
        };
        assert_eq!(account, AccountPresence::Unknown);
    }

    #[test]
    fn a_store_under_another_name_is_found_by_its_account() {
        let stores = cinny();
        let own = "matrix-js-sdk@alice:hs::matrix-sdk-crypto";
        let opaque = "account-1::matrix-sdk-crypto";
        let dbs = names(&[own, opaque, "matrix-js-sdk:sync@alice:hs"]);
        assert_eq!(stores_to_read(&dbs, &stores), names(&[own, opaque]));
        // Per-session prefix with the user id in it, or an opaque one: the account inside says whose.
        for name in [own, opaque] {
            let read = [seen(name, Some(owned_by("@alice:hs", "DEV")))];
            let check = check_store(Some(alice()), Some(&dbs), &stores, &read, None);
            assert_eq!(check, StoreCheck::Healthy { session: alice(), store: name.into(), account: AccountPresence::Present, others: vec![] });
        }
    }

    #[test]
    fn several_accounts_in_one_profile() {
        let stores = cinny();
        let dbs = names(&["a::matrix-sdk-crypto", "b::matrix-sdk-crypto", DEFAULT]);
        let read = [
            seen(DEFAULT, Some(owned_by("@bob:hs", "BOB"))),
            seen("a::matrix-sdk-crypto", Some(owned_by("@carol:hs", "CAROL"))),
            seen("b::matrix-sdk-crypto", Some(owned_by("@alice:hs", "DEV"))),
        ];
        let StoreCheck::Healthy { store, others, .. } = check_store(Some(alice()), Some(&dbs), &stores, &read, None) else { panic!() };
        assert_eq!(store, "b::matrix-sdk-crypto");
        assert_eq!(others, names(&[DEFAULT, "a::matrix-sdk-crypto"]));
        // Alice's own store gone, the others are there: lost — and the others are named, never hers.
        let without_hers = names(&[DEFAULT, "a::matrix-sdk-crypto"]);
        let StoreCheck::StoreLost { others, missing, .. } = check_store(Some(alice()), Some(&without_hers), &stores, &read[..2], None) else {
            panic!()
        };
        assert_eq!(others, names(&[DEFAULT, "a::matrix-sdk-crypto"]));
        assert!(missing.contains(&DEFAULT.to_owned()));
    }

    #[test]
    fn a_default_store_of_another_account_is_not_this_sessions() {
        let stores = cinny();
        let dbs = names(&[DEFAULT, "x::matrix-sdk-crypto"]);
        // The default-named store is bob's; alice's is under another name: healthy, alice's.
        let read = [seen(DEFAULT, Some(owned_by("@bob:hs", "BOB"))), seen("x::matrix-sdk-crypto", Some(owned_by("@alice:hs", "DEV")))];
        assert_eq!(check_store(Some(alice()), Some(&dbs), &stores, &read, None).verdict(), "healthy");
        // Another device of the same user is not this device's store either.
        let read = [seen(DEFAULT, Some(owned_by("@alice:hs", "OLD")))];
        assert_eq!(check_store(Some(alice()), Some(&dbs[..1]), &stores, &read, None).verdict(), "store-lost");
    }

    #[test]
    fn what_cannot_be_attributed_is_unknown_never_lost() {
        let stores = cinny();
        let dbs = names(&[DEFAULT, "x::matrix-sdk-crypto"]);
        let bobs = seen(DEFAULT, Some(owned_by("@bob:hs", "BOB")));
        // Encrypted (hashed names), not read, an account without a readable owner, an empty store under
        // a name that is not the session's: each may be alice's.
        for contents in [None, Some(rust_store(&["q8N2mZr0b3YkE1x9dF+Xw7hJ5uLp4cVt6sAaBbCcDdE="])), Some(rust_store(&["account"])), Some(rust_store(&[]))] {
            let read = [bobs.clone(), seen("x::matrix-sdk-crypto", contents.clone())];
            let check = check_store(Some(alice()), Some(&dbs), &stores, &read, None);
            assert_eq!(check.verdict(), "unknown", "{contents:?}: {check:?}");
        }
        // A store listed but not read (beyond the cap): unknown.
        assert_eq!(check_store(Some(alice()), Some(&dbs), &stores, &[bobs], None).verdict(), "unknown");
        let many: Vec<String> = (0..20).map(|i| format!("s{i}::matrix-sdk-crypto")).collect();
        assert_eq!(stores_to_read(&many, &stores).len(), MAX_STORES_READ);
    }

}
