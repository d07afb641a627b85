//! Hand-written `#[repr(C)]` bindings to the small part of FreeSWITCH 1.10's C API that mod_wacall uses.
//! Sizes and offsets were checked against the real 1.10.12 headers; `layout` tests and const asserts pin them.
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void};

/// `switch_status_t` (an enum: an `int` on every ABI FreeSWITCH supports).
pub type switch_status_t = c_int;
pub const SWITCH_STATUS_SUCCESS: switch_status_t = 0;
pub const SWITCH_STATUS_FALSE: switch_status_t = 1;
pub const SWITCH_STATUS_GENERR: switch_status_t = 9;
pub const SWITCH_STATUS_TERM: switch_status_t = 21;

/// `switch_module_interface_name_t`.
pub type switch_module_interface_name_t = c_int;
pub const SWITCH_APPLICATION_INTERFACE: switch_module_interface_name_t = 4;
pub const SWITCH_API_INTERFACE: switch_module_interface_name_t = 5;

/// `switch_bool_t`.
pub type switch_bool_t = c_int;
pub const SWITCH_FALSE: switch_bool_t = 0;
pub const SWITCH_TRUE: switch_bool_t = 1;

/// `switch_text_channel_t`: `SWITCH_CHANNEL_ID_LOG`.
pub const SWITCH_CHANNEL_ID_LOG: c_int = 0;

/// `switch_log_level_t` values used here.
pub const SWITCH_LOG_DEBUG: c_int = 7;
pub const SWITCH_LOG_INFO: c_int = 6;
pub const SWITCH_LOG_NOTICE: c_int = 5;
pub const SWITCH_LOG_WARNING: c_int = 4;
pub const SWITCH_LOG_ERROR: c_int = 3;

/// `switch_call_cause_t` values used here.
pub const SWITCH_CAUSE_INCOMPATIBLE_DESTINATION: c_int = 88;

/// `SWITCH_API_VERSION` of FreeSWITCH 1.10 (`switch_types.h`).
pub const SWITCH_API_VERSION: c_int = 5;
/// `SAF_SUPPORT_NOMEDIA`: the application may run on a channel without media (signalling only).
pub const SAF_SUPPORT_NOMEDIA: u32 = 1 << 0;
/// `SAF_ROUTING_EXEC`: the application may run in the routing (dialplan lookup) phase.
pub const SAF_ROUTING_EXEC: u32 = 1 << 1;

/// Opaque host objects: only ever handled through pointers.
#[repr(C)]
pub struct switch_loadable_module_interface_t {
    _private: [u8; 0],
}
#[repr(C)]
pub struct switch_memory_pool_t {
    _private: [u8; 0],
}
#[repr(C)]
pub struct switch_core_session_t {
    _private: [u8; 0],
}
#[repr(C)]
pub struct switch_channel_t {
    _private: [u8; 0],
}
/// `struct switch_xml` (switch_xml.h), up to `child`: only ever read through a host pointer. The same-name
/// sibling list (`next`) has no exported accessor (`switch_xml_idx` is not exported by libfreeswitch), so
/// mod_wacall reads the field, like FreeSWITCH's own `switch_xml_next()` macro does.
#[repr(C)]
pub struct switch_xml {
    pub name: *mut c_char,
    pub attr: *mut *mut c_char,
    pub txt: *mut c_char,
    pub free_path: *mut c_char,
    pub off: usize,
    pub next: switch_xml_t,
    pub sibling: switch_xml_t,
    pub ordered: switch_xml_t,
    pub child: switch_xml_t,
}
pub type switch_xml_t = *mut switch_xml;

pub type switch_module_load_t = unsafe extern "C" fn(
    module_interface: *mut *mut switch_loadable_module_interface_t,
    pool: *mut switch_memory_pool_t,
) -> switch_status_t;
pub type switch_module_shutdown_t = unsafe extern "C" fn() -> switch_status_t;
pub type switch_module_runtime_t = unsafe extern "C" fn() -> switch_status_t;

/// `switch_loadable_module_function_table_t`: what `mod_<name>_module_interface` holds.
#[repr(C)]
pub struct switch_loadable_module_function_table_t {
    pub switch_api_version: c_int,
    pub load: Option<switch_module_load_t>,
    pub shutdown: Option<switch_module_shutdown_t>,
    pub runtime: Option<switch_module_runtime_t>,
    pub flags: u32,
}

pub type switch_stream_handle_write_function_t = unsafe extern "C" fn(
    handle: *mut switch_stream_handle_t,
    fmt: *const c_char,
    ...
) -> switch_status_t;

/// `struct switch_stream_handle` (switch_module_interfaces.h).
#[repr(C)]
pub struct switch_stream_handle_t {
    pub read_function: *mut c_void,
    pub write_function: Option<switch_stream_handle_write_function_t>,
    pub raw_write_function: *mut c_void,
    pub data: *mut c_void,
    pub end: *mut c_void,
    pub data_size: usize,
    pub data_len: usize,
    pub alloc_len: usize,
    pub alloc_chunk: usize,
    pub param_event: *mut c_void,
}

pub type switch_api_function_t = unsafe extern "C" fn(
    cmd: *const c_char,
    session: *mut switch_core_session_t,
    stream: *mut switch_stream_handle_t,
) -> switch_status_t;

pub type switch_application_function_t =
    unsafe extern "C" fn(session: *mut switch_core_session_t, data: *const c_char);

/// `struct switch_api_interface` (switch_module_interfaces.h).
#[repr(C)]
pub struct switch_api_interface_t {
    pub interface_name: *const c_char,
    pub desc: *const c_char,
    pub function: Option<switch_api_function_t>,
    pub syntax: *const c_char,
    pub rwlock: *mut c_void,
    pub refs: c_int,
    pub reflock: *mut c_void,
    pub parent: *mut switch_loadable_module_interface_t,
    pub next: *mut switch_api_interface_t,
}

/// `struct switch_application_interface` (switch_module_interfaces.h).
#[repr(C)]
pub struct switch_application_interface_t {
    pub interface_name: *const c_char,
    pub application_function: Option<switch_application_function_t>,
    pub long_desc: *const c_char,
    pub short_desc: *const c_char,
    pub syntax: *const c_char,
    pub flags: u32,
    pub rwlock: *mut c_void,
    pub refs: c_int,
    pub reflock: *mut c_void,
    pub parent: *mut switch_loadable_module_interface_t,
    pub next: *mut switch_application_interface_t,
}

// Checked against FreeSWITCH 1.10.12's headers on x86_64 (see tests/layout.c and VERIFIED.md).
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(std::mem::size_of::<switch_loadable_module_function_table_t>() == 40);
    assert!(std::mem::size_of::<switch_stream_handle_t>() == 80);
    assert!(std::mem::offset_of!(switch_stream_handle_t, write_function) == 8);
    assert!(std::mem::offset_of!(switch_stream_handle_t, data) == 24);
    assert!(std::mem::offset_of!(switch_stream_handle_t, param_event) == 72);
    assert!(std::mem::size_of::<switch_api_interface_t>() == 72);
    assert!(std::mem::offset_of!(switch_api_interface_t, function) == 16);
    assert!(std::mem::offset_of!(switch_api_interface_t, syntax) == 24);
    assert!(std::mem::size_of::<switch_application_interface_t>() == 88);
    assert!(std::mem::offset_of!(switch_application_interface_t, application_function) == 8);
    assert!(std::mem::offset_of!(switch_application_interface_t, syntax) == 32);
    assert!(std::mem::offset_of!(switch_application_interface_t, flags) == 40);
    assert!(std::mem::offset_of!(switch_xml, next) == 40);
    assert!(std::mem::offset_of!(switch_xml, child) == 64);
};

// In the module these resolve against the FreeSWITCH binary at dlopen time; unit tests link `test_stubs` instead.
#[cfg(not(test))]
extern "C" {
    pub fn switch_loadable_module_create_module_interface(
        pool: *mut switch_memory_pool_t,
        name: *const c_char,
    ) -> *mut switch_loadable_module_interface_t;
    pub fn switch_loadable_module_create_interface(
        module: *mut switch_loadable_module_interface_t,
        iname: switch_module_interface_name_t,
    ) -> *mut c_void;

    pub fn switch_log_printf(
        channel: c_int,
        file: *const c_char,
        func: *const c_char,
        line: c_int,
        userdata: *const c_char,
        level: c_int,
        fmt: *const c_char,
        ...
    );

    pub fn switch_version_full() -> *const c_char;

    pub fn switch_core_session_get_channel(
        session: *mut switch_core_session_t,
    ) -> *mut switch_channel_t;
    pub fn switch_core_session_get_uuid(session: *mut switch_core_session_t) -> *mut c_char;
    pub fn switch_core_session_perform_locate(
        uuid: *const c_char,
        file: *const c_char,
        func: *const c_char,
        line: c_int,
    ) -> *mut switch_core_session_t;
    pub fn switch_core_session_rwunlock(session: *mut switch_core_session_t);
    pub fn switch_channel_perform_hangup(
        channel: *mut switch_channel_t,
        file: *const c_char,
        func: *const c_char,
        line: c_int,
        cause: c_int,
    ) -> c_int;
    pub fn switch_channel_get_variable_dup(
        channel: *mut switch_channel_t,
        varname: *const c_char,
        dup: switch_bool_t,
        idx: c_int,
    ) -> *const c_char;
    pub fn switch_channel_set_variable_var_check(
        channel: *mut switch_channel_t,
        varname: *const c_char,
        value: *const c_char,
        var_check: switch_bool_t,
    ) -> switch_status_t;

    pub fn switch_xml_open_cfg(
        file_path: *const c_char,
        node: *mut switch_xml_t,
        params: *mut c_void,
    ) -> switch_xml_t;
    pub fn switch_xml_child(xml: switch_xml_t, name: *const c_char) -> switch_xml_t;
    pub fn switch_xml_attr_soft(xml: switch_xml_t, attr: *const c_char) -> *const c_char;
    pub fn switch_xml_free(xml: switch_xml_t);
}

#[cfg(test)]
pub use test_stubs::*;

/// Stand-ins so unit-test executables link (they have no FreeSWITCH to resolve against). They do nothing:
/// unit tests exercise the safe layers through traits; the real calls are exercised by tests/abi_host.rs.
#[cfg(test)]
#[allow(clippy::missing_safety_doc)]
mod test_stubs {
    use super::*;
    use std::ptr::null_mut;

    pub unsafe fn switch_loadable_module_create_module_interface(
        _: *mut switch_memory_pool_t,
        _: *const c_char,
    ) -> *mut switch_loadable_module_interface_t {
        null_mut()
    }
    pub unsafe fn switch_loadable_module_create_interface(
        _: *mut switch_loadable_module_interface_t,
        _: switch_module_interface_name_t,
    ) -> *mut c_void {
        null_mut()
    }
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn switch_log_printf(
        _: c_int,
        _: *const c_char,
        _: *const c_char,
        _: c_int,
        _: *const c_char,
        _: c_int,
        _: *const c_char,
        _: *const c_char,
    ) {
    }
    pub unsafe fn switch_version_full() -> *const c_char {
        c"test".as_ptr()
    }
    pub unsafe fn switch_core_session_get_channel(
        _: *mut switch_core_session_t,
    ) -> *mut switch_channel_t {
        null_mut()
    }
    pub unsafe fn switch_core_session_get_uuid(_: *mut switch_core_session_t) -> *mut c_char {
        null_mut()
    }
    pub unsafe fn switch_core_session_perform_locate(
        _: *const c_char,
        _: *const c_char,
        _: *const c_char,
        _: c_int,
    ) -> *mut switch_core_session_t {
        null_mut()
    }
    pub unsafe fn switch_core_session_rwunlock(_: *mut switch_core_session_t) {}
    pub unsafe fn switch_channel_perform_hangup(
        _: *mut switch_channel_t,
        _: *const c_char,
        _: *const c_char,
        _: c_int,
        _: c_int,
    ) -> c_int {
        0
    }
    pub unsafe fn switch_channel_get_variable_dup(
        _: *mut switch_channel_t,
        _: *const c_char,
        _: switch_bool_t,
        _: c_int,
    ) -> *const c_char {
        std::ptr::null()
    }
    pub unsafe fn switch_channel_set_variable_var_check(
        _: *mut switch_channel_t,
        _: *const c_char,
        _: *const c_char,
        _: switch_bool_t,
    ) -> switch_status_t {
        SWITCH_STATUS_FALSE
    }
    pub unsafe fn switch_xml_open_cfg(
        _: *const c_char,
        _: *mut switch_xml_t,
        _: *mut c_void,
    ) -> switch_xml_t {
        null_mut()
    }
    pub unsafe fn switch_xml_child(_: switch_xml_t, _: *const c_char) -> switch_xml_t {
        null_mut()
    }
    pub unsafe fn switch_xml_attr_soft(_: switch_xml_t, _: *const c_char) -> *const c_char {
        c"".as_ptr()
    }
    pub unsafe fn switch_xml_free(_: switch_xml_t) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// The figures printed by a C program compiled against FreeSWITCH 1.10.12's own headers (tests/layout.c).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn layout_matches_freeswitch_1_10_12_headers() {
        assert_eq!(size_of::<switch_loadable_module_function_table_t>(), 40);
        assert_eq!(offset_of!(switch_loadable_module_function_table_t, load), 8);
        assert_eq!(
            offset_of!(switch_loadable_module_function_table_t, shutdown),
            16
        );
        assert_eq!(
            offset_of!(switch_loadable_module_function_table_t, runtime),
            24
        );
        assert_eq!(
            offset_of!(switch_loadable_module_function_table_t, flags),
            32
        );
        assert_eq!(size_of::<switch_stream_handle_t>(), 80);
        assert_eq!(offset_of!(switch_stream_handle_t, write_function), 8);
        assert_eq!(offset_of!(switch_stream_handle_t, data), 24);
        assert_eq!(offset_of!(switch_stream_handle_t, data_len), 48);
        assert_eq!(size_of::<switch_api_interface_t>(), 72);
        assert_eq!(offset_of!(switch_api_interface_t, desc), 8);
        assert_eq!(offset_of!(switch_api_interface_t, function), 16);
        assert_eq!(offset_of!(switch_api_interface_t, syntax), 24);
        assert_eq!(offset_of!(switch_api_interface_t, parent), 56);
        assert_eq!(offset_of!(switch_api_interface_t, next), 64);
        assert_eq!(size_of::<switch_application_interface_t>(), 88);
        assert_eq!(
            offset_of!(switch_application_interface_t, application_function),
            8
        );
        assert_eq!(offset_of!(switch_application_interface_t, long_desc), 16);
        assert_eq!(offset_of!(switch_application_interface_t, short_desc), 24);
        assert_eq!(offset_of!(switch_application_interface_t, syntax), 32);
        assert_eq!(offset_of!(switch_application_interface_t, flags), 40);
        assert_eq!(offset_of!(switch_application_interface_t, next), 80);
        assert_eq!(offset_of!(switch_xml, name), 0);
        assert_eq!(offset_of!(switch_xml, attr), 8);
        assert_eq!(offset_of!(switch_xml, txt), 16);
        assert_eq!(offset_of!(switch_xml, next), 40);
        assert_eq!(offset_of!(switch_xml, sibling), 48);
        assert_eq!(offset_of!(switch_xml, child), 64);
    }

    #[test]
    fn enum_values_match_headers() {
        assert_eq!(SWITCH_APPLICATION_INTERFACE, 4);
        assert_eq!(SWITCH_API_INTERFACE, 5);
        assert_eq!(SWITCH_STATUS_SUCCESS, 0);
        assert_eq!(SWITCH_STATUS_FALSE, 1);
        assert_eq!(SWITCH_STATUS_GENERR, 9);
        assert_eq!(SWITCH_STATUS_TERM, 21);
        assert_eq!(SWITCH_API_VERSION, 5);
        assert_eq!(SWITCH_CAUSE_INCOMPATIBLE_DESTINATION, 88);
    }
}
