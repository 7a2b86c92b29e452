//! Storm watch: reads every keys/upload and its answer, stops the "already exists" loop with a circuit
//! breaker that only ever replays the server's own last answer, and watches one-time-key health.
//!
//! * [`upload`]: read a keys/upload request (key ids, device keys).
//! * [`conflict`]: classify a keys/upload answer (Synapse, Dendrite, fail-soft for the rest).
//! * [`breaker`]: the circuit breaker state machine.
//! * [`otk_health`]: one-time-key inflation and the server's cap on keys per device.
//! * [`model`]: ties them together ([`StormWatch`]); `adapter`: its wasm surface in the lazily loaded watch
//!   module (the JS fetch tap loads it with the first keys/upload); [`idle`]: what the JS layer answers
//!   until then (`js/storm-idle.js`, written from the model).

pub mod breaker;
pub mod conflict;
pub mod model;
pub mod otk_health;
pub mod upload;
#[cfg(all(target_arch = "wasm32", feature = "watch"))]
pub mod adapter;
#[cfg(not(target_arch = "wasm32"))]
pub mod idle;

pub use breaker::{
    Breaker, BreakerConfig, BreakerEvent, BreakerSnapshot, CloseReason, Decision, ObservedAnswer, ReopenReason, Step,
};
pub use conflict::{classify_upload_answer, Conflict, Homeserver, KeyKind, LoopCause, OtkLimit, UploadAnswer};
pub use model::{StormConfig, StormWatch, UploadDecision};
pub use upload::{key_ids_fingerprint, parse_upload_request, DeviceKeysSummary, ParsedUpload, SignedKey, UploadRequest};
