//! The store probe and the database listing (src/store_loss/probe.rs, indexed_db_futures) in a browser,
//! against stores made by hand with raw IndexedDB in the rust crypto store's shape: what the store-loss
//! check reads (object stores, `core` key names, the account's owner, never more), that a missing store is
//! not created by looking, that the probe passes the drop-in's gate but never blocks the host's upgrade,
//! and the room-key count.
//! Run with `cargo test --target wasm32-unknown-unknown -p matrix-crypto-guardian --test web_probe`.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Reflect};
use matrix_crypto_guardian::store_loss::probe::{account_owner, account_owner_js, count_room_keys, database_names, probe_crypto_store};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
// A rust crypto store as matrix-sdk-indexeddb lays it out (the parts the probe reads): `core` with the
// account record (out-of-line keys), and `inbound_group_sessions3` with `sessions` room keys.
export function writeRustStore(name, account, sessions) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore("core");
      req.result.createObjectStore("inbound_group_sessions3");
    };
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      const tx = db.transaction(["core", "inbound_group_sessions3"], "readwrite");
      if (account !== undefined) tx.objectStore("core").put(account, "account");
      tx.objectStore("core").put("token", "sync_token");
      for (let i = 0; i < sessions; i++) tx.objectStore("inbound_group_sessions3").put({ i }, `s${i}`);
      tx.oncomplete = () => { db.close(); resolve(); };
      tx.onerror = () => reject(tx.error);
    };
  });
}
// A database exists once it has a version: WebKitGTK keeps listing a database whose creation was aborted,
// at version 0 (opening it again upgrades from 0: nothing is there).
export function exists(name) {
  return indexedDB.databases().then((list) => list.some((d) => d.name === name && d.version > 0));
}
export function deleteDb(name) {
  return new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = req.onerror = req.onblocked = () => resolve();
  });
}
// The host's upgrade while the probe reads: resolves with the events it saw ("blocked" must not be one).
export function upgradeDuring(name, version) {
  return new Promise((resolve) => {
    const seen = [];
    const req = indexedDB.open(name, version);
    req.onblocked = () => seen.push("blocked");
    req.onupgradeneeded = () => seen.push("upgradeneeded");
    req.onsuccess = () => { seen.push("success"); req.result.close(); resolve(seen); };
    req.onerror = () => { seen.push("error"); resolve(seen); };
  });
}
// A stand-in of the drop-in's gate (js/idb-gate.js): holds every open of `name` until released, lets
// opens through while `bypass` > 0.
export function installHoldingGate(name) {
  const original = IDBFactory.prototype.open;
  let bypassing = 0;
  const held = [];
  IDBFactory.prototype.open = function (n, ...rest) {
    if (bypassing === 0 && n === name) held.push(n);
    if (bypassing === 0 && n === name) throw new Error("held by the gate");
    return original.call(this, n, ...rest);
  };
  const gate = { bypass: (d) => (bypassing += d > 0 ? 1 : -1), held: () => held.length };
  globalThis[Symbol.for("matrix-crypto-guardian/idb-gate")] = gate;
  return () => {
    IDBFactory.prototype.open = original;
    delete globalThis[Symbol.for("matrix-crypto-guardian/idb-gate")];
    return held.length;
  };
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = writeRustStore)]
    fn write_rust_store(name: &str, account: JsValue, sessions: u32) -> js_sys::Promise;
    fn exists(name: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = deleteDb)]
    fn delete_db(name: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = upgradeDuring)]
    fn upgrade_during(name: &str, version: u32) -> js_sys::Promise;
    #[wasm_bindgen(js_name = installHoldingGate)]
    fn install_holding_gate(name: &str) -> js_sys::Function;
}

async fn wait(p: js_sys::Promise) -> JsValue {
    JsFuture::from(p).await.expect("call failed")
}

fn field(v: &JsValue, name: &str) -> JsValue {
    Reflect::get(v, &name.into()).unwrap()
}

fn strings(v: JsValue) -> Vec<String> {
    Array::from(&v).iter().map(|s| s.as_string().unwrap()).collect()
}

const ACCOUNT: &str = r#"{"user_id":"@alice:localhost","device_id":"ALICEDEV","pickle":{"private_curve25519_key":"SECRET"}}"#;

#[wasm_bindgen_test]
async fn a_rust_store_reads_as_its_object_stores_key_names_and_account_owner_only() {
    let name = "mcg-test-probe::matrix-sdk-crypto";
    wait(delete_db(name)).await;
    wait(write_rust_store(name, JsValue::from_str(ACCOUNT), 2)).await;
    let contents = wait(probe_crypto_store(name.to_owned(), Some(3000))).await;
    assert_eq!(strings(field(&contents, "objectStores")), vec!["core", "inbound_group_sessions3"]);
    assert_eq!(strings(field(&contents, "coreKeys")), vec!["account", "sync_token"]);
    assert_eq!(field(&contents, "accountUserId").as_string().as_deref(), Some("@alice:localhost"));
    assert_eq!(field(&contents, "accountDeviceId").as_string().as_deref(), Some("ALICEDEV"));
    let text = js_sys::JSON::stringify(&contents).unwrap().as_string().unwrap();
    assert!(!text.contains("SECRET"), "nothing of the pickled keys leaves the store: {text}");
    assert_eq!(wait(count_room_keys(name.to_owned(), Some(3000))).await.as_f64(), Some(2.0));
    // The probe's connection is closed: the host's own upgrade goes through without `blocked`.
    assert_eq!(strings(wait(upgrade_during(name, 2)).await), vec!["upgradeneeded", "success"]);
    wait(delete_db(name)).await;
}

#[wasm_bindgen_test]
async fn a_missing_store_reads_as_empty_and_is_not_created_by_looking() {
    let name = "mcg-test-probe-missing::matrix-sdk-crypto";
    wait(delete_db(name)).await;
    let contents = wait(probe_crypto_store(name.to_owned(), Some(3000))).await;
    assert_eq!(strings(field(&contents, "objectStores")), Vec::<String>::new());
    assert!(field(&contents, "coreKeys").is_undefined());
    assert_eq!(wait(exists(name)).await.as_bool(), Some(false), "no blank database left behind");
    assert!(!strings(database_names(None).await).contains(&name.to_owned()), "nor listed by the guardian");
    assert!(wait(count_room_keys(name.to_owned(), Some(3000))).await.is_null(), "no store: no count");
    assert_eq!(wait(exists(name)).await.as_bool(), Some(false));
}

#[wasm_bindgen_test]
async fn the_probe_passes_the_gate_that_holds_the_hosts_opens() {
    let name = "mcg-test-probe-gated::matrix-sdk-crypto";
    wait(delete_db(name)).await;
    wait(write_rust_store(name, JsValue::from_str(ACCOUNT), 0)).await;
    let uninstall = install_holding_gate(name);
    let contents = wait(probe_crypto_store(name.to_owned(), Some(3000))).await;
    let names = database_names(Some(vec![name.to_owned()])).await;
    let held = uninstall.call0(&JsValue::NULL).unwrap().as_f64();
    assert_eq!(field(&contents, "accountDeviceId").as_string().as_deref(), Some("ALICEDEV"), "read past the gate");
    assert_eq!(held, Some(0.0), "the probe's open was never held");
    assert!(strings(names).contains(&name.to_owned()));
    wait(delete_db(name)).await;
}

#[wasm_bindgen_test]
async fn where_databases_is_missing_the_candidate_names_are_probed() {
    let (there, gone) = ("mcg-test-names-there::matrix-sdk-crypto", "mcg-test-names-gone::matrix-sdk-crypto");
    wait(delete_db(gone)).await;
    wait(write_rust_store(there, JsValue::from_str(ACCOUNT), 0)).await;
    // An engine without IDBFactory.prototype.databases (older Safari, Firefox before 126).
    let hide = js_sys::Function::new_no_args(
        "const d = IDBFactory.prototype.databases; delete IDBFactory.prototype.databases; return () => { IDBFactory.prototype.databases = d; };",
    );
    let restore: js_sys::Function = hide.call0(&JsValue::NULL).unwrap().into();
    let names = database_names(Some(vec![there.to_owned(), gone.to_owned()])).await;
    restore.call0(&JsValue::NULL).unwrap();
    assert_eq!(strings(names), vec![there.to_owned()]);
    assert_eq!(wait(exists(gone)).await.as_bool(), Some(false), "probing a name does not create it");
    wait(delete_db(there)).await;
}

#[wasm_bindgen_test]
fn the_account_owner_is_read_from_each_stored_form() {
    let owner = Some(("@alice:localhost".to_owned(), "ALICEDEV".to_owned()));
    // JSON text, base64 of it (standard and URL-safe), bytes of it, and matrix-sdk's `Unencrypted` wrapper.
    assert_eq!(account_owner(&JsValue::from_str(ACCOUNT), 0), owner);
    let b64 = js_sys::Function::new_with_args("t", "return btoa(t)").call1(&JsValue::NULL, &ACCOUNT.into()).unwrap();
    assert_eq!(account_owner(&b64, 0), owner);
    let url_safe = b64.as_string().unwrap().replace('+', "-").replace('/', "_");
    assert_eq!(account_owner(&JsValue::from_str(&url_safe), 0), owner);
    let bytes = js_sys::Uint8Array::from(ACCOUNT.as_bytes());
    assert_eq!(account_owner(&bytes.clone().into(), 0), owner);
    assert_eq!(account_owner(&bytes.buffer().into(), 0), owner);
    let wrapped = js_sys::JSON::parse(&format!(r#"{{"Unencrypted":{ACCOUNT}}}"#)).unwrap();
    assert_eq!(account_owner(&wrapped, 0), owner);
    // An encrypted store: bytes that are not text, text that is not JSON: no owner.
    assert_eq!(account_owner(&js_sys::Uint8Array::from(&[0xffu8, 0xfe, 0x00][..]).into(), 0), None);
    assert_eq!(account_owner(&JsValue::from_str("not json"), 0), None);
    assert!(account_owner_js(JsValue::NULL).is_null());
    assert_eq!(field(&account_owner_js(JsValue::from_str(ACCOUNT)), "accountDeviceId").as_string().as_deref(), Some("ALICEDEV"));
}
