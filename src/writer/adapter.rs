//! Writer surface: the lock name. The lock itself is `super::lock::WriterLock`; the decisions are
//! `crate::writer::model`'s.

use wasm_bindgen::prelude::*;

use crate::writer::model::lock_name;

/// The writer lock's name (see `model::writer::lock_name`).
#[wasm_bindgen(js_name = writerLockName)]
pub fn writer_lock_name(override_name: Option<String>, store_prefix: Option<String>, user_id: Option<String>, device_id: Option<String>) -> String {
    lock_name(override_name.as_deref(), store_prefix.as_deref(), user_id.as_deref(), device_id.as_deref())
}
