//! The core's wasm API in a real JS engine (headless Chromium, wasm-bindgen-test-runner + chromedriver):
//! values cross typed (exported classes, and plain objects through serde-wasm-bindgen), so what JS receives
//! must be plain objects with the documented shapes, and what JS sends — including values of the wrong
//! shape — must come back as a value or a thrown error the JS layer catches, never a panic.
//! Run with `cargo test --target wasm32-unknown-unknown` (scripts/test.sh does it).
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Object, Reflect, JSON};
use matrix_crypto_guardian::diagnostics::adapter::{console_line_wakes_journal, read_accepted_upload, wakes_journal};
use matrix_crypto_guardian::store_loss::adapter::{check_store_js, read_session_js, sentinel_update_js, stores_to_read_js};
use matrix_crypto_guardian::writer::adapter::WriterLease;
use matrix_crypto_guardian::storm::adapter::{GuardianCore, UploadAction};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn js(text: &str) -> JsValue {
    JSON::parse(text).unwrap()
}

fn get(v: &JsValue, path: &str) -> JsValue {
    path.split('.').fold(v.clone(), |v, k| Reflect::get(&v, &k.into()).unwrap_or(JsValue::UNDEFINED))
}

fn text(v: &JsValue) -> String {
    JSON::stringify(v).unwrap().as_string().unwrap()
}

const UPLOAD: &str = r#"{"one_time_keys":{"signed_curve25519:AAAAAQ":{"key":"k","signatures":{"@a:hs":{"ed25519:DEV":"s"}}}}}"#;
const CONFLICT: &[u8] = br#"{"errcode":"M_UNKNOWN","error":"One time key signed_curve25519:AAAAAQ already exists. Old key: {\"key\":\"old\",\"signatures\":{\"@a:hs\":{\"ed25519:DEV\":\"x\"}}}; new key: {'key': 'k', 'signatures': {'@a:hs': {'ed25519:DEV': 's'}}}"}"#;

#[wasm_bindgen_test]
fn storm_answers_are_plain_objects_and_the_replay_is_the_servers_own_400() {
    let mut core = GuardianCore::new(js(r#"{"probeAfterMs": 60000}"#)).unwrap();
    let first = core.before_upload(UPLOAD, 0.0);
    assert!(first.action() == UploadAction::Pass);
    assert!(first.body().is_none() && first.status().is_none());
    assert!(Array::is_array(&first.events()));

    let after = core.after_upload(UPLOAD, 400, CONFLICT, true, 10.0);
    assert!(Object::get_prototype_of(&after) == Object::get_prototype_of(&Object::new()), "a plain object");
    let types: Vec<String> = Array::from(&get(&after, "events")).iter().map(|e| get(&e, "type").as_string().unwrap_or_default()).collect();
    assert!(types.iter().any(|t| t == "breaker-open"), "events: {types:?}");

    // While open, the same request is answered locally with the server's own 400, byte for byte.
    let replay = core.before_upload(UPLOAD, 20.0);
    assert!(replay.action() == UploadAction::Replay);
    assert_eq!(replay.status(), Some(400));
    assert_eq!(replay.body().expect("a replay has a body").to_vec(), CONFLICT, "a Uint8Array of the server's bytes");
    assert_eq!(get(&core.storm(), "breaker.state").as_string().as_deref(), Some("open"), "{}", text(&core.storm()));
}

#[wasm_bindgen_test]
fn odd_options_are_defaults_or_an_error_not_a_panic() {
    // Unknown members (a cycle among them) are ignored; no options is the defaults; options of the wrong
    // type are an error the JS layer catches (it then steps aside), never a trap.
    let cyclic = Object::new();
    Reflect::set(&cyclic, &"self".into(), &cyclic).unwrap();
    assert!(GuardianCore::new(cyclic.clone().into()).is_ok());
    assert!(GuardianCore::new(JsValue::UNDEFINED).is_ok());
    assert!(GuardianCore::new(js_sys::BigInt::from(1u32).into()).is_err());
    assert!(GuardianCore::new(js(r#"{"probeAfterMs": "soon"}"#)).is_err());
    assert!(WriterLease::new("tab".into(), cyclic.into()).is_ok());
    assert_eq!(read_session_js("cinny", JsValue::NULL, JsValue::UNDEFINED), JsValue::NULL);
}

#[wasm_bindgen_test]
fn the_store_check_reads_js_objects_and_answers_one() {
    let values = js(r#"{"cinny_user_id": "@a:hs", "cinny_device_id": "DEV", "cinny_access_token": "syt_secret"}"#);
    let session = read_session_js("cinny", values, JsValue::NULL);
    assert_eq!(text(&session), r#"{"deviceId":"DEV","homeserver":null,"userId":"@a:hs"}"#, "never the token");

    let stores = vec!["matrix-js-sdk::matrix-sdk-crypto".to_owned()];
    let lost = check_store_js(session.clone(), Some(vec!["other".into()]), stores.clone(), js("[]"), None);
    assert_eq!(get(&lost, "verdict").as_string().as_deref(), Some("store-lost"), "{}", text(&lost));

    let sentinel = sentinel_update_js(None, "@a:hs", "DEV", Some("ED25519KEY".into()), 5.0);
    let lost = check_store_js(session.clone(), Some(vec![]), stores.clone(), JsValue::NULL, Some(text(&sentinel)));
    assert_eq!(get(&lost, "verdict").as_string().as_deref(), Some("store-lost"), "{}", text(&lost));
    assert_eq!(get(&lost, "knownIdentity").as_string().as_deref(), Some("ED25519KEY"), "{}", text(&lost));

    let seen = js(r#"[{"name": "matrix-js-sdk::matrix-sdk-crypto", "contents": {"objectStores": ["core"], "coreKeys": ["account"]}}]"#);
    let healthy = check_store_js(session.clone(), Some(stores.clone()), stores.clone(), seen, None);
    assert_eq!(get(&healthy, "verdict").as_string().as_deref(), Some("healthy"), "{}", text(&healthy));
    assert_eq!(get(&healthy, "account").as_string().as_deref(), Some("present"));

    // A per-session store name: found by the account inside; a store of another account is not hers.
    let dbs = vec!["p@a:hs::matrix-sdk-crypto".to_owned(), "matrix-js-sdk::matrix-sdk-crypto".to_owned()];
    assert_eq!(stores_to_read_js(dbs.clone(), stores.clone()), vec![dbs[1].clone(), dbs[0].clone()]);
    let seen = js(r#"[{"name": "matrix-js-sdk::matrix-sdk-crypto", "contents": {"objectStores": ["core"], "coreKeys": ["account"], "accountUserId": "@b:hs", "accountDeviceId": "B"}},
                     {"name": "p@a:hs::matrix-sdk-crypto", "contents": {"objectStores": ["core"], "coreKeys": ["account"], "accountUserId": "@a:hs", "accountDeviceId": "DEV"}}]"#);
    let healthy = check_store_js(session, Some(dbs), stores, seen, None);
    assert_eq!(get(&healthy, "store").as_string().as_deref(), Some("p@a:hs::matrix-sdk-crypto"), "{}", text(&healthy));
}

#[wasm_bindgen_test]
fn trouble_wakes_the_journal_and_an_accepted_upload_tells_its_identity() {
    // The journal itself is in the lazily loaded module (tests/e2e/diagnostics.test.mjs drives it); the
    // core only says what wakes it.
    assert!(wakes_journal("storm") && wakes_journal("store-lost"));
    assert!(!wakes_journal("persistence") && !wakes_journal("writer-acquired") && !wakes_journal("ready"));
    assert!(console_line_wakes_journal("Failed to process outgoing request: One time key signed_curve25519:AAAAAQ already exists"));
    assert!(!console_line_wakes_journal("FetchHttpApi: <-- GET /sync [200ms 200]"));

    let body = r#"{"device_keys":{"user_id":"@a:hs","device_id":"DEV","algorithms":[],"keys":{"ed25519:DEV":"EDKEY","curve25519:DEV":"CK"},"signatures":{}}}"#;
    let seen = read_accepted_upload(body, br#"{"one_time_key_counts":{"signed_curve25519":50}}"#);
    assert_eq!(get(&seen, "ed25519").as_string().as_deref(), Some("EDKEY"), "{}", text(&seen));
    assert_eq!(get(&seen, "otkCounts.signed_curve25519").as_f64(), Some(50.0));
    let nothing = read_accepted_upload("not json", b"<html>");
    assert!(get(&nothing, "ed25519").is_null());
}
