//! `wacall_*` digest exports: answering challenges (any server, and Meta's 407 in one call) and a digest server
//! handle (stateless HMAC nonces, expiry, replay protection) for hosts that challenge their own peers.
#![allow(unsafe_code)]

use std::ffi::c_char;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::guard::{
    free_handle, guard, guard_void, into_handle, opt_str_arg, ref_arg, str_arg, write_out,
    FfiError, OutBuf, WACALL_MAX_SIP_STRING,
};
use super::wacall_result;
use crate::digest::{self, Algorithm, Credentials, DigestRequest, ServerConfig, VerifyRequest};

/// Most challenge header values accepted in one call.
const MAX_CHALLENGES: usize = 64;

/// Borrows `count` challenge header values.
///
/// # Safety
/// `values` points to `count` pointers, each NULL or NUL-terminated.
unsafe fn challenge_args<'a>(
    values: *const *const c_char,
    count: usize,
) -> Result<Vec<&'a str>, FfiError> {
    if count == 0 {
        return Err(FfiError::invalid("no challenge header values (count is 0)"));
    }
    if count > MAX_CHALLENGES {
        return Err(FfiError::new(
            wacall_result::WACALL_ERR_TOO_LONG,
            format!("{count} challenge header values (at most {MAX_CHALLENGES})"),
        ));
    }
    if values.is_null() {
        return Err(FfiError::null("challenges"));
    }
    (0..count)
        // SAFETY: `values` holds `count` pointers per the contract.
        .map(|i| unsafe {
            str_arg(
                *values.add(i),
                &format!("challenges[{i}]"),
                WACALL_MAX_SIP_STRING,
            )
        })
        .collect()
}

/// Borrows an optional binary body.
///
/// # Safety
/// `body` is NULL or readable for `len` bytes.
unsafe fn body_arg<'a>(body: *const u8, len: usize) -> Result<&'a [u8], FfiError> {
    if body.is_null() {
        if len != 0 {
            return Err(FfiError::null("body"));
        }
        return Ok(&[]);
    }
    if len > super::sip::WACALL_MAX_SIP_MESSAGE {
        return Err(FfiError::new(
            wacall_result::WACALL_ERR_TOO_LONG,
            format!(
                "`body` is longer than {} bytes",
                super::sip::WACALL_MAX_SIP_MESSAGE
            ),
        ));
    }
    // SAFETY: per the contract.
    Ok(unsafe { std::slice::from_raw_parts(body, len) })
}

/// Answers a digest challenge: parses every `Proxy-Authenticate`/`WWW-Authenticate` value given (`count` of them;
/// each may hold several challenges), picks the strongest supported one (SHA-512-256 > SHA-256 > MD5), and writes
/// the `Proxy-Authorization`/`Authorization` header value with a fresh CSPRNG cnonce. `uri` must be the request-URI
/// exactly as sent. `nonce_count` is 1 for a nonce's first use (0 is taken as 1). `body` (may be NULL) is hashed
/// only for qop=auth-int. `WACALL_ERR_DIGEST` when no challenge can be answered. Output: caller buffer (1024 bytes
/// are plenty).
///
/// # Safety
/// `challenges` points to `count` NUL-terminated strings; `username`, `password`, `method` and `uri`
/// NUL-terminated (or NULL); `body` NULL or readable for `body_len` bytes; `out` writable for `out_len` bytes;
/// `written` NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn wacall_digest_respond(
    challenges: *const *const c_char,
    count: usize,
    username: *const c_char,
    password: *const c_char,
    method: *const c_char,
    uri: *const c_char,
    nonce_count: u32,
    body: *const u8,
    body_len: usize,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_digest_respond", || unsafe {
        let out = OutBuf::new(out, out_len, written)?;
        let values = challenge_args(challenges, count)?;
        let creds = Credentials::new(
            str_arg(username, "username", WACALL_MAX_SIP_STRING)?,
            str_arg(password, "password", WACALL_MAX_SIP_STRING)?,
        );
        let mut req = DigestRequest::new(
            str_arg(method, "method", WACALL_MAX_SIP_STRING)?,
            str_arg(uri, "uri", WACALL_MAX_SIP_STRING)?,
        );
        req.nonce_count = nonce_count.max(1);
        req.body = body_arg(body, body_len)?;
        let parsed = digest::parse_challenge_headers(&values)?;
        let chosen = digest::choose_best(&parsed).ok_or(digest::Error::NoSupportedChallenge)?;
        out.write(&digest::respond(chosen, &creds, &req)?.to_string())
    })
}

/// Answers Meta's 407 in one call: the strongest of Meta's challenges (SHA-256 before MD5), username = the business
/// `number` without `+` (any common form is accepted), password = `sip_user_password`, digest `uri` =
/// `request_uri` exactly as sent (e.g. from `wacall_meta_request_uri`), nc=00000001. Output: caller buffer with the
/// `Proxy-Authorization` value.
///
/// # Safety
/// As for `wacall_digest_respond`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn wacall_meta_digest_respond(
    challenges: *const *const c_char,
    count: usize,
    number: *const c_char,
    password: *const c_char,
    method: *const c_char,
    request_uri: *const c_char,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_meta_digest_respond", || unsafe {
        let out = OutBuf::new(out, out_len, written)?;
        let values = challenge_args(challenges, count)?;
        let header = digest::meta_authorization(
            &values,
            str_arg(number, "number", WACALL_MAX_SIP_STRING)?,
            str_arg(password, "password", WACALL_MAX_SIP_STRING)?,
            str_arg(method, "method", WACALL_MAX_SIP_STRING)?,
            str_arg(request_uri, "request_uri", WACALL_MAX_SIP_STRING)?,
        )?;
        out.write(&header)
    })
}

/// A digest server: issues challenges and verifies responses. Thread-safe: one handle may serve every thread.
/// Create with `wacall_digest_server_new`, free with `wacall_digest_server_free`.
#[allow(non_camel_case_types)]
pub struct wacall_digest_server {
    inner: Mutex<digest::Server>,
}

impl wacall_digest_server {
    fn lock(&self) -> std::sync::MutexGuard<'_, digest::Server> {
        // A panic while locked (caught by the guard) leaves the replay window possibly one entry short, which is
        // memory-safe and harmless: keep serving.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn now_or(now_unix: u64) -> u64 {
    if now_unix != 0 {
        return now_unix;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Creates a digest server for `realm` with an HMAC `secret` of at least 16 bytes (keep it the same across
/// processes that verify each other's nonces). `nonce_ttl_secs` 0 means 300 s. `algorithms` is a comma-separated
/// list offered in order, one challenge each (NULL: `"SHA-256,MD5"`, as Meta does). `*out` receives the handle.
///
/// # Safety
/// `realm` and `algorithms` NUL-terminated (or NULL); `secret` readable for `secret_len` bytes (or NULL); `out`
/// writable for one pointer (or NULL).
#[no_mangle]
pub unsafe extern "C" fn wacall_digest_server_new(
    realm: *const c_char,
    secret: *const u8,
    secret_len: usize,
    nonce_ttl_secs: u32,
    algorithms: *const c_char,
    out: *mut *mut wacall_digest_server,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_digest_server_new", || unsafe {
        write_out(out, "out", std::ptr::null_mut())?;
        let realm = str_arg(realm, "realm", WACALL_MAX_SIP_STRING)?;
        if secret.is_null() {
            return Err(FfiError::null("secret"));
        }
        if secret_len > 4096 {
            return Err(FfiError::new(
                wacall_result::WACALL_ERR_TOO_LONG,
                "`secret` is longer than 4096 bytes",
            ));
        }
        let secret = std::slice::from_raw_parts(secret, secret_len).to_vec();
        let mut cfg = ServerConfig::new(realm, secret);
        if nonce_ttl_secs != 0 {
            cfg.nonce_ttl = Duration::from_secs(u64::from(nonce_ttl_secs));
        }
        if let Some(list) = opt_str_arg(algorithms, "algorithms", WACALL_MAX_SIP_STRING)? {
            cfg.algorithms = list
                .split(',')
                .map(|a| {
                    Algorithm::from_token(a.trim()).ok_or_else(|| {
                        FfiError::invalid(format!("unknown digest algorithm {:?}", a.trim()))
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        let server = digest::Server::new(cfg)?;
        write_out(
            out,
            "out",
            into_handle(wacall_digest_server {
                inner: Mutex::new(server),
            }),
        )
    })
}

/// Frees a digest server. NULL is ignored.
///
/// # Safety
/// `server` is NULL or from `wacall_digest_server_new`, not freed before and not in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn wacall_digest_server_free(server: *mut wacall_digest_server) {
    // SAFETY (closure): per the function's contract.
    guard_void("wacall_digest_server_free", || {
        unsafe { free_handle(server) };
        Ok(())
    })
}

/// Writes the challenge header values for a 401/407, one per configured algorithm, all with one fresh nonce,
/// separated by `"\n"` (send each line as its own `WWW-Authenticate`/`Proxy-Authenticate` header). `stale` after a
/// `WACALL_ERR_AUTH_STALE` verification. `now_unix` is the time in Unix seconds (0: the system clock). Output:
/// caller buffer (512 bytes are plenty for two challenges).
///
/// # Safety
/// `server` valid (or NULL); `out` writable for `out_len` bytes; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wacall_digest_server_challenge(
    server: *const wacall_digest_server,
    now_unix: u64,
    stale: bool,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_digest_server_challenge", || unsafe {
        let out = OutBuf::new(out, out_len, written)?;
        let server = ref_arg(server, "server")?;
        let values = server
            .lock()
            .challenge_header_values(now_or(now_unix), stale)?;
        out.write(&values.join("\n"))
    })
}

/// The username of an `Authorization`/`Proxy-Authorization` value, to look its password up before
/// `wacall_digest_server_verify`. Output: caller buffer.
///
/// # Safety
/// `authorization` NUL-terminated (or NULL); `out` writable for `out_len` bytes; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wacall_digest_username(
    authorization: *const c_char,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_digest_username", || unsafe {
        let out = OutBuf::new(out, out_len, written)?;
        let value = str_arg(authorization, "authorization", WACALL_MAX_SIP_STRING)?;
        out.write(&digest::Authorization::parse(value)?.username)
    })
}

/// Verifies an `Authorization`/`Proxy-Authorization` value against `password` (looked up by the caller for the
/// header's username, see `wacall_digest_username`). `request_uri` (may be NULL: not checked) must equal the digest
/// `uri`. `now_unix` 0 means the system clock; `body` (may be NULL) matters only for qop=auth-int.
/// `WACALL_OK` when it verifies; `WACALL_ERR_AUTH_STALE` for a right password with an expired nonce (challenge
/// again with `stale`); `WACALL_ERR_AUTH_FAILED` for a wrong password, realm, uri, a forged or replayed nonce;
/// `WACALL_ERR_DIGEST` for a header that cannot be read or asks for what this server does not offer.
///
/// # Safety
/// `server` valid (or NULL); strings NUL-terminated (or NULL); `body` NULL or readable for `body_len` bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn wacall_digest_server_verify(
    server: *const wacall_digest_server,
    authorization: *const c_char,
    method: *const c_char,
    password: *const c_char,
    request_uri: *const c_char,
    now_unix: u64,
    body: *const u8,
    body_len: usize,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_digest_server_verify", || unsafe {
        let server = ref_arg(server, "server")?;
        let value = str_arg(authorization, "authorization", WACALL_MAX_SIP_STRING)?;
        let method = str_arg(method, "method", WACALL_MAX_SIP_STRING)?;
        let password = str_arg(password, "password", WACALL_MAX_SIP_STRING)?;
        let request_uri = opt_str_arg(request_uri, "request_uri", WACALL_MAX_SIP_STRING)?;
        let uri_check = |u: &str| request_uri.is_none_or(|r| r == u);
        let req = VerifyRequest {
            method,
            body: body_arg(body, body_len)?,
            now_unix: now_or(now_unix),
            uri_check: Some(&uri_check),
        };
        match server
            .lock()
            .verify(value, &req, |_| Some(password.to_owned()))
        {
            Ok(_) => Ok(()),
            Err(e) => Err(verify_error(e)),
        }
    })
}

/// Verification failures are their own codes: a host answers them differently from a malformed request.
fn verify_error(e: digest::Error) -> FfiError {
    use digest::Error as E;
    let code = match &e {
        E::StaleNonce => wacall_result::WACALL_ERR_AUTH_STALE,
        E::RealmMismatch
        | E::InvalidNonce
        | E::ReplayedNonceCount(_)
        | E::UriMismatch
        | E::UnknownUser
        | E::BadResponse => wacall_result::WACALL_ERR_AUTH_FAILED,
        _ => return e.into(),
    };
    FfiError::new(code, format!("digest: {e}"))
}
