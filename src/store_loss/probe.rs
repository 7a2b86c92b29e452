//! The browser side of the store-loss check, through indexed_db_futures: the database listing and the
//! store probe. Reads what a crypto store holds before the SDK opens it: its object stores, the key *names*
//! of the rust store's `core` object store, whose account it holds (the account record's user and device
//! id, nothing else of it: the record also holds the pickled private keys, dropped here unread), and the
//! legacy libolm store's account count; for the prompt, how many room keys it holds. Never a write. The
//! decisions (is there an account, is it this session's?) are the model's (`account_presence`,
//! `check_store` in [`super::model`]).
//!
//! Careful with a database that is not ours: the open has no version (no upgrade of the SDK's schema); if
//! the database vanished since it was listed, the open would create it blank, so the upgrade is aborted;
//! the connection closes at once, and on `versionchange`, so it never blocks the SDK's own upgrade; an open
//! that does not finish in time is "not read" (null), not "empty" — and it still closes when it lands.
//! The drop-in's gate (js/idb-gate.js) holds the host's crypto-store opens until this check is done: the
//! probe's own open passes it (`bypass`), or it would wait for itself.
//!
//! The factory is the one indexed_db_futures finds: `window.indexedDB` in a page, `self.indexedDB` in a
//! worker, `global.indexedDB` in Node.js (a shim such as `fake-indexeddb/auto`); none (Node.js without a
//! shim) → the listing is null and no store is read, without errors.

use std::rc::Rc;
use core::cell::Cell;

use gloo_events::{EventListener, EventListenerOptions};
use gloo_timers::callback::Timeout;
use indexed_db_futures::database::Database;
use indexed_db_futures::factory::DBFactory;
use indexed_db_futures::internals::SystemRepr;
use indexed_db_futures::prelude::*;
use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::js_object::{optional, texts};
use crate::store_loss::model::StoreContents;

/// `Symbol.for` key of the drop-in's IndexedDB gate (js/idb-gate.js `GATE`).
const GATE: &str = "matrix-crypto-guardian/idb-gate";

fn get(target: &JsValue, key: &JsValue) -> JsValue {
    Reflect::get(target, key).unwrap_or(JsValue::UNDEFINED)
}

fn set(target: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

/// While alive, the gate lets this page's own opens through (synchronously: only the open built inside).
struct GateBypass(Option<JsValue>);

impl GateBypass {
    fn enter() -> GateBypass {
        let gate = get(&js_sys::global(), &js_sys::Symbol::for_(GATE).into());
        let bypass = get(&gate, &"bypass".into());
        match bypass.dyn_ref::<js_sys::Function>() {
            Some(f) if f.call1(&gate, &JsValue::from(1)).is_ok() => GateBypass(Some(gate)),
            _ => GateBypass(None),
        }
    }
}

impl Drop for GateBypass {
    fn drop(&mut self) {
        if let Some(gate) = &self.0 {
            if let Some(f) = get(gate, &"bypass".into()).dyn_ref::<js_sys::Function>() {
                let _ = f.call1(gate, &JsValue::from(-1));
            }
        }
    }
}

/// How an open for reading ended.
enum Opened {
    Db(Database),
    /// It did not exist: the upgrade was aborted, no blank database is left behind.
    Absent,
    Failed,
}

/// Opens an existing database without a version (never upgrading it), past the gate.
async fn open_existing(name: &str) -> Opened {
    let request = {
        let _bypass = GateBypass::enter();
        match Database::open(name).build() {
            Ok(request) => request,
            Err(_) => return Opened::Failed,
        }
    };
    let raw: web_sys::IdbOpenDbRequest = request.as_sys().clone();
    let upgraded = Rc::new(Cell::new(false));
    let seen = upgraded.clone();
    let aborting = raw.clone();
    let _on_upgrade = EventListener::new(&raw, "upgradeneeded", move |_| {
        seen.set(true);
        if let Some(tx) = aborting.transaction() {
            let _ = tx.abort();
        }
    });
    // An aborted upgrade is expected here, not an uncaught error.
    let _on_error = EventListener::new_with_options(&raw, "error", EventListenerOptions::enable_prevent_default(), |e| e.prevent_default());
    match request.await {
        Ok(db) => Opened::Db(db),
        Err(_) if upgraded.get() => Opened::Absent,
        Err(_) => Opened::Failed,
    }
}

/// Runs `read` on the open database (closed afterwards, and at once on `versionchange`), with a timeout:
/// resolves to `read`'s value, `absent` where the database does not exist, null where it cannot be read
/// in time. A connection that lands after the timeout is closed unread.
fn probe<F, Fut>(name: String, timeout_ms: u32, absent: JsValue, read: F) -> Promise
where
    F: FnOnce(Rc<Database>) -> Fut + 'static,
    Fut: core::future::Future<Output = Option<JsValue>> + 'static,
{
    let mut settle = None;
    // The executor runs synchronously: `settle` is the promise's resolve function from here on.
    let promise = Promise::new(&mut |resolve, _reject| settle = Some(resolve));
    let Some(resolve) = settle else { return Promise::resolve(&JsValue::NULL) };
    let settled = Rc::new(Cell::new(false));
    let (late, on_time) = (settled.clone(), resolve.clone());
    let timer = Timeout::new(timeout_ms, move || {
        late.set(true);
        let _ = on_time.call1(&JsValue::NULL, &JsValue::NULL);
    });
    wasm_bindgen_futures::spawn_local(async move {
        let value = match open_existing(&name).await {
            Opened::Db(db) if settled.get() => {
                db.close();
                return;
            }
            Opened::Db(db) => {
                let db = Rc::new(db);
                let raw: web_sys::IdbDatabase = db.as_sys().clone().unchecked_into();
                let closing = raw.clone();
                let _on_version_change = EventListener::new(&raw, "versionchange", move |_| closing.close());
                let value = read(db.clone()).await;
                raw.close();
                value.unwrap_or(JsValue::NULL)
            }
            Opened::Absent => absent,
            Opened::Failed => JsValue::NULL,
        };
        drop(timer);
        let _ = resolve.call1(&JsValue::NULL, &value);
    });
    promise
}

/// What `checkStore` reads of a crypto store: `{ objectStores, coreKeys?, accountUserId?, accountDeviceId?,
/// legacyAccounts? }`.
async fn read_contents(db: Rc<Database>) -> Option<JsValue> {
    let names: Vec<String> = db.object_store_names().collect();
    let contents = Object::new();
    set(&contents, "objectStores", &names.iter().map(|n| JsValue::from_str(n)).collect::<Array>());
    if names.iter().any(|n| n == "core") {
        let tx = db.transaction("core").build().ok()?;
        let core = tx.object_store("core").ok()?;
        // Every key name: `core` holds a handful of fixed entries (account, cross-signing identity, backup
        // keys, sync token, migration flags), never per-room or per-message data, so there is no cap to hit.
        // Both requests go out before either is awaited (one transaction).
        let keys = core.get_all_keys::<JsValue>().primitive().ok()?;
        let account = core.get::<JsValue, _, _>("account").primitive().ok()?;
        let keys = keys.await.ok()?;
        let account = account.await.ok()?;
        // Key names only; a non-string key (binary) is not a plain name, which the model reads as "cannot tell".
        let keys: Array = keys.map(|k| JsValue::from_str(&k.ok().and_then(|k| k.as_string()).unwrap_or_else(|| "<binary>".into()))).collect();
        set(&contents, "coreKeys", &keys);
        if let Some((user_id, device_id)) = account.and_then(|a| account_owner(&a, 0)) {
            set(&contents, "accountUserId", &user_id.into());
            set(&contents, "accountDeviceId", &device_id.into());
        }
    } else if names.iter().any(|n| n == "account") {
        let tx = db.transaction("account").build().ok()?;
        let count: u32 = tx.object_store("account").ok()?.count().primitive().ok()?.await.ok()?;
        set(&contents, "legacyAccounts", &JsValue::from(count));
    }
    Some(contents.into())
}

/// What [`read_contents`] wrote, read back when the JS layer hands it to `checkStore`: a member that is absent
/// or null is the model's default; one of another kind makes the contents unreadable (`None`: the store is
/// left out of the check, never taken for empty).
pub fn contents_of(value: &JsValue) -> Option<StoreContents> {
    if !value.is_object() {
        return None;
    }
    Some(StoreContents {
        object_stores: optional(value, "objectStores", texts)?.unwrap_or_default(),
        core_keys: optional(value, "coreKeys", texts)?,
        legacy_accounts: optional(value, "legacyAccounts", |v| v.as_f64().filter(|n| n.fract() == 0.0 && *n >= 0.0).map(|n| n as u32))?,
        account_user_id: optional(value, "accountUserId", JsValue::as_string)?,
        account_device_id: optional(value, "accountDeviceId", JsValue::as_string)?,
    })
}

/// Reads a crypto store (see the module's notes): resolves to its contents, `{ objectStores: [] }` where it
/// does not exist, or null (not read: a timeout, an error).
#[wasm_bindgen(js_name = probeCryptoStore)]
pub fn probe_crypto_store(name: String, timeout_ms: Option<u32>) -> Promise {
    let empty = Object::new();
    set(&empty, "objectStores", &Array::new());
    probe(name, timeout_ms.unwrap_or(3000), empty.into(), read_contents)
}

/// How many room keys (inbound group sessions) a rust crypto store holds, counted by IndexedDB without
/// reading one of them; null when it cannot be counted (no such store, a timeout). For the prompt's
/// "exportable keys": room keys never leave the store only to be counted.
#[wasm_bindgen(js_name = countRoomKeys)]
pub fn count_room_keys(name: String, timeout_ms: Option<u32>) -> Promise {
    probe(name, timeout_ms.unwrap_or(3000), JsValue::NULL, |db| async move {
        // The newest schema's name (inbound_group_sessions3 in matrix-sdk-indexeddb today).
        let store = db.object_store_names().filter(|n| is_room_key_store(n)).max()?;
        let tx = db.transaction(store.as_str()).build().ok()?;
        let count: u32 = tx.object_store(&store).ok()?.count().primitive().ok()?.await.ok()?;
        Some(JsValue::from(count))
    })
}

/// `inbound_group_sessions`, `inbound_group_sessions2`, …: the rust store's room keys.
fn is_room_key_store(name: &str) -> bool {
    name.strip_prefix("inbound_group_sessions").is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
}

/// Names of this origin's IndexedDB databases. Where `indexedDB.databases()` is missing (Firefox before
/// 126, older Safari, some webviews) the database-name probe: each of `candidates` (the client's own store
/// names) is opened without a version, and counted as there unless its open had to create it. Null where
/// neither can answer (no IndexedDB: Node.js without a shim): for the store-loss check that is "unknown",
/// never "lost".
#[wasm_bindgen(js_name = databaseNames)]
pub async fn database_names(candidates: Option<Vec<String>>) -> JsValue {
    let Ok(factory) = DBFactory::new() else { return JsValue::NULL };
    if let Ok(listing) = factory.databases() {
        if let Ok(list) = listing.await {
            // Version 0 is no database: WebKit keeps listing one whose creation was aborted (this probe's own
            // look at a missing store, for one), and opening it again starts from nothing.
            let names = list.filter_map(Result::ok).filter(|d| d.version() > 0.0).map(|d| d.name().to_owned()).filter(|n| !n.is_empty());
            return names.map(JsValue::from).collect::<Array>().into();
        }
    }
    let mut found = Array::new();
    for name in candidates.unwrap_or_default() {
        match open_existing(&name).await {
            Opened::Db(db) => {
                db.close();
                found.push(&JsValue::from(name));
            }
            Opened::Absent => {}
            Opened::Failed => return JsValue::NULL,
        }
    }
    core::mem::take(&mut found).into()
}

/// The user and device id of a rust store's account record, or None when it cannot be read (a
/// passphrase-encrypted store). The record is the pickled account, plain or as JSON text (base64 in some
/// versions); only the two public ids are kept.
pub fn account_owner(value: &JsValue, depth: u32) -> Option<(String, String)> {
    if value.is_null() || value.is_undefined() || depth > 3 {
        return None;
    }
    if let Some(text) = value.as_string() {
        let decoded = from_base64(&text);
        return [Some(text), decoded].into_iter().flatten().find_map(|t| {
            js_sys::JSON::parse(&t).ok().and_then(|parsed| account_owner(&parsed, depth + 1))
        });
    }
    if value.is_instance_of::<js_sys::Uint8Array>() || value.is_instance_of::<js_sys::ArrayBuffer>() {
        // Encrypted bytes are not UTF-8 text: no owner.
        let text = String::from_utf8(js_sys::Uint8Array::new(value).to_vec()).ok()?;
        return account_owner(&JsValue::from(text), depth + 1);
    }
    if !value.is_object() {
        return None;
    }
    let user_id = get(value, &"user_id".into()).as_string();
    let device_id = get(value, &"device_id".into()).as_string();
    if let (Some(user_id), Some(device_id)) = (user_id, device_id) {
        return Some((user_id, device_id));
    }
    let unencrypted = JsValue::from_str("Unencrypted");
    if Reflect::has(value, &unencrypted).unwrap_or(false) {
        return account_owner(&get(value, &unencrypted), depth + 1);
    }
    None
}

/// `accountOwner(value)`: `{ accountUserId, accountDeviceId }` or null (see [`account_owner`]).
#[wasm_bindgen(js_name = accountOwner)]
pub fn account_owner_js(value: JsValue) -> JsValue {
    match account_owner(&value, 0) {
        Some((user_id, device_id)) => {
            let owner = Object::new();
            set(&owner, "accountUserId", &user_id.into());
            set(&owner, "accountDeviceId", &device_id.into());
            owner.into()
        }
        None => JsValue::NULL,
    }
}

/// Base64 (standard or URL-safe) text decoded as UTF-8, or None: the platform's `atob` decodes.
fn from_base64(text: &str) -> Option<String> {
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-');
    if text.is_empty() || !text.bytes().all(alphabet) {
        return None;
    }
    let standard: String = text.chars().map(|c| match c { '-' => '+', '_' => '/', c => c }).collect();
    let atob = get(&js_sys::global(), &"atob".into()).dyn_into::<js_sys::Function>().ok()?;
    let binary = atob.call1(&JsValue::NULL, &standard.into()).ok()?.as_string()?;
    // atob's result is one char per byte (each ≤ U+00FF).
    let bytes: Vec<u8> = binary.chars().map(|c| c as u32).map(u8::try_from).collect::<Result<_, _>>().ok()?;
    String::from_utf8(bytes).ok()
}
