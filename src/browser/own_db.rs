//! The guardian's own IndexedDB database, `matrix-crypto-guardian` (never the SDK's stores).
//!
//! Schema (IndexedDB version = [`SCHEMA_VERSION`]):
//! * v1 (pre-release shape): object store `journal` only; records were format-1 journals (one element
//!   per console line, no counts, no session).
//! * v2: `journal` (key `user|device` → JSON text of a format-2 journal) and `sentinel`
//!   (key `user|device` → JSON text of a [`crate::model::journal::Sentinel`]).
//!
//! Migrations are additive steps run in `upgradeneeded` (`old < n` ⇒ apply step n), so a database of any
//! older version reaches the current one. Records are migrated lazily: the model reads every stored
//! format ([`crate::model::journal::Journal::from_stored`]) and the next write stores the current one —
//! no data is rewritten inside the upgrade transaction, so an interrupted upgrade cannot lose a journal.
//! Values are JSON text (not structured clones) so their shape is the model's, and versioned by it.
use std::cell::Cell;
use std::rc::Rc;

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use wasm_bindgen::JsValue;

pub const DB_NAME: &str = "matrix-crypto-guardian";
pub const SCHEMA_VERSION: u32 = 2;
pub const JOURNAL_STORE: &str = "journal";
pub const SENTINEL_STORE: &str = "sentinel";

fn err(e: impl std::fmt::Display) -> JsValue {
    JsValue::from_str(&format!("matrix-crypto-guardian own database: {e}"))
}

/// What opening found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The version the database had before (0: it did not exist).
    pub previous_version: u32,
}

/// Opens (creating or migrating) the database. The caller closes it.
pub async fn open_named(name: &str) -> Result<(Database, Opened), JsValue> {
    let previous = Rc::new(Cell::new(None::<u32>));
    let seen = previous.clone();
    let db = Database::open(name)
        .with_version(SCHEMA_VERSION)
        .with_on_upgrade_needed(move |event, db| {
            let old = event.old_version() as u32;
            seen.set(Some(old));
            let names: Vec<String> = db.object_store_names().collect();
            // Step 1: the journal store.
            if old < 1 && !names.iter().any(|n| n == JOURNAL_STORE) {
                db.create_object_store(JOURNAL_STORE).build()?;
            }
            // Step 2: the per-device sentinel.
            if old < 2 && !names.iter().any(|n| n == SENTINEL_STORE) {
                db.create_object_store(SENTINEL_STORE).build()?;
            }
            Ok(())
        })
        .await
        .map_err(err)?;
    // No upgrade ran: it existed at the current version.
    let previous_version = previous.get().unwrap_or(SCHEMA_VERSION);
    Ok((db, Opened { previous_version }))
}

async fn get_text(db: &Database, store: &str, key: &str) -> Result<Option<String>, JsValue> {
    let tx = db.transaction(store).build().map_err(err)?;
    let os = tx.object_store(store).map_err(err)?;
    let value: Option<String> = os.get(key).primitive().map_err(err)?.await.map_err(err)?;
    Ok(value)
}

async fn put_text(db: &Database, store: &str, key: &str, json: &str) -> Result<(), JsValue> {
    let tx = db.transaction(store).with_mode(TransactionMode::Readwrite).build().map_err(err)?;
    let os = tx.object_store(store).map_err(err)?;
    os.put(json).with_key(key).primitive().map_err(err)?.await.map_err(err)?;
    tx.commit().await.map_err(err)?;
    Ok(())
}

async fn keys(db: &Database, store: &str) -> Result<Vec<String>, JsValue> {
    let tx = db.transaction(store).build().map_err(err)?;
    let os = tx.object_store(store).map_err(err)?;
    let keys = os.get_all_keys::<String>().primitive().map_err(err)?.await.map_err(err)?;
    keys.collect::<Result<Vec<String>, _>>().map_err(err)
}

/// A handle naming the database; each call opens, acts and closes, so the guardian never holds a
/// connection that would block another tab's upgrade.
#[derive(Debug, Clone)]
pub struct OwnDb {
    name: String,
}

impl Default for OwnDb {
    fn default() -> Self {
        OwnDb { name: DB_NAME.to_owned() }
    }
}

impl OwnDb {
    /// A database of another name (tests).
    pub fn named(name: &str) -> Self {
        OwnDb { name: name.to_owned() }
    }

    /// Opens (and migrates) once and reports the version found.
    pub async fn open(&self) -> Result<Opened, JsValue> {
        let (db, opened) = open_named(&self.name).await?;
        db.close();
        Ok(opened)
    }

    pub async fn load_journal(&self, session_key: &str) -> Result<Option<String>, JsValue> {
        let (db, _) = open_named(&self.name).await?;
        let out = get_text(&db, JOURNAL_STORE, session_key).await;
        db.close();
        out
    }

    pub async fn save_journal(&self, session_key: &str, json: &str) -> Result<(), JsValue> {
        let (db, _) = open_named(&self.name).await?;
        let out = put_text(&db, JOURNAL_STORE, session_key, json).await;
        db.close();
        out
    }

    pub async fn journal_sessions(&self) -> Result<Vec<String>, JsValue> {
        let (db, _) = open_named(&self.name).await?;
        let out = keys(&db, JOURNAL_STORE).await;
        db.close();
        out
    }

    pub async fn load_sentinel(&self, session_key: &str) -> Result<Option<String>, JsValue> {
        let (db, _) = open_named(&self.name).await?;
        let out = get_text(&db, SENTINEL_STORE, session_key).await;
        db.close();
        out
    }

    pub async fn save_sentinel(&self, session_key: &str, json: &str) -> Result<(), JsValue> {
        let (db, _) = open_named(&self.name).await?;
        let out = put_text(&db, SENTINEL_STORE, session_key, json).await;
        db.close();
        out
    }
}
