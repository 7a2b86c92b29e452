//! matrix-crypto-guardian: see README.md.
pub mod model;
