//! Which divergence is behind a key-id conflict — a pure decision over evidence gathered elsewhere.
//!
//! The deciding fact is whether the server's *old* key was signed by this device's *current*
//! ed25519 key (checked by the forensics module with matrix-sdk-crypto):
//! * not signed by it: the key came from an earlier identity under the same device id — the
//!   crypto store was lost; the private halves are gone and only a new device fixes it;
//! * signed by it, different key material: one identity, two writers (two tabs, or an older copy
//!   of the store) handed out the same key id; repairable in place.
//!
//! Following the field runbook's decision tree (seeds/001, "Q1"): when the server's key and the
//! request's key are the *same* material there is no divergence at all; with a one-time-key count
//! of 0 on /sync that is OTK exhaustion, otherwise some other cause.

use crate::storm::conflict::Conflict;

/// The evidence for [`diagnose`].
#[derive(Debug, Clone, Copy)]
pub struct DiagnosisInput<'a> {
    pub conflict: &'a Conflict,
    /// This device's current ed25519 key: from the failing request's `device_keys`, or from
    /// `/keys/query` for our own device.
    pub current_ed25519: Option<&'a str>,
    /// Does the old key's signature verify against `current_ed25519`? None: not checked (yet).
    pub old_key_signature_valid: Option<bool>,
    /// `device_one_time_keys_count.signed_curve25519` last seen on /sync.
    pub server_otk_count: Option<u64>,
    /// Whether the failing request carried `device_keys` (a blank store re-announces them).
    pub request_had_device_keys: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, strum::IntoStaticStr)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Diagnosis {
    /// The old key was made by another identity: the store was lost; only a new device fixes it.
    IdentityReplaced { reason: String },
    /// Same identity, different key material under the same id: two writers.
    ConcurrentWriters { reason: String },
    /// No divergence in the keys themselves (exhaustion or another cause).
    ExhaustionOrOther { reason: String },
    /// Not enough evidence yet.
    Undetermined { reason: String },
}

impl Diagnosis {
    /// The JSON tag: `"identity-replaced"`, `"concurrent-writers"`, …
    pub fn kind(&self) -> &'static str {
        self.into()
    }

    pub fn reason(&self) -> &str {
        match self {
            Diagnosis::IdentityReplaced { reason }
            | Diagnosis::ConcurrentWriters { reason }
            | Diagnosis::ExhaustionOrOther { reason }
            | Diagnosis::Undetermined { reason } => reason,
        }
    }
}

pub fn diagnose(input: &DiagnosisInput<'_>) -> Diagnosis {
    let c = input.conflict;
    let id = c.key_id.as_deref().unwrap_or("(unnamed key)");

    if c.key_material_differs() == Some(false) {
        let reason = if input.server_otk_count == Some(0) {
            ["the server holds the same public key under ", id, " and reports 0 one-time keys: OTK exhaustion, not a store divergence"].concat()
        } else {
            ["the server holds the same public key under ", id, ": not a store divergence; the rejection has another cause"].concat()
        };
        return Diagnosis::ExhaustionOrOther { reason };
    }

    match input.old_key_signature_valid {
        Some(false) => {
            let mut reason = [
                "the server's key ",
                id,
                " is not signed by this device's current ed25519 key: the crypto store was lost and a new identity now uses the old device id; only a new device fixes it",
            ]
            .concat();
            if input.request_had_device_keys {
                reason.push_str(
                    " (the failing upload also re-announced device keys, as a blank store does)",
                );
            }
            Diagnosis::IdentityReplaced { reason }
        }
        Some(true) => {
            let mut reason = [
                "the server's key ",
                id,
                " is signed by this device's current ed25519 key but holds other key material: a second writer (another tab, or an older copy of the store) used the same key id",
            ]
            .concat();
            if c.new_key.is_none() {
                reason.push_str(" (the new key is not known: the failing request was unreadable or did not hold that key id)");
            }
            Diagnosis::ConcurrentWriters { reason }
        }
        None => {
            let mut reason = if c.old_key.is_none() {
                "the server's answer does not include the old key, so its signature cannot be checked".to_owned()
            } else if c.old_key.as_ref().is_some_and(|k| k.signatures.is_empty()) {
                ["the server's key ", id, " is an unsigned legacy key, so its origin cannot be checked"].concat()
            } else if input.current_ed25519.is_none() {
                "this device's current ed25519 key is not known yet (no device_keys in the request; ask /keys/query)".to_owned()
            } else {
                ["the signature of the server's key ", id, " has not been checked yet"].concat()
            };
            if input.request_had_device_keys {
                reason.push_str(
                    "; the failing upload re-announced device keys, which points to a lost store",
                );
            }
            if input.server_otk_count == Some(0) {
                reason.push_str("; /sync reports 0 one-time keys on the server");
            }
            Diagnosis::Undetermined { reason }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storm::conflict::{classify_upload_answer, UploadAnswer};
    use crate::storm::upload::parse_upload_request;

    /// A Synapse conflict on `signed_curve25519:AAAAAAAAAA0` whose server holds `old`, its new key
    /// taken from a request that sent `new` under that id (as the storm watch does).
    fn synapse_conflict(old: &str, new: &str) -> Conflict {
        let mut c = synapse_answer(old, new);
        let request = serde_json::json!({"one_time_keys": {"signed_curve25519:AAAAAAAAAA0":
            {"key": new, "signatures": {"@u:hs": {"ed25519:DEV": "t"}}}}});
        c.fill_new_key_from(parse_upload_request(request.to_string().as_bytes()).request().unwrap());
        c
    }

    /// The answer alone (the new key not filled in).
    fn synapse_answer(old: &str, new: &str) -> Conflict {
        let msg = format!(
            "One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {{\"key\":\"{old}\",\"signatures\":{{\"@u:hs\":{{\"ed25519:DEV\":\"s\"}}}}}}; new key: {{'key': '{new}', 'signatures': {{'@u:hs': {{'ed25519:DEV': 't'}}}}}}"
        );
        let body = serde_json::json!({"errcode": "M_UNKNOWN", "error": msg}).to_string();
        match classify_upload_answer(400, body.as_bytes(), true) {
            UploadAnswer::Conflict(c) => c,
            other => panic!("{other:?}"),
        }
    }

    fn input(c: &Conflict, valid: Option<bool>) -> DiagnosisInput<'_> {
        DiagnosisInput {
            conflict: c,
            current_ed25519: Some("ed"),
            old_key_signature_valid: valid,
            server_otk_count: Some(50),
            request_had_device_keys: false,
        }
    }

    #[test]
    fn the_three_verdicts() {
        let c = synapse_conflict("A", "B");
        assert_eq!(
            diagnose(&input(&c, Some(false))).kind(),
            "identity-replaced"
        );
        assert_eq!(
            diagnose(&input(&c, Some(true))).kind(),
            "concurrent-writers"
        );
        assert_eq!(diagnose(&input(&c, None)).kind(), "undetermined");
        let same = synapse_conflict("A", "A");
        assert_eq!(
            diagnose(&input(&same, Some(true))).kind(),
            "exhaustion-or-other"
        );
        let exhausted = DiagnosisInput {
            server_otk_count: Some(0),
            ..input(&same, None)
        };
        assert!(diagnose(&exhausted).reason().contains("exhaustion"));
        // Without the new key (the answer alone) the same public keys cannot be seen: the signature
        // decides, and the reason says what is missing.
        let unknown_new = synapse_answer("A", "A");
        assert_eq!(unknown_new.key_material_differs(), None);
        let d = diagnose(&input(&unknown_new, Some(true)));
        assert_eq!(d.kind(), "concurrent-writers");
        assert!(d.reason().contains("the new key is not known"), "{}", d.reason());
        assert!(!diagnose(&input(&c, Some(true))).reason().contains("not known"));
    }

    #[test]
    fn reasons_say_why() {
        let c = synapse_conflict("A", "B");
        let d = diagnose(&DiagnosisInput {
            request_had_device_keys: true,
            ..input(&c, Some(false))
        });
        assert!(d.reason().contains("signed_curve25519:AAAAAAAAAA0"));
        assert!(d.reason().contains("re-announced device keys"));
        let d = diagnose(&DiagnosisInput {
            current_ed25519: None,
            ..input(&c, None)
        });
        assert!(d.reason().contains("not known yet"));
        let mut no_old = c.clone();
        no_old.old_key = None;
        assert!(diagnose(&input(&no_old, None))
            .reason()
            .contains("does not include the old key"));
    }

    #[test]
    fn serialises_kebab_case() {
        let c = synapse_conflict("A", "B");
        let v = serde_json::to_value(&diagnose(&input(&c, Some(false)))).unwrap();
        assert_eq!(v["kind"], "identity-replaced");
        assert!(v["reason"].as_str().unwrap().contains("new device"));
    }
}
