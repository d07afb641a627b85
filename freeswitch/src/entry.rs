//! The C entry points FreeSWITCH calls: `mod_wacall_module_interface`, load/shutdown, API and application
//! trampolines. Each one goes through `guard`, the single panic boundary, then into safe code.
#![allow(unsafe_code)]

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::api::{self, Command, Env};
use crate::apps::{self, App, Vars};
use crate::config::Config;
use crate::host::{self, Channel, Level, Registrar, Stream, XmlConfig};
use crate::state::{self, Stats, STATS};
use crate::sys;

/// The table FreeSWITCH looks up by name (`mod_<name>_module_interface`) after `dlopen`.
#[no_mangle]
pub static mod_wacall_module_interface: sys::switch_loadable_module_function_table_t =
    sys::switch_loadable_module_function_table_t {
        switch_api_version: sys::SWITCH_API_VERSION,
        load: Some(mod_wacall_load),
        shutdown: Some(mod_wacall_shutdown),
        runtime: None,
        flags: 0,
    };

/// Run `f`, turning a panic into `fallback` and a log line: no unwinding ever reaches FreeSWITCH's C frames.
fn guard<T>(what: &str, fallback: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(payload) => {
            Stats::bump(&STATS.panics);
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            // Logging itself must not unwind out of here either.
            let _ = catch_unwind(|| {
                host::log(
                    Level::Error,
                    file!(),
                    line!(),
                    &format!("{what}: internal error: {msg}"),
                )
            });
            fallback
        }
    }
}

/// Log with the caller's file and line, as FreeSWITCH's own log lines show them.
#[track_caller]
fn log(level: Level, text: &str) {
    let at = std::panic::Location::caller();
    host::log(level, at.file(), at.line(), text);
}

struct HostEnv;

impl Env for HostEnv {
    fn load_config(&self) -> Result<Config, String> {
        load_config()
    }
    fn host_version(&self) -> Option<String> {
        host::host_version()
    }
    fn session_var(&self, uuid: &str, name: &str) -> Option<String> {
        host::with_session(uuid, |c| c.var(name)).flatten()
    }
    fn set_session_var(&self, uuid: &str, name: &str, value: &str) -> bool {
        host::with_session(uuid, |c| c.set_var(name, Some(value))).unwrap_or(false)
    }
    fn hangup(&self, uuid: &str) {
        host::with_session(uuid, |c| c.hangup_incompatible());
    }
}

/// Read `wacall.conf`; a missing file means defaults (no numbers), a malformed one is an error.
fn load_config() -> Result<Config, String> {
    match XmlConfig::open("wacall.conf") {
        None => {
            log(
                Level::Warning,
                "wacall.conf not found: running with defaults and no numbers",
            );
            Ok(Config::default())
        }
        Some(doc) => Config::from_node(&doc.node()).map_err(|e| format!("wacall.conf: {e}")),
    }
}

unsafe extern "C" fn mod_wacall_load(
    module_interface: *mut *mut sys::switch_loadable_module_interface_t,
    pool: *mut sys::switch_memory_pool_t,
) -> sys::switch_status_t {
    guard("load", sys::SWITCH_STATUS_GENERR, || {
        // SAFETY: these are the arguments FreeSWITCH passes to a module's load function.
        let Some(reg) = (unsafe { Registrar::create(module_interface, pool, c"mod_wacall") })
        else {
            return sys::SWITCH_STATUS_GENERR;
        };
        // A second load in the same process (after an unload that did not unmap us) finds the logger set: fine.
        if log::set_logger(&host::HostLogger).is_ok() {
            log::set_max_level(log::LevelFilter::Info);
        }
        let cfg = match load_config() {
            Ok(c) => c,
            Err(e) => {
                log(Level::Error, &e);
                return sys::SWITCH_STATUS_GENERR;
            }
        };
        for (cmd, f) in API_TABLE {
            if !reg.add_api(cmd.0, cmd.1, cmd.2, f) {
                return sys::SWITCH_STATUS_GENERR;
            }
        }
        for (app, f) in APP_TABLE {
            if !reg.add_app(
                app.0,
                app.1,
                app.2,
                app.3,
                sys::SAF_SUPPORT_NOMEDIA | sys::SAF_ROUTING_EXEC,
                f,
            ) {
                return sys::SWITCH_STATUS_GENERR;
            }
        }
        let n = cfg.numbers.len();
        match state::start_relay(&cfg) {
            Ok(Some(line)) => log(Level::Notice, &line),
            Ok(None) => {}
            Err(e) => log(
                Level::Warning,
                &format!("{e}; calls will not have wacall's media relay"),
            ),
        }
        state::set_config(Some(cfg));
        log(
            Level::Notice,
            &format!(
                "mod_wacall {} loaded on FreeSWITCH {}, {n} number(s)",
                env!("CARGO_PKG_VERSION"),
                host::host_version()
                    .as_deref()
                    .unwrap_or("(unknown version)")
            ),
        );
        sys::SWITCH_STATUS_SUCCESS
    })
}

unsafe extern "C" fn mod_wacall_shutdown() -> sys::switch_status_t {
    guard("shutdown", sys::SWITCH_STATUS_SUCCESS, || {
        state::set_config(None);
        if state::stop_relay() {
            log(Level::Notice, "relay stopped");
        }
        log(Level::Notice, "mod_wacall unloaded");
        sys::SWITCH_STATUS_SUCCESS
    })
}

/// Static C strings for one command: (name, description, syntax). Checked against `api::ALL` in tests.
type CCommand = (&'static CStr, &'static CStr, &'static CStr);
type CApp = (&'static CStr, &'static CStr, &'static CStr, &'static CStr);

/// One trampoline per command: FreeSWITCH passes no user data to API functions.
macro_rules! api_fn {
    ($fname:ident, $cmd:path) => {
        unsafe extern "C" fn $fname(
            cmd: *const c_char,
            _session: *mut sys::switch_core_session_t,
            stream: *mut sys::switch_stream_handle_t,
        ) -> sys::switch_status_t {
            // SAFETY: cmd is null or a NUL-terminated string, stream a live handle, for the duration of the call.
            unsafe { api_entry(&$cmd, cmd, stream) }
        }
    };
}

api_fn!(api_uri, api::URI);
api_fn!(api_digest, api::DIGEST);
api_fn!(api_sdp, api::SDP);
api_fn!(api_stats, api::STATS_CMD);
api_fn!(api_reload, api::RELOAD);
api_fn!(api_status, api::STATUS);
api_fn!(api_relay_answered, api::RELAY_ANSWERED);
api_fn!(api_relay_end, api::RELAY_END);

const API_TABLE: [(CCommand, sys::switch_api_function_t); 8] = [
    (
        (
            c"wacall_uri",
            c"Meta's request URI for a business-initiated WhatsApp call",
            c"<number>",
        ),
        api_uri,
    ),
    (
        (
            c"wacall_digest",
            c"Proxy-Authorization answering Meta's 407 challenge(s)",
            c"<challenge> <number> <password|-> <method> <uri>",
        ),
        api_digest,
    ),
    (
        (
            c"wacall_sdp",
            c"Map an SDP between Meta (DTLS/ICE or SDES) and the PBX (SDES/RTP)",
            c"<meta-to-pbx|pbx-to-meta> <sdp, lines separated by newlines or \\n>",
        ),
        api_sdp,
    ),
    (
        (
            c"wacall_stats",
            c"mod_wacall counters and relay statistics",
            c"",
        ),
        api_stats,
    ),
    (
        (
            c"wacall_reload",
            c"Reload autoload_configs/wacall.conf.xml",
            c"",
        ),
        api_reload,
    ),
    (
        (
            c"wacall_status",
            c"mod_wacall version, host version and configured numbers",
            c"",
        ),
        api_status,
    ),
    (
        (
            c"wacall_relay_answered",
            c"Hook (api_on_answer, set by wacall_relay): pass the PBX's answer to the relay",
            c"<uuid>",
        ),
        api_relay_answered,
    ),
    (
        (
            c"wacall_relay_end",
            c"Hook (api_hangup_hook, set by wacall_relay): end the relay call",
            c"<uuid>",
        ),
        api_relay_end,
    ),
];

/// # Safety
/// `cmd` is null or NUL-terminated; `stream` is null or a live stream handle.
unsafe fn api_entry(
    command: &Command,
    cmd: *const c_char,
    stream: *mut sys::switch_stream_handle_t,
) -> sys::switch_status_t {
    guard(command.name, sys::SWITCH_STATUS_FALSE, || {
        // SAFETY: per this function's contract.
        let Some(mut stream) = (unsafe { Stream::from_raw(stream) }) else {
            return sys::SWITCH_STATUS_FALSE;
        };
        // SAFETY: per this function's contract.
        let args = unsafe { host::string_from(cmd) };
        let reply = api::run(command, args.as_deref(), &HostEnv);
        stream.write(&reply);
        // FreeSWITCH convention: the command ran (its reply says +OK or -ERR).
        sys::SWITCH_STATUS_SUCCESS
    })
}

macro_rules! app_fn {
    ($fname:ident, $app:path) => {
        unsafe extern "C" fn $fname(session: *mut sys::switch_core_session_t, data: *const c_char) {
            // SAFETY: session is the running session, data null or NUL-terminated, for the duration of the call.
            unsafe { app_entry(&$app, session, data) }
        }
    };
}

app_fn!(app_from_meta, apps::FROM_META);
app_fn!(app_to_meta, apps::TO_META);
app_fn!(app_relay, apps::RELAY);

const APP_TABLE: [(CApp, sys::switch_application_function_t); 3] = [
    (
        (
            c"wacall_from_meta",
            c"Read a WhatsApp call from Meta into channel variables",
            c"Sets wacall_number, wacall_tgrp, wacall_trunk_context, wacall_param_<key>, wacall_wacid, \
wacall_cta_payload, wacall_deeplink_payload, wacall_known and wacall_srtp from the INVITE's request URI and Meta's \
x-wa-meta-* headers.",
            c"",
        ),
        app_from_meta,
    ),
    (
        (
            c"wacall_to_meta",
            c"Prepare a WhatsApp call to Meta",
            c"Sets wacall_ruri, wacall_dial_string and (without a gateway) the digest credentials of the business \
number, exported to the B-leg.",
            c"<number> [business-number]",
        ),
        app_to_meta,
    ),
    (
        (
            c"wacall_relay",
            c"Bridge a WhatsApp call through wacall's media relay",
            c"Run before bridge: allocates relay ports, maps the caller's offer for the far end (switch_r_sdp), sets \
bypass_media=true and the hooks that write the caller's answer (switch_m_sdp) and end the relay call.",
            c"[from-meta|to-meta]",
        ),
        app_relay,
    ),
];

impl Vars for Channel<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.var(name)
    }
    fn set(&self, name: &str, value: Option<&str>) {
        self.set_var(name, value);
    }
}

/// # Safety
/// `session` is null or the live session running the application; `data` null or NUL-terminated.
unsafe fn app_entry(app: &App, session: *mut sys::switch_core_session_t, data: *const c_char) {
    guard(app.name, (), || {
        Stats::bump(&STATS.app_runs);
        // SAFETY: per this function's contract.
        let Some(channel) = (unsafe { Channel::from_session(session) }) else {
            return;
        };
        // SAFETY: per this function's contract.
        let args = unsafe { host::string_from(data) }.unwrap_or_default();
        let Some(cfg) = state::config() else {
            log(
                Level::Error,
                &format!("{}: mod_wacall is not loaded", app.name),
            );
            return;
        };
        let result = match app.name {
            "wacall_from_meta" => {
                apps::from_meta(&channel, &cfg).inspect(|_| Stats::bump(&STATS.calls_from_meta))
            }
            "wacall_to_meta" => {
                apps::to_meta(&channel, &cfg, &args).inspect(|_| Stats::bump(&STATS.calls_to_meta))
            }
            "wacall_relay" => match args.trim() {
                "" | "from-meta" => crate::bridge::relay(
                    &channel,
                    &cfg,
                    &channel.uuid(),
                    crate::bridge::Direction::FromMeta,
                ),
                "to-meta" => crate::bridge::relay(
                    &channel,
                    &cfg,
                    &channel.uuid(),
                    crate::bridge::Direction::ToMeta,
                ),
                other => Err(format!(
                    "wacall_relay: unknown argument {other:?} (from-meta or to-meta)"
                )),
            },
            other => Err(format!("unknown application {other}")),
        };
        match result {
            Ok(line) => {
                channel.set_var("wacall_error", None);
                log(
                    Level::Info,
                    &format!("[{}] {}: {line}", channel.uuid(), app.name),
                );
            }
            Err(e) => {
                Stats::bump(&STATS.app_errors);
                channel.set_var("wacall_error", Some(&e));
                log(
                    Level::Warning,
                    &format!("[{}] {}: {e}", channel.uuid(), app.name),
                );
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The C strings registered with FreeSWITCH say the same as the Rust descriptions the code uses.
    #[test]
    fn tables_match_descriptions() {
        assert_eq!(API_TABLE.len(), api::ALL.len());
        for ((c, _), r) in API_TABLE.iter().zip(api::ALL) {
            assert_eq!(c.0.to_str().unwrap(), r.name);
            assert_eq!(c.1.to_str().unwrap(), r.desc);
            assert_eq!(c.2.to_str().unwrap(), r.syntax);
        }
        for ((c, _), r) in APP_TABLE
            .iter()
            .zip([&apps::FROM_META, &apps::TO_META, &apps::RELAY])
        {
            assert_eq!(c.0.to_str().unwrap(), r.name);
            assert_eq!(c.1.to_str().unwrap(), r.short_desc);
            assert_eq!(c.3.to_str().unwrap(), r.syntax);
        }
    }

    #[test]
    fn guard_catches_panics() {
        // In unit tests the host functions are the no-op stubs of `sys`, so the panic path runs in full.
        assert_eq!(guard("t", 1, || 2), 2);
        let before = STATS.panics.load(std::sync::atomic::Ordering::Relaxed);
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r = guard("t", sys::SWITCH_STATUS_FALSE, || -> sys::switch_status_t {
            panic!("boom")
        });
        let r2 = guard("t", 7, || -> i32 { std::panic::panic_any(42u8) });
        std::panic::set_hook(hook);
        assert_eq!(r, sys::SWITCH_STATUS_FALSE);
        assert_eq!(r2, 7);
        assert_eq!(
            STATS.panics.load(std::sync::atomic::Ordering::Relaxed),
            before + 2
        );
    }
}
