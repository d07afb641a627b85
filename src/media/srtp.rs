//! SRTP/SRTCP: a small safe wrapper over libsrtp (built from source by `srtp2-sys` with OpenSSL).
//! One [`SrtpContext`] per stream direction, created once; packets are protected/unprotected in place.
//! Two backends sit behind it ([`SrtpBackend`]): libsrtp, and the native AES-CM/HMAC-SHA1 path of
//! [`super::srtp_fast`] (the default: same bytes on the wire, faster at thousands of streams, cheaper to create).
#![allow(unsafe_code)]

use std::fmt;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Once;

use super::srtp_fast::{self, FastContext};

use srtp2_sys as sys;
use zeroize::{Zeroize, Zeroizing};

/// Room a caller must leave after an RTP packet for [`SrtpContext::protect_rtp`] (largest tag: GCM's 16).
pub const SRTP_MAX_TRAILER: usize = 16;
/// Room a caller must leave after an RTCP packet for [`SrtpContext::protect_rtcp`] (tag + 4-byte SRTCP index).
pub const SRTCP_MAX_TRAILER: usize = 16 + 4;

/// SRTP protection profiles wacall speaks (RFC 4568 names / RFC 5764 and RFC 7714 profiles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SrtpProfile {
    /// AES_CM_128_HMAC_SHA1_80 (SDES) / SRTP_AES128_CM_SHA1_80 (DTLS): Meta's SDES suite.
    AesCm128HmacSha1_80,
    /// AES_CM_128_HMAC_SHA1_32 / SRTP_AES128_CM_SHA1_32 (SRTCP keeps the 80-bit tag, RFC 5764 4.1.2).
    AesCm128HmacSha1_32,
    /// AEAD_AES_128_GCM / SRTP_AEAD_AES_128_GCM (RFC 7714, 16-byte tag).
    AeadAes128Gcm,
    /// AES_256_CM_HMAC_SHA1_80 (RFC 6188; SDES only, no DTLS-SRTP profile exists).
    AesCm256HmacSha1_80,
    /// AES_256_CM_HMAC_SHA1_32 (RFC 6188; SDES only; SRTCP keeps the 80-bit tag).
    AesCm256HmacSha1_32,
    /// AEAD_AES_256_GCM / SRTP_AEAD_AES_256_GCM (RFC 7714, 16-byte tag).
    AeadAes256Gcm,
}

impl SrtpProfile {
    /// Master key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 | Self::AesCm128HmacSha1_32 | Self::AeadAes128Gcm => 16,
            Self::AeadAes256Gcm | Self::AesCm256HmacSha1_80 | Self::AesCm256HmacSha1_32 => 32,
        }
    }
    /// Master salt length in bytes.
    pub fn salt_len(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80
            | Self::AesCm128HmacSha1_32
            | Self::AesCm256HmacSha1_80
            | Self::AesCm256HmacSha1_32 => 14,
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 12,
        }
    }
    /// Master key + salt length: the size of an SDES inline key or of one direction's DTLS keying material.
    pub fn master_len(self) -> usize {
        self.key_len() + self.salt_len()
    }
    /// Bytes an SRTP packet grows by.
    pub fn rtp_overhead(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 | Self::AesCm256HmacSha1_80 => 10,
            Self::AesCm128HmacSha1_32 | Self::AesCm256HmacSha1_32 => 4,
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 16,
        }
    }
    /// The SDES (RFC 4568) crypto-suite name.
    pub fn sdes_name(self) -> &'static str {
        match self {
            Self::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Self::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Self::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Self::AeadAes256Gcm => "AEAD_AES_256_GCM",
            Self::AesCm256HmacSha1_80 => "AES_256_CM_HMAC_SHA1_80",
            Self::AesCm256HmacSha1_32 => "AES_256_CM_HMAC_SHA1_32",
        }
    }
    /// Parses an SDES crypto-suite name.
    pub fn from_sdes_name(name: &str) -> Option<Self> {
        [
            Self::AesCm128HmacSha1_80,
            Self::AesCm128HmacSha1_32,
            Self::AeadAes128Gcm,
            Self::AeadAes256Gcm,
        ]
        .into_iter()
        .find(|p| p.sdes_name().eq_ignore_ascii_case(name))
    }
    /// The DTLS-SRTP (RFC 5764 / OpenSSL) profile name; the AES-256-CM suites have none and return their SDES
    /// name.
    pub fn dtls_name(self) -> &'static str {
        match self {
            Self::AesCm128HmacSha1_80 => "SRTP_AES128_CM_SHA1_80",
            Self::AesCm128HmacSha1_32 => "SRTP_AES128_CM_SHA1_32",
            Self::AeadAes128Gcm => "SRTP_AEAD_AES_128_GCM",
            Self::AeadAes256Gcm => "SRTP_AEAD_AES_256_GCM",
            Self::AesCm256HmacSha1_80 | Self::AesCm256HmacSha1_32 => self.sdes_name(),
        }
    }
}

/// An SRTP master key and salt for one direction of one leg. Zeroized on drop; Debug shows only the profile.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKeyMaterial {
    profile: SrtpProfile,
    /// key || salt, exactly `profile.master_len()` bytes.
    master: Zeroizing<Vec<u8>>,
}

impl SrtpKeyMaterial {
    /// Builds key material from `key || salt` (e.g. the decoded SDES inline key). Fails on a wrong length.
    pub fn new(profile: SrtpProfile, key_and_salt: &[u8]) -> Result<Self, SrtpError> {
        if key_and_salt.len() != profile.master_len() {
            return Err(SrtpError::BadKeyLength {
                expected: profile.master_len(),
                got: key_and_salt.len(),
            });
        }
        Ok(Self {
            profile,
            master: Zeroizing::new(key_and_salt.to_vec()),
        })
    }
    /// Builds key material from separate key and salt (as DTLS-SRTP exports them).
    pub fn from_parts(profile: SrtpProfile, key: &[u8], salt: &[u8]) -> Result<Self, SrtpError> {
        let mut v = Zeroizing::new(Vec::with_capacity(key.len() + salt.len()));
        v.extend_from_slice(key);
        v.extend_from_slice(salt);
        Self::new(profile, &v)
    }
    /// Fresh random key material (for the SDES key we offer).
    pub fn random(profile: SrtpProfile) -> Result<Self, SrtpError> {
        let mut v = Zeroizing::new(vec![0u8; profile.master_len()]);
        openssl::rand::rand_bytes(&mut v).map_err(|_| SrtpError::Random)?;
        Ok(Self { profile, master: v })
    }
    /// The profile these keys are for.
    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }
    /// `key || salt`: what SDES puts base64-encoded in `inline:`. Handle with care.
    pub fn key_and_salt(&self) -> &[u8] {
        &self.master
    }
}

impl fmt::Debug for SrtpKeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKeyMaterial")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// What can go wrong in SRTP. Per-packet failures (`AuthFailed`, `Replay`, `Malformed`) are for the caller to count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrtpError {
    #[error("wrong SRTP key length: expected {expected} bytes, got {got}")]
    BadKeyLength { expected: usize, got: usize },
    #[error("random number generator failed")]
    Random,
    #[error("SRTP authentication failed")]
    AuthFailed,
    #[error("SRTP replayed or too old packet")]
    Replay,
    #[error("malformed or truncated packet")]
    Malformed,
    #[error("buffer too small for the SRTP trailer")]
    BufferTooSmall,
    #[error("libsrtp error {0}")]
    Lib(u32),
}

/// Which way a context works: protect (we send) or unprotect (we receive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Outbound,
    Inbound,
}

static INIT: Once = Once::new();
static mut INIT_STATUS: sys::srtp_err_status_t = 0;

fn init_lib() -> Result<(), SrtpError> {
    // SAFETY: srtp_init is called exactly once (guarded by Once) before any other libsrtp call; INIT_STATUS is
    // written only inside the Once and read after it completed, so there is no data race.
    unsafe {
        INIT.call_once(|| {
            INIT_STATUS = sys::srtp_init();
        });
        let st = INIT_STATUS;
        if st != sys::srtp_err_status_t_srtp_err_status_ok {
            return Err(SrtpError::Lib(st));
        }
    }
    Ok(())
}

fn map_err(st: sys::srtp_err_status_t) -> SrtpError {
    match st {
        sys::srtp_err_status_t_srtp_err_status_auth_fail => SrtpError::AuthFailed,
        sys::srtp_err_status_t_srtp_err_status_replay_fail
        | sys::srtp_err_status_t_srtp_err_status_replay_old => SrtpError::Replay,
        sys::srtp_err_status_t_srtp_err_status_bad_param
        | sys::srtp_err_status_t_srtp_err_status_parse_err => SrtpError::Malformed,
        other => SrtpError::Lib(other),
    }
}

/// Which implementation an [`SrtpContext`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SrtpBackend {
    /// libsrtp 2 (srtp2-sys, OpenSSL crypto): the reference.
    Libsrtp,
    /// [`super::srtp_fast`] for AES_CM_128_HMAC_SHA1_80/_32; other profiles (GCM, AES-256) still use libsrtp.
    #[default]
    Native,
}

impl SrtpBackend {
    /// Parses `libsrtp` / `native` (configuration values).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "libsrtp" => Some(Self::Libsrtp),
            "native" => Some(Self::Native),
            _ => None,
        }
    }
}

static DEFAULT_BACKEND: AtomicU8 = AtomicU8::new(1);

/// Sets the backend [`SrtpContext::new`] uses from now on (process-wide; existing contexts keep theirs).
pub fn set_default_backend(backend: SrtpBackend) {
    DEFAULT_BACKEND.store(
        match backend {
            SrtpBackend::Libsrtp => 0,
            SrtpBackend::Native => 1,
        },
        Ordering::Relaxed,
    );
}

/// The backend [`SrtpContext::new`] uses.
pub fn default_backend() -> SrtpBackend {
    match DEFAULT_BACKEND.load(Ordering::Relaxed) {
        0 => SrtpBackend::Libsrtp,
        _ => SrtpBackend::Native,
    }
}

enum Inner {
    Lib(sys::srtp_t),
    Native(Box<FastContext>),
}

/// One SRTP session for one direction of one leg, prepared once (key derivation, cipher contexts) and
/// reused for every packet. Accepts any SSRC (libsrtp's `ssrc_any_*`), so SSRC changes need no new context.
pub struct SrtpContext {
    inner: Inner,
    profile: SrtpProfile,
    direction: Direction,
}

// SAFETY: the libsrtp session is owned exclusively by this value and only used through &mut self, so moving it to
// another thread is sound (libsrtp keeps no thread-local state per session).
unsafe impl Send for SrtpContext {}

impl fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpContext")
            .field("profile", &self.profile)
            .field("direction", &self.direction)
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl SrtpContext {
    /// Creates a context for `direction` with `keys` on the [`default_backend`]. Replay window: 1024 packets.
    pub fn new(keys: &SrtpKeyMaterial, direction: Direction) -> Result<Self, SrtpError> {
        Self::with_backend(keys, direction, default_backend())
    }

    /// Creates a context on `backend` (the native one falls back to libsrtp for profiles it lacks).
    pub fn with_backend(
        keys: &SrtpKeyMaterial,
        direction: Direction,
        backend: SrtpBackend,
    ) -> Result<Self, SrtpError> {
        if backend == SrtpBackend::Native && srtp_fast::supports(keys.profile) {
            return Ok(Self {
                inner: Inner::Native(Box::new(FastContext::new(keys, direction)?)),
                profile: keys.profile,
                direction,
            });
        }
        Self::new_libsrtp(keys, direction)
    }

    /// The backend actually in use.
    pub fn backend(&self) -> SrtpBackend {
        match self.inner {
            Inner::Lib(_) => SrtpBackend::Libsrtp,
            Inner::Native(_) => SrtpBackend::Native,
        }
    }

    fn new_libsrtp(keys: &SrtpKeyMaterial, direction: Direction) -> Result<Self, SrtpError> {
        init_lib()?;
        // SAFETY: srtp_policy_t is a plain C struct for which all-zero is a valid (empty) value.
        let mut policy: sys::srtp_policy_t = unsafe { std::mem::zeroed() };
        // SAFETY: the policy setters only write into the given, valid crypto policy structs.
        unsafe {
            match keys.profile {
                SrtpProfile::AesCm128HmacSha1_80 => {
                    sys::srtp_crypto_policy_set_rtp_default(&mut policy.rtp);
                    sys::srtp_crypto_policy_set_rtcp_default(&mut policy.rtcp);
                }
                SrtpProfile::AesCm128HmacSha1_32 => {
                    sys::srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&mut policy.rtp);
                    sys::srtp_crypto_policy_set_rtcp_default(&mut policy.rtcp);
                }
                SrtpProfile::AesCm256HmacSha1_80 => {
                    sys::srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&mut policy.rtp);
                    sys::srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&mut policy.rtcp);
                }
                SrtpProfile::AesCm256HmacSha1_32 => {
                    sys::srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(&mut policy.rtp);
                    sys::srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&mut policy.rtcp);
                }
                SrtpProfile::AeadAes128Gcm => {
                    sys::srtp_crypto_policy_set_aes_gcm_128_16_auth(&mut policy.rtp);
                    sys::srtp_crypto_policy_set_aes_gcm_128_16_auth(&mut policy.rtcp);
                }
                SrtpProfile::AeadAes256Gcm => {
                    sys::srtp_crypto_policy_set_aes_gcm_256_16_auth(&mut policy.rtp);
                    sys::srtp_crypto_policy_set_aes_gcm_256_16_auth(&mut policy.rtcp);
                }
            }
        }
        policy.ssrc.type_ = match direction {
            Direction::Outbound => sys::srtp_ssrc_type_t_ssrc_any_outbound,
            Direction::Inbound => sys::srtp_ssrc_type_t_ssrc_any_inbound,
        };
        policy.window_size = 1024;
        policy.allow_repeat_tx = 0;
        // libsrtp copies the key during srtp_create; our copy stays in the zeroizing buffer.
        let mut key = Zeroizing::new(keys.master.to_vec());
        policy.key = key.as_mut_ptr();
        policy.next = std::ptr::null_mut();
        let mut ctx: sys::srtp_t = std::ptr::null_mut();
        // SAFETY: policy is fully initialised and key points to master_len() valid bytes for the duration of the
        // call; ctx receives a newly allocated session that we own and free in Drop.
        let st = unsafe { sys::srtp_create(&mut ctx, &policy) };
        key.zeroize();
        if st != sys::srtp_err_status_t_srtp_err_status_ok || ctx.is_null() {
            return Err(map_err(st));
        }
        Ok(Self {
            inner: Inner::Lib(ctx),
            profile: keys.profile,
            direction,
        })
    }

    /// The profile of this context.
    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// Protects the RTP packet `buf[..len]` in place; returns the SRTP length. `buf` must have room for
    /// [`SRTP_MAX_TRAILER`] bytes after `len`.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        debug_assert_eq!(self.direction, Direction::Outbound);
        let ctx = match &mut self.inner {
            Inner::Native(f) => return f.protect_rtp(buf, len),
            Inner::Lib(c) => *c,
        };
        if len < 12 || len > buf.len() {
            return Err(SrtpError::Malformed);
        }
        if buf.len() - len < SRTP_MAX_TRAILER {
            return Err(SrtpError::BufferTooSmall);
        }
        let mut l = len as c_int;
        // SAFETY: buf is valid for buf.len() bytes, libsrtp reads len bytes and writes at most the tag length
        // (<= SRTP_MAX_TRAILER, checked above, no MKI configured) after them; ctx is a live session.
        let st = unsafe { sys::srtp_protect(ctx, buf.as_mut_ptr().cast(), &mut l) };
        if st != sys::srtp_err_status_t_srtp_err_status_ok {
            return Err(map_err(st));
        }
        Ok(l as usize)
    }

    /// Unprotects the SRTP packet `buf` in place (authentication, replay check, decryption); returns the RTP length.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        debug_assert_eq!(self.direction, Direction::Inbound);
        let ctx = match &mut self.inner {
            Inner::Native(f) => return f.unprotect_rtp(buf),
            Inner::Lib(c) => *c,
        };
        // Header (12) + the smallest tag; shorter input can't be valid and libsrtp must not see it.
        if buf.len() < 12 + 4 || buf.len() > c_int::MAX as usize || buf[0] >> 6 != 2 {
            return Err(SrtpError::Malformed);
        }
        let mut l = buf.len() as c_int;
        // SAFETY: libsrtp reads at most l bytes from buf and writes only within them (decryption in place).
        let st = unsafe { sys::srtp_unprotect(ctx, buf.as_mut_ptr().cast(), &mut l) };
        if st != sys::srtp_err_status_t_srtp_err_status_ok {
            return Err(map_err(st));
        }
        Ok(l as usize)
    }

    /// Protects the RTCP packet `buf[..len]` in place; `buf` needs [`SRTCP_MAX_TRAILER`] bytes of room after `len`.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        debug_assert_eq!(self.direction, Direction::Outbound);
        let ctx = match &mut self.inner {
            Inner::Native(f) => return f.protect_rtcp(buf, len),
            Inner::Lib(c) => *c,
        };
        if len < 8 || len > buf.len() {
            return Err(SrtpError::Malformed);
        }
        if buf.len() - len < SRTCP_MAX_TRAILER {
            return Err(SrtpError::BufferTooSmall);
        }
        let mut l = len as c_int;
        // SAFETY: as protect_rtp; SRTCP appends index (4) + tag (<= 16) = SRTCP_MAX_TRAILER at most.
        let st = unsafe { sys::srtp_protect_rtcp(ctx, buf.as_mut_ptr().cast(), &mut l) };
        if st != sys::srtp_err_status_t_srtp_err_status_ok {
            return Err(map_err(st));
        }
        Ok(l as usize)
    }

    /// Unprotects the SRTCP packet `buf` in place; returns the RTCP length.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        debug_assert_eq!(self.direction, Direction::Inbound);
        let ctx = match &mut self.inner {
            Inner::Native(f) => return f.unprotect_rtcp(buf),
            Inner::Lib(c) => *c,
        };
        if buf.len() < 8 + 4 + 4 || buf.len() > c_int::MAX as usize || buf[0] >> 6 != 2 {
            return Err(SrtpError::Malformed);
        }
        let mut l = buf.len() as c_int;
        // SAFETY: libsrtp reads at most l bytes and decrypts within them.
        let st = unsafe { sys::srtp_unprotect_rtcp(ctx, buf.as_mut_ptr().cast(), &mut l) };
        if st != sys::srtp_err_status_t_srtp_err_status_ok {
            return Err(map_err(st));
        }
        Ok(l as usize)
    }
}

impl Drop for SrtpContext {
    fn drop(&mut self) {
        if let Inner::Lib(ctx) = self.inner {
            // SAFETY: ctx was created by srtp_create, is non-null and is freed exactly once here. libsrtp zeroizes
            // its key schedules on dealloc.
            unsafe {
                sys::srtp_dealloc(ctx);
            }
        }
    }
}

/// The pair of contexts of one SRTP leg: outbound (our key) and inbound (the peer's key).
#[derive(Debug)]
pub struct SrtpSession {
    pub outbound: SrtpContext,
    pub inbound: SrtpContext,
}

impl SrtpSession {
    /// Creates both contexts.
    pub fn new(local: &SrtpKeyMaterial, remote: &SrtpKeyMaterial) -> Result<Self, SrtpError> {
        Ok(Self {
            outbound: SrtpContext::new(local, Direction::Outbound)?,
            inbound: SrtpContext::new(remote, Direction::Inbound)?,
        })
    }
}
