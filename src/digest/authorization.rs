//! The `Authorization`/`Proxy-Authorization` digest value: built by the client, parsed by the server.
//! Printed in the field order strict servers (Meta's among them) expect, with algorithm, qop and nc unquoted.

use std::fmt;

use super::challenge::{parse_challenges, write_quoted, Algorithm, Qop};
use super::{Error, Result};

/// A digest `Authorization`/`Proxy-Authorization` value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Authorization {
    /// `username` (the hashed form when `userhash` is set).
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `uri`: for SIP, the request-URI exactly as sent.
    pub uri: String,
    /// `response`: lowercase hex.
    pub response: String,
    /// `algorithm`; `None` when the challenge named none (then it is not sent, as Meta and Twilio do).
    pub algorithm: Option<Algorithm>,
    /// `cnonce` (present with qop).
    pub cnonce: Option<String>,
    /// `opaque`, echoed from the challenge.
    pub opaque: Option<String>,
    /// `qop`.
    pub qop: Option<Qop>,
    /// `nc`, the nonce-count (printed as 8 hex digits).
    pub nc: Option<u32>,
    /// `userhash=true`.
    pub userhash: bool,
}

impl Authorization {
    /// The algorithm to compute with: the one named, or MD5.
    pub fn effective_algorithm(&self) -> Algorithm {
        self.algorithm.unwrap_or(Algorithm::Md5)
    }

    /// The header value (same as `to_string()`, built with one allocation).
    pub fn to_header_value(&self) -> String {
        use fmt::Write as _;
        let n = self.username.len()
            + self.realm.len()
            + self.nonce.len()
            + self.uri.len()
            + self.response.len()
            + self.cnonce.as_ref().map_or(0, String::len)
            + self.opaque.as_ref().map_or(0, String::len)
            + 160;
        let mut s = String::with_capacity(n);
        let _ = write!(s, "{self}");
        s
    }

    /// Parse a `Digest ...` credentials value (one scheme, `Digest`).
    pub fn parse(value: &str) -> Result<Authorization> {
        let mut cs = parse_challenges(value)?;
        if cs.len() != 1 || !cs[0].is_digest() {
            return Err(Error::Parse("expected one Digest credentials value".into()));
        }
        let c = cs.remove(0);
        let req = |n: &'static str| c.get(n).map(str::to_owned).ok_or(Error::MissingParam(n));
        let algorithm = match c.algorithm_raw() {
            None => None,
            Some(a) => Some(
                Algorithm::from_token(a.trim())
                    .ok_or_else(|| Error::UnsupportedAlgorithm(a.into()))?,
            ),
        };
        let qop = match c.get("qop") {
            None => None,
            Some(q) => {
                Some(Qop::from_token(q.trim()).ok_or_else(|| Error::UnsupportedQop(q.into()))?)
            }
        };
        let nc = match c.get("nc") {
            None => None,
            Some(n) => {
                let n = n.trim();
                if n.is_empty() || n.len() > 8 {
                    return Err(Error::Parse("nc must be 8 hex digits".into()));
                }
                Some(
                    u32::from_str_radix(n, 16)
                        .map_err(|_| Error::Parse("nc must be 8 hex digits".into()))?,
                )
            }
        };
        Ok(Authorization {
            username: req("username")?,
            realm: req("realm")?,
            nonce: req("nonce")?,
            uri: req("uri")?,
            response: req("response")?,
            algorithm,
            cnonce: c.get("cnonce").map(str::to_owned),
            opaque: c.get("opaque").map(str::to_owned),
            qop,
            nc,
            userhash: c.userhash(),
        })
    }
}

impl fmt::Display for Authorization {
    /// `Digest username="..", realm="..", nonce="..", uri="..", response="..", algorithm=SHA-256, cnonce="..",
    /// opaque="..", qop=auth, nc=00000001[, userhash=true]`; absent optional fields are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digest username=")?;
        write_quoted(f, &self.username)?;
        f.write_str(", realm=")?;
        write_quoted(f, &self.realm)?;
        f.write_str(", nonce=")?;
        write_quoted(f, &self.nonce)?;
        f.write_str(", uri=")?;
        write_quoted(f, &self.uri)?;
        f.write_str(", response=")?;
        write_quoted(f, &self.response)?;
        if let Some(a) = self.algorithm {
            write!(f, ", algorithm={a}")?;
        }
        if let Some(c) = &self.cnonce {
            f.write_str(", cnonce=")?;
            write_quoted(f, c)?;
        }
        if let Some(o) = &self.opaque {
            f.write_str(", opaque=")?;
            write_quoted(f, o)?;
        }
        if let Some(q) = self.qop {
            write!(f, ", qop={q}")?;
        }
        if let Some(n) = self.nc {
            write!(f, ", nc={n:08x}")?;
        }
        if self.userhash {
            f.write_str(", userhash=true")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_lines_round_trip() {
        for line in [
            r#"Digest username="17125550259", realm="wa.meta.vc", nonce="419ac2415577f8e1", uri="sip:+12195550714@wa.meta.vc;transport=tls", response="blah", algorithm=MD5, cnonce="/mVZtYFCEj65YQJCrBEAAg", opaque="440badfc05072367", qop=auth, nc=00000001"#,
            r#"Digest username="12145551869", realm="wa.meta.vc", nonce="2a487cb01d4ed43b", uri="sip:+12195550714@wa.meta.vc;transport=tls", response="3f58df7af575b948625aeffd51bf9060", algorithm=MD5, cnonce="b338deb7f0e004e66353e26d34ad62b7", opaque="725a06fb2cd89a32", qop=auth, nc=00000002"#,
            r#"Digest username="12145551869", realm="sip.twilio.com", nonce="eyOam_8-l5FVugxsyxFRjnlxq9vy1TjQIMB3mBfJuAvB5gV4", uri="sip:+12145551869@meta-voip.example.com", response="b28ed6b8bf1418e3c6eca05ef8c7a0b1", cnonce="TY2SszvYCKitUCBlVLpGiPKMQfmBbj", opaque="4a6a068be2ca2032a57912b9a2a6adf7", qop=auth, nc=00000001"#,
        ] {
            let a = Authorization::parse(line).unwrap();
            assert_eq!(a.to_string(), line);
        }
    }

    #[test]
    fn rejects() {
        assert!(matches!(
            Authorization::parse(r#"Digest realm="r""#),
            Err(Error::MissingParam("username"))
        ));
        assert!(Authorization::parse(r#"Basic abc"#).is_err());
        let base = r#"Digest username="u", realm="r", nonce="n", uri="sip:a@b", response="x""#;
        assert!(Authorization::parse(&format!("{base}, nc=123456789")).is_err());
        assert!(Authorization::parse(&format!("{base}, nc=zz")).is_err());
        assert!(Authorization::parse(&format!("{base}, algorithm=SHA-1")).is_err());
        assert!(Authorization::parse(base).is_ok());
    }
}
