//! The Storage API: is this origin's storage persistent, and how much is used.
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// `navigator.storage.persisted()`, or `None` where the Storage API is missing.
pub async fn persisted() -> Result<Option<bool>, JsValue> {
    let Some(navigator) = super::navigator() else { return Ok(None) };
    let storage = navigator.storage();
    if JsValue::from(storage.clone()).is_undefined() {
        return Ok(None);
    }
    Ok(JsFuture::from(storage.persisted()?).await?.as_bool())
}
