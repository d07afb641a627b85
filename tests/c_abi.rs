//! Calls `libwacall.so` the way a C host does: loaded with dlopen (libloading), C strings, caller buffers, NULLs,
//! garbage. Proves every failure is a code plus a message and that no panic crosses the boundary.

use std::ffi::{c_char, CStr, CString};
use std::path::PathBuf;
use std::ptr::{null, null_mut};
use std::sync::OnceLock;

use libloading::{Library, Symbol};

// The codes as a C host sees them (numbers are part of the ABI).
const WACALL_OK: u32 = 0;
const WACALL_ERR_NULL_ARGUMENT: u32 = 1;
const WACALL_ERR_INVALID_UTF8: u32 = 2;
const WACALL_ERR_TOO_LONG: u32 = 3;
const WACALL_ERR_BUFFER_TOO_SMALL: u32 = 4;
const WACALL_ERR_INVALID_ARGUMENT: u32 = 5;
const WACALL_ERR_PANIC: u32 = 99;

const MAX_SIP: usize = 64 * 1024;
const MAX_SDP: usize = 1024 * 1024;

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    null_argument: u64,
    invalid_utf8: u64,
    too_long: u64,
    buffer_too_small: u64,
    rejected: u64,
    panics: u64,
}

/// Where the cdylib is: `$WACALL_CDYLIB`, else next to this test's `deps/` directory (`target/<profile>/`).
fn cdylib_path() -> PathBuf {
    if let Some(p) = std::env::var_os("WACALL_CDYLIB") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("test exe path");
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    profile_dir.join(format!(
        "{}wacall{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

/// `cargo test` builds only the rlib, so a `libwacall.so` left from an earlier build may be stale: rebuild it
/// (a no-op when fresh; cargo has released its lock by the time tests run). Skipped with `$WACALL_CDYLIB`.
fn build_cdylib() {
    if std::env::var_os("WACALL_CDYLIB").is_some() {
        return;
    }
    let Some(cargo) = std::env::var_os("CARGO") else {
        return;
    };
    let release = cdylib_path()
        .parent()
        .and_then(|d| d.file_name())
        .is_some_and(|n| n == "release");
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["build", "--quiet", "--lib", "-p", "wacall"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build for libwacall.so");
    assert!(status.success(), "cargo build -p wacall failed: {status}");
}

fn lib() -> &'static Library {
    static LIB: OnceLock<Library> = OnceLock::new();
    LIB.get_or_init(|| {
        build_cdylib();
        let path = cdylib_path();
        assert!(
            path.exists(),
            "{} not found: build it first (`cargo build -p wacall`), or set WACALL_CDYLIB",
            path.display()
        );
        // SAFETY: loading our own cdylib; its initialisers are Rust's and have no side effects.
        unsafe { Library::new(&path) }.unwrap_or_else(|e| panic!("dlopen {}: {e}", path.display()))
    })
}

/// Looks up an exported symbol with the given C signature.
macro_rules! sym {
    ($name:literal, $ty:ty) => {{
        // SAFETY: the signature matches the export in src/ffi (the header test keeps both in step).
        let s: Symbol<$ty> = unsafe { lib().get(concat!($name, "\0").as_bytes()) }
            .unwrap_or_else(|e| panic!("symbol {}: {e}", $name));
        s
    }};
}

/// `true` when the symbol exists (debug-only test hooks are absent from release builds).
fn has(name: &str) -> bool {
    let name = CString::new(name).unwrap();
    // SAFETY: only checks presence; the pointer is not called.
    unsafe { lib().get::<*const ()>(name.as_bytes_with_nul()) }.is_ok()
}

fn last_error() -> (u32, String) {
    let code = sym!("wacall_last_error_code", unsafe extern "C" fn() -> u32);
    let msg = sym!(
        "wacall_last_error_message",
        unsafe extern "C" fn(*mut c_char, usize) -> usize
    );
    // SAFETY: size query with NULL/0, then a buffer of the reported size + 1.
    unsafe {
        let n = msg(null_mut(), 0);
        let mut buf = vec![0 as c_char; n + 1];
        assert_eq!(msg(buf.as_mut_ptr(), buf.len()), n);
        (
            code(),
            CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned(),
        )
    }
}

fn stats() -> Stats {
    let get = sym!("wacall_stats_get", unsafe extern "C" fn(*mut Stats) -> u32);
    let mut s = Stats::default();
    // SAFETY: a valid out-pointer.
    assert_eq!(unsafe { get(&mut s) }, WACALL_OK);
    s
}

type BufFn = unsafe extern "C" fn(*const c_char, *mut c_char, usize, *mut usize) -> u32;

/// Calls a string-in, buffer-out function with a buffer of `cap` bytes.
fn call_buf(f: &Symbol<BufFn>, input: *const c_char, cap: usize) -> (u32, String, usize) {
    let mut buf = vec![b'x' as c_char; cap.max(1)];
    let mut written = usize::MAX;
    // SAFETY: `buf` is writable for `cap` bytes (NULL when cap is 0), `written` is a valid out-pointer.
    let code = unsafe {
        f(
            input,
            if cap == 0 {
                null_mut()
            } else {
                buf.as_mut_ptr()
            },
            cap,
            &mut written,
        )
    };
    let s = if cap > 0 {
        // SAFETY: the contract says the buffer always holds a NUL-terminated string when cap > 0.
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    } else {
        String::new()
    };
    (code, s, written)
}

#[test]
fn version_is_the_crate_version() {
    let version = sym!("wacall_version", unsafe extern "C" fn() -> *const c_char);
    // SAFETY: a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn result_names_cover_codes_and_unknowns() {
    let name = sym!(
        "wacall_result_name",
        unsafe extern "C" fn(u32) -> *const c_char
    );
    let get = |c| {
        unsafe { CStr::from_ptr(name(c)) }
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(get(0), "WACALL_OK");
    assert_eq!(get(1), "WACALL_ERR_NULL_ARGUMENT");
    assert_eq!(get(4), "WACALL_ERR_BUFFER_TOO_SMALL");
    assert_eq!(get(99), "WACALL_ERR_PANIC");
    assert_eq!(get(7), "WACALL_ERR_UNKNOWN");
    assert_eq!(get(u32::MAX), "WACALL_ERR_UNKNOWN");
}

#[test]
fn null_out_pointers_are_rejected_not_dereferenced() {
    let get = sym!("wacall_stats_get", unsafe extern "C" fn(*mut Stats) -> u32);
    // SAFETY: NULL is the point of the test; the contract allows it.
    assert_eq!(unsafe { get(null_mut()) }, WACALL_ERR_NULL_ARGUMENT);
    let (code, msg) = last_error();
    assert_eq!(code, WACALL_ERR_NULL_ARGUMENT);
    assert!(
        msg.contains("wacall_stats_get") && msg.contains("NULL"),
        "{msg}"
    );
}

#[test]
fn string_free_accepts_null() {
    let free = sym!("wacall_string_free", unsafe extern "C" fn(*mut c_char));
    // SAFETY: NULL is documented as ignored.
    unsafe { free(null_mut()) };
}

#[test]
fn last_error_message_truncates_like_snprintf() {
    let get = sym!("wacall_stats_get", unsafe extern "C" fn(*mut Stats) -> u32);
    let msg = sym!(
        "wacall_last_error_message",
        unsafe extern "C" fn(*mut c_char, usize) -> usize
    );
    let clear = sym!("wacall_clear_last_error", unsafe extern "C" fn());
    // SAFETY: small valid buffers; NULL argument deliberately.
    unsafe {
        clear();
        let mut buf = [b'x' as c_char; 8];
        assert_eq!(msg(buf.as_mut_ptr(), buf.len()), 0);
        assert_eq!(buf[0], 0);
        get(null_mut());
        let full = msg(null_mut(), 0);
        assert!(full > 8);
        assert_eq!(msg(buf.as_mut_ptr(), buf.len()), full);
        assert_eq!(CStr::from_ptr(buf.as_ptr()).to_bytes().len(), 7);
    }
}

#[test]
fn last_error_is_per_thread() {
    let get = sym!("wacall_stats_get", unsafe extern "C" fn(*mut Stats) -> u32);
    // SAFETY: NULL argument deliberately, on this thread only.
    unsafe { get(null_mut()) };
    let other = std::thread::spawn(|| {
        let clear = sym!("wacall_clear_last_error", unsafe extern "C" fn());
        // SAFETY: no arguments.
        unsafe { clear() };
        last_error()
    })
    .join()
    .unwrap();
    assert_eq!(other, (WACALL_OK, String::new()));
    assert_eq!(last_error().0, WACALL_ERR_NULL_ARGUMENT);
}

// --- The argument and output contract, through the debug-only echo hooks (present in debug builds). ---

fn echo() -> Option<Symbol<'static, BufFn>> {
    has("wacall_test_echo").then(|| sym!("wacall_test_echo", BufFn))
}

#[test]
fn buffers_exact_fit_too_small_and_size_query() {
    let Some(echo) = echo() else { return };
    let input = CString::new("sip:+15551234567@wa.meta.vc;transport=tls").unwrap();
    let len = input.as_bytes().len();
    assert_eq!(
        call_buf(&echo, input.as_ptr(), len + 1),
        (WACALL_OK, input.to_str().unwrap().into(), len)
    );
    let before = stats().buffer_too_small;
    assert_eq!(
        call_buf(&echo, input.as_ptr(), len),
        (WACALL_ERR_BUFFER_TOO_SMALL, String::new(), len)
    );
    assert_eq!(
        call_buf(&echo, input.as_ptr(), 0),
        (WACALL_ERR_BUFFER_TOO_SMALL, String::new(), len)
    );
    assert!(stats().buffer_too_small >= before + 2);
    // A NULL buffer with a non-zero length is a NULL argument, not a write through NULL.
    let mut written = 0usize;
    // SAFETY: NULL deliberately; the contract rejects it.
    assert_eq!(
        unsafe { echo(input.as_ptr(), null_mut(), 16, &mut written) },
        WACALL_ERR_NULL_ARGUMENT
    );
    // `written` may be NULL.
    let mut buf = [0 as c_char; 64];
    // SAFETY: valid buffer, NULL `written` allowed.
    assert_eq!(
        unsafe { echo(input.as_ptr(), buf.as_mut_ptr(), buf.len(), null_mut()) },
        WACALL_OK
    );
}

#[test]
fn null_non_utf8_and_oversized_input() {
    let Some(echo) = echo() else { return };
    let s0 = stats();
    let (code, out, written) = call_buf(&echo, null(), 16);
    assert_eq!(
        (code, out.as_str(), written),
        (WACALL_ERR_NULL_ARGUMENT, "", 0)
    );
    assert!(last_error().1.contains("`input` is NULL"));

    let bad = [b's' as c_char, 0xC3u8 as c_char, 0x28, 0];
    assert_eq!(call_buf(&echo, bad.as_ptr(), 16).0, WACALL_ERR_INVALID_UTF8);
    assert!(last_error().1.contains("UTF-8"));

    let at_limit = CString::new(vec![b'a'; MAX_SIP]).unwrap();
    assert_eq!(call_buf(&echo, at_limit.as_ptr(), MAX_SIP + 1).0, WACALL_OK);
    let over = CString::new(vec![b'a'; MAX_SIP + 1]).unwrap();
    assert_eq!(
        call_buf(&echo, over.as_ptr(), MAX_SIP + 2).0,
        WACALL_ERR_TOO_LONG
    );
    let huge = CString::new(vec![b'a'; 64 * MAX_SIP]).unwrap();
    assert_eq!(call_buf(&echo, huge.as_ptr(), 16).0, WACALL_ERR_TOO_LONG);

    let s1 = stats();
    assert!(s1.null_argument > s0.null_argument);
    assert!(s1.invalid_utf8 > s0.invalid_utf8);
    assert!(s1.too_long >= s0.too_long + 2);
}

#[test]
fn library_strings_round_trip_and_free() {
    if !has("wacall_test_echo_alloc") {
        return;
    }
    let echo = sym!(
        "wacall_test_echo_alloc",
        unsafe extern "C" fn(*const c_char, *mut *mut c_char) -> u32
    );
    let free = sym!("wacall_string_free", unsafe extern "C" fn(*mut c_char));
    let sdp = CString::new("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n".repeat(1000)).unwrap();
    let mut out: *mut c_char = std::ptr::dangling_mut::<c_char>(); // garbage in: must be reset
                                                                   // SAFETY: valid input and out-pointer; the result is freed once with wacall_string_free.
    unsafe {
        assert_eq!(echo(sdp.as_ptr(), &mut out), WACALL_OK);
        assert_eq!(CStr::from_ptr(out), sdp.as_c_str());
        free(out);
        let mut out: *mut c_char = std::ptr::dangling_mut::<c_char>();
        assert_eq!(echo(null(), &mut out), WACALL_ERR_NULL_ARGUMENT);
        assert!(out.is_null(), "a failed call leaves *out NULL");
        free(out);
        let big = CString::new(vec![b'a'; MAX_SDP + 1]).unwrap();
        assert_eq!(echo(big.as_ptr(), &mut out), WACALL_ERR_TOO_LONG);
        assert!(out.is_null());
        assert_eq!(echo(sdp.as_ptr(), null_mut()), WACALL_ERR_NULL_ARGUMENT);
    }
}

#[test]
fn panics_never_cross_the_boundary() {
    if !has("wacall_test_panic") {
        eprintln!("wacall_test_panic absent (release build): skipping the forced-panic check");
        return;
    }
    let panic = sym!("wacall_test_panic", unsafe extern "C" fn(u32) -> u32);
    let before = stats().panics;
    // SAFETY: no pointers; modes 1 and 2 panic inside the library.
    unsafe {
        assert_eq!(panic(0), WACALL_OK);
        assert_eq!(panic(1), WACALL_ERR_PANIC);
        let (code, msg) = last_error();
        assert_eq!(code, WACALL_ERR_PANIC);
        assert!(msg.contains("deliberate panic"), "{msg}");
        assert_eq!(panic(2), WACALL_ERR_PANIC);
        assert!(
            last_error().1.contains("index out of bounds"),
            "{}",
            last_error().1
        );
        assert_eq!(panic(3), WACALL_ERR_INVALID_ARGUMENT);
    }
    // The library still works after a caught panic, from many threads at once.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                let panic = sym!("wacall_test_panic", unsafe extern "C" fn(u32) -> u32);
                // SAFETY: no pointers; the panic stays inside the library.
                unsafe { panic(1) }
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), WACALL_ERR_PANIC);
    }
    assert!(stats().panics >= before + 6);
}
