//! Signature check of a signed one-time key or fallback key against a device's Ed25519 key.
//!
//! The check is matrix-sdk-crypto's own: the key object is parsed into
//! [`matrix_sdk_crypto::types::SignedKey`] and verified with
//! [`matrix_sdk_crypto::types::DeviceKeys::has_signed`], the very path an `OlmMachine` takes when it
//! claims a peer's one-time key (`DeviceData::verify_one_time_key`). So the verdict is the one a
//! peer running matrix-sdk-crypto would reach about the same key: the canonical JSON of the key
//! object without `signatures`/`unsigned`, the signature under `signatures[user_id]["ed25519:DEVICE"]`.

use std::{collections::BTreeMap, fmt};

use matrix_sdk_crypto::{
    types::{DeviceKey, DeviceKeys, Signatures, SignedKey},
    vodozemac::{Curve25519PublicKey, Ed25519PublicKey},
    SignatureError,
};
use ruma_common::{DeviceKeyAlgorithm, DeviceKeyId, OwnedDeviceId, OwnedUserId};

/// Largest signed-key JSON accepted (a real one is ~250 bytes; Synapse's error carries one).
pub const MAX_SIGNED_KEY_JSON: usize = 64 * 1024;

/// The outcome of [`verify_one_time_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The key object carries a signature by the device's key id that verifies under the given
    /// Ed25519 key: the key was made by this identity.
    Valid,
    /// The key object carries a signature under the device's key id, but it does not verify under
    /// the given Ed25519 key: the key was signed by another identity (or altered).
    Invalid,
    /// The key object is well formed but has no signature by `user_id` under `ed25519:DEVICE`.
    NoSignatureByDevice,
    /// An input could not be understood; the reason says which and why (it never quotes key
    /// material beyond what the caller passed in as public data).
    Malformed(String),
}

impl Verdict {
    /// The verdict as one lowercase word: `valid`, `invalid`, `no-signature` or `malformed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::NoSignatureByDevice => "no-signature",
            Verdict::Malformed(_) => "malformed",
        }
    }

    /// The reason, for [`Verdict::Malformed`].
    pub fn reason(&self) -> Option<&str> {
        match self {
            Verdict::Malformed(reason) => Some(reason),
            _ => None,
        }
    }
}

/// `valid`, `invalid`, `no-signature`, or `malformed: <reason>`.
impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Malformed(reason) => write!(f, "malformed: {reason}"),
            other => f.write_str(other.as_str()),
        }
    }
}

fn malformed(reason: impl Into<String>) -> Verdict {
    Verdict::Malformed(reason.into())
}

/// Whether `signed_key_json` — a signed one-time key or fallback key,
/// `{"key": "<curve25519>", "signatures": {"@u:hs": {"ed25519:DEVICE": "<sig>"}}, "fallback"?: true}`
/// — carries a valid signature by device `device_id` of `user_id`, whose Ed25519 key is
/// `ed25519_public_base64` (unpadded base64, as in `device_keys.keys["ed25519:DEVICE"]`).
///
/// A legacy unsigned `curve25519:` one-time key (a bare JSON string, as Synapse prints it in
/// `Old key: "..."`) yields [`Verdict::NoSignatureByDevice`].
///
/// For convenience the key object may also come wrapped in its one-entry map, as in a keys/upload
/// body's `one_time_keys` / `fallback_keys`: `{"signed_curve25519:AAAAHQ": {...}}`.
///
/// Never panics; every unusable input yields [`Verdict::Malformed`].
pub fn verify_one_time_key(
    signed_key_json: &str,
    user_id: &str,
    device_id: &str,
    ed25519_public_base64: &str,
) -> Verdict {
    if signed_key_json.len() > MAX_SIGNED_KEY_JSON {
        return malformed("signed key JSON is too large");
    }

    let user_id = match OwnedUserId::try_from(user_id.trim()) {
        Ok(user_id) => user_id,
        Err(e) => return malformed(format!("user id: {e}")),
    };
    let device_id = device_id.trim();
    if device_id.is_empty() {
        return malformed("device id is empty");
    }
    let device_id = OwnedDeviceId::from(device_id);
    let ed25519 = match Ed25519PublicKey::from_base64(ed25519_public_base64.trim()) {
        Ok(key) => key,
        Err(e) => return malformed(format!("ed25519 key: {e}")),
    };

    let signed_key = match parse_signed_key(signed_key_json) {
        Ok(key) => key,
        Err(verdict) => return verdict,
    };

    let key_id = DeviceKeyId::from_parts(DeviceKeyAlgorithm::Ed25519, &device_id);

    // Tell "no signature by this device" and "undecodable signature" apart up front; matrix-sdk-crypto
    // folds the latter into a generic error.
    match signed_key
        .signatures()
        .get(&user_id)
        .and_then(|by_key| by_key.get(&key_id))
    {
        None => return Verdict::NoSignatureByDevice,
        Some(Err(_)) => {
            return malformed(format!(
                "the signature under {key_id} is not a valid ed25519 signature"
            ))
        }
        Some(Ok(_)) => {}
    }

    let keys = BTreeMap::from([(key_id, DeviceKey::Ed25519(ed25519))]);
    let device_keys = DeviceKeys::new(user_id, device_id, Vec::new(), keys, Signatures::new());

    match device_keys.has_signed(&signed_key) {
        Ok(()) => Verdict::Valid,
        Err(SignatureError::VerificationError(_)) => Verdict::Invalid,
        Err(SignatureError::NoSignatureFound) => Verdict::NoSignatureByDevice,
        Err(SignatureError::JsonError(e)) => {
            malformed(format!("key object is not canonical JSON: {e}"))
        }
        Err(SignatureError::InvalidSignature) => {
            malformed("the device's signature can't be decoded")
        }
        Err(e) => malformed(format!("signature check failed: {e}")),
    }
}

/// Parse a signed key object (or its one-entry `{"signed_curve25519:ID": {...}}` wrapper).
fn parse_signed_key(json: &str) -> Result<SignedKey, Verdict> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| malformed(format!("not JSON: {}", short_json_error(&e))))?;

    let object = match value {
        serde_json::Value::Object(object) => object,
        // A legacy unsigned `curve25519:` one-time key is a bare string: well formed, unsigned.
        serde_json::Value::String(key) => {
            return Err(match Curve25519PublicKey::from_base64(&key) {
                Ok(_) => Verdict::NoSignatureByDevice,
                Err(_) => malformed("a bare string that is not a curve25519 key"),
            })
        }
        _ => return Err(malformed("not a JSON object")),
    };

    let object = if object.contains_key("key") {
        object
    } else {
        let mut entries = object.into_iter();
        match (entries.next(), entries.next()) {
            (Some((name, serde_json::Value::Object(inner))), None)
                if name.starts_with("signed_curve25519:") =>
            {
                inner
            }
            _ => return Err(malformed("no \"key\" field")),
        }
    };

    if !object.contains_key("signatures") {
        return Err(Verdict::NoSignatureByDevice);
    }

    serde_json::from_value::<SignedKey>(serde_json::Value::Object(object)).map_err(|e| {
        malformed(format!(
            "not a signed curve25519 key: {}",
            short_json_error(&e)
        ))
    })
}

/// serde_json's message, capped (its messages may quote the offending input).
pub(crate) fn short_json_error(e: &serde_json::Error) -> String {
    let mut text = e.to_string();
    if text.len() > 160 {
        let mut cut = 157;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}
