//! Room-key export round trip with a real Megolm session (vodozemac through matrix-sdk-crypto).

use matrix_crypto_guardian_forensics::{
    count_exported_room_keys, decrypt_room_key_export, encrypt_room_key_export,
    DEFAULT_EXPORT_ROUNDS,
};
use matrix_sdk_crypto::vodozemac::{
    megolm::{ExportedSessionKey, GroupSession, InboundGroupSession, SessionConfig},
    olm::Account,
};
use serde_json::{json, Value};

const ROUNDS: u32 = 1_000; // tests only; real exports use DEFAULT_EXPORT_ROUNDS

struct Room {
    outbound: GroupSession,
    keys_json: String,
}

/// A room key as matrix-js-sdk's `exportRoomKeysAsJson()` lists it, for a session this device
/// created (sender key = our curve25519, claimed key = our ed25519).
fn room_with_exported_key() -> Room {
    let device = Account::new();
    let mut outbound = GroupSession::new(SessionConfig::version_1());
    // A couple of messages first, so the export is at a later index than 0 would be for a
    // forwarded key; the inbound session is created from the current (ratchet index 2) key.
    let _ = outbound.encrypt("first");
    let _ = outbound.encrypt("second");
    let inbound = InboundGroupSession::new(&outbound.session_key(), SessionConfig::version_1());
    let exported: ExportedSessionKey = inbound.export_at_first_known_index();

    let keys = json!([{
        "algorithm": "m.megolm.v1.aes-sha2",
        "room_id": "!room:localhost",
        "sender_key": device.curve25519_key().to_base64(),
        "session_id": inbound.session_id(),
        "session_key": exported.to_base64(),
        "sender_claimed_keys": { "ed25519": device.ed25519_key().to_base64() },
        "forwarding_curve25519_key_chain": [],
        "org.matrix.msc3061.shared_history": false
    }]);
    Room {
        outbound,
        keys_json: keys.to_string(),
    }
}

#[test]
fn round_trip_keeps_a_working_room_key() {
    let mut room = room_with_exported_key();
    let export =
        encrypt_room_key_export(&room.keys_json, "correct horse battery staple", ROUNDS).unwrap();

    assert!(
        export.starts_with("-----BEGIN MEGOLM SESSION DATA-----\n"),
        "{export}"
    );
    assert!(export
        .trim_end()
        .ends_with("-----END MEGOLM SESSION DATA-----"));
    assert!(
        !export.contains(&room.outbound.session_id()),
        "session id must not appear in clear"
    );

    let decrypted = decrypt_room_key_export(&export, "correct horse battery staple").unwrap();
    let decrypted: Value = serde_json::from_str(&decrypted).unwrap();
    let original: Value = serde_json::from_str(&room.keys_json).unwrap();
    assert_eq!(decrypted.as_array().unwrap().len(), 1);
    for field in [
        "algorithm",
        "room_id",
        "sender_key",
        "session_id",
        "session_key",
        "sender_claimed_keys",
    ] {
        assert_eq!(decrypted[0][field], original[0][field], "{field}");
    }

    // The key that came back decrypts what the room's outbound session encrypts.
    let session_key =
        ExportedSessionKey::from_base64(decrypted[0]["session_key"].as_str().unwrap()).unwrap();
    let mut imported = InboundGroupSession::import(&session_key, SessionConfig::version_1());
    let message = room.outbound.encrypt("hello after restore");
    let plaintext = imported.decrypt(&message).unwrap();
    assert_eq!(plaintext.plaintext, b"hello after restore");
    assert_eq!(plaintext.message_index, 2);
}

#[test]
fn wrong_passphrase_and_damaged_files_fail_cleanly() {
    let room = room_with_exported_key();
    let export = encrypt_room_key_export(&room.keys_json, "pass", ROUNDS).unwrap();
    let err = decrypt_room_key_export(&export, "wrong").unwrap_err();
    assert!(err.contains("MAC"), "{err}");

    assert!(decrypt_room_key_export("not an export", "pass").is_err());
    let truncated = export.replace("-----END MEGOLM SESSION DATA-----", "");
    assert!(decrypt_room_key_export(&truncated, "pass").is_err());
    let body_only = "-----BEGIN MEGOLM SESSION DATA-----\nAAAA\n-----END MEGOLM SESSION DATA-----";
    assert!(decrypt_room_key_export(body_only, "pass").is_err());
}

#[test]
fn exports_differ_each_time_salt_and_iv_are_random() {
    let room = room_with_exported_key();
    let a = encrypt_room_key_export(&room.keys_json, "pass", ROUNDS).unwrap();
    let b = encrypt_room_key_export(&room.keys_json, "pass", ROUNDS).unwrap();
    assert_ne!(a, b);
}

#[test]
fn empty_list_round_trips() {
    let export = encrypt_room_key_export("[]", "pass", ROUNDS).unwrap();
    assert_eq!(decrypt_room_key_export(&export, "pass").unwrap(), "[]");
}

#[test]
fn bad_input_is_refused_without_quoting_it() {
    let room = room_with_exported_key();
    let original: Value = serde_json::from_str(&room.keys_json).unwrap();
    let secret = original[0]["session_key"].as_str().unwrap().to_owned();

    assert!(encrypt_room_key_export(&room.keys_json, "", ROUNDS)
        .unwrap_err()
        .contains("passphrase"));
    assert!(encrypt_room_key_export(&room.keys_json, "pass", 0)
        .unwrap_err()
        .contains("rounds"));
    assert!(encrypt_room_key_export(&room.keys_json, "pass", u32::MAX)
        .unwrap_err()
        .contains("rounds"));

    // A damaged session key: the error must not echo any of the key material.
    let mut damaged = original.clone();
    damaged[0]["session_key"] = json!(format!("{}!!", &secret[..secret.len() - 4]));
    let err = encrypt_room_key_export(&damaged.to_string(), "pass", ROUNDS).unwrap_err();
    assert!(!err.contains(&secret[..16]), "{err}");

    let mut missing = original.clone();
    missing[0].as_object_mut().unwrap().remove("session_key");
    let err = encrypt_room_key_export(&missing.to_string(), "pass", ROUNDS).unwrap_err();
    assert!(err.starts_with("room keys are not"), "{err}");

    for junk in [
        "",
        "{}",
        "null",
        "[1]",
        "not json",
        &original[0].to_string(),
    ] {
        assert!(
            encrypt_room_key_export(junk, "pass", ROUNDS).is_err(),
            "{junk}"
        );
    }
    assert_eq!(count_exported_room_keys(&room.keys_json), Ok(1));
    assert!(count_exported_room_keys("{}").is_err());
}

#[test]
fn default_rounds_match_element() {
    assert_eq!(DEFAULT_EXPORT_ROUNDS, 500_000);
}

#[test]
fn version_names_both_crates() {
    let v = matrix_crypto_guardian_forensics::version();
    assert!(
        v.starts_with("matrix-crypto-guardian-forensics 0.1.0"),
        "{v}"
    );
    assert!(v.contains("matrix-sdk-crypto 0.18.0"), "{v}");
}
