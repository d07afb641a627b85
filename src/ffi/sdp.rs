//! `wacall_sdp_*` exports: SDP parse-check and the four offer/answer mappings between Meta's leg (DTLS+ICE or
//! SDES) and the PBX's leg (SDES or plain RTP), with the relay's allocation passed in as a plain C struct.
#![allow(unsafe_code)]

use std::ffi::c_char;
use std::net::SocketAddr;

use super::guard::{
    guard, opt_str_arg, ref_arg, str_arg, FfiError, OutBuf, OutString, WACALL_MAX_SDP,
    WACALL_MAX_SIP_STRING,
};
use super::wacall_result;
use crate::sdp::{self, CryptoSuite, MapConfig, MediaAllocation, MetaMedia, PbxMedia};

/// `wacall_map_config.pbx_media`: offer the PBX SDES-SRTP (`RTP/SAVP` with `a=crypto`). The default (0).
pub const WACALL_PBX_MEDIA_SDES: u32 = 0;
/// `wacall_map_config.pbx_media`: offer the PBX plain RTP (`RTP/AVP`).
pub const WACALL_PBX_MEDIA_RTP: u32 = 1;
/// `wacall_map_config.meta_media`: offer Meta DTLS-SRTP with ICE (Meta's default `srtp_key_exchange_protocol`).
/// The default (0).
pub const WACALL_META_MEDIA_DTLS: u32 = 0;
/// `wacall_map_config.meta_media`: offer Meta SDES-SRTP (numbers set to `SDES`).
pub const WACALL_META_MEDIA_SDES: u32 = 1;
/// `wacall_map_config.flags`: do not offer `a=rtcp-mux` to the PBX.
pub const WACALL_MAP_NO_PBX_RTCP_MUX: u32 = 1;

/// What the relay allocated for one call. Addresses are `"ip:port"` strings (`"[2001:db8::1]:40000"` for IPv6).
/// Optional fields may be NULL or empty.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct wacall_media_allocation {
    /// Required: our socket facing Meta (the host candidate announced to Meta unless `meta_advertised` is set).
    pub meta_side: *const c_char,
    /// Optional: comma-separated addresses to announce to Meta instead (public / NAT-mapped, IPv4 and IPv6), in
    /// priority order.
    pub meta_advertised: *const c_char,
    /// Required: our socket facing the PBX.
    pub pbx_side: *const c_char,
    /// Optional: the address to announce to the PBX instead of `pbx_side`.
    pub pbx_advertised: *const c_char,
    /// Optional: a separate RTCP socket toward the PBX (announced with `a=rtcp`).
    pub pbx_rtcp: *const c_char,
    /// Our ICE ufrag toward Meta (4-256 ice-chars); required for DTLS legs. See `wacall_ice_credentials`.
    pub ice_ufrag: *const c_char,
    /// Our ICE password toward Meta (22-256 ice-chars); required for DTLS legs. Secret.
    pub ice_pwd: *const c_char,
    /// SHA-256 fingerprint of our DTLS certificate, colon-separated hex; required for DTLS legs.
    pub dtls_fingerprint_sha256: *const c_char,
}

/// Mapping options. A zeroed struct (or a NULL pointer) gives the defaults: SDES (AES_CM_128_HMAC_SHA1_80) toward
/// the PBX with rtcp-mux offered, DTLS toward Meta, session name "wacall", mid "audio".
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct wacall_map_config {
    /// `WACALL_PBX_MEDIA_SDES` or `WACALL_PBX_MEDIA_RTP`: what to offer the PBX on calls from Meta.
    pub pbx_media: u32,
    /// Optional, SDES only: comma-separated crypto suites to offer the PBX, in preference order (e.g.
    /// `"AES_CM_128_HMAC_SHA1_80,AES_CM_128_HMAC_SHA1_32"`). NULL or empty: AES_CM_128_HMAC_SHA1_80.
    pub pbx_crypto_suites: *const c_char,
    /// `WACALL_META_MEDIA_DTLS` or `WACALL_META_MEDIA_SDES`: what to offer Meta on calls from the PBX.
    pub meta_media: u32,
    /// `WACALL_MAP_*` flags.
    pub flags: u32,
    /// Optional: the `s=` line toward the PBX.
    pub session_name: *const c_char,
    /// Optional: the mid used in our offers to Meta.
    pub meta_mid: *const c_char,
}

unsafe fn addr_arg(ptr: *const c_char, name: &str) -> Result<SocketAddr, FfiError> {
    let s = unsafe { str_arg(ptr, name, WACALL_MAX_SIP_STRING) }?;
    parse_addr(s, name)
}

unsafe fn opt_addr_arg(ptr: *const c_char, name: &str) -> Result<Option<SocketAddr>, FfiError> {
    match unsafe { opt_str_arg(ptr, name, WACALL_MAX_SIP_STRING) }? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => parse_addr(s, name).map(Some),
    }
}

fn parse_addr(s: &str, name: &str) -> Result<SocketAddr, FfiError> {
    s.trim().parse().map_err(|_| {
        FfiError::invalid(format!(
            "`{name}` is not an \"ip:port\" address (IPv6 as \"[addr]:port\"): {s:?}"
        ))
    })
}

/// Reads the C allocation into the core's type.
///
/// # Safety
/// Every non-NULL string field is NUL-terminated.
unsafe fn allocation(a: &wacall_media_allocation) -> Result<MediaAllocation, FfiError> {
    // SAFETY (block): the fields' contract is the caller's, as documented on the struct.
    unsafe {
        let text = |p, n| opt_str_arg(p, n, WACALL_MAX_SIP_STRING).map(Option::unwrap_or_default);
        let mut alloc = MediaAllocation::new(
            addr_arg(a.meta_side, "alloc->meta_side")?,
            addr_arg(a.pbx_side, "alloc->pbx_side")?,
            text(a.ice_ufrag, "alloc->ice_ufrag")?,
            text(a.ice_pwd, "alloc->ice_pwd")?,
            text(a.dtls_fingerprint_sha256, "alloc->dtls_fingerprint_sha256")?,
        );
        if let Some(list) = opt_str_arg(
            a.meta_advertised,
            "alloc->meta_advertised",
            WACALL_MAX_SIP_STRING,
        )? {
            alloc.meta_advertised = list
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| parse_addr(s, "alloc->meta_advertised"))
                .collect::<Result<_, _>>()?;
        }
        alloc.pbx_advertised = opt_addr_arg(a.pbx_advertised, "alloc->pbx_advertised")?;
        alloc.pbx_rtcp = opt_addr_arg(a.pbx_rtcp, "alloc->pbx_rtcp")?;
        Ok(alloc)
    }
}

/// Reads the C configuration (NULL: defaults) into the core's type.
///
/// # Safety
/// `cfg` is NULL or valid, and its non-NULL string fields are NUL-terminated.
unsafe fn config(cfg: *const wacall_map_config) -> Result<MapConfig, FfiError> {
    // SAFETY: per the contract.
    let Some(c) = (unsafe { cfg.as_ref() }) else {
        return Ok(MapConfig::default());
    };
    let pbx_media = match c.pbx_media {
        WACALL_PBX_MEDIA_SDES => {
            // SAFETY: per the contract.
            let list = unsafe {
                opt_str_arg(
                    c.pbx_crypto_suites,
                    "cfg->pbx_crypto_suites",
                    WACALL_MAX_SIP_STRING,
                )
            }?;
            match list.filter(|l| !l.trim().is_empty()) {
                None => MapConfig::default().pbx_media,
                Some(l) => PbxMedia::Sdes(
                    l.split(',')
                        .map(|s| {
                            CryptoSuite::from_name(s.trim()).ok_or_else(|| {
                                FfiError::invalid(format!(
                                    "unknown crypto suite {:?} in cfg->pbx_crypto_suites",
                                    s.trim()
                                ))
                            })
                        })
                        .collect::<Result<_, _>>()?,
                ),
            }
        }
        WACALL_PBX_MEDIA_RTP => PbxMedia::Rtp,
        other => {
            return Err(FfiError::invalid(format!(
                "cfg->pbx_media: unknown value {other}"
            )))
        }
    };
    let meta_media = match c.meta_media {
        WACALL_META_MEDIA_DTLS => MetaMedia::Dtls,
        WACALL_META_MEDIA_SDES => MetaMedia::Sdes,
        other => {
            return Err(FfiError::invalid(format!(
                "cfg->meta_media: unknown value {other}"
            )))
        }
    };
    let mut out = MapConfig::new(pbx_media, meta_media);
    if c.flags & !WACALL_MAP_NO_PBX_RTCP_MUX != 0 {
        return Err(FfiError::invalid(format!(
            "cfg->flags: unknown bits {:#x}",
            c.flags
        )));
    }
    out.pbx_rtcp_mux = c.flags & WACALL_MAP_NO_PBX_RTCP_MUX == 0;
    // SAFETY: per the contract.
    unsafe {
        if let Some(s) = opt_str_arg(c.session_name, "cfg->session_name", WACALL_MAX_SIP_STRING)? {
            out.session_name = s.to_owned();
        }
        if let Some(s) = opt_str_arg(c.meta_mid, "cfg->meta_mid", WACALL_MAX_SIP_STRING)? {
            out.meta_mid = s.to_owned();
        }
    }
    Ok(out)
}

/// Parses an SDP body and reports whether wacall can read it; `*media_count` (optional, may be NULL) receives the
/// number of `m=` sections. `WACALL_ERR_SDP` with the line and reason otherwise.
///
/// # Safety
/// `sdp` is NULL or NUL-terminated; `media_count` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wacall_sdp_check(
    sdp: *const c_char,
    media_count: *mut usize,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_sdp_check", || unsafe {
        if !media_count.is_null() {
            media_count.write(0);
        }
        let text = str_arg(sdp, "sdp", WACALL_MAX_SDP)?;
        let parsed = sdp::Sdp::parse(text)?;
        if !media_count.is_null() {
            media_count.write(parsed.media().len());
        }
        Ok(())
    })
}

/// Fresh ICE credentials from the OS CSPRNG (8-character ufrag, 24-character password), for
/// `wacall_media_allocation`. Each buffer follows the caller-buffer convention (32 bytes are enough for both).
///
/// # Safety
/// `ufrag` is writable for `ufrag_len` bytes, `pwd` for `pwd_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn wacall_ice_credentials(
    ufrag: *mut c_char,
    ufrag_len: usize,
    pwd: *mut c_char,
    pwd_len: usize,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_ice_credentials", || unsafe {
        let ufrag = OutBuf::new(ufrag, ufrag_len, std::ptr::null_mut())?;
        let pwd = OutBuf::new(pwd, pwd_len, std::ptr::null_mut())?;
        let (u, p) = sdp::generate_ice_credentials()?;
        ufrag.write(&u)?;
        pwd.write(&p)
    })
}

/// The common shape of the four mappings: check and convert arguments, map, hand the SDP out.
///
/// # Safety
/// `alloc` valid (or NULL), `cfg` valid or NULL, `out` writable for one pointer (or NULL).
unsafe fn map_export(
    function: &'static str,
    alloc: *const wacall_media_allocation,
    cfg: *const wacall_map_config,
    out: *mut *mut c_char,
    map: impl FnOnce(&MediaAllocation, &MapConfig) -> Result<sdp::Mapped, FfiError>,
) -> wacall_result {
    // SAFETY (closure): pointers per the caller's contract.
    guard(function, || unsafe {
        let out = OutString::new(out)?;
        let alloc = allocation(ref_arg(alloc, "alloc")?)?;
        let cfg = config(cfg)?;
        let mapped = map(&alloc, &cfg)?;
        out.write(mapped.sdp)
    })
}

/// User-initiated call, step 1: maps Meta's offer (DTLS+ICE, or SDES) to an offer for the PBX (SDES or plain RTP,
/// per `cfg->pbx_media`) at our `pbx_side` address. `*out_sdp` receives the SDP (CRLF line endings; it holds
/// keys: never log it); free it with `wacall_string_free`. `cfg` may be NULL (defaults).
///
/// # Safety
/// `meta_offer` NUL-terminated (or NULL); `alloc` valid (or NULL) with NUL-terminated strings; `cfg` NULL or valid;
/// `out_sdp` writable for one pointer (or NULL).
#[no_mangle]
pub unsafe extern "C" fn wacall_sdp_meta_offer_to_pbx(
    meta_offer: *const c_char,
    alloc: *const wacall_media_allocation,
    cfg: *const wacall_map_config,
    out_sdp: *mut *mut c_char,
) -> wacall_result {
    // SAFETY: pointers per the function's contract.
    unsafe {
        map_export(
            "wacall_sdp_meta_offer_to_pbx",
            alloc,
            cfg,
            out_sdp,
            |a, c| {
                let offer = str_arg(meta_offer, "meta_offer", WACALL_MAX_SDP)?;
                Ok(sdp::meta_offer_to_pbx(offer, a, c)?)
            },
        )
    }
}

/// User-initiated call, step 2: maps the PBX's answer to the answer for Meta (for DTLS: `a=setup:active`, our
/// fingerprint, ICE credentials and candidates, rtcp-mux, Meta's BUNDLE group and mid). `meta_offer` is Meta's
/// offer and `pbx_offer` the SDP step 1 produced (our keys are read back from it). `*out_sdp` as in step 1.
///
/// # Safety
/// As for `wacall_sdp_meta_offer_to_pbx`; `pbx_offer` and `pbx_answer` NUL-terminated (or NULL).
#[no_mangle]
pub unsafe extern "C" fn wacall_sdp_pbx_answer_to_meta(
    meta_offer: *const c_char,
    pbx_offer: *const c_char,
    pbx_answer: *const c_char,
    alloc: *const wacall_media_allocation,
    cfg: *const wacall_map_config,
    out_sdp: *mut *mut c_char,
) -> wacall_result {
    // SAFETY: pointers per the function's contract.
    unsafe {
        map_export(
            "wacall_sdp_pbx_answer_to_meta",
            alloc,
            cfg,
            out_sdp,
            |a, c| {
                let meta_offer = str_arg(meta_offer, "meta_offer", WACALL_MAX_SDP)?;
                let pbx_offer = str_arg(pbx_offer, "pbx_offer", WACALL_MAX_SDP)?;
                let pbx_answer = str_arg(pbx_answer, "pbx_answer", WACALL_MAX_SDP)?;
                Ok(sdp::pbx_answer_to_meta(
                    meta_offer, pbx_offer, pbx_answer, a, c,
                )?)
            },
        )
    }
}

/// Business-initiated call, step 1: maps the PBX's offer (SDES or plain RTP) to an offer for Meta per
/// `cfg->meta_media` (DTLS+ICE with `a=setup:actpass`, or SDES). `*out_sdp` as above.
///
/// # Safety
/// As for `wacall_sdp_meta_offer_to_pbx`.
#[no_mangle]
pub unsafe extern "C" fn wacall_sdp_pbx_offer_to_meta(
    pbx_offer: *const c_char,
    alloc: *const wacall_media_allocation,
    cfg: *const wacall_map_config,
    out_sdp: *mut *mut c_char,
) -> wacall_result {
    // SAFETY: pointers per the function's contract.
    unsafe {
        map_export(
            "wacall_sdp_pbx_offer_to_meta",
            alloc,
            cfg,
            out_sdp,
            |a, c| {
                let offer = str_arg(pbx_offer, "pbx_offer", WACALL_MAX_SDP)?;
                Ok(sdp::pbx_offer_to_meta(offer, a, c)?)
            },
        )
    }
}

/// Business-initiated call, step 2: maps Meta's answer to the answer for the PBX (the proto the PBX offered, fresh
/// SDES keys, the PBX's payload types). `pbx_offer` is the PBX's offer, `meta_offer` the SDP step 1 produced.
/// `*out_sdp` as above.
///
/// # Safety
/// As for `wacall_sdp_pbx_answer_to_meta`.
#[no_mangle]
pub unsafe extern "C" fn wacall_sdp_meta_answer_to_pbx(
    pbx_offer: *const c_char,
    meta_offer: *const c_char,
    meta_answer: *const c_char,
    alloc: *const wacall_media_allocation,
    cfg: *const wacall_map_config,
    out_sdp: *mut *mut c_char,
) -> wacall_result {
    // SAFETY: pointers per the function's contract.
    unsafe {
        map_export(
            "wacall_sdp_meta_answer_to_pbx",
            alloc,
            cfg,
            out_sdp,
            |a, c| {
                let pbx_offer = str_arg(pbx_offer, "pbx_offer", WACALL_MAX_SDP)?;
                let meta_offer = str_arg(meta_offer, "meta_offer", WACALL_MAX_SDP)?;
                let meta_answer = str_arg(meta_answer, "meta_answer", WACALL_MAX_SDP)?;
                Ok(sdp::meta_answer_to_pbx(
                    pbx_offer,
                    meta_offer,
                    meta_answer,
                    a,
                    c,
                )?)
            },
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sdp_limit_matches_the_parser() {
        assert_eq!(super::WACALL_MAX_SDP, crate::sdp::MAX_SDP_LEN);
    }
}
