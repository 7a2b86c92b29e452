//! The remedy decisions (`crate::remedy::model`), exported from the lazily loaded watch module (they run
//! only after trouble, so they stay out of the core wasm every page fetches). Translation only; values cross typed, through
//! serde-wasm-bindgen (the models' serde shapes as plain JS objects, JS objects read into model types).
//! Nothing here can panic on caller input.
use crate::to_js;
use serde::Deserialize;
use crate::remedy::model::{
    backup_fact, cross_signing_fact, deletion_plan, is_offered, logout_outcome, offers, preset_stores, presence_fact,
    session_plan, should_prompt, snooze_until, token_check, Cause, DeletionPlan, Drain, DrainInput, Facts, LogoutOutcome, Remedy,
};
use wasm_bindgen::prelude::*;

// The shapes of what the remedy decisions return, for the generated .d.ts (js/index.d.ts re-exports them).
#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r##"
export type Known = "yes" | "no" | "unknown";
export type RemedyName = "export-keys" | "sign-out" | "repair" | "continue" | "snooze";
export type Loss = "unbacked-history" | "maybe-history" | "this-device" | "messages-to-lost-keys" | "storm-continues";
/** The facts shown before any choice. */
export interface RecoveryFacts {
  /** GET /room_keys/version. */
  keyBackup: Known;
  keyBackupVersion: string | null;
  /** m.secret_storage.default_key in account data. */
  secretStorage: Known;
  /** A master cross-signing key on /keys/query (or m.cross_signing.master in account data). */
  crossSigning: Known;
  /** This device signed by its owner (the SDK's verification status when a client is attached). */
  deviceVerified: Known;
  /** Room keys an export would contain (null: not known). */
  exportableKeys: number | null;
}
export interface RemedyOffer {
  remedy: RemedyName;
  recommended: boolean;
  /** What choosing it loses; the prompt says each in words. */
  loses: Loss[];
}
export type LogoutOutcome =
  | { outcome: "signed-out" }
  /** `error`: the server's text — show it as text only. */
  | { outcome: "failed"; status: number; errcode: string | null; error: string | null }
  | { outcome: "unreachable"; reason: string }
  /** No token the guardian could confirm as this device's own (none found, refused, another device's): /logout was not sent. */
  | { outcome: "unconfirmed"; reason: string };
"##;

fn facts_of(facts: JsValue) -> Facts {
    serde_wasm_bindgen::from_value(facts).unwrap_or_default()
}

/// The remedies offered for a cause (`"store-lost"` or a diagnosis kind) and the facts, best first:
/// `[{ remedy, recommended, loses: [...] }]`.
#[wasm_bindgen(js_name = remedyOffers, unchecked_return_type = "RemedyOffer[]")]
pub fn remedy_offers(cause: &str, facts: JsValue) -> JsValue {
    to_js(&offers(Cause::parse(cause), &facts_of(facts)))
}

/// Is the named remedy offered now? (`runRemedy` refuses anything else.)
#[wasm_bindgen(js_name = remedyAllowed)]
pub fn remedy_allowed(cause: &str, facts: JsValue, name: &str) -> bool {
    Remedy::parse(name).is_some_and(|r| is_offered(Cause::parse(cause), &facts_of(facts), r))
}

/// `GET /room_keys/version` → `{ known: "yes"|"no"|"unknown", version }`.
#[wasm_bindgen(js_name = backupFact, unchecked_return_type = "{ known: Known; version: string | null }")]
pub fn backup_fact_js(status: u16, body: &[u8]) -> JsValue {
    let (known, version) = backup_fact(status, body);
    to_js(&serde_json::json!({ "known": known, "version": version }))
}

/// An account-data read → `"yes"|"no"|"unknown"`.
#[wasm_bindgen(js_name = presenceFact, unchecked_return_type = "Known")]
pub fn presence_fact_js(status: u16, body: &[u8]) -> JsValue {
    to_js(&presence_fact(status, body))
}

/// Own `/keys/query` → `{ crossSigning, deviceVerified }`.
#[wasm_bindgen(js_name = crossSigningFact, unchecked_return_type = "{ crossSigning: Known; deviceVerified: Known }")]
pub fn cross_signing_fact_js(status: u16, body: &[u8], user_id: &str, device_id: &str) -> JsValue {
    let (cross_signing, device_verified) = cross_signing_fact(status, body, user_id, device_id);
    to_js(&serde_json::json!({ "crossSigning": cross_signing, "deviceVerified": device_verified }))
}

/// Is the token found this device's own? From `GET /account/whoami` (`has_token` false: none found).
/// `null` when confirmed (send `/logout`), else the sign-out's outcome `{ outcome: "unconfirmed"|"failed"|"unreachable", … }`.
#[wasm_bindgen(js_name = tokenCheck, unchecked_return_type = "LogoutOutcome | null")]
pub fn token_check_js(has_token: bool, status: u16, body: &[u8], network_error: Option<String>, user_id: &str, device_id: &str) -> JsValue {
    to_js(&token_check(has_token, status, body, network_error.as_deref(), user_id, device_id))
}

/// `POST /logout`'s answer (`status` 0: none), sent with a token `tokenCheck` confirmed or not →
/// `{ outcome: "signed-out"|"failed"|"unreachable"|"unconfirmed", … }`.
#[wasm_bindgen(js_name = logoutOutcome, unchecked_return_type = "LogoutOutcome")]
pub fn logout_outcome_js(status: u16, body: &[u8], network_error: Option<String>, token_confirmed: bool) -> JsValue {
    to_js(&logout_outcome(status, body, network_error.as_deref(), token_confirmed))
}

/// `deletionPlan`'s `session`: the origin's databases, this session's own store, the other sessions' stores.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct SessionStores {
    databases: Vec<String>,
    own_store: Option<String>,
    others: Vec<String>,
    user_id: String,
}

/// What may be deleted: the host's plan as it is, or the preset's narrowed to this session's own stores
/// (`session`: `{ databases, ownStore, others, userId }`, see `session_plan`), after a server sign-out or
/// an explicit "clear anyway"; `null` otherwise.
#[wasm_bindgen(js_name = deletionPlan)]
pub fn deletion_plan_js(signed_out: bool, clear_anyway: bool, preset: &str, host_plan: JsValue, session: JsValue) -> JsValue {
    let plan = serde_wasm_bindgen::from_value::<Option<DeletionPlan>>(host_plan).ok().flatten().unwrap_or_else(|| {
        let s: SessionStores = serde_wasm_bindgen::from_value(session).unwrap_or_default();
        session_plan(preset_stores(preset), &s.databases, s.own_store.as_deref(), &s.others, &s.user_id)
    });
    let outcome = if signed_out { LogoutOutcome::SignedOut } else { LogoutOutcome::Unreachable { reason: String::new() } };
    to_js(&deletion_plan(&outcome, clear_anyway, plan))
}

/// The preset's stores (shown to the user before "clear anyway").
#[wasm_bindgen(js_name = presetStores)]
pub fn preset_stores_js(preset: &str) -> JsValue {
    to_js(&preset_stores(preset))
}

#[wasm_bindgen(js_name = snoozeUntil)]
pub fn snooze_until_js(now_ms: f64, requested_ms: Option<f64>) -> f64 {
    snooze_until(now_ms, requested_ms)
}

#[wasm_bindgen(js_name = shouldPrompt)]
pub fn should_prompt_js(snoozed_until: Option<f64>, now_ms: f64, new_server_conflict: bool) -> bool {
    should_prompt(snoozed_until, now_ms, new_server_conflict)
}

/// The repair drain loop. `first()`, then feed each answer to `count()` / `claimed()`; each returns the
/// next `{ action: "count"|"claim"|"done"|"stop", claimed?, reason? }`.
#[wasm_bindgen]
pub struct RemedyDrain {
    drain: Drain,
}

#[wasm_bindgen]
impl RemedyDrain {
    #[wasm_bindgen(constructor)]
    pub fn new(user_id: &str, device_id: &str) -> RemedyDrain {
        RemedyDrain { drain: Drain::new(user_id, device_id) }
    }
    pub fn first(&self) -> JsValue {
        to_js(&self.drain.first())
    }
    pub fn count(&mut self, status: u16, body: &[u8]) -> JsValue {
        to_js(&self.drain.next(DrainInput::Count { status, body }))
    }
    pub fn claimed(&mut self, status: u16, body: &[u8]) -> JsValue {
        to_js(&self.drain.next(DrainInput::Claimed { status, body }))
    }
    /// `{ claimed, initial, remaining }`.
    pub fn progress(&self) -> JsValue {
        to_js(&self.drain.progress())
    }
}
