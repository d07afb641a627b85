//! The C ABI edge: the one panic boundary and the `wacall_*` exports. Placeholder.
#![allow(unsafe_code)]
