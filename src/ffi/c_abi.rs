//! The library-wide `wacall_*` exports: version, errors, statistics and freeing strings.
//! Layer exports (SIP, digest, SDP) live beside this file and share its error model (see `guard`).
#![allow(unsafe_code)]

use std::ffi::{c_char, CStr};

use super::guard::{self, guard, guard_void, wacall_result, wacall_stats};

static VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("version contains a NUL"),
    };

/// The library version (`"MAJOR.MINOR.PATCH"`), a static string: do not free it.
#[no_mangle]
pub extern "C" fn wacall_version() -> *const c_char {
    VERSION.as_ptr()
}

/// The constant name of a result code (e.g. `"WACALL_ERR_SIP"`), a static string: do not free it.
/// Unknown numbers give `"WACALL_ERR_UNKNOWN"`.
#[no_mangle]
pub extern "C" fn wacall_result_name(code: u32) -> *const c_char {
    result_from_u32(code)
        .map(|r| r.name_c())
        .unwrap_or(c"WACALL_ERR_UNKNOWN")
        .as_ptr()
}

/// Maps a raw number to a code without ever creating an invalid enum value (C may pass anything).
fn result_from_u32(code: u32) -> Option<wacall_result> {
    use wacall_result::*;
    const ALL: [wacall_result; 16] = [
        WACALL_OK,
        WACALL_ERR_NULL_ARGUMENT,
        WACALL_ERR_INVALID_UTF8,
        WACALL_ERR_TOO_LONG,
        WACALL_ERR_BUFFER_TOO_SMALL,
        WACALL_ERR_INVALID_ARGUMENT,
        WACALL_ERR_NOT_FOUND,
        WACALL_ERR_SIP,
        WACALL_ERR_DIGEST,
        WACALL_ERR_SDP,
        WACALL_ERR_MEDIA,
        WACALL_ERR_RELAY,
        WACALL_ERR_AUTH_FAILED,
        WACALL_ERR_AUTH_STALE,
        WACALL_ERR_INTERNAL,
        WACALL_ERR_PANIC,
    ];
    ALL.into_iter().find(|r| *r as u32 == code)
}

/// The code of the last failed `wacall_*` call on this thread, or `WACALL_OK` if none failed (or after
/// `wacall_clear_last_error`). Successful calls do not reset it (like `errno`).
#[no_mangle]
pub extern "C" fn wacall_last_error_code() -> wacall_result {
    guard::last_error().map_or(wacall_result::WACALL_OK, |(code, _)| code)
}

/// Copies the message of the last failed `wacall_*` call on this thread into `buf` (like `snprintf`: truncated
/// to `len - 1` bytes at a UTF-8 boundary, always NUL-terminated when `len > 0`) and returns the message's full
/// length without the NUL. An empty string (and 0) when nothing failed. `buf` may be NULL when `len` is 0.
///
/// # Safety
/// `buf` is NULL or writable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn wacall_last_error_message(buf: *mut c_char, len: usize) -> usize {
    let message = guard::last_error().map(|(_, m)| m).unwrap_or_default();
    if !buf.is_null() && len > 0 {
        let mut n = message.len().min(len - 1);
        while !message.is_char_boundary(n) {
            n -= 1;
        }
        // SAFETY: `buf` is writable for `len` > `n` bytes per the contract; the source is a distinct allocation.
        unsafe {
            std::ptr::copy_nonoverlapping(message.as_ptr(), buf.cast::<u8>(), n);
            buf.add(n).write(0);
        }
    }
    message.len()
}

/// Forgets the last error of this thread.
#[no_mangle]
pub extern "C" fn wacall_clear_last_error() {
    guard::clear_last_error();
}

/// Fills `*out` with the counters of rejected calls since the library was loaded (all threads).
///
/// # Safety
/// `out` is NULL or writable for one `wacall_stats`.
#[no_mangle]
pub unsafe extern "C" fn wacall_stats_get(out: *mut wacall_stats) -> wacall_result {
    // SAFETY (closure): `out` per the function's contract.
    guard("wacall_stats_get", || unsafe {
        guard::write_out(out, "out", guard::stats())
    })
}

/// Frees a string that a `wacall_*` function allocated (every `char **out` output). NULL is ignored.
///
/// # Safety
/// `s` is NULL or a string from wacall that was not freed before; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn wacall_string_free(s: *mut c_char) {
    // SAFETY (closure): `s` per the function's contract.
    guard_void("wacall_string_free", || {
        unsafe { guard::free_string(s) };
        Ok(())
    })
}

/// Test-only: panics inside the boundary when `mode` is 1 (a string panic) or 2 (a formatted panic), fails with
/// `WACALL_ERR_INVALID_ARGUMENT` for other non-zero modes and succeeds for 0. Proves from C that no panic crosses
/// the boundary. Exists in debug builds only and is left out of `wacall.h`.
#[cfg(debug_assertions)]
#[no_mangle]
pub extern "C" fn wacall_test_panic(mode: u32) -> wacall_result {
    guard("wacall_test_panic", || match mode {
        0 => Ok(()),
        1 => panic!("wacall_test_panic: deliberate panic"),
        2 => {
            let v: Vec<u32> = Vec::new();
            // An index panic, as a real bug would produce.
            let i = mode as usize;
            Err(guard::FfiError::invalid(v[i]))
        }
        _ => Err(guard::FfiError::invalid(format!("unknown mode {mode}"))),
    })
}

/// Test-only: copies `input` (a SIP-sized string) into the caller's buffer, exercising the argument checks and the
/// output-buffer contract from C. Debug builds only; not in `wacall.h`.
///
/// # Safety
/// As for any string-in, buffer-out export: `input` NULL or NUL-terminated; `out` writable for `out_len` bytes;
/// `written` NULL or writable.
#[cfg(debug_assertions)]
#[no_mangle]
pub unsafe extern "C" fn wacall_test_echo(
    input: *const c_char,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_test_echo", || unsafe {
        let out = guard::OutBuf::new(out, out_len, written)?;
        let input = guard::str_arg(input, "input", guard::WACALL_MAX_SIP_STRING)?;
        out.write(input)
    })
}

/// Test-only: like `wacall_test_echo` but hands back a library string for `wacall_string_free`.
///
/// # Safety
/// `input` NULL or NUL-terminated; `out` NULL or writable for one pointer.
#[cfg(debug_assertions)]
#[no_mangle]
pub unsafe extern "C" fn wacall_test_echo_alloc(
    input: *const c_char,
    out: *mut *mut c_char,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_test_echo_alloc", || unsafe {
        let out = guard::OutString::new(out)?;
        let input = guard::str_arg(input, "input", guard::WACALL_MAX_SDP)?;
        out.write(input.to_owned())
    })
}
