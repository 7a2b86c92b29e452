//! verify_one_time_key against real Synapse captures (`tests/fixtures/synapse/*.json` at the
//! workspace root): the "Old key" Synapse printed in its 400 answer and the keys of the rejected
//! keys/upload body, checked against the real device Ed25519 keys used for the capture.
//!
//! Tolerant of the fixtures' shape: it uses `user_id`, `device_id`, `device_keys_used.<label>.ed25519`,
//! `request.body.{one_time_keys,fallback_keys,device_keys}`, `response.body` (the answer's text) and,
//! when present, `signature_check.{old_key_signed_by,new_key_signed_by}` (labels). Files without
//! these parts are skipped, but every test fails when it reads no fixture or checks nothing. The
//! hostile fixtures (`tests/fixtures/hostile/*.json`) only have to never make it panic.

use std::{collections::BTreeMap, fs, path::PathBuf};

use matrix_crypto_guardian_forensics::{verify_one_time_key, Verdict};
use serde_json::Value;

/// Every `*.json` of `tests/fixtures/<kind>/`, parsed. A missing directory, an unreadable or unparsable
/// file, or no file at all fails the test: a suite that reads nothing proves nothing.
fn fixtures(kind: &str) -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(kind);
    let entries = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fixtures at {}: {e}", dir.display()));
    let mut files: Vec<_> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.json fixtures in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), value)
        })
        .collect()
}

/// The error text of a captured answer (`response.body` is the raw body text, or already JSON).
fn error_text(fixture: &Value) -> Option<String> {
    let body = &fixture["response"]["body"];
    let body = match body {
        Value::String(text) => {
            serde_json::from_str::<Value>(text).unwrap_or(Value::String(text.clone()))
        }
        other => other.clone(),
    };
    match body {
        Value::Object(o) => o.get("error").and_then(Value::as_str).map(str::to_owned),
        Value::String(text) => Some(text),
        _ => None,
    }
}

/// The key id and the old key (as JSON text) of Synapse's
/// `One time key <id> already exists. Old key: <json>; new key: <python repr>`.
fn old_key(error: &str) -> Option<(String, String)> {
    let id_start = error.find("One time key ")? + "One time key ".len();
    let id_end = id_start + error[id_start..].find(' ')?;
    let key_id = error[id_start..id_end].to_owned();
    let json_start = error.find("Old key: ")? + "Old key: ".len();
    let mut stream = serde_json::Deserializer::from_str(&error[json_start..]).into_iter::<Value>();
    let old = stream.next()?.ok()?;
    Some((key_id, old.to_string()))
}

/// The user and device the capture was made for (`user_id`, `device_id`).
fn session(fixture: &Value) -> Option<(&str, &str)> {
    Some((fixture["user_id"].as_str()?, fixture["device_id"].as_str()?))
}

fn labels(fixture: &Value) -> BTreeMap<String, String> {
    fixture["device_keys_used"]
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(label, keys)| {
                    Some((label.clone(), keys["ed25519"].as_str()?.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn expected(fixture: &Value, which: &str) -> Option<Vec<String>> {
    let v = &fixture["signature_check"][which];
    match v {
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
        ),
        Value::String(s) => Some(vec![s.clone()]),
        _ => fixture["expect"][which]
            .as_str()
            .map(|s| vec![s.to_owned()]),
    }
}

/// Verdicts of one key object under each labelled device key.
fn verdicts(
    key_json: &str,
    user: &str,
    device: &str,
    labels: &BTreeMap<String, String>,
) -> BTreeMap<String, Verdict> {
    labels
        .iter()
        .map(|(label, ed)| {
            (
                label.clone(),
                verify_one_time_key(key_json, user, device, ed),
            )
        })
        .collect()
}

/// The labels under which the key is Valid; every other label must give Invalid (a signature by
/// the device is there, it's just another identity's).
fn signed_by(name: &str, what: &str, verdicts: &BTreeMap<String, Verdict>) -> Vec<String> {
    for (label, verdict) in verdicts {
        assert!(
            matches!(verdict, Verdict::Valid | Verdict::Invalid),
            "{name}: {what} under {label}: {verdict}"
        );
    }
    verdicts
        .iter()
        .filter(|(_, v)| **v == Verdict::Valid)
        .map(|(l, _)| l.clone())
        .collect()
}

#[test]
fn synapse_old_keys_verify_against_the_real_device_keys() {
    let mut checked_old = 0;
    let mut saw_replaced = false;
    let mut saw_same = false;
    for (name, fixture) in fixtures("synapse") {
        let Some((user, device)) = session(&fixture) else {
            continue;
        };
        let labels = labels(&fixture);
        if labels.is_empty() {
            continue;
        }
        let Some((key_id, old)) = error_text(&fixture).as_deref().and_then(old_key) else {
            continue;
        };

        let old_verdicts = verdicts(&old, user, device, &labels);
        if old.starts_with('"') {
            // Legacy unsigned curve25519 key: nothing to verify.
            assert!(
                old_verdicts
                    .values()
                    .all(|v| *v == Verdict::NoSignatureByDevice),
                "{name}: {old_verdicts:?}"
            );
            continue;
        }
        let by = signed_by(&name, "old key", &old_verdicts);
        assert_eq!(
            by.len(),
            1,
            "{name}: old key {key_id} should verify under exactly one identity: {old_verdicts:?}"
        );
        if let Some(want) = expected(&fixture, "old_key_signed_by") {
            assert_eq!(by, want, "{name}: old key {key_id}");
        }
        checked_old += 1;

        // The new key under the same id, from the rejected request body.
        let body = &fixture["request"]["body"];
        let new = body["one_time_keys"]
            .get(&key_id)
            .or_else(|| body["fallback_keys"].get(&key_id));
        if let Some(new) = new.filter(|v| v.is_object()) {
            let new_by = signed_by(
                &name,
                "new key",
                &verdicts(&new.to_string(), user, device, &labels),
            );
            if let Some(want) = expected(&fixture, "new_key_signed_by") {
                assert_eq!(new_by, want, "{name}: new key {key_id}");
            }
            if new_by != by {
                saw_replaced = true;
            } else {
                saw_same = true;
            }
        }
    }
    eprintln!("checked {checked_old} real Synapse old keys");
    // The two captures the diagnosis rests on are part of the set, and both were checked.
    assert!(
        checked_old >= 2,
        "at least the identity-replaced and same-identity captures have an old key to check ({checked_old})"
    );
    assert!(
        saw_replaced,
        "an identity-replaced capture should yield old and new keys of different identities"
    );
    assert!(
        saw_same,
        "a same-identity capture should yield old and new keys of one identity"
    );
}

/// Every signed key in a captured request body was made by one of the capture's identities, and by
/// the one whose device_keys the body carries, when it carries any.
#[test]
fn synapse_request_keys_verify() {
    let mut checked = 0;
    for (name, fixture) in fixtures("synapse") {
        let Some((user, device)) = session(&fixture) else {
            continue;
        };
        let labels = labels(&fixture);
        let body = &fixture["request"]["body"];
        let body_ed = body["device_keys"]["keys"][format!("ed25519:{device}")].as_str();
        // Only bodies for this device (error_device_id_mismatch uploads another device's keys).
        if body["device_keys"].is_object()
            && body["device_keys"]["device_id"].as_str() != Some(device)
        {
            continue;
        }
        for section in ["one_time_keys", "fallback_keys"] {
            let Some(keys) = body[section].as_object() else {
                continue;
            };
            for (id, key) in keys {
                if !key.is_object() {
                    let verdict = verify_one_time_key(
                        &key.to_string(),
                        user,
                        device,
                        labels.values().next().map_or("", |s| s),
                    );
                    assert!(
                        matches!(
                            verdict,
                            Verdict::NoSignatureByDevice | Verdict::Malformed(_)
                        ),
                        "{name} {id}: {verdict}"
                    );
                    continue;
                }
                if let Some(ed) = body_ed {
                    assert_eq!(
                        verify_one_time_key(&key.to_string(), user, device, ed),
                        Verdict::Valid,
                        "{name} {section} {id}"
                    );
                }
                if !labels.is_empty() {
                    let by =
                        signed_by(&name, id, &verdicts(&key.to_string(), user, device, &labels));
                    assert_eq!(by.len(), 1, "{name} {section} {id}: {by:?}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "no signed key found in any captured request body");
}

/// The exact case from the identity-replaced capture, spelled out.
#[test]
fn identity_replaced_capture_spelled_out() {
    let (_, fixture) = fixtures("synapse")
        .into_iter()
        .find(|(n, _)| n == "conflict_identity_replaced.json")
        .expect("the capture tests/fixtures/synapse/conflict_identity_replaced.json");
    let (user, device) = session(&fixture).unwrap();
    let old_ed = fixture["device_keys_used"]["old"]["ed25519"]
        .as_str()
        .unwrap();
    let new_ed = fixture["device_keys_used"]["new"]["ed25519"]
        .as_str()
        .unwrap();
    let (_, old) = old_key(&error_text(&fixture).unwrap()).unwrap();
    assert_eq!(
        verify_one_time_key(&old, user, device, old_ed),
        Verdict::Valid
    );
    assert_eq!(
        verify_one_time_key(&old, user, device, new_ed),
        Verdict::Invalid
    );
    // What the server advertises after the failed upload (keys/query) is the new identity: the
    // old key no longer verifies against it -> identity replaced.
    let advertised = fixture["keys_query_after"]["body"]["device_keys"][user][device]["keys"]
        [format!("ed25519:{device}")]
    .as_str();
    if let Some(advertised) = advertised {
        assert_eq!(
            verify_one_time_key(&old, user, device, advertised),
            Verdict::Invalid
        );
    }
}

#[test]
fn hostile_answers_never_panic() {
    let mut tried = 0;
    for (name, fixture) in fixtures("hostile") {
        let Some(error) = error_text(&fixture) else {
            continue;
        };
        tried += 1;
        let candidates = [
            old_key(&error).map(|(_, k)| k),
            error.find("Old key: ").map(|i| error[i + 9..].to_owned()),
            Some(error.clone()),
        ];
        let ed = matrix_sdk_crypto::vodozemac::Ed25519SecretKey::new()
            .public_key()
            .to_base64();
        for candidate in candidates.into_iter().flatten() {
            let verdict = verify_one_time_key(&candidate, "@alice:example.org", "JLAFKJWSCS", &ed);
            assert_ne!(verdict, Verdict::Valid, "{name}");
            assert_ne!(verdict, Verdict::Invalid, "{name}");
        }
    }
    assert!(tried > 0, "no hostile fixture has an answer text to try");
}
