//! verify_one_time_key against real keys: a matrix-sdk-crypto `Account` (vodozemac underneath)
//! signs its one-time keys exactly as matrix-js-sdk's rust crypto uploads them.

use matrix_crypto_guardian_forensics::{verify_one_time_key, Verdict};
use matrix_sdk_crypto::{olm::Account, types::SignedKey, vodozemac::Curve25519PublicKey};
use ruma_common::{
    canonical_json::to_canonical_value, device_id, user_id, DeviceKeyAlgorithm, DeviceKeyId,
};
use serde_json::{json, Value};

const ALICE: &str = "@alice:localhost";

fn account(device: &str) -> Account {
    Account::with_device_id(user_id!("@alice:localhost"), device.into())
}

fn ed25519(account: &Account) -> String {
    account.identity_keys().ed25519.to_base64()
}

/// The verdict on `json` as a one-time key of Alice's `DEVICEA`, whose identity is `identity`.
fn devicea_verdict(json: &str, identity: &Account) -> Verdict {
    verify_one_time_key(json, ALICE, "DEVICEA", &ed25519(identity))
}

/// The signed one-time keys an account would put in a keys/upload body, as JSON text. A fresh
/// matrix-sdk-crypto account already holds 50 (what a first keys/upload carries); ask for more.
fn signed_otks(account: &mut Account, extra: usize) -> Vec<(String, String)> {
    account.generate_one_time_keys(extra);
    account
        .signed_one_time_keys()
        .into_iter()
        .map(|(id, raw)| (id.to_string(), raw.json().get().to_owned()))
        .collect()
}

/// A fallback key signed the way matrix-sdk-crypto's Account signs one (`fallback: true`).
fn signed_fallback(account: &Account) -> String {
    let curve = Curve25519PublicKey::from_bytes([7u8; 32]);
    let mut key = SignedKey::new_fallback(curve);
    let signature = account
        .sign_json(to_canonical_value(&key).unwrap())
        .unwrap();
    key.signatures_mut().add_signature(
        account.user_id().to_owned(),
        DeviceKeyId::from_parts(DeviceKeyAlgorithm::Ed25519, account.device_id()),
        signature,
    );
    serde_json::to_string(&key).unwrap()
}

#[test]
fn own_device_key_is_valid() {
    let mut device = account("DEVICEA");
    let keys = signed_otks(&mut device, 5);
    assert!(keys.len() >= 5, "{}", keys.len());
    for (id, json) in &keys {
        assert!(id.starts_with("signed_curve25519:"), "{id}");
        let value: Value = serde_json::from_str(json).unwrap();
        assert!(
            value["key"].is_string() && value["signatures"][ALICE]["ed25519:DEVICEA"].is_string()
        );
        assert_eq!(
            devicea_verdict(json, &device),
            Verdict::Valid,
            "{json}"
        );
    }
}

#[test]
fn fallback_key_is_valid_and_the_flag_is_signed() {
    let device = account("DEVICEA");
    let json = signed_fallback(&device);
    assert!(json.contains("\"fallback\":true"), "{json}");
    assert_eq!(devicea_verdict(&json, &device), Verdict::Valid);

    // Drop the flag: the signature covered it, so it no longer verifies.
    let mut value: Value = serde_json::from_str(&json).unwrap();
    value.as_object_mut().unwrap().remove("fallback");
    assert_eq!(devicea_verdict(&value.to_string(), &device), Verdict::Invalid);
}

/// Store loss: a new identity under the same device id. The old key, made by the old identity,
/// does not verify under the new identity's Ed25519 key.
#[test]
fn key_of_a_replaced_identity_is_invalid() {
    let mut old_identity = account("DEVICEA");
    let new_identity = account("DEVICEA");
    let (_, old_key) = signed_otks(&mut old_identity, 1).remove(0);

    assert_eq!(devicea_verdict(&old_key, &old_identity), Verdict::Valid);
    assert_eq!(devicea_verdict(&old_key, &new_identity), Verdict::Invalid);
}

#[test]
fn another_devices_key_is_invalid_or_unsigned() {
    let mut device_a = account("DEVICEA");
    let device_b = account("DEVICEB");
    let (_, key) = signed_otks(&mut device_a, 1).remove(0);

    for (user, device, identity, want, why) in [
        (ALICE, "DEVICEA", &device_b, Verdict::Invalid, "B's key under A's key id: signed, not by B"),
        (ALICE, "DEVICEB", &device_b, Verdict::NoSignatureByDevice, "no signature by ed25519:DEVICEB"),
        ("@bob:localhost", "DEVICEA", &device_a, Verdict::NoSignatureByDevice, "no signature by that user"),
    ] {
        assert_eq!(verify_one_time_key(&key, user, device, &ed25519(identity)), want, "{why}");
    }
}

#[test]
fn tampered_key_is_invalid() {
    let mut device = account("DEVICEA");
    let (_, json) = signed_otks(&mut device, 1).remove(0);
    let mut value: Value = serde_json::from_str(&json).unwrap();
    value["key"] = json!(Curve25519PublicKey::from_bytes([9u8; 32]).to_base64());
    assert_eq!(devicea_verdict(&value.to_string(), &device), Verdict::Invalid);

    // Extra signed field added after signing.
    let mut value: Value = serde_json::from_str(&json).unwrap();
    value["extra"] = json!("x");
    assert_eq!(devicea_verdict(&value.to_string(), &device), Verdict::Invalid);

    // `unsigned` is outside the signature, as the spec says.
    let mut value: Value = serde_json::from_str(&json).unwrap();
    value["unsigned"] = json!({"note": "added by a server"});
    assert_eq!(devicea_verdict(&value.to_string(), &device), Verdict::Valid);
}

#[test]
fn canonical_form_is_what_counts_not_the_input_text() {
    let mut device = account("DEVICEA");
    let (_, json) = signed_otks(&mut device, 1).remove(0);
    let value: Value = serde_json::from_str(&json).unwrap();
    // Re-ordered fields, whitespace: same canonical JSON, still valid.
    let reordered = format!(
        "{{ \"signatures\" : {} ,\n  \"key\": {} }}",
        serde_json::to_string_pretty(&value["signatures"]).unwrap(),
        value["key"]
    );
    assert_eq!(devicea_verdict(&reordered, &device), Verdict::Valid);
}

#[test]
fn wrapped_in_its_key_id_map_is_accepted() {
    let mut device = account("DEVICEA");
    let (id, json) = signed_otks(&mut device, 1).remove(0);
    let wrapped = format!("{{\"{id}\": {json}}}");
    assert_eq!(devicea_verdict(&wrapped, &device), Verdict::Valid);
}

#[test]
fn unsigned_objects_have_no_signature() {
    let device = account("DEVICEA");
    let key = Curve25519PublicKey::from_bytes([3u8; 32]).to_base64();
    for json in [
        json!({ "key": key }).to_string(),
        json!({ "key": key, "signatures": {} }).to_string(),
        json!({ "key": key, "signatures": { ALICE: { "ed25519:OTHER": "AAAA" } } }).to_string(),
        format!("\"{key}\""), // a legacy unsigned curve25519 key: a bare string
    ] {
        assert_eq!(
            devicea_verdict(&json, &device),
            Verdict::NoSignatureByDevice,
            "{json}"
        );
    }
}

#[test]
fn junk_is_malformed_and_never_panics() {
    let mut device = account("DEVICEA");
    let ed = ed25519(&device);
    let (_, good) = signed_otks(&mut device, 1).remove(0);
    let key = Curve25519PublicKey::from_bytes([3u8; 32]).to_base64();
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let huge = format!("{{\"key\":\"{}\"}}", "A".repeat(100_000));

    let junk_keys = [
        "".to_owned(),
        "not json".to_owned(),
        "null".to_owned(),
        "42".to_owned(),
        "[]".to_owned(),
        "\"not a key\"".to_owned(),
        "{}".to_owned(),
        json!({ "key": 5, "signatures": {} }).to_string(),
        json!({ "key": "not base64!", "signatures": {} }).to_string(),
        json!({ "key": "AAAA", "signatures": {} }).to_string(),
        json!({ "key": key, "signatures": "x" }).to_string(),
        json!({ "key": key, "signatures": { "not a user id": { "ed25519:DEVICEA": "AAAA" } } }).to_string(),
        json!({ "key": key, "signatures": { ALICE: { "ed25519:DEVICEA": "%%%" } } }).to_string(),
        json!({ "key": key, "signatures": { ALICE: { "ed25519:DEVICEA": "AAAA" } } }).to_string(),
        json!({ "key": key, "signatures": { ALICE: { "ed25519:DEVICEA": 1 } } }).to_string(),
        json!({ "key": key, "n": 1.5, "signatures": { ALICE: { "ed25519:DEVICEA": good_signature(&good) } } })
            .to_string(),
        json!({ "a": {}, "b": {} }).to_string(),
        deep,
        huge,
        "{\"key\":\"\u{0}\"}".to_owned(),
    ];
    for junk in &junk_keys {
        let verdict = verify_one_time_key(junk, ALICE, "DEVICEA", &ed);
        assert!(
            matches!(verdict, Verdict::Malformed(_)),
            "{verdict:?} for {}",
            &junk[..junk.len().min(80)]
        );
        assert!(verdict.to_string().starts_with("malformed: "));
    }

    for (user, device_id, ed_key) in [
        ("alice", "DEVICEA", ed.as_str()),
        ("", "DEVICEA", ed.as_str()),
        (ALICE, "", ed.as_str()),
        (ALICE, "  ", ed.as_str()),
        (ALICE, "DEVICEA", ""),
        (ALICE, "DEVICEA", "AAAA"),
        (ALICE, "DEVICEA", "not base64!"),
        (ALICE, "DEVICEA", &key[..10]),
    ] {
        let verdict = verify_one_time_key(&good, user, device_id, ed_key);
        assert!(
            matches!(verdict, Verdict::Malformed(_)),
            "{verdict:?} for {user:?} {device_id:?} {ed_key:?}"
        );
    }
}

fn good_signature(json: &str) -> String {
    let value: Value = serde_json::from_str(json).unwrap();
    value["signatures"][ALICE]["ed25519:DEVICEA"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn verdict_words() {
    assert_eq!(Verdict::Valid.to_string(), "valid");
    assert_eq!(Verdict::Invalid.to_string(), "invalid");
    assert_eq!(Verdict::NoSignatureByDevice.to_string(), "no-signature");
    assert_eq!(
        Verdict::Malformed("why".into()).to_string(),
        "malformed: why"
    );
    assert_eq!(Verdict::Malformed("why".into()).as_str(), "malformed");
    assert_eq!(Verdict::Malformed("why".into()).reason(), Some("why"));
    assert_eq!(Verdict::Valid.reason(), None);
    let _ = device_id!("UNUSED");
}

/// Spec example shape, hand-written JSON from another implementation: a key signed by a raw
/// Ed25519 secret key over the canonical JSON `{"key":"..."}`.
#[test]
fn hand_canonicalized_key_from_a_raw_vodozemac_key() {
    use matrix_sdk_crypto::vodozemac::Ed25519SecretKey;
    let secret = Ed25519SecretKey::new();
    let public = secret.public_key().to_base64();
    let key = Curve25519PublicKey::from_bytes([11u8; 32]).to_base64();
    let canonical = format!("{{\"key\":\"{key}\"}}");
    let signature = secret.sign(canonical.as_bytes()).to_base64();
    let json = json!({ "key": key, "signatures": { "@carol:example.org": { "ed25519:JLAFKJWSCS": signature } } })
        .to_string();
    assert_eq!(
        verify_one_time_key(&json, "@carol:example.org", "JLAFKJWSCS", &public),
        Verdict::Valid
    );
}
