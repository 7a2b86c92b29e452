//! What the core answers for the storm watch before the watch module is loaded (it comes with the first
//! keys/upload): the state of a fresh watch, made by the model itself, so `guardian.storm()` and
//! `guardian.otkHealth()` keep their one shape whether or not an upload was seen yet.

use wasm_bindgen::prelude::*;

use crate::storm::model::{StormConfig, StormWatch};
use crate::to_js;

/// `guardian.storm()` before any keys/upload: nothing seen, the breaker closed.
#[wasm_bindgen(js_name = quietStorm)]
pub fn quiet_storm() -> JsValue {
    to_js(&StormWatch::new(StormConfig::default()).state())
}

/// `guardian.otkHealth()` before any keys/upload: healthy, no figures yet.
#[wasm_bindgen(js_name = quietOtkHealth)]
pub fn quiet_otk_health() -> JsValue {
    to_js(&StormWatch::new(StormConfig::default()).otk_health())
}
