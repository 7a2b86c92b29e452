//! Persistent storage on the browser's `navigator.storage` (web-sys `StorageManager`), following
//! [`super::model`]: `startPersistence(report)` at start, `request()` for the host (a gesture such as login),
//! the first-gesture listeners through gloo-events (RAII: removed once they fire, or by `stop()`).
//! `report(state)` gets `{ supported, persisted, outcome, usage, quota }` on every change.
//! Where there is no `navigator.storage` (WebKitGTK, insecure contexts, Node.js): "unsupported", nothing asked.

use std::rc::Rc;
use core::cell::{Cell, RefCell};

use gloo_events::{EventListener, EventListenerOptions};
use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{EventTarget, StorageManager};

use super::model::{self, AskedBy, Permission, StartPlan};
use crate::js_object::member;

struct State {
    supported: bool,
    persisted: Option<bool>,
    outcome: &'static str,
    usage: Option<f64>,
    quota: Option<f64>,
}

struct Inner {
    storage: Option<StorageManager>,
    report: js_sys::Function,
    state: RefCell<State>,
    /// The `persist()` in flight: a second ask while it runs shares it.
    asking: RefCell<Option<Promise>>,
    /// `click`/`keyup` on the global, capture phase: removed on the first one (or `stop()`).
    gesture: RefCell<Vec<EventListener>>,
    stopped: Cell<bool>,
}

/// The persistent-storage request of one guardian.
#[wasm_bindgen]
pub struct Persistence {
    inner: Rc<Inner>,
}

/// `navigator.storage` where it has both `persist` and `persisted` (window or worker).
fn storage_manager() -> Option<StorageManager> {
    let storage = member(&member(&js_sys::global(), "navigator"), "storage");
    let callable = |name| member(&storage, name).is_function();
    (storage.is_object() && callable("persist") && callable("persisted")).then(|| storage.unchecked_into())
}

async fn settle(promise: Result<Promise, JsValue>) -> Result<JsValue, JsValue> {
    JsFuture::from(promise?).await
}

/// "granted" | "denied" | "prompt" of `persistent-storage`, or unknown where the Permissions API cannot say.
async fn permission() -> Permission {
    let permissions = member(&member(&js_sys::global(), "navigator"), "permissions");
    if !member(&permissions, "query").is_function() {
        return Permission::Unknown;
    }
    let descriptor = Object::new();
    let _ = Reflect::set(&descriptor, &"name".into(), &"persistent-storage".into());
    let permissions: web_sys::Permissions = permissions.unchecked_into();
    match settle(permissions.query(&descriptor)).await {
        Ok(status) => Permission::from_state(member(&status, "state").as_string().as_deref()),
        Err(_) => Permission::Unknown,
    }
}

impl Inner {
    fn snapshot(&self) -> JsValue {
        let s = self.state.borrow();
        let out = Object::new();
        let num = |v: Option<f64>| v.map_or(JsValue::NULL, JsValue::from_f64);
        let _ = Reflect::set(&out, &"supported".into(), &JsValue::from_bool(s.supported));
        let _ = Reflect::set(&out, &"persisted".into(), &s.persisted.map_or(JsValue::NULL, JsValue::from_bool));
        let _ = Reflect::set(&out, &"outcome".into(), &JsValue::from_str(s.outcome));
        let _ = Reflect::set(&out, &"usage".into(), &num(s.usage));
        let _ = Reflect::set(&out, &"quota".into(), &num(s.quota));
        out.into()
    }

    fn report(&self) {
        if self.stopped.get() {
            return;
        }
        // The host's listener is JS: its failure is its own, never the guardian's.
        let _ = self.report.call1(&JsValue::NULL, &self.snapshot());
    }

    /// Sets the outcome, reads usage/quota (`estimate()` is optional) and reports.
    async fn publish(&self, outcome: &'static str) {
        self.state.borrow_mut().outcome = outcome;
        if let Some(storage) = &self.storage {
            if let Ok(estimate) = settle(storage.estimate()).await {
                let mut s = self.state.borrow_mut();
                s.usage = member(&estimate, "usage").as_f64();
                s.quota = member(&estimate, "quota").as_f64();
            }
        }
        self.report();
    }
}

/// `persist()` once (a second ask while one runs shares it); resolves to the state.
fn ask(inner: &Rc<Inner>, by: AskedBy) -> Promise {
    if let Some(running) = inner.asking.borrow().as_ref() {
        return running.clone();
    }
    let this = inner.clone();
    let promise = future_to_promise(async move {
        this.state.borrow_mut().outcome = model::ASKING;
        this.report();
        let granted = match &this.storage {
            Some(storage) => settle(storage.persist()).await.map(|v| v.as_bool() == Some(true)).unwrap_or(false),
            None => false,
        };
        this.state.borrow_mut().persisted = Some(granted);
        this.publish(model::asked_outcome(granted, by)).await;
        this.asking.borrow_mut().take();
        if model::ask_again_on_gesture(granted, by) {
            ask_on_gesture(&this);
        }
        Ok(this.snapshot())
    });
    *inner.asking.borrow_mut() = Some(promise.clone());
    promise
}

/// `click`/`keyup`, not `pointerdown`/`keydown`: the outcome must not land between a press and its release
/// (a host that shows it could move the very button the user is pressing).
fn ask_on_gesture(inner: &Rc<Inner>) {
    let global = js_sys::global();
    if inner.stopped.get() || !member(&global, "addEventListener").is_function() {
        return;
    }
    let target: EventTarget = global.unchecked_into();
    let options = EventListenerOptions::run_in_capture_phase();
    let listeners = ["click", "keyup"].map(|kind| {
        let this = inner.clone();
        EventListener::new_with_options(&target, kind, options, move |_| {
            // The first gesture removes both listeners (dropped: gloo removes them from the target).
            let fired = this.gesture.take();
            if model::ask_on_gesture(this.state.borrow().persisted) {
                let _ = ask(&this, AskedBy::Gesture);
            }
            drop(fired);
        })
    });
    inner.gesture.borrow_mut().extend(listeners);
}

/// Starts the persistent-storage request: reads `persisted()` and the permission, then asks now, asks on
/// the first gesture or reports, as the model says. `report(state)` is called with every outcome.
#[wasm_bindgen(js_name = startPersistence)]
pub fn start_persistence(report: js_sys::Function) -> Persistence {
    let storage = storage_manager();
    let supported = storage.is_some();
    let inner = Rc::new(Inner {
        storage,
        report,
        state: RefCell::new(State { supported, persisted: None, outcome: model::PENDING, usage: None, quota: None }),
        asking: RefCell::new(None),
        gesture: RefCell::new(Vec::new()),
        stopped: Cell::new(false),
    });
    if !supported {
        inner.state.borrow_mut().outcome = model::UNSUPPORTED;
        inner.report();
        return Persistence { inner };
    }
    let this = inner.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let persisted = match &this.storage {
            Some(storage) => settle(storage.persisted()).await.map(|v| v.as_bool() == Some(true)).unwrap_or(false),
            None => false,
        };
        let permission = if persisted { Permission::Unknown } else { permission().await };
        if this.state.borrow().outcome != model::PENDING {
            return; // asked meanwhile (request()): that answer stands
        }
        this.state.borrow_mut().persisted = Some(persisted);
        let plan = model::start_plan(persisted, permission);
        match plan {
            StartPlan::AskNow => {
                let _ = ask(&this, AskedBy::Start);
            }
            StartPlan::AwaitGesture => {
                this.publish(model::start_outcome(plan)).await;
                ask_on_gesture(&this);
            }
            StartPlan::AlreadyPersisted | StartPlan::ReportDenied => this.publish(model::start_outcome(plan)).await,
        }
    });
    Persistence { inner }
}

#[wasm_bindgen]
impl Persistence {
    /// Asks now (`guardian.requestPersistence()`, meant for a user gesture such as login); resolves to the
    /// state. Where the Storage API is missing: the state ("unsupported") at once.
    pub fn request(&self) -> Promise {
        if !self.inner.state.borrow().supported {
            return Promise::resolve(&self.inner.snapshot());
        }
        ask(&self.inner, AskedBy::Request)
    }

    /// `{ supported, persisted, outcome, usage, quota }` now.
    pub fn state(&self) -> JsValue {
        self.inner.snapshot()
    }

    /// Removes the gesture listeners; nothing more is reported.
    pub fn stop(&self) {
        self.inner.stopped.set(true);
        self.inner.gesture.take();
    }
}
