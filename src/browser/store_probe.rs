//! What IndexedDB databases exist in this origin (`indexedDB.databases()`), through indexed_db_futures.
use indexed_db_futures::factory::DBFactory;
use wasm_bindgen::JsValue;

/// Names of this origin's IndexedDB databases.
pub async fn database_names() -> Result<Vec<String>, JsValue> {
    let factory = DBFactory::new().map_err(|e| JsValue::from_str(&e.to_string()))?;
    let list = factory.databases().map_err(|e| JsValue::from_str(&e.to_string()))?;
    let list = list.await.map_err(|e| JsValue::from_str(&e.to_string()))?;
    Ok(list.map(|details| details.map(|d| d.name().to_owned()).unwrap_or_default()).filter(|n| !n.is_empty()).collect())
}
