//! What `guardian.storm()` and `guardian.otkHealth()` answer before the watch module is loaded (it comes
//! with the first keys/upload): the state of a fresh watch, made by the model itself, so both keep their one
//! shape whether or not an upload was seen yet.
//!
//! The answer never changes, so it is written once, as data, into `js/storm-idle.js`, rather than linked
//! into the start module (the watch model and its serialization were 5.1 KB of the core, gzipped). The test
//! below keeps the file equal to the model's answer: it fails on any drift and says how to rewrite it.

use crate::storm::model::{StormConfig, StormWatch};

/// The path of the generated module, from the crate's root.
pub const IDLE_MODULE: &str = "js/storm-idle.js";

/// The text of `js/storm-idle.js`: a fresh watch's `storm()` and `otkHealth()` answers.
pub fn idle_module() -> String {
    let watch = StormWatch::new(StormConfig::default());
    // Through a `Value`, as the adapters' `to_js` crosses: the same members in the same order.
    let storm = serde_json::to_value(watch.state()).unwrap_or_default();
    let otk_health = serde_json::to_value(watch.otk_health()).unwrap_or_default();
    format!(
        "// Generated from the storm watch's model (src/storm/idle.rs); `cargo test -p matrix-crypto-guardian idle`\n\
         // checks it, and `MCG_WRITE_IDLE=1` with that command rewrites it. Do not edit.\n\
         /** `guardian.storm()` before any keys/upload: nothing seen, the breaker closed. */\n\
         export const QUIET_STORM = {storm};\n\
         /** `guardian.otkHealth()` before any keys/upload: healthy, no figures yet. */\n\
         export const QUIET_OTK_HEALTH = {otk_health};\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_js_idle_module_is_the_models_answer() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(IDLE_MODULE);
        let expected = idle_module();
        if std::env::var_os("MCG_WRITE_IDLE").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            actual == expected,
            "{IDLE_MODULE} differs from the model's idle answer; rewrite it with \
             `MCG_WRITE_IDLE=1 cargo test -p matrix-crypto-guardian idle` and review the diff"
        );
        assert!(expected.contains(r#""active":false"#) && expected.contains(r#""kind":"healthy""#), "{expected}");
    }
}
