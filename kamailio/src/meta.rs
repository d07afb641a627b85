//! Meta's SIP rules as the module applies them, through the core (`wacall::sip`, `wacall::digest`): E.164 numbers,
//! the R-URI of a call to Meta, the user part of a call from Meta, and the `Proxy-Authorization` for Meta's 407.

use wacall::sip::{self, NumberPolicy};

/// Normalizes a number (`+1 555-123-4567`, `0015551234567`, `sip:+1...@host`) to `+<digits>`.
pub fn normalize_e164(input: &str) -> Result<String, wacall::Error> {
    Ok(sip::normalize_e164(input, &NumberPolicy::default())?
        .as_str()
        .to_owned())
}

/// `sip:+E164@<meta_domain>;transport=tls`; refuses an IP address as Meta's host.
pub fn to_meta_ruri(number: &str, meta_domain: &str) -> Result<String, wacall::Error> {
    Ok(sip::meta_request_uri(
        number,
        &NumberPolicy::default().with_meta_domain(meta_domain),
    )?)
}

/// The business number of a From/To/R-URI, if it is an E.164 number.
pub fn uri_number(uri: &str) -> Option<String> {
    normalize_e164(uri).ok()
}

/// What a call from Meta says about itself in its R-URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromMeta {
    /// The called business number, `+E164`.
    pub number: String,
    /// RFC 4904 user parameters (tgrp, trunk-context, others), in order.
    pub user_params: Vec<(String, String)>,
}

impl FromMeta {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.user_params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads `sip:+1234567890;tgrp=wacall;trunk-context=byoc.example.com@sip.example.com`.
pub fn parse_from_meta_ruri(ruri: &str) -> Result<FromMeta, wacall::Error> {
    let t = sip::params::parse_inbound_request_uri(ruri)?;
    let number = normalize_e164(&t.number)?;
    let user_params = t
        .params
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Ok(FromMeta {
        number,
        user_params,
    })
}

/// The `Proxy-Authorization` value answering Meta's challenges (strongest first: SHA-256 before MD5), with
/// username = number without `+`, `uri` = the R-URI exactly as sent.
pub fn authorization(
    challenges: &[&str],
    number: &str,
    password: &str,
    method: &str,
    ruri: &str,
) -> Result<String, wacall::Error> {
    Ok(wacall::digest::meta_authorization(
        challenges, number, password, method, ruri,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_and_ruri() {
        assert_eq!(normalize_e164("+1 555-123-4567").unwrap(), "+15551234567");
        assert_eq!(normalize_e164("0015551234567").unwrap(), "+15551234567");
        assert!(normalize_e164("alice").is_err());
        assert_eq!(
            to_meta_ruri("+12195550714", "wa.meta.vc").unwrap(),
            "sip:+12195550714@wa.meta.vc;transport=tls"
        );
        assert!(to_meta_ruri("+12195550714", "192.0.2.1").is_err());
        assert_eq!(
            uri_number("sip:+12195550714@wa.meta.vc"),
            Some("+12195550714".into())
        );
    }

    #[test]
    fn from_meta() {
        let f = parse_from_meta_ruri(
            "sip:+1234567890;tgrp=wacall;trunk-context=byoc.example.com@sip.example.com",
        )
        .unwrap();
        assert_eq!(f.number, "+1234567890");
        assert_eq!(f.param("tgrp"), Some("wacall"));
        assert_eq!(f.param("trunk-context"), Some("byoc.example.com"));
        assert!(parse_from_meta_ruri("sip:sip.example.com").is_err());
        assert!(parse_from_meta_ruri("garbage").is_err());
    }

    #[test]
    fn sha256_chosen_over_md5() {
        let a = authorization(
            &[
                r#"Digest realm="wa.meta.vc",nonce="n1",opaque="o1",algorithm=SHA-256,qop="auth""#,
                r#"Digest realm="wa.meta.vc",nonce="n1",opaque="o1",algorithm=MD5,qop="auth""#,
            ],
            "+12195550714",
            "pw",
            "INVITE",
            "sip:+14155550100@wa.meta.vc;transport=tls",
        )
        .unwrap();
        assert!(a.contains("algorithm=SHA-256"), "{a}");
        assert!(a.contains("username=\"12195550714\""), "{a}");
        assert!(
            a.contains("uri=\"sip:+14155550100@wa.meta.vc;transport=tls\""),
            "{a}"
        );
    }
}
