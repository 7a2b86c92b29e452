//! Property tests for everything in the model that reads outside data: the keys/upload answer
//! classifier (with the new key taken from the request), the upload-request reader, the /keys/query
//! reader and the storm watch (breaker) driven by random exchanges and broken clocks.
//!
//! Bounded for CI (the whole file runs in a few seconds natively). A long run:
//!
//! ```sh
//! PROPTEST_CASES=1000000 cargo test --release --test model_props parsers_
//! ```
//!
//! `PROPTEST_CASES` overrides every per-test default below (see docs/fuzzing.md). Failures print
//! the shrunk input; nothing is persisted to disk (copy a failing case into a unit test instead).
#![cfg(not(target_arch = "wasm32"))]

use std::collections::{BTreeMap, BTreeSet};

use matrix_crypto_guardian::storm::breaker::{BreakerConfig, MAX_REPLAY_BYTES};
use matrix_crypto_guardian::storm::conflict::MAX_MESSAGE_BYTES;
use matrix_crypto_guardian::storm::upload::SignedKey;
use matrix_crypto_guardian::diagnosis::keys_query::device_ed25519;
use matrix_crypto_guardian::storm::model::{StormConfig, StormWatch, UploadDecision};
use matrix_crypto_guardian::storm::{
    classify_upload_answer, parse_upload_request, KeyKind, ParsedUpload, UploadAnswer, UploadRequest,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{json, Map, Value};

/// `cases` unless PROPTEST_CASES is set (then that, for every test: the long run).
fn config(cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    c.failure_persistence = Some(Box::new(FileFailurePersistence::Off));
    c
}

/// A model value as serde_json sees the JSON it writes.
fn to_serde(x: &impl serde::Serialize) -> Value {
    serde_json::to_value(x).unwrap()
}

/// What the JS layer receives serialises: JSON text that reads back as the same value.
fn assert_serialises(x: &impl serde::Serialize) {
    let v = serde_json::to_value(x).unwrap();
    let text = v.to_string();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v, "{text}");
}

// ------------------------------------------------------------------------------------------------
// generators

/// Characters that stress quoting and escaping: base64, quotes, backslashes, controls, non-ASCII.
fn nasty_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => prop::sample::select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=".chars().collect::<Vec<_>>()
        ),
        2 => prop::sample::select(vec!['\'', '"', '\\', ' ', ':', ';', '{', '}', ',', '@', '\u{e9}']),
        1 => prop::sample::select(vec!['\n', '\r', '\t', '\0', '\u{7f}', '\u{85}', '\u{a0}', '\u{2028}', '\u{feff}']),
        1 => any::<char>(),
        1 => prop::sample::select(vec!['\u{1F600}', '\u{10FFFF}', '\u{D7FF}', '\u{E000}', '\u{FFFD}']),
    ]
}

/// Strings built from nasty characters and fragments of the texts the parsers look for.
fn nasty_string(max: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        8 => nasty_char().prop_map(String::from),
        1 => prop::sample::select(vec![
            "; new key: ", "Old key:", "True", "None", "\\x41", "\\u00e9", "\\", "'", "\"",
            " already exists", "One time key ", "curve25519:", "}", "{'", "\\\\'",
        ]).prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 0..max).prop_map(|v| v.concat())
}

fn key_id() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["signed_curve25519", "curve25519", "signed_curve25519"]),
        "[A-Za-z0-9+/=_-]{1,16}",
    )
        .prop_map(|(alg, id)| format!("{alg}:{id}"))
}

/// A (signed) key as a keys/upload request carries it, as a JSON value.
fn signed_key() -> impl Strategy<Value = Value> {
    let sigs = prop::collection::vec((nasty_string(6), nasty_string(6), nasty_string(12)), 0..3);
    prop_oneof![
        4 => (nasty_string(16), sigs, any::<Option<bool>>()).prop_map(|(key, sigs, fallback)| {
            let mut signatures = Map::new();
            for (user, dev, sig) in sigs {
                let per_user = signatures.entry(format!("@{user}:hs")).or_insert_with(|| json!({}));
                per_user[format!("ed25519:{dev}")] = Value::String(sig);
            }
            let mut o = Map::new();
            o.insert("key".into(), Value::String(key));
            o.insert("signatures".into(), Value::Object(signatures));
            if let Some(f) = fallback {
                o.insert("fallback".into(), Value::Bool(f));
            }
            Value::Object(o)
        }),
        // legacy unsigned `curve25519:` key: the value is the key
        1 => nasty_string(16).prop_map(Value::String),
    ]
}

/// Python's `repr()` of a str. `ascii_only` renders every non-ASCII char as an escape (`ascii()`).
fn py_str(s: &str, ascii_only: bool) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::new();
    out.push(quote);
    for c in s.chars() {
        match c {
            c if c == quote || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_ascii() => out.push(c),
            // What CPython does not print (C1 controls, separators, format chars), and everything
            // non-ASCII in ascii() mode.
            c if ascii_only || (c as u32) <= 0xa0 || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{ad}') => {
                let v = c as u32;
                if v <= 0xff {
                    out.push_str(&format!("\\x{v:02x}"));
                } else if v <= 0xffff {
                    out.push_str(&format!("\\u{v:04x}"));
                } else {
                    out.push_str(&format!("\\U{v:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr()` of the value Synapse holds (dicts, lists, str, bool, None, int): what its
/// conflict message prints after "new key:" (and the classifier must read past, not parse).
fn py_repr(v: &Value, ascii_only: bool) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_str(s, ascii_only),
        Value::Array(a) => {
            let items: Vec<_> = a.iter().map(|x| py_repr(x, ascii_only)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(o) => {
            let items: Vec<_> = o
                .iter()
                .map(|(k, x)| format!("{}: {}", py_str(k, ascii_only), py_repr(x, ascii_only)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// JSON text of a string; `ascii_only` escapes all non-ASCII as `\uXXXX` (surrogate pairs above
/// the BMP), as Python's `json.dumps` does by default.
fn json_str(s: &str, ascii_only: bool) -> String {
    if !ascii_only {
        return serde_json::to_string(s).unwrap();
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || !c.is_ascii() => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Arbitrary JSON values (no floats: integers compare exactly).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|u| json!(u)),
        nasty_string(12).prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(nasty_string(8), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A Synapse conflict answer and the request it answered, with everything the checks need to know
/// about them.
#[derive(Clone)]
struct SynapseConflict {
    key_id: String,
    old: Value,
    /// The key the request holds under `key_id` (the answer prints its repr).
    new: Value,
    body: Vec<u8>,
    /// The failing keys/upload request: `new` under `key_id`, among other keys.
    request: Vec<u8>,
    /// Byte offset in `body` just past "<key id> already exists".
    named_at: usize,
    /// Byte range in `body` of the JSON-encoded old key.
    old_range: std::ops::Range<usize>,
}

impl std::fmt::Debug for SynapseConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SynapseConflict")
            .field("key_id", &self.key_id)
            .field("body", &String::from_utf8_lossy(&self.body))
            .field("request", &String::from_utf8_lossy(&self.request))
            .field("named_at", &self.named_at)
            .field("old_range", &self.old_range)
            .finish_non_exhaustive()
    }
}

fn synapse_conflict() -> impl Strategy<Value = SynapseConflict> {
    let others = prop::collection::btree_map(key_id(), signed_key(), 0..4);
    let request = (others, any::<bool>(), any::<bool>());
    (key_id(), signed_key(), signed_key(), any::<bool>(), any::<bool>(), any::<bool>(), request).prop_map(
        |(key_id, old, new, repr_ascii, json_ascii, error_first, (mut others, as_fallback, with_device_keys))| {
            // The request: `new` under the conflicting id (a one-time or a fallback key), other
            // keys around it, device keys or not.
            others.remove(&key_id);
            let mut keys: Map<String, Value> = others.into_iter().collect();
            keys.insert(key_id.clone(), new.clone());
            let field = if as_fallback { "fallback_keys" } else { "one_time_keys" };
            let mut request = json!({ field: keys });
            if with_device_keys {
                request["device_keys"] = json!({"user_id": "@u:hs", "device_id": "DEV", "keys": {"ed25519:DEV": "ed"}});
            }
            // Synapse: "One time key %s:%s already exists. Old key: %s; new key: %r"
            let old_json = serde_json::to_string(&old).unwrap();
            let head = format!("One time key {key_id} already exists. Old key: ");
            let msg = format!("{head}{old_json}; new key: {}", py_repr(&new, repr_ascii));
            let error = json_str(&msg, json_ascii);
            let body = if error_first {
                format!(r#"{{"error":{error},"errcode":"M_UNKNOWN"}}"#)
            } else {
                format!(r#"{{"errcode":"M_UNKNOWN","error":{error}}}"#)
            };
            let at = body.find("One time key ").unwrap();
            let named_at = at + format!("One time key {key_id} already exists").len();
            let old_start = at + json_str(&head, json_ascii).len() - 2;
            let old_len = json_str(&old_json, json_ascii).len() - 2;
            SynapseConflict {
                key_id,
                old,
                new,
                body: body.into_bytes(),
                request: serde_json::to_vec(&request).unwrap(),
                named_at,
                old_range: old_start..old_start + old_len,
            }
        },
    )
}

fn conflict_of(answer: &UploadAnswer) -> &matrix_crypto_guardian::storm::Conflict {
    match answer {
        UploadAnswer::Conflict(c) => c,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn comparable(body: &[u8]) -> UploadRequest {
    match parse_upload_request(body) {
        ParsedUpload::Comparable(r) => r,
        other => panic!("not comparable: {other:?}"),
    }
}

/// The invariants every classification satisfies, whatever came in.
fn check_classification(status: u16, answer: &UploadAnswer) {
    let success = (200..300).contains(&status);
    match answer {
        UploadAnswer::Accepted { .. } => assert!(success, "accepted a {status}"),
        UploadAnswer::Conflict(c) => {
            assert!(!success, "a {status} is never a conflict");
            // The answer alone never yields a new key (it comes from the request), so never the
            // full details either.
            assert!(c.new_key.is_none() && !c.details_known);
            if let (Some(id), Some(alg)) = (&c.key_id, &c.algorithm) {
                assert!(id.starts_with(&format!("{alg}:")), "{id} / {alg}");
            }
        }
        UploadAnswer::OtkLimit(_) => assert!(!success, "a {status} is never the one-time-key cap"),
        UploadAnswer::OtherError { status: s, message, .. } => {
            assert_eq!(*s, status);
            assert!(!success);
            assert!(message.as_ref().is_none_or(|m| m.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8()));
        }
        UploadAnswer::Unreadable { status: s, .. } => assert_eq!(*s, status),
    }
    // What of it reaches the JS layer (the conflict, in the storm state and its events) serialises.
    if let Some(c) = answer.conflict() {
        assert_serialises(c);
    }
}

// ------------------------------------------------------------------------------------------------
// cheap parsers (the long run: `parsers_`)

proptest! {
    #![proptest_config(config(800))]

    #[test]
    fn parsers_classify_any_bytes(status in any::<u16>(), body in prop::collection::vec(any::<u8>(), 0..512), complete in any::<bool>()) {
        let a = classify_upload_answer(status, &body, complete);
        check_classification(status, &a);
    }

    #[test]
    fn parsers_classify_any_text(status in prop_oneof![Just(400u16), Just(200), Just(409), Just(502), 100u16..600], text in nasty_string(64), complete in any::<bool>()) {
        let a = classify_upload_answer(status, text.as_bytes(), complete);
        check_classification(status, &a);
    }

    #[test]
    fn parsers_classify_any_json(status in prop_oneof![Just(400u16), Just(200), 100u16..600], v in json_value(), error in nasty_string(48), complete in any::<bool>()) {
        // As is, and as the "error" of an error envelope (and of a Dendrite per-device map).
        for body in [
            serde_json::to_vec(&v).unwrap(),
            serde_json::to_vec(&json!({"errcode": "M_UNKNOWN", "error": error, "x": v})).unwrap(),
            serde_json::to_vec(&json!({"@u:hs": {"DEV": {"error": error}}, "x": v})).unwrap(),
        ] {
            let a = classify_upload_answer(status, &body, complete);
            check_classification(status, &a);
        }
    }

    #[test]
    fn parsers_upload_request_any_bytes(b in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_upload_request(&b);
    }

    #[test]
    fn parsers_upload_request_any_json(v in json_value(), otk in json_value()) {
        let mut o = Map::new();
        o.insert("one_time_keys".into(), otk);
        o.insert("device_keys".into(), v.clone());
        o.insert("fallback_keys".into(), v);
        let _ = parse_upload_request(&serde_json::to_vec(&Value::Object(o)).unwrap());
    }

    #[test]
    fn parsers_keys_query_any_bytes(status in any::<u16>(), b in prop::collection::vec(any::<u8>(), 0..256), user in nasty_string(6), dev in nasty_string(6)) {
        let _ = device_ed25519(status, &b, &user, &dev);
    }
}

// ------------------------------------------------------------------------------------------------
// structured: Synapse's conflict, upload requests, /keys/query answers

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn synapse_conflict_is_read_exactly(c in synapse_conflict(), status in prop_oneof![Just(400u16), 400u16..600]) {
        let a = classify_upload_answer(status, &c.body, true);
        check_classification(status, &a);
        let got = conflict_of(&a);
        prop_assert_eq!(got.key_id.as_deref(), Some(c.key_id.as_str()));
        prop_assert_eq!(got.kind, KeyKind::OneTimeKey);
        prop_assert_eq!(&to_serde(&got.old_key.as_ref().unwrap().raw), &c.old);
        let want_old = SignedKey::from_value(&c.old);
        prop_assert_eq!(got.old_key.as_ref(), want_old.as_ref());
        // The answer alone: the old key and its signer, no new key.
        prop_assert!(got.new_key.is_none() && !got.details_known);
        let old_signer = want_old.as_ref().unwrap().ed25519_signers().into_iter().next();
        prop_assert_eq!(got.signer_user_id.clone().zip(got.signer_device_id.clone()), old_signer.clone());

        // With the request: the new key is its key under that id, whole.
        let mut got = got.clone();
        got.fill_new_key_from(&comparable(&c.request));
        prop_assert!(got.details_known, "{:?}", String::from_utf8_lossy(&c.body));
        prop_assert_eq!(&to_serde(&got.new_key.as_ref().unwrap().raw), &c.new);
        let want_new = SignedKey::from_value(&c.new);
        prop_assert_eq!(got.new_key.as_ref(), want_new.as_ref());
        prop_assert_eq!(got.old_key.as_ref(), want_old.as_ref());
        prop_assert_eq!(got.key_material_differs(), Some(want_old.unwrap().key != want_new.as_ref().unwrap().key));
        // The signer: the old key's first, else the new key's first.
        let want_signer = old_signer.or_else(|| want_new.unwrap().ed25519_signers().into_iter().next());
        prop_assert_eq!(got.signer_user_id.clone().zip(got.signer_device_id.clone()), want_signer);
        if let (Some(u), Some(d)) = (&got.signer_user_id, &got.signer_device_id) {
            let signed = |k: &Option<SignedKey>| k.as_ref().is_some_and(|k| k.signature(u, d).is_some());
            prop_assert!(signed(&got.old_key) || signed(&got.new_key));
        }
    }

    #[test]
    fn synapse_conflict_cut_anywhere_after_the_key_id(c in synapse_conflict(), cut in any::<prop::sample::Index>(), complete in any::<bool>()) {
        let at = c.named_at + cut.index(c.body.len() - c.named_at + 1);
        let body = &c.body[..at];
        let a = classify_upload_answer(400, body, complete);
        check_classification(400, &a);
        let got = conflict_of(&a);
        prop_assert_eq!(got.key_id.as_deref(), Some(c.key_id.as_str()), "cut at {}", at);
        // Whatever was recovered is exactly what the server sent, never a mangled key.
        if let Some(old) = &got.old_key {
            prop_assert_eq!(&to_serde(&old.raw), &c.old, "cut at {} of {:?}", at, String::from_utf8_lossy(&c.body));
        }
        // Cut after the old key: the old key is recovered.
        if at >= c.old_range.end {
            prop_assert!(got.old_key.is_some(), "cut at {} after the old key {:?}", at, c.old_range);
        }
        // Cut or not, the request still has the whole new key.
        let mut got = got.clone();
        got.fill_new_key_from(&comparable(&c.request));
        prop_assert_eq!(&to_serde(&got.new_key.as_ref().unwrap().raw), &c.new, "cut at {}", at);
        prop_assert_eq!(got.details_known, got.old_key.is_some());
    }

    #[test]
    fn synapse_conflict_mutated_after_the_key_id(
        c in synapse_conflict(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..5, any::<u8>(), any::<prop::sample::Index>()), 1..6),
    ) {
        let mut body = c.body.clone();
        for (at, op, byte, other) in edits {
            let tail = body.len() - c.named_at;
            let i = c.named_at + at.index(tail + 1);
            match op {
                0 if i < body.len() => { body.remove(i); }
                1 => body.insert(i, byte),
                2 if i < body.len() => body[i] = byte,
                3 => body.truncate(i),
                _ => {
                    // splice: copy a run from elsewhere in the tail
                    let j = c.named_at + other.index(tail + 1);
                    let run: Vec<u8> = body[j..body.len().min(j + 16)].to_vec();
                    body.splice(i..i, run);
                }
            }
        }
        let a = classify_upload_answer(400, &body, false);
        check_classification(400, &a);
        let got = conflict_of(&a);
        prop_assert_eq!(got.key_id.as_deref(), Some(c.key_id.as_str()), "{:?}", String::from_utf8_lossy(&body));
    }

    #[test]
    fn conflict_in_a_success_is_never_a_conflict(c in synapse_conflict(), status in 200u16..300, complete in any::<bool>()) {
        let a = classify_upload_answer(status, &c.body, complete);
        prop_assert!(a.conflict().is_none());
        check_classification(status, &a);
    }

    #[test]
    fn upload_request_key_ids_are_read_exactly(
        otks in prop::collection::btree_map(nasty_string(12), signed_key(), 0..8),
        fbs in prop::collection::btree_map(nasty_string(12), signed_key(), 0..3),
        user in nasty_string(8), dev in nasty_string(8), ed in nasty_string(12),
        with_device_keys in any::<bool>(), shuffle in any::<bool>(),
    ) {
        let mut fields = vec![
            format!(r#""one_time_keys":{}"#, serde_json::to_string(&otks).unwrap()),
            format!(r#""fallback_keys":{}"#, serde_json::to_string(&fbs).unwrap()),
        ];
        if with_device_keys {
            let dk = json!({"user_id": user, "device_id": dev, "keys": {format!("ed25519:{dev}"): ed}});
            fields.push(format!(r#""device_keys":{dk}"#));
        }
        if shuffle { fields.reverse(); }
        let body = format!("{{{}}}", fields.join(","));
        let ParsedUpload::Comparable(r) = parse_upload_request(body.as_bytes()) else {
            return Err(TestCaseError::fail(format!("not comparable: {body}")));
        };
        let want_otk: BTreeSet<String> = otks.keys().cloned().collect();
        let want_fb: BTreeSet<String> = fbs.keys().cloned().collect();
        prop_assert_eq!(r.one_time_key_ids.iter().collect::<Vec<_>>(), want_otk.iter().collect::<Vec<_>>());
        prop_assert_eq!(r.fallback_key_ids.iter().collect::<Vec<_>>(), want_fb.iter().collect::<Vec<_>>());
        prop_assert_eq!(r.key_ids().into_iter().collect::<BTreeSet<_>>(), want_otk.union(&want_fb).cloned().collect::<BTreeSet<_>>());
        let count_prefix = format!("{}-", r.key_ids().len());
        prop_assert!(r.key_ids_fingerprint.starts_with(&count_prefix));
        for (id, k) in otks.iter().chain(fbs.iter()) {
            let want = SignedKey::from_value(k).map(|k| k.key);
            // A fallback id equal to a one-time id: the fallback's key wins (read second).
            if !(want_otk.contains(id) && want_fb.contains(id)) {
                prop_assert_eq!(r.public_key(id), want.as_deref());
            }
        }
        prop_assert_eq!(r.has_device_keys, with_device_keys);
        if with_device_keys {
            let d = r.device_keys.as_ref().unwrap();
            prop_assert_eq!((&d.user_id, &d.device_id, d.ed25519.as_deref()), (&user, &dev, Some(ed.as_str())));
        }
    }

    #[test]
    fn keys_query_finds_exactly_the_device_key(
        user in nasty_string(8), dev in nasty_string(8), key in nasty_string(16),
        others in prop::collection::btree_map(nasty_string(8), nasty_string(8), 0..4),
        status in prop_oneof![Just(200u16), 100u16..600],
    ) {
        let mut devices = Map::new();
        for (d, k) in &others {
            devices.insert(d.clone(), json!({"keys": {format!("ed25519:{d}"): k}}));
        }
        devices.insert(dev.clone(), json!({"keys": {format!("ed25519:{dev}"): key, format!("curve25519:{dev}"): "c"}}));
        let body = serde_json::to_vec(&json!({"device_keys": {user.clone(): devices}, "failures": {}})).unwrap();
        let got = device_ed25519(status, &body, &user, &dev);
        prop_assert_eq!(got, (status == 200).then(|| key.clone()));
        // Any cut of the answer: the key or nothing, never another string.
        for at in [body.len() / 3, body.len() / 2, body.len() - 1] {
            prop_assert_eq!(device_ed25519(200, &body[..at], &user, &dev), None);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// the storm watch: random exchanges, broken clocks

/// The requests a client sends: a few key-id sets, one set under two bodies, and unreadable ones.
fn request_pool() -> Vec<String> {
    let otk = |ids: &[&str]| -> Value {
        ids.iter().map(|id| ((*id).to_owned(), json!({"key": format!("k-{id}"), "signatures": {"@u:hs": {"ed25519:DEV": "s"}}}))).collect::<Map<_, _>>().into()
    };
    let dk = json!({"user_id": "@u:hs", "device_id": "DEV", "keys": {"ed25519:DEV": "ED", "curve25519:DEV": "CU"}});
    vec![
        // 0: store-loss upload
        json!({"device_keys": dk, "one_time_keys": otk(&["signed_curve25519:A0", "signed_curve25519:A1"])}).to_string(),
        // 1: same key-id set, other key material and field order (the breaker compares id sets)
        format!(r#"{{"one_time_keys":{{"signed_curve25519:A1":{{"key":"x"}},"signed_curve25519:A0":"legacy"}}}}"#),
        // 2: a subset
        json!({"one_time_keys": otk(&["signed_curve25519:A0"])}).to_string(),
        // 3: other ids + a fallback key
        json!({"one_time_keys": otk(&["signed_curve25519:B0", "signed_curve25519:B1"]), "fallback_keys": otk(&["signed_curve25519:F0"])}).to_string(),
        // 4: fallback key only
        json!({"fallback_keys": otk(&["signed_curve25519:F0"])}).to_string(),
        // 5: device keys only (no key ids)
        json!({"device_keys": dk}).to_string(),
        // 6, 7: unreadable
        "not json".to_owned(),
        r#"{"one_time_keys": [1]}"#.to_owned(),
    ]
}

fn key_ids_of(body: &str) -> Option<BTreeSet<String>> {
    match parse_upload_request(body.as_bytes()) {
        ParsedUpload::Comparable(r) => Some(r.key_ids().into_iter().collect()),
        ParsedUpload::NotComparable { .. } => None,
    }
}

#[derive(Debug, Clone)]
enum Answer {
    /// A Synapse conflict naming `id` (one of the request's or another).
    Conflict { id: String, variant: u8, complete: bool, status: u16 },
    /// Padded beyond what the breaker keeps for replay.
    HugeConflict,
    Accepted { status: u16, body: u8 },
    Other { status: u16, body: u8 },
    Bytes { status: u16, body: Vec<u8>, complete: bool },
}

impl Answer {
    fn render(&self) -> (u16, Vec<u8>, bool) {
        match self {
            Answer::Conflict { id, variant, complete, status } => {
                let body = format!(
                    r#"{{"errcode":"M_UNKNOWN","error":"One time key {id} already exists. Old key: {{\"key\":\"old{variant}\"}}; new key: {{'key': 'new{variant}'}}"}}"#
                );
                (*status, body.into_bytes(), *complete)
            }
            Answer::HugeConflict => {
                let mut body = br#"{"errcode":"M_UNKNOWN","error":"One time key signed_curve25519:A0 already exists"}"#.to_vec();
                body.resize(MAX_REPLAY_BYTES + 1, b' ');
                (400, body, true)
            }
            Answer::Accepted { status, body } => {
                let body: &[u8] = match body % 4 {
                    0 => br#"{"one_time_key_counts":{"signed_curve25519":50}}"#,
                    1 => b"{}",
                    2 => b"",
                    _ => b"<html>captive portal</html>",
                };
                (*status, body.to_vec(), true)
            }
            Answer::Other { status, body } => {
                let body: &[u8] = match body % 4 {
                    0 => br#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":2000}"#,
                    1 => b"<html><title>502 Bad Gateway</title></html>",
                    2 => b"",
                    _ => br#"{"errcode":"M_UNKNOWN","error":"One time key signed_curve25519:A0 alre"#,
                };
                (*status, body.to_vec(), !body.ends_with(b"alre"))
            }
            Answer::Bytes { status, body, complete } => (*status, body.clone(), *complete),
        }
    }
}

fn answer() -> impl Strategy<Value = Answer> {
    let id = prop::sample::select(vec![
        "signed_curve25519:A0", "signed_curve25519:A1", "signed_curve25519:B0", "signed_curve25519:F0", "signed_curve25519:ZZ",
    ]);
    prop_oneof![
        6 => (id, 0u8..3, prop::bool::weighted(0.85), prop_oneof![8 => Just(400u16), 1 => Just(409), 1 => Just(500)])
            .prop_map(|(id, variant, complete, status)| Answer::Conflict { id: id.to_owned(), variant, complete, status }),
        1 => Just(Answer::HugeConflict),
        3 => (prop_oneof![Just(200u16), Just(201), Just(204)], any::<u8>()).prop_map(|(status, body)| Answer::Accepted { status, body }),
        2 => (prop_oneof![Just(429u16), Just(502), Just(400), Just(500)], any::<u8>()).prop_map(|(status, body)| Answer::Other { status, body }),
        1 => (any::<u16>(), prop::collection::vec(any::<u8>(), 0..64), any::<bool>())
            .prop_map(|(status, body, complete)| Answer::Bytes { status, body, complete }),
    ]
}

/// The clock the watch is given at one step: mostly forward, sometimes broken.
#[derive(Debug, Clone, Copy)]
enum Clock {
    Advance(f64),
    Nan,
    PosInf,
    NegInf,
    /// A one-off wrong value (the real clock is unchanged).
    Glitch(f64),
    /// The real clock jumps (forward or back) and stays there.
    Jump(f64),
}

fn clock() -> impl Strategy<Value = Clock> {
    prop_oneof![
        12 => prop_oneof![0.0..2_000.0, 0.0..200_000.0, 0.0..4_000_000.0].prop_map(Clock::Advance),
        1 => Just(Clock::Nan),
        1 => Just(Clock::PosInf),
        1 => Just(Clock::NegInf),
        1 => prop_oneof![-1e15..0.0, 1e13..1e15, Just(-0.0), Just(f64::MAX), Just(f64::MIN_POSITIVE)].prop_map(Clock::Glitch),
        1 => prop_oneof![-3e9..3e9, -1e13..1e13].prop_map(Clock::Jump),
    ]
}

/// What becomes of a request that was let through.
#[derive(Debug, Clone)]
enum Outcome {
    Answer(Answer),
    /// The fetch failed (offline, CORS, abort): the tap reports it.
    Failed,
    /// Nothing is ever reported (a body that never ends, a page that went away).
    Lost,
}

#[derive(Debug, Clone)]
enum Op {
    /// The client sends request `req`; if the watch lets it through, the server answers `answer`.
    Upload { req: usize, answer: Outcome, clock: Clock, answer_clock: Clock },
    Diagnose { verdict: Option<String>, current: Option<String>, clock: Clock },
    /// An answer to a request that was sent earlier (e.g. before the breaker opened).
    LateAnswer { req: usize, answer: Answer, clock: Clock },
}

fn op(pool: usize) -> impl Strategy<Value = Op> {
    let verdict = prop_oneof![
        Just(None),
        prop::sample::select(vec!["valid", "invalid", "no-signature", "malformed: x"]).prop_map(|s| Some(s.to_owned())),
        nasty_string(8).prop_map(Some),
    ];
    prop_oneof![
        12 => (0..pool, prop_oneof![16 => answer().prop_map(Outcome::Answer), 1 => Just(Outcome::Failed), 1 => Just(Outcome::Lost)], clock(), clock())
            .prop_map(|(req, answer, clock, answer_clock)| Op::Upload { req, answer, clock, answer_clock }),
        1 => (verdict, prop::option::of(nasty_string(8)), clock())
            .prop_map(|(verdict, current, clock)| Op::Diagnose { verdict, current, clock }),
        2 => (0..pool, answer(), clock()).prop_map(|(req, answer, clock)| Op::LateAnswer { req, answer, clock }),
    ]
}

const T0: f64 = 1_700_000_000_000.0;

struct Harness {
    watch: StormWatch,
    pool: Vec<String>,
    real_now: f64,
    /// The last finite time given to the watch.
    last_finite: f64,
    /// Per key-id set: every (status, body, complete) the server answered with a conflict.
    sent: BTreeMap<BTreeSet<String>, Vec<(u16, Vec<u8>, bool)>>,
    first_seen: Option<f64>,
    counts: (u64, u64, u64, u64),
}

impl Harness {
    fn new(config: StormConfig) -> Self {
        Harness {
            watch: StormWatch::new(config),
            pool: request_pool(),
            real_now: T0,
            last_finite: T0,
            sent: BTreeMap::new(),
            first_seen: None,
            counts: (0, 0, 0, 0),
        }
    }

    fn tick(&mut self, c: Clock) -> f64 {
        let t = match c {
            Clock::Advance(d) => {
                self.real_now += d;
                self.real_now
            }
            Clock::Nan => f64::NAN,
            Clock::PosInf => f64::INFINITY,
            Clock::NegInf => f64::NEG_INFINITY,
            Clock::Glitch(v) => v,
            Clock::Jump(d) => {
                self.real_now += d;
                self.real_now
            }
        };
        if t.is_finite() {
            self.last_finite = t;
        }
        t
    }

    fn snapshot(&self) -> (String, BTreeSet<String>) {
        let b = self.watch.state().breaker;
        (b.state.to_owned(), b.failing_key_ids.into_iter().collect())
    }

    /// Invariants that hold after every step.
    fn check_state(&mut self) -> Result<(), TestCaseError> {
        let s = self.watch.state();
        let b = &s.breaker;
        let counts = (b.server_conflicts, b.local_answers, b.probes, s.count);
        prop_assert!(
            counts.0 >= self.counts.0 && counts.1 >= self.counts.1 && counts.2 >= self.counts.2 && counts.3 >= self.counts.3,
            "counts went down: {:?} -> {:?}", self.counts, counts
        );
        prop_assert_eq!(s.count, b.server_conflicts + b.local_answers);
        self.counts = counts;
        if let Some(first) = self.first_seen {
            prop_assert_eq!(s.first_seen.map(f64::to_bits), Some(first.to_bits()), "first_seen changed");
        }
        // A storm is active while its breaker is open or probing; never before the first conflict (once the
        // breaker closes it is over until the next conflict: tests/model_storm.rs).
        if b.state != "closed" {
            prop_assert!(s.active, "breaker {} but the storm is not active", b.state);
        }
        if s.first_seen.is_none() {
            prop_assert!(!s.active);
        }
        self.first_seen = s.first_seen;
        match b.state {
            "closed" => prop_assert!(b.failing_key_ids.is_empty()),
            "open" | "probing" => {
                prop_assert!(!b.failing_key_ids.is_empty());
                // What it would replay was really sent, whole, for exactly that set.
                let set: BTreeSet<String> = b.failing_key_ids.iter().cloned().collect();
                prop_assert!(self.sent.get(&set).is_some_and(|v| v.iter().any(|(_, _, complete)| *complete)));
            }
            other => prop_assert!(false, "unknown state {}", other),
        }
        assert_serialises(&s);
        if let Some(need) = self.watch.diagnosis_input() {
            if let Some(j) = need.old_key_json {
                prop_assert!(serde_json::from_str::<Value>(&j).is_ok());
            }
        }
        Ok(())
    }

    fn answer(&mut self, req: usize, ans: &Answer, now: f64) -> Result<(), TestCaseError> {
        let body_text = self.pool[req].clone();
        let (status, body, complete) = ans.render();
        let classified = classify_upload_answer(status, &body, complete);
        let ids = key_ids_of(&body_text).filter(|ids| !ids.is_empty());
        if classified.conflict().is_some() {
            if let Some(ids) = &ids {
                self.sent.entry(ids.clone()).or_default().push((status, body.clone(), complete && !body.is_empty() && body.len() <= MAX_REPLAY_BYTES));
            }
        }
        let (before, failing) = self.snapshot();
        let out = self.watch.after_upload(&body_text, status, &body, complete, now);
        let (after, failing_after) = self.snapshot();
        prop_assert!(!out.needs_diagnosis || classified.conflict().is_some(), "diagnosis asked for a non-conflict");
        if let Some(conflict) = classified.conflict() {
            // The remembered conflict's new key is this request's key under that id, or unknown.
            let summary = self.watch.state().conflict.expect("a conflict is remembered");
            let request = parse_upload_request(body_text.as_bytes());
            let sent = request.request().zip(conflict.key_id.as_deref()).and_then(|(r, id)| r.public_key(id));
            prop_assert_eq!(summary.new_key.as_ref().map(|k| k.key.as_str()), sent);
            prop_assert_eq!(summary.details_known, summary.old_key.is_some() && summary.new_key.is_some());
        }
        for e in &out.events {
            prop_assert!(["storm", "breaker-open", "breaker-probe", "breaker-closed", "diagnosis"].contains(&e.kind), "{}", e.kind);
            prop_assert!(e.detail.is_object());
        }
        let is_failing = before != "closed" && ids.as_ref() == Some(&failing);
        if (200..300).contains(&status) {
            if is_failing {
                prop_assert_eq!(after.as_str(), "closed", "a 2xx for the failing set closes");
            } else {
                prop_assert_eq!((&before, &failing), (&after, &failing_after), "a 2xx for another request changes nothing");
            }
        }
        let replayable = classified.conflict().is_some() && complete && !body.is_empty() && body.len() <= MAX_REPLAY_BYTES;
        if before == "closed" && replayable && ids.is_some() {
            prop_assert_eq!(after.as_str(), "open", "a whole conflict opens the breaker");
            prop_assert_eq!(Some(&failing_after), ids.as_ref());
        }
        if before == "closed" && !replayable {
            prop_assert_eq!(after.as_str(), "closed", "only a whole conflict opens");
        }
        Ok(())
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Upload { req, answer, clock, answer_clock } => {
                let body_text = self.pool[*req].clone();
                let ids = key_ids_of(&body_text);
                let (before, failing) = self.snapshot();
                let local_before = self.watch.state().breaker.local_answers;
                let now = self.tick(*clock);
                let out = self.watch.before_upload(&body_text, now);
                let (after, _) = self.snapshot();
                let local_after = self.watch.state().breaker.local_answers;
                match &out.decision {
                    UploadDecision::Replay { status, body, delay_ms } => {
                        prop_assert!(delay_ms.is_finite() && *delay_ms >= 0.0 && *delay_ms <= 250.0, "delay {delay_ms}");
                        prop_assert!(before != "closed", "replayed while closed");
                        prop_assert_eq!(ids.as_ref(), Some(&failing), "replayed for a request whose key ids differ from the failing set");
                        let sent = self.sent.get(&failing).map(Vec::as_slice).unwrap_or_default();
                        prop_assert!(
                            sent.iter().any(|(s, b, complete)| *complete && s == status && b == body),
                            "the replay is not a whole answer the server sent for this set"
                        );
                        prop_assert_eq!(local_after, local_before + 1);
                    }
                    UploadDecision::Probe => {
                        prop_assert!(before != "closed");
                        prop_assert_eq!(ids.as_ref(), Some(&failing));
                        prop_assert_eq!(after.as_str(), "probing");
                        prop_assert_eq!(local_after, local_before);
                    }
                    UploadDecision::Pass => {
                        prop_assert_eq!(local_after, local_before);
                        if before != "closed" {
                            prop_assert!(ids.as_ref() != Some(&failing), "the failing request went through without being a probe");
                        }
                    }
                }
                self.check_state()?;
                if matches!(out.decision, UploadDecision::Replay { .. }) {
                    return Ok(());
                }
                let now = self.tick(*answer_clock);
                match answer {
                    Outcome::Answer(a) => self.answer(*req, a, now)?,
                    Outcome::Failed => {
                        self.watch.upload_failed(&body_text, "TypeError", now);
                    }
                    Outcome::Lost => {}
                }
            }
            Op::Diagnose { verdict, current, clock } => {
                let now = self.tick(*clock);
                let had_conflict = self.watch.state().conflict.is_some();
                let out = self.watch.diagnose(verdict.as_deref(), current.as_deref(), now);
                let kind = self.watch.state().diagnosis.kind;
                if had_conflict {
                    prop_assert_eq!(out.events.len(), 1);
                    prop_assert!(["identity-replaced", "concurrent-writers", "exhaustion-or-other", "undetermined"].contains(&kind), "{}", kind);
                } else {
                    prop_assert!(out.events.is_empty());
                }
            }
            Op::LateAnswer { req, answer, clock } => {
                let now = self.tick(*clock);
                self.answer(*req, answer, now)?;
            }
        }
        self.check_state()
    }

    /// Liveness: from any state, a clock that moves forward again gets the failing request to the
    /// server (a probe) within a few attempts: the breaker never wedges.
    fn check_liveness(&mut self, config: BreakerConfig) -> Result<(), TestCaseError> {
        let (state, failing) = self.snapshot();
        if state == "closed" || !(self.last_finite.abs() < 1e15) {
            return Ok(());
        }
        let req = self.pool.iter().position(|b| key_ids_of(b).as_ref() == Some(&failing)).expect("failing set comes from the pool");
        let body = self.pool[req].clone();
        let step = config.max_backoff_ms.max(config.initial_backoff_ms) + config.probe_timeout_ms + 1.0;
        let mut t = self.last_finite;
        for _ in 0..3 {
            t += step;
            if self.watch.before_upload(&body, t).decision == UploadDecision::Probe {
                return Ok(());
            }
        }
        Err(TestCaseError::fail(format!(
            "wedged: no probe within 3 backoffs; breaker {:?}",
            self.watch.state().breaker
        )))
    }
}

fn breaker_config() -> impl Strategy<Value = BreakerConfig> {
    prop_oneof![
        3 => Just(BreakerConfig::default()),
        1 => (prop_oneof![Just(1000.0), 1.0..1e6, Just(f64::NAN), Just(-5.0), Just(0.0)],
              prop_oneof![Just(1000.0), 1.0..1e7, Just(f64::INFINITY)],
              prop_oneof![Just(120_000.0), 1.0..1e6, Just(f64::NAN)])
            .prop_map(|(initial_backoff_ms, max_backoff_ms, probe_timeout_ms)| BreakerConfig { initial_backoff_ms, max_backoff_ms, probe_timeout_ms }),
    ]
}

proptest! {
    #![proptest_config(config(160))]

    #[test]
    fn storm_watch_random_exchanges(config in breaker_config(), ops in prop::collection::vec(op(8), 1..60)) {
        let mut h = Harness::new(StormConfig { breaker: config, ..StormConfig::default() });
        for op in &ops {
            h.step(op)?;
        }
        // The config the breaker really uses (nonsense replaced by defaults).
        let used = {
            let d = BreakerConfig::default();
            let pos = |v: f64, def: f64| if v.is_finite() && v > 0.0 { v } else { def };
            let initial = pos(config.initial_backoff_ms, d.initial_backoff_ms);
            BreakerConfig {
                initial_backoff_ms: initial,
                max_backoff_ms: pos(config.max_backoff_ms, d.max_backoff_ms).max(initial),
                probe_timeout_ms: pos(config.probe_timeout_ms, d.probe_timeout_ms),
            }
        };
        h.check_liveness(used)?;
    }

    /// The storm as it really happens: one failing request, re-sent after every sync, sometimes
    /// with a clock that misbehaves; a 2xx for it at any point closes the breaker.
    #[test]
    fn storm_watch_identical_retries(clocks in prop::collection::vec(clock(), 1..40), ok_at in prop::option::of(any::<prop::sample::Index>())) {
        let mut h = Harness::new(StormConfig::default());
        let conflict = Answer::Conflict { id: "signed_curve25519:A0".into(), variant: 0, complete: true, status: 400 };
        h.step(&Op::Upload { req: 0, answer: Outcome::Answer(conflict.clone()), clock: Clock::Advance(0.0), answer_clock: Clock::Advance(30.0) })?;
        prop_assert_eq!(h.snapshot().0, "open");
        let ok_at = ok_at.map(|i| i.index(clocks.len()));
        for (i, c) in clocks.iter().enumerate() {
            let answer = if Some(i) == ok_at { Answer::Accepted { status: 200, body: 0 } } else { conflict.clone() };
            let closing = Some(i) == ok_at;
            let (_, failing) = h.snapshot();
            let body = h.pool[1].clone(); // same key-id set, other bytes
            let now = h.tick(*c);
            let decision = h.watch.before_upload(&body, now).decision;
            h.check_state()?;
            if let UploadDecision::Replay { body: replayed, status, .. } = &decision {
                prop_assert_eq!(*status, 400);
                prop_assert_eq!(replayed, &conflict.render().1);
            } else if h.snapshot().0 != "closed" || closing {
                let now = h.tick(Clock::Advance(20.0));
                h.answer(1, &answer, now)?;
                if closing {
                    prop_assert_eq!(h.snapshot().0, "closed");
                    prop_assert!(!failing.is_empty());
                    break;
                }
            }
            h.check_state()?;
        }
    }
}

// ------------------------------------------------------------------------------------------------
// the writer lease: three tabs, any interleaving of requests, ticks, releases and time

mod lease_props {
    use super::*;
    use matrix_crypto_guardian::writer::model::{Lease, LeaseConfig, LeasePhase, LeaseRecord, LeaseStep, LeaseWrite, Mode};

    #[derive(Debug, Clone)]
    pub enum LeaseOp {
        Request(usize, u8),
        Tick(usize),
        Release(usize),
        Advance(u16),
    }

    pub fn lease_op() -> impl Strategy<Value = LeaseOp> {
        prop_oneof![
            3 => (0..3usize, 0..3u8).prop_map(|(t, m)| LeaseOp::Request(t, m)),
            4 => (0..3usize).prop_map(LeaseOp::Tick),
            1 => (0..3usize).prop_map(LeaseOp::Release),
            2 => (1..3000u16).prop_map(LeaseOp::Advance),
        ]
    }

    fn mode(m: u8) -> Mode {
        [Mode::Wait, Mode::IfAvailable, Mode::Steal][m as usize % 3]
    }

    fn apply(storage: &mut Option<LeaseRecord>, step: &LeaseStep) {
        match &step.write {
            Some(LeaseWrite::Put { record }) => *storage = Some(record.clone()),
            Some(LeaseWrite::Remove) => *storage = None,
            None => {}
        }
    }

    /// Runs the ops; after each, checks the invariants. Returns a description of the first violation.
    pub fn run(ops: &[LeaseOp]) -> Result<(), String> {
        let config = LeaseConfig::default();
        let mut tabs: Vec<Lease> = (0..3).map(|i| Lease::new(format!("t{i}"), config)).collect();
        let mut storage: Option<LeaseRecord> = None;
        let mut now = 0.0;
        for (i, op) in ops.iter().enumerate() {
            match *op {
                LeaseOp::Request(t, m) => {
                    let before = tabs[t].phase();
                    let step = tabs[t].request(mode(m), storage.as_ref(), now);
                    apply(&mut storage, &step);
                    // An ifAvailable never cancels (or turns into) a wait or claim already under way.
                    if mode(m) == Mode::IfAvailable && matches!(before, LeasePhase::Waiting | LeasePhase::Claiming) && tabs[t].phase() != before {
                        return Err(format!("op {i}: ifAvailable moved t{t} from {before:?} to {:?}", tabs[t].phase()));
                    }
                    // An ifAvailable never leaves a tab waiting.
                    if mode(m) == Mode::IfAvailable && before != LeasePhase::Waiting && tabs[t].phase() == LeasePhase::Waiting {
                        return Err(format!("op {i}: ifAvailable left t{t} waiting"));
                    }
                }
                LeaseOp::Tick(t) => {
                    let step = tabs[t].tick(storage.as_ref(), now);
                    apply(&mut storage, &step);
                }
                LeaseOp::Release(t) => {
                    let step = tabs[t].release(storage.as_ref());
                    apply(&mut storage, &step);
                    if tabs[t].holds() {
                        return Err(format!("op {i}: t{t} still holds after release"));
                    }
                }
                LeaseOp::Advance(ms) => now += f64::from(ms),
            }
            // Every write reaches the other tabs as a `storage` event (a tick). Once those have run (no
            // time passing), at most one tab holds, and it is the one the entry names.
            let mut probe_tabs = tabs.clone();
            let mut probe_storage = storage.clone();
            for _round in 0..8 {
                let before = probe_storage.clone();
                for tab in probe_tabs.iter_mut() {
                    let step = tab.tick(probe_storage.as_ref(), now);
                    apply(&mut probe_storage, &step);
                }
                if probe_storage.as_ref().map(|r| (&r.owner, r.beat)) == before.as_ref().map(|r| (&r.owner, r.beat)) {
                    break;
                }
            }
            let holders: Vec<usize> = (0..3).filter(|&t| probe_tabs[t].holds()).collect();
            if holders.len() > 1 {
                return Err(format!("op {i}: after a round of ticks t{holders:?} all hold"));
            }
            if let Some(&h) = holders.first() {
                if probe_storage.as_ref().map(|r| r.owner.as_str()) != Some(&*format!("t{h}")) {
                    return Err(format!("op {i}: t{h} holds but the entry is {probe_storage:?}"));
                }
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn lease_never_two_holders_and_if_available_never_cancels_a_wait(ops in proptest::collection::vec(lease_props::lease_op(), 1..80)) {
        if let Err(violation) = lease_props::run(&ops) {
            prop_assert!(false, "{}", violation);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// cases found by the properties above, kept as plain regression tests

#[test]
fn regression_probe_started_under_a_future_clock_does_not_wedge() {
    // A probe starts while the clock is a year ahead, its answer never comes (the tab aborted it),
    // then the clock is corrected: the probe must be declared lost within one probe timeout.
    let mut h = Harness::new(StormConfig::default());
    let conflict = Answer::Conflict { id: "signed_curve25519:A0".into(), variant: 0, complete: true, status: 400 };
    h.step(&Op::Upload { req: 0, answer: Outcome::Answer(conflict), clock: Clock::Advance(0.0), answer_clock: Clock::Advance(10.0) }).unwrap();
    let year = 365.0 * 24.0 * 3600e3;
    assert_eq!(h.watch.before_upload(&h.pool[0].clone(), T0 + year).decision, UploadDecision::Probe);
    h.last_finite = T0 + 1000.0; // the clock comes back
    h.watch.before_upload(&h.pool[0].clone(), T0 + 1000.0);
    h.check_liveness(BreakerConfig::default()).unwrap();
}

#[test]
fn regression_truncated_ascii_escaped_body_keeps_astral_characters() {
    // Python's json.dumps escapes non-ASCII as \uXXXX, astral characters as surrogate pairs; a cut
    // body is decoded by hand, which must join the pair rather than print two U+FFFD.
    let old = json!({"key": "k\u{1F600}", "signatures": {}});
    let msg = format!("One time key signed_curve25519:A already exists. Old key: {old}; new key: {{'key': 'n'");
    let body = format!(r#"{{"errcode":"M_UNKNOWN","error":{}"#, json_str(&msg, true));
    let c = classify_upload_answer(400, body.as_bytes(), false);
    let c = conflict_of(&c);
    assert_eq!(c.old_key.as_ref().map(|k| to_serde(&k.raw)), Some(old));
}

// ---- the store-loss check: "lost" only when no store can be the session's ----

mod store_check {
    use super::*;
    use matrix_crypto_guardian::store_loss::model::{
        account_presence, check_store, stores_to_read, AccountPresence, SeenStore, SessionFacts, StoreCheck, StoreContents,
    };

    const USERS: [&str; 3] = ["@alice:hs", "@bob:hs", "@alice:other"];
    const DEVICES: [&str; 2] = ["DEV", "OLD"];

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("matrix-js-sdk::matrix-sdk-crypto".to_owned()),
            Just("crypto-store".to_owned()),
            Just("matrix-js-sdk@alice:hs::matrix-sdk-crypto".to_owned()),
            Just("matrix-js-sdk@bob:hs::matrix-sdk-crypto".to_owned()),
            "[a-z0-9]{1,6}::matrix-sdk-crypto",
            Just("matrix-js-sdk:web-sync-store".to_owned()),
        ]
    }

    fn contents() -> impl Strategy<Value = Option<StoreContents>> {
        let keys = prop_oneof![
            Just(None),
            Just(Some(vec![])),
            Just(Some(vec!["account".to_owned()])),
            Just(Some(vec!["HAS_MIGRATED_VERIFICATION_LATCH".to_owned()])),
            Just(Some(vec!["q8N2mZr0b3YkE1x9dF+Xw7hJ5uLp4cVt6sAaBbCcDdE=".to_owned()])),
        ];
        let owner = prop_oneof![Just(None), (0..USERS.len(), 0..DEVICES.len()).prop_map(Some)];
        let stores = prop_oneof![Just(vec![]), Just(vec!["core".to_owned()]), Just(vec!["account".to_owned()])];
        prop_oneof![
            Just(None),
            (stores, keys, prop::option::of(0u32..3), owner).prop_map(|(object_stores, core_keys, legacy_accounts, owner)| Some(StoreContents {
                object_stores,
                core_keys,
                legacy_accounts,
                account_user_id: owner.map(|(u, _)| USERS[u].to_owned()),
                account_device_id: owner.map(|(_, d)| DEVICES[d].to_owned()),
            })),
        ]
    }

    proptest! {
        #![proptest_config(config(2000))]

        /// Whatever the origin holds: "lost" only if every crypto store was read and none can be the
        /// session's (each holds another account, or it is the session's own name and holds nothing);
        /// "healthy" never names a store that holds another account.
        #[test]
        fn store_check_never_calls_a_possible_store_lost(
            databases in prop::collection::vec(name(), 0..6),
            contents in prop::collection::vec(contents(), 6),
            skip in prop::collection::vec(any::<bool>(), 6),
        ) {
            let session = SessionFacts { user_id: "@alice:hs".into(), device_id: "DEV".into(), homeserver: None };
            let defaults = vec!["matrix-js-sdk::matrix-sdk-crypto".to_owned(), "crypto-store".to_owned()];
            let to_read = stores_to_read(&databases, &defaults);
            // Some reads may not happen at all (another tab is the writer, a failure): left out of `seen`.
            let seen: Vec<SeenStore> = to_read.iter().enumerate().filter(|(i, _)| !skip[*i]).map(|(i, n)| SeenStore { name: n.clone(), contents: contents[i].clone() }).collect();
            let named_mine = |n: &str| defaults.iter().any(|d| d == n) || n.contains("@alice:hs");
            let is_other = |c: &StoreContents| account_presence(c) != AccountPresence::Absent
                && c.account_user_id.is_some() && c.account_device_id.is_some()
                && (c.account_user_id.as_deref() != Some("@alice:hs") || c.account_device_id.as_deref() != Some("DEV"));
            match check_store(Some(session), Some(&databases), &defaults, &seen, None) {
                StoreCheck::StoreLost { .. } => {
                    for db in databases.iter().filter(|n| n.ends_with("::matrix-sdk-crypto") || defaults.contains(n)) {
                        let s = seen.iter().find(|s| &s.name == db);
                        prop_assert!(s.is_some(), "{db} was not read");
                        let c = s.unwrap().contents.as_ref();
                        prop_assert!(c.is_some(), "{db} was not read");
                        let c = c.unwrap();
                        prop_assert!(is_other(c) || (account_presence(c) == AccountPresence::Absent && named_mine(db)), "{db}: {c:?}");
                    }
                }
                StoreCheck::Healthy { store, .. } => {
                    let s = seen.iter().find(|s| s.name == store).expect("a healthy store was read");
                    prop_assert!(s.contents.as_ref().is_none_or(|c| !is_other(c)), "{store} holds another account");
                }
                _ => {}
            }
        }
    }
}
