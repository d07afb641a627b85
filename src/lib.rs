//! wacall: the pieces a SIP server needs to take and place WhatsApp Business calls over Meta's SIP interface.
//!
//! The core (`sip`, `digest`, `sdp`, `media`) is sans-IO: pure functions and state machines fed with time and bytes.
//! Only `relay` (the media driver) touches sockets, and only `ffi` and the host adapters touch C.
#![deny(unsafe_code)]

pub mod digest;
pub mod error;
pub mod ffi;
pub mod media;
pub mod relay;
pub mod sdp;
pub mod sip;

pub use error::{Error, Result};
