//! Web Locks: what this origin holds and waits for (`navigator.locks.query()`).
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// Names of the locks held and pending in this origin (all tabs and workers), or `None` where the
/// Web Locks API is missing (older Safari, insecure contexts, some webviews).
pub async fn snapshot() -> Result<Option<LockSnapshot>, JsValue> {
    let Some(navigator) = super::navigator() else { return Ok(None) };
    let locks = navigator.locks();
    // `navigator.locks` is undefined where unsupported; web-sys hands us that undefined as the object.
    if JsValue::from(locks.clone()).is_undefined() {
        return Ok(None);
    }
    let snapshot = JsFuture::from(locks.query()).await?;
    let snapshot: web_sys::LockManagerSnapshot = snapshot.into();
    let names = |list: Option<js_sys::Array<web_sys::LockInfo>>| -> Vec<String> {
        list.map(|a| a.iter().filter_map(|info| info.get_name()).collect()).unwrap_or_default()
    };
    Ok(Some(LockSnapshot { held: names(snapshot.get_held()), pending: names(snapshot.get_pending()) }))
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockSnapshot {
    pub held: Vec<String>,
    pub pending: Vec<String>,
}
