//! The store-loss check, its pure half: which session the host has, which crypto store to read, the
//! verdict, and the sentinel to remember. `js/index.js` gathers the browser's facts (localStorage
//! snapshot, `indexedDB.databases()`, the store probe, the guardian's own database) around these calls.

use wasm_bindgen::prelude::*;

use crate::diagnostics::journal::{sentinel_update, Sentinel};
use crate::js_object::{optional, text};
use crate::store_loss::model::{check_store, read_session, stores_to_read, SeenStore, SessionFacts, SessionPreset};
use crate::store_loss::probe::contents_of;
use crate::to_js;

// The shapes of what the store-loss check returns, for the generated .d.ts (js/index.d.ts re-exports them).
#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r##"
/** The session as the store-loss check read it. */
export interface SessionFacts {
  userId: string;
  deviceId: string;
  homeserver: string | null;
}
/**
 * `guardian.storeCheck()` and the detail of "store-lost": the store-loss check made at start (a page) or by
 * `checkBotStore()` (Node.js), which has the same shapes plus `new-device`, and `replaced` after `replaceDevice()`.
 */
export type StoreCheck =
  | { verdict: "not-checked" }
  | { verdict: "no-session" }
  /**
   * `account`: what the store was seen to hold ("unknown": not readable, e.g. a passphrase-encrypted store).
   * `others` (pages): crypto stores of this origin that hold other accounts (a multi-account profile); never this session's.
   * `serverIdentity` (Node.js): the device's ed25519 key on the server.
   */
  | { verdict: "healthy"; session: SessionFacts; store: string; account: "present" | "absent" | "unknown"; others?: string[]; serverIdentity?: string }
  /**
   * `missing`: the store names looked for when none exists; `emptyStore`: the store that exists but holds no
   * account (both empty in Node.js for an in-memory store); `knownIdentity`: the ed25519 key this device had —
   * in a page the one the guardian saw it upload before (its sentinel), in Node.js the one on the server.
   */
  | { verdict: "store-lost"; session: SessionFacts; missing: string[]; emptyStore: string | null; knownIdentity: string | null; reason: string; others?: string[] }
  /** The check could not tell (a store it could not attribute, or no database list): no hold, no prompt. */
  | { verdict: "unknown"; session: SessionFacts; reason: string; others?: string[] }
  /** Node.js: the server has no keys for the device yet (a first start); `store`: the database there, if any. */
  | { verdict: "new-device"; session: SessionFacts; store: string | null }
  /** Node.js, after `replaceDevice()`: the session is the new device's. */
  | { verdict: "replaced"; session: SessionFacts; replacedDevice: string };
export interface DeviceSentinel {
  userId: string;
  deviceId: string;
  ed25519: string | null;
  previousEd25519: string | null;
  firstSeen: number;
  lastSeen: number;
}
"##;

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

/// A session object (`{ userId, deviceId, homeserver? }`), from the host or `readSession`: only those
/// members are read, so a host's object with anything else in it (even a cycle) is read all the same.
fn session_of(value: &JsValue) -> Option<SessionFacts> {
    Some(SessionFacts {
        user_id: text(value, "userId")?,
        device_id: text(value, "deviceId")?,
        homeserver: optional(value, "homeserver", JsValue::as_string)?,
    })
}

/// One of `checkStore`'s `seen`: `{ name, contents }` (`contents` null: not read). A store the probe could
/// not describe is left out on its own: it does not hide the others.
fn seen_store(value: JsValue) -> Option<SeenStore> {
    Some(SeenStore { name: text(&value, "name")?, contents: optional(&value, "contents", contents_of)? })
}

/// The session at start: `host_session` (`{ userId, deviceId, homeserver? }`) when the host names it
/// itself, else read from `values` (`{ key: value | null }`, the preset's localStorage snapshot).
/// `{ userId, deviceId, homeserver }` or `null`.
#[wasm_bindgen(js_name = readSession, unchecked_return_type = "SessionFacts | null")]
pub fn read_session_js(preset: &str, values: JsValue, host_session: JsValue) -> JsValue {
    if let Some(session) = session_of(&host_session) {
        return to_js(&session);
    }
    to_js(&SessionPreset::parse(preset).and_then(|p| read_session(p, |k| text(&values, k))))
}

/// The crypto stores the probe should read: the client's own names that exist, then the origin's
/// other `*::matrix-sdk-crypto` databases (a per-session prefix), capped.
#[wasm_bindgen(js_name = storesToRead)]
pub fn stores_to_read_js(databases: Vec<String>, crypto_stores: Vec<String>) -> Vec<String> {
    stores_to_read(&databases, &crypto_stores)
}

/// The verdict. `session`: what `readSession` returned; `databases`: the origin's IndexedDB names
/// (`undefined` where they cannot be listed); `seen`: `[{ name, contents }]`, what the probe read of each
/// store `storesToRead` named (`contents` null: not read); `sentinel`: this device's sentinel as stored
/// (JSON text, or null).
#[wasm_bindgen(js_name = checkStore, unchecked_return_type = "StoreCheck")]
pub fn check_store_js(session: JsValue, databases: Option<Vec<String>>, crypto_stores: Vec<String>, seen: JsValue, sentinel: Option<String>) -> JsValue {
    let session = session_of(&session);
    let seen: Vec<SeenStore> = if js_sys::Array::is_array(&seen) {
        js_sys::Array::from(&seen).iter().filter_map(seen_store).collect()
    } else {
        Vec::new()
    };
    let sentinel = stored_sentinel(sentinel);
    to_js(&check_store(session, databases.as_deref(), &crypto_stores, &seen, sentinel.as_ref()))
}

/// The sentinel to store after observing the session (and an ed25519 from an accepted upload), or
/// `null` when the stored one (`stored`, JSON text or null) needs no write.
#[wasm_bindgen(js_name = sentinelUpdate, unchecked_return_type = "DeviceSentinel | null")]
pub fn sentinel_update_js(stored: Option<String>, user_id: &str, device_id: &str, ed25519: Option<String>, now_ms: f64) -> JsValue {
    let stored = stored_sentinel(stored);
    to_js(&sentinel_update(stored.as_ref(), user_id, device_id, ed25519.as_deref(), now_ms))
}

/// A sentinel from its stored JSON text; unreadable text is no sentinel (the check then rests on the
/// store alone, and the next observation writes a fresh one).
fn stored_sentinel(text: Option<String>) -> Option<Sentinel> {
    Sentinel::parse(&text?)
}
