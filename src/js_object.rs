//! The plain JS objects the JS layer hands the core (a session, the preset's localStorage values, what the
//! store probe read), read member by member through js-sys where the model type is built.
//!
//! The core links no serde deserializer: serde's error paths format what they could not read (floats among
//! it), and serde-wasm-bindgen's deserializer and the derives into the model's types cost the start module
//! 23.5 KB gzipped (measured: core wasm 123.1 → 99.6 KB). These objects are small, flat and built by the
//! guardian's own code. (Stored JSON text, the sentinel and the lease entry, is parsed by the engine's
//! `JSON.parse` and read with these: `src/stored_json.rs`.)
use js_sys::{Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// `object[name]`, or `undefined` (not an object, no such member, a throwing getter).
pub fn member(object: &JsValue, name: &str) -> JsValue {
    if !object.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// A string member.
pub fn text(object: &JsValue, name: &str) -> Option<String> {
    member(object, name).as_string()
}

/// An array of strings (`None`: not an array, or an element that is not a string).
pub fn texts(value: &JsValue) -> Option<Vec<String>> {
    Array::is_array(value).then(|| value.unchecked_ref::<Array>().iter().map(|v| v.as_string()).collect())?
}

/// A member that may be absent: `Some(None)` when it is `undefined` or `null`, `Some(Some(_))` when `read`
/// takes it, `None` when it is there but of another kind (the whole object is then unreadable).
pub fn optional<T>(object: &JsValue, name: &str, read: impl Fn(&JsValue) -> Option<T>) -> Option<Option<T>> {
    let value = member(object, name);
    if value.is_undefined() || value.is_null() {
        return Some(None);
    }
    read(&value).map(Some)
}
