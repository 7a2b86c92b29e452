//! The guardian's own IndexedDB database in headless Chromium: creation, round trips, the sentinel, and
//! the migration of a database written by the older schema (made by hand with raw IndexedDB).
//! Run with `cargo test --target wasm32-unknown-unknown -p matrix-crypto-guardian --test web_own_db`.
#![cfg(target_arch = "wasm32")]

use matrix_crypto_guardian::browser::own_db::{OwnDb, SCHEMA_VERSION};
use matrix_crypto_guardian::model::journal::{sentinel_update, Journal, Sentinel, SessionId};
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

async fn shape(name: &str) -> (u32, Vec<String>) {
    let v = JsFuture::from(store_names_and_version(name)).await.unwrap();
    let version = js_sys::Reflect::get(&v, &"version".into()).unwrap().as_f64().unwrap() as u32;
    let stores = js_sys::Array::from(&js_sys::Reflect::get(&v, &"stores".into()).unwrap())
        .iter()
        .map(|s| s.as_string().unwrap())
        .collect();
    (version, stores)
}

#[wasm_bindgen_test]
async fn a_new_database_is_created_at_the_current_schema_and_round_trips() {
    let name = "mcg-test-own-db-new";
    JsFuture::from(delete_db(name)).await.unwrap();
    let db = OwnDb::named(name);
    assert_eq!(db.open().await.unwrap().previous_version, 0, "did not exist before");
    assert_eq!(db.open().await.unwrap().previous_version, SCHEMA_VERSION, "exists now, no upgrade");
    assert_eq!(shape(name).await, (SCHEMA_VERSION, vec!["journal".to_owned(), "sentinel".to_owned()]));

    let mut j = Journal::new(20);
    j.set_session(Some(SessionId { user_id: "@a:localhost".into(), device_id: "DEV".into() }));
    j.record_console("error", "One time key signed_curve25519:AAAA already exists", 1.0);
    let key = j.session().unwrap().key();
    assert_eq!(db.load_journal(&key).await.unwrap(), None);
    db.save_journal(&key, &serde_json::to_string(&j.to_stored()).unwrap()).await.unwrap();
    let back = Journal::from_stored(&db.load_journal(&key).await.unwrap().unwrap(), 20).unwrap();
    assert_eq!(back, j);
    assert_eq!(db.journal_sessions().await.unwrap(), vec![key.clone()]);

    let s = sentinel_update(None, "@a:localhost", "DEV", Some("ED"), 5.0).unwrap();
    db.save_sentinel(&key, &serde_json::to_string(&s).unwrap()).await.unwrap();
    let stored: Sentinel = serde_json::from_str(&db.load_sentinel(&key).await.unwrap().unwrap()).unwrap();
    assert_eq!(stored, s);
    JsFuture::from(delete_db(name)).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_schema_v1_database_migrates_and_keeps_its_journal() {
    let name = "mcg-test-own-db-v1";
    JsFuture::from(delete_db(name)).await.unwrap();
    let key = "@old:localhost|OLDDEVICE";
    let v1 = r#"{"entries":[
        {"ke":"KE-1","level":"error","line":"Failed to process outgoing request 0: One time key signed_curve25519:AAAAAQ already exists","at":1000},
        {"ke":"KE-1","level":"error","line":"Failed to process outgoing request 1: One time key signed_curve25519:AAAAAQ already exists","at":2000},
        {"ke":"KE-2","level":"warn","line":"MissingKey: missing key at index 4 for participant @bob:localhost","at":3000}]}"#;
    JsFuture::from(write_schema_v1(name, key, v1)).await.unwrap();
    assert_eq!(shape(name).await, (1, vec!["journal".to_owned()]));

    let db = OwnDb::named(name);
    assert_eq!(db.open().await.unwrap().previous_version, 1);
    assert_eq!(shape(name).await, (SCHEMA_VERSION, vec!["journal".to_owned(), "sentinel".to_owned()]));

    // The v1 record is still there and reads as a journal with its counts rebuilt.
    let stored = db.load_journal(key).await.unwrap().expect("journal kept across the migration");
    let j = Journal::from_stored(&stored, 200).unwrap();
    assert_eq!(j.ke_counts()["KE-1"], 2);
    assert_eq!(j.ke_counts()["KE-2"], 1);
    assert_eq!(j.entries().len(), 2);
    assert_eq!(j.entries()[0].count, 2);

    // Written back in the current format, it still reads the same.
    db.save_journal(key, &serde_json::to_string(&j.to_stored()).unwrap()).await.unwrap();
    let again = Journal::from_stored(&db.load_journal(key).await.unwrap().unwrap(), 200).unwrap();
    assert_eq!(again.ke_counts(), j.ke_counts());
    assert_eq!(db.journal_sessions().await.unwrap(), vec![key.to_owned()]);
    JsFuture::from(delete_db(name)).await.unwrap();
}
