//! The model against real Synapse answers (tests/fixtures/synapse, captured by
//! scripts/capture-fixtures.py) and hostile bodies (tests/fixtures/hostile).
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;

use matrix_crypto_guardian::storm::{
    classify_upload_answer, parse_upload_request, Homeserver,
    ParsedUpload, UploadAnswer,
};
use matrix_crypto_guardian::diagnosis::{diagnose, DiagnosisInput};
use serde_json::Value;

/// A model value as serde_json sees the JSON it writes.
fn to_serde(x: &impl serde::Serialize) -> Value {
    serde_json::to_value(x).unwrap()
}

fn fixture_dir(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(sub)
}

fn load_all(sub: &str) -> Vec<Value> {
    let mut paths: Vec<_> = std::fs::read_dir(fixture_dir(sub))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no fixtures in {sub}");
    paths
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

fn load(sub: &str, name: &str) -> Value {
    let p = fixture_dir(sub).join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn status(fx: &Value) -> u16 {
    fx["response"]["status"].as_u64().unwrap() as u16
}

fn body(fx: &Value) -> &[u8] {
    fx["response"]["body"].as_str().unwrap().as_bytes()
}

fn request_bytes(fx: &Value) -> Option<Vec<u8>> {
    let b = &fx["request"]["body"];
    (!b.is_null()).then(|| serde_json::to_vec(b).unwrap())
}

fn kind(a: &UploadAnswer) -> &'static str {
    match a {
        UploadAnswer::Accepted { .. } => "accepted",
        UploadAnswer::Conflict(_) => "conflict",
        UploadAnswer::OtkLimit(_) => "otk-limit",
        UploadAnswer::OtherError { .. } => "other-error",
        UploadAnswer::Unreadable { .. } => "unreadable",
    }
}

/// Checks a classification against a fixture's "expect" block.
fn check_expect(name: &str, a: &UploadAnswer, expect: &Value) {
    assert_eq!(
        kind(a),
        expect["classification"].as_str().unwrap(),
        "{name}: {a:?}"
    );
    match a {
        UploadAnswer::Conflict(c) => {
            if let Some(id) = expect["key_id"].as_str() {
                assert_eq!(c.key_id.as_deref(), Some(id), "{name}");
            }
            if let Some(d) = expect["details_known"].as_bool() {
                assert_eq!(c.details_known, d, "{name}");
            }
            if let Some(hs) = expect["homeserver"].as_str() {
                assert_eq!(to_serde(&c.homeserver), hs, "{name}");
            }
            if let Some(u) = expect["signer_user_id"].as_str() {
                assert_eq!(c.signer_user_id.as_deref(), Some(u), "{name}");
            }
            if let Some(d) = expect["signer_device_id"].as_str() {
                assert_eq!(c.signer_device_id.as_deref(), Some(d), "{name}");
            }
        }
        UploadAnswer::OtkLimit(l) => {
            for (field, got) in [("uploading", l.uploading), ("would_hold", l.would_hold), ("limit", l.limit)] {
                if let Some(n) = expect[field].as_u64() {
                    assert_eq!(got, Some(n), "{name}: {field}");
                }
            }
        }
        UploadAnswer::OtherError { errcode, .. } => {
            if let Some(e) = expect["errcode"].as_str() {
                assert_eq!(errcode.as_deref(), Some(e), "{name}");
            }
        }
        UploadAnswer::Unreadable { reason, .. } => {
            if let Some(r) = expect["reason_contains"].as_str() {
                assert!(reason.contains(r), "{name}: {reason}");
            }
        }
        UploadAnswer::Accepted {
            one_time_key_counts,
        } => {
            if let Some(counts) = expect["one_time_key_counts"].as_object() {
                for (alg, n) in counts {
                    assert_eq!(one_time_key_counts.get(alg).copied(), n.as_u64(), "{name}");
                }
            }
        }
    }
}

#[test]
fn every_real_synapse_answer_classifies_as_expected() {
    for fx in load_all("synapse") {
        let name = fx["name"].as_str().unwrap();
        assert!(
            fx["synapse_version"].as_str().unwrap().starts_with("1."),
            "{name}"
        );
        let a = classify_upload_answer(status(&fx), body(&fx), true);
        check_expect(name, &a, &fx["expect"]);
    }
}

#[test]
fn every_hostile_answer_classifies_as_expected() {
    for fx in load_all("hostile") {
        let name = fx["name"].as_str().unwrap();
        let complete = fx["response"]["body_complete"].as_bool().unwrap_or(true);
        let a = classify_upload_answer(status(&fx), body(&fx), complete);
        check_expect(name, &a, &fx["expect"]);
    }
}

#[test]
fn real_conflicts_carry_the_keys_and_signers() {
    let users = "@guardian:localhost";
    for name in ["conflict_same_identity", "conflict_identity_replaced"] {
        let fx = load("synapse", name);
        let UploadAnswer::Conflict(mut c) = classify_upload_answer(status(&fx), body(&fx), true) else {
            panic!("{name}")
        };
        assert_eq!(c.homeserver, Homeserver::Synapse);
        assert_eq!(c.signer_user_id.as_deref(), Some(users));
        assert_eq!(c.signer_device_id.as_deref(), Some("GUARDIANDEV"));
        let old = c.old_key.clone().unwrap();
        assert_eq!(old.key.len(), 43, "unpadded base64 of 32 bytes");
        assert!(old.signature(users, "GUARDIANDEV").is_some());
        // The answer's repr of the new key is not read.
        assert_eq!(c.new_key, None, "{name}");
        assert!(!c.details_known, "{name}");

        // The new key is what we sent: the request's key under the conflicting id, whole.
        let req = parse_upload_request(&request_bytes(&fx).unwrap());
        let req = req.request().unwrap();
        let id = c.key_id.clone().unwrap();
        assert!(req.one_time_key_ids.contains(&id));
        c.fill_new_key_from(req);
        assert!(c.details_known, "{name}");
        let new = c.new_key.as_ref().unwrap();
        assert_eq!(Some(new), req.signed_key(&id));
        assert_eq!(
            to_serde(&new.raw),
            fx["request"]["body"]["one_time_keys"][&id],
            "{name}: the request's JSON, signatures included"
        );
        assert!(new.signature(users, "GUARDIANDEV").is_some());
        assert_eq!(c.key_material_differs(), Some(true));
        // The old key named the signer; the request does not change it.
        assert_eq!(c.signer_device_id.as_deref(), Some("GUARDIANDEV"));
        assert_eq!(c.old_key.as_ref(), Some(&old));
    }
}

#[test]
fn identity_replaced_fixture_shows_two_identities() {
    let fx = load("synapse", "conflict_identity_replaced");
    let old_ed = fx["device_keys_used"]["old"]["ed25519"].as_str().unwrap();
    let new_ed = fx["device_keys_used"]["new"]["ed25519"].as_str().unwrap();
    let req = parse_upload_request(&request_bytes(&fx).unwrap());
    let req = req.request().unwrap();
    assert!(req.has_device_keys);
    let dk = req.device_keys.as_ref().unwrap();
    assert_eq!(dk.user_id, "@guardian:localhost");
    assert_eq!(dk.device_id, "GUARDIANDEV");
    assert_eq!(dk.ed25519.as_deref(), Some(new_ed));
    assert_ne!(old_ed, new_ed);
    assert_eq!(req.one_time_key_ids.len(), 5);
    assert_eq!(req.fallback_key_ids.len(), 1);
    // After the 400, Synapse advertises the NEW identity (DESIGN.md, field facts).
    let advertised = &fx["keys_query_after"]["body"]["device_keys"]["@guardian:localhost"]
        ["GUARDIANDEV"]["keys"]["ed25519:GUARDIANDEV"];
    assert_eq!(advertised.as_str(), Some(new_ed));

    // With the verdict the capture script computed with signedjson (the old key is signed by the
    // old identity, not by the current one the request announces), it is a replaced identity.
    let UploadAnswer::Conflict(mut c) = classify_upload_answer(400, body(&fx), true) else {
        panic!()
    };
    c.fill_new_key_from(req);
    assert_eq!(c.key_material_differs(), Some(true));
    let signed_by = fx["signature_check"]["old_key_signed_by"]
        .as_array()
        .unwrap();
    let signed_by_current = signed_by.iter().any(|s| s == "new");
    assert!(!signed_by_current);
    let d = diagnose(&DiagnosisInput {
        conflict: &c,
        current_ed25519: dk.ed25519.as_deref(),
        old_key_signature_valid: Some(signed_by_current),
        server_otk_count: Some(5),
        request_had_device_keys: req.has_device_keys,
    });
    assert_eq!(d.kind(), fx["expect"]["diagnosis"].as_str().unwrap());
}

#[test]
fn same_identity_fixture_diagnoses_concurrent_writers() {
    let fx = load("synapse", "conflict_same_identity");
    let req = parse_upload_request(&request_bytes(&fx).unwrap());
    let req = req.request().unwrap();
    assert!(
        !req.has_device_keys,
        "the two-tab case sends a single key, no device keys"
    );
    assert_eq!(req.key_ids().len(), 1);
    let UploadAnswer::Conflict(mut c) = classify_upload_answer(400, body(&fx), true) else {
        panic!()
    };
    c.fill_new_key_from(req);
    assert_eq!(c.key_material_differs(), Some(true));
    let current = fx["device_keys_used"]["old"]["ed25519"].as_str();
    let d = diagnose(&DiagnosisInput {
        conflict: &c,
        current_ed25519: current,
        // The current identity is the only one ("old"), and it signed the old key.
        old_key_signature_valid: Some(
            fx["signature_check"]["old_key_signed_by"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == "old"),
        ),
        server_otk_count: Some(5),
        request_had_device_keys: false,
    });
    assert_eq!(d.kind(), "concurrent-writers");
    assert!(!d.reason().contains("not known"), "{}", d.reason());
}

#[test]
fn unsigned_legacy_conflict() {
    let fx = load("synapse", "conflict_unsigned_key");
    let UploadAnswer::Conflict(mut c) = classify_upload_answer(400, body(&fx), true) else {
        panic!()
    };
    assert_eq!(c.algorithm.as_deref(), Some("curve25519"));
    assert!(c.old_key.as_ref().unwrap().signatures.is_empty());
    assert_eq!(c.signer_user_id, None);
    assert!(!c.details_known);
    let req = parse_upload_request(&request_bytes(&fx).unwrap());
    let req = req.request().unwrap();
    c.fill_new_key_from(req);
    assert!(c.details_known);
    let id = c.key_id.as_deref().unwrap();
    // A legacy key is a bare string in the request, and so is the new key's raw JSON.
    assert!(fx["request"]["body"]["one_time_keys"][id].is_string());
    assert_eq!(to_serde(&c.new_key.as_ref().unwrap().raw), fx["request"]["body"]["one_time_keys"][id]);
    assert_eq!(req.public_key(id), Some(c.new_key.as_ref().unwrap().key.as_str()));
    // Neither key is signed: still no signer.
    assert_eq!(c.signer_user_id, None);
    let d = diagnose(&DiagnosisInput {
        conflict: &c,
        current_ed25519: None,
        old_key_signature_valid: None,
        server_otk_count: None,
        request_had_device_keys: false,
    });
    assert_eq!(d.kind(), "undetermined");
    assert!(d.reason().contains("unsigned"));
}

/// Property: every prefix of every real answer classifies without panicking, and a cut conflict is
/// still recognised (with its key id) as soon as the key id is in the prefix, any old key read
/// from a cut text is the real one, and no new key is ever read from the answer.
#[test]
fn every_prefix_of_every_real_answer() {
    for fx in load_all("synapse").into_iter().chain(load_all("hostile")) {
        let name = fx["name"].as_str().unwrap().to_owned();
        let full = body(&fx);
        let full_answer = classify_upload_answer(status(&fx), full, true);
        for end in 0..full.len() {
            let a = classify_upload_answer(status(&fx), &full[..end], false);
            if let UploadAnswer::Conflict(whole) = &full_answer {
                let prefix = String::from_utf8_lossy(&full[..end]);
                if whole.homeserver == Homeserver::Synapse && prefix.contains(" already exists") {
                    let UploadAnswer::Conflict(c) = &a else {
                        panic!("{name} prefix {end}: {a:?}")
                    };
                    assert_eq!(c.key_id, whole.key_id, "{name} prefix {end}");
                    // Whatever a cut text yields must be right: partial keys never parse.
                    if c.old_key.is_some() {
                        assert_eq!(c.old_key, whole.old_key, "{name} prefix {end}");
                    }
                    assert_eq!(c.new_key, None, "{name} prefix {end}");
                }
            }
            if let UploadAnswer::Unreadable { reason, .. } = &a {
                assert!(!reason.is_empty());
            }
        }
    }
}

/// Property: every strict prefix of every real request is "not comparable" (never a different,
/// smaller key-id set that the breaker could confuse with another request), and nothing panics.
#[test]
fn every_prefix_of_every_real_request() {
    for fx in load_all("synapse") {
        let Some(full) = request_bytes(&fx) else {
            continue;
        };
        assert!(matches!(
            parse_upload_request(&full),
            ParsedUpload::Comparable(_)
        ));
        for end in 0..full.len() {
            assert!(
                matches!(
                    parse_upload_request(&full[..end]),
                    ParsedUpload::NotComparable { .. }
                ),
                "{} prefix {end}",
                fx["name"]
            );
        }
    }
}

#[test]
fn ten_megabytes_and_invalid_utf8_bodies() {
    let real = load("synapse", "conflict_identity_replaced");
    // The real conflict followed by 10 MB of padding: too large to parse, still recognised.
    let mut big = body(&real).to_vec();
    big.extend(std::iter::repeat_n(b' ', 10 * 1024 * 1024));
    let UploadAnswer::Conflict(c) = classify_upload_answer(400, &big, true) else {
        panic!()
    };
    assert_eq!(c.key_id.as_deref(), Some("signed_curve25519:AAAAAAAAAAk"));
    // 10 MB of a JSON string: unreadable, quickly.
    let mut junk = b"{\"errcode\":\"M_UNKNOWN\",\"error\":\"".to_vec();
    junk.extend(std::iter::repeat_n(b'z', 10 * 1024 * 1024));
    assert!(matches!(
        classify_upload_answer(400, &junk, true),
        UploadAnswer::Unreadable { .. }
    ));
    // Invalid UTF-8 inside the real conflict: the message bytes are replaced, the key id survives.
    let mut bad = body(&real).to_vec();
    let at = bad.windows(8).position(|w| w == b"Old key:").unwrap();
    bad[at + 12] = 0xFF;
    match classify_upload_answer(400, &bad, true) {
        UploadAnswer::Conflict(c) => {
            assert_eq!(c.key_id.as_deref(), Some("signed_curve25519:AAAAAAAAAAk"))
        }
        other => panic!("{other:?}"),
    }
    // Pure garbage bytes.
    let garbage: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let _ = classify_upload_answer(400, &garbage, true);
    let _ = parse_upload_request(&garbage);
}

/// Property: random mutations of every real body (bytes flipped, multibyte characters, quotes,
/// backslashes and brackets inserted, cut anywhere) never panic any parser.
#[test]
fn random_mutations_never_panic() {
    let seeds: Vec<Vec<u8>> = load_all("synapse")
        .into_iter()
        .chain(load_all("hostile"))
        .flat_map(|fx| {
            let mut v = vec![body(&fx).to_vec()];
            v.extend(request_bytes(&fx));
            v
        })
        .collect();
    let inserts: [&[u8]; 12] = [
        "é".as_bytes(),
        "☃".as_bytes(),
        "😀".as_bytes(),
        b"\\",
        b"'",
        b"\"",
        b"{",
        b"}",
        b"[",
        b":",
        b" ",
        b"\xff",
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n.max(1) as u64) as usize
    };
    for round in 0..4000 {
        let seed = &seeds[round % seeds.len()];
        let mut m = seed.clone();
        for _ in 0..1 + rnd(4) {
            let at = rnd(m.len() + 1);
            match rnd(3) {
                0 if at < m.len() => m[at] = rnd(256) as u8,
                1 => {
                    let ins = inserts[rnd(inserts.len())];
                    m.splice(at..at, ins.iter().copied());
                }
                _ => m.truncate(at),
            }
        }
        let status = [200u16, 400, 409, 500, 502][rnd(5)];
        let _ = classify_upload_answer(status, &m, rnd(2) == 0);
        let _ = parse_upload_request(&m);
    }
}
