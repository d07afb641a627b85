//! Meta's SIP rules as the module applies them: E.164 numbers, the R-URI of a call to Meta, the user part of a call
//! from Meta, and the digest answer to Meta's 407. Interim home until the core's `wacall::sip`/`wacall::digest` land.

use std::fmt;

use md5::Md5;
use sha2::{Digest as _, Sha256, Sha512_256};

/// Errors of Meta's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetaError {
    NotE164(String),
    IpHost(String),
    BadUri(String),
    NoChallenge,
    UnsupportedChallenge(String),
}

impl fmt::Display for MetaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaError::NotE164(s) => write!(f, "`{s}` is not an E.164 number"),
            MetaError::IpHost(s) => {
                write!(f, "`{s}` is an IP address: Meta answers 404 to an IP host")
            }
            MetaError::BadUri(s) => write!(f, "cannot read URI: {s}"),
            MetaError::NoChallenge => write!(f, "no Digest challenge in the 401/407"),
            MetaError::UnsupportedChallenge(s) => {
                write!(f, "no supported Digest algorithm among: {s}")
            }
        }
    }
}

impl std::error::Error for MetaError {}

/// Normalizes a number in any common form to `+<digits>` (8 to 15 digits, not starting with 0).
pub fn normalize_e164(input: &str) -> Result<String, MetaError> {
    let bad = || MetaError::NotE164(input.chars().take(64).collect());
    let s = input.trim();
    let (had_plus, rest) = match s.strip_prefix('+') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let mut digits = String::with_capacity(16);
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(bad()),
        }
    }
    // International access prefix 00 (ITU) in place of '+'.
    if !had_plus && digits.starts_with("00") {
        digits.drain(..2);
    }
    if digits.len() < 8 || digits.len() > 15 || digits.starts_with('0') {
        return Err(bad());
    }
    Ok(format!("+{digits}"))
}

/// `sip:+E164@<meta_domain>;transport=tls`, refusing an IP address as Meta's host.
pub fn to_meta_ruri(number: &str, meta_domain: &str) -> Result<String, MetaError> {
    let n = normalize_e164(number)?;
    let host = meta_domain.trim();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Err(MetaError::IpHost(host.to_string()));
    }
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(MetaError::BadUri(format!("bad Meta domain `{host}`")));
    }
    Ok(format!("sip:{n}@{host};transport=tls"))
}

/// The user part of a SIP URI (`sip:user;p=v@host;...`), without scheme and host. None when there is no user.
pub fn uri_user(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .or_else(|| uri.strip_prefix("tel:"))?;
    match rest.rfind('@') {
        Some(at) => Some(&rest[..at]),
        None if uri.starts_with("tel:") => Some(rest.split(';').next().unwrap_or(rest)),
        None => None,
    }
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
pub fn parse_from_meta_ruri(ruri: &str) -> Result<FromMeta, MetaError> {
    let user = uri_user(ruri).ok_or_else(|| MetaError::BadUri("no user part".into()))?;
    let mut parts = user.split(';');
    let number = normalize_e164(&percent_decode(parts.next().unwrap_or_default()))?;
    let user_params = parts
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    Ok(FromMeta {
        number,
        user_params,
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (
                (b[i + 1] as char).to_digit(16),
                (b[i + 2] as char).to_digit(16),
            ) {
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

/// One `Digest` challenge of a 401/407.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
    pub fn algorithm(&self) -> &str {
        self.get("algorithm").unwrap_or("MD5")
    }
}

/// Parses one Proxy-Authenticate/WWW-Authenticate header value, which may hold several challenges.
pub fn parse_challenges(value: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut cur: Option<Challenge> = None;
    let b = value.as_bytes();
    let mut i = 0;
    let skip = |i: &mut usize| {
        while *i < b.len()
            && (b[*i] == b' '
                || b[*i] == b'\t'
                || b[*i] == b','
                || b[*i] == b'\r'
                || b[*i] == b'\n')
        {
            *i += 1;
        }
    };
    loop {
        skip(&mut i);
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && !matches!(b[i], b'=' | b' ' | b'\t' | b',') {
            i += 1;
        }
        let token = &value[start..i];
        let mut j = i;
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        if j < b.len() && b[j] == b'=' {
            // key=value or key="quoted"
            i = j + 1;
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            let mut val = String::new();
            if i < b.len() && b[i] == b'"' {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    let ch_len = utf8_len(b[i]);
                    val.push_str(value.get(i..i + ch_len).unwrap_or(""));
                    i += ch_len;
                }
                i += 1;
            } else {
                let vs = i;
                while i < b.len() && !matches!(b[i], b',' | b' ' | b'\t') {
                    i += 1;
                }
                val.push_str(&value[vs..i]);
            }
            if let Some(c) = cur.as_mut() {
                c.params.push((token.to_string(), val));
            }
        } else {
            // A scheme token starts a new challenge; only Digest ones are kept.
            if let Some(c) = cur.take() {
                out.push(c);
            }
            if token.eq_ignore_ascii_case("Digest") {
                cur = Some(Challenge { params: Vec::new() });
            }
            i = i.max(start + 1);
        }
    }
    if let Some(c) = cur {
        out.push(c);
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    Md5,
    Sha256,
    Sha512_256,
}

fn alg_of(name: &str) -> Option<(Alg, bool)> {
    let up = name.to_ascii_uppercase();
    let (base, sess) = match up.strip_suffix("-SESS") {
        Some(b) => (b.to_string(), true),
        None => (up, false),
    };
    let a = match base.as_str() {
        "MD5" => Alg::Md5,
        "SHA-256" => Alg::Sha256,
        "SHA-512-256" => Alg::Sha512_256,
        _ => return None,
    };
    Some((a, sess))
}

fn strength(a: Alg) -> u8 {
    match a {
        Alg::Md5 => 1,
        Alg::Sha256 => 2,
        Alg::Sha512_256 => 3,
    }
}

fn h(a: Alg, data: &str) -> String {
    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
    match a {
        Alg::Md5 => hex(&Md5::digest(data.as_bytes())),
        Alg::Sha256 => hex(&Sha256::digest(data.as_bytes())),
        Alg::Sha512_256 => hex(&Sha512_256::digest(data.as_bytes())),
    }
}

/// Picks the strongest supported challenge (Meta sends SHA-256 first, then MD5).
pub fn choose(challenges: &[Challenge]) -> Result<&Challenge, MetaError> {
    if challenges.is_empty() {
        return Err(MetaError::NoChallenge);
    }
    challenges
        .iter()
        .filter_map(|c| alg_of(c.algorithm()).map(|(a, _)| (strength(a), c)))
        .max_by_key(|(s, _)| *s)
        .map(|(_, c)| c)
        .ok_or_else(|| {
            MetaError::UnsupportedChallenge(
                challenges
                    .iter()
                    .map(|c| c.algorithm())
                    .collect::<Vec<_>>()
                    .join(","),
            )
        })
}

/// Inputs of a digest answer.
pub struct DigestInput<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    pub cnonce: &'a str,
    pub nc: u32,
}

/// Builds the `Proxy-Authorization`/`Authorization` header value (`Digest ...`) for a challenge.
pub fn authorization(ch: &Challenge, inp: &DigestInput<'_>) -> Result<String, MetaError> {
    let (alg, sess) = alg_of(ch.algorithm())
        .ok_or_else(|| MetaError::UnsupportedChallenge(ch.algorithm().into()))?;
    let realm = ch.get("realm").unwrap_or_default();
    let nonce = ch.get("nonce").unwrap_or_default();
    // qop: prefer auth; auth-int would need the body and Meta does not ask for it.
    let qop = ch.get("qop").and_then(|q| {
        q.split(',')
            .map(str::trim)
            .find(|q| q.eq_ignore_ascii_case("auth"))
    });
    let nc = format!("{:08x}", inp.nc);
    let mut ha1 = h(alg, &format!("{}:{}:{}", inp.username, realm, inp.password));
    if sess {
        ha1 = h(alg, &format!("{ha1}:{nonce}:{}", inp.cnonce));
    }
    let ha2 = h(alg, &format!("{}:{}", inp.method, inp.uri));
    let response = match qop {
        Some(q) => h(alg, &format!("{ha1}:{nonce}:{nc}:{}:{q}:{ha2}", inp.cnonce)),
        None => h(alg, &format!("{ha1}:{nonce}:{ha2}")),
    };
    let mut s = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\", algorithm={}",
        inp.username,
        realm,
        nonce,
        inp.uri,
        response,
        ch.algorithm()
    );
    if let Some(o) = ch.get("opaque") {
        s.push_str(&format!(", opaque=\"{o}\""));
    }
    if let Some(q) = qop {
        s.push_str(&format!(", qop={q}, nc={nc}, cnonce=\"{}\"", inp.cnonce));
    }
    Ok(s)
}

/// A fresh client nonce from the OS CSPRNG.
pub fn new_cnonce() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // Never happens on Linux; a time-based fallback keeps the call going rather than failing it.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b.copy_from_slice(&t.to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164() {
        assert_eq!(normalize_e164("+1 555-123-4567").unwrap(), "+15551234567");
        assert_eq!(normalize_e164("0015551234567").unwrap(), "+15551234567");
        assert_eq!(normalize_e164("15551234567").unwrap(), "+15551234567");
        assert!(normalize_e164("+0123456789").is_err());
        assert!(normalize_e164("12345").is_err());
        assert!(normalize_e164("+1555abc4567").is_err());
        assert!(normalize_e164("+1234567890123456").is_err());
    }

    #[test]
    fn ruri() {
        assert_eq!(
            to_meta_ruri("+12195550714", "wa.meta.vc").unwrap(),
            "sip:+12195550714@wa.meta.vc;transport=tls"
        );
        assert!(to_meta_ruri("+12195550714", "1.2.3.4").is_err());
        assert!(to_meta_ruri("+12195550714", "[::1]").is_err());
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
    fn challenges_sha256_first() {
        let v = r#"Digest realm="wa.meta.vc",nonce="abc",opaque="o1",algorithm=SHA-256,qop="auth", Digest realm="wa.meta.vc",nonce="abc",opaque="o1",algorithm=MD5,qop="auth""#;
        let cs = parse_challenges(v);
        assert_eq!(cs.len(), 2);
        assert_eq!(choose(&cs).unwrap().algorithm(), "SHA-256");
        let md5_only = parse_challenges(r#"Digest realm="x", nonce="n""#);
        assert_eq!(choose(&md5_only).unwrap().algorithm(), "MD5");
        assert!(choose(&parse_challenges("Basic realm=\"x\"")).is_err());
        assert!(choose(&parse_challenges(r#"Digest realm="x", algorithm=FOO"#)).is_err());
    }

    #[test]
    fn rfc7616_sha256_example() {
        // RFC 7616 section 3.9.1 (WWW-Authenticate, GET /dir/index.html).
        let ch = parse_challenges(
            r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
        );
        let c = choose(&ch).unwrap();
        let a = authorization(
            c,
            &DigestInput {
                method: "GET",
                uri: "/dir/index.html",
                username: "Mufasa",
                password: "Circle of Life",
                cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
                nc: 1,
            },
        )
        .unwrap();
        assert!(
            a.contains(
                "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""
            ),
            "{a}"
        );
    }

    #[test]
    fn rfc2617_md5_example() {
        let ch = parse_challenges(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        );
        let a = authorization(
            &ch[0],
            &DigestInput {
                method: "GET",
                uri: "/dir/index.html",
                username: "Mufasa",
                password: "Circle Of Life",
                cnonce: "0a4f113b",
                nc: 1,
            },
        )
        .unwrap();
        assert!(
            a.contains("response=\"6629fae49393a05397450978507c4ef1\""),
            "{a}"
        );
    }
}
