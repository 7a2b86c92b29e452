//! Reads the keys/upload REQUEST body: which key ids it carries, and the device keys if any.
//!
//! The breaker compares requests by their key-id set (one-time + fallback ids): matrix-js-sdk
//! re-sends the *identical* failing request after every sync, so an equal id set means "the same
//! request again". Forensics also needs the public key the request holds under a given id, to
//! compare with the server's "old key".

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// A (possibly signed) public key as it appears in keys/upload: `{"key": …, "signatures": …}`, or
/// a bare base64 string for legacy unsigned `curve25519:` keys.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedKey {
    /// The public key, unpadded base64.
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<bool>,
    /// user id -> ("ed25519:DEVICE" -> signature)
    pub signatures: BTreeMap<String, BTreeMap<String, String>>,
    /// The object as the server (or request) gave it; signature checks need the exact fields.
    pub raw: Value,
}

impl SignedKey {
    pub fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::String(s) => Some(SignedKey {
                key: s.clone(),
                fallback: None,
                signatures: BTreeMap::new(),
                raw: v.clone(),
            }),
            Value::Object(o) => {
                let key = o.get("key")?.as_str()?.to_owned();
                let mut signatures = BTreeMap::new();
                if let Some(Value::Object(users)) = o.get("signatures") {
                    for (user, sigs) in users {
                        if let Value::Object(sigs) = sigs {
                            let per_user: BTreeMap<String, String> = sigs
                                .iter()
                                .filter_map(|(k, s)| Some((k.clone(), s.as_str()?.to_owned())))
                                .collect();
                            signatures.insert(user.clone(), per_user);
                        }
                    }
                }
                Some(SignedKey {
                    key,
                    fallback: o.get("fallback").and_then(Value::as_bool),
                    signatures,
                    raw: v.clone(),
                })
            }
            _ => None,
        }
    }

    /// The signature by `user_id`'s device `device_id` (key id `ed25519:<device_id>`).
    pub fn signature(&self, user_id: &str, device_id: &str) -> Option<&str> {
        self.signatures
            .get(user_id)?
            .get(&["ed25519:", device_id].concat())
            .map(String::as_str)
    }

    /// Every (user id, device id) with an ed25519 signature on this key.
    pub fn ed25519_signers(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (user, sigs) in &self.signatures {
            for key_id in sigs.keys() {
                if let Some(device) = key_id.strip_prefix("ed25519:") {
                    out.push((user.clone(), device.to_owned()));
                }
            }
        }
        out
    }
}

/// Request bodies larger than this are not parsed (a 50-key upload is ~15 KB).
pub const MAX_REQUEST_BYTES: usize = 4 << 20;

/// The identity part of `device_keys`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceKeysSummary {
    pub user_id: String,
    pub device_id: String,
    /// `keys["ed25519:<device_id>"]`
    pub ed25519: Option<String>,
    /// `keys["curve25519:<device_id>"]`
    pub curve25519: Option<String>,
}

/// A readable keys/upload request.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadRequest {
    /// Parsed when `device_keys` is an object with string `user_id` and `device_id`.
    pub device_keys: Option<DeviceKeysSummary>,
    /// Whether the request carried a non-null `device_keys` at all (a store-loss upload does).
    pub has_device_keys: bool,
    /// e.g. `signed_curve25519:AAAAAAAAAA0`
    pub one_time_key_ids: BTreeSet<String>,
    pub fallback_key_ids: BTreeSet<String>,
    /// Short stable digest of all key ids, for journals: `"<count>-<16 hex>"`.
    pub key_ids_fingerprint: String,
    keys: BTreeMap<String, SignedKey>,
}

impl UploadRequest {
    /// One-time and fallback key ids together: what the breaker compares.
    pub fn key_ids(&self) -> BTreeSet<String> {
        self.one_time_key_ids.union(&self.fallback_key_ids).cloned().collect()
    }

    /// The public key (base64) the request holds under `key_id`.
    pub fn public_key(&self, key_id: &str) -> Option<&str> {
        self.keys.get(key_id).map(|k| k.key.as_str())
    }

    /// The whole key object under `key_id` (signatures included).
    pub fn signed_key(&self, key_id: &str) -> Option<&SignedKey> {
        self.keys.get(key_id)
    }

    /// No one-time or fallback keys (e.g. a device-keys-only upload).
    pub fn has_no_keys(&self) -> bool {
        self.one_time_key_ids.is_empty() && self.fallback_key_ids.is_empty()
    }
}

/// The outcome of reading a request body. `NotComparable` tells the breaker to pass it through.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedUpload {
    Comparable(UploadRequest),
    NotComparable { reason: String },
}

impl ParsedUpload {
    pub fn request(&self) -> Option<&UploadRequest> {
        match self {
            ParsedUpload::Comparable(r) => Some(r),
            ParsedUpload::NotComparable { .. } => None,
        }
    }
}

/// Parses a keys/upload request body.
pub fn parse_upload_request(body: &[u8]) -> ParsedUpload {
    let not = |reason: &str| ParsedUpload::NotComparable {
        reason: reason.to_owned(),
    };
    if body.len() > MAX_REQUEST_BYTES {
        return not("request body too large");
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return not("request body is not JSON");
    };
    let Value::Object(obj) = value else {
        return not("request body is not a JSON object");
    };
    let mut keys = BTreeMap::new();
    let mut id_sets = [BTreeSet::new(), BTreeSet::new()];
    for (field, ids) in ["one_time_keys", "fallback_keys"]
        .iter()
        .zip(id_sets.iter_mut())
    {
        match obj.get(*field) {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (id, key) in map {
                    ids.insert(id.clone());
                    if let Some(k) = SignedKey::from_value(key) {
                        keys.insert(id.clone(), k);
                    }
                }
            }
            Some(_) => return not(&[field, " is not an object"].concat()),
        }
    }
    let [one_time_key_ids, fallback_key_ids] = id_sets;
    let device_keys_value = obj.get("device_keys").filter(|v| !v.is_null());
    let fingerprint = key_ids_fingerprint(one_time_key_ids.iter().chain(fallback_key_ids.iter()));
    ParsedUpload::Comparable(UploadRequest {
        device_keys: device_keys_value.and_then(device_keys_summary),
        has_device_keys: device_keys_value.is_some(),
        one_time_key_ids,
        fallback_key_ids,
        key_ids_fingerprint: fingerprint,
        keys,
    })
}

fn device_keys_summary(v: &Value) -> Option<DeviceKeysSummary> {
    let user_id = v.get("user_id")?.as_str()?.to_owned();
    let device_id = v.get("device_id")?.as_str()?.to_owned();
    let keys = v.get("keys").and_then(Value::as_object);
    let key = |alg: &str| -> Option<String> {
        let keys = keys?;
        // The device's own key id first; any key of that algorithm otherwise.
        keys.get(&[alg, ":", &device_id].concat())
            .or_else(|| {
                keys.iter()
                    .find(|(k, _)| k.strip_prefix(alg).is_some_and(|rest| rest.starts_with(':')))
                    .map(|(_, v)| v)
            })
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Some(DeviceKeysSummary {
        ed25519: key("ed25519"),
        curve25519: key("curve25519"),
        user_id,
        device_id,
    })
}

/// `"<count>-<FNV-1a 64 of the sorted, de-duplicated ids, hex>"`: short, stable across runs and
/// platforms, and not a secret (key ids are public).
pub fn key_ids_fingerprint<'a>(ids: impl IntoIterator<Item = &'a String>) -> String {
    let set: BTreeSet<&String> = ids.into_iter().collect();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for id in &set {
        for b in id.bytes().chain(core::iter::once(b'\n')) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{}-{h:016x}", set.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn full_store_loss_request() {
        let body = json!({
            "device_keys": {
                "algorithms": ["m.olm.v1.curve25519-aes-sha2"],
                "device_id": "DEV", "user_id": "@u:hs",
                "keys": {"curve25519:DEV": "curveKey", "ed25519:DEV": "edKey"},
                "signatures": {"@u:hs": {"ed25519:DEV": "sig"}}
            },
            "one_time_keys": {
                "signed_curve25519:AAAAAAAAAA0": {"key": "otk0", "signatures": {"@u:hs": {"ed25519:DEV": "s0"}}},
                "signed_curve25519:AAAAAAAAAA4": {"key": "otk1", "signatures": {"@u:hs": {"ed25519:DEV": "s1"}}}
            },
            "fallback_keys": {
                "signed_curve25519:AAAAAAAAABA": {"key": "fb", "fallback": true, "signatures": {}}
            }
        });
        let ParsedUpload::Comparable(r) = parse_upload_request(body.to_string().as_bytes()) else {
            panic!()
        };
        assert!(r.has_device_keys);
        assert_eq!(
            r.device_keys,
            Some(DeviceKeysSummary {
                user_id: "@u:hs".into(),
                device_id: "DEV".into(),
                ed25519: Some("edKey".into()),
                curve25519: Some("curveKey".into())
            })
        );
        assert_eq!(r.one_time_key_ids.len(), 2);
        assert!(r.fallback_key_ids.contains("signed_curve25519:AAAAAAAAABA"));
        assert_eq!(r.key_ids().len(), 3);
        assert_eq!(r.public_key("signed_curve25519:AAAAAAAAAA0"), Some("otk0"));
        assert_eq!(
            r.signed_key("signed_curve25519:AAAAAAAAABA")
                .unwrap()
                .fallback,
            Some(true)
        );
        assert_eq!(r.public_key("nope"), None);
        assert!(r.key_ids_fingerprint.starts_with("3-"));
        assert_eq!(r.key_ids_fingerprint.len(), 2 + 16);
    }

    #[test]
    fn fingerprint_is_order_independent_and_distinct() {
        let a = parse_upload_request(br#"{"one_time_keys":{"x:1":{"key":"a"},"x:2":{"key":"b"}}}"#);
        let b = parse_upload_request(br#"{"one_time_keys":{"x:2":{"key":"c"},"x:1":{"key":"d"}}}"#);
        let c = parse_upload_request(br#"{"one_time_keys":{"x:1":{"key":"a"}}}"#);
        let fp = |p: &ParsedUpload| p.request().unwrap().key_ids_fingerprint.clone();
        assert_eq!(fp(&a), fp(&b));
        assert_ne!(fp(&a), fp(&c));
        // Known value, so a platform change that alters it is caught.
        assert_eq!(key_ids_fingerprint(&[] as &[String]), "0-cbf29ce484222325");
    }

    #[test]
    fn odd_but_comparable() {
        let ParsedUpload::Comparable(r) = parse_upload_request(br#"{"device_keys": {"user_id": 5}, "one_time_keys": {"a:b": 7}, "fallback_keys": null}"#) else { panic!() };
        assert!(r.has_device_keys);
        assert_eq!(r.device_keys, None);
        assert!(r.one_time_key_ids.contains("a:b"));
        assert_eq!(r.public_key("a:b"), None);
        let ParsedUpload::Comparable(r) = parse_upload_request(br#"{"device_keys": null}"#) else {
            panic!()
        };
        assert!(!r.has_device_keys);
        assert!(r.has_no_keys());
        // legacy unsigned key: the value is the key
        let ParsedUpload::Comparable(r) =
            parse_upload_request(br#"{"one_time_keys": {"curve25519:A": "raw"}}"#)
        else {
            panic!()
        };
        assert_eq!(r.public_key("curve25519:A"), Some("raw"));
    }

    #[test]
    fn not_comparable() {
        for body in [
            &b""[..],
            b"not json",
            b"[1,2]",
            b"\xff\xfe",
            br#"{"one_time_keys": [1]}"#,
            br#"{"fallback_keys": "x"}"#,
            br#"{"one_time_keys": {"a:b": {"key": "x"}"#,
        ] {
            assert!(
                matches!(
                    parse_upload_request(body),
                    ParsedUpload::NotComparable { .. }
                ),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        let deep = "[".repeat(200_000);
        assert!(matches!(
            parse_upload_request(deep.as_bytes()),
            ParsedUpload::NotComparable { .. }
        ));
        let huge = vec![b' '; MAX_REQUEST_BYTES + 1];
        assert_eq!(
            parse_upload_request(&huge),
            ParsedUpload::NotComparable {
                reason: "request body too large".into()
            }
        );
    }

    #[test]
    fn json_shape() {
        let full = DeviceKeysSummary {
            user_id: "@u:hs".into(),
            device_id: "DEV".into(),
            ed25519: Some("ed".into()),
            curve25519: Some("curve".into()),
        };
        assert_eq!(
            serde_json::to_value(&full).unwrap(),
            json!({"userId": "@u:hs", "deviceId": "DEV", "ed25519": "ed", "curve25519": "curve"})
        );
    }
}
