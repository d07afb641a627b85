//! Calls from Meta: the called number and RFC 4904 user parameters (`tgrp`, `trunk-context`, ...) of the R-URI, and
//! the `request_uri_user_params` object of Meta's settings payload that makes Meta send them (128 characters max each).

use std::fmt::Write as _;

use super::uri::Uri;
use super::{Error, Result};

/// Meta's limit on each key and each value of `request_uri_user_params`.
pub const META_USER_PARAM_MAX_LEN: usize = 128;

/// User parameters in the order received; keys keep their case, lookups ignore it. Values are unescaped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserParams(pub Vec<(String, String)>);

impl UserParams {
    /// The value of the first parameter with this key (ASCII case-insensitive); `""` for a flag parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// All `(key, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many parameters there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The trunk group (`tgrp`), if present.
    pub fn tgrp(&self) -> Option<&str> {
        self.get("tgrp")
    }

    /// The trunk context (`trunk-context`), if present.
    pub fn trunk_context(&self) -> Option<&str> {
        self.get("trunk-context")
    }
}

/// What a call from Meta is addressed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundTarget {
    /// The called number (user part, unescaped, without user parameters), e.g. `+1234567890`.
    pub number: String,
    /// Every user parameter, in order.
    pub params: UserParams,
    /// The host as written, e.g. `sip.example.com`.
    pub host: String,
    /// The port, if the R-URI has one.
    pub port: Option<u16>,
}

/// Read an R-URI such as `sip:+1234567890;tgrp=wacall;trunk-context=byoc.example.com@sip.example.com`.
pub fn parse_inbound_request_uri(ruri: &str) -> Result<InboundTarget> {
    let u = Uri::parse(ruri.trim())?;
    let number = u
        .user_unescaped()
        .ok_or_else(|| Error::InvalidUri("request-URI has no user part".into()))?;
    if number.is_empty() {
        return Err(Error::InvalidUri(
            "request-URI has an empty user part".into(),
        ));
    }
    let params = UserParams(
        u.user_params()
            .iter()
            .map(|p| {
                (
                    super::uri::unescape(&p.name).into_owned(),
                    p.value_unescaped().into_owned(),
                )
            })
            .collect(),
    );
    Ok(InboundTarget {
        number: number.into_owned(),
        params,
        host: u.host().to_owned(),
        port: u.port(),
    })
}

/// RFC 3261 token characters: what a parameter name may contain.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

/// RFC 3966 paramchar without escapes: what a parameter value may contain unescaped in a URI user part.
fn is_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.!~*'()[]/:&+$".contains(c)
}

fn check_one(what: &str, s: &str, ok: fn(char) -> bool) -> Result<()> {
    let shown: String = s.chars().take(40).collect();
    if s.is_empty() {
        return Err(Error::InvalidUserParam(format!("empty {what}")));
    }
    let n = s.chars().count();
    if n > META_USER_PARAM_MAX_LEN {
        return Err(Error::InvalidUserParam(format!(
            "{what} {shown:?}... is {n} characters; Meta allows at most {META_USER_PARAM_MAX_LEN}"
        )));
    }
    if let Some(c) = s.chars().find(|&c| !ok(c)) {
        return Err(Error::InvalidUserParam(format!(
            "{what} {shown:?} contains {c:?}, not allowed in a SIP user part"
        )));
    }
    Ok(())
}

/// Build the JSON object for `calling.sip.servers[].request_uri_user_params`, e.g.
/// `{"tgrp":"wacall","trunk-context":"byoc.example.com"}`, in the given order.
///
/// Keys must be tokens, values SIP user-part parameter characters, each 1..=128 characters; keys must be unique
/// (case-insensitively, as SIP compares them).
pub fn request_uri_user_params_json<K: AsRef<str>, V: AsRef<str>>(
    pairs: &[(K, V)],
) -> Result<String> {
    let mut out = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        let (k, v) = (k.as_ref(), v.as_ref());
        check_one("key", k, is_token_char)?;
        check_one("value", v, is_value_char)?;
        if pairs[..i]
            .iter()
            .any(|(k2, _)| k2.as_ref().eq_ignore_ascii_case(k))
        {
            return Err(Error::InvalidUserParam(format!("duplicate key {k:?}")));
        }
        if i > 0 {
            out.push(',');
        }
        json_string(&mut out, k);
        out.push(':');
        json_string(&mut out, v);
    }
    out.push('}');
    Ok(out)
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_example() {
        let t = parse_inbound_request_uri(
            "sip:+1234567890;tgrp=wacall;trunk-context=byoc.example.com@sip.example.com",
        )
        .unwrap();
        assert_eq!(t.number, "+1234567890");
        assert_eq!(t.params.tgrp(), Some("wacall"));
        assert_eq!(t.params.get("Trunk-Context"), Some("byoc.example.com"));
        assert_eq!(t.host, "sip.example.com");
        let j = request_uri_user_params_json(&[
            ("tgrp", "wacall"),
            ("trunk-context", "byoc.example.com"),
        ])
        .unwrap();
        assert_eq!(j, r#"{"tgrp":"wacall","trunk-context":"byoc.example.com"}"#);
    }

    #[test]
    fn limits() {
        let k128 = "k".repeat(128);
        assert!(request_uri_user_params_json(&[(k128.as_str(), "v")]).is_ok());
        let k129 = "k".repeat(129);
        let e = request_uri_user_params_json(&[(k129.as_str(), "v")]).unwrap_err();
        assert!(e.to_string().contains("at most 128"), "{e}");
        assert!(request_uri_user_params_json(&[("k", "v".repeat(129))]).is_err());
        assert!(request_uri_user_params_json(&[("k", "a b")]).is_err());
        assert!(request_uri_user_params_json(&[("k=", "a")]).is_err());
        assert!(request_uri_user_params_json(&[("k", "")]).is_err());
        assert!(request_uri_user_params_json(&[("k", "a"), ("K", "b")]).is_err());
        assert_eq!(
            request_uri_user_params_json::<&str, &str>(&[]).unwrap(),
            "{}"
        );
    }
}
