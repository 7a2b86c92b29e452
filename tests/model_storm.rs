//! The storm watch (what the JS layer talks to) on real Synapse answers: the events a host sees, the
//! exact replay, the probe cycle, the new key taken from the failing request and the diagnosis
//! hand-off.
#![cfg(not(target_arch = "wasm32"))]

use matrix_crypto_guardian::storm::breaker::BreakerConfig;
use matrix_crypto_guardian::storm::model::{StormConfig, StormWatch, UploadDecision};
use matrix_crypto_guardian::storm::{classify_upload_answer, UploadAnswer};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let p = format!("{}/tests/fixtures/synapse/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// (request body, status, response body) of a captured exchange.
fn exchange(name: &str) -> (String, u16, Vec<u8>) {
    let fx = fixture(name);
    let request = serde_json::to_string(&fx["request"]["body"]).unwrap();
    let status = fx["response"]["status"].as_u64().unwrap() as u16;
    (request, status, fx["response"]["body"].as_str().unwrap().as_bytes().to_vec())
}

fn kinds(events: &[matrix_crypto_guardian::storm::model::GuardianEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind).collect()
}

const T0: f64 = 1_700_000_000_000.0;

#[test]
fn first_conflict_opens_the_breaker_and_identical_retries_get_the_servers_own_answer() {
    let (request, status, body) = exchange("conflict_identity_replaced");
    let mut watch = StormWatch::new(StormConfig::default());

    assert_eq!(watch.before_upload(&request, T0).decision, UploadDecision::Pass);
    let after = watch.after_upload(&request, status, &body, true, T0 + 50.0);
    assert_eq!(kinds(&after.events), ["breaker-open", "storm"]);
    assert!(after.needs_diagnosis);

    let storm = &after.events[1].detail;
    assert_eq!(storm["active"].as_bool(), Some(true));
    assert_eq!(storm["firstSeen"].as_f64(), Some(T0 + 50.0));
    assert_eq!(storm["diagnosis"]["kind"].as_str(), Some("pending"));
    assert_eq!(storm["breaker"]["state"].as_str(), Some("open"));
    assert!(storm["conflict"]["keyId"].as_str().unwrap().starts_with("signed_curve25519:"));

    for i in 1..=5 {
        match watch.before_upload(&request, T0 + 1000.0 * i as f64).decision {
            UploadDecision::Replay { status: 400, body: replayed, .. } => assert_eq!(replayed, body, "byte for byte"),
            other => panic!("retry {i} was not answered locally: {other:?}"),
        }
    }
    let state = watch.state();
    assert_eq!((state.breaker.server_conflicts, state.breaker.local_answers, state.count), (1, 5, 6));
    // A second look at the same storm asks for no second diagnosis.
    assert!(!watch.after_upload(&request, status, &body, true, T0 + 9000.0).needs_diagnosis);
}

#[test]
fn a_different_upload_passes_while_open() {
    let (request, status, body) = exchange("conflict_identity_replaced");
    // The SDK's next batch: other key ids (here: one fewer).
    let mut next: Value = serde_json::from_str(&request).unwrap();
    let otks = next["one_time_keys"].as_object_mut().unwrap();
    let first = otks.keys().next().unwrap().clone();
    otks.remove(&first);
    let other = next.to_string();
    let mut watch = StormWatch::new(StormConfig::default());
    watch.after_upload(&request, status, &body, true, T0);
    assert_eq!(watch.before_upload(&other, T0 + 10.0).decision, UploadDecision::Pass);
}

#[test]
fn probe_after_backoff_and_a_2xx_closes() {
    let (request, status, body) = exchange("conflict_same_identity");
    let config = StormConfig { breaker: BreakerConfig { initial_backoff_ms: 60_000.0, ..BreakerConfig::default() }, ..StormConfig::default() };
    let mut watch = StormWatch::new(config);
    watch.after_upload(&request, status, &body, true, T0);

    assert!(matches!(watch.before_upload(&request, T0 + 59_000.0).decision, UploadDecision::Replay { .. }));
    let probe = watch.before_upload(&request, T0 + 60_000.0);
    assert_eq!(probe.decision, UploadDecision::Probe);
    assert_eq!(kinds(&probe.events), ["breaker-probe"]);

    let accepted = br#"{"one_time_key_counts":{"signed_curve25519":50}}"#;
    let closed = watch.after_upload(&request, 200, accepted, true, T0 + 60_100.0);
    assert_eq!(kinds(&closed.events), ["breaker-closed"]);
    assert_eq!(closed.events[0].detail["reason"].as_str(), Some("probe-accepted"));
    assert_eq!(watch.before_upload(&request, T0 + 60_200.0).decision, UploadDecision::Pass);
    // The storm is over once the breaker closed (its history stays); a new conflict starts it again.
    let state = watch.state();
    assert!(!state.active, "storm().active after the breaker closed");
    assert_eq!(state.first_seen, Some(T0));
    watch.after_upload(&request, status, &body, true, T0 + 70_000.0);
    assert!(watch.state().active, "a new conflict is a storm again");
}

#[test]
fn a_cut_conflict_body_is_a_storm_but_never_replayed() {
    let (request, status, body) = exchange("conflict_identity_replaced");
    let mut watch = StormWatch::new(StormConfig::default());
    let after = watch.after_upload(&request, status, &body[..body.len() / 2], false, T0);
    assert_eq!(kinds(&after.events), ["storm"]);
    assert_eq!(watch.before_upload(&request, T0 + 10.0).decision, UploadDecision::Pass);
}

#[test]
fn diagnosis_uses_the_announced_identity_and_the_forensics_verdict() {
    let (request, status, body) = exchange("conflict_identity_replaced");
    let fx = fixture("conflict_identity_replaced");
    let new_ed25519 = fx["request"]["body"]["device_keys"]["keys"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.starts_with("ed25519:"))
        .map(|(_, v)| v.as_str().unwrap().to_owned())
        .unwrap();
    let mut watch = StormWatch::new(StormConfig::default());
    watch.after_upload(&request, status, &body, true, T0);

    let needs = watch.diagnosis_input().expect("a conflict needs a diagnosis");
    assert_eq!(needs.current_ed25519.as_deref(), Some(new_ed25519.as_str()), "a blank store re-announces its keys");
    assert_eq!(needs.user_id.as_deref(), fx["user_id"].as_str());
    assert_eq!(needs.device_id.as_deref(), fx["device_id"].as_str());
    let old: Value = serde_json::from_str(needs.old_key_json.as_deref().unwrap()).unwrap();
    assert!(old["signatures"].is_object());

    let out = watch.diagnose(Some("invalid"), Some(&new_ed25519), T0 + 100.0);
    assert_eq!(kinds(&out.events), ["diagnosis"]);
    assert_eq!(out.events[0].detail["diagnosis"]["kind"].as_str(), Some("identity-replaced"));
    assert_eq!(watch.state().diagnosis.kind, "identity-replaced");
}

#[test]
fn same_identity_with_a_valid_old_signature_is_two_writers() {
    let (request, status, body) = exchange("conflict_same_identity");
    let mut watch = StormWatch::new(StormConfig::default());
    watch.after_upload(&request, status, &body, true, T0);
    let out = watch.diagnose(Some("valid"), Some("ed25519-of-this-device"), T0 + 100.0);
    assert_eq!(out.events[0].detail["diagnosis"]["kind"].as_str(), Some("concurrent-writers"));
    // A verdict the check could not give leaves the cause open rather than guessing.
    let mut watch = StormWatch::new(StormConfig::default());
    watch.after_upload(&request, status, &body, true, T0);
    watch.diagnose(Some("malformed: bad base64"), None, T0 + 100.0);
    assert_eq!(watch.state().diagnosis.kind, "undetermined");
}

#[test]
fn hostile_answers_never_open_the_breaker() {
    let (request, _, _) = exchange("conflict_identity_replaced");
    let mut watch = StormWatch::new(StormConfig::default());
    let hostile: [(u16, &[u8]); 4] = [
        (502, b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
        (400, b"{\"errcode\":\"M_UNKN"),
        (400, &[0xff, 0xfe, 0x00, 0x41]),
        (200, b"not json at all"),
    ];
    for (status, body) in hostile {
        let out = watch.after_upload(&request, status, body, true, T0);
        assert!(out.events.is_empty(), "{status}: {:?}", out.events);
    }
    let big = vec![b'a'; 10 * 1024 * 1024];
    assert!(watch.after_upload(&request, 400, &big, true, T0).events.is_empty());
    assert_eq!(watch.before_upload(&request, T0 + 1.0).decision, UploadDecision::Pass);
    assert!(!watch.state().active);
}

/// The public key a captured request holds under `key_id`.
fn request_key(request: &str, key_id: &str) -> String {
    let body: Value = serde_json::from_str(request).unwrap();
    body["one_time_keys"][key_id]["key"].as_str().unwrap().to_owned()
}

#[test]
fn the_new_key_in_the_storm_state_is_the_failing_requests() {
    for name in ["conflict_same_identity", "conflict_identity_replaced"] {
        let (request, status, body) = exchange(name);
        let mut watch = StormWatch::new(StormConfig::default());
        let after = watch.after_upload(&request, status, &body, true, T0);
        let state = watch.state();
        let conflict = state.conflict.as_ref().expect("a conflict");
        let key_id = conflict.key_id.as_deref().unwrap();
        let sent = request_key(&request, key_id);
        assert_eq!(conflict.new_key.as_ref().map(|k| k.key.as_str()), Some(sent.as_str()), "{name}");
        assert_ne!(conflict.old_key, conflict.new_key, "{name}");
        assert!(conflict.details_known, "{name}");
        // The storm event the host sees carries it too.
        let storm = &after.events.iter().find(|e| e.kind == "storm").unwrap().detail;
        assert_eq!(storm["conflict"]["newKey"].as_str(), Some(sent.as_str()), "{name}");
        assert_eq!(storm["conflict"]["detailsKnown"].as_bool(), Some(true), "{name}");
    }
}

#[test]
fn the_same_public_key_in_answer_and_request_is_no_divergence() {
    let (request, status, body) = exchange("conflict_same_identity");
    // The server's old key, as the answer prints it.
    let UploadAnswer::Conflict(answered) = classify_upload_answer(status, &body, true) else { panic!() };
    let key_id = answered.key_id.clone().unwrap();
    let old_public = answered.old_key.unwrap().key;
    // The same request, but holding the server's public key under that id (a re-upload of the
    // stored key, not another key under its id).
    let mut same: Value = serde_json::from_str(&request).unwrap();
    same["one_time_keys"][&key_id]["key"] = Value::from(old_public.as_str());
    let same = same.to_string();

    let mut watch = StormWatch::new(StormConfig::default());
    watch.after_upload(&same, status, &body, true, T0);
    assert_eq!(watch.state().conflict.unwrap().new_key.as_ref().map(|k| k.key.as_str()), Some(old_public.as_str()));
    // Even with the old key signed by this device, same material means no second writer.
    let out = watch.diagnose(Some("valid"), Some("ed25519-of-this-device"), T0 + 100.0);
    assert_eq!(out.events[0].detail["diagnosis"]["kind"].as_str(), Some("exhaustion-or-other"));

    // The captured request holds other material under that id: two writers.
    let mut watch = StormWatch::new(StormConfig::default());
    watch.after_upload(&request, status, &body, true, T0);
    let out = watch.diagnose(Some("valid"), Some("ed25519-of-this-device"), T0 + 100.0);
    assert_eq!(out.events[0].detail["diagnosis"]["kind"].as_str(), Some("concurrent-writers"));
}

#[test]
fn without_the_key_in_the_request_the_new_key_stays_unknown() {
    let (request, status, body) = exchange("conflict_same_identity");
    let UploadAnswer::Conflict(answered) = classify_upload_answer(status, &body, true) else { panic!() };
    let key_id = answered.key_id.unwrap();
    // A request that does not hold the id, and one that cannot be read at all.
    let mut other: Value = serde_json::from_str(&request).unwrap();
    let otks = other["one_time_keys"].as_object_mut().unwrap();
    let key = otks.remove(&key_id).unwrap();
    otks.insert("signed_curve25519:OTHER".into(), key);
    for sent in [other.to_string(), "not json".to_owned()] {
        let mut watch = StormWatch::new(StormConfig::default());
        watch.after_upload(&sent, status, &body, true, T0);
        let conflict = watch.state().conflict.unwrap();
        assert_eq!(conflict.key_id.as_deref(), Some(key_id.as_str()), "{sent}");
        assert!(conflict.old_key.is_some(), "{sent}");
        assert_eq!(conflict.new_key, None, "{sent}");
        assert!(!conflict.details_known, "{sent}");
        let out = watch.diagnose(Some("valid"), Some("ed25519-of-this-device"), T0 + 100.0);
        let reason = out.events[0].detail["diagnosis"]["reason"].as_str().unwrap();
        assert!(reason.contains("the new key is not known"), "{sent}: {reason}");
    }
}

/// `n` one-time keys with fresh ids: a request as matrix-js-sdk builds it.
fn otk_upload(first: u32, n: u32) -> String {
    let keys: serde_json::Map<String, Value> = (first..first + n)
        .map(|i| (format!("signed_curve25519:K{i:08}"), serde_json::json!({"key": format!("pub{i}"), "signatures": {}})))
        .collect();
    serde_json::json!({ "one_time_keys": keys }).to_string()
}

#[test]
fn otk_inflation_up_to_the_servers_cap_then_its_refusal_is_replayed_and_probed() {
    // Synapse 1.163.2 as captured: batches of 50 accepted with these counts, then 400 M_TOO_LARGE.
    let fx = fixture("error_otk_limit_pile_up");
    let counts: Vec<u64> = fx["accepted_counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).collect();
    let refusal = fx["response"]["body"].as_str().unwrap().as_bytes().to_vec();
    let mut watch = StormWatch::new(StormConfig::default());
    let mut seen = Vec::new();
    for (i, count) in counts.iter().enumerate() {
        let request = otk_upload(50 * i as u32, 50);
        let t = T0 + 2000.0 * i as f64;
        // Accepted uploads are never answered locally: each one goes to the server.
        assert_eq!(watch.before_upload(&request, t).decision, UploadDecision::Pass);
        let body = format!(r#"{{"one_time_key_counts":{{"signed_curve25519":{count}}}}}"#);
        seen.extend(kinds(&watch.after_upload(&request, 200, body.as_bytes(), true, t + 10.0).events));
    }
    // Said once, as soon as the server held more than the device can (150 > 100).
    assert_eq!(seen, ["otk-inflation"]);
    let health = watch.otk_health();
    assert_eq!(health.kind.as_str(), "otk-inflation");
    assert_eq!(health.figures.accepted_uploads, counts.len() as u64);
    assert_eq!(health.figures.server_count, counts.last().copied());

    // The batch that passes the cap: refused, and the breaker opens on the server's own answer.
    let refused = otk_upload(50 * counts.len() as u32, 50);
    let t = T0 + 100_000.0;
    assert_eq!(watch.before_upload(&refused, t).decision, UploadDecision::Pass);
    let after = watch.after_upload(&refused, 400, &refusal, true, t + 10.0);
    assert_eq!(kinds(&after.events), ["breaker-open", "otk-limit"]);
    assert!(!after.needs_diagnosis, "the cap is not a conflict: no signature check to run");
    assert_eq!(after.events[0].detail["cause"].as_str(), Some("otk-limit"));
    let limit = &after.events[1].detail;
    assert_eq!(limit["figures"]["limit"].as_u64(), Some(500));
    assert_eq!(limit["figures"]["heldAtLimit"].as_u64(), Some(counts.last().copied().unwrap()));
    assert_eq!(limit["breaker"]["state"].as_str(), Some("open"));
    // The storm (the conflict) is not claimed.
    assert!(!watch.state().active);

    // matrix-js-sdk re-sends the same refused request after every sync: the server's own refusal, byte
    // for byte, until the probe.
    for i in 1..=20 {
        match watch.before_upload(&refused, t + 1000.0 * i as f64).decision {
            UploadDecision::Replay { status: 400, body, .. } => assert_eq!(body, refusal),
            other => panic!("repeat {i}: {other:?}"),
        }
    }
    // Another request (new keys) is never answered locally.
    assert_eq!(watch.before_upload(&otk_upload(90_000, 50), t + 30_000.0).decision, UploadDecision::Pass);
    // After the backoff one real request asks again; peers claimed keys meanwhile, so it is accepted and
    // the breaker closes.
    assert_eq!(watch.before_upload(&refused, t + 61_000.0).decision, UploadDecision::Probe);
    let closed = watch.after_upload(&refused, 200, br#"{"one_time_key_counts":{"signed_curve25519":480}}"#, true, t + 61_100.0);
    assert_eq!(kinds(&closed.events), ["breaker-closed"]);
    let state = watch.state();
    assert_eq!((state.breaker.server_conflicts, state.breaker.local_answers, state.breaker.probes), (1, 20, 1));
    // What was seen stays said.
    assert_eq!(watch.otk_health().kind.as_str(), "otk-limit");
}

#[test]
fn a_tight_retry_loop_gets_every_answer_spaced_not_dropped() {
    // matrix-js-sdk 40.0.0 re-sends the failing upload as soon as its answer comes back.
    let (request, status, body) = exchange("conflict_identity_replaced");
    let mut watch = StormWatch::new(StormConfig::default());
    watch.before_upload(&request, T0);
    watch.after_upload(&request, status, &body, true, T0 + 50.0);
    let mut now = T0 + 60.0;
    let mut delays = Vec::new();
    for _ in 0..200 {
        match watch.before_upload(&request, now).decision {
            UploadDecision::Replay { status: 400, body: replayed, delay_ms } => {
                assert_eq!(replayed, body, "the server's own answer, byte for byte");
                delays.push(delay_ms);
                now += delay_ms + 1.0; // the SDK asks again right after the answer
            }
            other => panic!("not answered locally: {other:?}"),
        }
    }
    // The first at once, then one every 250 ms: 4 a second instead of as fast as the page can spin.
    assert_eq!(delays[0], 0.0);
    assert!(delays[1..].iter().all(|&d| (d - 249.0).abs() < 1e-9), "{delays:?}");
    assert_eq!(watch.state().breaker.local_answers, 200);
    // An SDK that retries once per sync (seconds apart) is answered at once.
    let mut slow = StormWatch::new(StormConfig::default());
    slow.after_upload(&request, status, &body, true, T0);
    for i in 1..=5 {
        let UploadDecision::Replay { delay_ms, .. } = slow.before_upload(&request, T0 + 2_000.0 * i as f64).decision else { panic!() };
        assert_eq!(delay_ms, 0.0);
    }
}
