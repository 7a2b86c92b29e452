//! The guardian's own IndexedDB database (src/diagnostics/own_db.rs, indexed_db_futures) in a browser, with the
//! core's journal model: creation, round trips, the sentinel, and the migration of a database written by
//! the older schema (made by hand with raw IndexedDB).
//! Run with `cargo test --target wasm32-unknown-unknown -p matrix-crypto-guardian --test web_own_db`.
#![cfg(target_arch = "wasm32")]

use matrix_crypto_guardian::diagnostics::journal::{sentinel_update, Journal, Sentinel, SessionId};
use matrix_crypto_guardian::diagnostics::own_db::{self, OwnDb, Record};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
// Schema v1 exactly as it was: IndexedDB version 1, one object store "journal", out-of-line keys,
// values = JSON text of a format-1 journal (one element per line, no counts).
export function writeSchemaV1(name, key, json) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore("journal");
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      const tx = db.transaction("journal", "readwrite");
      tx.objectStore("journal").put(json, key);
      tx.oncomplete = () => { db.close(); resolve(); };
      tx.onerror = () => reject(tx.error);
    };
  });
}
export function storeNamesAndVersion(name) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name);
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      const out = { version: db.version, stores: [...db.objectStoreNames] };
      db.close();
      resolve(out);
    };
  });
}
export function deleteDb(name) {
  return new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = req.onerror = req.onblocked = () => resolve();
  });
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = writeSchemaV1)]
    fn write_schema_v1(name: &str, key: &str, json: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = storeNamesAndVersion)]
    fn store_names_and_version(name: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = deleteDb)]
    fn delete_db(name: &str) -> js_sys::Promise;
}

async fn wait(p: js_sys::Promise) -> JsValue {
    JsFuture::from(p).await.expect("own database call failed")
}

fn field(v: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(v, &name.into()).unwrap()
}

fn schema_version() -> u32 {
    own_db::SCHEMA_VERSION
}

async fn shape(name: &str) -> (u32, Vec<String>) {
    let v = wait(store_names_and_version(name)).await;
    let version = field(&v, "version").as_f64().unwrap() as u32;
    let stores = js_sys::Array::from(&field(&v, "stores")).iter().map(|s| s.as_string().unwrap()).collect();
    (version, stores)
}

fn strings(v: JsValue) -> Vec<String> {
    js_sys::Array::from(&v).iter().map(|s| s.as_string().unwrap()).collect()
}

#[wasm_bindgen_test]
async fn a_new_database_is_created_at_the_current_schema_and_round_trips() {
    let name = "mcg-test-own-db-new";
    wait(delete_db(name)).await;
    let db = OwnDb::new(Some(name.to_owned()));
    assert_eq!(field(&wait(db.open()).await, "previousVersion").as_f64(), Some(0.0), "did not exist before");
    assert_eq!(field(&wait(db.open()).await, "previousVersion").as_f64(), Some(0.0), "the same instance tells its first open");
    let again = OwnDb::new(Some(name.to_owned()));
    assert_eq!(field(&wait(again.open()).await, "previousVersion").as_f64(), Some(f64::from(schema_version())), "exists now, no upgrade");
    assert_eq!(shape(name).await, (schema_version(), vec!["journal".to_owned(), "sentinel".to_owned()]));

    let mut j = Journal::new(20);
    j.set_session(Some(SessionId { user_id: "@a:localhost".into(), device_id: "DEV".into() }));
    j.record_console("error", "One time key signed_curve25519:AAAA already exists", 1.0);
    let key = j.session().unwrap().key();
    assert!(wait(db.load(Record::Journal, key.clone())).await.is_null());
    wait(db.save(Record::Journal, key.clone(), j.to_stored_json())).await;
    let text = wait(db.load(Record::Journal, key.clone())).await.as_string().unwrap();
    assert_eq!(Journal::from_stored(&text, 20).unwrap(), j);
    assert_eq!(strings(wait(db.sessions(Record::Journal)).await), vec![key.clone()]);

    let s = sentinel_update(None, "@a:localhost", "DEV", Some("ED"), 5.0).unwrap();
    wait(db.save(Record::Sentinel, key.clone(), s.to_json_string())).await;
    let text = wait(db.load(Record::Sentinel, key.clone())).await.as_string().unwrap();
    assert_eq!(Sentinel::parse(&text), Some(s));
    assert_eq!(strings(wait(db.sessions(Record::Sentinel)).await), vec![key.clone()]);

    // A record name the JS layer made up is a rejected promise that says so, never a panic.
    let call = js_sys::Function::new_with_args("db", "return db.load('journals', 'k')");
    let unknown: js_sys::Promise = call.call1(&JsValue::NULL, &JsValue::from(db)).unwrap().into();
    let err = JsFuture::from(unknown).await.expect_err("an unknown record is an error");
    assert!(format!("{:?}", err).contains("no such record"), "{err:?}");
    wait(delete_db(name)).await;
}

#[wasm_bindgen_test]
async fn a_schema_v1_database_migrates_and_keeps_its_journal() {
    let name = "mcg-test-own-db-v1";
    wait(delete_db(name)).await;
    let key = "@old:localhost|OLDDEVICE";
    let v1 = r#"{"entries":[
        {"ke":"KE-1","level":"error","line":"Failed to process outgoing request 0: One time key signed_curve25519:AAAAAQ already exists","at":1000},
        {"ke":"KE-1","level":"error","line":"Failed to process outgoing request 1: One time key signed_curve25519:AAAAAQ already exists","at":2000},
        {"ke":"KE-2","level":"warn","line":"MissingKey: missing key at index 4 for participant @bob:localhost","at":3000}]}"#;
    wait(write_schema_v1(name, key, v1)).await;
    assert_eq!(shape(name).await, (1, vec!["journal".to_owned()]));

    let db = OwnDb::new(Some(name.to_owned()));
    assert_eq!(field(&wait(db.open()).await, "previousVersion").as_f64(), Some(1.0));
    assert_eq!(shape(name).await, (schema_version(), vec!["journal".to_owned(), "sentinel".to_owned()]));

    // The v1 record is still there and reads as a journal with its counts rebuilt.
    let stored = wait(db.load(Record::Journal, key.to_owned())).await.as_string().expect("journal kept across the migration");
    let j = Journal::from_stored(&stored, 200).unwrap();
    assert_eq!(j.ke_counts()["KE-1"], 2);
    assert_eq!(j.ke_counts()["KE-2"], 1);
    assert_eq!(j.entries().len(), 2);
    assert_eq!(j.entries()[0].count, 2);

    // Written back in the current format, it still reads the same.
    wait(db.save(Record::Journal, key.to_owned(), j.to_stored_json())).await;
    let again = Journal::from_stored(&wait(db.load(Record::Journal, key.to_owned())).await.as_string().unwrap(), 200).unwrap();
    assert_eq!(again.ke_counts(), j.ke_counts());
    assert_eq!(strings(wait(db.sessions(Record::Journal)).await), vec![key.to_owned()]);
    wait(delete_db(name)).await;
}

#[wasm_bindgen_test]
async fn a_failing_database_rejects_with_a_clear_error() {
    // A name the database already has at a higher version: open(…, 2) fails with a VersionError.
    let name = "mcg-test-own-db-newer";
    wait(delete_db(name)).await;
    wait(write_schema_v1(name, "k", "{}")).await;
    let bump = js_sys::Function::new_with_args("name", "return new Promise((r, j) => { const q = indexedDB.open(name, 9); q.onsuccess = () => { q.result.close(); r(); }; q.onerror = () => j(q.error); });");
    wait(bump.call1(&JsValue::NULL, &name.into()).unwrap().into()).await;
    let err = JsFuture::from(OwnDb::new(Some(name.to_owned())).open()).await.expect_err("a newer schema is refused, not clobbered");
    let message = field(&err, "message").as_string().unwrap_or_default();
    assert!(message.starts_with("matrix-crypto-guardian own database: open:"), "{message}");
    wait(delete_db(name)).await;
}

#[wasm_bindgen_test]
async fn the_first_open_is_remembered_whichever_call_made_it() {
    // At start the store-loss check reads the sentinel before the diagnostics ask whether the database is
    // new: one open, and the diagnostics still learn that this page created it.
    let name = "mcg-test-own-db-first-open";
    wait(delete_db(name)).await;
    let db = OwnDb::new(Some(name.to_owned()));
    assert!(wait(db.load(Record::Sentinel, "@a:localhost|DEV".to_owned())).await.is_null());
    assert_eq!(field(&wait(db.open()).await, "previousVersion").as_f64(), Some(0.0), "the sentinel read created it");
    assert_eq!(shape(name).await, (schema_version(), vec!["journal".to_owned(), "sentinel".to_owned()]));
}
