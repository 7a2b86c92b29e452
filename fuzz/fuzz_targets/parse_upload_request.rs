//! The keys/upload request reader on any bytes: never panics; the key-id set is the union of the
//! one-time and fallback ids, and the fingerprint counts them.
#![no_main]
use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use matrix_crypto_guardian::model::{parse_upload_request, ParsedUpload};

fuzz_target!(|data: &[u8]| {
    if let ParsedUpload::Comparable(r) = parse_upload_request(data) {
        let ids = r.key_ids();
        // The union computed independently (std's set as the reference): same ids, each once, in order.
        let union: BTreeSet<&String> = r.one_time_key_ids.iter().chain(r.fallback_key_ids.iter()).collect();
        assert_eq!(ids.len(), union.len());
        assert!(ids.iter().eq(union.iter().copied()));
        assert!(r.key_ids_fingerprint.starts_with(&format!("{}-", ids.len())));
    }
});
