//! `classify_upload_answer(status, body, complete)` on any bytes: never panics, a 2xx is never a
//! conflict, and what the JS layer receives is JSON text that reads back as the same value.
//! Input: 2 bytes status (big endian), 1 byte `complete`, then the body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use matrix_crypto_guardian::storm::{classify_upload_answer, UploadAnswer};

fuzz_target!(|data: &[u8]| {
    let (status, complete, body) = match data {
        [a, b, c, rest @ ..] => (u16::from_be_bytes([*a, *b]), c & 1 == 1, rest),
        _ => (400, true, data),
    };
    let answer = classify_upload_answer(status, body, complete);
    if (200..300).contains(&status) {
        assert!(!matches!(answer, UploadAnswer::Conflict(_)));
    }
    // The same bytes as a 400 (the storm's status) too.
    let _ = classify_upload_answer(400, body, complete);
    let v = serde_json::to_value(&answer).unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&v.to_string()).unwrap(), v);
});
