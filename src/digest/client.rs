//! Answering a digest challenge (RFC 2617, 7616, 8760): response computation, cnonce from the system CSPRNG,
//! nonce-count, qop auth/auth-int, -sess variants, userhash; plus the one-call helper for Meta's 407.

use std::fmt;

use super::authorization::Authorization;
use super::challenge::{choose_best, parse_challenge_headers, Algorithm, Challenge, Qop};
use super::hash::h;
use super::{Error, Result};

/// Username and password. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The username (for Meta: the business number's digits, without `+`).
    pub username: String,
    /// The password (for Meta: `sip_user_password` from the phone number's settings).
    pub password: String,
}

impl Credentials {
    /// Credentials from a username and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The request being authorized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestRequest<'a> {
    /// The SIP method (`INVITE`, `BYE`, ...); for an ACK/CANCEL use the INVITE's.
    pub method: &'a str,
    /// The digest `uri`: the request-URI exactly as sent (for Meta including `;transport=tls`).
    pub uri: &'a str,
    /// The body (hashed only for qop=auth-int).
    pub body: &'a [u8],
    /// The nonce-count: 1 for the first use of a nonce, then 2, 3, ...
    pub nonce_count: u32,
    /// A fixed cnonce (tests, replays of known vectors); `None` draws 16 bytes from the system CSPRNG.
    pub cnonce: Option<&'a str>,
}

impl<'a> DigestRequest<'a> {
    /// A request with empty body, nonce-count 1 and a random cnonce.
    pub fn new(method: &'a str, uri: &'a str) -> DigestRequest<'a> {
        DigestRequest {
            method,
            uri,
            body: b"",
            nonce_count: 1,
            cnonce: None,
        }
    }
}

/// The inputs of a digest response; shared by client and server so both compute the same thing.
pub(crate) struct ResponseInput<'a> {
    pub algorithm: Algorithm,
    pub qop: Option<Qop>,
    pub username: &'a str,
    pub realm: &'a str,
    pub password: &'a str,
    pub nonce: &'a str,
    pub cnonce: &'a str,
    pub nc: u32,
    pub method: &'a str,
    pub uri: &'a str,
    pub body: &'a [u8],
}

/// The `response` value as lowercase hex.
pub(crate) fn compute_response(i: &ResponseInput<'_>) -> String {
    let alg = i.algorithm;
    let mut ha1 = h(
        alg,
        &[
            i.username.as_bytes(),
            b":",
            i.realm.as_bytes(),
            b":",
            i.password.as_bytes(),
        ],
    );
    if alg.is_sess() {
        ha1 = h(
            alg,
            &[
                ha1.as_bytes(),
                b":",
                i.nonce.as_bytes(),
                b":",
                i.cnonce.as_bytes(),
            ],
        );
    }
    let ha2 = match i.qop {
        Some(Qop::AuthInt) => {
            let hb = h(alg, &[i.body]);
            h(
                alg,
                &[
                    i.method.as_bytes(),
                    b":",
                    i.uri.as_bytes(),
                    b":",
                    hb.as_bytes(),
                ],
            )
        }
        _ => h(alg, &[i.method.as_bytes(), b":", i.uri.as_bytes()]),
    };
    let r = match i.qop {
        Some(q) => {
            let mut nc = [0u8; 8];
            for (k, d) in nc.iter_mut().enumerate() {
                *d = b"0123456789abcdef"[((i.nc >> (28 - 4 * k)) & 15) as usize];
            }
            h(
                alg,
                &[
                    ha1.as_bytes(),
                    b":",
                    i.nonce.as_bytes(),
                    b":",
                    &nc,
                    b":",
                    i.cnonce.as_bytes(),
                    b":",
                    q.as_str().as_bytes(),
                    b":",
                    ha2.as_bytes(),
                ],
            )
        }
        None => h(
            alg,
            &[
                ha1.as_bytes(),
                b":",
                i.nonce.as_bytes(),
                b":",
                ha2.as_bytes(),
            ],
        ),
    };
    r.as_str().to_owned()
}

/// 16 bytes from the system CSPRNG as 32 hex digits.
pub fn random_cnonce() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Error::Random(e.to_string()))?;
    let mut s = String::with_capacity(32);
    for x in b {
        s.push(char::from(b"0123456789abcdef"[usize::from(x >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(x & 15)]));
    }
    Ok(s)
}

/// Answer one Digest challenge.
///
/// qop: `auth` when offered, else `auth-int`, else none (RFC 2069 style, no cnonce/nc). `algorithm` is echoed only
/// when the challenge named one. With `userhash=true` the username sent is H(username:realm).
pub fn respond(
    ch: &Challenge,
    creds: &Credentials,
    req: &DigestRequest<'_>,
) -> Result<Authorization> {
    if !ch.is_digest() {
        return Err(Error::NoSupportedChallenge);
    }
    let algorithm = ch
        .algorithm()
        .ok_or_else(|| Error::UnsupportedAlgorithm(ch.algorithm_raw().unwrap_or("").into()))?;
    let realm = ch.realm().ok_or(Error::MissingParam("realm"))?;
    let nonce = ch.nonce().ok_or(Error::MissingParam("nonce"))?;
    let qops = ch.qop_options();
    let qop = if qops.contains(&Qop::Auth) {
        Some(Qop::Auth)
    } else if qops.contains(&Qop::AuthInt) {
        Some(Qop::AuthInt)
    } else if ch.has_qop() {
        return Err(Error::UnsupportedQop(ch.get("qop").unwrap_or("").into()));
    } else {
        None
    };
    // RFC 7616: cnonce is needed with qop and for -sess even without it.
    let cnonce = if qop.is_some() || algorithm.is_sess() {
        Some(match req.cnonce {
            Some(c) => c.to_owned(),
            None => random_cnonce()?,
        })
    } else {
        None
    };
    if req.nonce_count == 0 {
        return Err(Error::Invalid("nonce-count starts at 1".into()));
    }
    let response = compute_response(&ResponseInput {
        algorithm,
        qop,
        username: &creds.username,
        realm,
        password: &creds.password,
        nonce,
        cnonce: cnonce.as_deref().unwrap_or(""),
        nc: req.nonce_count,
        method: req.method,
        uri: req.uri,
        body: req.body,
    });
    let userhash = ch.userhash();
    let username = if userhash {
        h(
            algorithm,
            &[creds.username.as_bytes(), b":", realm.as_bytes()],
        )
        .as_str()
        .to_owned()
    } else {
        creds.username.clone()
    };
    Ok(Authorization {
        username,
        realm: realm.to_owned(),
        nonce: nonce.to_owned(),
        uri: req.uri.to_owned(),
        response,
        algorithm: ch.algorithm_raw().map(|_| algorithm),
        cnonce,
        opaque: ch.opaque().map(str::to_owned),
        nc: qop.map(|_| req.nonce_count),
        qop,
        userhash,
    })
}

/// Answer Meta's 407 in one call: parse every `Proxy-Authenticate` value, pick the strongest challenge (Meta sends
/// SHA-256 then MD5), and return the `Proxy-Authorization` value, with username = the business number without `+`,
/// `uri` = `request_uri` as sent, nc=00000001 and a fresh random cnonce.
pub fn meta_authorization(
    challenge_header_values: &[&str],
    number: &str,
    password: &str,
    method: &str,
    request_uri: &str,
) -> Result<String> {
    let cs = parse_challenge_headers(challenge_header_values)?;
    let ch = choose_best(&cs).ok_or(Error::NoSupportedChallenge)?;
    let username = crate::sip::meta_digest_username(number)
        .map_err(|e| Error::InvalidNumber(e.to_string()))?;
    let creds = Credentials {
        username,
        password: password.to_owned(),
    };
    log::debug!(
        "answering {} digest challenge for realm {:?}",
        ch.algorithm_raw().unwrap_or("MD5"),
        ch.realm()
    );
    Ok(respond(ch, &creds, &DigestRequest::new(method, request_uri))?.to_header_value())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc7616(alg: &str) -> Challenge {
        Challenge::parse(&format!(
            r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={alg}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
        ))
        .unwrap()
    }

    #[test]
    fn rfc7616_vectors() {
        let creds = Credentials::new("Mufasa", "Circle of Life");
        let req = DigestRequest {
            method: "GET",
            uri: "/dir/index.html",
            body: b"",
            nonce_count: 1,
            cnonce: Some("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"),
        };
        let a = respond(&rfc7616("MD5"), &creds, &req).unwrap();
        assert_eq!(a.response, "8ca523f5e9506fed4657c9700eebdbec");
        let a = respond(&rfc7616("SHA-256"), &creds, &req).unwrap();
        assert_eq!(
            a.response,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        assert_eq!(
            a.to_string(),
            r#"Digest username="Mufasa", realm="http-auth@example.org", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", uri="/dir/index.html", response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", algorithm=SHA-256, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", qop=auth, nc=00000001"#
        );
    }

    #[test]
    fn rfc7616_userhash() {
        // RFC 7616 3.9.2 (with the errata's realm api@example.org): userhash of "J\u{e4}s\u{f8}n Doe".
        let ch = Challenge::parse(r#"Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true"#).unwrap();
        let creds = Credentials::new("J\u{e4}s\u{f8}n Doe", "Secret, or not?");
        let req = DigestRequest {
            method: "GET",
            uri: "/doe.json",
            body: b"",
            nonce_count: 1,
            cnonce: Some("NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v"),
        };
        let a = respond(&ch, &creds, &req).unwrap();
        assert_eq!(
            a.username,
            "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
        );
        assert!(a.userhash);
        // Cross-checked with Python's hashlib (OpenSSL); the response printed in RFC 7616 3.9.2 does not reproduce.
        assert_eq!(
            a.response,
            "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"
        );
    }

    #[test]
    fn sess_auth_int_cross_checked() {
        // Expected values computed independently with Python's hashlib (RFC 2617/7616 formulas).
        for (alg, want) in [
            ("MD5-sess", "319276f8f1c2bb42dacff47ed8bb622f"),
            (
                "SHA-256-sess",
                "b2fce6f48d6913d8b2b1cd40de6076da99826aa47a1a959c071e66020744bf51",
            ),
            (
                "SHA-512-256-sess",
                "95858407149a914a4695a4679e58694c4277631b499e61c4d323dbec756289b0",
            ),
        ] {
            let ch = Challenge::parse(&format!(
                r#"Digest realm="wa.meta.vc", nonce="abc", algorithm={alg}, qop="auth-int""#
            ))
            .unwrap();
            let req = DigestRequest {
                method: "INVITE",
                uri: "sip:+1@wa.meta.vc;transport=tls",
                body: b"v=0\r\n",
                nonce_count: 2,
                cnonce: Some("xyz"),
            };
            let a = respond(&ch, &Credentials::new("15551234567", "pw"), &req).unwrap();
            assert_eq!(a.response, want, "{alg}");
            assert_eq!(a.qop, Some(Qop::AuthInt));
            assert!(a.to_string().ends_with("qop=auth-int, nc=00000002"));
        }
    }

    #[test]
    fn credentials_debug_redacts() {
        let c = Credentials::new("u", "topsecret");
        assert!(!format!("{c:?}").contains("topsecret"));
    }

    #[test]
    fn random_cnonces_differ() {
        let a = random_cnonce().unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, random_cnonce().unwrap());
    }
}
