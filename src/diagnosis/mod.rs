//! Diagnosis: which divergence (store loss, two writers, exhaustion) is behind a conflict.
//!
//! * [`model`]: the decision over the evidence; [`keys_query`]: this device's ed25519 key from a
//!   `/keys/query` answer. The evidence on the old key comes from the lazily loaded module.

pub mod keys_query;
pub mod model;

pub use model::{diagnose, Diagnosis, DiagnosisInput};
