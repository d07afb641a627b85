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

/// Newest modification time of the library's sources (src/, the manifests), to tell a stale cdylib.
fn newest_source() -> std::time::SystemTime {
    fn walk(dir: &std::path::Path, newest: &mut std::time::SystemTime) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, newest);
            } else if let Ok(m) = e.metadata().and_then(|m| m.modified()) {
                *newest = (*newest).max(m);
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    walk(&root.join("src"), &mut newest);
    for f in ["Cargo.toml", "Cargo.lock", "build.rs"] {
        if let Ok(m) = std::fs::metadata(root.join(f)).and_then(|m| m.modified()) {
            newest = newest.max(m);
        }
    }
    newest
}

/// `cargo test` builds only the rlib, so a `libwacall.so` older than the sources is rebuilt here (cargo has
/// released its lock by the time tests run). A fresh one (CI builds the workspace first) is used as is: rebuilding
/// with the test build's dependency features would only make the next cargo command rebuild again. Skipped with
/// `$WACALL_CDYLIB`.
fn build_cdylib() {
    if std::env::var_os("WACALL_CDYLIB").is_some() {
        return;
    }
    let path = cdylib_path();
    let built = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    if built.is_some_and(|b| b >= newest_source()) {
        return;
    }
    let Some(cargo) = std::env::var_os("CARGO") else {
        return;
    };
    let release = path
        .parent()
        .and_then(|d| d.file_name())
        .is_some_and(|n| n == "release");
    let mut cmd = std::process::Command::new(cargo);
    // --workspace: the dependency features of a plain `cargo build` of the workspace.
    cmd.args(["build", "--quiet", "--workspace"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build for libwacall.so");
    assert!(status.success(), "cargo build --workspace failed: {status}");
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
        #[allow(unused_unsafe)]
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

// --- SDP: parse-check and the four mappings, as a C host drives them. ---

#[repr(C)]
struct Allocation {
    meta_side: *const c_char,
    meta_advertised: *const c_char,
    pbx_side: *const c_char,
    pbx_advertised: *const c_char,
    pbx_rtcp: *const c_char,
    ice_ufrag: *const c_char,
    ice_pwd: *const c_char,
    dtls_fingerprint_sha256: *const c_char,
}

#[repr(C)]
struct MapConfig {
    pbx_media: u32,
    pbx_crypto_suites: *const c_char,
    meta_media: u32,
    flags: u32,
    session_name: *const c_char,
    meta_mid: *const c_char,
}

impl Default for MapConfig {
    fn default() -> Self {
        MapConfig {
            pbx_media: 0,
            pbx_crypto_suites: null(),
            meta_media: 0,
            flags: 0,
            session_name: null(),
            meta_mid: null(),
        }
    }
}

const FINGERPRINT: &CStr = c"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

fn allocation() -> Allocation {
    Allocation {
        meta_side: c"203.0.113.10:40000".as_ptr(),
        meta_advertised: null(),
        pbx_side: c"10.0.0.5:30000".as_ptr(),
        pbx_advertised: null(),
        pbx_rtcp: null(),
        ice_ufrag: c"wAcALl01".as_ptr(),
        ice_pwd: c"abcdefghijklmnopqrstuvwx".as_ptr(),
        dtls_fingerprint_sha256: FINGERPRINT.as_ptr(),
    }
}

fn fixture(name: &str) -> CString {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sdp")
        .join(name);
    CString::new(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap()
}

type Map1 = unsafe extern "C" fn(
    *const c_char,
    *const Allocation,
    *const MapConfig,
    *mut *mut c_char,
) -> u32;
type Map3 = unsafe extern "C" fn(
    *const c_char,
    *const c_char,
    *const c_char,
    *const Allocation,
    *const MapConfig,
    *mut *mut c_char,
) -> u32;

/// Takes ownership of a library string: copies it out and frees it with `wacall_string_free`.
fn take(s: *mut c_char) -> String {
    assert!(!s.is_null());
    let free = sym!("wacall_string_free", unsafe extern "C" fn(*mut c_char));
    // SAFETY: `s` is a live library string, freed exactly once here.
    unsafe {
        let owned = CStr::from_ptr(s).to_str().unwrap().to_owned();
        free(s);
        owned
    }
}

fn map1(
    name: &str,
    sdp: &CStr,
    alloc: &Allocation,
    cfg: Option<&MapConfig>,
) -> Result<String, (u32, String)> {
    let f: Symbol<Map1> = {
        let n = CString::new(name).unwrap();
        // SAFETY: the signature matches the export.
        unsafe { lib().get(n.as_bytes_with_nul()) }.unwrap()
    };
    let mut out = null_mut();
    // SAFETY: valid C strings, structs and out-pointer.
    let code = unsafe {
        f(
            sdp.as_ptr(),
            alloc,
            cfg.map_or(null(), |c| c as *const _),
            &mut out,
        )
    };
    if code == WACALL_OK {
        Ok(take(out))
    } else {
        assert!(out.is_null());
        Err((code, last_error().1))
    }
}

fn map3(
    name: &str,
    a: &CStr,
    b: &CStr,
    c: &CStr,
    alloc: &Allocation,
    cfg: Option<&MapConfig>,
) -> Result<String, (u32, String)> {
    let f: Symbol<Map3> = {
        let n = CString::new(name).unwrap();
        // SAFETY: the signature matches the export.
        unsafe { lib().get(n.as_bytes_with_nul()) }.unwrap()
    };
    let mut out = null_mut();
    // SAFETY: valid C strings, structs and out-pointer.
    let code = unsafe {
        f(
            a.as_ptr(),
            b.as_ptr(),
            c.as_ptr(),
            alloc,
            cfg.map_or(null(), |c| c as *const _),
            &mut out,
        )
    };
    if code == WACALL_OK {
        Ok(take(out))
    } else {
        assert!(out.is_null());
        Err((code, last_error().1))
    }
}

const WACALL_ERR_SDP: u32 = 12;

#[test]
fn sdp_check_counts_media_and_rejects_garbage() {
    let check = sym!(
        "wacall_sdp_check",
        unsafe extern "C" fn(*const c_char, *mut usize) -> u32
    );
    let mut n = 99usize;
    let offer = fixture("meta_offer_dtls.sdp");
    // SAFETY: valid C strings and out-pointers; NULL and garbage deliberately.
    unsafe {
        assert_eq!(check(offer.as_ptr(), &mut n), WACALL_OK);
        assert_eq!(n, 1);
        assert_eq!(check(offer.as_ptr(), null_mut()), WACALL_OK);
        assert_eq!(check(c"hello".as_ptr(), &mut n), WACALL_ERR_SDP);
        assert_eq!(n, 0);
        assert!(last_error().1.contains("wacall_sdp_check"));
        assert_eq!(check(null(), &mut n), WACALL_ERR_NULL_ARGUMENT);
        let big = CString::new(vec![b'a'; 64 * 1024 + 1]).unwrap();
        assert_eq!(check(big.as_ptr(), &mut n), WACALL_ERR_TOO_LONG);
        let bad = [b'v' as c_char, b'=' as c_char, 0xff_u8 as c_char, 0];
        assert_eq!(check(bad.as_ptr(), &mut n), WACALL_ERR_INVALID_UTF8);
    }
}

/// A PBX answering our SDES offer: its own address and key, the same crypto tag and suite, opus + telephone-event.
fn pbx_sdes_answer(pbx_offer: &str) -> CString {
    let crypto = pbx_offer
        .lines()
        .find(|l| l.starts_with("a=crypto:"))
        .expect("our offer has a=crypto");
    let mut parts = crypto["a=crypto:".len()..].split(' ');
    let (tag, suite) = (parts.next().unwrap(), parts.next().unwrap());
    let m = pbx_offer
        .lines()
        .find(|l| l.starts_with("m=audio"))
        .unwrap();
    let pts: Vec<&str> = m.split(' ').skip(3).collect();
    CString::new(format!(
        "v=0\r\no=pbx 1 1 IN IP4 10.0.0.9\r\ns=pbx\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n\
         m=audio 20000 RTP/SAVP {}\r\na=rtpmap:{} opus/48000/2\r\na=rtpmap:{} telephone-event/8000\r\n\
         a=crypto:{tag} {suite} inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk\r\na=rtcp-mux\r\na=sendrecv\r\n",
        pts.join(" "),
        pts[0],
        pts[1]
    ))
    .unwrap()
}

#[test]
fn sdp_user_initiated_dtls_call_maps_both_ways() {
    let alloc = allocation();
    let meta_offer = fixture("meta_offer_dtls.sdp");
    let pbx_offer = map1("wacall_sdp_meta_offer_to_pbx", &meta_offer, &alloc, None).unwrap();
    assert!(
        pbx_offer.contains("m=audio 30000 RTP/SAVP 111 126"),
        "{pbx_offer}"
    );
    assert!(pbx_offer.contains("c=IN IP4 10.0.0.5"), "{pbx_offer}");
    assert!(
        pbx_offer.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{pbx_offer}"
    );
    assert!(
        !pbx_offer.contains("a=ice-") && !pbx_offer.contains("a=fingerprint"),
        "{pbx_offer}"
    );

    let pbx_answer = pbx_sdes_answer(&pbx_offer);
    let pbx_offer = CString::new(pbx_offer).unwrap();
    let meta_answer = map3(
        "wacall_sdp_pbx_answer_to_meta",
        &meta_offer,
        &pbx_offer,
        &pbx_answer,
        &alloc,
        None,
    )
    .unwrap();
    for line in [
        "UDP/TLS/RTP/SAVPF 111 126",
        "a=setup:active",
        &format!("a=fingerprint:sha-256 {}", FINGERPRINT.to_str().unwrap()),
        "a=ice-ufrag:wAcALl01",
        "a=ice-pwd:abcdefghijklmnopqrstuvwx",
        "203.0.113.10 40000 typ host",
        "a=rtcp-mux",
        "a=group:BUNDLE audio",
        "a=mid:audio",
        "a=rtpmap:111 opus/48000/2",
        "a=rtpmap:126 telephone-event/8000",
    ] {
        assert!(
            meta_answer.contains(line),
            "missing {line:?} in\n{meta_answer}"
        );
    }
    assert!(!meta_answer.contains("a=ice-lite"));
    assert!(meta_answer.ends_with("\r\n"));
}

#[test]
fn sdp_business_initiated_calls_map_dtls_and_sdes() {
    let alloc = allocation();
    let pbx_offer = fixture("twilio_offer_to_meta.sdp");
    // DTLS toward Meta (the default configuration, passed explicitly zeroed).
    let cfg = MapConfig::default();
    let meta_offer = map1(
        "wacall_sdp_pbx_offer_to_meta",
        &pbx_offer,
        &alloc,
        Some(&cfg),
    )
    .unwrap();
    assert!(
        meta_offer.contains("UDP/TLS/RTP/SAVPF 107 101"),
        "{meta_offer}"
    );
    assert!(meta_offer.contains("a=setup:actpass"), "{meta_offer}");
    assert!(!meta_offer.contains("PCMU"), "{meta_offer}");

    // SDES toward Meta, answered by Meta's SDES 200 OK from the seed's trace.
    let cfg = MapConfig {
        meta_media: 1,
        ..MapConfig::default()
    };
    let meta_offer = map1(
        "wacall_sdp_pbx_offer_to_meta",
        &pbx_offer,
        &alloc,
        Some(&cfg),
    )
    .unwrap();
    assert!(
        meta_offer.contains("m=audio 40000 RTP/SAVP 107 101"),
        "{meta_offer}"
    );
    let meta_offer = CString::new(meta_offer).unwrap();
    let answer = fixture("meta_answer_sdes.sdp");
    let pbx_answer = map3(
        "wacall_sdp_meta_answer_to_pbx",
        &pbx_offer,
        &meta_offer,
        &answer,
        &alloc,
        Some(&cfg),
    )
    .unwrap();
    assert!(
        pbx_answer.contains("m=audio 30000 RTP/SAVP 107 101"),
        "{pbx_answer}"
    );
    assert!(
        pbx_answer.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{pbx_answer}"
    );
}

#[test]
fn sdp_mapping_rejects_bad_arguments_cleanly() {
    let meta_offer = fixture("meta_offer_dtls.sdp");
    let alloc = allocation();
    let name = "wacall_sdp_meta_offer_to_pbx";
    // NULL allocation, NULL out, NULL offer.
    let f = sym!("wacall_sdp_meta_offer_to_pbx", Map1);
    let mut out = std::ptr::dangling_mut::<c_char>();
    // SAFETY: NULLs deliberately; the rest valid.
    unsafe {
        assert_eq!(
            f(meta_offer.as_ptr(), null(), null(), &mut out),
            WACALL_ERR_NULL_ARGUMENT
        );
        assert!(out.is_null());
        assert_eq!(
            f(meta_offer.as_ptr(), &alloc, null(), null_mut()),
            WACALL_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            f(null(), &alloc, null(), &mut out),
            WACALL_ERR_NULL_ARGUMENT
        );
    }
    // Unknown enum values and flags are refused, not trusted.
    for cfg in [
        MapConfig {
            pbx_media: 7,
            ..MapConfig::default()
        },
        MapConfig {
            meta_media: u32::MAX,
            ..MapConfig::default()
        },
        MapConfig {
            flags: 0x80,
            ..MapConfig::default()
        },
        MapConfig {
            pbx_crypto_suites: c"AES_CM_128_HMAC_SHA1_80,ROT13".as_ptr(),
            ..MapConfig::default()
        },
    ] {
        let (code, msg) = map1(name, &meta_offer, &alloc, Some(&cfg)).unwrap_err();
        assert_eq!(code, WACALL_ERR_INVALID_ARGUMENT, "{msg}");
    }
    // Plain RTP toward the PBX, two SDES suites.
    let rtp = map1(
        name,
        &meta_offer,
        &alloc,
        Some(&MapConfig {
            pbx_media: 1,
            ..MapConfig::default()
        }),
    )
    .unwrap();
    assert!(
        rtp.contains("RTP/AVP 111 126") && !rtp.contains("a=crypto"),
        "{rtp}"
    );
    let two = MapConfig {
        pbx_crypto_suites: c"AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32".as_ptr(),
        ..MapConfig::default()
    };
    let sdes = map1(name, &meta_offer, &alloc, Some(&two)).unwrap();
    assert_eq!(sdes.matches("a=crypto:").count(), 2, "{sdes}");
    // Bad addresses.
    let bad = Allocation {
        pbx_side: c"10.0.0.5".as_ptr(),
        ..allocation()
    };
    let (code, msg) = map1(name, &meta_offer, &bad, None).unwrap_err();
    assert_eq!(code, WACALL_ERR_INVALID_ARGUMENT);
    assert!(msg.contains("alloc->pbx_side"), "{msg}");
    let v6 = Allocation {
        pbx_side: c"[2001:db8::5]:30000".as_ptr(),
        ..allocation()
    };
    assert!(map1(name, &meta_offer, &v6, None)
        .unwrap()
        .contains("c=IN IP6 2001:db8::5"));
    // A DTLS answer needs ICE credentials and a fingerprint: a core (SDP) error, with its message.
    let pbx_offer = CString::new(map1(name, &meta_offer, &alloc, None).unwrap()).unwrap();
    let pbx_answer = pbx_sdes_answer(pbx_offer.to_str().unwrap());
    let no_ice = Allocation {
        ice_pwd: null(),
        ..allocation()
    };
    let (code, msg) = map3(
        "wacall_sdp_pbx_answer_to_meta",
        &meta_offer,
        &pbx_offer,
        &pbx_answer,
        &no_ice,
        None,
    )
    .unwrap_err();
    assert_eq!(code, WACALL_ERR_SDP, "{msg}");
    assert!(msg.contains("ice_pwd"), "{msg}");
}

#[test]
fn ice_credentials_are_fresh_and_sized() {
    let gen = sym!(
        "wacall_ice_credentials",
        unsafe extern "C" fn(*mut c_char, usize, *mut c_char, usize) -> u32
    );
    let mut u = [0 as c_char; 32];
    let mut p = [0 as c_char; 32];
    let mut p2 = [0 as c_char; 32];
    // SAFETY: valid buffers of the given sizes.
    unsafe {
        assert_eq!(
            gen(u.as_mut_ptr(), u.len(), p.as_mut_ptr(), p.len()),
            WACALL_OK
        );
        assert_eq!(CStr::from_ptr(u.as_ptr()).to_bytes().len(), 8);
        assert_eq!(CStr::from_ptr(p.as_ptr()).to_bytes().len(), 24);
        assert_eq!(
            gen(u.as_mut_ptr(), u.len(), p2.as_mut_ptr(), p2.len()),
            WACALL_OK
        );
        assert_ne!(CStr::from_ptr(p.as_ptr()), CStr::from_ptr(p2.as_ptr()));
        assert_eq!(
            gen(u.as_mut_ptr(), u.len(), p.as_mut_ptr(), 24),
            WACALL_ERR_BUFFER_TOO_SMALL
        );
    }
}

/// Every function `include/wacall.h` declares is exported by the library (the header test covers the reverse).
#[test]
fn every_header_function_is_exported() {
    let header =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("include/wacall.h"))
            .unwrap();
    let mut names = Vec::new();
    for line in header
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && !l.starts_with("typedef"))
    {
        if let Some(paren) = line.find('(') {
            let before = &line[..paren];
            let start = before
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            if before[start..].starts_with("wacall_") {
                names.push(before[start..].to_owned());
            }
        }
    }
    assert!(
        names.len() >= 10,
        "parsed too few functions from wacall.h: {names:?}"
    );
    let missing: Vec<_> = names.iter().filter(|n| !has(n)).collect();
    assert!(
        missing.is_empty(),
        "declared in wacall.h but not exported: {missing:?}"
    );
}

// --- SIP: Meta's R-URI, E.164, inbound user parameters, settings payload, headers. ---

const WACALL_ERR_NOT_FOUND: u32 = 6;
const WACALL_ERR_SIP: u32 = 10;
const WACALL_ERR_DIGEST: u32 = 11;
const WACALL_ERR_AUTH_FAILED: u32 = 15;
const WACALL_ERR_AUTH_STALE: u32 = 16;

#[repr(C)]
struct NumberPolicy {
    international_prefixes: *const c_char,
    default_country_code: *const c_char,
    national_prefix: *const c_char,
    min_digits: u32,
    meta_domain: *const c_char,
}

impl Default for NumberPolicy {
    fn default() -> Self {
        NumberPolicy {
            international_prefixes: null(),
            default_country_code: null(),
            national_prefix: null(),
            min_digits: 0,
            meta_domain: null(),
        }
    }
}

type NumberFn =
    unsafe extern "C" fn(*const c_char, *const NumberPolicy, *mut c_char, usize, *mut usize) -> u32;

fn number_call(
    name: &str,
    number: &CStr,
    policy: Option<&NumberPolicy>,
    cap: usize,
) -> (u32, String, usize) {
    let n = CString::new(name).unwrap();
    // SAFETY: the signature matches the export.
    let f: Symbol<NumberFn> = unsafe { lib().get(n.as_bytes_with_nul()) }.unwrap();
    let mut buf = vec![0 as c_char; cap.max(1)];
    let mut written = usize::MAX;
    // SAFETY: valid string, optional policy, buffer of `cap` bytes.
    let code = unsafe {
        f(
            number.as_ptr(),
            policy.map_or(null(), |p| p as *const _),
            buf.as_mut_ptr(),
            cap,
            &mut written,
        )
    };
    // SAFETY: always NUL-terminated when cap > 0.
    let s = unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .unwrap()
        .to_owned();
    (code, s, written)
}

#[test]
fn meta_request_uri_from_any_number_form() {
    let want = "sip:+15551234567@wa.meta.vc;transport=tls";
    for n in [
        c"+1 555-123-4567",
        c"0015551234567",
        c"15551234567",
        c"tel:+1-555-123-4567",
    ] {
        assert_eq!(
            number_call("wacall_meta_request_uri", n, None, 64),
            (WACALL_OK, want.to_owned(), want.len()),
            "{n:?}"
        );
    }
    // Exact fit, one byte short, size query.
    assert_eq!(
        number_call(
            "wacall_meta_request_uri",
            c"+15551234567",
            None,
            want.len() + 1
        )
        .0,
        WACALL_OK
    );
    assert_eq!(
        number_call("wacall_meta_request_uri", c"+15551234567", None, want.len()),
        (WACALL_ERR_BUFFER_TOO_SMALL, String::new(), want.len())
    );
    // Not E.164; an IP address as Meta's host.
    let (code, _, _) = number_call("wacall_meta_request_uri", c"+1 555 CALL NOW", None, 64);
    assert_eq!(code, WACALL_ERR_SIP);
    assert!(
        last_error().1.contains("invalid phone number"),
        "{}",
        last_error().1
    );
    let ip = NumberPolicy {
        meta_domain: c"157.240.19.130".as_ptr(),
        ..NumberPolicy::default()
    };
    assert_eq!(
        number_call("wacall_meta_request_uri", c"+15551234567", Some(&ip), 64).0,
        WACALL_ERR_SIP
    );
    // A policy: US dialling (011) and a UK national number.
    let us = NumberPolicy {
        international_prefixes: c"011".as_ptr(),
        ..NumberPolicy::default()
    };
    assert_eq!(
        number_call(
            "wacall_meta_request_uri",
            c"01144 20 7946 0000",
            Some(&us),
            64
        )
        .1,
        "sip:+442079460000@wa.meta.vc;transport=tls"
    );
    let uk = NumberPolicy {
        default_country_code: c"44".as_ptr(),
        national_prefix: c"0".as_ptr(),
        ..NumberPolicy::default()
    };
    assert_eq!(
        number_call("wacall_e164_normalize", c"020 7946 0000", Some(&uk), 17).1,
        "+442079460000"
    );
    let bad = [b'+' as c_char, 0xfe_u8 as c_char, 0];
    // SAFETY: `bad` is NUL-terminated; only its UTF-8 is wrong.
    let bad = unsafe { CStr::from_ptr(bad.as_ptr()) };
    assert_eq!(
        number_call("wacall_e164_normalize", bad, None, 17).0,
        WACALL_ERR_INVALID_UTF8
    );
}

#[test]
fn meta_digest_username_drops_the_plus() {
    let f = sym!("wacall_meta_digest_username", BufFn);
    assert_eq!(
        call_buf(&f, c"+1 712-555-0259".as_ptr(), 16),
        (WACALL_OK, "17125550259".into(), 11)
    );
    assert_eq!(call_buf(&f, null(), 16).0, WACALL_ERR_NULL_ARGUMENT);
}

const INBOUND: &CStr = c"sip:+1234567890;tgrp=wacall;trunk-context=byoc.example.com;flag@sip.example.com:5061;transport=tls";

#[test]
fn inbound_number_and_user_params() {
    let number = sym!("wacall_inbound_number", BufFn);
    assert_eq!(
        call_buf(&number, INBOUND.as_ptr(), 32),
        (WACALL_OK, "+1234567890".into(), 11)
    );
    assert_eq!(
        call_buf(&number, c"not a uri".as_ptr(), 32).0,
        WACALL_ERR_SIP
    );

    type ParamFn =
        unsafe extern "C" fn(*const c_char, *const c_char, *mut c_char, usize, *mut usize) -> u32;
    let param = sym!("wacall_inbound_user_param", ParamFn);
    let get = |name: &CStr| {
        let mut buf = [0 as c_char; 64];
        let mut w = 0;
        // SAFETY: valid strings and buffer.
        let code = unsafe {
            param(
                INBOUND.as_ptr(),
                name.as_ptr(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut w,
            )
        };
        // SAFETY: NUL-terminated buffer.
        (
            code,
            unsafe { CStr::from_ptr(buf.as_ptr()) }
                .to_str()
                .unwrap()
                .to_owned(),
        )
    };
    assert_eq!(get(c"tgrp"), (WACALL_OK, "wacall".into()));
    assert_eq!(
        get(c"TRUNK-CONTEXT"),
        (WACALL_OK, "byoc.example.com".into())
    );
    assert_eq!(get(c"flag"), (WACALL_OK, String::new()));
    assert_eq!(
        get(c"transport").0,
        WACALL_ERR_NOT_FOUND,
        "URI parameters are not user parameters"
    );

    let count = sym!(
        "wacall_inbound_user_param_count",
        unsafe extern "C" fn(*const c_char, *mut usize) -> u32
    );
    type AtFn = unsafe extern "C" fn(
        *const c_char,
        usize,
        *mut c_char,
        usize,
        *mut usize,
        *mut c_char,
        usize,
        *mut usize,
    ) -> u32;
    let at = sym!("wacall_inbound_user_param_at", AtFn);
    let mut n = 0;
    // SAFETY: valid string and out-pointer; then valid buffers per index.
    unsafe {
        assert_eq!(count(INBOUND.as_ptr(), &mut n), WACALL_OK);
        assert_eq!(n, 3);
        assert_eq!(
            count(INBOUND.as_ptr(), null_mut()),
            WACALL_ERR_NULL_ARGUMENT
        );
        let mut pairs = Vec::new();
        for i in 0..=n {
            let (mut k, mut v) = ([0 as c_char; 32], [0 as c_char; 32]);
            let (mut kw, mut vw) = (0, 0);
            let code = at(
                INBOUND.as_ptr(),
                i,
                k.as_mut_ptr(),
                32,
                &mut kw,
                v.as_mut_ptr(),
                32,
                &mut vw,
            );
            if i == n {
                assert_eq!(code, WACALL_ERR_NOT_FOUND);
                break;
            }
            assert_eq!(code, WACALL_OK);
            pairs.push((
                CStr::from_ptr(k.as_ptr()).to_str().unwrap().to_owned(),
                CStr::from_ptr(v.as_ptr()).to_str().unwrap().to_owned(),
            ));
        }
        assert_eq!(
            pairs,
            [
                ("tgrp", "wacall"),
                ("trunk-context", "byoc.example.com"),
                ("flag", "")
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        // Too small for the value: both sizes still reported.
        let (mut k, mut v) = ([0 as c_char; 32], [0 as c_char; 4]);
        let (mut kw, mut vw) = (0, 0);
        let code = at(
            INBOUND.as_ptr(),
            1,
            k.as_mut_ptr(),
            32,
            &mut kw,
            v.as_mut_ptr(),
            4,
            &mut vw,
        );
        assert_eq!((code, kw, vw), (WACALL_ERR_BUFFER_TOO_SMALL, 13, 16));
    }

    let json = sym!(
        "wacall_inbound_ruri_json",
        unsafe extern "C" fn(*const c_char, *mut *mut c_char) -> u32
    );
    let mut out = null_mut();
    // SAFETY: valid string and out-pointer; the result is taken (freed) once.
    assert_eq!(unsafe { json(INBOUND.as_ptr(), &mut out) }, WACALL_OK);
    assert_eq!(
        take(out),
        r#"{"number":"+1234567890","host":"sip.example.com","port":5061,"params":[["tgrp","wacall"],["trunk-context","byoc.example.com"],["flag",""]]}"#
    );
}

#[test]
fn request_uri_user_params_payload() {
    type JsonFn = unsafe extern "C" fn(
        *const *const c_char,
        *const *const c_char,
        usize,
        *mut *mut c_char,
    ) -> u32;
    let f = sym!("wacall_request_uri_user_params_json", JsonFn);
    let keys = [c"tgrp".as_ptr(), c"trunk-context".as_ptr()];
    let values = [c"wacall".as_ptr(), c"byoc.example.com".as_ptr()];
    let mut out = null_mut();
    // SAFETY: arrays of `count` valid strings; out-pointer valid.
    unsafe {
        assert_eq!(f(keys.as_ptr(), values.as_ptr(), 2, &mut out), WACALL_OK);
        assert_eq!(
            take(out),
            r#"{"tgrp":"wacall","trunk-context":"byoc.example.com"}"#
        );
        assert_eq!(f(null(), null(), 0, &mut out), WACALL_OK);
        assert_eq!(take(out), "{}");
        let long = CString::new("v".repeat(129)).unwrap();
        let values = [c"wacall".as_ptr(), long.as_ptr()];
        assert_eq!(
            f(keys.as_ptr(), values.as_ptr(), 2, &mut out),
            WACALL_ERR_SIP
        );
        assert!(out.is_null());
        assert!(last_error().1.contains("at most 128"), "{}", last_error().1);
        let values = [c"wacall".as_ptr(), null()];
        assert_eq!(
            f(keys.as_ptr(), values.as_ptr(), 2, &mut out),
            WACALL_ERR_NULL_ARGUMENT
        );
        assert!(last_error().1.contains("values[1]"), "{}", last_error().1);
        assert_eq!(
            f(null(), values.as_ptr(), 1, &mut out),
            WACALL_ERR_NULL_ARGUMENT
        );
    }
}

const BYE: &[u8] = b"BYE sip:+15551234567@10.0.0.1:5061;transport=tls SIP/2.0\r\n\
Via: SIP/2.0/TLS 157.240.19.130:5061;branch=z9hG4bK1\r\n\
From: <sip:+12195550714@wa.meta.vc>;tag=a\r\n\
To: <sip:+15551234567@sip.example.com>;tag=b\r\n\
i: 0123@wa.meta.vc\r\n\
CSeq: 2 BYE\r\n\
x-wa-meta-wacid: wacid.HBgLMTIxOTU1NTA3MTQVAgARGCA\r\n\
X-WA-Meta-Call-Duration: 42\r\n\
Content-Length: 4\r\n\r\n\x00\x01\x02\x03";

#[test]
fn headers_from_a_raw_message() {
    type HeaderFn = unsafe extern "C" fn(
        *const c_char,
        usize,
        *const c_char,
        *mut c_char,
        usize,
        *mut usize,
    ) -> u32;
    let header = sym!("wacall_sip_header", HeaderFn);
    let get = |msg: &[u8], name: &CStr| {
        let mut buf = [0 as c_char; 128];
        let mut w = 0;
        // SAFETY: `msg` readable for its length, valid name and buffer.
        let code = unsafe {
            header(
                msg.as_ptr().cast(),
                msg.len(),
                name.as_ptr(),
                buf.as_mut_ptr(),
                128,
                &mut w,
            )
        };
        // SAFETY: NUL-terminated buffer.
        (
            code,
            unsafe { CStr::from_ptr(buf.as_ptr()) }
                .to_str()
                .unwrap()
                .to_owned(),
        )
    };
    assert_eq!(get(BYE, c"Call-ID"), (WACALL_OK, "0123@wa.meta.vc".into()));
    assert_eq!(
        get(BYE, c"x-wa-meta-call-duration"),
        (WACALL_OK, "42".into())
    );
    assert_eq!(get(BYE, c"x-wa-meta-cta-payload").0, WACALL_ERR_NOT_FOUND);
    assert_eq!(get(b"garbage", c"To").0, WACALL_ERR_SIP);
    // SAFETY: NULL message deliberately; a huge length is refused before any read.
    unsafe {
        let mut buf = [0 as c_char; 8];
        assert_eq!(
            header(null(), 10, c"To".as_ptr(), buf.as_mut_ptr(), 8, null_mut()),
            WACALL_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            header(
                BYE.as_ptr().cast(),
                1 << 20,
                c"To".as_ptr(),
                buf.as_mut_ptr(),
                8,
                null_mut()
            ),
            WACALL_ERR_TOO_LONG
        );
    }

    let json = sym!(
        "wacall_meta_headers_json",
        unsafe extern "C" fn(*const c_char, usize, *mut *mut c_char) -> u32
    );
    let mut out = null_mut();
    // SAFETY: valid message and out-pointer.
    assert_eq!(
        unsafe { json(BYE.as_ptr().cast(), BYE.len(), &mut out) },
        WACALL_OK
    );
    assert_eq!(
        take(out),
        r#"{"wacid":"wacid.HBgLMTIxOTU1NTA3MTQVAgARGCA","call_duration":"42","call_duration_secs":42,"cta_payload":null,"deeplink_payload":null}"#
    );
}

// --- Digest: Meta's 407, a generic client, and the server handle, round-tripped through C. ---

type RespondFn = unsafe extern "C" fn(
    *const *const c_char,
    usize,
    *const c_char,
    *const c_char,
    *const c_char,
    *const c_char,
    u32,
    *const u8,
    usize,
    *mut c_char,
    usize,
    *mut usize,
) -> u32;
type MetaRespondFn = unsafe extern "C" fn(
    *const *const c_char,
    usize,
    *const c_char,
    *const c_char,
    *const c_char,
    *const c_char,
    *mut c_char,
    usize,
    *mut usize,
) -> u32;
type ServerNewFn = unsafe extern "C" fn(
    *const c_char,
    *const u8,
    usize,
    u32,
    *const c_char,
    *mut *mut std::ffi::c_void,
) -> u32;
type ChallengeFn =
    unsafe extern "C" fn(*const std::ffi::c_void, u64, bool, *mut c_char, usize, *mut usize) -> u32;
type VerifyFn = unsafe extern "C" fn(
    *const std::ffi::c_void,
    *const c_char,
    *const c_char,
    *const c_char,
    *const c_char,
    u64,
    *const u8,
    usize,
) -> u32;

const META_RURI: &CStr = c"sip:+12195550714@wa.meta.vc;transport=tls";

fn buf_string(buf: &[c_char]) -> String {
    // SAFETY: the library always NUL-terminates a non-empty buffer.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn meta_407_answered_with_sha256() {
    let respond = sym!("wacall_meta_digest_respond", MetaRespondFn);
    // Meta since 2026: SHA-256 first, then MD5, as two headers.
    let sha = c"Digest realm=\"wa.meta.vc\",nonce=\"419ac2415577f8e1\",opaque=\"440badfc05072367\",algorithm=SHA-256,qop=\"auth\"";
    let md5 = c"Digest realm=\"wa.meta.vc\",nonce=\"419ac2415577f8e1\",opaque=\"440badfc05072367\",algorithm=MD5,qop=\"auth\"";
    let values = [sha.as_ptr(), md5.as_ptr()];
    let mut buf = [0 as c_char; 1024];
    let mut w = 0;
    // SAFETY: arrays and strings valid; buffer of its size.
    let code = unsafe {
        respond(
            values.as_ptr(),
            2,
            c"+1 712-555-0259".as_ptr(),
            c"secret".as_ptr(),
            c"INVITE".as_ptr(),
            META_RURI.as_ptr(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut w,
        )
    };
    assert_eq!(code, WACALL_OK, "{}", last_error().1);
    let h = buf_string(&buf);
    assert_eq!(h.len(), w);
    for part in [
        "Digest username=\"17125550259\"",
        "realm=\"wa.meta.vc\"",
        "nonce=\"419ac2415577f8e1\"",
        "uri=\"sip:+12195550714@wa.meta.vc;transport=tls\"",
        "algorithm=SHA-256",
        "opaque=\"440badfc05072367\"",
        "qop=auth",
        "nc=00000001",
    ] {
        assert!(h.contains(part), "missing {part:?} in {h}");
    }
    // No usable challenge; NULL array; zero count.
    let basic = [c"Basic realm=\"x\"".as_ptr()];
    // SAFETY: as above, with deliberate bad arguments.
    unsafe {
        let args = |v: *const *const c_char, n: usize, buf: &mut [c_char]| {
            respond(
                v,
                n,
                c"+17125550259".as_ptr(),
                c"pw".as_ptr(),
                c"INVITE".as_ptr(),
                META_RURI.as_ptr(),
                buf.as_mut_ptr(),
                buf.len(),
                null_mut(),
            )
        };
        assert_eq!(args(basic.as_ptr(), 1, &mut buf), WACALL_ERR_DIGEST);
        assert_eq!(args(null(), 1, &mut buf), WACALL_ERR_NULL_ARGUMENT);
        assert_eq!(
            args(values.as_ptr(), 0, &mut buf),
            WACALL_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            args(values.as_ptr(), 2, &mut buf[..16]),
            WACALL_ERR_BUFFER_TOO_SMALL
        );
    }
}

#[test]
fn digest_server_round_trip_through_c() {
    let new = sym!("wacall_digest_server_new", ServerNewFn);
    let free = sym!(
        "wacall_digest_server_free",
        unsafe extern "C" fn(*mut std::ffi::c_void)
    );
    let challenge = sym!("wacall_digest_server_challenge", ChallengeFn);
    let verify = sym!("wacall_digest_server_verify", VerifyFn);
    let respond = sym!("wacall_digest_respond", RespondFn);
    let username = sym!("wacall_digest_username", BufFn);
    let secret = b"0123456789abcdef0123456789abcdef";
    let now = 1_800_000_000u64;
    let mut server = null_mut();
    // SAFETY: every pointer below is valid for the call; the server is freed once at the end.
    unsafe {
        assert_eq!(
            new(
                c"pbx.example.com".as_ptr(),
                secret.as_ptr(),
                8,
                0,
                null(),
                &mut server
            ),
            WACALL_ERR_DIGEST
        );
        assert!(server.is_null());
        assert_eq!(
            new(
                c"pbx.example.com".as_ptr(),
                secret.as_ptr(),
                secret.len(),
                0,
                c"SHA-256,ROT13".as_ptr(),
                &mut server
            ),
            WACALL_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            new(
                c"pbx.example.com".as_ptr(),
                secret.as_ptr(),
                secret.len(),
                60,
                c"SHA-256, MD5".as_ptr(),
                &mut server
            ),
            WACALL_OK
        );
        assert!(!server.is_null());

        let mut buf = [0 as c_char; 1024];
        assert_eq!(
            challenge(server, now, false, buf.as_mut_ptr(), buf.len(), null_mut()),
            WACALL_OK
        );
        let values = buf_string(&buf);
        let lines: Vec<CString> = values.lines().map(|l| CString::new(l).unwrap()).collect();
        assert_eq!(lines.len(), 2, "{values}");
        assert!(
            values.contains("algorithm=SHA-256") && values.contains("algorithm=MD5"),
            "{values}"
        );
        let ptrs: Vec<*const c_char> = lines.iter().map(|l| l.as_ptr()).collect();

        let uri = c"sip:alice@pbx.example.com";
        let answer = |password: &CStr, nc: u32| {
            let mut out = [0 as c_char; 1024];
            let code = respond(
                ptrs.as_ptr(),
                ptrs.len(),
                c"alice".as_ptr(),
                password.as_ptr(),
                c"INVITE".as_ptr(),
                uri.as_ptr(),
                nc,
                null(),
                0,
                out.as_mut_ptr(),
                out.len(),
                null_mut(),
            );
            assert_eq!(code, WACALL_OK, "{}", last_error().1);
            CString::new(buf_string(&out)).unwrap()
        };
        let auth = answer(c"wonderland", 1);
        assert!(auth.to_str().unwrap().contains("algorithm=SHA-256"));
        assert_eq!(
            call_buf(&username, auth.as_ptr(), 32),
            (WACALL_OK, "alice".into(), 5)
        );

        let check = |auth: &CStr, password: &CStr, ruri: *const c_char, at: u64| {
            verify(
                server,
                auth.as_ptr(),
                c"INVITE".as_ptr(),
                password.as_ptr(),
                ruri,
                at,
                null(),
                0,
            )
        };
        assert_eq!(
            check(&auth, c"wonderland", uri.as_ptr(), now + 1),
            WACALL_OK,
            "{}",
            last_error().1
        );
        assert_eq!(
            check(&auth, c"wonderland", uri.as_ptr(), now + 2),
            WACALL_ERR_AUTH_FAILED,
            "replay"
        );
        let auth2 = answer(c"wonderland", 2);
        assert_eq!(
            check(&auth2, c"wonderland", null(), now + 2),
            WACALL_OK,
            "nc=2, uri unchecked"
        );
        let wrong = answer(c"looking-glass", 3);
        assert_eq!(
            check(&wrong, c"wonderland", uri.as_ptr(), now + 3),
            WACALL_ERR_AUTH_FAILED
        );
        let auth4 = answer(c"wonderland", 4);
        assert_eq!(
            check(
                &auth4,
                c"wonderland",
                c"sip:bob@pbx.example.com".as_ptr(),
                now + 3
            ),
            WACALL_ERR_AUTH_FAILED
        );
        let auth5 = answer(c"wonderland", 5);
        assert_eq!(
            check(&auth5, c"wonderland", uri.as_ptr(), now + 3600),
            WACALL_ERR_AUTH_STALE
        );
        assert!(last_error().1.contains("stale"), "{}", last_error().1);
        assert_eq!(
            check(c"Digest garbage", c"wonderland", null(), now),
            WACALL_ERR_DIGEST
        );
        assert_eq!(
            verify(
                null(),
                auth.as_ptr(),
                c"INVITE".as_ptr(),
                c"x".as_ptr(),
                null(),
                now,
                null(),
                0
            ),
            WACALL_ERR_NULL_ARGUMENT
        );

        // A stale challenge says so; the handle is shared safely between threads.
        assert_eq!(
            challenge(server, 0, true, buf.as_mut_ptr(), buf.len(), null_mut()),
            WACALL_OK
        );
        assert!(buf_string(&buf).contains("stale=true"));
        let addr = server as usize;
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(move || {
                    let challenge = sym!("wacall_digest_server_challenge", ChallengeFn);
                    let mut buf = [0 as c_char; 1024];
                    challenge(
                        addr as *const _,
                        0,
                        false,
                        buf.as_mut_ptr(),
                        buf.len(),
                        null_mut(),
                    )
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), WACALL_OK);
        }
        free(server);
        free(null_mut());
    }
}

/// The C example (tests/c/example.c) compiles against include/wacall.h with strict warnings, links against
/// libwacall.so and runs cleanly: the API as a C programmer meets it.
#[test]
fn c_example_builds_and_runs() {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    if std::process::Command::new(&cc)
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("no C compiler ({cc}): skipping the C example");
        return;
    }
    lib(); // builds libwacall.so if needed
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lib_dir = cdylib_path().parent().unwrap().to_path_buf();
    let exe = std::env::temp_dir().join(format!("wacall-c-example-{}", std::process::id()));
    let out = std::process::Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-o"])
        .arg(&exe)
        .arg(root.join("tests/c/example.c"))
        .arg("-I")
        .arg(root.join("include"))
        .arg("-L")
        .arg(&lib_dir)
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-lwacall")
        .output()
        .expect("run the C compiler");
    assert!(
        out.status.success(),
        "example.c does not build:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = std::process::Command::new(&exe)
        .output()
        .expect("run the C example");
    let _ = std::fs::remove_file(&exe);
    assert!(
        run.status.success(),
        "example.c failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("all checks passed"));
}
