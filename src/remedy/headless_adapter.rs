//! The headless hosts' decisions (`crate::remedy::headless`: bots on matrix-js-sdk in Node.js), exported from
//! the lazily loaded watch module because only `js/headless.js` needs them: the browser's core never does. Translation only.
use crate::remedy::headless::{accept_replacement, check_bot_store, server_device, BotStore};
use crate::to_js;
use serde::Deserialize;
use crate::remedy::model::logout_outcome;
use crate::store_loss::model::{SessionFacts, StoreContents};
use wasm_bindgen::prelude::*;

/// `{ kind: "memory" }` or `{ kind: "indexeddb", databases, cryptoStores, contents }`; anything else is
/// read as an IndexedDB store with nothing listed (the check then cannot find an account either).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct StoreFacts {
    kind: Option<String>,
    databases: Option<Vec<String>>,
    crypto_stores: Option<Vec<String>>,
    contents: Option<StoreContents>,
}

fn store_of(v: JsValue) -> BotStore {
    let facts: StoreFacts = serde_wasm_bindgen::from_value(v).unwrap_or_default();
    if facts.kind.as_deref() == Some("memory") {
        return BotStore::Memory;
    }
    BotStore::IndexedDb {
        databases: facts.databases.unwrap_or_default(),
        crypto_stores: facts.crypto_stores.unwrap_or_default(),
        contents: facts.contents,
    }
}

/// A session object (`{ userId, deviceId, homeserver? }`); `None` without userId/deviceId.
fn session_of(v: JsValue) -> Option<SessionFacts> {
    serde_wasm_bindgen::from_value(v).ok()
}

/// The verdict for a bot's store before its first upload, from the session (`{ userId, deviceId,
/// homeserver }`), the store (see `store_of`) and the device's own `/keys/query` answer (`status` 0: no
/// answer, `network_error` says why). `{ verdict: "new-device"|"healthy"|"store-lost"|"unknown", … }`,
/// `null` for a session without userId/deviceId.
#[wasm_bindgen(js_name = checkBotStore)]
pub fn check_bot_store_js(session: JsValue, store: JsValue, status: u16, body: &[u8], network_error: Option<String>) -> JsValue {
    let Some(session) = session_of(session) else { return JsValue::NULL };
    let store = store_of(store);
    let server = server_device(status, body, &session.user_id, &session.device_id, network_error.as_deref());
    to_js(&check_bot_store(session, &store, &server))
}

/// Whether the host may go on with the device it logged in: `null` when it may, else the reason. `old`,
/// `new`: `{ userId, deviceId }`; the old device's `POST /logout` answer (`token_confirmed`: its token was
/// the old device's own, `tokenCheck`) and the new device's `/keys/query` answer as status and bytes
/// (status 0: no answer).
#[wasm_bindgen(js_name = acceptReplacement)]
#[allow(clippy::too_many_arguments)]
pub fn accept_replacement_js(
    old: JsValue,
    logout_status: u16,
    logout_body: &[u8],
    token_confirmed: bool,
    new: JsValue,
    query_status: u16,
    query_body: &[u8],
    network_error: Option<String>,
) -> Option<String> {
    let (Some(old), Some(new)) = (session_of(old), session_of(new)) else {
        return Some("a session without userId or deviceId".into());
    };
    let logout = logout_outcome(logout_status, logout_body, network_error.as_deref(), token_confirmed);
    let device = server_device(query_status, query_body, &new.user_id, &new.device_id, network_error.as_deref());
    accept_replacement(&old, &logout, &new, &device).err()
}
