//! The health of this device's one-time keys (OTKs) beyond the "already exists" conflict, read from the
//! keys/upload requests and answers the fetch tap already sees. Pure: the clock is passed in.
//!
//! Two findings, each its own kind:
//! * **`otk-inflation`** (matrix-js-sdk issue 5501: `@matrix-org/matrix-sdk-crypto-wasm` ≥ 18.5.0 with
//!   a matrix-js-sdk before PR 5503). The SDK tells its OlmMachine "the server holds 0 keys" on nearly
//!   every sync, so it uploads 50 new OTKs each time and every answer is 200. A healthy SDK tops the
//!   server up to its target (50) and no further; the device keeps the private halves of about the
//!   last 100 keys. So: an accepted upload that leaves the server holding more keys than the device can
//!   hold (`device_capacity`), or `streak` accepted uploads in a row each leaving the server above the
//!   target and higher than before (the device uploaded although the server had enough: only a
//!   device that believes the count is 0 does that), is inflation. Peers then claim keys whose private
//!   halves are gone, and new Olm sessions with this device fail.
//! * **`otk-limit`**: the server refused an upload because the device would hold more than its cap
//!   (Synapse: 500 per algorithm, 400 `M_TOO_LARGE`, [`OtkLimit`]). matrix-js-sdk re-sends that same
//!   request after every sync; the breaker stops that loop like the conflict (replaying the server's
//!   own answer, probing later), this model names it.
//!
//! Why inflating uploads are not held or spaced: every one of them is accepted by the server, so the
//! only local answer the guardian may give (the server's own last answer) would be a 200 for keys the
//! server never received — a lie that makes the SDK mark unsent keys as published. Delaying them only
//! stalls the SDK's outgoing-request queue (to-device messages, key queries wait behind the upload)
//! without changing what it uploads next. So the guardian lets them through, names the cause, and
//! lets the server's own cap end the pile-up; at the cap the breaker holds the server to one rejected
//! upload per backoff. Nothing is lost: no request is answered with anything the server did not say.

use crate::storm::conflict::OtkLimit;
use std::collections::BTreeMap;

/// The algorithm the SDKs upload one-time keys for.
pub const OTK_ALGORITHM: &str = "signed_curve25519";

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OtkHealthConfig {
    /// How many keys a healthy SDK keeps on the server (matrix-sdk-crypto: 50).
    pub sdk_target: u64,
    /// How many private halves the device keeps (vodozemac evicts older ones: about 100).
    pub device_capacity: u64,
    /// Accepted uploads in a row, each leaving the server above the target and higher than before,
    /// that make inflation without the capacity being passed yet.
    pub streak: u32,
}

impl Default for OtkHealthConfig {
    fn default() -> Self {
        OtkHealthConfig { sdk_target: 50, device_capacity: 100, streak: 3 }
    }
}

/// What the model has found, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum OtkFinding {
    Healthy,
    OtkInflation,
    OtkLimit,
}

impl OtkFinding {
    /// The JSON name and the DOM event type: `"healthy"` | `"otk-inflation"` | `"otk-limit"`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The figures behind a finding, as the panel, the report and the events show them.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OtkFigures {
    /// Accepted uploads that carried one-time keys.
    pub accepted_uploads: u64,
    /// One-time keys in those uploads.
    pub keys_uploaded: u64,
    pub first_upload_at: Option<f64>,
    pub last_upload_at: Option<f64>,
    /// Accepted uploads per hour between the first and the last (`null` below two uploads).
    pub uploads_per_hour: Option<f64>,
    /// `one_time_key_counts.signed_curve25519` of the last accepted upload.
    pub server_count: Option<u64>,
    pub peak_server_count: Option<u64>,
    pub sdk_target: u64,
    pub device_capacity: u64,
    /// The server's cap, from its refusal.
    pub limit: Option<u64>,
    /// What the server held when it refused (its `would_hold - uploading`).
    pub held_at_limit: Option<u64>,
    /// Refusals over the cap the server sent (replays of them are the breaker's `localAnswers`).
    pub limit_rejections: u64,
}

/// `guardian.otkHealth()` and the detail of the `otk-inflation` / `otk-limit` events.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OtkHealthState {
    pub kind: OtkFinding,
    pub reason: String,
    /// When the current finding was first made.
    pub since: Option<f64>,
    pub figures: OtkFigures,
}

#[derive(Debug, Clone)]
pub struct OtkHealth {
    config: OtkHealthConfig,
    figures: OtkFigures,
    /// Accepted uploads in a row that each left the server above the target and higher than before.
    over_target_streak: u32,
    finding: OtkFinding,
    since: Option<f64>,
}

impl Default for OtkHealth {
    fn default() -> Self {
        OtkHealth::new(OtkHealthConfig::default())
    }
}

impl OtkHealth {
    pub fn new(config: OtkHealthConfig) -> Self {
        let config = OtkHealthConfig { streak: config.streak.max(1), ..config };
        OtkHealth {
            config,
            // Nothing seen yet; the configuration is shown beside what will be.
            figures: OtkFigures { sdk_target: config.sdk_target, device_capacity: config.device_capacity, ..OtkFigures::default() },
            over_target_streak: 0,
            finding: OtkFinding::Healthy,
            since: None,
        }
    }

    /// An accepted keys/upload: `uploaded` one-time keys in the request, the server's counts in its
    /// answer. Returns the finding when it just got worse (the host's event).
    pub fn on_accepted(&mut self, now_ms: f64, uploaded: u64, counts: &BTreeMap<String, u64>) -> Option<OtkFinding> {
        let count = counts.get(OTK_ALGORITHM).copied();
        let previous = self.figures.server_count;
        if count.is_some() {
            self.figures.server_count = count;
            self.figures.peak_server_count = self.figures.peak_server_count.max(count);
        }
        // A device-keys-only upload (or a fallback key alone) says nothing about the rate.
        if uploaded == 0 {
            return None;
        }
        let f = &mut self.figures;
        f.accepted_uploads += 1;
        f.keys_uploaded += uploaded;
        if now_ms.is_finite() {
            let first = *f.first_upload_at.get_or_insert(now_ms);
            f.last_upload_at = Some(now_ms);
            let hours = (now_ms - first) / 3_600_000.0;
            f.uploads_per_hour = (f.accepted_uploads >= 2 && hours > 0.0).then(|| (f.accepted_uploads - 1) as f64 / hours);
        }
        let count = count?;
        let grew_over_target = count > self.config.sdk_target && previous.is_some_and(|p| count > p);
        self.over_target_streak = if grew_over_target { self.over_target_streak + 1 } else { 0 };
        let inflated = count > self.config.device_capacity || self.over_target_streak >= self.config.streak;
        inflated.then(|| self.raise(now_ms, OtkFinding::OtkInflation)).flatten()
    }

    /// The server refused an upload over its cap.
    pub fn on_limit(&mut self, now_ms: f64, limit: &OtkLimit) -> Option<OtkFinding> {
        let f = &mut self.figures;
        f.limit_rejections += 1;
        f.limit = limit.limit.or(f.limit);
        if let Some(held) = limit.server_holds() {
            f.held_at_limit = Some(held);
            f.server_count = Some(held);
            f.peak_server_count = f.peak_server_count.max(Some(held));
        }
        self.raise(now_ms, OtkFinding::OtkLimit)
    }

    /// Moves to a worse finding (never back: what was seen in this page stays said).
    fn raise(&mut self, now_ms: f64, to: OtkFinding) -> Option<OtkFinding> {
        if to <= self.finding {
            return None;
        }
        self.finding = to;
        self.since = now_ms.is_finite().then_some(now_ms);
        Some(to)
    }

    pub fn finding(&self) -> OtkFinding {
        self.finding
    }

    pub fn state(&self) -> OtkHealthState {
        OtkHealthState { kind: self.finding, reason: self.reason(), since: self.since, figures: self.figures.clone() }
    }

    /// One sentence with the figures (the docs and the prompt strings explain; the core stays small).
    fn reason(&self) -> String {
        let f = &self.figures;
        let n = |v: Option<u64>| v.map_or_else(|| "?".into(), |n| n.to_string());
        let held = ["the server holds ", &n(f.server_count), " one-time keys"].concat();
        match self.finding {
            OtkFinding::Healthy => held,
            OtkFinding::OtkInflation => [
                &held,
                ", the device keeps about ",
                &n(Some(f.device_capacity)),
                ": ",
                &n(Some(f.accepted_uploads)),
                " uploads past the SDK's target of ",
                &n(Some(f.sdk_target)),
                ISSUE_5501,
            ]
            .concat(),
            OtkFinding::OtkLimit => [
                "the server refuses more one-time keys: it holds ",
                &n(f.held_at_limit),
                ", limit ",
                &n(f.limit),
                "; repeats get its own answer",
                ISSUE_5501,
            ]
            .concat(),
        }
    }
}

const ISSUE_5501: &str = " (matrix-js-sdk issue 5501: update matrix-js-sdk)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storm::conflict::{classify_upload_answer, UploadAnswer};
    use proptest::prelude::*;

    fn counts(n: u64) -> BTreeMap<String, u64> {
        [(OTK_ALGORITHM.to_owned(), n)].into_iter().collect()
    }

    fn limit(body: &str) -> OtkLimit {
        match classify_upload_answer(400, body.as_bytes(), true) {
            UploadAnswer::OtkLimit(l) => l,
            other => panic!("{other:?}"),
        }
    }

    const AT_CAP: &str = r#"{"errcode":"M_TOO_LARGE","error":"Uploading 50 more signed_curve25519 one-time keys would leave the device holding 550, over the limit of 500"}"#;

    #[test]
    fn a_healthy_device_tops_up_to_the_target_and_stays_healthy() {
        let mut h = OtkHealth::default();
        // First upload: 50 keys; then peers claim some and the SDK tops up again, never above 50.
        assert_eq!(h.on_accepted(0.0, 50, &counts(50)), None);
        for (i, claimed) in [3u64, 10, 1, 49, 7, 20].into_iter().enumerate() {
            assert_eq!(h.on_accepted(1000.0 * (i as f64 + 1.0), claimed, &counts(50)), None);
        }
        // A device-keys-only upload changes nothing.
        assert_eq!(h.on_accepted(9000.0, 0, &counts(50)), None);
        let s = h.state();
        assert_eq!(s.kind, OtkFinding::Healthy);
        assert_eq!(s.figures.accepted_uploads, 7);
        assert_eq!(s.figures.server_count, Some(50));
        assert_eq!(s.reason, "the server holds 50 one-time keys");
    }

    #[test]
    fn fifty_keys_after_every_sync_is_inflation_by_the_third_upload() {
        let mut h = OtkHealth::default();
        assert_eq!(h.on_accepted(0.0, 50, &counts(50)), None);
        assert_eq!(h.on_accepted(2_000.0, 50, &counts(100)), None);
        // 150 > the 100 private halves the device keeps.
        assert_eq!(h.on_accepted(4_000.0, 50, &counts(150)), Some(OtkFinding::OtkInflation));
        // Said once.
        assert_eq!(h.on_accepted(6_000.0, 50, &counts(200)), None);
        let s = h.state();
        assert_eq!(s.kind, OtkFinding::OtkInflation);
        assert_eq!(s.since, Some(4_000.0));
        assert_eq!(s.figures.keys_uploaded, 200);
        assert_eq!(s.figures.peak_server_count, Some(200));
        // 4 uploads in 6 s: 3 intervals in 1/600 h.
        assert!((s.figures.uploads_per_hour.unwrap() - 1800.0).abs() < 1e-6);
        assert_eq!(s.reason, "the server holds 200 one-time keys, the device keeps about 100: 4 uploads past the SDK's target of 50 (matrix-js-sdk issue 5501: update matrix-js-sdk)");
    }

    #[test]
    fn the_streak_finds_inflation_below_the_capacity() {
        let mut h = OtkHealth::new(OtkHealthConfig { sdk_target: 10, device_capacity: 1_000, streak: 3 });
        assert_eq!(h.on_accepted(0.0, 10, &counts(10)), None);
        assert_eq!(h.on_accepted(1.0, 10, &counts(20)), None);
        assert_eq!(h.on_accepted(2.0, 10, &counts(30)), None);
        assert_eq!(h.on_accepted(3.0, 10, &counts(40)), Some(OtkFinding::OtkInflation));
        // A streak broken by a count back at the target starts again.
        let mut h = OtkHealth::new(OtkHealthConfig { sdk_target: 10, device_capacity: 1_000, streak: 3 });
        for (t, c) in [(0.0, 10), (1.0, 20), (2.0, 30), (3.0, 10), (4.0, 20), (5.0, 30)] {
            assert_eq!(h.on_accepted(t, 10, &counts(c)), None);
        }
    }

    #[test]
    fn the_servers_cap_is_named_with_its_figures() {
        let mut h = OtkHealth::default();
        for i in 0..10u64 {
            h.on_accepted(i as f64 * 1000.0, 50, &counts(50 * (i + 1)));
        }
        assert_eq!(h.finding(), OtkFinding::OtkInflation);
        assert_eq!(h.on_limit(11_000.0, &limit(AT_CAP)), Some(OtkFinding::OtkLimit));
        assert_eq!(h.on_limit(12_000.0, &limit(AT_CAP)), None);
        let s = h.state();
        assert_eq!(s.kind, OtkFinding::OtkLimit);
        assert_eq!((s.figures.limit, s.figures.held_at_limit, s.figures.limit_rejections), (Some(500), Some(500), 2));
        assert_eq!(s.reason, "the server refuses more one-time keys: it holds 500, limit 500; repeats get its own answer (matrix-js-sdk issue 5501: update matrix-js-sdk)");
        // An accepted upload later (peers claimed keys) does not un-say it.
        assert_eq!(h.on_accepted(13_000.0, 50, &counts(480)), None);
        assert_eq!(h.finding(), OtkFinding::OtkLimit);
        // A cap without figures still names it.
        let mut h = OtkHealth::default();
        assert_eq!(h.on_limit(1.0, &limit(r#"{"errcode":"M_TOO_LARGE","error":"too many one-time keys"}"#)), Some(OtkFinding::OtkLimit));
        assert!(h.state().reason.contains("it holds ?, limit ?"), "{}", h.state().reason);
    }

    proptest! {
        /// A device whose server never holds more than the SDK's target is never called inflated, whatever
        /// it uploads and whenever.
        #[test]
        fn never_inflation_within_the_target(steps in proptest::collection::vec((0u64..=50, 0u64..=50, 0f64..1e7), 0..60)) {
            let mut h = OtkHealth::default();
            for (uploaded, count, at) in steps {
                prop_assert_eq!(h.on_accepted(at, uploaded, &counts(count)), None);
            }
            prop_assert_eq!(h.finding(), OtkFinding::Healthy);
        }

        /// Fifty keys after every sync, from any starting count: inflation is found within three uploads
        /// past the target, said exactly once, and the finding never goes back.
        #[test]
        fn inflation_is_found_once_and_stays(start in 0u64..=50, syncs in 4usize..40, gap in 1f64..60_000.0) {
            let mut h = OtkHealth::default();
            let mut said = 0;
            let mut count = start;
            for i in 0..syncs {
                count += 50;
                if h.on_accepted(i as f64 * gap, 50, &counts(count)).is_some() {
                    said += 1;
                }
                if count > 100 {
                    prop_assert_eq!(h.finding(), OtkFinding::OtkInflation);
                }
            }
            prop_assert_eq!(said, 1);
            prop_assert_eq!(h.state().figures.keys_uploaded, 50 * syncs as u64);
        }

        /// Any order of accepted uploads and refusals: findings only get worse, and the counters add up.
        #[test]
        fn findings_only_get_worse(steps in proptest::collection::vec(proptest::option::of((0u64..100, 0u64..2000)), 0..80)) {
            let mut h = OtkHealth::default();
            let mut worst = OtkFinding::Healthy;
            let (mut accepted, mut refused) = (0u64, 0u64);
            for (i, step) in steps.into_iter().enumerate() {
                match step {
                    Some((uploaded, count)) => {
                        h.on_accepted(i as f64, uploaded, &counts(count));
                        accepted += u64::from(uploaded > 0);
                    }
                    None => {
                        h.on_limit(i as f64, &limit(AT_CAP));
                        refused += 1;
                    }
                }
                prop_assert!(h.finding() >= worst);
                worst = h.finding();
            }
            prop_assert_eq!(h.state().figures.accepted_uploads, accepted);
            prop_assert_eq!(h.state().figures.limit_rejections, refused);
            prop_assert_eq!(refused > 0, h.finding() == OtkFinding::OtkLimit);
        }
    }

    #[test]
    fn json_shape() {
        let mut h = OtkHealth::default();
        h.on_accepted(0.0, 50, &counts(50));
        h.on_accepted(1.5, 50, &counts(150));
        h.on_limit(2.0, &limit(AT_CAP));
        let v = serde_json::to_value(&h.state()).unwrap();
        assert_eq!(v["kind"], "otk-limit");
        assert_eq!(v["figures"]["heldAtLimit"], 500);
        assert_eq!(v["figures"]["deviceCapacity"], 100);
    }
}
