//! The tab census over BroadcastChannel: how many tabs of this session are open and which one writes.
//! Messages `{ kind, tab, role }`: hello (a tab opened or came back), state (its role changed, or an answer
//! to hello/who), who (a roll call), bye (pagehide, stop), ping (a lease waiter asks the holder for a
//! heartbeat), stopped (a writer that lost the role stopped its engine). The counting is the model's
//! (`Census`).

use gloo_events::EventListener;
use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use web_sys::{BroadcastChannel, MessageEvent};

use crate::to_js;

use super::lock::{now_ms, object, with_weak, Shared};
use super::model::Role;

const CENSUS_PREFIX: &str = "matrix-crypto-guardian:census:";

/// The channel and its message listener; both go when this is dropped.
pub(super) struct CensusChannel {
    channel: BroadcastChannel,
    _listener: EventListener,
}

impl Drop for CensusChannel {
    fn drop(&mut self) {
        self.channel.close();
    }
}

fn text(message: &JsValue, key: &str) -> Option<String> {
    Reflect::get(message, &key.into()).ok()?.as_string()
}

impl Shared {
    /// Opens the channel (where BroadcastChannel exists) and says hello.
    pub(super) fn open_census(&mut self) {
        let Ok(channel) = BroadcastChannel::new(&[CENSUS_PREFIX, &self.name].concat()) else { return };
        let me = self.me.clone();
        let listener = EventListener::new(&channel, "message", move |e| {
            let Some(data) = e.dyn_ref::<MessageEvent>().map(MessageEvent::data) else { return };
            with_weak(&me, |s| s.heard(&data));
        });
        self.channel = Some(CensusChannel { channel, _listener: listener });
        self.post("hello");
    }

    fn heard(&mut self, message: &JsValue) {
        let Some(tab) = text(message, "tab").filter(|t| *t != self.tab_id) else { return };
        let kind = text(message, "kind").unwrap_or_default();
        if kind == "bye" {
            self.census.gone(&tab);
        } else if let Some(role) = text(message, "role") {
            self.census.heard(&tab, Role::parse(&role).unwrap_or(Role::Idle), now_ms());
        }
        match kind.as_str() {
            "hello" | "who" => self.post("state"),
            "ping" if self.lease.is_some() && self.role == Role::Writer => self.tick_lease(),
            "stopped" => self.old_writer_stopped(None),
            _ => {}
        }
    }

    pub(super) fn post(&self, kind: &str) {
        if let Some(c) = &self.channel {
            let message = object(&[("kind", kind.into()), ("tab", self.tab_id.as_str().into()), ("role", self.role.as_str().into())]);
            let _ = c.channel.post_message(&message); // a closed channel: nobody to tell
        }
    }

    /// `{ tabs, writer, waiting, conflictingWriters, me, writerIsMe }` (the model's shape).
    pub(super) fn census_js(&self) -> JsValue {
        to_js(&self.census.snapshot())
    }
}
