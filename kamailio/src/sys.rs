//! Raw bindings to the installed Kamailio (bindgen over its Debian source package headers, see build.rs)
//! plus the C shim for what Kamailio only offers as macros. Nothing outside `host` should use this directly.
#![allow(unsafe_code)]
#![allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    dead_code,
    clippy::all
)]
#![allow(rustdoc::all, improper_ctypes)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

unsafe extern "C" {
    /// Logs `len` bytes at Kamailio level `level` (L_ERR..L_DBG) through LM_* with module name "wacall".
    pub fn wacall_shim_log(
        level: ::std::os::raw::c_int,
        msg: *const ::std::os::raw::c_char,
        len: ::std::os::raw::c_int,
    );
    pub fn wacall_shim_log_enabled(level: ::std::os::raw::c_int) -> ::std::os::raw::c_int;
    pub fn wacall_shim_pkg_malloc(size: ::std::os::raw::c_ulong) -> *mut ::std::os::raw::c_void;
    pub fn wacall_shim_pkg_free(p: *mut ::std::os::raw::c_void);
    pub fn wacall_shim_shm_malloc(size: ::std::os::raw::c_ulong) -> *mut ::std::os::raw::c_void;
    pub fn wacall_shim_shm_free(p: *mut ::std::os::raw::c_void);
    pub fn wacall_shim_ruri_mark_new();
    pub fn wacall_shim_load_tm(tmb: *mut tm_binds) -> ::std::os::raw::c_int;
}

#[cfg(test)]
mod layout {
    use super::*;
    /// The two figures FIELD-NOTES measured on Debian 12's Kamailio 5.6.3: a wrong define set moves them.
    #[test]
    fn sip_msg_layout_matches_kamailio_5_6_3() {
        if !env!("WACALL_KAM_MODULE_VERSION").starts_with("kamailio 5.6.3 (x86_64") {
            return;
        }
        assert_eq!(std::mem::size_of::<sip_msg>(), 2008);
        assert_eq!(std::mem::offset_of!(sip_msg, new_uri), 736);
        assert_eq!(std::mem::size_of::<module_exports>(), 80);
        assert_eq!(std::mem::size_of::<cmd_export_t>(), 48);
        assert_eq!(std::mem::size_of::<sr_kemi_t>(), 72);
    }
}
