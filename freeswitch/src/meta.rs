//! The one place where mod_wacall calls the wacall core (SIP URIs, digest, SDP mapping) for Meta's rules.
//! Everything FreeSWITCH-specific stays outside; everything Meta-specific comes from the core.

use crate::config::{normalize_e164, Config, SrtpMode};

/// The called party of a call from Meta: `INVITE sip:+<E164>;tgrp=...;trunk-context=...@host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Called {
    pub number: String,
    /// RFC 4904 user parameters in order, e.g. `tgrp`, `trunk-context`.
    pub params: Vec<(String, String)>,
}

/// Meta's R-URI for a business-initiated call to `number`.
pub fn meta_ruri(number: &str, cfg: &Config) -> Result<String, String> {
    let host = cfg.meta_host.trim();
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return Err(format!(
            "meta-host {host} is an IP address; Meta answers 404 to that"
        ));
    }
    let e164 = to_e164(number, cfg)?;
    Ok(format!("sip:{e164}@{host};transport=tls"))
}

/// A dialled number in E.164 with `+`, honouring the configured international prefix.
pub fn to_e164(number: &str, cfg: &Config) -> Result<String, String> {
    let n = number.trim();
    let n = match &cfg.international_prefix {
        Some(p) if n.starts_with(p.as_str()) => format!("+{}", &n[p.len()..]),
        _ => n.to_string(),
    };
    normalize_e164(&n).ok_or_else(|| format!("{number:?} is not an E.164 number"))
}

/// The called number and user parameters from the user part (or the whole) of a request URI.
pub fn parse_called(ruri_or_user: &str) -> Result<Called, String> {
    let s = ruri_or_user.trim();
    let s = s
        .strip_prefix("sips:")
        .or_else(|| s.strip_prefix("sip:"))
        .unwrap_or(s);
    // The user part ends at the last '@' (the user part may not contain one unescaped).
    let user = s.rsplit_once('@').map_or(s, |(u, _)| u);
    let mut parts = user.split(';');
    let number = parts.next().unwrap_or_default();
    let number = normalize_e164(number)
        .ok_or_else(|| format!("called user {number:?} is not an E.164 number"))?;
    let params = parts
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), pct_decode(v)),
            None => (p.to_ascii_lowercase(), String::new()),
        })
        .collect();
    Ok(Called { number, params })
}

fn pct_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `Proxy-Authorization` value answering `challenge` (one or more `Digest` challenges).
pub fn digest(
    _challenge: &str,
    _number: &str,
    _password: &str,
    _method: &str,
    _uri: &str,
) -> Result<String, String> {
    Err("digest support comes from the wacall core (not merged in this build)".into())
}

/// Map an SDP for the other side: `meta-to-pbx` (Meta's offer -> the PBX's SDES or RTP offer) or `pbx-to-meta`
/// (the PBX's offer -> a DTLS+ICE or SDES offer for Meta, per the default SRTP mode).
///
/// A preview for operators: the media address is the relay's configured address and first port, the ICE
/// credentials are fresh, the DTLS fingerprint a placeholder. Calls use the relay's real allocation instead.
pub fn map_sdp(direction: &str, sdp: &str, cfg: &Config) -> Result<String, String> {
    use wacall::sdp::{self, MapConfig, MediaAllocation, MetaMedia, PbxMedia};
    let ip: std::net::IpAddr = cfg
        .relay_address
        .parse()
        .map_err(|_| "relay-address is not an IP address")?;
    let port = cfg.relay_ports.0;
    let (ufrag, pwd) = sdp::generate_ice_credentials().map_err(|e| e.to_string())?;
    let alloc = MediaAllocation::new(
        std::net::SocketAddr::new(ip, port),
        std::net::SocketAddr::new(ip, port.saturating_add(2)),
        ufrag,
        pwd,
        PREVIEW_FINGERPRINT,
    );
    let pbx_media = match cfg.pbx_media {
        crate::config::PbxMediaMode::Sdes => {
            PbxMedia::Sdes(vec![sdp::CryptoSuite::AesCm128HmacSha1_80])
        }
        crate::config::PbxMediaMode::Rtp => PbxMedia::Rtp,
    };
    let meta_media = match cfg.default_srtp {
        SrtpMode::Dtls => MetaMedia::Dtls,
        SrtpMode::Sdes => MetaMedia::Sdes,
    };
    let map_cfg = MapConfig::new(pbx_media, meta_media);
    let mapped = match direction {
        "meta-to-pbx" => sdp::meta_offer_to_pbx(sdp, &alloc, &map_cfg),
        "pbx-to-meta" => sdp::pbx_offer_to_meta(sdp, &alloc, &map_cfg),
        other => return Err(format!("unknown direction {other:?}")),
    };
    mapped.map(|m| m.sdp).map_err(|e| e.to_string())
}

/// Shown in `wacall_sdp` previews instead of a certificate's fingerprint (all bytes 0xAA: obviously not real).
const PREVIEW_FINGERPRINT: &str =
    "AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruri_from_common_forms() {
        let mut c = Config::default();
        assert_eq!(
            meta_ruri("+1 555-123-4567", &c).unwrap(),
            "sip:+15551234567@wa.meta.vc;transport=tls"
        );
        assert_eq!(
            meta_ruri("15551234567", &c).unwrap(),
            "sip:+15551234567@wa.meta.vc;transport=tls"
        );
        c.international_prefix = Some("00".into());
        assert_eq!(
            meta_ruri("0015551234567", &c).unwrap(),
            "sip:+15551234567@wa.meta.vc;transport=tls"
        );
        assert!(meta_ruri("12ab", &c).is_err());
        c.meta_host = "157.240.1.1".into();
        assert!(meta_ruri("+15551234567", &c).is_err());
    }

    const META_OFFER: &str = include_str!("../../tests/fixtures/sdp/meta_offer_dtls.sdp");

    #[test]
    fn sdp_preview_both_directions() {
        let cfg = Config::default();
        let pbx = map_sdp("meta-to-pbx", META_OFFER, &cfg).unwrap();
        assert!(pbx.contains("m=audio 43002 RTP/SAVP 111 126\r\n"), "{pbx}");
        assert!(
            pbx.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
            "{pbx}"
        );
        assert!(!pbx.contains("a=ice-"), "{pbx}");
        let meta = map_sdp("pbx-to-meta", &pbx, &cfg).unwrap();
        assert!(meta.contains("UDP/TLS/RTP/SAVPF"), "{meta}");
        assert!(meta.contains("a=setup:actpass"), "{meta}");
        assert!(map_sdp("meta-to-pbx", "v=0\r\n", &cfg).is_err());
        assert!(map_sdp("up", META_OFFER, &cfg).is_err());
    }

    #[test]
    fn called_party_from_meta_invite() {
        let c = parse_called(
            "sip:+15551234567;tgrp=wa-trunk;trunk-context=example.com@pbx.example.com",
        )
        .unwrap();
        assert_eq!(c.number, "+15551234567");
        assert_eq!(
            c.params,
            vec![
                ("tgrp".into(), "wa-trunk".into()),
                ("trunk-context".into(), "example.com".into())
            ]
        );
        let c = parse_called("+15551234567;tgrp=a%20b").unwrap();
        assert_eq!(c.params, vec![("tgrp".into(), "a b".into())]);
        assert!(parse_called("alice@example.com").is_err());
        assert!(parse_called("").is_err());
        assert!(parse_called("+15551234567;tgrp=%").is_ok());
    }
}
