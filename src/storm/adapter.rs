//! The storm watch's `#[wasm_bindgen]` surface (`GuardianCore`), called by the JS fetch tap.
//!
//! It holds the model's state and translates between JS values and model types; it decides nothing
//! itself. Values cross as JSON text (`crate::js_json`). Every call is total: a bad input comes back as
//! a value, never as a panic (a panic traps, which would take the guardian down with the host's upload
//! waiting on it).

#[allow(unused_imports)]
use crate::prelude::*;
use wasm_bindgen::prelude::*;

use crate::js_json::{from_js, to_js, value_to_js};
use crate::json::{ToJson, Value};
use crate::storm::model::{StormConfig, StormWatch, UploadDecision};

/// A field of a JS options object as a number of milliseconds.
pub(crate) fn ms_option(options: &Value, name: &str) -> Option<f64> {
    options.get(name).and_then(Value::as_f64)
}

/// The crate version, which is also the npm package's.
#[wasm_bindgen(js_name = coreVersion)]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

#[wasm_bindgen]
pub struct GuardianCore {
    storm: StormWatch,
}

#[wasm_bindgen]
impl GuardianCore {
    /// `options`: `{ probeAfterMs?, maxProbeAfterMs? }`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> GuardianCore {
        let options = from_js(&options).unwrap_or_default();
        let mut config = StormConfig::default();
        if let Some(ms) = ms_option(&options, "probeAfterMs") {
            config.breaker.initial_backoff_ms = ms;
        }
        if let Some(ms) = ms_option(&options, "maxProbeAfterMs") {
            config.breaker.max_backoff_ms = ms;
        }
        GuardianCore { storm: StormWatch::new(config) }
    }

    /// Decide about an outgoing keys/upload: `{ decision: { action, status?, body? }, events }`.
    #[wasm_bindgen(js_name = beforeUpload)]
    pub fn before_upload(&mut self, request_body: &str, now_ms: f64) -> JsValue {
        let out = self.storm.before_upload(request_body, now_ms);
        let mut value = out.to_json();
        let UploadDecision::Replay { body, .. } = &out.decision else { return value_to_js(&value) };
        // Bytes do not cross as JSON: the replayed answer goes over as a Uint8Array, byte for byte.
        if let Some(decision) = value.as_object_mut().and_then(|o| o.get_mut("decision")).and_then(Value::as_object_mut) {
            decision.remove("body");
        }
        let js = value_to_js(&value);
        if let Ok(decision) = js_sys::Reflect::get(&js, &"decision".into()) {
            let _ = js_sys::Reflect::set(&decision, &"body".into(), &js_sys::Uint8Array::from(&body[..]));
        }
        js
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
        crate::diagnosis::keys_query::device_ed25519(status, body, user_id, device_id)
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

    /// One-time-key health beyond the conflict (`guardian.otkHealth()`): `{ kind, reason, since, figures }`.
    #[wasm_bindgen(js_name = otkHealth)]
    pub fn otk_health(&self) -> JsValue {
        to_js(&self.storm.otk_health())
    }
}
