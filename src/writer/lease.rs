//! The localStorage lease, where `navigator.locks` is missing (older Safari, insecure contexts, some
//! webviews): an entry with a heartbeat, `storage` events that wake the waiters, a `pagehide` release. Its
//! decisions (claim, stale, steal, lost) are the model's (`Lease`, `super::model`); this file reads and
//! writes the entry (gloo-storage), listens for other tabs' writes (gloo-events) and keeps the one tick
//! timer the model asks for (gloo-timers).

use std::cell::RefCell;
use std::rc::Weak;

use gloo_events::EventListener;
use gloo_storage::{LocalStorage, Storage};
use gloo_timers::callback::Timeout;
use wasm_bindgen::JsCast;
use web_sys::{EventTarget, StorageEvent};

use super::lock::{now_ms, object, with_weak, Shared};
use super::model::{Lease, LeaseEvent, LeaseRecord, LeaseStep, LeaseWrite, Mode, Role};

const LEASE_KEY_PREFIX: &str = "matrix-crypto-guardian:lease:";

/// Whether this module carries the lease. Only a browser without Web Locks needs it, so the core leaves it
/// out (its `WriterLock` refuses to be made there) and such a page makes its `WriterLock` from the lease
/// module, which carries it (`js/index.js`). A constant, so the core links none of the lease's code.
pub(super) const LINKED: bool = cfg!(feature = "lease");

fn key(name: &str) -> String {
    [LEASE_KEY_PREFIX, name].concat()
}

/// Whether this page may use localStorage at all (an opaque origin or blocked storage throws on access,
/// and gloo-storage's `raw()` would throw too).
fn usable() -> bool {
    web_sys::window().is_some_and(|w| matches!(w.local_storage(), Ok(Some(_))))
}

fn read(key: &str) -> Option<String> {
    if !usable() {
        return None;
    }
    LocalStorage::raw().get_item(key).ok().flatten()
}

/// Whether a lease entry is there under this lock name (a live or a crashed holder's).
pub(super) fn entry_exists(name: &str) -> bool {
    read(&key(name)).is_some()
}

/// The lease's entry, and the `storage` listener that wakes this tab when another tab writes it.
pub(super) struct LeaseEntry {
    key: String,
    _listener: EventListener,
}

impl LeaseEntry {
    fn open(name: &str, me: Weak<RefCell<Shared>>) -> LeaseEntry {
        let key = key(name);
        let target: EventTarget = js_sys::global().unchecked_into();
        let watched = key.clone();
        let listener = EventListener::new(&target, "storage", move |e| {
            // This entry changed, or another tab cleared the whole storage (key null).
            let changed = e.dyn_ref::<StorageEvent>().map(StorageEvent::key);
            if changed.is_some_and(|k| k.is_none_or(|k| k == watched)) {
                with_weak(&me, Shared::tick_lease);
            }
        });
        LeaseEntry { key, _listener: listener }
    }

    /// The entry as it is now (anything unreadable: none, as the model reads it).
    fn current(&self) -> Option<LeaseRecord> {
        LeaseRecord::parse(read(&self.key).as_deref())
    }

    fn write(&self, write: &LeaseWrite) {
        if !usable() {
            return;
        }
        match write {
            // Storage full or blocked: the next tick retries.
            LeaseWrite::Put { record } => drop(LocalStorage::raw().set_item(&self.key, &record.to_json_string())),
            LeaseWrite::Remove => LocalStorage::delete(&self.key),
        }
    }
}

impl Shared {
    fn current_lease(&self) -> Option<LeaseRecord> {
        self.lease_entry.as_ref().and_then(LeaseEntry::current)
    }

    pub(super) fn request_lease(&mut self, mode: Mode) {
        if !LINKED {
            return;
        }
        if self.lease.is_none() {
            self.lease = Some(Lease::new(self.tab_id.clone(), self.lease_config));
            self.lease_entry = Some(LeaseEntry::open(&self.name, self.me.clone()));
        }
        let current = self.current_lease();
        let Some(lease) = self.lease.as_mut() else { return };
        let step = lease.request(mode, current.as_ref(), now_ms());
        self.apply_lease(step, Some(mode));
    }

    /// On the timer, on a `storage` event for the entry, on a ping from a waiter.
    pub(super) fn tick_lease(&mut self) {
        if !LINKED {
            return;
        }
        let current = self.current_lease();
        let Some(lease) = self.lease.as_mut() else { return };
        let step = lease.tick(current.as_ref(), now_ms());
        self.apply_lease(step, None);
    }

    /// Gives the lease up (release(), pagehide): the entry goes if it is still this tab's.
    pub(super) fn release_lease(&mut self) {
        if !LINKED {
            return;
        }
        let current = self.current_lease();
        let Some(lease) = self.lease.as_mut() else { return };
        let step = lease.release(current.as_ref());
        self.apply_lease(step, None);
    }

    /// Carries out one step of the model. `mode`: the request's, for a grant in this very step.
    fn apply_lease(&mut self, step: LeaseStep, mode: Option<Mode>) {
        if let (Some(write), Some(entry)) = (&step.write, &self.lease_entry) {
            entry.write(write);
        }
        // Set before the events: one of them may start the next request, whose own tick then wins.
        let me = self.me.clone();
        self.timer = step.next_tick_ms.map(|ms| Timeout::new(ms.ceil().max(0.0) as u32, move || {
            with_weak(&me, Shared::tick_lease);
        }));
        if step.ping {
            self.post("ping");
        }
        for event in step.events {
            match event {
                LeaseEvent::Acquired => self.granted(mode.unwrap_or(self.mode)),
                LeaseEvent::Unavailable { .. } => self.unavailable(),
                LeaseEvent::Lost { reason, by } => self.set_lost(reason.as_str(), Some(by)),
                LeaseEvent::Waiting { holder } => {
                    self.set_role(Role::Waiting);
                    let census = self.census.snapshot();
                    let detail = object(&[
                        ("mechanism", "lease".into()),
                        ("name", self.name.as_str().into()),
                        ("held", f64::from(u8::from(holder.is_some())).into()),
                        ("pending", (census.waiting.max(1) as f64).into()),
                        ("tabs", (census.tabs as f64).into()),
                    ]);
                    self.event("writer-waiting", detail);
                }
            }
        }
    }
}
