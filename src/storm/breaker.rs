//! The storm detector and circuit breaker for keys/upload.
//!
//! A pure state machine: the fetch tap asks [`Breaker::decide`] before sending a keys/upload,
//! and reports the answer with [`Breaker::on_answer`] (or [`Breaker::on_network_failure`]). The
//! clock is passed in (`now_ms`, e.g. `Date.now()`), so tests drive time directly.
//!
//! ```text
//!            conflict (400 read whole)                   probe due: Decision::Probe
//!   Closed ───────────────────────────▶ Open ─────────────────────────────────────▶ Probing
//!     ▲                                  │ ▲ identical request: Decision::Replay       │
//!     │      2xx for the failing ids     │ │ (the server's own last 400, byte for byte) │
//!     └──────────────────────────────────┘ └────────────────────────────────────────────┘
//!                                            conflict: backoff doubles (cap 30 min)
//!                                            other error / network failure / lost probe:
//!                                            same backoff
//! ```
//!
//! Design choices:
//! * We only ever replay what the server itself said, and only if we read it whole. A conflict
//!   whose body was cut is counted but does not open the breaker.
//! * A request whose key-id set differs from the failing one always goes to the server: only the
//!   known-bad request is answered locally.
//! * A probe that fails with something other than a conflict (502, 429, offline) keeps the
//!   current backoff rather than doubling it: it says nothing about whether the conflict is still
//!   there, and doubling would let transient outages push the next real check out to 30 min. The
//!   load stays bounded at one request per backoff either way.
//! * A probe whose answer never comes (the tab aborted the fetch) is declared lost after
//!   `probe_timeout_ms`, so the breaker cannot wedge in Probing.

use std::collections::BTreeSet;

use crate::storm::conflict::{LoopCause, UploadAnswer};
use crate::storm::upload::{key_ids_fingerprint, ParsedUpload, UploadRequest};

/// Bodies larger than this are not kept for replay (a Synapse conflict is < 1 KB).
pub const MAX_REPLAY_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// First wait before a probe. Default 1 min.
    pub initial_backoff_ms: f64,
    /// Backoff cap. Default 30 min.
    pub max_backoff_ms: f64,
    /// A probe without an answer after this long counts as failed. Default 2 min.
    pub probe_timeout_ms: f64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            initial_backoff_ms: 60_000.0,
            max_backoff_ms: 1_800_000.0,
            probe_timeout_ms: 120_000.0,
        }
    }
}

impl BreakerConfig {
    /// Replaces nonsense (non-finite, non-positive, cap below start) with defaults.
    fn sanitized(self) -> Self {
        let d = BreakerConfig::default();
        let pos = |v: f64, def: f64| if v.is_finite() && v > 0.0 { v } else { def };
        let initial = pos(self.initial_backoff_ms, d.initial_backoff_ms);
        BreakerConfig {
            initial_backoff_ms: initial,
            max_backoff_ms: pos(self.max_backoff_ms, d.max_backoff_ms).max(initial),
            probe_timeout_ms: pos(self.probe_timeout_ms, d.probe_timeout_ms),
        }
    }
}

/// What to do with one keys/upload request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send it to the server as usual.
    PassThrough,
    /// Answer locally with the server's last conflict answer.
    Replay { status: u16, body: Vec<u8> },
    /// Send it: this one real request checks whether the conflict is still there.
    Probe,
}

/// Why the breaker closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum CloseReason {
    /// The probe came back 2xx.
    ProbeAccepted,
    /// A request with the failing ids came back 2xx without being a probe (sent before opening).
    RequestAccepted,
    /// [`Breaker::reset`] (e.g. after a remedy or sign-out).
    Reset,
}

impl CloseReason {
    /// The JSON name: `"probe-accepted"` | `"request-accepted"` | `"reset"`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Why the breaker went back to Open from Probing (or changed target while open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum ReopenReason {
    /// The probe met the conflict again: backoff doubled.
    ProbeConflict,
    /// The probe met another error or a network failure: same backoff.
    ProbeFailed,
    /// No answer to the probe within `probe_timeout_ms`: same backoff.
    ProbeLost,
    /// A request with *other* key ids met a conflict: that request is now the one answered locally.
    FailingRequestChanged,
}

impl ReopenReason {
    /// The JSON name: `"probe-conflict"` | `"probe-failed"` | `"probe-lost"` |
    /// `"failing-request-changed"`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A state change, for the API layer to turn into DOM events and journal entries.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum BreakerEvent {
    Opened {
        at: f64,
        failing_key_ids: Vec<String>,
        fingerprint: String,
        /// The id the server named, if it named one.
        conflict_key_id: Option<String>,
        /// What keeps the request failing: the key-id conflict or the server's one-time-key cap.
        cause: LoopCause,
        backoff_ms: f64,
        next_probe_at: f64,
    },
    Probe {
        at: f64,
        fingerprint: String,
        /// 1 for the first probe of this episode.
        attempt: u64,
        open_since: f64,
    },
    Closed {
        at: f64,
        fingerprint: String,
        open_for_ms: f64,
        /// Requests answered locally during this episode.
        local_answers: u64,
        reason: CloseReason,
    },
    Reopened {
        at: f64,
        failing_key_ids: Vec<String>,
        fingerprint: String,
        reason: ReopenReason,
        backoff_ms: f64,
        next_probe_at: f64,
    },
}

/// The result of [`Breaker::decide`].
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub decision: Decision,
    pub event: Option<BreakerEvent>,
}

/// What the server answered, as the fetch tap saw it.
#[derive(Debug, Clone, Copy)]
pub struct ObservedAnswer<'a> {
    pub status: u16,
    /// The bytes read (exactly as received; replayed verbatim).
    pub body: &'a [u8],
    /// False when the read stopped before the end.
    pub body_complete: bool,
    /// [`crate::storm::conflict::classify_upload_answer`] of the above.
    pub answer: &'a UploadAnswer,
}

/// One open episode: what fails, what we replay, how long we wait.
#[derive(Debug, Clone)]
struct Episode {
    failing: BTreeSet<String>,
    cause: LoopCause,
    fingerprint: String,
    replay_status: u16,
    replay_body: Vec<u8>,
    since: f64,
    backoff_ms: f64,
    local_answers: u64,
    probes: u64,
}

impl Episode {
    /// The failing request again: answered with the server's own last answer, counted.
    fn answer_locally(&mut self) -> Decision {
        self.local_answers += 1;
        Decision::Replay { status: self.replay_status, body: self.replay_body.clone() }
    }
}

#[derive(Debug, Clone)]
enum State {
    Closed,
    Open { ep: Episode, next_probe_at: f64 },
    Probing { ep: Episode, started_at: f64 },
}

/// Serialisable view for the JS API (camelCase, as-is).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakerSnapshot {
    /// "closed" | "open" | "probing"
    pub state: &'static str,
    pub failing_key_ids: Vec<String>,
    pub fingerprint: Option<String>,
    /// What keeps the guarded request failing (`null` while closed).
    pub cause: Option<LoopCause>,
    pub since: Option<f64>,
    /// Null while closed or while a probe is in flight.
    pub next_probe_at: Option<f64>,
    pub backoff_ms: Option<f64>,
    /// Answers that came from the server and keep a request failing (conflicts and the one-time-key
    /// cap): what the breaker stops.
    pub server_conflicts: u64,
    /// Requests answered locally instead of reaching the server.
    pub local_answers: u64,
    /// Real requests let through to check the conflict.
    pub probes: u64,
}

#[derive(Debug, Clone)]
pub struct Breaker {
    config: BreakerConfig,
    state: State,
    server_conflicts: u64,
    local_answers: u64,
    probes: u64,
    unreplayable_conflicts: u64,
    last_now: f64,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker::new(BreakerConfig::default())
    }
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Self {
        Breaker {
            config: config.sanitized(),
            state: State::Closed,
            server_conflicts: 0,
            local_answers: 0,
            probes: 0,
            unreplayable_conflicts: 0,
            last_now: 0.0,
        }
    }

    pub fn config(&self) -> BreakerConfig {
        self.config
    }

    /// A NaN/inf clock keeps the last good time rather than poisoning comparisons.
    fn clock(&mut self, now_ms: f64) -> f64 {
        if now_ms.is_finite() {
            self.last_now = now_ms;
        }
        self.last_now
    }

    /// Decides what to do with a keys/upload request about to be sent.
    pub fn decide(&mut self, now_ms: f64, request: &ParsedUpload) -> Step {
        let now = self.clock(now_ms);
        let mut event = None;
        // A probe that never came back: back to open, then decide as open.
        if let State::Probing { started_at, .. } = &mut self.state {
            // A clock that jumped back must not postpone the timeout (as for next_probe_at below).
            if *started_at > now {
                *started_at = now;
            }
            if now - *started_at >= self.config.probe_timeout_ms {
                event = self.reopen(now, ReopenReason::ProbeLost, false, None);
            }
        }
        let ids = request.request().map(UploadRequest::key_ids);
        let decision = match &mut self.state {
            State::Closed => Decision::PassThrough,
            State::Open { ep, next_probe_at } => {
                if ids.as_ref() == Some(&ep.failing) {
                    // A clock that jumped back must not postpone the probe beyond one backoff.
                    if *next_probe_at - now > ep.backoff_ms {
                        *next_probe_at = now + ep.backoff_ms;
                    }
                    if now >= *next_probe_at {
                        ep.probes += 1;
                        self.probes += 1;
                        let ep = ep.clone();
                        event = Some(BreakerEvent::Probe {
                            at: now,
                            fingerprint: ep.fingerprint.clone(),
                            attempt: ep.probes,
                            open_since: ep.since,
                        });
                        self.state = State::Probing {
                            ep,
                            started_at: now,
                        };
                        Decision::Probe
                    } else {
                        self.local_answers += 1;
                        ep.answer_locally()
                    }
                } else {
                    Decision::PassThrough
                }
            }
            // One probe at a time: identical requests meanwhile are answered locally.
            State::Probing { ep, .. } => {
                if ids.as_ref() == Some(&ep.failing) {
                    self.local_answers += 1;
                    ep.answer_locally()
                } else {
                    Decision::PassThrough
                }
            }
        };
        Step { decision, event }
    }

    /// Reports the server's answer to a request that was sent (pass-through or probe).
    pub fn on_answer(
        &mut self,
        now_ms: f64,
        request: &ParsedUpload,
        seen: &ObservedAnswer<'_>,
    ) -> Option<BreakerEvent> {
        let now = self.clock(now_ms);
        let ids = request
            .request()
            .map(UploadRequest::key_ids)
            .filter(|ids| !ids.is_empty());
        let is_failing = |state: &State, ids: &Option<BTreeSet<String>>| match state {
            State::Open { ep, .. } | State::Probing { ep, .. } => ids.as_ref() == Some(&ep.failing),
            State::Closed => false,
        };

        if (200..300).contains(&seen.status) {
            // Any 2xx for the failing ids means the server took them: the conflict is gone.
            if !is_failing(&self.state, &ids) {
                return None;
            }
            let reason = if matches!(self.state, State::Probing { .. }) {
                CloseReason::ProbeAccepted
            } else {
                CloseReason::RequestAccepted
            };
            return self.close(now, reason);
        }

        let Some(cause) = seen.answer.loop_cause() else {
            // Another error: only a probe's answer changes anything.
            if matches!(self.state, State::Probing { .. }) && is_failing(&self.state, &ids) {
                return self.reopen(now, ReopenReason::ProbeFailed, false, None);
            }
            return None;
        };

        self.server_conflicts += 1;
        let replayable =
            seen.body_complete && !seen.body.is_empty() && seen.body.len() <= MAX_REPLAY_BYTES;
        let Some(ids) = ids else {
            // We could not read the request, so we could not recognise it again: stay as we are.
            return None;
        };
        if !replayable {
            self.unreplayable_conflicts += 1;
        }
        let replay = replayable.then(|| (seen.status, seen.body.to_vec()));

        match &mut self.state {
            State::Closed => {
                let (status, body) = replay?;
                let backoff = self.config.initial_backoff_ms;
                let fingerprint = key_ids_fingerprint(ids.iter());
                let event = BreakerEvent::Opened {
                    at: now,
                    failing_key_ids: ids.iter().cloned().collect(),
                    fingerprint: fingerprint.clone(),
                    conflict_key_id: seen.answer.conflict().and_then(|c| c.key_id.clone()),
                    cause,
                    backoff_ms: backoff,
                    next_probe_at: now + backoff,
                };
                self.state = State::Open {
                    ep: Episode {
                        failing: ids,
                        cause,
                        fingerprint,
                        replay_status: status,
                        replay_body: body,
                        since: now,
                        backoff_ms: backoff,
                        local_answers: 0,
                        probes: 0,
                    },
                    next_probe_at: now + backoff,
                };
                Some(event)
            }
            State::Open { ep, next_probe_at } => {
                if ids == ep.failing {
                    // The same request was already in flight when we opened: refresh the replay.
                    if let Some((status, body)) = replay {
                        ep.replay_status = status;
                        ep.replay_body = body;
                    }
                    return None;
                }
                // The client now fails with another request: guard that one instead.
                let (status, body) = replay?;
                ep.fingerprint = key_ids_fingerprint(ids.iter());
                ep.failing = ids;
                ep.cause = cause;
                ep.replay_status = status;
                ep.replay_body = body;
                *next_probe_at = now + ep.backoff_ms;
                Some(BreakerEvent::Reopened {
                    at: now,
                    failing_key_ids: ep.failing.iter().cloned().collect(),
                    fingerprint: ep.fingerprint.clone(),
                    reason: ReopenReason::FailingRequestChanged,
                    backoff_ms: ep.backoff_ms,
                    next_probe_at: *next_probe_at,
                })
            }
            State::Probing { ep, .. } => {
                if ids != ep.failing {
                    // Let the probe's own answer decide.
                    return None;
                }
                self.reopen(now, ReopenReason::ProbeConflict, true, replay)
            }
        }
    }

    /// Reports that a sent request failed without an answer (offline, CORS, abort).
    pub fn on_network_failure(
        &mut self,
        now_ms: f64,
        request: &ParsedUpload,
    ) -> Option<BreakerEvent> {
        let now = self.clock(now_ms);
        let ids = request.request().map(UploadRequest::key_ids);
        match &self.state {
            State::Probing { ep, .. } if ids.as_ref() == Some(&ep.failing) => {
                self.reopen(now, ReopenReason::ProbeFailed, false, None)
            }
            _ => None,
        }
    }

    /// Makes the next identical request a probe (e.g. right after a remedy drained the stale keys).
    pub fn request_probe(&mut self, now_ms: f64) {
        let now = self.clock(now_ms);
        if let State::Open { next_probe_at, .. } = &mut self.state {
            *next_probe_at = now;
        }
    }

    /// Closes the breaker whatever its state (sign-out, new device, user override).
    pub fn reset(&mut self, now_ms: f64) -> Option<BreakerEvent> {
        let now = self.clock(now_ms);
        self.close(now, CloseReason::Reset)
    }

    /// Conflicts that could not open the breaker because their body was not read whole.
    pub fn unreplayable_conflicts(&self) -> u64 {
        self.unreplayable_conflicts
    }

    pub fn state_name(&self) -> &'static str {
        match self.state {
            State::Closed => "closed",
            State::Open { .. } => "open",
            State::Probing { .. } => "probing",
        }
    }

    pub fn snapshot(&self) -> BreakerSnapshot {
        let (ep, next_probe_at) = match &self.state {
            State::Closed => (None, None),
            State::Open { ep, next_probe_at } => (Some(ep), Some(*next_probe_at)),
            State::Probing { ep, .. } => (Some(ep), None),
        };
        BreakerSnapshot {
            state: self.state_name(),
            failing_key_ids: ep
                .map(|e| e.failing.iter().cloned().collect())
                .unwrap_or_default(),
            fingerprint: ep.map(|e| e.fingerprint.clone()),
            cause: ep.map(|e| e.cause),
            since: ep.map(|e| e.since),
            next_probe_at,
            backoff_ms: ep.map(|e| e.backoff_ms),
            server_conflicts: self.server_conflicts,
            local_answers: self.local_answers,
            probes: self.probes,
        }
    }

    fn close(&mut self, now: f64, reason: CloseReason) -> Option<BreakerEvent> {
        let ep = match core::mem::replace(&mut self.state, State::Closed) {
            State::Closed => return None,
            State::Open { ep, .. } | State::Probing { ep, .. } => ep,
        };
        Some(BreakerEvent::Closed {
            at: now,
            fingerprint: ep.fingerprint,
            open_for_ms: (now - ep.since).max(0.0),
            local_answers: ep.local_answers,
            reason,
        })
    }

    /// Probing -> Open, doubling the backoff if `escalate`.
    fn reopen(
        &mut self,
        now: f64,
        reason: ReopenReason,
        escalate: bool,
        replay: Option<(u16, Vec<u8>)>,
    ) -> Option<BreakerEvent> {
        let mut ep = match core::mem::replace(&mut self.state, State::Closed) {
            State::Probing { ep, .. } => ep,
            other => {
                // Only called while probing; anything else is left untouched.
                self.state = other;
                return None;
            }
        };
        if escalate {
            ep.backoff_ms = (ep.backoff_ms * 2.0).min(self.config.max_backoff_ms);
        }
        if let Some((status, body)) = replay {
            ep.replay_status = status;
            ep.replay_body = body;
        }
        let next_probe_at = now + ep.backoff_ms;
        let event = BreakerEvent::Reopened {
            at: now,
            failing_key_ids: ep.failing.iter().cloned().collect(),
            fingerprint: ep.fingerprint.clone(),
            reason,
            backoff_ms: ep.backoff_ms,
            next_probe_at,
        };
        self.state = State::Open { ep, next_probe_at };
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storm::conflict::classify_upload_answer;
    use crate::storm::upload::parse_upload_request;

    const CONFLICT: &[u8] = br#"{"errcode":"M_UNKNOWN","error":"One time key signed_curve25519:AAAAAAAAAA0 already exists. Old key: {\"key\":\"a\"}; new key: {'key': 'b'}"}"#;

    fn open_breaker(config: BreakerConfig) -> (Breaker, ParsedUpload) {
        let req = parse_upload_request(
            br#"{"one_time_keys":{"signed_curve25519:AAAAAAAAAA0":{"key":"b"}}}"#,
        );
        let mut b = Breaker::new(config);
        let answer = classify_upload_answer(400, CONFLICT, true);
        let seen = ObservedAnswer {
            status: 400,
            body: CONFLICT,
            body_complete: true,
            answer: &answer,
        };
        assert!(matches!(
            b.on_answer(0.0, &req, &seen),
            Some(BreakerEvent::Opened { .. })
        ));
        (b, req)
    }

    #[test]
    fn nonsense_config_falls_back_to_defaults() {
        let c = Breaker::new(BreakerConfig {
            initial_backoff_ms: f64::NAN,
            max_backoff_ms: -1.0,
            probe_timeout_ms: 0.0,
        })
        .config();
        assert_eq!(c, BreakerConfig::default());
        let c = Breaker::new(BreakerConfig {
            initial_backoff_ms: 10.0,
            max_backoff_ms: 5.0,
            probe_timeout_ms: 1.0,
        })
        .config();
        assert_eq!(c.max_backoff_ms, 10.0, "cap never below the first backoff");
    }

    #[test]
    fn a_broken_clock_neither_panics_nor_wedges() {
        let (mut b, req) = open_breaker(BreakerConfig::default());
        // NaN/inf: the last good time is used, so the request is replayed, not probed.
        assert!(matches!(
            b.decide(f64::NAN, &req).decision,
            Decision::Replay { .. }
        ));
        assert!(matches!(
            b.decide(f64::INFINITY, &req).decision,
            Decision::Replay { .. }
        ));
        // The clock jumps far back: the probe is still at most one backoff away.
        assert!(matches!(
            b.decide(-1e12, &req).decision,
            Decision::Replay { .. }
        ));
        assert_eq!(b.snapshot().next_probe_at, Some(-1e12 + 60_000.0));
        assert_eq!(b.decide(-1e12 + 60_000.0, &req).decision, Decision::Probe);
    }

    #[test]
    fn oversized_or_empty_bodies_are_not_replayed() {
        let req = parse_upload_request(
            br#"{"one_time_keys":{"signed_curve25519:AAAAAAAAAA0":{"key":"b"}}}"#,
        );
        let mut big = CONFLICT.to_vec();
        big.resize(MAX_REPLAY_BYTES + 1, b' ');
        for body in [&big[..], &b""[..]] {
            let mut b = Breaker::default();
            let answer = classify_upload_answer(400, CONFLICT, true);
            let seen = ObservedAnswer {
                status: 400,
                body,
                body_complete: true,
                answer: &answer,
            };
            assert_eq!(b.on_answer(0.0, &req, &seen), None);
            assert_eq!(b.state_name(), "closed");
        }
    }

    #[test]
    fn replay_uses_the_servers_status() {
        let req = parse_upload_request(br#"{"one_time_keys":{"x:1":{"key":"b"}}}"#);
        let body = br#"{"errcode":"M_UNKNOWN","error":"OTK x:1 already exists"}"#;
        let answer = classify_upload_answer(409, body, true);
        let mut b = Breaker::default();
        b.on_answer(
            0.0,
            &req,
            &ObservedAnswer {
                status: 409,
                body,
                body_complete: true,
                answer: &answer,
            },
        );
        assert_eq!(
            b.decide(1.0, &req).decision,
            Decision::Replay {
                status: 409,
                body: body.to_vec()
            }
        );
    }

    #[test]
    fn json_shape() {
        let (mut b, req) = open_breaker(BreakerConfig::default());
        let mut events = Vec::new();
        let mut snapshots = vec![Breaker::default().snapshot(), b.snapshot()];
        let probe = b.decide(60_000.5, &req);
        assert_eq!(probe.decision, Decision::Probe);
        events.extend(probe.event);
        snapshots.push(b.snapshot());
        let answer = classify_upload_answer(400, CONFLICT, true);
        let seen = ObservedAnswer { status: 400, body: CONFLICT, body_complete: true, answer: &answer };
        events.extend(b.on_answer(60_001.0, &req, &seen)); // probe-conflict
        b.request_probe(60_002.0);
        events.extend(b.decide(60_003.0, &req).event);
        events.extend(b.on_network_failure(60_004.0, &req)); // probe-failed
        b.request_probe(60_005.0);
        events.extend(b.decide(60_006.0, &req).event);
        events.extend(b.decide(1e9, &req).event); // probe-lost
        let other = parse_upload_request(br#"{"one_time_keys":{"x:2":{"key":"c"}}}"#);
        events.extend(b.on_answer(1e9 + 1.0, &other, &seen)); // failing-request-changed
        events.extend(b.reset(1e9 + 2.0)); // closed: reset
        let (mut b, req) = open_breaker(BreakerConfig::default());
        let ok = classify_upload_answer(200, b"{}", true);
        let accepted = ObservedAnswer { status: 200, body: b"{}", body_complete: true, answer: &ok };
        events.extend(b.on_answer(10.0, &req, &accepted)); // closed: request-accepted
        let (mut b, req) = open_breaker(BreakerConfig::default());
        b.request_probe(1.0);
        events.extend(b.decide(1.0, &req).event);
        events.extend(b.on_answer(2.0, &req, &accepted)); // closed: probe-accepted
        let kinds: Vec<_> = events.iter().map(|e| serde_json::to_value(e).unwrap()["type"].as_str().unwrap().to_owned()).collect();
        assert_eq!(
            kinds,
            ["probe", "reopened", "probe", "reopened", "probe", "reopened", "reopened", "closed", "closed", "probe", "closed"]
        );
        events.push(BreakerEvent::Opened {
            at: 1.25,
            failing_key_ids: vec!["a:1".into(), "a:2".into()],
            fingerprint: "2-x".into(),
            conflict_key_id: None,
            cause: LoopCause::OtkLimit,
            backoff_ms: 60_000.0,
            next_probe_at: 60_001.25,
        });
        assert_eq!(
            serde_json::to_value(&snapshots[2]).unwrap(),
            serde_json::json!({"state": "probing", "failingKeyIds": ["signed_curve25519:AAAAAAAAAA0"],
                "fingerprint": snapshots[2].fingerprint, "cause": "conflict", "since": 0.0, "nextProbeAt": null, "backoffMs": 60000.0,
                "serverConflicts": 1, "localAnswers": 0, "probes": 1})
        );
    }
}
