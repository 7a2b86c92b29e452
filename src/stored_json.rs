//! JSON text the core reads back, member by member: the device sentinel (the guardian's own database),
//! the lease entry and Cinny's `matrixSessions` list (localStorage). The models decide what a record
//! must hold; the text is parsed by what is already there. In wasm that is the engine's own `JSON.parse`
//! (js-sys), so the start module links no JSON parser: serde_json's text reader was 7.3 KB of it,
//! gzipped. Natively (the models' tests, tools) it is serde_json.
//!
//! Every reader answers `None` for a value of another kind, never a default: a record that is not what
//! was written is unreadable as a whole, and the models treat it as absent.

#[cfg(target_arch = "wasm32")]
mod engine {
    use wasm_bindgen::{JsCast, JsValue};

    use crate::js_object::member;

    /// What `JSON.parse` made.
    pub type Parsed = JsValue;

    pub fn parse(text: &str) -> Option<Parsed> {
        js_sys::JSON::parse(text).ok()
    }

    pub fn text(value: &Parsed, name: &str) -> Option<String> {
        member(value, name).as_string()
    }

    pub fn number(value: &Parsed, name: &str) -> Option<f64> {
        member(value, name).as_f64()
    }

    pub fn is_absent(value: &Parsed, name: &str) -> bool {
        let m = member(value, name);
        m.is_undefined() || m.is_null()
    }

    pub fn first_item(value: &Parsed) -> Option<Option<Parsed>> {
        let array = value.dyn_ref::<js_sys::Array>()?;
        Some((array.length() > 0).then(|| array.get(0)))
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod engine {
    use serde_json::Value;

    pub type Parsed = Value;

    pub fn parse(text: &str) -> Option<Parsed> {
        serde_json::from_str(text).ok()
    }

    pub fn text(value: &Parsed, name: &str) -> Option<String> {
        value.get(name)?.as_str().map(str::to_owned)
    }

    pub fn number(value: &Parsed, name: &str) -> Option<f64> {
        value.get(name)?.as_f64()
    }

    pub fn is_absent(value: &Parsed, name: &str) -> bool {
        value.get(name).is_none_or(Value::is_null)
    }

    pub fn first_item(value: &Parsed) -> Option<Option<Parsed>> {
        Some(value.as_array()?.first().cloned())
    }
}

/// A parsed JSON value (`JsValue` in wasm, `serde_json::Value` natively).
pub use engine::Parsed;
/// The JSON text's value, `None` when it is not JSON.
pub use engine::parse;
/// A string member.
pub use engine::text;
/// A number member.
pub use engine::number;
/// `None` when the value is not an array, else its first item (`Some(None)`: empty).
pub use engine::first_item;

/// A member that may be absent: `Some(None)` when it is missing or `null`, `Some(Some(_))` when it is a
/// string, `None` when it is anything else.
pub fn optional_text(value: &Parsed, name: &str) -> Option<Option<String>> {
    if engine::is_absent(value, name) {
        return Some(None);
    }
    text(value, name).map(Some)
}

/// A whole non-negative number member (a counter), exactly as JSON wrote it.
pub fn count(value: &Parsed, name: &str) -> Option<u64> {
    let n = number(value, name)?;
    // 2^53: above it a JSON number is no longer an exact integer.
    (n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_992.0).then_some(n as u64)
}
