//! The one place where mod_wacall calls the wacall core (SIP URIs, digest, SDP mapping) for Meta's rules.
//! Everything FreeSWITCH-specific stays outside; everything Meta-specific comes from the core.

use wacall::sip::{self, NumberPolicy};

use crate::config::{Config, SrtpMode};

/// The called party of a call from Meta: `INVITE sip:+<E164>;tgrp=...;trunk-context=...@host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Called {
    pub number: String,
    /// RFC 4904 user parameters in order, e.g. `tgrp`, `trunk-context`.
    pub params: Vec<(String, String)>,
}

/// How dialled numbers are read, from the configuration.
pub fn number_policy(cfg: &Config) -> NumberPolicy {
    let mut p = NumberPolicy::default();
    p.meta_domain = cfg.meta_host.clone();
    p.default_country_code = cfg.default_country_code.clone();
    p.national_prefix = cfg.national_prefix.clone();
    if let Some(prefix) = &cfg.international_prefix {
        p.international_prefixes = vec![prefix.clone()];
    }
    p
}

/// Meta's R-URI for a business-initiated call to `number`.
pub fn meta_ruri(number: &str, cfg: &Config) -> Result<String, String> {
    sip::meta_request_uri(number, &number_policy(cfg)).map_err(|e| e.to_string())
}

/// A dialled number in E.164 with `+`, read with the configured policy.
pub fn to_e164(number: &str, cfg: &Config) -> Result<String, String> {
    sip::normalize_e164(number, &number_policy(cfg))
        .map(|n| n.as_str().to_string())
        .map_err(|e| e.to_string())
}

/// The called number and user parameters of a call from Meta. `user` is the R-URI's user part as sofia gives it
/// (`sip_req_user`, user parameters included), `host` its host (`sip_req_host`).
pub fn parse_called(user: &str, host: &str) -> Result<Called, String> {
    let host = if host.is_empty() { "invalid" } else { host };
    let t = sip::parse_inbound_request_uri(&format!("sip:{}@{host}", user.trim()))
        .map_err(|e| e.to_string())?;
    // Meta always calls +E.164; anything else did not come from Meta's interface.
    let mut plus_only = NumberPolicy::default();
    plus_only.international_prefixes.clear();
    let number = sip::normalize_e164(&t.number, &plus_only).map_err(|e| e.to_string())?;
    if !t.number.starts_with('+') {
        return Err(format!("called user {:?} is not +E.164", t.number));
    }
    let params = t
        .params
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    Ok(Called {
        number: number.as_str().to_string(),
        params,
    })
}

/// The `Proxy-Authorization` value answering `challenge` (one or more `Digest` challenges: the strongest wins).
pub fn digest(
    challenge: &str,
    number: &str,
    password: &str,
    method: &str,
    uri: &str,
) -> Result<String, String> {
    wacall::digest::meta_authorization(&[challenge], number, password, method, uri)
        .map_err(|e| e.to_string())
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
        assert_eq!(
            meta_ruri("0015551234567", &c).unwrap(),
            "sip:+15551234567@wa.meta.vc;transport=tls"
        );
        c.international_prefix = Some("011".into());
        assert_eq!(
            meta_ruri("01115551234567", &c).unwrap(),
            "sip:+15551234567@wa.meta.vc;transport=tls"
        );
        c.default_country_code = Some("44".into());
        c.national_prefix = Some("0".into());
        assert_eq!(
            meta_ruri("020 7946 0000", &c).unwrap(),
            "sip:+442079460000@wa.meta.vc;transport=tls"
        );
        assert!(meta_ruri("12ab", &c).is_err());
        c.meta_host = "157.240.1.1".into();
        assert!(meta_ruri("+15551234567", &c).is_err());
    }

    #[test]
    fn digest_answers_the_strongest_challenge() {
        let ch = r#"Digest realm="wa.meta.vc", nonce="abc", algorithm=SHA-256, qop="auth", Digest realm="wa.meta.vc", nonce="abc", algorithm=MD5, qop="auth""#;
        let ruri = "sip:+15551234567@wa.meta.vc;transport=tls";
        let a = digest(ch, "+15550001111", "pw", "INVITE", ruri).unwrap();
        assert!(a.starts_with("Digest "), "{a}");
        assert!(a.contains(r#"username="15550001111""#), "{a}");
        assert!(a.contains(&format!(r#"uri="{ruri}""#)), "{a}");
        assert!(a.contains("algorithm=SHA-256"), "{a}");
        assert!(!a.contains("pw\""), "{a}");
        assert!(digest("Basic realm=x", "+15550001111", "pw", "INVITE", ruri).is_err());
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
            "+15551234567;tgrp=wa-trunk;trunk-context=example.com",
            "pbx.example.com",
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
        let c = parse_called("+15551234567;tgrp=a%20b", "").unwrap();
        assert_eq!(c.params, vec![("tgrp".into(), "a b".into())]);
        assert!(parse_called("alice", "example.com").is_err());
        assert!(parse_called("15551234567", "example.com").is_err());
        assert!(parse_called("", "").is_err());
        assert!(
            parse_called("+15551234567;tgrp=%", "h").is_err()
                || parse_called("+15551234567;tgrp=%", "h").is_ok()
        );
    }
}
