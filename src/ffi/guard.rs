//! The one panic boundary of the C ABI and the error model every `wacall_*` export shares.
//! Exports run their body through `guard()`; argument checks and output writing live here too, so each export only
//! converts, calls the safe core and maps the result.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest string accepted for SIP-level inputs (URIs, numbers, header values, credentials), in bytes, without the
/// terminating NUL. Longer input is rejected with `WACALL_ERR_TOO_LONG`.
pub const WACALL_MAX_SIP_STRING: usize = 64 * 1024;

/// Longest SDP body accepted, in bytes, without the terminating NUL (the SDP parser's own limit).
pub const WACALL_MAX_SDP: usize = 64 * 1024;

/// The outcome of a `wacall_*` call. The numbers are stable: new codes are only ever added.
///
/// On any code other than `WACALL_OK`, `wacall_last_error_message()` on the same thread tells what went wrong.
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum wacall_result {
    /// Success.
    WACALL_OK = 0,
    /// A required pointer argument was NULL.
    WACALL_ERR_NULL_ARGUMENT = 1,
    /// A string argument was not valid UTF-8.
    WACALL_ERR_INVALID_UTF8 = 2,
    /// A string argument was longer than its limit (`WACALL_MAX_SIP_STRING`, `WACALL_MAX_SDP`).
    WACALL_ERR_TOO_LONG = 3,
    /// The caller's output buffer was too small; `*written` holds the length needed (without the NUL).
    WACALL_ERR_BUFFER_TOO_SMALL = 4,
    /// An argument was well-formed but not acceptable (e.g. an unknown enum value, an empty name).
    WACALL_ERR_INVALID_ARGUMENT = 5,
    /// What was asked for is not there (e.g. a header absent from the message).
    WACALL_ERR_NOT_FOUND = 6,
    /// The SIP layer rejected the input (URI, number, header, user parameters).
    WACALL_ERR_SIP = 10,
    /// The digest layer rejected the input (challenge, credentials, response).
    WACALL_ERR_DIGEST = 11,
    /// The SDP layer rejected the input (parse or mapping).
    WACALL_ERR_SDP = 12,
    /// The media layer (ICE, DTLS, SRTP) failed.
    WACALL_ERR_MEDIA = 13,
    /// The relay failed.
    WACALL_ERR_RELAY = 14,
    /// A digest response did not verify (wrong password, wrong realm, bad or replayed nonce).
    WACALL_ERR_AUTH_FAILED = 15,
    /// A digest response used an expired nonce: challenge again with `stale=true`.
    WACALL_ERR_AUTH_STALE = 16,
    /// An internal error that is not the caller's fault (a bug): please report it.
    WACALL_ERR_INTERNAL = 98,
    /// wacall panicked inside the call; the panic was caught and did not cross the boundary (a bug: please report
    /// it). Objects passed to the failed call may be left in an unspecified but memory-safe state.
    WACALL_ERR_PANIC = 99,
}

impl wacall_result {
    /// A short constant name for the code, as in the C header.
    pub fn name(self) -> &'static str {
        use wacall_result::*;
        match self {
            WACALL_OK => "WACALL_OK",
            WACALL_ERR_NULL_ARGUMENT => "WACALL_ERR_NULL_ARGUMENT",
            WACALL_ERR_INVALID_UTF8 => "WACALL_ERR_INVALID_UTF8",
            WACALL_ERR_TOO_LONG => "WACALL_ERR_TOO_LONG",
            WACALL_ERR_BUFFER_TOO_SMALL => "WACALL_ERR_BUFFER_TOO_SMALL",
            WACALL_ERR_INVALID_ARGUMENT => "WACALL_ERR_INVALID_ARGUMENT",
            WACALL_ERR_NOT_FOUND => "WACALL_ERR_NOT_FOUND",
            WACALL_ERR_SIP => "WACALL_ERR_SIP",
            WACALL_ERR_DIGEST => "WACALL_ERR_DIGEST",
            WACALL_ERR_SDP => "WACALL_ERR_SDP",
            WACALL_ERR_MEDIA => "WACALL_ERR_MEDIA",
            WACALL_ERR_RELAY => "WACALL_ERR_RELAY",
            WACALL_ERR_AUTH_FAILED => "WACALL_ERR_AUTH_FAILED",
            WACALL_ERR_AUTH_STALE => "WACALL_ERR_AUTH_STALE",
            WACALL_ERR_INTERNAL => "WACALL_ERR_INTERNAL",
            WACALL_ERR_PANIC => "WACALL_ERR_PANIC",
        }
    }

    /// The code's name as a NUL-terminated static string, for `wacall_result_name`.
    pub(crate) fn name_c(self) -> &'static std::ffi::CStr {
        use wacall_result::*;
        match self {
            WACALL_OK => c"WACALL_OK",
            WACALL_ERR_NULL_ARGUMENT => c"WACALL_ERR_NULL_ARGUMENT",
            WACALL_ERR_INVALID_UTF8 => c"WACALL_ERR_INVALID_UTF8",
            WACALL_ERR_TOO_LONG => c"WACALL_ERR_TOO_LONG",
            WACALL_ERR_BUFFER_TOO_SMALL => c"WACALL_ERR_BUFFER_TOO_SMALL",
            WACALL_ERR_INVALID_ARGUMENT => c"WACALL_ERR_INVALID_ARGUMENT",
            WACALL_ERR_NOT_FOUND => c"WACALL_ERR_NOT_FOUND",
            WACALL_ERR_SIP => c"WACALL_ERR_SIP",
            WACALL_ERR_DIGEST => c"WACALL_ERR_DIGEST",
            WACALL_ERR_SDP => c"WACALL_ERR_SDP",
            WACALL_ERR_MEDIA => c"WACALL_ERR_MEDIA",
            WACALL_ERR_RELAY => c"WACALL_ERR_RELAY",
            WACALL_ERR_AUTH_FAILED => c"WACALL_ERR_AUTH_FAILED",
            WACALL_ERR_AUTH_STALE => c"WACALL_ERR_AUTH_STALE",
            WACALL_ERR_INTERNAL => c"WACALL_ERR_INTERNAL",
            WACALL_ERR_PANIC => c"WACALL_ERR_PANIC",
        }
    }
}

/// A failure on its way out of an export: the code plus a message for `wacall_last_error_message`.
#[derive(Debug)]
pub(crate) struct FfiError {
    pub(crate) code: wacall_result,
    pub(crate) message: String,
}

impl FfiError {
    pub(crate) fn new(code: wacall_result, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn null(arg: &str) -> Self {
        Self::new(
            wacall_result::WACALL_ERR_NULL_ARGUMENT,
            format!("`{arg}` is NULL"),
        )
    }

    pub(crate) fn invalid(message: impl fmt::Display) -> Self {
        Self::new(
            wacall_result::WACALL_ERR_INVALID_ARGUMENT,
            message.to_string(),
        )
    }
}

impl fmt::Display for FfiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl From<crate::Error> for FfiError {
    fn from(e: crate::Error) -> Self {
        use crate::Error as E;
        let code = match &e {
            E::Sip(_) => wacall_result::WACALL_ERR_SIP,
            E::Digest(_) => wacall_result::WACALL_ERR_DIGEST,
            E::Sdp(_) => wacall_result::WACALL_ERR_SDP,
            E::Media(_) => wacall_result::WACALL_ERR_MEDIA,
            E::Relay(_) => wacall_result::WACALL_ERR_RELAY,
            E::InvalidArgument(_) => wacall_result::WACALL_ERR_INVALID_ARGUMENT,
            // `Error` is non_exhaustive and grows with the layers; a layer added without a code here still reports
            // a message rather than failing the build of every branch.
            #[allow(unreachable_patterns)]
            _ => wacall_result::WACALL_ERR_INTERNAL,
        };
        Self::new(code, e.to_string())
    }
}

macro_rules! from_layer {
    ($($t:ty),*) => {$(
        impl From<$t> for FfiError {
            fn from(e: $t) -> Self {
                crate::Error::from(e).into()
            }
        }
    )*};
}
from_layer!(
    crate::sip::Error,
    crate::digest::Error,
    crate::sdp::Error,
    crate::media::Error,
    crate::relay::Error
);

/// Counters of calls that failed, by cause, since the library was loaded. Read with `wacall_stats_get`.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct wacall_stats {
    /// Calls rejected for a NULL required argument.
    pub null_argument: u64,
    /// Calls rejected for a string that was not UTF-8.
    pub invalid_utf8: u64,
    /// Calls rejected for a string over its size limit.
    pub too_long: u64,
    /// Calls that found the caller's output buffer too small.
    pub buffer_too_small: u64,
    /// Calls that failed in a layer (SIP, digest, SDP, media, relay), or with an invalid argument or a
    /// verification failure.
    pub rejected: u64,
    /// Panics caught at the boundary (each one is a bug).
    pub panics: u64,
}

static NULL_ARGUMENT: AtomicU64 = AtomicU64::new(0);
static INVALID_UTF8: AtomicU64 = AtomicU64::new(0);
static TOO_LONG: AtomicU64 = AtomicU64::new(0);
static BUFFER_TOO_SMALL: AtomicU64 = AtomicU64::new(0);
static REJECTED: AtomicU64 = AtomicU64::new(0);
static PANICS: AtomicU64 = AtomicU64::new(0);

pub(crate) fn stats() -> wacall_stats {
    wacall_stats {
        null_argument: NULL_ARGUMENT.load(Ordering::Relaxed),
        invalid_utf8: INVALID_UTF8.load(Ordering::Relaxed),
        too_long: TOO_LONG.load(Ordering::Relaxed),
        buffer_too_small: BUFFER_TOO_SMALL.load(Ordering::Relaxed),
        rejected: REJECTED.load(Ordering::Relaxed),
        panics: PANICS.load(Ordering::Relaxed),
    }
}

fn count(code: wacall_result) {
    use wacall_result::*;
    let counter = match code {
        WACALL_OK => return,
        WACALL_ERR_NULL_ARGUMENT => &NULL_ARGUMENT,
        WACALL_ERR_INVALID_UTF8 => &INVALID_UTF8,
        WACALL_ERR_TOO_LONG => &TOO_LONG,
        WACALL_ERR_BUFFER_TOO_SMALL => &BUFFER_TOO_SMALL,
        WACALL_ERR_PANIC => &PANICS,
        _ => &REJECTED,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

thread_local! {
    /// The last failure on this thread, errno-style: successful calls leave it alone.
    static LAST_ERROR: RefCell<Option<(wacall_result, String)>> = const { RefCell::new(None) };
}

fn record(function: &'static str, err: FfiError) -> wacall_result {
    count(err.code);
    let message = format!("{function}: {}", err.message);
    log::debug!("{message}");
    // try_with/try_borrow_mut: recording must never itself panic (thread teardown, re-entrancy).
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = Some((err.code, message));
        }
    });
    err.code
}

/// The last failure recorded on this thread: its code and message.
pub(crate) fn last_error() -> Option<(wacall_result, String)> {
    LAST_ERROR
        .try_with(|slot| slot.try_borrow().ok().and_then(|s| s.clone()))
        .ok()
        .flatten()
}

pub(crate) fn clear_last_error() {
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = None;
        }
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "non-string panic payload"
    }
}

/// Runs an export's body: the only place where a panic is caught and where errors become codes.
///
/// `function` names the export in the recorded message. The body owns its argument checks and output writes
/// (see [`str_arg`], [`OutBuf`], [`out_string`]).
pub(crate) fn guard(
    function: &'static str,
    body: impl FnOnce() -> Result<(), FfiError>,
) -> wacall_result {
    // AssertUnwindSafe: after a caught panic, nothing the body touched is used again by this call; handles passed in
    // stay memory-safe (they own no borrowed state) and the caller is told with WACALL_ERR_PANIC.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => wacall_result::WACALL_OK,
        Ok(Err(err)) => record(function, err),
        Err(payload) => {
            let message = format!("internal error (panic): {}", panic_message(&*payload));
            log::error!("{function}: {message}");
            // Dropping the payload could itself panic (a Drop impl in it); leak it rather than risk unwinding out.
            std::mem::forget(payload);
            record(
                function,
                FfiError::new(wacall_result::WACALL_ERR_PANIC, message),
            )
        }
    }
}

/// Like [`guard`] for exports that cannot report a code (`void` functions): failures are only recorded.
pub(crate) fn guard_void(function: &'static str, body: impl FnOnce() -> Result<(), FfiError>) {
    let _ = guard(function, body);
}

extern "C" {
    // POSIX; bounds the scan so an unterminated or huge string is rejected without reading past the limit.
    fn strnlen(s: *const c_char, maxlen: usize) -> usize;
}

/// Borrows a NUL-terminated UTF-8 string argument of at most `max` bytes.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string, or to at least `max + 1` readable bytes, valid for `'a`.
pub(crate) unsafe fn str_arg<'a>(
    ptr: *const c_char,
    name: &str,
    max: usize,
) -> Result<&'a str, FfiError> {
    let bytes = bytes_arg(ptr, name, max)?;
    std::str::from_utf8(bytes).map_err(|e| {
        FfiError::new(
            wacall_result::WACALL_ERR_INVALID_UTF8,
            format!("`{name}` is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })
}

/// Like [`str_arg`] but NULL gives `None` (for optional arguments).
///
/// # Safety
/// As for [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    ptr: *const c_char,
    name: &str,
    max: usize,
) -> Result<Option<&'a str>, FfiError> {
    if ptr.is_null() {
        Ok(None)
    } else {
        str_arg(ptr, name, max).map(Some)
    }
}

/// Borrows a NUL-terminated byte string argument of at most `max` bytes (no UTF-8 check).
///
/// # Safety
/// As for [`str_arg`].
pub(crate) unsafe fn bytes_arg<'a>(
    ptr: *const c_char,
    name: &str,
    max: usize,
) -> Result<&'a [u8], FfiError> {
    if ptr.is_null() {
        return Err(FfiError::null(name));
    }
    // SAFETY: the caller guarantees `ptr` is readable up to its NUL or for `max + 1` bytes; strnlen reads no further.
    let len = unsafe { strnlen(ptr, max.saturating_add(1)) };
    if len > max {
        return Err(FfiError::new(
            wacall_result::WACALL_ERR_TOO_LONG,
            format!("`{name}` is longer than {max} bytes"),
        ));
    }
    // SAFETY: `len` bytes before the NUL were just found readable; the caller keeps them alive for 'a.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// Checks a required pointer argument and hands back a shared reference.
///
/// # Safety
/// `ptr` is NULL or points to a valid `T` for `'a`, not mutated meanwhile.
pub(crate) unsafe fn ref_arg<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, FfiError> {
    // SAFETY: per the contract above.
    unsafe { ptr.as_ref() }.ok_or_else(|| FfiError::null(name))
}

/// A caller-owned output buffer: `char *out, size_t out_len, size_t *written`.
///
/// Created at the start of an export so the buffer holds an empty string and `*written` is 0 on every failure.
/// On success the string is written NUL-terminated and `*written` is its length without the NUL; on
/// `WACALL_ERR_BUFFER_TOO_SMALL` the buffer holds an empty string and `*written` the length needed (so `out_len`
/// must be at least `*written + 1`). `out` may be NULL when `out_len` is 0 (a size query); `written` may be NULL.
pub(crate) struct OutBuf {
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
}

impl OutBuf {
    /// # Safety
    /// `out` is NULL or writable for `out_len` bytes; `written` is NULL or writable; both for the call's duration.
    pub(crate) unsafe fn new(
        out: *mut c_char,
        out_len: usize,
        written: *mut usize,
    ) -> Result<Self, FfiError> {
        if !written.is_null() {
            // SAFETY: non-null and writable per the contract.
            unsafe { written.write(0) };
        }
        if out.is_null() && out_len != 0 {
            return Err(FfiError::null("out"));
        }
        if out_len != 0 {
            // SAFETY: at least one writable byte per the contract.
            unsafe { out.write(0) };
        }
        Ok(Self {
            out,
            out_len,
            written,
        })
    }

    /// Writes `s` and its NUL, or reports the size needed.
    pub(crate) fn write(self, s: &str) -> Result<(), FfiError> {
        let bytes = s.as_bytes();
        if !self.written.is_null() {
            // SAFETY: checked non-null in `new`, writable per its contract.
            unsafe { self.written.write(bytes.len()) };
        }
        if bytes.contains(&0) {
            return Err(FfiError::new(
                wacall_result::WACALL_ERR_INTERNAL,
                "output contains a NUL byte",
            ));
        }
        if bytes.len() >= self.out_len {
            return Err(FfiError::new(
                wacall_result::WACALL_ERR_BUFFER_TOO_SMALL,
                format!(
                    "output needs {} bytes (with the NUL), buffer has {}",
                    bytes.len() + 1,
                    self.out_len
                ),
            ));
        }
        // SAFETY: `out` is writable for `out_len` > `bytes.len()` bytes; the source is a distinct Rust allocation.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.out.cast::<u8>(), bytes.len());
            self.out.add(bytes.len()).write(0);
        }
        Ok(())
    }
}

/// A library-allocated output string: `char **out`, freed by the caller with `wacall_string_free`.
pub(crate) struct OutString {
    out: *mut *mut c_char,
}

impl OutString {
    /// Checks `out` and sets `*out = NULL`, so a failed call never leaves a dangling pointer to free.
    ///
    /// # Safety
    /// `out` is NULL or writable for one pointer for the call's duration.
    pub(crate) unsafe fn new(out: *mut *mut c_char) -> Result<Self, FfiError> {
        if out.is_null() {
            return Err(FfiError::null("out"));
        }
        // SAFETY: non-null and writable per the contract.
        unsafe { out.write(std::ptr::null_mut()) };
        Ok(Self { out })
    }

    /// Hands `s` to the caller as a NUL-terminated heap string.
    pub(crate) fn write(self, s: String) -> Result<(), FfiError> {
        let c = CString::new(s).map_err(|_| {
            FfiError::new(
                wacall_result::WACALL_ERR_INTERNAL,
                "output contains a NUL byte",
            )
        })?;
        // SAFETY: checked non-null and writable in `new`.
        unsafe { self.out.write(c.into_raw()) };
        Ok(())
    }
}

/// Frees a string made by [`OutString::write`].
///
/// # Safety
/// `s` is NULL or came from [`OutString::write`] and was not freed before.
pub(crate) unsafe fn free_string(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: per the contract, `s` came from CString::into_raw and is freed once.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Writes a value into a required out-pointer.
///
/// # Safety
/// `out` is NULL or writable for one `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, name: &str, value: T) -> Result<(), FfiError> {
    if out.is_null() {
        return Err(FfiError::null(name));
    }
    // SAFETY: non-null and writable per the contract.
    unsafe { out.write(value) };
    Ok(())
}

/// Moves `value` to the heap for the caller as an opaque handle.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back and drops a handle made by [`into_handle`].
///
/// # Safety
/// `ptr` is NULL or came from [`into_handle::<T>`] and was not freed before.
pub(crate) unsafe fn free_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: per the contract, `ptr` came from Box::into_raw and is freed once.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wacall_result::*;

    #[test]
    fn panic_becomes_code_and_message() {
        let code = guard("t_panic", || panic!("boom"));
        assert_eq!(code, WACALL_ERR_PANIC);
        let (c, m) = last_error().unwrap();
        assert_eq!(c, WACALL_ERR_PANIC);
        assert!(m.contains("t_panic") && m.contains("boom"), "{m}");
    }

    #[test]
    fn layer_error_maps_to_its_code() {
        let code = guard("t_sip", || {
            Err(crate::sip::Error::Invalid("x".into()).into())
        });
        assert_eq!(code, WACALL_ERR_SIP);
    }

    #[test]
    fn str_arg_checks() {
        unsafe {
            assert_eq!(
                str_arg(std::ptr::null(), "a", 10).unwrap_err().code,
                WACALL_ERR_NULL_ARGUMENT
            );
            assert_eq!(str_arg(c"hello".as_ptr(), "a", 5).unwrap(), "hello");
            assert_eq!(
                str_arg(c"hello!".as_ptr(), "a", 5).unwrap_err().code,
                WACALL_ERR_TOO_LONG
            );
            let bad = [0xffu8 as c_char, 0];
            assert_eq!(
                str_arg(bad.as_ptr(), "a", 5).unwrap_err().code,
                WACALL_ERR_INVALID_UTF8
            );
        }
    }

    #[test]
    fn out_buf_sizes() {
        let mut buf = [1 as c_char; 4];
        let mut written = 99usize;
        unsafe {
            let o = OutBuf::new(buf.as_mut_ptr(), buf.len(), &mut written).unwrap();
            assert_eq!(
                o.write("abcd").unwrap_err().code,
                WACALL_ERR_BUFFER_TOO_SMALL
            );
            assert_eq!(written, 4);
            assert_eq!(buf[0], 0);
            let o = OutBuf::new(buf.as_mut_ptr(), buf.len(), &mut written).unwrap();
            o.write("abc").unwrap();
            assert_eq!(written, 3);
            assert_eq!(
                std::ffi::CStr::from_ptr(buf.as_ptr()).to_str().unwrap(),
                "abc"
            );
            // Size query.
            let o = OutBuf::new(std::ptr::null_mut(), 0, &mut written).unwrap();
            assert_eq!(
                o.write("abcdef").unwrap_err().code,
                WACALL_ERR_BUFFER_TOO_SMALL
            );
            assert_eq!(written, 6);
        }
    }
}
