//! One crypto writer per session across tabs: the browser side, `WriterLock` (called by `js/index.js`).
//!
//! Web Locks where available: an exclusive lock, requested with `navigator.locks.request(name, {mode:
//! "exclusive", ifAvailable | steal}, callback)`, whose callback returns a promise that stays pending until
//! this tab lets the lock go (the browser releases it when the tab closes or crashes). A steal makes the
//! holder's request promise reject with AbortError: that is how the previous holder is told.
//! Where `navigator.locks` is missing (older Safari, insecure contexts, some webviews): the localStorage
//! lease of [`super::lease`], linked into the lease module only. Both report to the tab census of
//! [`super::census`].
//!
//! Events (through `emit`, as `[{ type, detail }]`): writer-acquired, writer-waiting, writer-lost. Whether
//! an acquire call makes, joins or supersedes a request, and the lease's every step, are the model's
//! decisions (`super::model`); this file holds the browser's handles and schedules.
//!
//! Every handle lives in [`Shared`]: the page listeners, the lease timer and the census channel are dropped
//! with it (gloo's RAII), and `stop()` ends all of them and lets the held lock go. Callbacks hold only a
//! `Weak` to it. JS is never called while `Shared` is borrowed: what would call JS (the `emit` callback, a
//! "stopped" post that must follow the writer-lost handlers) is queued as an [`Effect`] and run after.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_events::EventListener;
use gloo_timers::callback::Timeout;
use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, spawn_local, JsFuture};
use web_sys::{AbortController, EventTarget, LockManager, LockManagerSnapshot, LockMode, LockOptions, PageTransitionEvent};

use super::census::CensusChannel;
use super::lease::{self, LeaseEntry};
use super::model::{acquire_step, after_unavailable, AcquireStep, Census, Lease, LeaseConfig, Mode, Role};

/// How long a roll call waits for the other tabs' answers.
const ROLL_CALL_MS: u32 = 200;
/// After a steal, how long the new writer waits at most for the old one to say it stopped (a hung tab).
const STOPPED_ACK_MS: u32 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub(super) enum Mechanism {
    WebLocks,
    Lease,
}

impl Mechanism {
    fn as_str(self) -> &'static str {
        self.into()
    }
}

/// `navigator.locks` where it can be used (a page may have removed it, an engine may lack it).
fn lock_manager() -> Option<LockManager> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let locks = Reflect::get(&navigator, &"locks".into()).ok()?;
    let request = Reflect::get(&locks, &"request".into()).ok()?;
    request.is_function().then(|| locks.unchecked_into())
}

fn mechanism() -> Mechanism {
    if lock_manager().is_some() {
        Mechanism::WebLocks
    } else {
        Mechanism::Lease
    }
}

/// "web-locks" where navigator.locks can be used, else "lease".
#[wasm_bindgen(js_name = writerMechanism)]
pub fn writer_mechanism() -> String {
    mechanism().as_str().to_owned()
}

/// Resolves whether another tab is the writer under any of these lock names now (call it before this tab
/// asks for the lock): a Web Lock is held, or, on the fallback, a lease entry is there (a crashed holder's
/// entry counts too: callers use this only to stay out of the store). Any failure: false.
#[wasm_bindgen(js_name = writerHeldElsewhere)]
pub fn writer_held_elsewhere(names: Vec<String>) -> Promise {
    future_to_promise(async move {
        let held = match lock_manager() {
            Some(locks) => match JsFuture::from(locks.query()).await {
                Ok(snapshot) => lock_counts(&snapshot.unchecked_into(), |name| names.iter().any(|n| n == name)).0 > 0,
                Err(_) => false,
            },
            None => names.iter().any(|name| lease::entry_exists(name)),
        };
        Ok(held.into())
    })
}

/// (held, pending) locks of a query snapshot whose name passes `wanted`.
fn lock_counts(snapshot: &LockManagerSnapshot, wanted: impl Fn(&str) -> bool) -> (u32, u32) {
    let count = |list: Option<Array<web_sys::LockInfo>>| {
        list.map_or(0, |list| list.iter().filter(|l| l.get_name().is_some_and(|n| wanted(&n))).count() as u32)
    };
    (count(snapshot.get_held()), count(snapshot.get_pending()))
}

pub(super) fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or_else(js_sys::Date::now, |p| p.now())
}

fn new_tab_id() -> String {
    web_sys::window()
        .and_then(|w| w.crypto().ok())
        .map(|c| c.random_uuid())
        .unwrap_or_else(|| format!("{:x}-{:x}", js_sys::Date::now() as u64, (js_sys::Math::random() * 1e15) as u64))
}

/// A plain JS object from (name, value) pairs.
pub(super) fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (name, value) in fields {
        let _ = Reflect::set(&o, &(*name).into(), value);
    }
    o.into()
}

fn opt_str(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, JsValue::from)
}

/// A caller of `acquire()` waiting on the request under way.
pub(super) struct Waiter {
    mode: Mode,
    resolve: Function,
}

/// The one request under way. Whether a call makes, joins or supersedes it is the model's decision
/// (`acquire_step`). `id` tells a grant that arrives late (after a release or another request) from its own.
pub(super) struct Request {
    id: u32,
    mode: Mode,
    waiters: Vec<Waiter>,
}

/// What must run after `Shared` is no longer borrowed (it calls into JS, which may call back).
pub(super) enum Effect {
    Emit(JsValue),
    /// Posted after the effects before it (a "stopped" follows the writer-lost handlers).
    Post(&'static str),
    Settle(Vec<Waiter>, bool),
}

pub(super) struct Lost {
    reason: &'static str,
    by: Option<String>,
    at: f64,
}

pub(super) struct Shared {
    pub(super) me: Weak<RefCell<Shared>>,
    pub(super) name: String,
    pub(super) tab_id: String,
    pub(super) mechanism: Mechanism,
    emit: Function,
    pub(super) role: Role,
    since: Option<f64>,
    lost: Option<Lost>,
    request: Option<Request>,
    requests: u32,
    /// Bumped by every lock request and by release(): a lock callback of an earlier one lets its lock go.
    serial: u32,
    /// The mode of the current request (a lease grant arrives on a later tick).
    pub(super) mode: Mode,
    requested_at: f64,
    pub(super) effects: Vec<Effect>,
    stopped: bool,
    // web locks
    abort_pending: Option<AbortController>,
    release_held: Option<Function>,
    // A lock taken by a steal that this tab let go (released, or the steal superseded) before the old writer
    // said "stopped": it is handed on to a waiting tab only once the old writer has (or the wait timed out).
    hand_on: Option<Function>,
    // after a steal: (ack id, the request it would make a writer, if any) waiting for the old writer's
    // "stopped", and its timeout
    stopped_ack: Option<(u32, Option<u32>)>,
    acks: u32,
    ack_timeout: Option<Timeout>,
    // lease
    pub(super) lease_config: LeaseConfig,
    pub(super) lease: Option<Lease>,
    pub(super) lease_entry: Option<LeaseEntry>,
    pub(super) timer: Option<Timeout>,
    released_for_cache: bool,
    // census
    pub(super) census: Census,
    pub(super) channel: Option<CensusChannel>,
    page_listeners: Vec<EventListener>,
}

pub(super) type Cell = Rc<RefCell<Shared>>;

/// Runs `f` on the shared state, then its effects with the state no longer borrowed. `None` if the state
/// is gone or busy (a callback arriving while it is borrowed: never expected, and never a panic).
pub(super) fn with<R>(cell: &Cell, f: impl FnOnce(&mut Shared) -> R) -> Option<R> {
    let (out, effects) = {
        let mut s = cell.try_borrow_mut().ok()?;
        let out = f(&mut s);
        (out, core::mem::take(&mut s.effects))
    };
    run_effects(cell, effects);
    Some(out)
}

/// Not generic, so one copy serves every `with` (the wasm carries it once).
#[inline(never)]
fn run_effects(cell: &Cell, effects: Vec<Effect>) {
    for effect in effects {
        match effect {
            Effect::Emit(events) => {
                let emit = cell.try_borrow().ok().map(|s| s.emit.clone());
                if let Some(emit) = emit {
                    let _ = emit.call1(&JsValue::UNDEFINED, &events);
                }
            }
            Effect::Post(kind) => {
                if let Ok(s) = cell.try_borrow() {
                    s.post(kind);
                }
            }
            Effect::Settle(waiters, value) => {
                for waiter in waiters {
                    let _ = waiter.resolve.call1(&JsValue::UNDEFINED, &value.into());
                }
            }
        }
    }
}

/// The same from a callback's `Weak`.
pub(super) fn with_weak<R>(weak: &Weak<RefCell<Shared>>, f: impl FnOnce(&mut Shared) -> R) -> Option<R> {
    with(&weak.upgrade()?, f)
}

impl Shared {
    pub(super) fn event(&mut self, kind: &str, detail: JsValue) {
        let event = object(&[("type", kind.into()), ("detail", detail)]);
        self.effects.push(Effect::Emit(Array::of1(&event).into()));
    }

    fn start_request(&mut self, mode: Mode, waiters: Vec<Waiter>) {
        self.requests += 1;
        self.request = Some(Request { id: self.requests, mode, waiters });
        self.requested_at = now_ms();
        self.lost = None;
        self.mode = mode;
        match self.mechanism {
            Mechanism::WebLocks => self.request_lock(mode),
            Mechanism::Lease => self.request_lease(mode),
        }
    }

    // ---------------------------------------------------------------------------------------------
    // web locks

    fn request_lock(&mut self, mode: Mode) {
        let Some(locks) = lock_manager() else {
            // navigator.locks went away after the start (a page deleting it): nobody can be granted here.
            return self.settle(false);
        };
        self.serial += 1;
        let serial = self.serial;
        let options = LockOptions::new();
        options.set_mode(LockMode::Exclusive);
        // The spec allows a signal only without ifAvailable/steal; a pending wait gives way to a steal.
        match mode {
            Mode::IfAvailable => options.set_if_available(true),
            Mode::Steal => options.set_steal(true),
            Mode::Wait => {}
        }
        if let Some(pending) = self.abort_pending.take() {
            pending.abort();
        }
        if mode == Mode::Wait {
            if let Ok(controller) = AbortController::new() {
                options.set_signal(&controller.signal());
                self.abort_pending = Some(controller);
            }
        }
        // Called once by the lock manager (never, for a wait aborted first: that closure is the only leak).
        let me = self.me.clone();
        let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
            let held = with_weak(&me, |s| s.lock_callback(serial, mode, !lock.is_null() && !lock.is_undefined()));
            held.flatten().map_or_else(|| Promise::resolve(&JsValue::UNDEFINED).into(), Into::into)
        });
        let request = locks.request_with_options(&self.name, &options, callback.unchecked_ref());
        let me = self.me.clone();
        spawn_local(async move {
            if let Err(err) = JsFuture::from(request).await {
                with_weak(&me, |s| s.lock_request_failed(serial, &err));
            }
        });
        if mode == Mode::Wait {
            let me = self.me.clone();
            spawn_local(async move {
                let snapshot = JsFuture::from(locks.query()).await.ok();
                with_weak(&me, |s| s.report_waiting_lock(serial, snapshot.map(JsCast::unchecked_into)));
            });
        }
    }

    /// The lock manager's answer: `Some(promise)` to hold the lock until it resolves, `None` to let it go.
    fn lock_callback(&mut self, serial: u32, mode: Mode, granted: bool) -> Option<Promise> {
        if serial != self.serial || self.stopped {
            // Superseded by a later request, or released: let it go. But a lock taken by a steal may still be
            // in use by the old writer's engine, which learns of the steal asynchronously: hand it on only
            // once the old writer said "stopped", never straight to a waiting tab that would open the store.
            if mode == Mode::Steal && granted {
                let mut release = None;
                let held = Promise::new(&mut |resolve, _| release = Some(resolve));
                self.hand_on_after_old_writer(release);
                return Some(held);
            }
            return None;
        }
        self.abort_pending = None;
        if !granted {
            self.unavailable();
            return None;
        }
        // Kept before the writer-acquired handlers run, so a release() from one of them lets it go.
        let mut release = None;
        let held = Promise::new(&mut |resolve, _| release = Some(resolve));
        self.release_held = release;
        self.granted(mode);
        Some(held)
    }

    fn lock_request_failed(&mut self, serial: u32, err: &JsValue) {
        if serial != self.serial {
            return; // an aborted wait that a steal (or a release) replaced
        }
        let aborted = Reflect::get(err, &"name".into()).ok().and_then(|n| n.as_string()).is_some_and(|n| n == "AbortError");
        if self.role == Role::Writer && aborted {
            // Stolen: another tab used "Use here". This tab must stop writing.
            self.release_held = None;
            self.set_lost("stolen", None);
        } else if self.role != Role::Writer {
            self.settle(false);
            if self.role == Role::Waiting {
                self.set_role(Role::Idle);
            }
        }
    }

    fn report_waiting_lock(&mut self, serial: u32, snapshot: Option<LockManagerSnapshot>) {
        // The lock manager had its chance to grant it if it was free; then say we wait, with who holds and waits.
        if serial != self.serial || self.role == Role::Writer {
            return;
        }
        let (held, pending) = snapshot.map_or((0, 0), |s| lock_counts(&s, |n| n == self.name));
        // Nobody holds it: ours is being granted, there is no waiting to report.
        if held == 0 {
            return;
        }
        self.set_role(Role::Waiting);
        let tabs = self.census.snapshot().tabs as f64;
        let detail = object(&[
            ("mechanism", self.mechanism.as_str().into()),
            ("name", self.name.as_str().into()),
            ("held", held.into()),
            ("pending", pending.into()),
            ("tabs", tabs.into()),
        ]);
        self.event("writer-waiting", detail);
    }

    // ---------------------------------------------------------------------------------------------
    // shared by both mechanisms

    pub(super) fn granted(&mut self, mode: Mode) {
        if mode != Mode::Steal {
            return self.granted_now(mode);
        }
        // The old writer learns of the steal asynchronously; let it stop its engine (writer-lost handlers
        // run synchronously, then it posts "stopped") before this tab's engine starts.
        let Some(request) = self.request.as_ref().map(|r| r.id) else { return };
        self.wait_for_old_writer(Some(request));
    }

    /// Waits (at most STOPPED_ACK_MS) for the old writer's "stopped"; then `request`, if still wanted, makes
    /// this tab the writer, and a lock to hand on is let go (old_writer_stopped).
    fn wait_for_old_writer(&mut self, request: Option<u32>) {
        self.acks += 1;
        let ack = self.acks;
        self.stopped_ack = Some((ack, request));
        let me = self.me.clone();
        self.ack_timeout = Some(Timeout::new(STOPPED_ACK_MS, move || {
            with_weak(&me, |s| s.old_writer_stopped(Some(ack)));
        }));
    }

    /// `release` lets a lock taken by a steal go, once the old writer has stopped (see `hand_on`).
    fn hand_on_after_old_writer(&mut self, release: Option<Function>) {
        if let Some(earlier) = self.hand_on.take() {
            let _ = earlier.call0(&JsValue::UNDEFINED);
        }
        self.hand_on = release;
        match self.stopped_ack {
            // already waiting for it (this steal's own wait): it now makes no writer, it only hands on
            Some((ack, _)) => self.stopped_ack = Some((ack, None)),
            None => self.wait_for_old_writer(None),
        }
    }

    /// The old writer said "stopped" (`ack`: None), or the wait for it timed out (`ack`: its id).
    pub(super) fn old_writer_stopped(&mut self, ack: Option<u32>) {
        let Some((waiting, request)) = self.stopped_ack else { return };
        if ack.is_some_and(|a| a != waiting) {
            return;
        }
        self.stopped_ack = None;
        self.ack_timeout = None;
        if let Some(release) = self.hand_on.take() {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
        // Released meanwhile (or the role went to another tab): this request never makes a writer.
        if request.is_some() && self.request.as_ref().map(|r| r.id) == request {
            self.granted_now(Mode::Steal);
        }
    }

    fn granted_now(&mut self, mode: Mode) {
        self.since = Some(js_sys::Date::now());
        self.lost = None;
        self.set_role(Role::Writer);
        self.settle(true);
        let waited = (now_ms() - self.requested_at).round();
        let detail = object(&[
            ("mechanism", self.mechanism.as_str().into()),
            ("name", self.name.as_str().into()),
            ("tabId", self.tab_id.as_str().into()),
            ("mode", mode.as_str().into()),
            ("waitedMs", waited.into()),
        ]);
        self.event("writer-acquired", detail);
    }

    pub(super) fn set_lost(&mut self, reason: &'static str, by: Option<String>) {
        self.settle(false); // a steal of ours still waiting for its grant is over too
        let detail = object(&[
            ("mechanism", self.mechanism.as_str().into()),
            ("name", self.name.as_str().into()),
            ("reason", reason.into()),
            ("by", opt_str(by.as_deref())),
        ]);
        self.lost = Some(Lost { reason, by, at: js_sys::Date::now() });
        self.set_role(Role::Lost);
        self.timer = None;
        self.event("writer-lost", detail);
        self.effects.push(Effect::Post("stopped")); // after the writer-lost handlers stopped the engine
    }

    /// The request under way is over: granted (true for every caller) or not (false).
    fn settle(&mut self, value: bool) {
        if let Some(request) = self.request.take() {
            self.effects.push(Effect::Settle(request.waiters, value));
        }
    }

    /// The request came back "held elsewhere" (an ifAvailable): its ifAvailable callers get false; callers
    /// who joined it wanting to wait (or steal) get a request of their own (`after_unavailable`).
    pub(super) fn unavailable(&mut self) {
        let Some(request) = self.request.take() else { return };
        let (gave_up, still): (Vec<Waiter>, Vec<Waiter>) = request.waiters.into_iter().partition(|w| w.mode == Mode::IfAvailable);
        self.effects.push(Effect::Settle(gave_up, false));
        let modes: Vec<Mode> = still.iter().map(|w| w.mode).collect();
        if let Some(next) = after_unavailable(&modes) {
            self.start_request(next, still);
        }
    }

    pub(super) fn set_role(&mut self, role: Role) {
        if self.role == role {
            return;
        }
        self.role = role;
        self.census.set_my_role(role);
        self.post("state");
    }

    fn release(&mut self) {
        self.serial += 1; // a lock callback of an earlier request now lets its lock go at once
        if let Some(pending) = self.abort_pending.take() {
            pending.abort();
        }
        match self.release_held.take() {
            // a steal still waiting for the old writer's "stopped": ungranted now, its lock handed on after it
            Some(release) if self.stopped_ack.is_some() => self.hand_on_after_old_writer(Some(release)),
            Some(release) => drop(release.call0(&JsValue::UNDEFINED)),
            None => {
                // a lease steal waiting for the old writer ends here, ungranted
                if self.hand_on.is_none() {
                    self.stopped_ack = None;
                    self.ack_timeout = None;
                }
            }
        }
        self.release_lease();
        self.timer = None;
        self.settle(false);
        self.set_role(Role::Idle);
    }

    fn on_page_hide(&mut self, persisted: bool) {
        // Release at once so a waiting tab takes over without waiting for the document's teardown (Web Locks)
        // or for the lease to go stale. A page entering the back/forward cache keeps its Web Lock (Chromium
        // does not cache pages that hold one).
        if !persisted {
            if let Some(release) = self.release_held.take() {
                let _ = release.call0(&JsValue::UNDEFINED);
            }
        }
        if self.lease.is_some() && self.role == Role::Writer {
            self.release_lease();
            self.released_for_cache = true;
        }
        self.post("bye");
    }

    fn on_page_show_from_cache(&mut self) {
        // Back from the back/forward cache after pagehide released the lease: another tab may write now.
        if self.released_for_cache {
            self.released_for_cache = false;
            self.set_lost("suspended", None);
        }
        self.post("hello");
    }

    fn state(&self) -> JsValue {
        let lost = self.lost.as_ref().map_or(JsValue::NULL, |l| {
            object(&[("reason", l.reason.into()), ("by", opt_str(l.by.as_deref())), ("at", l.at.into())])
        });
        object(&[
            ("mechanism", self.mechanism.as_str().into()),
            ("name", self.name.as_str().into()),
            ("tabId", self.tab_id.as_str().into()),
            ("role", self.role.as_str().into()),
            ("isWriter", (self.role == Role::Writer).into()),
            ("since", self.since.map_or(JsValue::NULL, JsValue::from)),
            ("lost", lost),
            ("census", self.census_js()),
        ])
    }

    /// Lets everything go: the lock, the timers, the listeners, the census channel.
    fn stop(&mut self) {
        self.release();
        self.post("bye");
        self.stopped = true;
        self.page_listeners.clear();
        self.lease_entry = None;
        self.channel = None;
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // A WriterLock dropped without stop() (its JS object collected): its lock goes with it.
        for release in [self.release_held.take(), self.hand_on.take()].into_iter().flatten() {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
    }
}

/// The writer lock of one tab (`guardian.acquireWriter()`, `releaseWriter()`, `writer()`, `writerCensus()`).
#[wasm_bindgen]
pub struct WriterLock {
    cell: Cell,
}

#[wasm_bindgen]
impl WriterLock {
    /// `name`: the lock's name (`writerLockName`); `emit(events)`: receives `[{ type, detail }]`;
    /// `options`: `{ heartbeatMs?, staleAfterMs?, settleMs? }` of the lease fallback (tests make it fast).
    /// Throws where the page has no Web Locks and this module does not carry the lease (the core).
    #[wasm_bindgen(constructor)]
    pub fn new(name: String, emit: Function, options: JsValue) -> Result<WriterLock, JsError> {
        let mechanism = mechanism();
        if mechanism == Mechanism::Lease && !lease::LINKED {
            return Err(JsError::new("no Web Locks here: the lease is the lease module's WriterLock"));
        }
        let d = LeaseConfig::default();
        let ms = |key: &str, default: f64| {
            let v = Reflect::get(&options, &key.into()).ok().and_then(|v| v.as_f64());
            v.filter(|v| v.is_finite() && *v >= 0.0).unwrap_or(default)
        };
        let lease_config = LeaseConfig {
            heartbeat_ms: ms("heartbeatMs", d.heartbeat_ms),
            stale_after_ms: ms("staleAfterMs", d.stale_after_ms),
            settle_ms: ms("settleMs", d.settle_ms),
        };
        let tab_id = new_tab_id();
        let cell = Rc::new_cyclic(|me| {
            RefCell::new(Shared {
                me: me.clone(),
                census: Census::new(tab_id.clone()),
                name,
                tab_id,
                mechanism,
                emit,
                role: Role::Idle,
                since: None,
                lost: None,
                request: None,
                requests: 0,
                serial: 0,
                mode: Mode::Wait,
                requested_at: 0.0,
                effects: Vec::new(),
                stopped: false,
                abort_pending: None,
                release_held: None,
                hand_on: None,
                stopped_ack: None,
                acks: 0,
                ack_timeout: None,
                lease_config,
                lease: None,
                lease_entry: None,
                timer: None,
                released_for_cache: false,
                channel: None,
                page_listeners: Vec::new(),
            })
        });
        with(&cell, |s| {
            s.open_census();
            let target: EventTarget = js_sys::global().unchecked_into();
            let persisted = |e: &web_sys::Event| e.dyn_ref::<PageTransitionEvent>().is_some_and(|e| e.persisted());
            let me = s.me.clone();
            s.page_listeners.push(EventListener::new(&target, "pagehide", move |e| {
                let persisted = persisted(e);
                with_weak(&me, |s| s.on_page_hide(persisted));
            }));
            let me = s.me.clone();
            s.page_listeners.push(EventListener::new(&target, "pageshow", move |e| {
                if persisted(e) {
                    with_weak(&me, Shared::on_page_show_from_cache);
                }
            }));
        });
        Ok(WriterLock { cell })
    }

    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.cell.try_borrow().map(|s| s.name.clone()).unwrap_or_default()
    }

    /// `{ mechanism, name, tabId, role, isWriter, since, lost, census }`
    pub fn state(&self) -> JsValue {
        self.cell.try_borrow().map_or(JsValue::NULL, |s| s.state())
    }

    /// Resolves true once this tab is the writer, false for "ifAvailable" when another tab holds it (and for
    /// every request that a release() or stop() ends). `mode`: "wait" | "ifAvailable" | "steal".
    pub fn acquire(&self, mode: &str) -> Promise {
        let mode = Mode::parse(mode).unwrap_or(Mode::Wait);
        let step = with(&self.cell, |s| {
            if s.stopped {
                return AcquireStep::Unavailable;
            }
            acquire_step(s.role == Role::Writer, s.request.as_ref().map(|r| r.mode), mode)
        });
        match step {
            Some(AcquireStep::AlreadyWriter) => return Promise::resolve(&JsValue::TRUE),
            Some(AcquireStep::Unavailable) | None => return Promise::resolve(&JsValue::FALSE), // the wait under way goes on
            _ => {}
        }
        let mut resolve = None;
        let promise = Promise::new(&mut |r, _| resolve = Some(r));
        let Some(resolve) = resolve else { return Promise::resolve(&JsValue::FALSE) };
        with(&self.cell, |s| {
            let waiter = Waiter { mode, resolve };
            match (step, s.request.as_mut()) {
                (Some(AcquireStep::Join), Some(request)) => request.waiters.push(waiter),
                (Some(AcquireStep::Supersede), Some(request)) => {
                    let mut waiters = core::mem::take(&mut request.waiters);
                    waiters.push(waiter);
                    s.start_request(mode, waiters);
                }
                _ => s.start_request(mode, vec![waiter]),
            }
        });
        promise
    }

    /// Gives the role up (or stops waiting for it). A grant still on its way for the old request is void.
    pub fn release(&self) {
        with(&self.cell, Shared::release);
    }

    /// release(), and every listener, timer and the census channel go: nothing of this lock runs afterwards
    /// (`Guardian.stop()`). acquire() then resolves false.
    pub fn stop(&self) {
        with(&self.cell, Shared::stop);
    }

    /// A roll call over the census channel: every open tab of this session answers within ~200 ms.
    pub fn census(&self) -> Promise {
        let since = now_ms();
        with(&self.cell, |s| s.post("who"));
        let me = Rc::downgrade(&self.cell);
        future_to_promise(async move {
            gloo_timers::future::TimeoutFuture::new(ROLL_CALL_MS).await;
            Ok(with_weak(&me, |s| {
                s.census.forget_silent_since(since);
                s.census_js()
            })
            .unwrap_or(JsValue::NULL))
        })
    }
}
