//! The storm watch driven by a byte string read as a sequence of operations (before/after upload,
//! upload failed, diagnose) over a few fixed requests, with broken clocks. Checks what must hold
//! whatever happens: no panic, a replay is only ever for the failing key-id set and byte for byte an
//! answer the server gave for it, counts never go down.
#![no_main]
use std::collections::{BTreeMap, BTreeSet};

use libfuzzer_sys::fuzz_target;
use matrix_crypto_guardian::model::storm::{StormConfig, StormWatch, UploadDecision};
use matrix_crypto_guardian::model::{classify_upload_answer, parse_upload_request, ParsedUpload};

const REQUESTS: [&str; 6] = [
    r#"{"one_time_keys":{"signed_curve25519:A0":{"key":"a"},"signed_curve25519:A1":{"key":"b"}},"device_keys":{"user_id":"@u:hs","device_id":"DEV","keys":{"ed25519:DEV":"ED"}}}"#,
    r#"{"one_time_keys":{"signed_curve25519:A1":"x","signed_curve25519:A0":"y"}}"#,
    r#"{"one_time_keys":{"signed_curve25519:B0":{"key":"c"}}}"#,
    r#"{"fallback_keys":{"signed_curve25519:F0":{"key":"f","fallback":true}}}"#,
    r#"{"device_keys":{"user_id":"@u:hs","device_id":"DEV"}}"#,
    "not json",
];

fn answer(kind: u8, id: &str) -> (u16, Vec<u8>) {
    let conflict = format!(
        r#"{{"errcode":"M_UNKNOWN","error":"One time key {id} already exists. Old key: {{\"key\":\"o\"}}; new key: {{'key': 'n'}}"}}"#
    );
    match kind % 6 {
        0 | 1 => (400, conflict.into_bytes()),
        2 => (200, br#"{"one_time_key_counts":{"signed_curve25519":0}}"#.to_vec()),
        3 => (502, b"<html>502 Bad Gateway</html>".to_vec()),
        4 => (429, br#"{"errcode":"M_LIMIT_EXCEEDED"}"#.to_vec()),
        _ => (400, conflict.as_bytes()[..conflict.len() / 2].to_vec()),
    }
}

fn ids(body: &str) -> Option<BTreeSet<String>> {
    match parse_upload_request(body.as_bytes()) {
        ParsedUpload::Comparable(r) => Some(r.key_ids().into_iter().collect()),
        ParsedUpload::NotComparable { .. } => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut watch = StormWatch::new(StormConfig::default());
    let mut now = 1_700_000_000_000.0f64;
    let mut sent: BTreeMap<BTreeSet<String>, Vec<(u16, Vec<u8>)>> = BTreeMap::new();
    let mut last = (0u64, 0u64);
    for op in data.chunks(3) {
        let [code, arg, t] = [op[0], *op.get(1).unwrap_or(&0), *op.get(2).unwrap_or(&0)];
        let clock = match t >> 5 {
            0 => f64::NAN,
            1 => -1e15,
            2 => f64::INFINITY,
            3 => now + 1e12,
            _ => {
                now += f64::from(t) * 20_000.0;
                now
            }
        };
        let req = REQUESTS[usize::from(arg) % REQUESTS.len()];
        let id = ["signed_curve25519:A0", "signed_curve25519:B0", "signed_curve25519:F0"][usize::from(arg >> 4) % 3];
        match code % 4 {
            0 | 1 => {
                let (state, failing) = { let b = watch.state().breaker; (b.state, b.failing_key_ids) };
                if let UploadDecision::Replay { status, body, .. } = watch.before_upload(req, clock).decision {
                    let set = ids(req).expect("replayed an unreadable request");
                    assert_ne!(state, "closed");
                    assert_eq!(set, failing.into_iter().collect::<BTreeSet<_>>());
                    assert!(sent.get(&set).is_some_and(|v| v.iter().any(|(s, b)| *s == status && *b == body)));
                } else if code % 4 == 1 {
                    watch.upload_failed(req, "TypeError", clock);
                } else {
                    let (status, body) = answer(arg, id);
                    let complete = body.last() == Some(&b'}');
                    if classify_upload_answer(status, &body, complete).conflict().is_some() && complete {
                        if let Some(set) = ids(req) {
                            sent.entry(set).or_default().push((status, body.clone()));
                        }
                    }
                    watch.after_upload(req, status, &body, complete, clock);
                }
            }
            2 => {
                let (status, body) = answer(arg, id);
                watch.after_upload(req, status, &body, true, clock);
                if classify_upload_answer(status, &body, true).conflict().is_some() {
                    if let Some(set) = ids(req) {
                        sent.entry(set).or_default().push((status, body));
                    }
                }
            }
            _ => {
                let verdict = ["valid", "invalid", "no-signature"].get(usize::from(arg) % 4).copied();
                watch.diagnose(verdict, Some("ED"), clock);
            }
        }
        let b = watch.state().breaker;
        assert!(b.server_conflicts >= last.0 && b.local_answers >= last.1);
        last = (b.server_conflicts, b.local_answers);
        let _ = watch.diagnosis_input();
    }
});
