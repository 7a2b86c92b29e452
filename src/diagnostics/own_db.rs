//! The guardian's own IndexedDB database, "matrix-crypto-guardian" (never the SDK's stores): the journal
//! and the per-device sentinel, through indexed_db_futures. Values are the core's JSON text, stored as
//! they are.
//!
//! Schema (IndexedDB version = [`SCHEMA_VERSION`]):
//!  * v1 (pre-release shape): object store "journal" only; records were format-1 journals (one element per
//!    console line, no counts, no session).
//!  * v2: "journal" (key "user|device" → JSON text of a format-2 journal) and "sentinel" (key "user|device"
//!    → JSON text of the core's Sentinel).
//!
//! Migrations are additive steps run in `upgradeneeded` (old < n ⇒ apply step n), so a database of any
//! older version reaches the current one. Records migrate lazily: the journal model reads every stored
//! format and the next write stores the current one — nothing is rewritten inside the upgrade transaction,
//! so an interrupted upgrade cannot lose a journal. Every call opens, acts and closes, so the guardian never
//! holds a connection that would block another tab's upgrade.

use std::rc::Rc;
use core::cell::Cell;

use gloo_events::EventListener;
use indexed_db_futures::database::Database;
use indexed_db_futures::error::{Error, OpenDbError};
use indexed_db_futures::internals::SystemRepr;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

pub const OWN_DB_NAME: &str = "matrix-crypto-guardian";
pub const SCHEMA_VERSION: u32 = 2;
const JOURNAL: &str = "journal";
const SENTINEL: &str = "sentinel";

/// The error every call rejects with: `matrix-crypto-guardian own database: <what>: <why>`, where <why>
/// is the browser's own message (the DOMException's). The crate's error types are not formatted: their
/// `Display` would link float formatting into every page's download.
fn failure(what: &str, error: impl Into<Error>) -> JsValue {
    let why = match error.into() {
        Error::DomException(e) => message_of(&e.into()),
        Error::Unknown(e) => message_of(&e.into()),
        _ => None,
    };
    let why = why.unwrap_or_else(|| "failed".to_owned());
    js_sys::Error::new(&["matrix-crypto-guardian own database: ", what, ": ", &why].concat()).into()
}

fn message_of(value: &JsValue) -> Option<String> {
    Reflect::get(value, &"message".into()).ok()?.as_string().filter(|m| !m.is_empty())
}

/// `OpenDbError` carries the same `Error` (or says there is no IndexedDB at all).
fn open_failure(error: OpenDbError) -> JsValue {
    match error {
        OpenDbError::Base(e) => failure("open", e),
        _ => js_sys::Error::new("matrix-crypto-guardian own database: open: no IndexedDB here").into(),
    }
}

/// An open connection that closes itself at once when another tab upgrades (a newer guardian steps in).
struct Connection {
    db: Database,
    _on_version_change: EventListener,
}

impl Connection {
    /// Opens (creating or migrating): the connection and the version it had before (0: it did not exist).
    async fn open(name: &str) -> Result<(Connection, f64), JsValue> {
        let previous = Rc::new(Cell::new(f64::from(SCHEMA_VERSION))); // no upgrade ran: it was current
        let seen = previous.clone();
        let request = Database::open(name).with_version(SCHEMA_VERSION).build().map_err(open_failure)?;
        // The upgrade on the request itself (not the crate's `with_on_upgrade_needed`, whose error path
        // formats the crate's errors): a step that fails aborts the upgrade, and the open fails with it.
        let raw: web_sys::IdbOpenDbRequest = request.as_sys().clone();
        let upgrading = raw.clone();
        let _on_upgrade = EventListener::new(&raw, "upgradeneeded", move |event| {
            let old = event.dyn_ref::<web_sys::IdbVersionChangeEvent>().map_or(0.0, |e| e.old_version());
            seen.set(old);
            let Some(db) = upgrading.result().ok().and_then(|db| db.dyn_into::<web_sys::IdbDatabase>().ok()) else { return };
            let has = |store: &str| db.object_store_names().contains(store);
            let mut ok = true;
            if old < 1.0 && !has(JOURNAL) {
                ok &= db.create_object_store(JOURNAL).is_ok(); // step 1: the journal
            }
            if old < 2.0 && !has(SENTINEL) {
                ok &= db.create_object_store(SENTINEL).is_ok(); // step 2: the sentinel
            }
            if !ok {
                if let Some(tx) = upgrading.transaction() {
                    let _ = tx.abort();
                }
            }
        });
        let db = request.await.map_err(open_failure)?;
        let raw: web_sys::IdbDatabase = db.as_sys().clone().unchecked_into();
        let closing = raw.clone();
        let on_version_change = EventListener::new(&raw, "versionchange", move |_| closing.close());
        Ok((Connection { db, _on_version_change: on_version_change }, previous.get()))
    }

    fn close(self) {
        self.db.close();
    }
}

/// Where an [`OwnDb`] opens: the database's name, and the version its first open in this page found.
#[derive(Clone)]
struct Target {
    name: Rc<str>,
    first_open: Rc<Cell<Option<f64>>>,
}

impl Target {
    /// Opens; the first open that succeeds remembers the version it found (0: created by this page).
    async fn open(&self) -> Result<Connection, JsValue> {
        let (conn, previous) = Connection::open(&self.name).await?;
        if self.first_open.get().is_none() {
            self.first_open.set(Some(previous));
        }
        Ok(conn)
    }
}

async fn load(target: Target, store: &'static str, key: String) -> Result<JsValue, JsValue> {
    let conn = target.open().await?;
    let read = async {
        let tx = conn.db.transaction(store).build()?;
        let value: Option<String> = tx.object_store(store)?.get(key.as_str()).primitive()?.await?;
        Ok::<_, indexed_db_futures::error::Error>(value)
    }
    .await;
    conn.close();
    let value = read.map_err(|e| failure(&format!("{store} readonly"), e))?;
    Ok(value.map_or(JsValue::NULL, |v| JsValue::from_str(&v)))
}

async fn save(target: Target, store: &'static str, key: String, json: String) -> Result<JsValue, JsValue> {
    let conn = target.open().await?;
    let written = async {
        // indexed_db_futures rolls a transaction back unless it is committed.
        let tx = conn.db.transaction(store).with_mode(TransactionMode::Readwrite).build()?;
        tx.object_store(store)?.put(json.as_str()).with_key(key.as_str()).primitive()?;
        tx.commit().await
    }
    .await;
    conn.close();
    written.map_err(|e| failure(&format!("{store} readwrite"), e))?;
    Ok(JsValue::UNDEFINED)
}

async fn keys(target: Target, store: &'static str) -> Result<JsValue, JsValue> {
    let conn = target.open().await?;
    let read = async {
        let tx = conn.db.transaction(store).build()?;
        let keys = tx.object_store(store)?.get_all_keys::<JsValue>().primitive()?.await?;
        keys.map(|k| k.map(|k| k.as_string().unwrap_or_default())).collect::<Result<Vec<String>, _>>()
    }
    .await;
    conn.close();
    let keys = read.map_err(|e| failure(&format!("{store} readonly"), e))?;
    Ok(keys.into_iter().map(JsValue::from).collect::<js_sys::Array>().into())
}

/// One database of the guardian's (`name`: another one for tests). Every method opens, acts and closes.
/// One instance per guardian: the store-loss check's sentinel read and the diagnostics share it, so the
/// page opens the database once at start and still knows whether that open created it.
#[wasm_bindgen]
pub struct OwnDb {
    target: Target,
}

#[wasm_bindgen]
impl OwnDb {
    #[wasm_bindgen(constructor)]
    pub fn new(name: Option<String>) -> OwnDb {
        let name = name.filter(|n| !n.is_empty()).unwrap_or_else(|| OWN_DB_NAME.to_owned());
        OwnDb { target: Target { name: name.into(), first_open: Rc::default() } }
    }

    /// `{ previousVersion, version }` of this instance's first open in this page (0: that open created the
    /// database), opening (and migrating) only if no call has opened it yet.
    pub fn open(&self) -> Promise {
        let target = self.target.clone();
        future_to_promise(async move {
            let previous = match target.first_open.get() {
                Some(previous) => previous,
                None => {
                    target.open().await?.close();
                    target.first_open.get().unwrap_or_default()
                }
            };
            let out = Object::new();
            Reflect::set(&out, &"previousVersion".into(), &JsValue::from_f64(previous))?;
            Reflect::set(&out, &"version".into(), &JsValue::from(SCHEMA_VERSION))?;
            Ok(out.into())
        })
    }

    /// A session's stored record (JSON text) or null.
    pub fn load(&self, record: Record, session_key: String) -> Promise {
        let target = self.target.clone();
        future_to_promise(async move { load(target, record.store()?, session_key).await })
    }

    /// Stores a session's record (JSON text).
    pub fn save(&self, record: Record, session_key: String, json: String) -> Promise {
        let target = self.target.clone();
        future_to_promise(async move { save(target, record.store()?, session_key, json).await })
    }

    /// The sessions (`user|device`) that have this record stored.
    pub fn sessions(&self, record: Record) -> Promise {
        let target = self.target.clone();
        future_to_promise(async move { keys(target, record.store()?).await })
    }
}

/// What the guardian keeps per session, one object store each (keyed `user|device`).
#[wasm_bindgen]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// The diagnostics journal.
    Journal = "journal",
    /// The device sentinel (who this device is, and since when).
    Sentinel = "sentinel",
}

impl Record {
    /// Its object store; a name JS made up is an error.
    fn store(self) -> Result<&'static str, JsValue> {
        match self {
            Record::Journal => Ok(JOURNAL),
            Record::Sentinel => Ok(SENTINEL),
            _ => Err(js_sys::Error::new("matrix-crypto-guardian own database: no such record").into()),
        }
    }
}

/// The own database's schema version (IndexedDB version).
#[wasm_bindgen(js_name = ownDbSchemaVersion)]
pub fn own_db_schema_version() -> u32 {
    SCHEMA_VERSION
}
