//! The safe layer over Kamailio's raw API: message access (R-URI, headers, body, source), message changes through
//! Kamailio's lumps, AVPs, the tm transaction of a failure_route, RPC replies, and a `log` backend on LM_*.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CString};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::sys;

/// A failure of a host call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostError {
    Parse(&'static str),
    NoMemory,
    Lump(&'static str),
    NoTransaction(&'static str),
    TooLong,
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Parse(s) => write!(f, "cannot parse message: {s}"),
            HostError::NoMemory => f.write_str("out of pkg memory"),
            HostError::Lump(s) => write!(f, "message change failed: {s}"),
            HostError::NoTransaction(s) => write!(f, "no transaction: {s}"),
            HostError::TooLong => f.write_str("value too long"),
        }
    }
}

impl std::error::Error for HostError {}

/// Views a Kamailio `str` as bytes (empty for a null pointer or a negative length).
///
/// # Safety
/// `s.s` must point to `s.len` readable bytes that outlive `'a`.
pub unsafe fn str_bytes<'a>(s: &sys::str_) -> &'a [u8] {
    if s.s.is_null() || s.len <= 0 {
        return &[];
    }
    // SAFETY: the caller vouches for pointer and length.
    unsafe { std::slice::from_raw_parts(s.s as *const u8, s.len as usize) }
}

/// A Kamailio `str` borrowing Rust bytes, for calls that copy what they are given.
fn borrowed_str(b: &[u8]) -> Result<sys::str_, HostError> {
    let len = c_int::try_from(b.len()).map_err(|_| HostError::TooLong)?;
    Ok(sys::str_ {
        s: b.as_ptr() as *mut c_char,
        len,
    })
}

/// Copies bytes into pkg memory, as lumps and new_uri require (Kamailio frees them).
fn pkg_copy(b: &[u8], nul: bool) -> Result<*mut c_char, HostError> {
    let n = b.len() + usize::from(nul);
    // SAFETY: plain allocation; checked for null below.
    let p = unsafe { sys::wacall_shim_pkg_malloc(n.max(1) as _) } as *mut u8;
    if p.is_null() {
        return Err(HostError::NoMemory);
    }
    // SAFETY: p has room for n bytes and does not overlap b.
    unsafe {
        std::ptr::copy_nonoverlapping(b.as_ptr(), p, b.len());
        if nul {
            *p.add(b.len()) = 0;
        }
    }
    Ok(p as *mut c_char)
}

/// A header as (name, value) bytes inside the message buffer.
pub type HeaderRef<'a> = (&'a [u8], &'a [u8]);

/// What a failure_route sees of the picked branch: status code, the asked header's values, the branch's R-URI.
pub type PickedReply = (u16, Vec<Vec<u8>>, Vec<u8>);

/// A SIP message handed to a cfg function; valid for the duration of that call.
pub struct Msg {
    raw: *mut sys::sip_msg,
}

const SIP_REQUEST: i16 = 1;
/// HDR_EOH_F: parse all headers (bit of HDR_EOH_T in hdr_flags_t).
fn hdr_eoh_f() -> sys::hdr_flags_t {
    1 << (sys::_hdr_types_t_HDR_EOH_T as u64)
}

impl Msg {
    /// # Safety
    /// `raw` must be the message Kamailio passed to the current cfg/KEMI function (or null).
    pub unsafe fn from_raw(raw: *mut sys::sip_msg) -> Option<Msg> {
        (!raw.is_null()).then_some(Msg { raw })
    }

    fn m(&self) -> &sys::sip_msg {
        // SAFETY: non-null, and Kamailio keeps it alive during the call (from_raw contract).
        unsafe { &*self.raw }
    }

    pub fn raw(&self) -> *mut sys::sip_msg {
        self.raw
    }

    pub fn is_request(&self) -> bool {
        self.m().first_line.type_ == SIP_REQUEST
    }

    pub fn method(&self) -> &[u8] {
        if !self.is_request() {
            return &[];
        }
        // SAFETY: request line fields point into msg->buf for a request.
        unsafe { str_bytes(&self.m().first_line.u.request.method) }
    }

    /// The current R-URI (new_uri once the script changed it).
    pub fn ruri(&self) -> &[u8] {
        if !self.is_request() {
            return &[];
        }
        let m = self.m();
        // SAFETY: new_uri is pkg memory owned by the message; the request uri points into msg->buf.
        unsafe {
            if !m.new_uri.s.is_null() && m.new_uri.len > 0 {
                str_bytes(&m.new_uri)
            } else {
                str_bytes(&m.first_line.u.request.uri)
            }
        }
    }

    pub fn src_ip(&self) -> Option<IpAddr> {
        let ip = &self.m().rcv.src_ip;
        // SAFETY: the union's byte view is always initialised (16 bytes).
        let b = unsafe { ip.u.addr };
        match ip.af as i32 {
            libc_af::INET => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
            libc_af::INET6 => Some(IpAddr::V6(Ipv6Addr::from(b))),
            _ => None,
        }
    }

    /// Parses every header; false when the message is broken.
    fn parse_all(&mut self) -> Result<(), HostError> {
        // SAFETY: valid message; parse_headers is Kamailio's own parser and idempotent.
        let r = unsafe { sys::parse_headers(self.raw, hdr_eoh_f(), 0) };
        if r < 0 {
            return Err(HostError::Parse("headers"));
        }
        Ok(())
    }

    /// All headers as (name, value) in message order.
    pub fn headers(&mut self) -> Result<Vec<HeaderRef<'_>>, HostError> {
        self.parse_all()?;
        let mut out = Vec::new();
        let mut h = self.m().headers;
        let mut guard = 0;
        while !h.is_null() && guard < 10_000 {
            // SAFETY: a node of Kamailio's header list of this message.
            let hf = unsafe { &*h };
            // SAFETY: name and body point into the message buffer.
            out.push(unsafe { (str_bytes(&hf.name), str_bytes(&hf.body)) });
            h = hf.next;
            guard += 1;
        }
        Ok(out)
    }

    /// The first header with this name (case-insensitive).
    pub fn header(&mut self, name: &str) -> Result<Option<&[u8]>, HostError> {
        Ok(self
            .headers()?
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v))
    }

    /// The message body, bounded by the buffer and Content-Length.
    pub fn body(&mut self) -> Result<&[u8], HostError> {
        self.parse_all()?;
        // SAFETY: valid message with parsed headers.
        let p = unsafe { sys::get_body(self.raw) };
        let m = self.m();
        if p.is_null() || m.buf.is_null() {
            return Ok(&[]);
        }
        let start = (p as usize).wrapping_sub(m.buf as usize);
        let total = usize::try_from(m.len).unwrap_or(0);
        if start > total {
            return Err(HostError::Parse("body outside buffer"));
        }
        // SAFETY: [p, buf+len) lies inside the message buffer.
        let all = unsafe { std::slice::from_raw_parts(p as *const u8, total - start) };
        Ok(all)
    }

    fn body_offset_len(&mut self) -> Result<(c_int, c_int), HostError> {
        let (ptr, blen) = {
            let body = self.body()?;
            (body.as_ptr() as usize, body.len())
        };
        let off = ptr.wrapping_sub(self.m().buf as usize);
        let off = c_int::try_from(off).map_err(|_| HostError::TooLong)?;
        let len = c_int::try_from(blen).map_err(|_| HostError::TooLong)?;
        Ok((off, len))
    }

    /// Sets the R-URI (Kamailio's rewrite_uri, as `$ru = ...` does).
    pub fn rewrite_ruri(&mut self, uri: &str) -> Result<(), HostError> {
        let mut s = borrowed_str(uri.as_bytes())?;
        // SAFETY: rewrite_uri copies the value into pkg memory.
        let r = unsafe { sys::rewrite_uri(self.raw, &mut s) };
        if r < 0 {
            return Err(HostError::Lump("rewrite_uri"));
        }
        Ok(())
    }

    /// Adds a header line (`Name: value\r\n`) after the last header, as append_hf does.
    pub fn append_header(&mut self, line: &str) -> Result<(), HostError> {
        self.parse_all()?;
        let m = self.m();
        let off = (m.unparsed as usize).wrapping_sub(m.buf as usize);
        let off = c_int::try_from(off).map_err(|_| HostError::TooLong)?;
        // SAFETY: offset is within the message; anchor_lump allocates the lump.
        let anchor = unsafe { sys::anchor_lump(self.raw, off, 0, 0) };
        if anchor.is_null() {
            return Err(HostError::Lump("anchor"));
        }
        let len = c_int::try_from(line.len()).map_err(|_| HostError::TooLong)?;
        let p = pkg_copy(line.as_bytes(), false)?;
        // SAFETY: the lump takes ownership of p (pkg memory) on success.
        let l = unsafe { sys::insert_new_lump_before(anchor, p, len, 0) };
        if l.is_null() {
            // SAFETY: p is ours again on failure.
            unsafe { sys::wacall_shim_pkg_free(p as *mut c_void) };
            return Err(HostError::Lump("insert header"));
        }
        Ok(())
    }

    /// Replaces the whole body (Content-Length is fixed by Kamailio when the message is built).
    pub fn replace_body(&mut self, new_body: &[u8]) -> Result<(), HostError> {
        let (off, len) = self.body_offset_len()?;
        // SAFETY: the range is the body inside this message.
        let anchor = unsafe { sys::del_lump(self.raw, off, len, 0) };
        if anchor.is_null() {
            return Err(HostError::Lump("delete body"));
        }
        let nlen = c_int::try_from(new_body.len()).map_err(|_| HostError::TooLong)?;
        let p = pkg_copy(new_body, false)?;
        // SAFETY: the lump takes ownership of p on success.
        let l = unsafe { sys::insert_new_lump_after(anchor, p, nlen, 0) };
        if l.is_null() {
            // SAFETY: p is ours again on failure.
            unsafe { sys::wacall_shim_pkg_free(p as *mut c_void) };
            return Err(HostError::Lump("insert body"));
        }
        Ok(())
    }

    /// Sets the R-URI for the next branch the way uac_auth does in a failure_route (new_uri, marked new).
    pub fn set_new_uri_raw(&mut self, uri: &[u8]) -> Result<(), HostError> {
        let p = pkg_copy(uri, true)?;
        let len = c_int::try_from(uri.len()).map_err(|_| HostError::TooLong)?;
        // SAFETY: we own the message fields during the call; the old new_uri is pkg memory of the message.
        unsafe {
            let m = &mut *self.raw;
            if !m.new_uri.s.is_null() {
                sys::wacall_shim_pkg_free(m.new_uri.s as *mut c_void);
            }
            m.new_uri.s = p;
            m.new_uri.len = len;
            m.parsed_uri_ok = 0;
            sys::wacall_shim_ruri_mark_new();
        }
        Ok(())
    }

    /// Asks the dialog layer (if any) to bump the CSeq of the re-sent request, as uac_auth does.
    pub fn mark_auth_cseq_update(&mut self) {
        // SAFETY: sr_cfgenv_get returns Kamailio's static environment; the callback takes this message.
        unsafe {
            let env = sys::sr_cfgenv_get();
            if !env.is_null() {
                if let Some(cb) = (*env).cb_cseq_update {
                    let _ = cb(self.raw);
                }
            }
        }
    }
}

/// Address family numbers as Kamailio stores them (Linux AF_*).
mod libc_af {
    pub const INET: i32 = 2;
    pub const INET6: i32 = 10;
}

/// Sets a string AVP, replacing earlier values of the same name.
pub fn set_avp_str(name: &str, value: &[u8]) -> Result<(), HostError> {
    let flags = sys::AVP_NAME_STR | sys::AVP_VAL_STR;
    let n = sys::int_str {
        s: borrowed_str(name.as_bytes())?,
    };
    let v = sys::int_str {
        s: borrowed_str(value)?,
    };
    // SAFETY: add_avp/destroy_avps copy or compare the name and value; the borrowed memory outlives the calls.
    unsafe {
        sys::destroy_avps(sys::AVP_NAME_STR, n, 1);
        if sys::add_avp(flags, n, v) < 0 {
            return Err(HostError::NoMemory);
        }
    }
    Ok(())
}

/// The tm API, loaded once per process in mod_init (inherited by the forked workers).
pub struct Tm(sys::tm_binds);

// SAFETY: a table of function pointers, written once before fork and only read afterwards.
unsafe impl Send for Tm {}
// SAFETY: as above.
unsafe impl Sync for Tm {}

impl Tm {
    pub fn load() -> Option<Tm> {
        let mut b = sys::tm_binds::default();
        // SAFETY: fills b from the tm module's exported loader; fails cleanly when tm is not loaded.
        let r = unsafe { sys::wacall_shim_load_tm(&mut b) };
        (r >= 0).then_some(Tm(b))
    }

    /// In a failure_route: the picked branch's reply headers of the given name, and the branch's request URI.
    pub fn picked_reply(&self, header: &str) -> Result<PickedReply, HostError> {
        let gett = self
            .0
            .t_gett
            .ok_or(HostError::NoTransaction("tm t_gett missing"))?;
        let picked = self
            .0
            .t_get_picked_branch
            .ok_or(HostError::NoTransaction("tm picked missing"))?;
        // SAFETY: tm's own accessors for the current transaction of this process.
        unsafe {
            let t = gett();
            // T_UNDEFINED is (cell*)-1, T_NULL_CELL is 0.
            if t.is_null() || t as isize == -1 {
                return Err(HostError::NoTransaction("no current transaction"));
            }
            let branch = picked();
            let t = &*t;
            if branch < 0 || branch >= c_int::from(t.nr_of_outgoings) || t.uac.is_null() {
                return Err(HostError::NoTransaction("no picked branch"));
            }
            let uac = &*t.uac.add(branch as usize);
            let code = u16::try_from(uac.last_received).unwrap_or(0);
            let uri = str_bytes(&uac.uri).to_vec();
            let rpl = uac.reply;
            // FAKED_REPLY is (sip_msg*)-1: a local timeout, no headers to read.
            if rpl.is_null() || rpl as isize == -1 {
                return Err(HostError::NoTransaction(
                    "the picked reply is local (no challenge)",
                ));
            }
            let mut reply = Msg { raw: rpl };
            let values = reply
                .headers()?
                .into_iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(header.as_bytes()))
                .map(|(_, v)| v.to_vec())
                .collect();
            Ok((code, values, uri))
        }
    }
}

/// A reply being built for one RPC call.
pub struct Rpc {
    rpc: *mut sys::rpc_t,
    ctx: *mut c_void,
}

impl Rpc {
    /// # Safety
    /// Both pointers are the ones Kamailio passed to the RPC function.
    pub unsafe fn from_raw(rpc: *mut sys::rpc_t, ctx: *mut c_void) -> Option<Rpc> {
        (!rpc.is_null()).then_some(Rpc { rpc, ctx })
    }

    fn r(&self) -> &sys::rpc_t {
        // SAFETY: from_raw contract.
        unsafe { &*self.rpc }
    }

    pub fn fault(&self, code: i32, msg: &str) {
        let m = CString::new(msg.replace('\0', " ")).unwrap_or_default();
        if let Some(f) = self.r().fault {
            // SAFETY: "%s" with one C string argument.
            unsafe { f(self.ctx, code, c"%s".as_ptr() as *mut c_char, m.as_ptr()) };
        }
    }

    /// Opens a struct in the reply and returns its handle.
    pub fn begin_struct(&self) -> Option<RpcStruct<'_>> {
        let add = self.r().add?;
        let mut h: *mut c_void = std::ptr::null_mut();
        // SAFETY: "{" takes a void** for the new struct handle.
        let r = unsafe {
            add(
                self.ctx,
                c"{".as_ptr() as *mut c_char,
                &mut h as *mut *mut c_void,
            )
        };
        (r >= 0 && !h.is_null()).then_some(RpcStruct { rpc: self, h })
    }

    pub fn add_str(&self, s: &str) {
        let c = CString::new(s.replace('\0', " ")).unwrap_or_default();
        if let Some(add) = self.r().add {
            // SAFETY: "s" with one C string.
            unsafe { add(self.ctx, c"s".as_ptr() as *mut c_char, c.as_ptr()) };
        }
    }
}

/// A struct inside an RPC reply.
pub struct RpcStruct<'a> {
    rpc: &'a Rpc,
    h: *mut c_void,
}

impl RpcStruct<'_> {
    pub fn str(&self, name: &str, val: &str) {
        let n = CString::new(name).unwrap_or_default();
        let v = CString::new(val.replace('\0', " ")).unwrap_or_default();
        if let Some(sa) = self.rpc.r().struct_add {
            // SAFETY: "s" member: name then C string value.
            unsafe { sa(self.h, c"s".as_ptr() as *mut c_char, n.as_ptr(), v.as_ptr()) };
        }
    }

    pub fn int(&self, name: &str, val: u64) {
        let n = CString::new(name).unwrap_or_default();
        let v = c_int::try_from(val).unwrap_or(c_int::MAX);
        if let Some(sa) = self.rpc.r().struct_add {
            // SAFETY: "d" member: name then int value.
            unsafe { sa(self.h, c"d".as_ptr() as *mut c_char, n.as_ptr(), v) };
        }
    }
}

/// Shared-memory allocation that survives fork (statistics and reload generation).
pub fn shm_alloc_zeroed(size: usize) -> Option<*mut u8> {
    // SAFETY: plain allocation in Kamailio's shm, zeroed before use.
    let p = unsafe { sys::wacall_shim_shm_malloc(size as _) } as *mut u8;
    if p.is_null() {
        return None;
    }
    // SAFETY: p has size bytes.
    unsafe { std::ptr::write_bytes(p, 0, size) };
    Some(p)
}

/// A `log` backend writing through Kamailio's LM_* (safe in Kamailio's own processes; wacall starts no threads).
pub struct KamLogger;

impl log::Log for KamLogger {
    fn enabled(&self, md: &log::Metadata<'_>) -> bool {
        if crate::relay::IN_RELAY_PROCESS.load(std::sync::atomic::Ordering::Relaxed) {
            return md.level() <= log::Level::Info;
        }
        // SAFETY: reads Kamailio's debug level for module "wacall".
        unsafe { sys::wacall_shim_log_enabled(level(md.level())) != 0 }
    }

    fn log(&self, record: &log::Record<'_>) {
        // The relay's own process has threads: Kamailio's logger is not for it.
        if crate::relay::IN_RELAY_PROCESS.load(std::sync::atomic::Ordering::Relaxed) {
            if record.level() <= log::Level::Info {
                crate::relay::log_line(record.level(), &record.args().to_string());
            }
            return;
        }
        if !self.enabled(record.metadata()) {
            return;
        }
        let s = record.args().to_string();
        let len = c_int::try_from(s.len()).unwrap_or(c_int::MAX);
        // SAFETY: "%.*s" with explicit length: no NUL needed.
        unsafe { sys::wacall_shim_log(level(record.level()), s.as_ptr() as *const c_char, len) };
    }

    fn flush(&self) {}
}

fn level(l: log::Level) -> c_int {
    match l {
        log::Level::Error => sys::L_ERR,
        log::Level::Warn => sys::L_WARN as c_int,
        log::Level::Info => sys::L_INFO as c_int,
        log::Level::Debug | log::Level::Trace => sys::L_DBG as c_int,
    }
}

/// `n` zeroed atomic counters in shm, shared by all Kamailio processes forked after this call.
pub fn shm_counters(n: usize) -> Option<&'static [std::sync::atomic::AtomicU64]> {
    let p = shm_alloc_zeroed(n * std::mem::size_of::<std::sync::atomic::AtomicU64>())?;
    // SAFETY: shm_malloc aligns to at least 8 bytes; zeroed AtomicU64 is valid; shm lives as long as Kamailio.
    Some(unsafe { std::slice::from_raw_parts(p as *const std::sync::atomic::AtomicU64, n) })
}

impl Tm {
    /// Marks the transaction's request as re-sent with credentials (as uac_auth does, for CSeq handling).
    pub fn mark_uac_auth(&self) {
        let Some(gett) = self.0.t_gett else { return };
        // SAFETY: the current transaction of this process; its uas.request is tm's shm clone of the request.
        unsafe {
            let t = gett();
            if t.is_null() || t as isize == -1 {
                return;
            }
            let req = (*t).uas.request;
            if !req.is_null() {
                (*req).msg_flags |= sys::FL_UAC_AUTH;
            }
        }
    }
}

/// The latest string value of an AVP (AVPs set in request_route are seen by the transaction's reply and
/// failure routes: that is how an offer waits for its answer).
pub fn get_avp_str(name: &str) -> Option<Vec<u8>> {
    let n = sys::int_str {
        s: borrowed_str(name.as_bytes()).ok()?,
    };
    let mut v = sys::int_str { n: 0 };
    // SAFETY: search_first_avp compares the name and fills v from Kamailio's AVP list; a null state is allowed.
    let avp = unsafe { sys::search_first_avp(sys::AVP_NAME_STR, n, &mut v, std::ptr::null_mut()) };
    if avp.is_null() {
        return None;
    }
    // SAFETY: avp is a live AVP; for a string value, v.s points into its shm data.
    unsafe {
        if (*avp).flags & sys::AVP_VAL_STR == 0 {
            return None;
        }
        Some(str_bytes(&v.s).to_vec())
    }
}
