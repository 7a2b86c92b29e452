//! Where JS values and the model's JSON meet, for both wasm modules (the core's `api` and the lazily
//! loaded forensics module): values cross as JSON text. The model writes its own JSON (`model::json`)
//! and JS's `JSON.parse` makes the objects; objects from JS come through `JSON.stringify`. That keeps
//! serde and serde-wasm-bindgen out of the wasm.

#[allow(unused_imports)]
use crate::prelude::*;
use wasm_bindgen::JsValue;

use crate::json::{self, ToJson, Value};

/// The model's JSON as a JS value: plain objects and arrays, `null` for `None`.
pub fn to_js(value: &impl ToJson) -> JsValue {
    value_to_js(&value.to_json())
}

pub fn value_to_js(value: &Value) -> JsValue {
    js_sys::JSON::parse(&value.to_json_string()).unwrap_or(JsValue::NULL)
}

/// A JS value as the model's JSON; `None` for undefined, null, and what `JSON.stringify` cannot write
/// (a cycle, a BigInt).
pub fn from_js(value: &JsValue) -> Option<Value> {
    if value.is_undefined() || value.is_null() {
        return None;
    }
    let text = js_sys::JSON::stringify(value).ok()?.as_string()?;
    json::from_str(&text).ok()
}
