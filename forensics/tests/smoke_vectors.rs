//! Helpers for the browser smoke test (`forensics/smoke/run.sh`), ignored in normal runs:
//! - `write_smoke_vectors` writes real test vectors (throwaway keys) for the page to check;
//! - `decrypt_browser_export` decrypts, natively, the export file the wasm build produced in
//!   Chromium, proving the browser's output is a valid Megolm key export.
//!
//! `FORENSICS_SMOKE_DIR` (default `/tmp/forensics-smoke`) is where both read and write.

use std::path::PathBuf;

use matrix_crypto_guardian_forensics::decrypt_room_key_export;
use matrix_sdk_crypto::{
    olm::Account,
    vodozemac::megolm::{GroupSession, InboundGroupSession, SessionConfig},
};
use ruma_common::user_id;
use serde_json::{json, Value};

const PASSPHRASE: &str = "smoke-test-passphrase";

fn dir() -> PathBuf {
    PathBuf::from(
        std::env::var("FORENSICS_SMOKE_DIR").unwrap_or_else(|_| "/tmp/forensics-smoke".into()),
    )
}

#[test]
#[ignore]
fn write_smoke_vectors() {
    let mut device = Account::with_device_id(user_id!("@smoke:localhost"), "SMOKEDEV".into());
    let replaced = Account::with_device_id(user_id!("@smoke:localhost"), "SMOKEDEV".into());
    device.generate_one_time_keys(1);
    let (_, otk) = device.signed_one_time_keys().into_iter().next().unwrap();

    let outbound = GroupSession::new(SessionConfig::version_1());
    let inbound = InboundGroupSession::new(&outbound.session_key(), SessionConfig::version_1());
    let keys = json!([{
        "algorithm": "m.megolm.v1.aes-sha2",
        "room_id": "!smoke:localhost",
        "sender_key": device.identity_keys().curve25519.to_base64(),
        "session_id": inbound.session_id(),
        "session_key": inbound.export_at_first_known_index().to_base64(),
        "sender_claimed_keys": { "ed25519": device.identity_keys().ed25519.to_base64() },
        "forwarding_curve25519_key_chain": []
    }]);

    let vectors = json!({
        "userId": "@smoke:localhost",
        "deviceId": "SMOKEDEV",
        "signedKey": otk.json().get(),
        "ed25519": device.identity_keys().ed25519.to_base64(),
        "replacedEd25519": replaced.identity_keys().ed25519.to_base64(),
        "keysJson": keys.to_string(),
        "sessionId": inbound.session_id(),
        "passphrase": PASSPHRASE,
    });
    std::fs::create_dir_all(dir()).unwrap();
    std::fs::write(
        dir().join("vectors.json"),
        serde_json::to_string_pretty(&vectors).unwrap(),
    )
    .unwrap();
}

#[test]
#[ignore]
fn decrypt_browser_export() {
    let vectors: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("vectors.json")).unwrap())
            .unwrap();
    let export = std::fs::read_to_string(dir().join("browser-export.txt")).unwrap();
    let keys: Value =
        serde_json::from_str(&decrypt_room_key_export(&export, PASSPHRASE).unwrap()).unwrap();
    assert_eq!(keys[0]["session_id"], vectors["sessionId"]);
    assert_eq!(keys[0]["room_id"], "!smoke:localhost");
}
