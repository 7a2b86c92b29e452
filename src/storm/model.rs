//! Storm watch: the one object the API layer talks to about keys/upload.
//!
//! It ties the pieces together — read the request ([`crate::storm::upload`]), ask the [`Breaker`], classify
//! the answer ([`crate::storm::conflict`]), remember the last conflict, decide the cause ([`crate::diagnosis::model`])
//! — and turns every state change into a named event (`storm`, `breaker-open`, `breaker-probe`,
//! `breaker-closed`, `diagnosis`) with a serialisable detail. Pure: the clock is passed in.

use crate::storm::breaker::{Breaker, BreakerConfig, BreakerEvent, BreakerSnapshot, Decision, ObservedAnswer};
use crate::storm::conflict::{classify_upload_answer, Conflict, UploadAnswer};
use crate::diagnosis::model::{diagnose, Diagnosis, DiagnosisInput};
use serde_json::Value;
use crate::storm::otk_health::{OtkFinding, OtkHealth, OtkHealthState};
use crate::storm::upload::{parse_upload_request, ParsedUpload, UploadRequest};

/// An event detail: the model value's JSON (its serde shape).
fn to_value(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

#[derive(Debug, Clone, Copy)]
pub struct StormConfig {
    pub breaker: BreakerConfig,
    /// Local answers to the guarded request come at most this often (default 250 ms): each is the server's
    /// own answer, only later. matrix-js-sdk 40.0.0 re-sends a failing upload as soon as its answer comes;
    /// answered at once, its loop would spin as fast as the page can run it (the server itself paced it at
    /// its round trip). An SDK that retries once per sync is barely touched.
    pub replay_spacing_ms: f64,
}

impl Default for StormConfig {
    fn default() -> Self {
        StormConfig { breaker: BreakerConfig::default(), replay_spacing_ms: 250.0 }
    }
}

/// One event for the host: `type` is the DOM event name, `detail` its payload.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GuardianEvent {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub detail: Value,
}

/// What to do with an upload, for the fetch tap.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum UploadDecision {
    #[serde(rename = "pass")]
    Pass,
    #[serde(rename = "probe")]
    Probe,
    /// The server's own last answer, byte for byte (a `Uint8Array` on the JS side).
    #[serde(rename = "replay")]
    Replay {
        status: u16,
        body: Vec<u8>,
        /// Wait this long before answering (see [`StormConfig::replay_spacing_ms`]); 0 for the first.
        #[serde(rename = "delayMs")]
        delay_ms: f64,
    },
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeforeUpload {
    pub decision: UploadDecision,
    pub events: Vec<GuardianEvent>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AfterUpload {
    pub events: Vec<GuardianEvent>,
    /// A conflict that has not been diagnosed yet: the JS layer should gather the evidence.
    pub needs_diagnosis: bool,
}

/// The evidence the JS layer fetches for a diagnosis (the old key is checked by the forensics module).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosisNeeds {
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    /// The server's old key object as JSON, for the signature check.
    pub old_key_json: Option<String>,
    /// The device's current ed25519 key when the failing request announced it (a blank store does).
    pub current_ed25519: Option<String>,
}

/// `guardian.storm()` and the detail of `storm` / `diagnosis`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StormState {
    pub active: bool,
    pub key_ids: Vec<String>,
    pub diagnosis: DiagnosisView,
    pub breaker: BreakerSnapshot,
    pub first_seen: Option<f64>,
    /// Conflict answers the host saw: from the server plus local replays.
    pub count: u64,
    pub conflict: Option<Conflict>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DiagnosisView {
    pub kind: &'static str,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct StormWatch {
    breaker: Breaker,
    first_seen: Option<f64>,
    last_conflict: Option<Conflict>,
    /// The request the last conflict answered (its device_keys tell the current identity).
    failing_request: Option<UploadRequest>,
    diagnosis: Option<Diagnosis>,
    diagnosis_pending: bool,
    /// `signed_curve25519` count from the last accepted upload.
    server_otk_count: Option<u64>,
    /// The breaker closed after the last conflict: the storm is over (until a new conflict).
    ended: bool,
    /// One-time-key health beyond the conflict: inflation and the server's cap.
    otk: OtkHealth,
    replay_spacing_ms: f64,
    /// No local answer is given before this time (see [`StormConfig::replay_spacing_ms`]).
    next_replay_at: f64,
}

impl StormWatch {
    pub fn new(config: StormConfig) -> Self {
        StormWatch {
            breaker: Breaker::new(config.breaker),
            first_seen: None,
            last_conflict: None,
            failing_request: None,
            diagnosis: None,
            diagnosis_pending: false,
            server_otk_count: None,
            ended: false,
            otk: OtkHealth::default(),
            replay_spacing_ms: if config.replay_spacing_ms.is_finite() { config.replay_spacing_ms.clamp(0.0, 10_000.0) } else { 250.0 },
            next_replay_at: f64::NEG_INFINITY,
        }
    }

    pub fn before_upload(&mut self, request_body: &str, now_ms: f64) -> BeforeUpload {
        let request = parse_upload_request(request_body.as_bytes());
        let step = self.breaker.decide(now_ms, &request);
        let decision = match step.decision {
            Decision::PassThrough => UploadDecision::Pass,
            Decision::Probe => UploadDecision::Probe,
            Decision::Replay { status, body } => {
                // Spaced, never dropped: every repeat gets its answer, the next one no sooner than the spacing.
                let now = if now_ms.is_finite() { now_ms } else { self.next_replay_at.max(0.0) };
                // A clock that jumped back must not postpone an answer beyond one spacing.
                let at = self.next_replay_at.max(now).min(now + self.replay_spacing_ms);
                self.next_replay_at = at + self.replay_spacing_ms;
                UploadDecision::Replay { status, body, delay_ms: at - now }
            }
        };
        if matches!(step.event, Some(BreakerEvent::Closed { .. })) {
            self.ended = true;
        }
        BeforeUpload { decision, events: step.event.map(|e| self.breaker_event(e)).into_iter().collect() }
    }

    pub fn after_upload(&mut self, request_body: &str, status: u16, body: &[u8], complete: bool, now_ms: f64) -> AfterUpload {
        let request = parse_upload_request(request_body.as_bytes());
        let mut answer = classify_upload_answer(status, body, complete);
        // The answer names the key id and (Synapse) the old key; the new key is the one this request
        // holds under that id. Filled before anything stores or reads the conflict.
        if let (UploadAnswer::Conflict(conflict), ParsedUpload::Comparable(sent)) = (&mut answer, &request) {
            conflict.fill_new_key_from(sent);
        }
        let seen = ObservedAnswer { status, body, body_complete: complete, answer: &answer };
        let breaker_event = self.breaker.on_answer(now_ms, &request, &seen);
        if matches!(breaker_event, Some(BreakerEvent::Closed { .. })) {
            self.ended = true;
        }
        let mut events = Vec::new();
        let mut needs_diagnosis = false;
        match &answer {
            UploadAnswer::Accepted { one_time_key_counts } => {
                if let Some(n) = one_time_key_counts.get("signed_curve25519") {
                    self.server_otk_count = Some(*n);
                }
                let uploaded = request.request().map_or(0, |r| r.one_time_key_ids.len() as u64);
                if let Some(finding) = self.otk.on_accepted(now_ms, uploaded, one_time_key_counts) {
                    events.push(self.otk_event(finding));
                }
            }
            UploadAnswer::OtkLimit(limit) => {
                if let Some(finding) = self.otk.on_limit(now_ms, limit) {
                    events.push(self.otk_event(finding));
                }
            }
            UploadAnswer::Conflict(conflict) => {
                self.ended = false;
                let first = self.first_seen.is_none();
                self.first_seen.get_or_insert(now_ms);
                let new_key_id = self.last_conflict.as_ref().map(|c| &c.key_id) != Some(&conflict.key_id);
                if new_key_id {
                    self.diagnosis = None;
                }
                self.last_conflict = Some(conflict.clone());
                if let ParsedUpload::Comparable(r) = &request {
                    self.failing_request = Some(r.clone());
                }
                if self.diagnosis.is_none() && !self.diagnosis_pending {
                    self.diagnosis_pending = true;
                    needs_diagnosis = true;
                }
                // The storm starts at the first conflict, even one we could not replay.
                let opened = matches!(breaker_event, Some(BreakerEvent::Opened { .. }));
                if first || opened {
                    events.push(GuardianEvent { kind: "storm", detail: to_value(&self.state()) });
                }
            }
            _ => {}
        }
        if let Some(e) = breaker_event {
            events.insert(0, self.breaker_event(e));
        }
        AfterUpload { events, needs_diagnosis }
    }

    pub fn upload_failed(&mut self, request_body: &str, _reason: &str, now_ms: f64) -> AfterUpload {
        let request = parse_upload_request(request_body.as_bytes());
        let events = self.breaker.on_network_failure(now_ms, &request).map(|e| self.breaker_event(e)).into_iter().collect();
        AfterUpload { events, needs_diagnosis: false }
    }

    pub fn diagnosis_input(&self) -> Option<DiagnosisNeeds> {
        let conflict = self.last_conflict.as_ref()?;
        let announced = self.failing_request.as_ref().and_then(|r| r.device_keys.as_ref());
        Some(DiagnosisNeeds {
            user_id: conflict.signer_user_id.clone().or_else(|| announced.map(|d| d.user_id.clone())),
            device_id: conflict.signer_device_id.clone().or_else(|| announced.map(|d| d.device_id.clone())),
            old_key_json: conflict.old_key.as_ref().map(|k| k.raw.to_string()),
            current_ed25519: announced.and_then(|d| d.ed25519.clone()),
        })
    }

    /// Records the forensics verdict on the old key (`"valid"`, `"invalid"`, `"no-signature"`,
    /// `"malformed: …"`, or none) and decides the cause. Emits `diagnosis`.
    pub fn diagnose(&mut self, verdict: Option<&str>, current_ed25519: Option<&str>, _now_ms: f64) -> AfterUpload {
        self.diagnosis_pending = false;
        let Some(conflict) = self.last_conflict.as_ref() else {
            return AfterUpload { events: Vec::new(), needs_diagnosis: false };
        };
        let old_key_signature_valid = match verdict {
            Some("valid") => Some(true),
            Some("invalid") => Some(false),
            // No signature by this device, or an unreadable key: the check says nothing.
            _ => None,
        };
        let input = DiagnosisInput {
            conflict,
            current_ed25519,
            old_key_signature_valid,
            server_otk_count: self.server_otk_count,
            request_had_device_keys: self.failing_request.as_ref().is_some_and(|r| r.has_device_keys),
        };
        self.diagnosis = Some(diagnose(&input));
        AfterUpload { events: vec![GuardianEvent { kind: "diagnosis", detail: to_value(&self.state()) }], needs_diagnosis: false }
    }

    /// The next identical upload goes through as a probe now (a remedy drained the stale keys).
    pub fn request_probe(&mut self, now_ms: f64) {
        self.breaker.request_probe(now_ms);
    }

    pub fn state(&self) -> StormState {
        let breaker = self.breaker.snapshot();
        let diagnosis = match (&self.diagnosis, &self.last_conflict) {
            (Some(d), _) => DiagnosisView { kind: d.kind(), reason: d.reason().to_owned() },
            (None, Some(_)) => DiagnosisView { kind: "pending", reason: "the cause is being checked".into() },
            (None, None) => DiagnosisView { kind: "undetermined", reason: "no conflict seen".into() },
        };
        let key_ids = if breaker.failing_key_ids.is_empty() {
            self.last_conflict.iter().filter_map(|c| c.key_id.clone()).collect()
        } else {
            breaker.failing_key_ids.clone()
        };
        StormState {
            active: self.first_seen.is_some() && !self.ended,
            key_ids,
            diagnosis,
            count: breaker.server_conflicts + breaker.local_answers,
            breaker,
            first_seen: self.first_seen,
            conflict: self.last_conflict.clone(),
        }
    }

    /// `guardian.otkHealth()`: inflation and the server's cap, with their figures.
    pub fn otk_health(&self) -> OtkHealthState {
        self.otk.state()
    }

    /// `otk-inflation` / `otk-limit`: the finding with its figures, plus the breaker (which stops the loop
    /// at the cap).
    fn otk_event(&self, finding: OtkFinding) -> GuardianEvent {
        let mut detail = to_value(&self.otk.state());
        if let Value::Object(map) = &mut detail {
            map.insert("breaker".into(), to_value(&self.breaker.snapshot()));
        }
        GuardianEvent { kind: finding.as_str(), detail }
    }

    /// A breaker event as a DOM event: its own fields plus the breaker snapshot after it.
    fn breaker_event(&self, event: BreakerEvent) -> GuardianEvent {
        let kind = match event {
            BreakerEvent::Opened { .. } | BreakerEvent::Reopened { .. } => "breaker-open",
            BreakerEvent::Probe { .. } => "breaker-probe",
            BreakerEvent::Closed { .. } => "breaker-closed",
        };
        let mut detail = to_value(&event);
        if let Value::Object(map) = &mut detail {
            map.insert("breaker".into(), to_value(&self.breaker.snapshot()));
        }
        GuardianEvent { kind, detail }
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = r#"{"device_keys":{"user_id":"@u:hs","device_id":"DEV","keys":{"ed25519:DEV":"edKey"}},"one_time_keys":{"signed_curve25519:AAAAAAAAAA0":{"key":"b","signatures":{"@u:hs":{"ed25519:DEV":"t"}}}}}"#;
    const CONFLICT: &[u8] = br#"{"errcode":"M_UNKNOWN","error":"One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"a\",\"signatures\":{\"@u:hs\":{\"ed25519:DEV\":\"s\"}}}; new key: {'key': 'b', 'signatures': {'@u:hs': {'ed25519:DEV': 't'}}}"}"#;

    #[test]
    fn json_shape() {
        let mut w = StormWatch::new(StormConfig::default());
        // Nothing seen yet: no conflict, no first-seen time, a closed breaker.
        let pass = w.before_upload(REQUEST, 1_000.0);
        assert_eq!(pass.decision, UploadDecision::Pass);
        // The conflict: breaker-open (with its snapshot) and storm events.
        let after = w.after_upload(REQUEST, 400, CONFLICT, true, 1_500.5);
        assert!(after.needs_diagnosis);
        assert_eq!(after.events.len(), 2);
        let replay = w.before_upload(REQUEST, 2_000.0);
        assert!(matches!(replay.decision, UploadDecision::Replay { status: 400, .. }));
        let probe = w.before_upload(REQUEST, 1_000_000.0);
        assert_eq!(probe.decision, UploadDecision::Probe);
        w.request_probe(1_000_002.0);
        w.before_upload(REQUEST, 1_000_003.0);
        let closed = w.after_upload(REQUEST, 200, br#"{"one_time_key_counts":{"signed_curve25519":0}}"#, true, 1_000_004.25);
        assert_eq!(serde_json::to_value(&closed).unwrap()["events"][0]["type"], "breaker-closed");
        // The shapes themselves, as the JS layer reads them.
        let v = serde_json::to_value(&replay).unwrap();
        assert_eq!(v["decision"]["action"], "replay");
        assert_eq!(v["decision"]["body"][0], u64::from(b'{'));
        let v = serde_json::to_value(&after).unwrap();
        assert_eq!(v["needsDiagnosis"], true);
        assert_eq!(v["events"][0]["type"], "breaker-open");
        assert_eq!(v["events"][0]["detail"]["type"], "opened");
        assert_eq!(v["events"][0]["detail"]["breaker"]["state"], "open");
        assert_eq!(v["events"][1]["type"], "storm");
        assert_eq!(v["events"][1]["detail"]["conflict"]["oldKey"], "a");
        // The new key is the request's, not read from the answer's repr.
        assert_eq!(v["events"][1]["detail"]["conflict"]["newKey"], "b");
        assert_eq!(v["events"][1]["detail"]["conflict"]["detailsKnown"], true);
        assert_eq!(v["events"][1]["detail"]["diagnosis"]["kind"], "pending");
        assert_eq!(v["events"][1]["detail"]["firstSeen"], 1_500.5);
    }
}
