//! Thin adapters over browser APIs (web-sys). They observe and act; they never decide —
//! every decision is made by `crate::model` from what these adapters report.
pub mod locks;
pub mod own_db;
pub mod storage;
pub mod store_probe;

use wasm_bindgen::{JsCast, JsValue};

/// The global scope's `navigator`, in a window or a worker.
pub(crate) fn navigator() -> Option<web_sys::Navigator> {
    let global = js_sys::global();
    if let Some(window) = global.dyn_ref::<web_sys::Window>() {
        return Some(window.navigator());
    }
    js_sys::Reflect::get(&global, &JsValue::from_str("navigator")).ok()?.dyn_into().ok()
}
