//! The Python-repr parser on any text: never panics; an error offset and a prefix end stay inside the
//! input (on a char boundary), and a parsed value is written as JSON that reads back the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use matrix_crypto_guardian::model::{json, pyrepr};

fuzz_target!(|text: &str| {
    match pyrepr::parse(text) {
        Ok(v) => assert_eq!(json::from_str(&v.to_json_string()), Ok(v)),
        Err(e) => assert!(e.offset <= text.len()),
    }
    if let Ok((_, end)) = pyrepr::parse_prefix(text) {
        assert!(end <= text.len() && text.is_char_boundary(end));
    }
});
