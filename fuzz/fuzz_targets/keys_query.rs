//! The /keys/query reader on any bytes: never panics, and answers only for a 200.
#![no_main]
use libfuzzer_sys::fuzz_target;
use matrix_crypto_guardian::model::keys_query::device_ed25519;

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data {
        [a, rest @ ..] => (if a & 1 == 0 { 200 } else { 500 }, rest),
        _ => (200, data),
    };
    let got = device_ed25519(status, body, "@u:hs", "DEV");
    assert!(status == 200 || got.is_none());
});
