//! The Meta-like peer's own STUN responder and DTLS server, shared by the `meta-peer` binary and the load
//! generator (`bench/loadgen`): written independently of wacall's `media::{stun,dtls}`, so the relay is checked
//! against code that is not its own.

pub mod dtls;
pub mod stun;
