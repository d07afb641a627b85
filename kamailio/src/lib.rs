//! wacall as a Kamailio module: `loadmodule "wacall.so"` gives Kamailio's script and KEMI the functions to take and
//! place WhatsApp Business calls over Meta's SIP interface. Layers: `sys` (raw) < `host` (safe) < `calls` < `module`.
#![deny(unsafe_code)]

pub mod calls;
pub mod config;
pub mod host;
pub mod meta;
mod module;
pub mod relay;
pub mod sdp;
pub mod sys;
