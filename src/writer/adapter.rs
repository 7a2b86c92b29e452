//! Writer surface: the lock name and the localStorage lease / census state machines for `js/writer.js`.
//! Translation only; the decisions are `crate::writer::model`'s.

use wasm_bindgen::prelude::*;

use crate::storm::adapter::options;
use crate::to_js;
use crate::writer::model::{acquire_step, after_unavailable, lock_name, AcquireStep, Census, Lease, LeaseConfig, LeaseRecord, Mode, Role};

/// The writer lock's name (see `model::writer::lock_name`).
#[wasm_bindgen(js_name = writerLockName)]
pub fn writer_lock_name(override_name: Option<String>, store_prefix: Option<String>, user_id: Option<String>, device_id: Option<String>) -> String {
    lock_name(override_name.as_deref(), store_prefix.as_deref(), user_id.as_deref(), device_id.as_deref())
}

fn mode(s: &str) -> Mode {
    Mode::parse(s).unwrap_or(Mode::Wait)
}

/// What `acquireWriter(mode)` does (see `model::writer::acquire_step`): "already-writer" | "request" |
/// "supersede" | "join" | "unavailable". `under_way`: the mode of the request under way, if any.
#[wasm_bindgen(js_name = writerAcquireStep)]
pub fn writer_acquire_step(is_writer: bool, under_way: Option<String>, requested: &str) -> String {
    let step = acquire_step(is_writer, under_way.as_deref().map(mode), mode(requested));
    match step {
        AcquireStep::AlreadyWriter => "already-writer",
        AcquireStep::Request => "request",
        AcquireStep::Supersede => "supersede",
        AcquireStep::Join => "join",
        AcquireStep::Unavailable => "unavailable",
    }
    .into()
}

/// After an `ifAvailable` came back empty: the mode of the next request for those who joined it, or
/// undefined (see `model::writer::after_unavailable`).
#[wasm_bindgen(js_name = writerAfterUnavailable)]
pub fn writer_after_unavailable(joined: Vec<String>) -> Option<String> {
    let modes: Vec<Mode> = joined.iter().map(|m| mode(m)).collect();
    after_unavailable(&modes).map(|m| match m {
        Mode::Wait => "wait".into(),
        Mode::IfAvailable => "ifAvailable".into(),
        Mode::Steal => "steal".into(),
    })
}

/// The localStorage lease of one tab. Every call takes the entry's raw value as read just now and returns
/// `{ write: {op:"put", record} | {op:"remove"} | null, events: [{kind,…}], ping, nextTickMs }`.
/// `new WriterLease(tabId, options)`: `{ heartbeatMs?, staleAfterMs?, settleMs? }`.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct LeaseOptions {
    heartbeat_ms: Option<f64>,
    stale_after_ms: Option<f64>,
    settle_ms: Option<f64>,
}

#[wasm_bindgen]
pub struct WriterLease {
    lease: Lease,
}

#[wasm_bindgen]
impl WriterLease {
    /// `options`: `{ heartbeatMs?, staleAfterMs?, settleMs? }`.
    #[wasm_bindgen(constructor)]
    pub fn new(tab_id: String, options: JsValue) -> Result<WriterLease, JsError> {
        let o: LeaseOptions = self::options(options)?;
        let d = LeaseConfig::default();
        let config = LeaseConfig {
            heartbeat_ms: o.heartbeat_ms.unwrap_or(d.heartbeat_ms),
            stale_after_ms: o.stale_after_ms.unwrap_or(d.stale_after_ms),
            settle_ms: o.settle_ms.unwrap_or(d.settle_ms),
        };
        Ok(WriterLease { lease: Lease::new(tab_id, config) })
    }

    /// `mode`: "wait" | "ifAvailable" | "steal" (anything else: "wait").
    pub fn request(&mut self, mode: &str, raw: Option<String>, now_ms: f64) -> JsValue {
        let current = LeaseRecord::parse(raw.as_deref());
        to_js(&self.lease.request(self::mode(mode), current.as_ref(), now_ms))
    }

    pub fn tick(&mut self, raw: Option<String>, now_ms: f64) -> JsValue {
        let current = LeaseRecord::parse(raw.as_deref());
        to_js(&self.lease.tick(current.as_ref(), now_ms))
    }

    pub fn release(&mut self, raw: Option<String>) -> JsValue {
        let current = LeaseRecord::parse(raw.as_deref());
        to_js(&self.lease.release(current.as_ref()))
    }

    pub fn holds(&self) -> bool {
        self.lease.holds()
    }

    pub fn phase(&self) -> JsValue {
        to_js(&self.lease.phase())
    }
}

/// The tab census of one tab (BroadcastChannel messages in, a snapshot out).
#[wasm_bindgen]
pub struct WriterCensus {
    census: Census,
}

fn role(s: &str) -> Role {
    match s {
        "writer" => Role::Writer,
        "waiting" => Role::Waiting,
        "lost" => Role::Lost,
        _ => Role::Idle,
    }
}

#[wasm_bindgen]
impl WriterCensus {
    #[wasm_bindgen(constructor)]
    pub fn new(tab_id: String) -> WriterCensus {
        WriterCensus { census: Census::new(tab_id) }
    }
    #[wasm_bindgen(js_name = setMyRole)]
    pub fn set_my_role(&mut self, r: &str) {
        self.census.set_my_role(role(r));
    }
    pub fn heard(&mut self, tab: &str, r: &str, now_ms: f64) {
        self.census.heard(tab, role(r), now_ms);
    }
    pub fn gone(&mut self, tab: &str) {
        self.census.gone(tab);
    }
    #[wasm_bindgen(js_name = forgetSilentSince)]
    pub fn forget_silent_since(&mut self, since_ms: f64) {
        self.census.forget_silent_since(since_ms);
    }
    pub fn snapshot(&self) -> JsValue {
        to_js(&self.census.snapshot())
    }
}
