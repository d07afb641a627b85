//! The C ABI edge: the one panic boundary (`guard`) and the `wacall_*` exports that C hosts call.
//! Every export checks its arguments, converts them, calls the safe core and maps the result; nothing else lives here.
#![allow(unsafe_code)]

pub mod c_abi;
pub mod digest;
mod guard;
pub mod sdp;
pub mod sip;

pub use guard::{wacall_result, wacall_stats, WACALL_MAX_SDP, WACALL_MAX_SIP_STRING};
