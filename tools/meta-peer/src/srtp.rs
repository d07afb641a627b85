//! The peer's own small libsrtp wrapper (independent of wacall's `media::srtp`): one session per direction,
//! AES_CM_128_HMAC_SHA1_80 only, as Meta uses.
#![allow(unsafe_code)]

use srtp2_sys as sys;
use std::sync::Once;

static INIT: Once = Once::new();

pub struct Session {
    ctx: sys::srtp_t,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Fail {
    Auth,
    Replay,
    Other(u32),
}

impl Session {
    /// `key` = 16-byte key || 14-byte salt. `inbound` picks ssrc_any_inbound.
    pub fn new(key: &[u8], inbound: bool) -> Result<Self, String> {
        if key.len() != 30 {
            return Err(format!("SRTP key must be 30 bytes, got {}", key.len()));
        }
        // SAFETY: srtp_init runs once before any other libsrtp call of this process.
        INIT.call_once(|| unsafe {
            sys::srtp_init();
        });
        // SAFETY: all-zero srtp_policy_t is valid; the setters write into it; srtp_create copies the key.
        unsafe {
            let mut p: sys::srtp_policy_t = std::mem::zeroed();
            sys::srtp_crypto_policy_set_rtp_default(&mut p.rtp);
            sys::srtp_crypto_policy_set_rtcp_default(&mut p.rtcp);
            p.ssrc.type_ = if inbound {
                sys::srtp_ssrc_type_t_ssrc_any_inbound
            } else {
                sys::srtp_ssrc_type_t_ssrc_any_outbound
            };
            let mut k = key.to_vec();
            p.key = k.as_mut_ptr();
            p.window_size = 128;
            let mut ctx: sys::srtp_t = std::ptr::null_mut();
            let st = sys::srtp_create(&mut ctx, &p);
            if st != sys::srtp_err_status_t_srtp_err_status_ok || ctx.is_null() {
                return Err(format!("srtp_create failed: {st}"));
            }
            Ok(Self { ctx })
        }
    }

    pub fn protect(&mut self, buf: &mut [u8], len: usize, rtcp: bool) -> Option<usize> {
        if buf.len() < len + 20 {
            return None;
        }
        let mut l = len as i32;
        // SAFETY: buf has room for the trailer; ctx is live.
        let st = unsafe {
            if rtcp {
                sys::srtp_protect_rtcp(self.ctx, buf.as_mut_ptr().cast(), &mut l)
            } else {
                sys::srtp_protect(self.ctx, buf.as_mut_ptr().cast(), &mut l)
            }
        };
        (st == sys::srtp_err_status_t_srtp_err_status_ok).then_some(l as usize)
    }

    pub fn unprotect(&mut self, buf: &mut [u8], rtcp: bool) -> Result<usize, Fail> {
        if buf.len() < 16 {
            return Err(Fail::Other(0));
        }
        let mut l = buf.len() as i32;
        // SAFETY: libsrtp reads/writes within buf.len(); ctx is live.
        let st = unsafe {
            if rtcp {
                sys::srtp_unprotect_rtcp(self.ctx, buf.as_mut_ptr().cast(), &mut l)
            } else {
                sys::srtp_unprotect(self.ctx, buf.as_mut_ptr().cast(), &mut l)
            }
        };
        match st {
            sys::srtp_err_status_t_srtp_err_status_ok => Ok(l as usize),
            sys::srtp_err_status_t_srtp_err_status_auth_fail => Err(Fail::Auth),
            sys::srtp_err_status_t_srtp_err_status_replay_fail
            | sys::srtp_err_status_t_srtp_err_status_replay_old => Err(Fail::Replay),
            e => Err(Fail::Other(e)),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: ctx was created by srtp_create and is deallocated once.
        unsafe {
            sys::srtp_dealloc(self.ctx);
        }
    }
}
