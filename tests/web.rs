//! The core's wasm API in a real JS engine (headless Chromium, wasm-bindgen-test-runner + chromedriver):
//! values cross typed (exported classes, and plain objects through serde-wasm-bindgen), so what JS receives
//! must be plain objects with the documented shapes, and what JS sends — including values of the wrong
//! shape — must come back as a value or a thrown error the JS layer catches, never a panic.
//! Run with `cargo test --target wasm32-unknown-unknown` (scripts/test.sh does it).
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Object, Reflect, JSON};
use matrix_crypto_guardian::diagnostics::adapter::{console_line_wakes_journal, wakes_journal};
use matrix_crypto_guardian::diagnostics::journal_adapter::read_accepted_upload;
use matrix_crypto_guardian::store_loss::adapter::{check_store_js, read_session_js, sentinel_update_js, stores_to_read_js};
use matrix_crypto_guardian::writer::lock::{writer_held_elsewhere, writer_mechanism, WriterLock};
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
    WriterLock::new("tab".into(), js_sys::Function::new_no_args(""), cyclic.into()).ok().expect("a lock").stop();
    assert_eq!(read_session_js("cinny", JsValue::NULL, JsValue::UNDEFINED), JsValue::NULL);
}

#[wasm_bindgen_test]
fn the_store_check_reads_js_objects_and_answers_one() {
    let values = js(r#"{"cinny_user_id": "@a:hs", "cinny_device_id": "DEV", "cinny_access_token": "syt_secret"}"#);
    let session = read_session_js("cinny", values, JsValue::NULL);
    assert_eq!(text(&session), r#"{"userId":"@a:hs","deviceId":"DEV","homeserver":null}"#, "never the token");

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
    let healthy = check_store_js(session.clone(), Some(dbs), stores.clone(), seen, None);
    assert_eq!(get(&healthy, "store").as_string().as_deref(), Some("p@a:hs::matrix-sdk-crypto"), "{}", text(&healthy));

    // Read member by member (src/js_object.rs): contents of the wrong kind are not read at all — never taken
    // for an empty store, which would be "lost" — and a missing member is the default.
    let name = stores[0].clone();
    let odd = js(r#"[{"name": "matrix-js-sdk::matrix-sdk-crypto", "contents": {"objectStores": "core", "coreKeys": ["account"]}}]"#);
    let unknown = check_store_js(session.clone(), Some(vec![name.clone()]), stores.clone(), odd, None);
    assert_eq!(get(&unknown, "verdict").as_string().as_deref(), Some("unknown"), "{}", text(&unknown));
    let blank = js(r#"[{"name": "matrix-js-sdk::matrix-sdk-crypto", "contents": {}}]"#);
    let lost = check_store_js(session.clone(), Some(vec![name.clone()]), stores.clone(), blank, None);
    assert_eq!(get(&lost, "emptyStore").as_string().as_deref(), Some(name.as_str()), "{}", text(&lost));
    let not_read = js(r#"[{"name": "matrix-js-sdk::matrix-sdk-crypto", "contents": null}, 7, null, {"contents": {}}]"#);
    // (Not read and listed by name: the store is there, whose account it holds is not known; never "lost".)
    let there = check_store_js(session, Some(vec![name]), stores.clone(), not_read, None);
    assert_eq!(get(&there, "account").as_string().as_deref(), Some("unknown"), "{}", text(&there));
    assert_eq!(get(&there, "verdict").as_string().as_deref(), Some("healthy"), "{}", text(&there));

    // A host's session object is read for its three members only; anything else in it (a cycle, a getter that
    // throws) does not matter, and one without a device id is no session.
    let host = js_sys::Function::new_no_args(
        "const s = { userId: '@h:hs', deviceId: 'HD', extra: null }; s.extra = s; \
         Object.defineProperty(s, 'token', { get() { throw new Error('no'); }, enumerable: true }); return s;",
    )
    .call0(&JsValue::NULL)
    .unwrap();
    let hosted = read_session_js("element", JsValue::NULL, host);
    assert_eq!(text(&hosted), r#"{"userId":"@h:hs","deviceId":"HD","homeserver":null}"#);
    let partial = read_session_js("element", js(r#"{"mx_user_id": "@a:hs", "mx_device_id": 5}"#), js(r#"{"userId": "@h:hs"}"#));
    assert!(partial.is_null(), "{}", text(&partial));
    // A stored sentinel that is not one is no sentinel: the check rests on the store alone.
    let lost = check_store_js(js(r#"{"userId": "@a:hs", "deviceId": "DEV"}"#), Some(vec![]), stores, JsValue::NULL, Some(r#"{"userId":"@a:hs","deviceId":"DEV","ed25519":1}"#.into()));
    assert!(get(&lost, "knownIdentity").is_null(), "{}", text(&lost));
}

/// The records the core reads back from stored JSON text, parsed here by the engine's `JSON.parse`
/// (src/stored_json.rs): the same verdicts as the native tests, which parse with serde_json.
#[wasm_bindgen_test]
fn stored_json_text_reads_back_through_the_engines_parser() {
    use matrix_crypto_guardian::store_loss::model::{read_session, SessionPreset};
    use matrix_crypto_guardian::diagnostics::journal::Sentinel;
    use matrix_crypto_guardian::writer::model::LeaseRecord;

    let stringified = r#"{"lastSeen":2,"firstSeen":1,"previousEd25519":null,"ed25519":"K","deviceId":"D","userId":"@u:hs"}"#;
    let sentinel = Sentinel::parse(stringified).unwrap();
    assert_eq!((sentinel.ed25519.as_deref(), sentinel.previous_ed25519.as_deref(), sentinel.last_seen), (Some("K"), None, 2.0));
    assert_eq!(Sentinel::parse(&sentinel.to_json_string()), Some(sentinel));
    for bad in ["", "{not json", "null", "[]", "7", r#"{"userId":"@u:hs","deviceId":"D","firstSeen":1}"#,
        r#"{"userId":"@u:hs","deviceId":"D","ed25519":7,"firstSeen":1,"lastSeen":2}"#, r#"{"userId":1,"deviceId":"D","firstSeen":1,"lastSeen":2}"#] {
        assert_eq!(Sentinel::parse(bad), None, "{bad}");
    }

    assert_eq!(LeaseRecord::parse(Some(r#"{"owner":"a","beat":3,"stolenFrom":null}"#)), Some(LeaseRecord { owner: "a".into(), beat: 3, stolen_from: None }));
    for bad in ["{not json", r#"{"owner":"","beat":1}"#, r#"{"owner":"a"}"#, r#"{"owner":"a","beat":-1}"#, r#"{"owner":"a","beat":1.5}"#,
        r#"{"owner":7,"beat":1}"#, r#"{"owner":"a","beat":1,"stolenFrom":2}"#, "[]", "null"] {
        assert_eq!(LeaseRecord::parse(Some(bad)), None, "{bad}");
    }

    let storage = |pairs: &'static [(&'static str, &'static str)]| move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
    let current = read_session(SessionPreset::Cinny, storage(&[("matrixSessions", r#"[{"baseUrl":"https://hs","userId":"@a:hs","deviceId":"DEV"}]"#)]));
    assert_eq!(current.map(|s| (s.device_id, s.homeserver)), Some(("DEV".into(), Some("https://hs".into()))));
    // An empty list is no session; a list without ids is none either; text that is not a list falls back.
    assert_eq!(read_session(SessionPreset::Cinny, storage(&[("matrixSessions", "[]"), ("cinny_user_id", "@a:hs"), ("cinny_device_id", "L")])), None);
    assert_eq!(read_session(SessionPreset::Cinny, storage(&[("matrixSessions", r#"[{"userId":"@a:hs"}]"#)])), None);
    let junk = storage(&[("matrixSessions", "{not json"), ("cinny_user_id", "@a:hs"), ("cinny_device_id", "L")]);
    assert_eq!(read_session(SessionPreset::Cinny, junk).map(|s| s.device_id), Some("L".into()));
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

// ---------------------------------------------------------------------------------------------------
// The writer lock (src/writer/lock.rs): two WriterLocks on one name in one page stand for two tabs (Web
// Locks and BroadcastChannel both work between the objects of one page; localStorage `storage` events do
// not, so the lease's waiters find changes on their ticks).

use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen_futures::JsFuture;

async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

async fn resolved(p: js_sys::Promise) -> JsValue {
    JsFuture::from(p).await.unwrap()
}

/// A lock with an `emit` that records "type" or "type:reason" of every event.
fn lock(name: &str, options: &str) -> (WriterLock, Rc<RefCell<Vec<String>>>) {
    let log = Rc::new(RefCell::new(Vec::new()));
    let seen = log.clone();
    let emit = Closure::<dyn FnMut(JsValue)>::new(move |events: JsValue| {
        for e in Array::from(&events).iter() {
            let kind = get(&e, "type").as_string().unwrap_or_default();
            let reason = get(&e, "detail.reason").as_string();
            seen.borrow_mut().push(reason.map_or(kind.clone(), |r| format!("{kind}:{r}")));
        }
    });
    (WriterLock::new(name.into(), emit.into_js_value().unchecked_into(), js(options)).ok().expect("a lock"), log)
}

fn unique(what: &str) -> String {
    format!("test/{what}/{}", js_sys::Math::random())
}

fn role(l: &WriterLock) -> String {
    get(&l.state(), "role").as_string().unwrap_or_default()
}

/// A `pagehide`/`pageshow` of this page, `persisted`: into (or back from) the back/forward cache.
fn page_transition(kind: &str, persisted: bool) {
    let fire = js_sys::Function::new_with_args("type, persisted", "dispatchEvent(new PageTransitionEvent(type, { persisted }))");
    fire.call2(&JsValue::NULL, &kind.into(), &persisted.into()).unwrap();
}

/// Web Locks' own view: how many locks of this name are held.
async fn held_locks(name: &str) -> usize {
    let query = js_sys::Function::new_with_args("name", "return navigator.locks.query().then((s) => s.held.filter((l) => l.name === name).length)");
    resolved(query.call1(&JsValue::NULL, &name.into()).unwrap().unchecked_into()).await.as_f64().unwrap() as usize
}

/// The tabs answering a roll call on the census channel of `name`, asked from outside the locks.
async fn census_answers(name: &str) -> usize {
    let ask = js_sys::Function::new_with_args(
        "name",
        "const c = new BroadcastChannel('matrix-crypto-guardian:census:' + name); const tabs = new Set();
         c.onmessage = (e) => tabs.add(e.data.tab); c.postMessage({ kind: 'who', tab: 'outsider', role: 'idle' });
         return new Promise((r) => setTimeout(() => { c.close(); r(tabs.size); }, 150));",
    );
    resolved(ask.call1(&JsValue::NULL, &name.into()).unwrap().unchecked_into()).await.as_f64().unwrap() as usize
}

/// A hung old writer: a holder of the lock `name` that never lets go and never says "stopped" (no census).
async fn hung_old_writer(name: &str) {
    let hold = js_sys::Function::new_with_args("name", "navigator.locks.request(name, () => new Promise(() => {})).catch(() => {})");
    hold.call1(&JsValue::NULL, &name.into()).unwrap();
    sleep(50).await;
}

/// One test, its scenarios in turn: wasm-bindgen-test runs async tests concurrently, and the lease scenario
/// removes navigator.locks from the page for a while.
#[wasm_bindgen_test]
async fn writer_lock_scenarios() {
    two_web_locks_tabs_one_holds_the_other_waits_release_hands_over_and_steal_moves_it().await;
    a_release_during_a_waiting_steal_never_makes_a_writer().await;
    a_steal_let_go_at_once_hands_the_lock_on_only_after_the_old_writer_stopped().await;
    without_web_locks_the_lease_hands_over_steals_and_stop_removes_its_entry().await;
}

async fn two_web_locks_tabs_one_holds_the_other_waits_release_hands_over_and_steal_moves_it() {
    assert_eq!(writer_mechanism(), "web-locks");
    let name = unique("web-locks");
    let (a, a_log) = lock(&name, "{}");
    let (b, b_log) = lock(&name, "{}");
    assert_eq!(resolved(a.acquire("wait")).await, JsValue::TRUE);
    assert_eq!(role(&a), "writer");
    assert_eq!(get(&a.state(), "mechanism").as_string().as_deref(), Some("web-locks"));
    assert_eq!(resolved(writer_held_elsewhere(vec![name.clone()])).await, JsValue::TRUE);
    assert_eq!(resolved(b.acquire("ifAvailable")).await, JsValue::FALSE, "held by a");

    let b_waits = b.acquire("wait");
    sleep(100).await;
    assert_eq!(role(&b), "waiting");
    assert!(b_log.borrow().contains(&"writer-waiting".to_owned()), "{:?}", b_log.borrow());
    assert_eq!(resolved(b.acquire("ifAvailable")).await, JsValue::FALSE, "an ifAvailable leaves the wait alone");

    a.release();
    assert_eq!(resolved(b_waits).await, JsValue::TRUE, "the release handed the lock over");
    assert_eq!((role(&a), role(&b)), ("idle".to_owned(), "writer".to_owned()));
    assert_eq!(held_locks(&name).await, 1);

    // "Use here" in a: b is told (writer-lost: stolen), says it stopped, then a writes.
    assert_eq!(resolved(a.acquire("steal")).await, JsValue::TRUE);
    assert_eq!((role(&a), role(&b)), ("writer".to_owned(), "lost".to_owned()));
    assert_eq!(get(&b.state(), "lost.reason").as_string().as_deref(), Some("stolen"));
    assert!(b_log.borrow().contains(&"writer-lost:stolen".to_owned()), "{:?}", b_log.borrow());
    assert_eq!(a_log.borrow().iter().filter(|e| *e == "writer-acquired").count(), 2, "{:?}", a_log.borrow());
    assert_eq!(held_locks(&name).await, 1, "never two holders");

    let census = resolved(a.census()).await;
    assert_eq!(get(&census, "tabs").as_f64(), Some(2.0), "{}", text(&census));
    assert_eq!(get(&census, "writer"), get(&a.state(), "tabId"));
    assert_eq!(census_answers(&name).await, 2);

    // The back/forward cache: a page entering it keeps its Web Lock (Chromium does not cache a page that
    // holds one); a page going away lets it go at once, without waiting for the document's teardown.
    page_transition("pagehide", true);
    page_transition("pageshow", true);
    sleep(50).await;
    assert_eq!((held_locks(&name).await, role(&a)), (1, "writer".to_owned()));
    page_transition("pagehide", false);
    sleep(50).await;
    assert_eq!(held_locks(&name).await, 0, "pagehide let the lock go");

    // stop(): the lock, the listeners and the census channel go.
    a.stop();
    b.stop();
    sleep(50).await; // the lock manager lets a lock go once its promise has settled (a task later)
    assert_eq!(held_locks(&name).await, 0);
    assert_eq!(census_answers(&name).await, 0, "no listener answers after stop()");
    assert_eq!(resolved(a.acquire("wait")).await, JsValue::FALSE, "a stopped lock is never granted");
}

async fn a_release_during_a_waiting_steal_never_makes_a_writer() {
    let name = unique("release-during-steal");
    hung_old_writer(&name).await; // so the steal waits its full second
    let (b, b_log) = lock(&name, "{}");
    let steal = b.acquire("steal");
    sleep(200).await;
    assert_eq!(held_locks(&name).await, 1, "b holds the stolen lock");
    assert_ne!(role(&b), "writer", "the steal waits for the old writer to stop");
    b.release();
    assert_eq!(resolved(steal).await, JsValue::FALSE);
    sleep(1_000).await; // past the steal's wait for "stopped"
    assert_eq!(role(&b), "idle");
    assert!(!b_log.borrow().contains(&"writer-acquired".to_owned()), "{:?}", b_log.borrow());
    assert_eq!(held_locks(&name).await, 0, "b let the lock go");
    b.stop();
}

/// "Use here" in a third tab and released at once (the e2e stress does this): the waiting tab must not get the
/// lock while the old writer's engine still runs — it learns of the steal asynchronously. The lock is handed
/// on only after the old writer said "stopped" (here a hung one: after the steal's full wait).
async fn a_steal_let_go_at_once_hands_the_lock_on_only_after_the_old_writer_stopped() {
    let name = unique("steal-released");
    hung_old_writer(&name).await;
    let (waiting, waiting_log) = lock(&name, "{}");
    let waits = waiting.acquire("wait");
    let (stealer, _) = lock(&name, "{}");
    let steal = stealer.acquire("steal");
    stealer.release();
    assert_eq!(resolved(steal).await, JsValue::FALSE, "released: the steal makes no writer");
    sleep(300).await;
    assert_ne!(role(&waiting), "writer", "the old writer has not stopped: the lock is not handed on yet");
    assert_eq!(held_locks(&name).await, 1, "the stealer keeps it meanwhile");
    assert_eq!(resolved(waits).await, JsValue::TRUE, "then the waiting tab gets it (the wait timed out)");
    assert!(waiting_log.borrow().contains(&"writer-acquired".to_owned()), "{:?}", waiting_log.borrow());

    // With an old writer that answers: the lock goes on as soon as it said "stopped".
    let name = unique("steal-released-answered");
    let (old, old_log) = lock(&name, "{}");
    assert_eq!(resolved(old.acquire("wait")).await, JsValue::TRUE);
    let (next, _) = lock(&name, "{}");
    let next_waits = next.acquire("wait");
    let (stealer2, _) = lock(&name, "{}");
    let steal = stealer2.acquire("steal");
    stealer2.release();
    assert_eq!(resolved(steal).await, JsValue::FALSE);
    assert_eq!(resolved(next_waits).await, JsValue::TRUE);
    assert!(old_log.borrow().contains(&"writer-lost:stolen".to_owned()), "the old writer was told first: {:?}", old_log.borrow());
    for l in [waiting, stealer, old, next, stealer2] {
        l.stop();
    }
}

async fn without_web_locks_the_lease_hands_over_steals_and_stop_removes_its_entry() {
    // As in an engine without navigator.locks (the e2e "lease" mode removes it the same way).
    let remove = js_sys::Function::new_no_args(
        "const d = Object.getOwnPropertyDescriptor(Navigator.prototype, 'locks'); delete Navigator.prototype.locks;
         return () => Object.defineProperty(Navigator.prototype, 'locks', d);",
    );
    let restore: js_sys::Function = remove.call0(&JsValue::NULL).unwrap().unchecked_into();
    let name = unique("lease");
    // Fast, and a claim settles slower than a heartbeat: without `storage` events (one page), b still sees
    // a's steal on a tick before a confirms it.
    let fast = r#"{"heartbeatMs": 40, "staleAfterMs": 400, "settleMs": 120}"#;
    let (a, _) = lock(&name, fast);
    let (b, b_log) = lock(&name, fast);
    assert_eq!(writer_mechanism(), "lease");
    assert_eq!(get(&a.state(), "mechanism").as_string().as_deref(), Some("lease"));
    let entry = || {
        let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
        storage.get_item(&format!("matrix-crypto-guardian:lease:{name}")).unwrap().map(|t| js(&t))
    };

    assert_eq!(resolved(a.acquire("wait")).await, JsValue::TRUE);
    assert_eq!(entry().map(|e| get(&e, "owner")), Some(get(&a.state(), "tabId")));
    assert_eq!(resolved(writer_held_elsewhere(vec![name.clone()])).await, JsValue::TRUE);
    assert_eq!(resolved(b.acquire("ifAvailable")).await, JsValue::FALSE);
    let b_waits = b.acquire("wait");
    sleep(200).await;
    assert_eq!(role(&b), "waiting");
    assert_eq!(role(&a), "writer", "a live holder keeps its lease");

    a.release();
    assert_eq!(resolved(b_waits).await, JsValue::TRUE);
    assert_eq!(entry().map(|e| get(&e, "owner")), Some(get(&b.state(), "tabId")));

    assert_eq!(resolved(a.acquire("steal")).await, JsValue::TRUE);
    assert_eq!((role(&a), role(&b)), ("writer".to_owned(), "lost".to_owned()));
    assert!(b_log.borrow().contains(&"writer-lost:stolen".to_owned()), "{:?}", b_log.borrow());

    // A page entering the back/forward cache gives its lease up (another tab may take it meanwhile), and
    // coming back it knows it is no longer the writer.
    page_transition("pagehide", true);
    assert_eq!(entry(), None, "pagehide released the lease");
    page_transition("pageshow", true);
    assert_eq!(role(&a), "lost");
    assert_eq!(get(&a.state(), "lost.reason").as_string().as_deref(), Some("suspended"));

    assert_eq!(resolved(a.acquire("wait")).await, JsValue::TRUE, "and asks again");
    assert!(entry().is_some());
    a.stop();
    b.stop();
    assert_eq!(entry(), None, "stop() gave the lease up");
    sleep(200).await;
    assert_eq!(entry(), None, "and no heartbeat wrote it back");
    restore.call0(&JsValue::NULL).unwrap();
    assert_eq!(writer_mechanism(), "web-locks");
}
