//! The store-loss check and the device replacement for headless hosts (bots, bridges: matrix-js-sdk in
//! Node.js). Pure decisions; `js/headless.js` gathers the facts.
//!
//! A bot has no localStorage session to compare with: it is handed its session (user, device, token) by
//! its config, or logs in with a fixed device id, and its crypto store is in memory or in a data folder
//! that may have been wiped. What tells a lost store there is the server: the device already has keys
//! (`POST /keys/query`), yet the store the bot is about to open holds no account. Starting the SDK then
//! publishes a new identity under the old device id — the storm. Only the device's public keys on the
//! server and the store's key *names* are read, never a secret.

use serde_json::Value;
use crate::remedy::model::LogoutOutcome;
use crate::store_loss::model::{account_presence, AccountPresence, SessionFacts, StoreContents};

/// The crypto store the bot is about to open (before `initRustCrypto`).
#[derive(Debug, Clone, PartialEq)]
pub enum BotStore {
    /// `initRustCrypto({ useIndexedDB: false })`: the store lives in the process, so at start it is empty.
    Memory,
    /// IndexedDB through a shim (fake-indexeddb, indexeddbshim): its database names, the names this
    /// client's store may have, and what the probe read of the one found (`None`: not read).
    IndexedDb { databases: Vec<String>, crypto_stores: Vec<String>, contents: Option<StoreContents> },
}

/// What the server publishes for this device (`POST /keys/query`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerDevice {
    /// The device has uploaded keys: its ed25519 identity key.
    HasKeys { ed25519: String },
    /// The device is not in the answer: it never uploaded keys (a first start) or does not exist.
    NoKeys,
    /// No usable answer (network error, 401, an HTML error page): we do not guess.
    Unreadable { reason: String },
}

/// Reads a `/keys/query` answer for one device. `status` 0: no answer (`network_error` says why).
pub fn server_device(status: u16, body: &[u8], user_id: &str, device_id: &str, network_error: Option<&str>) -> ServerDevice {
    let unreadable = |why: &str| ServerDevice::Unreadable { reason: why.chars().take(300).collect() };
    if status == 0 {
        return unreadable(network_error.unwrap_or("no answer"));
    }
    let answer = serde_json::from_slice::<Value>(body).ok();
    if status != 200 {
        let code = answer.as_ref().and_then(|a| a.get("errcode")).and_then(Value::as_str).unwrap_or("no errcode");
        return unreadable(&["keys/query answered ", &status.to_string(), " (", code, ")"].concat());
    }
    let Some(users) = answer.as_ref().and_then(|a| a.get("device_keys")).and_then(Value::as_object) else {
        return unreadable("keys/query answer without device_keys");
    };
    let Some(device) = users.get(user_id).and_then(|u| u.get(device_id)) else { return ServerDevice::NoKeys };
    match device.get("keys").and_then(|k| k.get(["ed25519:", device_id].concat())).and_then(Value::as_str) {
        Some(key) => ServerDevice::HasKeys { ed25519: key.to_owned() },
        None => unreadable("keys/query lists the device without an ed25519 key"),
    }
}

/// The verdict for a bot's store, before its first upload. `healthy`, `store-lost` and `unknown` have the page
/// check's shapes ([`crate::store_loss::model::StoreCheck`]), so a host reads both alike.
#[derive(Debug, Clone, PartialEq, serde::Serialize, strum::IntoStaticStr)]
#[serde(tag = "verdict", rename_all = "kebab-case", rename_all_fields = "camelCase")]
#[strum(serialize_all = "kebab-case")]
pub enum BotStoreCheck {
    /// The server has no keys for this device: the SDK will create and upload them, nothing to collide with.
    NewDevice { session: SessionFacts, store: Option<String> },
    /// The device's keys are on the server and its store (always a database: an in-memory store starts
    /// empty) holds an account, or cannot tell (`account`).
    Healthy { session: SessionFacts, store: String, account: AccountPresence, server_identity: String },
    /// The device's keys are on the server, the store has no account: the SDK would publish a new identity
    /// under the old device id. `missing`: the database names looked for when none is there; `empty_store`:
    /// the database there without an account (both empty/none: an in-memory store); `known_identity`: the
    /// device's ed25519 key on the server.
    StoreLost { session: SessionFacts, missing: Vec<String>, empty_store: Option<String>, known_identity: Option<String>, reason: String },
    /// The server's answer could not be read: no verdict.
    Unknown { session: SessionFacts, reason: String },
}

impl BotStoreCheck {
    pub fn verdict(&self) -> &'static str {
        self.into()
    }
}

/// The check. The store's account presence is `account_presence` of the browser check (same probe).
pub fn check_bot_store(session: SessionFacts, store: &BotStore, server: &ServerDevice) -> BotStoreCheck {
    let (name, account) = match store {
        BotStore::Memory => (None, AccountPresence::Absent),
        // A bot names its store (`cryptoStores`): the first of those names that exists is its store.
        BotStore::IndexedDb { databases, crypto_stores, contents } => match crypto_stores.iter().find(|n| databases.contains(n)) {
            Some(found) => (Some(found.clone()), contents.as_ref().map_or(AccountPresence::Unknown, account_presence)),
            None => (None, AccountPresence::Absent),
        },
    };
    let server_identity = match server {
        ServerDevice::Unreadable { reason } => return BotStoreCheck::Unknown { session, reason: reason.clone() },
        ServerDevice::NoKeys => return BotStoreCheck::NewDevice { session, store: name },
        ServerDevice::HasKeys { ed25519 } => ed25519.clone(),
    };
    if let (Some(store), true) = (&name, account != AccountPresence::Absent) {
        return BotStoreCheck::Healthy { session, store: store.clone(), account, server_identity };
    }
    let where_ = match (store, &name) {
        (BotStore::Memory, _) => "its crypto store is in memory and so starts empty".to_owned(),
        (_, Some(db)) => ["its crypto store (", db, ") holds no account"].concat(),
        (BotStore::IndexedDb { crypto_stores, .. }, None) => {
            ["its crypto store (", &crypto_stores.join(" or "), ") is not there: the data folder was wiped or moved"].concat()
        }
    };
    let reason = [
        "device ",
        &session.device_id,
        " of ",
        &session.user_id,
        " has identity key ",
        &server_identity,
        " on the server, but ",
        &where_,
        ": starting the SDK would publish a new identity under the same device id",
    ]
    .concat();
    let missing = match (store, &name) {
        (BotStore::IndexedDb { crypto_stores, .. }, None) => crypto_stores.clone(),
        _ => Vec::new(),
    };
    BotStoreCheck::StoreLost { session, missing, empty_store: name, known_identity: Some(server_identity), reason }
}

/// The headless remedy's checks on the device the host logged in through its callback: the old device
/// must be signed out on the server first, and the new one must be another device of the same user with
/// nothing on the server yet to collide with. `Err(reason)` when the host must not go on with it.
pub fn accept_replacement(old: &SessionFacts, logout: &LogoutOutcome, new: &SessionFacts, new_device: &ServerDevice) -> Result<(), String> {
    if *logout != LogoutOutcome::SignedOut {
        return Err("the old device was not signed out on the server".into());
    }
    if new.user_id != old.user_id {
        return Err(["the new session is for ", &new.user_id, ", not ", &old.user_id].concat());
    }
    if new.device_id == old.device_id {
        return Err(["the host logged in device ", &new.device_id, " again: a replacement needs a new device id"].concat());
    }
    match new_device {
        ServerDevice::NoKeys => Ok(()),
        ServerDevice::HasKeys { .. } => {
            Err(["device ", &new.device_id, " already has keys on the server: it is not a new device"].concat())
        }
        ServerDevice::Unreadable { reason } => Err(["the new device could not be checked: ", reason].concat()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "@bot:localhost";

    fn bot(device: &str) -> SessionFacts {
        SessionFacts { user_id: USER.into(), device_id: device.into(), homeserver: Some("http://127.0.0.1:8008".into()) }
    }

    fn answer(device: &str, ed25519: &str) -> String {
        format!(
            r#"{{"device_keys":{{"{USER}":{{"{device}":{{"device_id":"{device}","user_id":"{USER}","algorithms":[],
            "keys":{{"curve25519:{device}":"c","ed25519:{device}":"{ed25519}"}}}}}}}},"failures":{{}}}}"#
        )
    }

    fn idb(databases: &[&str], contents: Option<StoreContents>) -> BotStore {
        BotStore::IndexedDb {
            databases: databases.iter().map(|s| s.to_string()).collect(),
            crypto_stores: vec!["matrix-js-sdk::matrix-sdk-crypto".into()],
            contents,
        }
    }

    fn core_keys(keys: &[&str]) -> Option<StoreContents> {
        Some(StoreContents {
            object_stores: vec!["core".into()],
            core_keys: Some(keys.iter().map(|s| s.to_string()).collect()),
            legacy_accounts: None,
            account_user_id: None,
            account_device_id: None,
        })
    }

    #[test]
    fn reads_the_servers_answer_for_one_device() {
        let has = server_device(200, answer("BOT", "ED").as_bytes(), USER, "BOT", None);
        assert_eq!(has, ServerDevice::HasKeys { ed25519: "ED".into() });
        assert_eq!(server_device(200, answer("OTHER", "ED").as_bytes(), USER, "BOT", None), ServerDevice::NoKeys);
        assert_eq!(server_device(200, br#"{"device_keys":{},"failures":{}}"#, USER, "BOT", None), ServerDevice::NoKeys);
        for (status, body, err) in [
            (0u16, &b""[..], Some("TypeError: fetch failed")),
            (401, &br#"{"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token passed."}"#[..], None),
            (502, &b"<html>Bad Gateway</html>"[..], None),
            (200, &b"<html>ok</html>"[..], None),
            (200, &br#"{"device_keys":{"@bot:localhost":{"BOT":{"keys":{"ed25519:BOT":7}}}}}"#[..], None),
        ] {
            assert!(matches!(server_device(status, body, USER, "BOT", err), ServerDevice::Unreadable { .. }), "{status}");
        }
        let ServerDevice::Unreadable { reason } = server_device(401, br#"{"errcode":"M_UNKNOWN_TOKEN"}"#, USER, "BOT", None) else {
            panic!()
        };
        assert_eq!(reason, "keys/query answered 401 (M_UNKNOWN_TOKEN)");
        // A huge network error text is cut.
        let long = "x".repeat(10_000);
        let ServerDevice::Unreadable { reason } = server_device(0, b"", USER, "BOT", Some(&long)) else { panic!() };
        assert_eq!(reason.len(), 300);
    }

    #[test]
    fn keys_on_the_server_and_no_account_in_the_store_is_a_store_loss() {
        let server = ServerDevice::HasKeys { ed25519: "ED".into() };
        // In memory: every restart is a blank store.
        let lost = check_bot_store(bot("BOT"), &BotStore::Memory, &server);
        let BotStoreCheck::StoreLost { missing, empty_store, known_identity, reason, .. } = &lost else { panic!("{lost:?}") };
        assert_eq!((missing.len(), empty_store, known_identity.as_deref()), (0, &None, Some("ED")));
        assert!(reason.contains("BOT") && reason.contains("in memory") && reason.contains("ED"), "{reason}");
        // The data folder wiped: the database is not there.
        let wiped = check_bot_store(bot("BOT"), &idb(&[], None), &server);
        let BotStoreCheck::StoreLost { missing, reason, .. } = &wiped else { panic!("{wiped:?}") };
        assert!(reason.contains("wiped"), "{reason}");
        assert_eq!(missing, &vec!["matrix-js-sdk::matrix-sdk-crypto".to_string()]);
        // There, but without an account (recreated blank).
        let blank = check_bot_store(bot("BOT"), &idb(&["matrix-js-sdk::matrix-sdk-crypto"], core_keys(&[])), &server);
        let BotStoreCheck::StoreLost { missing, empty_store, .. } = &blank else { panic!("{blank:?}") };
        assert_eq!((missing.len(), empty_store.as_deref()), (0, Some("matrix-js-sdk::matrix-sdk-crypto")));
    }

    #[test]
    fn an_account_or_a_store_we_cannot_read_is_healthy_and_a_device_without_keys_is_new() {
        let server = ServerDevice::HasKeys { ed25519: "ED".into() };
        let db = ["matrix-js-sdk::matrix-sdk-crypto"];
        let whole = check_bot_store(bot("BOT"), &idb(&db, core_keys(&["account"])), &server);
        assert!(matches!(whole, BotStoreCheck::Healthy { account: AccountPresence::Present, .. }), "{whole:?}");
        let hashed = check_bot_store(bot("BOT"), &idb(&db, core_keys(&["q8N2mZr0b3YkE1x9dF+Xw7hJ5uLp4cVt6sAaBbCcDdE="])), &server);
        assert!(matches!(hashed, BotStoreCheck::Healthy { account: AccountPresence::Unknown, .. }), "{hashed:?}");
        let unread = check_bot_store(bot("BOT"), &idb(&db, None), &server);
        assert!(matches!(unread, BotStoreCheck::Healthy { account: AccountPresence::Unknown, .. }), "{unread:?}");
        // A first start: nothing on the server to collide with, whatever the store.
        assert_eq!(check_bot_store(bot("BOT"), &BotStore::Memory, &ServerDevice::NoKeys).verdict(), "new-device");
        assert_eq!(check_bot_store(bot("BOT"), &idb(&[], None), &ServerDevice::NoKeys).verdict(), "new-device");
        // No answer: no verdict.
        let down = ServerDevice::Unreadable { reason: "down".into() };
        assert_eq!(check_bot_store(bot("BOT"), &BotStore::Memory, &down).verdict(), "unknown");
    }

    #[test]
    fn a_replacement_needs_the_old_device_signed_out_and_a_new_device_without_keys() {
        let ok = LogoutOutcome::SignedOut;
        assert_eq!(accept_replacement(&bot("OLD"), &ok, &bot("NEW"), &ServerDevice::NoKeys), Ok(()));
        let failed = LogoutOutcome::Failed { status: 502, errcode: None, error: None };
        assert!(accept_replacement(&bot("OLD"), &failed, &bot("NEW"), &ServerDevice::NoKeys).is_err());
        let down = LogoutOutcome::Unreachable { reason: "x".into() };
        assert!(accept_replacement(&bot("OLD"), &down, &bot("NEW"), &ServerDevice::NoKeys).is_err());
        let same = accept_replacement(&bot("OLD"), &ok, &bot("OLD"), &ServerDevice::NoKeys).unwrap_err();
        assert!(same.contains("new device id"), "{same}");
        let other_user = SessionFacts { user_id: "@eve:localhost".into(), ..bot("NEW") };
        assert!(accept_replacement(&bot("OLD"), &ok, &other_user, &ServerDevice::NoKeys).is_err());
        let keyed = ServerDevice::HasKeys { ed25519: "ED".into() };
        assert!(accept_replacement(&bot("OLD"), &ok, &bot("NEW"), &keyed).unwrap_err().contains("already has keys"));
        let unread = ServerDevice::Unreadable { reason: "401".into() };
        assert!(accept_replacement(&bot("OLD"), &ok, &bot("NEW"), &unread).is_err());
    }

}
