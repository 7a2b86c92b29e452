//! The pure model: no browser, no I/O, clock passed in. Tested natively with `cargo test`.
//!
//! * [`conflict`]: classify a keys/upload answer (Synapse, Dendrite, fail-soft for the rest).
//! * [`upload`]: read a keys/upload request (key ids, device keys).
//! * [`breaker`]: the storm detector / circuit breaker state machine.
//! * [`diagnosis`]: which divergence (store loss, two writers, exhaustion) is behind a conflict.
//! * [`keys_query`]: this device's ed25519 key from a /keys/query answer.
//! * [`storm`]: ties upload, breaker, conflict and diagnosis together for the API layer.
//! * [`otk_health`]: one-time-key inflation and the server's cap on keys per device.
//! * [`writer`]: one crypto writer across tabs — lock name, the localStorage lease, the tab census.
//! * [`bot`]: the store-loss check and device replacement of headless hosts (bots in Node.js).

#[allow(unused_imports)]
use crate::prelude::*;

pub mod json;
pub mod sorted;
pub mod breaker;
pub mod conflict;
pub mod diagnosis;
pub mod upload;
pub mod keys_query;
pub mod storm;
pub mod journal;
pub mod redact;
pub mod report;
pub mod writer;
pub mod store_loss;
pub mod remedy;
pub mod bot;
pub mod otk_health;

pub use breaker::{
    Breaker, BreakerConfig, BreakerEvent, BreakerSnapshot, CloseReason, Decision, ObservedAnswer, ReopenReason, Step,
};
pub use conflict::{classify_upload_answer, Conflict, Homeserver, KeyKind, LoopCause, OtkLimit, SignedKey, UploadAnswer};
pub use diagnosis::{diagnose, Diagnosis, DiagnosisInput};
pub use upload::{key_ids_fingerprint, parse_upload_request, DeviceKeysSummary, ParsedUpload, UploadRequest};
