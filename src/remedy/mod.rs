//! Remedies: sign out or replace the device once the store is lost, and what a repair may do
//! ([`model`]); the same for headless hosts, bots in Node.js ([`headless`]).

pub mod headless;
pub mod model;
