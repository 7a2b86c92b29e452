//! Prevention surface: the store-loss check (persistence is plain JS: js/prevention.js).
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::browser::{own_db::OwnDb, store_probe};
use crate::model::journal::SessionId;
use crate::model::store_loss::{check_store, found_store, read_session, Sentinel, SessionFacts, SessionPreset, StoreContents};

/// The localStorage keys a preset's session lives under (the JS layer snapshots exactly these at start).
#[wasm_bindgen(js_name = sessionKeys)]
pub fn session_keys(preset: &str) -> Vec<String> {
    SessionPreset::parse(preset).map(|p| p.keys().iter().map(|k| k.to_string()).collect()).unwrap_or_default()
}

/// The crypto-store database names a preset's client may have.
#[wasm_bindgen(js_name = presetCryptoStores)]
pub fn preset_crypto_stores(preset: &str) -> Vec<String> {
    SessionPreset::parse(preset).map(|p| p.crypto_stores().iter().map(|k| k.to_string()).collect()).unwrap_or_default()
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct HostSession {
    user_id: String,
    device_id: String,
    homeserver: Option<String>,
}

/// Runs the store-loss check. `session_values`: `{ key: value | null }` snapshotted at start for
/// `preset`; `host_session`: `{ userId, deviceId }` when the host names its session itself (wins);
/// `crypto_stores`: the names to look for; `own_database`: the guardian's own database name (null:
/// the default), where the sentinel of this device — the identity it was seen uploading — is read;
/// `probe_store`: `(name, userId, deviceId) => Promise<StoreContents | null>` (js/store-probe.js), which
/// reads what the found crypto store holds.
#[wasm_bindgen(js_name = checkStoreAtStart)]
pub async fn check_store_at_start(
    preset: String,
    session_values: JsValue,
    host_session: JsValue,
    crypto_stores: Vec<String>,
    own_database: Option<String>,
    probe_store: Option<js_sys::Function>,
) -> JsValue {
    let session = match serde_wasm_bindgen::from_value::<HostSession>(host_session) {
        Ok(h) => Some(SessionFacts { user_id: h.user_id, device_id: h.device_id, homeserver: h.homeserver }),
        Err(_) => {
            let values: std::collections::HashMap<String, Option<String>> =
                serde_wasm_bindgen::from_value(session_values).unwrap_or_default();
            SessionPreset::parse(&preset).and_then(|p| read_session(p, |k| values.get(k).cloned().flatten()))
        }
    };
    // Firefox before 126 and some webviews cannot list databases: that is "unknown", not "lost".
    let databases = store_probe::database_names().await.ok();
    let sentinel = match &session {
        Some(s) => load_sentinel(own_database, &s.user_id, &s.device_id).await,
        None => None,
    };
    let store = databases.as_deref().and_then(|d| found_store(d, &crypto_stores));
    let contents = match (&session, store, probe_store) {
        (Some(s), Some(name), Some(probe)) => read_store(&probe, name, s).await,
        _ => None,
    };
    let verdict = check_store(session, databases.as_deref(), &crypto_stores, contents.as_ref(), sentinel.as_ref());
    let serializer = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
    serde::Serialize::serialize(&verdict, &serializer).unwrap_or(JsValue::NULL)
}

/// What the crypto store holds, through the JS probe (any failure: not read — the check then rests on
/// the store's presence alone).
async fn read_store(probe: &js_sys::Function, name: &str, session: &SessionFacts) -> Option<StoreContents> {
    let (name, user, device) = (JsValue::from_str(name), JsValue::from_str(&session.user_id), JsValue::from_str(&session.device_id));
    let promise: js_sys::Promise = probe.call3(&JsValue::NULL, &name, &user, &device).ok()?.dyn_into().ok()?;
    let contents = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    serde_wasm_bindgen::from_value(contents).ok()
}

/// The sentinel of this device, if the guardian's own database has one (any failure: none — the check
/// then rests on the store alone).
async fn load_sentinel(own_database: Option<String>, user_id: &str, device_id: &str) -> Option<Sentinel> {
    let db = own_database.map(|n| OwnDb::named(&n)).unwrap_or_default();
    let key = SessionId { user_id: user_id.to_owned(), device_id: device_id.to_owned() }.key();
    let text = db.load_sentinel(&key).await.ok()??;
    serde_json::from_str(&text).ok()
}
