//! mod_wacall: wacall as a FreeSWITCH 1.10 module (`load mod_wacall`): API commands, dialplan applications and
//! configuration for WhatsApp Business calls over Meta's SIP interface, on top of the wacall core.
//!
//! Layers: `sys` (hand-written C ABI), `host` (safe wrappers), `entry` (exported symbols and the one panic
//! boundary); `api`, `apps`, `config`, `meta`, `state` are plain safe Rust and know nothing of C.
#![deny(unsafe_code)]

pub mod api;
pub mod apps;
pub mod bridge;
pub mod config;
mod entry;
pub mod host;
pub mod meta;
pub mod state;
pub mod sys;
