//! The `#[wasm_bindgen]` surface: `GuardianCore`, used by the JS layer (`js/index.js`).
//!
//! It holds the model's state and translates between JS values and model types; it decides nothing
//! itself. Every call is total: a bad input comes back as a value, never as a panic (release builds
//! abort on panic, which would take the guardian down with the host's upload waiting on it).
use serde::Serialize;
use wasm_bindgen::prelude::*;

mod journal;
mod prevention;
mod remedy;
mod writer;

use crate::model::storm::{StormConfig, StormWatch};

/// The crate version, which is also the npm package's.
#[wasm_bindgen(js_name = coreVersion)]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct CoreOptions {
    probe_after_ms: Option<f64>,
    max_probe_after_ms: Option<f64>,
}

#[wasm_bindgen]
pub struct GuardianCore {
    storm: StormWatch,
}

fn to_js<T: Serialize>(value: &T) -> JsValue {
    // Maps as plain objects so JS sees `{ keyIds: [...] }`, not `Map`s.
    let serializer = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
    value.serialize(&serializer).unwrap_or(JsValue::NULL)
}

#[wasm_bindgen]
impl GuardianCore {
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> GuardianCore {
        let options: CoreOptions = serde_wasm_bindgen::from_value(options).unwrap_or_default();
        let mut config = StormConfig::default();
        if let Some(ms) = options.probe_after_ms {
            config.breaker.initial_backoff_ms = ms;
        }
        if let Some(ms) = options.max_probe_after_ms {
            config.breaker.max_backoff_ms = ms;
        }
        GuardianCore { storm: StormWatch::new(config) }
    }

    /// Decide about an outgoing keys/upload: `{ decision: { action, status?, body? }, events }`.
    #[wasm_bindgen(js_name = beforeUpload)]
    pub fn before_upload(&mut self, request_body: &str, now_ms: f64) -> JsValue {
        to_js(&self.storm.before_upload(request_body, now_ms))
    }

    /// Learn from the server's answer to a keys/upload: `{ events, needsDiagnosis }`.
    #[wasm_bindgen(js_name = afterUpload)]
    pub fn after_upload(&mut self, request_body: &str, status: u16, body: &[u8], complete: bool, now_ms: f64) -> JsValue {
        to_js(&self.storm.after_upload(request_body, status, body, complete, now_ms))
    }

    /// The upload did not reach the server or got no answer (network error, abort).
    #[wasm_bindgen(js_name = uploadFailed)]
    pub fn upload_failed(&mut self, request_body: &str, reason: &str, now_ms: f64) -> JsValue {
        to_js(&self.storm.upload_failed(request_body, reason, now_ms))
    }

    /// What the JS layer must fetch for a diagnosis, or `null` when none is needed.
    #[wasm_bindgen(js_name = diagnosisInput)]
    pub fn diagnosis_input(&self) -> JsValue {
        to_js(&self.storm.diagnosis_input())
    }

    /// Record the forensics verdict on the old key (`"valid"`, `"invalid"`, …) and decide the cause.
    pub fn diagnose(&mut self, verdict: Option<String>, current_ed25519: Option<String>, now_ms: f64) -> JsValue {
        to_js(&self.storm.diagnose(verdict.as_deref(), current_ed25519.as_deref(), now_ms))
    }

    /// The device's ed25519 key from a `/keys/query` answer, or `undefined`.
    #[wasm_bindgen(js_name = ed25519FromKeysQuery)]
    pub fn ed25519_from_keys_query(&self, status: u16, body: &[u8], user_id: &str, device_id: &str) -> Option<String> {
        crate::model::keys_query::device_ed25519(status, body, user_id, device_id)
    }

    /// Lets the next identical upload through as a probe now (after a repair drained the stale keys).
    #[wasm_bindgen(js_name = requestProbe)]
    pub fn request_probe(&mut self, now_ms: f64) {
        self.storm.request_probe(now_ms);
    }

    /// The storm state (`guardian.storm()`).
    pub fn storm(&self) -> JsValue {
        to_js(&self.storm.state())
    }
}
