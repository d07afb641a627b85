//! The safe layer over `sys`: streams, channels, logging, XML configuration and interface registration.
//! Every raw pointer FreeSWITCH hands us is checked and wrapped here; nothing outside `sys`, `host` and `entry` sees one.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, CStr, CString};
use std::marker::PhantomData;

use crate::sys;

/// Turn Rust text into a C string, dropping interior NULs (host input may contain them; C cannot).
fn c_string(s: &str) -> CString {
    match CString::new(s) {
        Ok(c) => c,
        Err(_) => CString::new(s.replace('\0', "")).unwrap_or_default(),
    }
}

/// Copy a C string the host owns into Rust; `None` for null. Invalid UTF-8 is replaced, never trusted.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string valid for the duration of the call.
pub(crate) unsafe fn string_from(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated per the caller's contract.
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// The output stream of an API command (`switch_stream_handle_t`).
pub struct Stream<'a> {
    raw: *mut sys::switch_stream_handle_t,
    _life: PhantomData<&'a mut sys::switch_stream_handle_t>,
}

impl Stream<'_> {
    /// # Safety
    /// `raw` is null or a stream handle the host keeps valid for `'a`.
    pub(crate) unsafe fn from_raw(raw: *mut sys::switch_stream_handle_t) -> Option<Self> {
        (!raw.is_null()).then_some(Stream {
            raw,
            _life: PhantomData,
        })
    }

    /// Append text to the reply. Always through a `"%s"` format: the text may contain `%`.
    pub fn write(&mut self, text: &str) {
        // SAFETY: `raw` is a live stream handle (checked in `from_raw`); reading one field.
        let Some(write) = (unsafe { (*self.raw).write_function }) else {
            return;
        };
        let text = c_string(text);
        // SAFETY: FreeSWITCH's write_function is printf-like; "%s" consumes exactly one C string argument.
        unsafe {
            write(self.raw, c"%s".as_ptr(), text.as_ptr());
        }
    }
}

/// The channel of a session, for reading and setting channel variables.
pub struct Channel<'a> {
    session: *mut sys::switch_core_session_t,
    raw: *mut sys::switch_channel_t,
    _life: PhantomData<&'a sys::switch_core_session_t>,
}

impl Channel<'_> {
    /// # Safety
    /// `session` is null or a session the host keeps valid (and locked for us) for `'a`.
    pub(crate) unsafe fn from_session(session: *mut sys::switch_core_session_t) -> Option<Self> {
        if session.is_null() {
            return None;
        }
        // SAFETY: session is a live session per the caller's contract.
        let raw = unsafe { sys::switch_core_session_get_channel(session) };
        (!raw.is_null()).then_some(Channel {
            session,
            raw,
            _life: PhantomData,
        })
    }

    /// A channel variable, copied out (the host's string may change under another thread).
    pub fn var(&self, name: &str) -> Option<String> {
        let name = c_string(name);
        // SAFETY: live channel; dup=TRUE makes the host copy the value into the session pool, so it stays valid
        // while we copy it even if another thread sets the variable again.
        unsafe {
            let p =
                sys::switch_channel_get_variable_dup(self.raw, name.as_ptr(), sys::SWITCH_TRUE, -1);
            string_from(p)
        }
    }

    /// Set (or with `None`, unset) a channel variable. The value is taken literally (no `${}` expansion check).
    pub fn set_var(&self, name: &str, value: Option<&str>) -> bool {
        let name = c_string(name);
        let value = value.map(c_string);
        let vp = value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
        // SAFETY: live channel; the host copies name and value before returning.
        let st = unsafe {
            sys::switch_channel_set_variable_var_check(
                self.raw,
                name.as_ptr(),
                vp,
                sys::SWITCH_FALSE,
            )
        };
        st == sys::SWITCH_STATUS_SUCCESS
    }

    /// Hang the channel up because its media cannot be set up (`INCOMPATIBLE_DESTINATION`).
    pub fn hangup_incompatible(&self) {
        // SAFETY: live channel; FreeSWITCH's hangup is safe from any thread holding the session's read lock.
        unsafe {
            sys::switch_channel_perform_hangup(
                self.raw,
                c"host.rs".as_ptr(),
                c"hangup_incompatible".as_ptr(),
                0,
                sys::SWITCH_CAUSE_INCOMPATIBLE_DESTINATION,
            );
        }
    }

    /// The session's UUID, for log lines.
    pub fn uuid(&self) -> String {
        // SAFETY: live session; the UUID string lives as long as the session.
        unsafe { string_from(sys::switch_core_session_get_uuid(self.session)) }.unwrap_or_default()
    }
}

/// Run `f` on the channel of the session called `uuid`, holding the host's read lock on it meanwhile.
pub fn with_session<T>(uuid: &str, f: impl FnOnce(&Channel<'_>) -> T) -> Option<T> {
    struct Unlock(*mut sys::switch_core_session_t);
    impl Drop for Unlock {
        fn drop(&mut self) {
            // SAFETY: the session was returned read-locked by switch_core_session_perform_locate; unlocked once.
            unsafe { sys::switch_core_session_rwunlock(self.0) };
        }
    }
    let c_uuid = c_string(uuid);
    // SAFETY: a NUL-terminated UUID; the host returns a read-locked session or null.
    let session = unsafe {
        sys::switch_core_session_perform_locate(
            c_uuid.as_ptr(),
            c"host.rs".as_ptr(),
            c"with_session".as_ptr(),
            0,
        )
    };
    if session.is_null() {
        return None;
    }
    let _unlock = Unlock(session);
    // SAFETY: session is live and locked until `_unlock` drops, after `f` returns.
    let channel = unsafe { Channel::from_session(session) }?;
    Some(f(&channel))
}

/// Log levels mod_wacall uses, mapped to FreeSWITCH's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
}

/// Write one line to FreeSWITCH's log.
pub fn log(level: Level, file: &str, line: u32, text: &str) {
    let lvl = match level {
        Level::Debug => sys::SWITCH_LOG_DEBUG,
        Level::Info => sys::SWITCH_LOG_INFO,
        Level::Notice => sys::SWITCH_LOG_NOTICE,
        Level::Warning => sys::SWITCH_LOG_WARNING,
        Level::Error => sys::SWITCH_LOG_ERROR,
    };
    let file = c_string(file);
    let text = c_string(text);
    let line = c_int::try_from(line).unwrap_or(0);
    // SAFETY: all strings are NUL-terminated and outlive the call; "%s\n" consumes exactly one string.
    unsafe {
        sys::switch_log_printf(
            sys::SWITCH_CHANNEL_ID_LOG,
            file.as_ptr(),
            c"mod_wacall".as_ptr(),
            line,
            std::ptr::null(),
            lvl,
            c"%s\n".as_ptr(),
            text.as_ptr(),
        );
    }
}

/// The running FreeSWITCH's version string (`switch_version_full()`), read from the host, never assumed.
pub fn host_version() -> Option<String> {
    // SAFETY: returns a static string (or null in a broken host).
    unsafe { string_from(sys::switch_version_full()) }
}

/// A node of a parsed XML configuration; what `config` reads. Implemented by the host's XML and by test doubles.
pub trait ConfigNode: Sized {
    /// The first child element called `name`.
    fn child(&self, name: &str) -> Option<Self>;
    /// All child elements called `name`, in document order.
    fn children(&self, name: &str) -> Vec<Self>;
    /// An attribute's value, `None` when absent or empty.
    fn attr(&self, name: &str) -> Option<String>;
}

/// An opened `autoload_configs/<name>` document; freed on drop.
pub struct XmlConfig {
    root: sys::switch_xml_t,
    cfg: sys::switch_xml_t,
}

impl XmlConfig {
    /// Open `name` (e.g. `wacall.conf`) through the host's XML registry.
    pub fn open(name: &str) -> Option<Self> {
        let name = c_string(name);
        let mut cfg: sys::switch_xml_t = std::ptr::null_mut();
        // SAFETY: out-pointer to a local; the root returned must be freed with switch_xml_free (see Drop).
        let root =
            unsafe { sys::switch_xml_open_cfg(name.as_ptr(), &mut cfg, std::ptr::null_mut()) };
        if root.is_null() {
            return None;
        }
        if cfg.is_null() {
            // SAFETY: root came from switch_xml_open_cfg and is freed once.
            unsafe { sys::switch_xml_free(root) };
            return None;
        }
        Some(XmlConfig { root, cfg })
    }

    /// The `<configuration>` element.
    pub fn node(&self) -> XmlNode<'_> {
        XmlNode {
            raw: self.cfg,
            _life: PhantomData,
        }
    }
}

impl Drop for XmlConfig {
    fn drop(&mut self) {
        // SAFETY: root came from switch_xml_open_cfg and is freed exactly once.
        unsafe { sys::switch_xml_free(self.root) };
    }
}

/// An element inside an open `XmlConfig`.
#[derive(Clone, Copy)]
pub struct XmlNode<'a> {
    raw: sys::switch_xml_t,
    _life: PhantomData<&'a XmlConfig>,
}

impl ConfigNode for XmlNode<'_> {
    fn child(&self, name: &str) -> Option<Self> {
        let name = c_string(name);
        // SAFETY: raw is a live node of a document kept open by the borrow of XmlConfig.
        let p = unsafe { sys::switch_xml_child(self.raw, name.as_ptr()) };
        (!p.is_null()).then_some(XmlNode {
            raw: p,
            _life: PhantomData,
        })
    }

    fn children(&self, name: &str) -> Vec<Self> {
        let mut out = Vec::new();
        let Some(first) = self.child(name) else {
            return out;
        };
        let mut p = first.raw;
        while !p.is_null() {
            out.push(XmlNode {
                raw: p,
                _life: PhantomData,
            });
            // SAFETY: p is a live node of the open document; `next` (offset 40, checked against the headers) is
            // the same-name list, null-terminated.
            p = unsafe { (*p).next };
        }
        out
    }

    fn attr(&self, name: &str) -> Option<String> {
        let name = c_string(name);
        // SAFETY: live node; attr_soft returns "" (never null) when the attribute is absent.
        let v = unsafe { string_from(sys::switch_xml_attr_soft(self.raw, name.as_ptr())) }?;
        (!v.is_empty()).then_some(v)
    }
}

/// Registers API commands and applications on the module interface during `load`.
pub struct Registrar {
    module: *mut sys::switch_loadable_module_interface_t,
}

impl Registrar {
    /// Create the module interface (`switch_loadable_module_create_module_interface`) and store it in `*out`.
    ///
    /// # Safety
    /// `out` and `pool` are the arguments FreeSWITCH passed to the module's load function.
    pub(crate) unsafe fn create(
        out: *mut *mut sys::switch_loadable_module_interface_t,
        pool: *mut sys::switch_memory_pool_t,
        name: &'static CStr,
    ) -> Option<Self> {
        if out.is_null() || pool.is_null() {
            return None;
        }
        // SAFETY: pool is the module's pool; the host copies nothing from name but keeps the pointer: 'static.
        let module =
            unsafe { sys::switch_loadable_module_create_module_interface(pool, name.as_ptr()) };
        if module.is_null() {
            return None;
        }
        // SAFETY: out is the host's out-parameter.
        unsafe { *out = module };
        Some(Registrar { module })
    }

    /// `SWITCH_ADD_API`.
    pub fn add_api(
        &self,
        name: &'static CStr,
        desc: &'static CStr,
        syntax: &'static CStr,
        f: sys::switch_api_function_t,
    ) -> bool {
        // SAFETY: module is live during load; the host returns a zeroed interface from the module pool.
        let p = unsafe {
            sys::switch_loadable_module_create_interface(self.module, sys::SWITCH_API_INTERFACE)
        } as *mut sys::switch_api_interface_t;
        if p.is_null() {
            return false;
        }
        // SAFETY: p points to a switch_api_interface_t owned by the host; the strings are 'static.
        unsafe {
            (*p).interface_name = name.as_ptr();
            (*p).desc = desc.as_ptr();
            (*p).function = Some(f);
            (*p).syntax = syntax.as_ptr();
        }
        true
    }

    /// `SWITCH_ADD_APP`.
    pub fn add_app(
        &self,
        name: &'static CStr,
        short_desc: &'static CStr,
        long_desc: &'static CStr,
        syntax: &'static CStr,
        flags: u32,
        f: sys::switch_application_function_t,
    ) -> bool {
        // SAFETY: as in add_api.
        let p = unsafe {
            sys::switch_loadable_module_create_interface(
                self.module,
                sys::SWITCH_APPLICATION_INTERFACE,
            )
        } as *mut sys::switch_application_interface_t;
        if p.is_null() {
            return false;
        }
        // SAFETY: p points to a switch_application_interface_t owned by the host; the strings are 'static.
        unsafe {
            (*p).interface_name = name.as_ptr();
            (*p).application_function = Some(f);
            (*p).short_desc = short_desc.as_ptr();
            (*p).long_desc = long_desc.as_ptr();
            (*p).syntax = syntax.as_ptr();
            (*p).flags = flags;
        }
        true
    }
}

/// Routes the `log` crate (used by the wacall core and relay threads) to FreeSWITCH's logger.
pub struct HostLogger;

impl log::Log for HostLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let level = match record.level() {
            log::Level::Error => Level::Error,
            log::Level::Warn => Level::Warning,
            log::Level::Info => Level::Info,
            log::Level::Debug | log::Level::Trace => Level::Debug,
        };
        log(
            level,
            record.file().unwrap_or("mod_wacall"),
            record.line().unwrap_or(0),
            &format!("[{}] {}", record.target(), record.args()),
        );
    }

    fn flush(&self) {}
}
