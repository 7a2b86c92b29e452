//! The storm watch's `#[wasm_bindgen]` surface (`GuardianCore`), in the lazily loaded watch module: the JS
//! fetch tap loads it with the first keys/upload and calls it for every one after.
//!
//! It holds the model's state and translates between JS values and model types; it decides nothing
//! itself. Values cross typed: the upload verdict as an exported class, the rest as the plain objects
//! serde-wasm-bindgen makes of the model's serde shapes (`crate::to_js`). Every call is total: a bad
//! input comes back as a value, never as a panic (a panic traps, which would take the guardian down with
//! the host's upload waiting on it); the JS layer catches what throws and steps aside.

use serde::Deserialize;
use wasm_bindgen::prelude::*;

use crate::storm::model::{StormConfig, StormWatch, UploadDecision};
use crate::to_js;

/// `new GuardianCore(options)`: `{ probeAfterMs?, maxProbeAfterMs? }` (other members ignored).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct CoreOptions {
    probe_after_ms: Option<f64>,
    max_probe_after_ms: Option<f64>,
}

/// An options object as its typed form; `undefined`/`null` is the defaults. Only the known members are
/// read (others, even a cycle, are ignored).
pub(crate) fn options<T: for<'de> Deserialize<'de> + Default>(value: JsValue) -> Result<T, JsError> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    serde_wasm_bindgen::from_value(value).map_err(|e| JsError::new(&e.to_string()))
}

// The shapes of the plain objects this surface returns (the model's serde shapes), for the generated .d.ts;
// js/index.d.ts re-exports those the npm API hands out.
#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r##"
/** A guardian event: `type` is the DOM event name, `detail` its payload. */
export interface GuardianEvent { type: string; detail: any }
/** `afterUpload` / `uploadFailed` / `diagnose`. */
export interface AfterUpload { events: GuardianEvent[]; needsDiagnosis: boolean }
/** What the JS layer fetches for a diagnosis. */
export interface DiagnosisNeeds { userId: string | null; deviceId: string | null; oldKeyJson: string | null; currentEd25519: string | null }
export type OtkHealthKind = "healthy" | "otk-inflation" | "otk-limit";
/** The figures behind `guardian.otkHealth()` (docs/diagnostics.md). */
export interface OtkFigures {
  /** Accepted keys/upload requests that carried one-time keys, and the keys in them. */
  acceptedUploads: number;
  keysUploaded: number;
  firstUploadAt: number | null;
  lastUploadAt: number | null;
  uploadsPerHour: number | null;
  /** signed_curve25519 keys the server holds for this device (its last answer). */
  serverCount: number | null;
  peakServerCount: number | null;
  /** Keys a healthy SDK keeps on the server (50) and private halves the device keeps (about 100). */
  sdkTarget: number;
  deviceCapacity: number;
  /** The server's cap and what it held when it refused (Synapse: 500). */
  limit: number | null;
  heldAtLimit: number | null;
  limitRejections: number;
}
/** `guardian.otkHealth()` and the detail of the "otk-inflation" / "otk-limit" events (those add `breaker`). */
export interface OtkHealth {
  kind: OtkHealthKind;
  reason: string;
  since: number | null;
  figures: OtkFigures;
}
export type BreakerStateName = "closed" | "open" | "probing";
/** The circuit breaker on the keys/upload loop, as `guardian.storm().breaker` and in events. */
export interface BreakerSnapshot {
  state: BreakerStateName;
  /** One-time/fallback key ids of the upload the server rejects (e.g. "signed_curve25519:AAAAAAAAAA0"). */
  failingKeyIds: string[];
  /** What keeps that upload failing: the key-id conflict or the server's one-time-key cap (null while closed). */
  cause: "conflict" | "otk-limit" | null;
  /** When the breaker opened (ms since the epoch), or null. */
  since: number | null;
  /** When the next real request will be let through as a probe, or null. */
  nextProbeAt: number | null;
  backoffMs: number | null;
  /** Refusals the server sent that keep an upload failing (conflicts and the one-time-key cap). */
  serverConflicts: number;
  /** Uploads answered locally with the server's own last 400 while open. */
  localAnswers: number;
  probes: number;
}
export type DiagnosisKind = "pending" | "identity-replaced" | "concurrent-writers" | "exhaustion-or-other" | "undetermined";
export interface Diagnosis {
  kind: DiagnosisKind;
  /** One sentence on why, in plain words. */
  reason: string;
}
/** `guardian.storm()` and the detail of the "storm" event. */
export interface StormState {
  /** True once a keys/upload conflict has been seen in this page. */
  active: boolean;
  keyIds: string[];
  diagnosis: Diagnosis;
  breaker: BreakerSnapshot;
  /** First conflict seen (ms since the epoch), or null. */
  firstSeen: number | null;
  /** Conflicting answers seen: from the server plus local replays. */
  count: number;
  /** The last conflict: read from the server's answer, its new key from the failing request. */
  conflict: ConflictSummary | null;
}
/** A conflict's JSON (`Conflict` in src/storm/conflict.rs): public keys only, no raw JSON, no server text. */
export interface ConflictSummary {
  kind: "one-time-key" | "fallback-key";
  algorithm: string | null;
  keyId: string | null;
  /** The public key the server holds under `keyId`, as its answer shows it (Synapse does). */
  oldKey: string | null;
  /** The public key the failing keys/upload request holds under `keyId` (null if it holds none). */
  newKey: string | null;
  signerUserId: string | null;
  signerDeviceId: string | null;
  /** Key id and old key from the answer, new key from the request: all three known. */
  detailsKnown: boolean;
  homeserver: string;
}
"##;

/// What the fetch tap does with a keys/upload (`action`), with the server's own last answer for a replay.
#[wasm_bindgen]
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum UploadAction {
    Pass = "pass",
    Probe = "probe",
    Replay = "replay",
}

/// `beforeUpload`'s verdict: the action, the replayed answer (status, bytes, delay) and the events.
#[wasm_bindgen]
pub struct UploadVerdict {
    action: UploadAction,
    status: Option<u16>,
    body: Option<Vec<u8>>,
    delay_ms: f64,
    events: JsValue,
}

#[wasm_bindgen]
impl UploadVerdict {
    #[wasm_bindgen(getter)]
    pub fn action(&self) -> UploadAction {
        self.action
    }
    /// The replayed answer's status (a replay only).
    #[wasm_bindgen(getter)]
    pub fn status(&self) -> Option<u16> {
        self.status
    }
    /// The server's own last answer, byte for byte (a replay only).
    #[wasm_bindgen(getter)]
    pub fn body(&self) -> Option<js_sys::Uint8Array> {
        self.body.as_deref().map(js_sys::Uint8Array::from)
    }
    /// Wait this long before answering (a replay; 0 otherwise).
    #[wasm_bindgen(getter = delayMs)]
    pub fn delay_ms(&self) -> f64 {
        self.delay_ms
    }
    #[wasm_bindgen(getter, unchecked_return_type = "GuardianEvent[]")]
    pub fn events(&self) -> JsValue {
        self.events.clone()
    }
}

#[wasm_bindgen]
pub struct GuardianCore {
    storm: StormWatch,
}

#[wasm_bindgen]
impl GuardianCore {
    /// `options`: `{ probeAfterMs?, maxProbeAfterMs? }`. Throws on options of the wrong types.
    #[wasm_bindgen(constructor)]
    pub fn new(#[wasm_bindgen(unchecked_param_type = "{ probeAfterMs?: number, maxProbeAfterMs?: number } | undefined")] options: JsValue) -> Result<GuardianCore, JsError> {
        let options: CoreOptions = self::options(options)?;
        let mut config = StormConfig::default();
        if let Some(ms) = options.probe_after_ms {
            config.breaker.initial_backoff_ms = ms;
        }
        if let Some(ms) = options.max_probe_after_ms {
            config.breaker.max_backoff_ms = ms;
        }
        Ok(GuardianCore { storm: StormWatch::new(config) })
    }

    /// Decide about an outgoing keys/upload.
    #[wasm_bindgen(js_name = beforeUpload)]
    pub fn before_upload(&mut self, request_body: &str, now_ms: f64) -> UploadVerdict {
        let out = self.storm.before_upload(request_body, now_ms);
        let events = to_js(&out.events);
        match out.decision {
            UploadDecision::Pass => UploadVerdict { action: UploadAction::Pass, status: None, body: None, delay_ms: 0.0, events },
            UploadDecision::Probe => UploadVerdict { action: UploadAction::Probe, status: None, body: None, delay_ms: 0.0, events },
            UploadDecision::Replay { status, body, delay_ms } => {
                UploadVerdict { action: UploadAction::Replay, status: Some(status), body: Some(body), delay_ms, events }
            }
        }
    }

    /// Learn from the server's answer to a keys/upload.
    #[wasm_bindgen(js_name = afterUpload, unchecked_return_type = "AfterUpload")]
    pub fn after_upload(&mut self, request_body: &str, status: u16, body: &[u8], complete: bool, now_ms: f64) -> JsValue {
        to_js(&self.storm.after_upload(request_body, status, body, complete, now_ms))
    }

    /// The upload did not reach the server or got no answer (network error, abort).
    #[wasm_bindgen(js_name = uploadFailed, unchecked_return_type = "AfterUpload")]
    pub fn upload_failed(&mut self, request_body: &str, reason: &str, now_ms: f64) -> JsValue {
        to_js(&self.storm.upload_failed(request_body, reason, now_ms))
    }

    /// What the JS layer must fetch for a diagnosis, or `null` when none is needed.
    #[wasm_bindgen(js_name = diagnosisInput, unchecked_return_type = "DiagnosisNeeds | null")]
    pub fn diagnosis_input(&self) -> JsValue {
        to_js(&self.storm.diagnosis_input())
    }

    /// Record the forensics verdict on the old key (`"valid"`, `"invalid"`, …) and decide the cause.
    #[wasm_bindgen(unchecked_return_type = "AfterUpload")]
    pub fn diagnose(&mut self, verdict: Option<String>, current_ed25519: Option<String>, now_ms: f64) -> JsValue {
        to_js(&self.storm.diagnose(verdict.as_deref(), current_ed25519.as_deref(), now_ms))
    }

    /// The device's ed25519 key from a `/keys/query` answer, or `undefined`.
    #[wasm_bindgen(js_name = ed25519FromKeysQuery)]
    pub fn ed25519_from_keys_query(&self, status: u16, body: &[u8], user_id: &str, device_id: &str) -> Option<String> {
        crate::diagnosis::keys_query::device_ed25519(status, body, user_id, device_id)
    }

    /// Lets the next identical upload through as a probe now (after a repair drained the stale keys).
    #[wasm_bindgen(js_name = requestProbe)]
    pub fn request_probe(&mut self, now_ms: f64) {
        self.storm.request_probe(now_ms);
    }

    /// The storm state (`guardian.storm()`): `{ active, keyIds, diagnosis, breaker, firstSeen, count, conflict }`.
    #[wasm_bindgen(unchecked_return_type = "StormState")]
    pub fn storm(&self) -> JsValue {
        to_js(&self.storm.state())
    }

    /// One-time-key health beyond the conflict (`guardian.otkHealth()`): `{ kind, reason, since, figures }`.
    #[wasm_bindgen(js_name = otkHealth, unchecked_return_type = "OtkHealth")]
    pub fn otk_health(&self) -> JsValue {
        to_js(&self.storm.otk_health())
    }
}
