//! The device's own ed25519 key from a `POST /_matrix/client/v3/keys/query` answer.
//! Any answer the homeserver gives is possible: anything unexpected is simply "not known".

/// `device_keys[user_id][device_id].keys["ed25519:<device_id>"]` of a 200 answer, if present.
pub fn device_ed25519(status: u16, body: &[u8], user_id: &str, device_id: &str) -> Option<String> {
    if status != 200 {
        return None;
    }
    let answer = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    let key = answer
        .get("device_keys")?
        .get(user_id)?
        .get(device_id)?
        .get("keys")?
        .get(["ed25519:", device_id].concat())?
        .as_str()?;
    Some(key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"{"device_keys":{"@alice:localhost":{"DEV":{"algorithms":["m.olm.v1.curve25519-aes-sha2"],
        "device_id":"DEV","keys":{"curve25519:DEV":"c25519","ed25519:DEV":"ed25519key"},"user_id":"@alice:localhost"}}},
        "failures":{}}"#;

    #[test]
    fn finds_the_device_key() {
        assert_eq!(device_ed25519(200, ANSWER.as_bytes(), "@alice:localhost", "DEV").as_deref(), Some("ed25519key"));
    }

    #[test]
    fn unknown_device_error_status_and_junk_are_none() {
        assert_eq!(device_ed25519(200, ANSWER.as_bytes(), "@alice:localhost", "OTHER"), None);
        assert_eq!(device_ed25519(500, ANSWER.as_bytes(), "@alice:localhost", "DEV"), None);
        assert_eq!(device_ed25519(200, b"<html>502 Bad Gateway</html>", "@a:b", "DEV"), None);
        assert_eq!(device_ed25519(200, &[0xff, 0xfe, 0x00], "@a:b", "DEV"), None);
        assert_eq!(device_ed25519(200, br#"{"device_keys":{"@a:b":{"DEV":{"keys":{"ed25519:DEV":7}}}}}"#, "@a:b", "DEV"), None);
    }
}
