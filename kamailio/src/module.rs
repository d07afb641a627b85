//! The symbols Kamailio looks for in wacall.so (`exports`, `module_version`, `module_flags`, `mod_register`) and the
//! thin `extern "C"` entry points: each converts arguments, calls `calls`, and maps the result inside one guard.
#![allow(unsafe_code)]
#![allow(non_upper_case_globals)]

use std::ffi::{c_char, c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{null, null_mut};

use crate::calls::{self, CallError, Direction, Stat};
use crate::host::{self, Msg, Rpc};
use crate::sys;

/// A `char *` global as Kamailio's loader reads it (`*(char **)dlsym(...)`).
#[repr(transparent)]
pub struct CStrPtr(*const c_char);

// SAFETY: points at an immutable static string.
unsafe impl Sync for CStrPtr {}

/// The ABI identity, read from the installed `kamailio -v` at build time (build.rs).
#[no_mangle]
pub static module_version: CStrPtr =
    CStrPtr(concat!(env!("WACALL_KAM_MODULE_VERSION"), "\0").as_ptr() as *const c_char);
#[no_mangle]
pub static module_flags: CStrPtr =
    CStrPtr(concat!(env!("WACALL_KAM_MODULE_FLAGS"), "\0").as_ptr() as *const c_char);

/// The one panic boundary: every entry point runs its body here; a panic becomes `on_panic` and a log line.
fn guard(on_panic: c_int, f: impl FnOnce() -> c_int) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => {
            calls::bump(Stat::Panics);
            log::error!("internal error (panic caught at the module boundary)");
            on_panic
        }
    }
}

/// Kamailio's convention: >0 true, <0 false; -2 marks an error (logged), never 0 (which would stop the script).
fn map(name: &str, r: Result<bool, CallError>) -> c_int {
    match r {
        Ok(true) => 1,
        Ok(false) => -1,
        Err(e) => {
            calls::bump(Stat::Errors);
            log::error!("{name}: {e}");
            -2
        }
    }
}

fn with_msg(
    name: &str,
    msg: *mut sys::sip_msg,
    f: impl FnOnce(&mut Msg) -> Result<bool, CallError>,
) -> c_int {
    guard(-2, || {
        // SAFETY: msg is the message Kamailio passed to this function.
        match unsafe { Msg::from_raw(msg) } {
            Some(mut m) => map(name, f(&mut m)),
            None => -2,
        }
    })
}

/// Reads a fixed-up `spve` parameter (string with variables) for this message.
///
/// # Safety
/// `p` is the parameter fixed up by `fixup_spve_null` for this function.
unsafe fn svalue(msg: *mut sys::sip_msg, p: *mut c_char) -> Result<String, CallError> {
    if p.is_null() {
        return Err(CallError::Usage("missing parameter".into()));
    }
    let mut s = sys::str_ {
        s: null_mut(),
        len: 0,
    };
    // SAFETY: per the contract, p is a gparam_t made by fixup_spve_null.
    if unsafe { sys::get_str_fparam(&mut s, msg, p as *mut sys::fparam_t) } != 0 {
        return Err(CallError::Usage("cannot evaluate parameter".into()));
    }
    // SAFETY: fixup_get_svalue returns a valid str (pv buffer) until the next evaluation.
    Ok(String::from_utf8_lossy(unsafe { host::str_bytes(&s) }).into_owned())
}

// ---- cfg functions (native script) ----

unsafe extern "C" fn w_to_meta0(msg: *mut sys::sip_msg, _: *mut c_char, _: *mut c_char) -> c_int {
    with_msg("wacall_to_meta", msg, |m| calls::to_meta(m, None))
}

unsafe extern "C" fn w_to_meta1(msg: *mut sys::sip_msg, p1: *mut c_char, _: *mut c_char) -> c_int {
    with_msg("wacall_to_meta", msg, |m| {
        // SAFETY: p1 was fixed up by fixup_spve_null (cmd table below).
        let n = unsafe { svalue(m.raw(), p1) }?;
        calls::to_meta(m, Some(&n))
    })
}

unsafe extern "C" fn w_from_meta(msg: *mut sys::sip_msg, _: *mut c_char, _: *mut c_char) -> c_int {
    with_msg("wacall_from_meta", msg, calls::from_meta)
}

unsafe extern "C" fn w_is_meta(msg: *mut sys::sip_msg, _: *mut c_char, _: *mut c_char) -> c_int {
    with_msg("wacall_is_meta", msg, calls::is_meta)
}

unsafe extern "C" fn w_auth(msg: *mut sys::sip_msg, _: *mut c_char, _: *mut c_char) -> c_int {
    with_msg("wacall_auth", msg, calls::auth)
}

unsafe extern "C" fn w_sdp(msg: *mut sys::sip_msg, p1: *mut c_char, _: *mut c_char) -> c_int {
    with_msg("wacall_sdp", msg, |m| {
        // SAFETY: p1 was fixed up by fixup_spve_null.
        let d = Direction::parse(&unsafe { svalue(m.raw(), p1) }?)?;
        calls::sdp(m, d)
    })
}

unsafe extern "C" fn w_sdp_to_pbx(msg: *mut sys::sip_msg, _: *mut c_char, _: *mut c_char) -> c_int {
    with_msg("wacall_sdp_to_pbx", msg, |m| {
        calls::sdp(m, Direction::ToPbx)
    })
}

unsafe extern "C" fn w_sdp_to_meta(
    msg: *mut sys::sip_msg,
    _: *mut c_char,
    _: *mut c_char,
) -> c_int {
    with_msg("wacall_sdp_to_meta", msg, |m| {
        calls::sdp(m, Direction::ToMeta)
    })
}

unsafe extern "C" fn w_relay_delete(
    msg: *mut sys::sip_msg,
    _: *mut c_char,
    _: *mut c_char,
) -> c_int {
    with_msg("wacall_relay_delete", msg, calls::relay_delete)
}

// ---- KEMI ----

/// # Safety
/// `s` is null or a valid Kamailio str.
unsafe fn kemi_str(s: *mut sys::str_) -> Result<String, CallError> {
    if s.is_null() {
        return Err(CallError::Usage("missing parameter".into()));
    }
    // SAFETY: KEMI passes a valid str for the call.
    Ok(String::from_utf8_lossy(unsafe { host::str_bytes(&*s) }).into_owned())
}

unsafe extern "C" fn ki_to_meta(msg: *mut sys::sip_msg) -> c_int {
    with_msg("KSR.wacall.to_meta", msg, |m| calls::to_meta(m, None))
}

unsafe extern "C" fn ki_to_meta_number(msg: *mut sys::sip_msg, n: *mut sys::str_) -> c_int {
    with_msg("KSR.wacall.to_meta_number", msg, |m| {
        // SAFETY: KEMI str parameter.
        let n = unsafe { kemi_str(n) }?;
        calls::to_meta(m, Some(&n))
    })
}

unsafe extern "C" fn ki_from_meta(msg: *mut sys::sip_msg) -> c_int {
    with_msg("KSR.wacall.from_meta", msg, calls::from_meta)
}

unsafe extern "C" fn ki_is_meta(msg: *mut sys::sip_msg) -> c_int {
    with_msg("KSR.wacall.is_meta", msg, calls::is_meta)
}

unsafe extern "C" fn ki_auth(msg: *mut sys::sip_msg) -> c_int {
    with_msg("KSR.wacall.auth", msg, calls::auth)
}

unsafe extern "C" fn ki_sdp(msg: *mut sys::sip_msg, d: *mut sys::str_) -> c_int {
    with_msg("KSR.wacall.sdp", msg, |m| {
        // SAFETY: KEMI str parameter.
        let d = Direction::parse(&unsafe { kemi_str(d) }?)?;
        calls::sdp(m, d)
    })
}

unsafe extern "C" fn ki_relay_delete(msg: *mut sys::sip_msg) -> c_int {
    with_msg("KSR.wacall.relay_delete", msg, calls::relay_delete)
}

// ---- modparams ----

macro_rules! param_fn {
    ($f:ident, $name:literal) => {
        unsafe extern "C" fn $f(_t: sys::modparam_t, val: *mut c_void) -> c_int {
            guard(-1, || {
                if val.is_null() {
                    return -1;
                }
                // SAFETY: a PARAM_STRING modparam hands a NUL-terminated char*.
                let v = unsafe { CStr::from_ptr(val as *const c_char) }.to_string_lossy();
                match calls::set_param($name, &v) {
                    Ok(()) => 0,
                    Err(e) => {
                        // Logging is not set up yet while modparams are read: stderr reaches the admin.
                        eprintln!("wacall: {e}");
                        -1
                    }
                }
            })
        }
    };
}

param_fn!(p_meta_domain, "meta_domain");
param_fn!(p_server_hostname, "server_hostname");
param_fn!(p_number, "number");
param_fn!(p_numbers_file, "numbers_file");
param_fn!(p_meta_acl, "meta_acl");
param_fn!(p_relay_ports, "relay_ports");
param_fn!(p_relay_address, "relay_address");
param_fn!(p_relay_advertised_address, "relay_advertised_address");
param_fn!(p_pbx_media, "pbx_media");
param_fn!(p_relay_address6, "relay_address6");
param_fn!(p_relay_socket, "relay_socket");
param_fn!(p_relay_timeout_ms, "relay_timeout_ms");
param_fn!(p_relay_workers, "relay_workers");
param_fn!(p_relay_media_timeout, "relay_media_timeout");

// ---- RPC ----

unsafe extern "C" fn rpc_stats(rpc: *mut sys::rpc_t, ctx: *mut c_void) {
    guard(0, || {
        // SAFETY: pointers from Kamailio's RPC dispatcher.
        if let Some(r) = unsafe { Rpc::from_raw(rpc, ctx) } {
            if let Some(st) = r.begin_struct() {
                for (n, v) in calls::stats_snapshot() {
                    st.int(n, v);
                }
                match calls::relay_totals() {
                    Some(t) => t.into_iter().for_each(|(n, v)| st.int(n, v)),
                    None => st.int("relay_up", 0),
                }
            }
        }
        0
    });
}

unsafe extern "C" fn rpc_relay_calls(rpc: *mut sys::rpc_t, ctx: *mut c_void) {
    guard(0, || {
        // SAFETY: rpc and ctx are what Kamailio passed to this RPC handler.
        let Some(r) = (unsafe { Rpc::from_raw(rpc, ctx) }) else {
            return 0;
        };
        match calls::relay_calls() {
            Ok(list) => {
                for c in list {
                    if let Some(st) = r.begin_struct() {
                        st.str("call", &c.call_id);
                        st.str("state", &c.state);
                        st.int("age_ms", c.age_ms);
                        for (side, l) in [("meta", &c.meta), ("pbx", &c.pbx)] {
                            st.str(&format!("{side}_state"), &l.state);
                            st.str(&format!("{side}_remote"), l.remote.as_deref().unwrap_or(""));
                            st.int(&format!("{side}_packets_in"), l.packets_in);
                            st.int(&format!("{side}_packets_out"), l.packets_out);
                            st.int(&format!("{side}_bytes_in"), l.bytes_in);
                            st.int(&format!("{side}_bytes_out"), l.bytes_out);
                            st.int(&format!("{side}_drops"), l.drops);
                            st.int(&format!("{side}_auth_failures"), l.auth_failures);
                        }
                    }
                }
            }
            Err(e) => r.fault(503, &e.to_string()),
        }
        0
    });
}

unsafe extern "C" fn rpc_numbers(rpc: *mut sys::rpc_t, ctx: *mut c_void) {
    guard(0, || {
        // SAFETY: pointers from Kamailio's RPC dispatcher.
        let Some(r) = (unsafe { Rpc::from_raw(rpc, ctx) }) else {
            return 0;
        };
        match calls::numbers() {
            Ok(list) => {
                for (n, mode, params, src) in list {
                    if let Some(st) = r.begin_struct() {
                        st.str("number", &n);
                        st.str("srtp", &mode);
                        st.str("params", &params);
                        st.str("source", src);
                    }
                }
            }
            Err(e) => r.fault(500, &e.to_string()),
        }
        0
    });
}

unsafe extern "C" fn rpc_reload(rpc: *mut sys::rpc_t, ctx: *mut c_void) {
    guard(0, || {
        // SAFETY: pointers from Kamailio's RPC dispatcher.
        let Some(r) = (unsafe { Rpc::from_raw(rpc, ctx) }) else {
            return 0;
        };
        match calls::reload() {
            Ok(n) => r.add_str(&format!("reloaded {n} numbers")),
            Err(e) => r.fault(500, &e.to_string()),
        }
        0
    });
}

// ---- module life cycle ----

static LOGGER: host::KamLogger = host::KamLogger;

unsafe extern "C" fn mod_init() -> c_int {
    guard(-1, || {
        let _ = log::set_logger(&LOGGER);
        log::set_max_level(log::LevelFilter::Trace);
        // A panic's message goes to Kamailio's log (stderr may be closed in a daemon); the guard then recovers.
        std::panic::set_hook(Box::new(|info| log::error!("panic: {info}")));
        match calls::init() {
            Ok(()) => {
                // SAFETY: runtime_dir is Kamailio's global string (set before modules initialise).
                let rdir = unsafe {
                    let p = runtime_dir;
                    if p.is_null() {
                        "/run/kamailio".to_string()
                    } else {
                        CStr::from_ptr(p).to_string_lossy().into_owned()
                    }
                };
                match calls::relay_setup(&rdir) {
                    Ok(setup) => {
                        log::info!("media relay: control socket {}", setup.socket.display());
                        crate::relay::set_setup(setup);
                        // SAFETY: mod_init, before any fork: one own process that reads the cfg framework.
                        unsafe {
                            register_procs(1);
                            cfg_register_child(1);
                        }
                        0
                    }
                    Err(e) => {
                        log::error!("wacall: {e}");
                        -1
                    }
                }
            }
            Err(e) => {
                log::error!("wacall: {e}");
                -1
            }
        }
    })
}

// Kamailio core symbols not taken from bindgen (declared in core/pt.h, core/cfg/cfg_struct.h, core/globals.h).
unsafe extern "C" {
    fn register_procs(no: c_int) -> c_int;
    fn cfg_register_child(num: c_int);
    fn cfg_child_init() -> c_int;
    fn fork_process(child_id: c_int, desc: *mut c_char, make_sock: c_int) -> c_int;
    static runtime_dir: *mut c_char;
}

const PROC_MAIN: c_int = 0;
const PROC_NOCHLDINIT: c_int = -128;

unsafe extern "C" fn child_init(rank: c_int) -> c_int {
    guard(-1, || {
        if rank != PROC_MAIN {
            return 0;
        }
        let Some(setup) = crate::relay::setup() else {
            return 0;
        };
        // SAFETY: called once in the main process's child_init, the place Kamailio allows forking own processes.
        let pid =
            unsafe { fork_process(PROC_NOCHLDINIT, c"wacall relay".as_ptr() as *mut c_char, 1) };
        if pid < 0 {
            log::error!("cannot fork the wacall relay process");
            return -1;
        }
        if pid == 0 {
            // SAFETY: we are the forked child, registered with cfg_register_child in mod_init.
            if unsafe { cfg_child_init() } != 0 {
                log::error!("relay process: cfg_child_init failed");
                std::process::exit(1);
            }
            crate::relay::supervise(setup);
        }
        0
    })
}

unsafe extern "C" fn mod_destroy() {}

// ---- tables ----

const REQUEST_ROUTE: u32 = sys::REQUEST_ROUTE;
const FAILURE_ROUTE: u32 = sys::FAILURE_ROUTE;
const BRANCH_ROUTE: u32 = sys::BRANCH_ROUTE;
const ONREPLY_ROUTE: u32 = sys::ONREPLY_ROUTE;
/// PARAM_USE_FUNC is `1U << (8*sizeof(int)-1)`; bindgen cannot evaluate the sizeof.
const PARAM_USE_FUNC: u32 = 1 << 31;

const fn cmd(
    name: &'static CStr,
    f: unsafe extern "C" fn(*mut sys::sip_msg, *mut c_char, *mut c_char) -> c_int,
    params: c_int,
    flags: u32,
) -> sys::cmd_export_t {
    sys::cmd_export_t {
        name: name.as_ptr() as *mut c_char,
        function: Some(f),
        param_no: params,
        fixup: if params == 1 {
            Some(sys::fixup_spve_null)
        } else {
            None
        },
        free_fixup: if params == 1 {
            Some(sys::fixup_free_spve_null)
        } else {
            None
        },
        flags,
    }
}

const fn param(
    name: &'static CStr,
    f: unsafe extern "C" fn(sys::modparam_t, *mut c_void) -> c_int,
) -> sys::param_export_t {
    sys::param_export_t {
        name: name.as_ptr() as *mut c_char,
        type_: sys::PARAM_STRING | PARAM_USE_FUNC,
        param_pointer: f as *mut c_void,
    }
}

static mut CMDS: [sys::cmd_export_t; 10] = [
    cmd(
        c"wacall_to_meta",
        w_to_meta0,
        0,
        REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE,
    ),
    cmd(
        c"wacall_to_meta",
        w_to_meta1,
        1,
        REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE,
    ),
    cmd(c"wacall_from_meta", w_from_meta, 0, REQUEST_ROUTE),
    cmd(
        c"wacall_is_meta",
        w_is_meta,
        0,
        REQUEST_ROUTE | ONREPLY_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE,
    ),
    cmd(c"wacall_auth", w_auth, 0, FAILURE_ROUTE),
    cmd(
        c"wacall_sdp",
        w_sdp,
        1,
        REQUEST_ROUTE | ONREPLY_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE,
    ),
    cmd(
        c"wacall_sdp_to_pbx",
        w_sdp_to_pbx,
        0,
        REQUEST_ROUTE | ONREPLY_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE,
    ),
    cmd(
        c"wacall_sdp_to_meta",
        w_sdp_to_meta,
        0,
        REQUEST_ROUTE | ONREPLY_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE,
    ),
    cmd(
        c"wacall_relay_delete",
        w_relay_delete,
        0,
        REQUEST_ROUTE | ONREPLY_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE,
    ),
    sys::cmd_export_t {
        name: null_mut(),
        function: None,
        param_no: 0,
        fixup: None,
        free_fixup: None,
        flags: 0,
    },
];

static mut PARAMS: [sys::param_export_t; 15] = [
    param(c"meta_domain", p_meta_domain),
    param(c"server_hostname", p_server_hostname),
    param(c"number", p_number),
    param(c"numbers_file", p_numbers_file),
    param(c"meta_acl", p_meta_acl),
    param(c"relay_ports", p_relay_ports),
    param(c"relay_address", p_relay_address),
    param(c"relay_advertised_address", p_relay_advertised_address),
    param(c"pbx_media", p_pbx_media),
    param(c"relay_address6", p_relay_address6),
    param(c"relay_socket", p_relay_socket),
    param(c"relay_timeout_ms", p_relay_timeout_ms),
    param(c"relay_workers", p_relay_workers),
    param(c"relay_media_timeout", p_relay_media_timeout),
    sys::param_export_t {
        name: null_mut(),
        type_: 0,
        param_pointer: null_mut(),
    },
];

static mut RPC_STATS_DOC: [*const c_char; 2] = [
    c"wacall counters (calls, auth, SDP, ACL, errors) and media relay totals".as_ptr(),
    null(),
];
static mut RPC_NUMBERS_DOC: [*const c_char; 2] =
    [c"numbers served (no passwords)".as_ptr(), null()];
static mut RPC_RELOAD_DOC: [*const c_char; 2] =
    [c"re-read numbers_file in every process".as_ptr(), null()];

static mut RPC_RELAY_CALLS_DOC: [*const c_char; 2] =
    [c"media relay calls with per-leg counters".as_ptr(), null()];

static mut RPC: [sys::rpc_export_t; 5] = [
    sys::rpc_export_t {
        name: c"wacall.relay_calls".as_ptr(),
        function: Some(rpc_relay_calls),
        doc_str: &raw mut RPC_RELAY_CALLS_DOC as *mut *const c_char,
        flags: 0,
    },
    sys::rpc_export_t {
        name: c"wacall.stats".as_ptr(),
        function: Some(rpc_stats),
        doc_str: &raw mut RPC_STATS_DOC as *mut *const c_char,
        flags: 0,
    },
    sys::rpc_export_t {
        name: c"wacall.numbers".as_ptr(),
        function: Some(rpc_numbers),
        doc_str: &raw mut RPC_NUMBERS_DOC as *mut *const c_char,
        flags: 0,
    },
    sys::rpc_export_t {
        name: c"wacall.reload".as_ptr(),
        function: Some(rpc_reload),
        doc_str: &raw mut RPC_RELOAD_DOC as *mut *const c_char,
        flags: 0,
    },
    sys::rpc_export_t {
        name: null(),
        function: None,
        doc_str: null_mut(),
        flags: 0,
    },
];

/// The module's export table, read by Kamailio's loader.
#[no_mangle]
pub static mut exports: sys::module_exports = sys::module_exports {
    name: c"wacall".as_ptr() as *mut c_char,
    dlflags: 0,
    cmds: &raw mut CMDS as *mut sys::cmd_export_t,
    params: &raw mut PARAMS as *mut sys::param_export_t,
    rpc_methods: &raw mut RPC as *mut sys::rpc_export_t,
    pv_items: null_mut(),
    response_f: None,
    init_mod_f: Some(mod_init),
    init_child_f: Some(child_init),
    destroy_mod_f: Some(mod_destroy),
};

const fn kstr(s: &'static CStr) -> sys::str_ {
    sys::str_ {
        s: s.as_ptr() as *mut c_char,
        len: s.count_bytes() as c_int,
    }
}

const KS: c_int = sys::SR_KEMIP_STR as c_int;
const KN: c_int = sys::SR_KEMIP_NONE as c_int;

const fn kemi(name: &'static CStr, f: *mut c_void, p1: c_int) -> sys::sr_kemi_t {
    sys::sr_kemi_t {
        mname: kstr(c"wacall"),
        fname: kstr(name),
        rtype: sys::SR_KEMIP_INT as c_int,
        func: f,
        ptypes: [p1, KN, KN, KN, KN, KN],
    }
}

static mut KEMI: [sys::sr_kemi_t; 8] = [
    kemi(c"relay_delete", ki_relay_delete as *mut c_void, KN),
    kemi(c"to_meta", ki_to_meta as *mut c_void, KN),
    kemi(c"to_meta_number", ki_to_meta_number as *mut c_void, KS),
    kemi(c"from_meta", ki_from_meta as *mut c_void, KN),
    kemi(c"is_meta", ki_is_meta as *mut c_void, KN),
    kemi(c"auth", ki_auth as *mut c_void, KN),
    kemi(c"sdp", ki_sdp as *mut c_void, KS),
    sys::sr_kemi_t {
        mname: sys::str_ {
            s: null_mut(),
            len: 0,
        },
        fname: sys::str_ {
            s: null_mut(),
            len: 0,
        },
        rtype: 0,
        func: null_mut(),
        ptypes: [0; 6],
    },
];

/// Called by Kamailio when the module is loaded: registers the KEMI functions (KSR.wacall.*).
#[no_mangle]
pub unsafe extern "C" fn mod_register(
    _path: *mut c_char,
    _dlflags: *mut c_int,
    _p1: *mut c_void,
    _p2: *mut c_void,
) -> c_int {
    guard(-1, || {
        // SAFETY: KEMI is a static, NULL-terminated table that Kamailio keeps a pointer to.
        unsafe { sys::sr_kemi_modules_add(&raw mut KEMI as *mut sys::sr_kemi_t) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_turns_a_panic_into_the_error_code() {
        assert_eq!(guard(-2, || 7), 7);
        assert_eq!(guard(-2, || panic!("boom")), -2);
    }

    #[test]
    fn results_follow_kamailio_convention() {
        assert_eq!(map("t", Ok(true)), 1);
        assert_eq!(map("t", Ok(false)), -1);
        assert_eq!(map("t", Err(CallError::Usage("x".into()))), -2);
    }

    #[test]
    fn abi_identity_comes_from_the_installed_kamailio() {
        let v = env!("WACALL_KAM_MODULE_VERSION");
        let f = env!("WACALL_KAM_MODULE_FLAGS");
        assert!(v.starts_with("kamailio ") && !v.ends_with(' '), "{v:?}");
        assert!(!f.is_empty() && !f.ends_with(' '), "{f:?}");
        let out = std::process::Command::new("kamailio").arg("-v").output();
        if let Ok(out) = out {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(text
                .lines()
                .any(|l| l.trim_end() == format!("version: {v}")));
            assert!(text.lines().any(|l| l.trim_end() == format!("flags: {f}")));
        }
    }
}
