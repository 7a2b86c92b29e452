//! The breaker driven by real Synapse requests and answers, with an injected clock.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;

use matrix_crypto_guardian::storm::{
    classify_upload_answer, parse_upload_request, Breaker, BreakerConfig, BreakerEvent,
    CloseReason, Decision, ObservedAnswer, ParsedUpload, ReopenReason,
};
use serde_json::Value;

/// A model value as serde_json sees the JSON it writes.
fn to_serde(x: &impl serde::Serialize) -> Value {
    serde_json::to_value(x).unwrap()
}

struct Fx {
    request: ParsedUpload,
    status: u16,
    body: Vec<u8>,
}

fn fx(name: &str) -> Fx {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/synapse/{name}.json"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    Fx {
        request: parse_upload_request(&serde_json::to_vec(&v["request"]["body"]).unwrap()),
        status: v["response"]["status"].as_u64().unwrap() as u16,
        body: v["response"]["body"].as_str().unwrap().as_bytes().to_vec(),
    }
}

/// Sends `f`'s request through the breaker at `now`; if it reaches the "server", answers with
/// `answer`'s response (complete). Returns the decision and the events.
fn round(b: &mut Breaker, now: f64, f: &Fx, answer: &Fx) -> (Decision, Vec<BreakerEvent>) {
    let step = b.decide(now, &f.request);
    let mut events: Vec<_> = step.event.into_iter().collect();
    if !matches!(step.decision, Decision::Replay { .. }) {
        let classified = classify_upload_answer(answer.status, &answer.body, true);
        let seen = ObservedAnswer {
            status: answer.status,
            body: &answer.body,
            body_complete: true,
            answer: &classified,
        };
        events.extend(b.on_answer(now + 50.0, &f.request, &seen));
    }
    (step.decision, events)
}

const MIN: f64 = 60_000.0;

#[test]
fn store_loss_storm_is_held_then_released() {
    let lost = fx("conflict_identity_replaced");
    let ok = fx("success_initial_upload");
    let mut b = Breaker::default();
    let t0 = 1_700_000_000_000.0;

    // The first failing upload reaches the server and opens the breaker.
    let (d, ev) = round(&mut b, t0, &lost, &lost);
    assert_eq!(d, Decision::PassThrough);
    let [BreakerEvent::Opened {
        failing_key_ids,
        conflict_key_id,
        backoff_ms,
        next_probe_at,
        ..
    }] = &ev[..]
    else {
        panic!("{ev:?}")
    };
    assert_eq!(failing_key_ids.len(), 6, "5 one-time keys + 1 fallback key");
    assert_eq!(
        conflict_key_id.as_deref(),
        Some("signed_curve25519:AAAAAAAAAAk")
    );
    assert_eq!(*backoff_ms, MIN);
    assert_eq!(*next_probe_at, t0 + 50.0 + MIN);

    // matrix-js-sdk retries after every sync (~1/s here): all answered locally with the server's
    // own bytes, until the first probe is due.
    let mut t = t0 + 1000.0;
    let mut replays = 0;
    while t < t0 + 50.0 + MIN {
        let (d, ev) = round(&mut b, t, &lost, &lost);
        assert_eq!(
            d,
            Decision::Replay {
                status: 400,
                body: lost.body.clone()
            }
        );
        assert!(ev.is_empty());
        replays += 1;
        t += 1000.0;
    }
    // Probes: each meets the conflict again and doubles the backoff, up to the 30 min cap.
    let mut expected_backoff = MIN;
    for _ in 0..7 {
        let probe_time = b.snapshot().next_probe_at.unwrap();
        let (d, ev) = round(&mut b, probe_time, &lost, &lost);
        assert_eq!(d, Decision::Probe);
        expected_backoff = (expected_backoff * 2.0).min(30.0 * MIN);
        match &ev[..] {
            [BreakerEvent::Probe { .. }, BreakerEvent::Reopened {
                reason: ReopenReason::ProbeConflict,
                backoff_ms,
                ..
            }] => {
                assert_eq!(*backoff_ms, expected_backoff)
            }
            other => panic!("{other:?}"),
        }
        // Right after a probe, identical requests are replayed again.
        let (d, _) = round(&mut b, probe_time + 1000.0, &lost, &lost);
        assert!(matches!(d, Decision::Replay { .. }));
        replays += 1;
    }
    assert_eq!(expected_backoff, 30.0 * MIN);

    // A request with the same key ids is held whatever its content (the original first upload
    // used the very same ids)...
    let t = b.snapshot().next_probe_at.unwrap() - 2000.0;
    assert!(matches!(
        round(&mut b, t, &ok, &ok).0,
        Decision::Replay { .. }
    ));
    replays += 1;
    // ...and a request with other key ids is never held.
    let other = fx("conflict_same_identity");
    let (d, ev) = round(&mut b, t + 1000.0, &other, &ok);
    assert_eq!(d, Decision::PassThrough);
    assert!(ev.is_empty(), "a 2xx for other ids does not close: {ev:?}");
    assert_eq!(b.state_name(), "open");

    // The remedy worked; the next probe is accepted and closes the breaker.
    let probe_time = b.snapshot().next_probe_at.unwrap();
    let (d, ev) = round(&mut b, probe_time, &lost, &ok);
    assert_eq!(d, Decision::Probe);
    let [BreakerEvent::Probe { attempt: 8, .. }, BreakerEvent::Closed {
        reason: CloseReason::ProbeAccepted,
        local_answers,
        ..
    }] = &ev[..]
    else {
        panic!("{ev:?}")
    };
    assert_eq!(*local_answers, replays);

    let s = b.snapshot();
    assert_eq!(s.state, "closed");
    assert_eq!(s.server_conflicts, 8, "1 storm start + 7 probes");
    assert_eq!(s.local_answers, replays);
    assert_eq!(s.probes, 8);
    assert!(s.failing_key_ids.is_empty());
    // After closing, everything passes through again.
    assert_eq!(
        b.decide(probe_time + 10.0, &lost.request).decision,
        Decision::PassThrough
    );
}

#[test]
fn two_tab_conflict_and_snapshot_json() {
    let clash = fx("conflict_same_identity");
    let mut b = Breaker::new(BreakerConfig {
        initial_backoff_ms: 5_000.0,
        max_backoff_ms: 20_000.0,
        probe_timeout_ms: 1_000.0,
    });
    round(&mut b, 0.0, &clash, &clash);
    round(&mut b, 100.0, &clash, &clash);
    let v = to_serde(&b.snapshot());
    assert_eq!(v["state"], "open");
    assert_eq!(
        v["failingKeyIds"],
        serde_json::json!(["signed_curve25519:AAAAAAAAAA0"])
    );
    assert_eq!(v["since"], 50.0);
    assert_eq!(v["nextProbeAt"], 5_050.0);
    assert_eq!(v["backoffMs"], 5_000.0);
    assert_eq!(v["serverConflicts"], 1);
    assert_eq!(v["localAnswers"], 1);
    assert_eq!(v["probes"], 0);
    assert!(v["fingerprint"].as_str().unwrap().starts_with("1-"));
}

#[test]
fn a_truncated_conflict_is_counted_but_never_replayed() {
    let lost = fx("conflict_identity_replaced");
    let mut b = Breaker::default();
    let cut = &lost.body[..lost.body.len() / 2];
    let classified = classify_upload_answer(400, cut, false);
    assert!(
        classified.conflict().is_some(),
        "still recognised as a conflict"
    );
    let seen = ObservedAnswer {
        status: 400,
        body: cut,
        body_complete: false,
        answer: &classified,
    };
    assert_eq!(b.decide(0.0, &lost.request).decision, Decision::PassThrough);
    assert_eq!(b.on_answer(10.0, &lost.request, &seen), None);
    assert_eq!(b.state_name(), "closed");
    assert_eq!(b.snapshot().server_conflicts, 1);
    assert_eq!(b.unreplayable_conflicts(), 1);
    // The next identical request goes to the server; a whole answer then opens.
    let (d, ev) = round(&mut b, 1000.0, &lost, &lost);
    assert_eq!(d, Decision::PassThrough);
    assert!(matches!(ev[..], [BreakerEvent::Opened { .. }]));
}

#[test]
fn probe_failures_keep_the_backoff() {
    let lost = fx("conflict_identity_replaced");
    let mut b = Breaker::default();
    round(&mut b, 0.0, &lost, &lost);
    let due = b.snapshot().next_probe_at.unwrap();

    // 502 from the proxy on the probe: back to open, same backoff.
    let step = b.decide(due, &lost.request);
    assert_eq!(step.decision, Decision::Probe);
    let html = b"<html><body>502 Bad Gateway</body></html>";
    let classified = classify_upload_answer(502, html, true);
    let ev = b.on_answer(
        due + 10.0,
        &lost.request,
        &ObservedAnswer {
            status: 502,
            body: html,
            body_complete: true,
            answer: &classified,
        },
    );
    assert!(
        matches!(ev, Some(BreakerEvent::Reopened { reason: ReopenReason::ProbeFailed, backoff_ms, .. }) if backoff_ms == MIN)
    );
    // The replay stays the server's conflict, not the proxy page.
    let next = b.snapshot().next_probe_at.unwrap();
    assert_eq!(
        b.decide(next - 1.0, &lost.request).decision,
        Decision::Replay {
            status: 400,
            body: lost.body.clone()
        }
    );

    // Network failure on the next probe: same.
    assert_eq!(b.decide(next, &lost.request).decision, Decision::Probe);
    let ev = b.on_network_failure(next + 5.0, &lost.request);
    assert!(
        matches!(ev, Some(BreakerEvent::Reopened { reason: ReopenReason::ProbeFailed, backoff_ms, .. }) if backoff_ms == MIN)
    );

    // A probe that never answers is declared lost after the probe timeout.
    let next = b.snapshot().next_probe_at.unwrap();
    assert_eq!(b.decide(next, &lost.request).decision, Decision::Probe);
    assert!(matches!(
        b.decide(next + 1.0, &lost.request).decision,
        Decision::Replay { .. }
    ));
    let step = b.decide(next + 120_000.0, &lost.request);
    assert!(matches!(
        step.event,
        Some(BreakerEvent::Reopened {
            reason: ReopenReason::ProbeLost,
            ..
        })
    ));
    assert!(matches!(step.decision, Decision::Replay { .. }));
    assert_eq!(b.snapshot().probes, 3);
}

#[test]
fn the_client_changing_its_failing_request_retargets() {
    let lost = fx("conflict_identity_replaced");
    let clash = fx("conflict_same_identity");
    let mut b = Breaker::default();
    round(&mut b, 0.0, &lost, &lost);
    // Another request (other ids) passes through and meets a conflict of its own.
    let (d, ev) = round(&mut b, 1000.0, &clash, &clash);
    assert_eq!(d, Decision::PassThrough);
    assert!(
        matches!(&ev[..], [BreakerEvent::Reopened { reason: ReopenReason::FailingRequestChanged, failing_key_ids, .. }] if failing_key_ids.len() == 1)
    );
    // Now the new one is held, the old one passes.
    assert!(
        matches!(b.decide(2000.0, &clash.request).decision, Decision::Replay { ref body, .. } if *body == clash.body)
    );
    assert_eq!(
        b.decide(3000.0, &lost.request).decision,
        Decision::PassThrough
    );
}

#[test]
fn unreadable_requests_always_pass_and_never_open() {
    let lost = fx("conflict_identity_replaced");
    let mut b = Breaker::default();
    let garbage = parse_upload_request(b"{not json");
    let classified = classify_upload_answer(400, &lost.body, true);
    assert_eq!(b.decide(0.0, &garbage).decision, Decision::PassThrough);
    let seen = ObservedAnswer {
        status: 400,
        body: &lost.body,
        body_complete: true,
        answer: &classified,
    };
    assert_eq!(b.on_answer(1.0, &garbage, &seen), None);
    assert_eq!(b.state_name(), "closed");
    // Even while open for a real request, an unreadable one passes.
    round(&mut b, 10.0, &lost, &lost);
    assert_eq!(b.decide(20.0, &garbage).decision, Decision::PassThrough);
}

#[test]
fn reset_and_request_probe() {
    let lost = fx("conflict_identity_replaced");
    let mut b = Breaker::default();
    round(&mut b, 0.0, &lost, &lost);
    b.request_probe(10.0);
    assert_eq!(b.decide(10.0, &lost.request).decision, Decision::Probe);
    let ev = b.reset(20.0);
    assert!(matches!(
        ev,
        Some(BreakerEvent::Closed {
            reason: CloseReason::Reset,
            ..
        })
    ));
    assert_eq!(b.reset(30.0), None, "already closed");
    // A late answer to the abandoned probe changes nothing.
    let classified = classify_upload_answer(400, &lost.body, true);
    let seen = ObservedAnswer {
        status: 400,
        body: &lost.body,
        body_complete: true,
        answer: &classified,
    };
    assert!(
        matches!(
            b.on_answer(40.0, &lost.request, &seen),
            Some(BreakerEvent::Opened { .. })
        ),
        "a conflict after a reset opens again: the storm is still there"
    );
}

#[test]
fn events_serialise_for_the_dom() {
    let lost = fx("conflict_identity_replaced");
    let mut b = Breaker::default();
    let (_, ev) = round(&mut b, 0.0, &lost, &lost);
    let v = to_serde(&ev[0]);
    assert_eq!(v["type"], "opened");
    assert_eq!(v["conflictKeyId"], "signed_curve25519:AAAAAAAAAAk");
    assert_eq!(v["failingKeyIds"].as_array().unwrap().len(), 6);
    assert_eq!(v["backoffMs"], MIN);
    b.request_probe(1.0);
    let step = b.decide(1.0, &lost.request);
    let v = to_serde(&step.event.unwrap());
    assert_eq!(v["type"], "probe");
    assert_eq!(v["attempt"], 1);
}
