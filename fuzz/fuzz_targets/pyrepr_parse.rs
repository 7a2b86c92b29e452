//! The Python-repr parser on any text: never panics; an error offset and a prefix end stay inside the
//! input (on a char boundary).
#![no_main]
use libfuzzer_sys::fuzz_target;
use matrix_crypto_guardian::model::pyrepr;

fuzz_target!(|text: &str| {
    match pyrepr::parse(text) {
        Ok(v) => {
            let _ = serde_json::to_string(&v).unwrap();
        }
        Err(e) => assert!(e.offset <= text.len()),
    }
    if let Ok((_, end)) = pyrepr::parse_prefix(text) {
        assert!(end <= text.len() && text.is_char_boundary(end));
    }
});
