//! Lossless `sip:`/`sips:` URIs (RFC 3261 section 19.1, RFC 4904 user parameters) and name-addrs.
//! Every part is kept as written (escapes, case, empty parameters), so printing an unchanged parse gives the input back.

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::str::FromStr;

use super::{Error, Result};

/// Longest URI accepted; SIP URIs in practice stay far below this, and a bound keeps garbage cheap.
pub const MAX_URI_LEN: usize = 8 * 1024;

/// The URI scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `sip:`
    Sip,
    /// `sips:` (TLS on every hop)
    Sips,
}

impl Scheme {
    /// The scheme in lower case, without the colon.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Sip => "sip",
            Scheme::Sips => "sips",
        }
    }
}

/// A `name[=value]` parameter as written (still %-escaped). Used for user parameters, URI parameters, URI headers
/// (`?name=value`) and name-addr header parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Param {
    /// The name as written; compare with [`Param::is`] (names are case-insensitive).
    pub name: String,
    /// `None` for a flag (`;lr`), `Some("")` for `;x=`.
    pub value: Option<String>,
}

impl Param {
    /// A parameter from a name and optional value, taken as already escaped.
    pub fn new(name: impl Into<String>, value: Option<impl Into<String>>) -> Param {
        Param {
            name: name.into(),
            value: value.map(Into::into),
        }
    }

    /// Whether this parameter has the given name (ASCII case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The value with %XX escapes decoded (empty for a flag).
    pub fn value_unescaped(&self) -> Cow<'_, str> {
        unescape(self.value.as_deref().unwrap_or(""))
    }

    fn parse(s: &str) -> Param {
        match s.split_once('=') {
            Some((n, v)) => Param {
                name: n.to_owned(),
                value: Some(v.to_owned()),
            },
            None => Param {
                name: s.to_owned(),
                value: None,
            },
        }
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(v) = &self.value {
            f.write_str("=")?;
            f.write_str(v)?;
        }
        Ok(())
    }
}

fn find_param<'p>(params: &'p [Param], name: &str) -> Option<&'p Param> {
    params.iter().find(|p| p.is(name))
}

fn set_param_in(params: &mut Vec<Param>, name: &str, value: Option<&str>) {
    match params.iter_mut().find(|p| p.is(name)) {
        Some(p) => p.value = value.map(str::to_owned),
        None => params.push(Param::new(name, value)),
    }
}

fn remove_param_in(params: &mut Vec<Param>, name: &str) -> bool {
    let before = params.len();
    params.retain(|p| !p.is(name));
    params.len() != before
}

/// What a URI's host is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A domain name (or anything that is not an IP literal), as written.
    Domain(&'a str),
    /// A dotted IPv4 address.
    Ipv4(Ipv4Addr),
    /// A bracketed IPv6 reference `[...]`.
    Ipv6(Ipv6Addr),
}

/// A parsed `sip:`/`sips:` URI.
///
/// Parts are stored as written (escaped); accessors with `_unescaped` decode %XX. Setters change only their own part,
/// so the rest of the URI prints exactly as it was received. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Uri {
    scheme_raw: String,
    scheme: Scheme,
    user: Option<String>,
    user_params: Vec<Param>,
    password: Option<String>,
    host: String,
    port: Option<String>,
    params: Vec<Param>,
    headers: Vec<Param>,
}

impl fmt::Debug for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Uri")
            .field("scheme", &self.scheme)
            .field("user", &self.user)
            .field("user_params", &self.user_params)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("params", &self.params)
            .field("headers", &self.headers)
            .finish()
    }
}

fn bad(msg: impl Into<String>) -> Error {
    Error::InvalidUri(msg.into())
}

/// Characters that never appear unescaped in any part of a SIP URI, whatever the leniency.
fn forbidden(c: char) -> bool {
    c.is_ascii_control() || c == ' ' || c == '<' || c == '>' || c == '"'
}

fn valid_reg_host(h: &str) -> bool {
    !h.is_empty()
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'+' | b'~'))
}

fn check_port(p: &str) -> Result<()> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(format!("bad port {p:?}")));
    }
    match p.parse::<u32>() {
        Ok(n) if n <= 65535 => Ok(()),
        _ => Err(bad(format!("port {p} out of range"))),
    }
}

impl Uri {
    /// Parse a `sip:` or `sips:` URI (scheme case-insensitive). Leading/trailing whitespace is not accepted.
    pub fn parse(s: &str) -> Result<Uri> {
        if s.len() > MAX_URI_LEN {
            return Err(bad(format!("longer than {MAX_URI_LEN} bytes")));
        }
        if let Some(c) = s.chars().find(|&c| forbidden(c)) {
            return Err(bad(format!("forbidden character {c:?}")));
        }
        let (scheme_raw, rest) = s.split_once(':').ok_or_else(|| bad("missing scheme"))?;
        let scheme = if scheme_raw.eq_ignore_ascii_case("sip") {
            Scheme::Sip
        } else if scheme_raw.eq_ignore_ascii_case("sips") {
            Scheme::Sips
        } else {
            return Err(bad(format!("unsupported scheme {scheme_raw:?}")));
        };

        // RFC 3261 forbids an unescaped '@' after the userinfo, so the first '@' ends it.
        let (userinfo, hostpart) = match rest.find('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };

        let mut user = None;
        let mut user_params = Vec::new();
        let mut password = None;
        if let Some(ui) = userinfo {
            // A ':' before the first ';' starts a password; a ':' inside user parameters belongs to their values
            // (RFC 3966 allows it there), so "+1;tgrp=a:b" keeps "a:b" as the tgrp value.
            let first_semi = ui.find(';').unwrap_or(ui.len());
            match ui[..first_semi].find(':') {
                Some(colon) => {
                    user = Some(ui[..colon].to_owned());
                    password = Some(ui[colon + 1..].to_owned());
                }
                None => {
                    let mut it = ui.split(';');
                    user = Some(it.next().unwrap_or_default().to_owned());
                    user_params = it.map(Param::parse).collect();
                }
            }
        }

        let (host, after_host) = if let Some(v6) = hostpart.strip_prefix('[') {
            let end = v6
                .find(']')
                .ok_or_else(|| bad("unterminated IPv6 reference"))?;
            let inner = &v6[..end];
            inner
                .parse::<Ipv6Addr>()
                .map_err(|_| bad(format!("bad IPv6 address {inner:?}")))?;
            (&hostpart[..end + 2], &v6[end + 1..])
        } else {
            let end = hostpart.find([':', ';', '?']).unwrap_or(hostpart.len());
            (&hostpart[..end], &hostpart[end..])
        };
        if !host.starts_with('[') && !valid_reg_host(host) {
            return Err(bad(if host.is_empty() {
                "empty host".to_owned()
            } else {
                format!("bad host {host:?}")
            }));
        }

        let mut rest = after_host;
        let mut port = None;
        if let Some(p) = rest.strip_prefix(':') {
            let end = p.find([';', '?']).unwrap_or(p.len());
            check_port(&p[..end])?;
            port = Some(p[..end].to_owned());
            rest = &p[end..];
        }

        let mut params = Vec::new();
        if let Some(p) = rest.strip_prefix(';') {
            let end = p.find('?').unwrap_or(p.len());
            params = p[..end].split(';').map(Param::parse).collect();
            rest = &p[end..];
        }
        let mut headers = Vec::new();
        if let Some(h) = rest.strip_prefix('?') {
            headers = h.split('&').map(Param::parse).collect();
            rest = "";
        }
        if !rest.is_empty() {
            return Err(bad(format!("unexpected {rest:?} after host")));
        }

        Ok(Uri {
            scheme_raw: scheme_raw.to_owned(),
            scheme,
            user,
            user_params,
            password,
            host: host.to_owned(),
            port,
            params,
            headers,
        })
    }

    /// A new URI `scheme:host` with nothing else; `host` as for [`Uri::set_host`].
    pub fn new(scheme: Scheme, host: &str) -> Result<Uri> {
        let mut u = Uri {
            scheme_raw: scheme.as_str().to_owned(),
            scheme,
            user: None,
            user_params: Vec::new(),
            password: None,
            host: String::new(),
            port: None,
            params: Vec::new(),
            headers: Vec::new(),
        };
        u.set_host(host)?;
        Ok(u)
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Change the scheme (printed in lower case afterwards).
    pub fn set_scheme(&mut self, scheme: Scheme) {
        if scheme != self.scheme {
            self.scheme = scheme;
            self.scheme_raw = scheme.as_str().to_owned();
        }
    }

    /// The user as written (escaped), without user parameters; `None` when the URI has no `@`.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The user with %XX escapes decoded.
    pub fn user_unescaped(&self) -> Option<Cow<'_, str>> {
        self.user.as_deref().map(unescape)
    }

    /// Set (escaping what RFC 3261 does not allow unescaped) or remove the user. Removing it also removes the user
    /// parameters and the password.
    pub fn set_user(&mut self, user: Option<&str>) {
        match user {
            Some(u) => self.user = Some(escape(u, is_user_char).into_owned()),
            None => {
                self.user = None;
                self.user_params.clear();
                self.password = None;
            }
        }
    }

    /// RFC 4904 user parameters (`;tgrp=..;trunk-context=..` between user and `@`), in order, as written.
    pub fn user_params(&self) -> &[Param] {
        &self.user_params
    }

    /// Mutable access to the user parameters (values are taken as already escaped).
    pub fn user_params_mut(&mut self) -> &mut Vec<Param> {
        &mut self.user_params
    }

    /// The first user parameter with this name (case-insensitive).
    pub fn user_param(&self, name: &str) -> Option<&Param> {
        find_param(&self.user_params, name)
    }

    /// Set the first user parameter with this name, or append it; `value` is escaped as needed. Does nothing when the
    /// URI has no user (a user parameter needs a user).
    pub fn set_user_param(&mut self, name: &str, value: Option<&str>) {
        if self.user.is_some() {
            let v = value.map(|v| escape(v, is_param_char));
            set_param_in(&mut self.user_params, name, v.as_deref());
        }
    }

    /// Remove every user parameter with this name; says whether one was there.
    pub fn remove_user_param(&mut self, name: &str) -> bool {
        remove_param_in(&mut self.user_params, name)
    }

    /// The password as written (deprecated by RFC 3261, kept for losslessness).
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// Set or remove the password (ignored when the URI has no user).
    pub fn set_password(&mut self, password: Option<&str>) {
        if self.user.is_some() {
            self.password = password.map(|p| escape(p, is_user_char).into_owned());
        }
    }

    /// The host as written; an IPv6 reference keeps its brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// What kind of host this is.
    pub fn host_kind(&self) -> Host<'_> {
        if let Some(inner) = self
            .host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
        {
            if let Ok(a) = inner.parse() {
                return Host::Ipv6(a);
            }
        }
        match self.host.parse::<Ipv4Addr>() {
            Ok(a) => Host::Ipv4(a),
            Err(_) => Host::Domain(&self.host),
        }
    }

    /// Whether the host is an IPv4 or IPv6 literal.
    pub fn host_is_ip(&self) -> bool {
        !matches!(self.host_kind(), Host::Domain(_))
    }

    /// Set the host: a domain name, an IPv4 address, or an IPv6 address with or without brackets.
    pub fn set_host(&mut self, host: &str) -> Result<()> {
        let inner = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(a) = inner.parse::<Ipv6Addr>() {
            self.host = format!("[{a}]");
        } else if valid_reg_host(host) {
            self.host = host.to_owned();
        } else {
            return Err(bad(format!("bad host {host:?}")));
        }
        Ok(())
    }

    /// The port, if one is written.
    pub fn port(&self) -> Option<u16> {
        self.port.as_deref().and_then(|p| p.parse().ok())
    }

    /// Set or remove the port.
    pub fn set_port(&mut self, port: Option<u16>) {
        if self.port() != port || port.is_none() {
            self.port = port.map(|p| p.to_string());
        }
    }

    /// URI parameters (`;transport=tls;lr`), in order, as written.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Mutable access to the URI parameters (values are taken as already escaped).
    pub fn params_mut(&mut self) -> &mut Vec<Param> {
        &mut self.params
    }

    /// The first URI parameter with this name (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&Param> {
        find_param(&self.params, name)
    }

    /// Set the first URI parameter with this name, or append it; `value` is escaped as needed.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        let v = value.map(|v| escape(v, is_param_char));
        set_param_in(&mut self.params, name, v.as_deref());
    }

    /// Remove every URI parameter with this name; says whether one was there.
    pub fn remove_param(&mut self, name: &str) -> bool {
        remove_param_in(&mut self.params, name)
    }

    /// The `transport` parameter's value, if any.
    pub fn transport(&self) -> Option<&str> {
        self.param("transport").and_then(|p| p.value.as_deref())
    }

    /// Whether two URIs name the same target: scheme, user (unescaped), host (case-insensitive) and port, ignoring
    /// parameters and headers. Meta refuses a digest `uri` whose target differs from the To URI's.
    pub fn same_address(&self, other: &Uri) -> bool {
        self.scheme == other.scheme
            && self.user_unescaped() == other.user_unescaped()
            && self.host.eq_ignore_ascii_case(&other.host)
            && self.port() == other.port()
    }

    /// URI headers (`?subject=x&priority=urgent`), in order, as written.
    pub fn headers(&self) -> &[Param] {
        &self.headers
    }

    /// Mutable access to the URI headers (taken as already escaped).
    pub fn headers_mut(&mut self) -> &mut Vec<Param> {
        &mut self.headers
    }
}

impl FromStr for Uri {
    type Err = Error;
    fn from_str(s: &str) -> Result<Uri> {
        Uri::parse(s)
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme_raw)?;
        f.write_str(":")?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            for p in &self.user_params {
                f.write_str(";")?;
                p.write(f)?;
            }
            if let Some(pw) = &self.password {
                f.write_str(":")?;
                f.write_str(pw)?;
            }
            f.write_str("@")?;
        }
        f.write_str(&self.host)?;
        if let Some(p) = &self.port {
            f.write_str(":")?;
            f.write_str(p)?;
        }
        for p in &self.params {
            f.write_str(";")?;
            p.write(f)?;
        }
        for (i, h) in self.headers.iter().enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            h.write(f)?;
        }
        Ok(())
    }
}

/// Characters RFC 3261 allows unescaped in the user part (unreserved and user-unreserved, minus ';' which starts a
/// user parameter here).
fn is_user_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,?/".contains(&c)
}

/// Characters allowed unescaped in a parameter value (unreserved and param-unreserved).
fn is_param_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-_.!~*'()[]/:&+$".contains(&c)
}

/// %-escape every byte of `s` for which `allowed` is false.
pub(crate) fn escape(s: &str, allowed: fn(u8) -> bool) -> Cow<'_, str> {
    if s.bytes().all(allowed) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if allowed(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
    Cow::Owned(out)
}

fn hexval(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decode %XX escapes. A '%' not followed by two hex digits is kept as is; decoded bytes that are not UTF-8 become
/// U+FFFD.
pub fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hexval(b[i + 1]), hexval(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// A name-addr or addr-spec as in From, To, Contact: `"Name" <sip:user@host;uri-param>;tag=x` or
/// `sip:user@host;tag=x` (where, per RFC 3261, the parameters after an addr-spec belong to the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name, unquoted (`None` when absent or empty).
    pub display_name: Option<String>,
    /// The URI.
    pub uri: Uri,
    /// Header parameters after the URI (`tag`, `expires`, ...), as written.
    pub params: Vec<Param>,
}

impl NameAddr {
    /// Where the URI sits inside a From/To/Contact value (byte range), without parsing it. Handles a quoted display
    /// name containing `<` and escaped quotes.
    pub fn uri_span(s: &str) -> Result<Range<usize>> {
        let b = s.as_bytes();
        let mut i = 0;
        let mut in_quote = false;
        while i < b.len() {
            match b[i] {
                b'\\' if in_quote => i += 1,
                b'"' => in_quote = !in_quote,
                b'<' if !in_quote => {
                    let end = s[i + 1..]
                        .find('>')
                        .ok_or_else(|| Error::InvalidNameAddr("missing '>'".into()))?;
                    return Ok(i + 1..i + 1 + end);
                }
                _ => {}
            }
            i += 1;
        }
        if in_quote {
            return Err(Error::InvalidNameAddr(
                "unterminated quoted display name".into(),
            ));
        }
        // addr-spec: the URI ends at the first ';' after the host (';' before '@' are user parameters).
        let start = s.len() - s.trim_start().len();
        let t = s.trim();
        if t.is_empty() {
            return Err(Error::InvalidNameAddr("empty".into()));
        }
        let host_from = t.find('@').unwrap_or(0);
        let end = t[host_from..].find(';').map_or(t.len(), |e| host_from + e);
        let end = t[..end].trim_end().len();
        if end == 0 {
            return Err(Error::InvalidNameAddr("empty".into()));
        }
        Ok(start..start + end)
    }

    /// Parse a From/To/Contact value.
    pub fn parse(s: &str) -> Result<NameAddr> {
        if s.len() > MAX_URI_LEN * 2 {
            return Err(Error::InvalidNameAddr("too long".into()));
        }
        let span = NameAddr::uri_span(s)?;
        let uri = Uri::parse(&s[span.clone()])?;
        let angle = span.start > 0 && s.as_bytes()[span.start - 1] == b'<';
        let display_name = if angle {
            let d = s[..span.start - 1].trim();
            let d = match d.strip_prefix('"') {
                Some(q) => {
                    let q = q
                        .strip_suffix('"')
                        .ok_or_else(|| Error::InvalidNameAddr("bad quoting".into()))?;
                    unquote(q)
                }
                None => d.to_owned(),
            };
            (!d.is_empty()).then_some(d)
        } else {
            None
        };
        let after = &s[span.end + usize::from(angle)..];
        let after = after.trim();
        let params = if after.is_empty() {
            Vec::new()
        } else {
            let p = after
                .strip_prefix(';')
                .ok_or_else(|| Error::InvalidNameAddr(format!("unexpected {after:?} after URI")))?;
            p.split(';').map(|x| Param::parse(x.trim())).collect()
        };
        Ok(NameAddr {
            display_name,
            uri,
            params,
        })
    }

    /// The first header parameter with this name (case-insensitive), e.g. `tag`.
    pub fn param(&self, name: &str) -> Option<&Param> {
        find_param(&self.params, name)
    }

    /// The `tag` parameter's value.
    pub fn tag(&self) -> Option<&str> {
        self.param("tag").and_then(|p| p.value.as_deref())
    }
}

fn unquote(q: &str) -> String {
    let mut out = String::with_capacity(q.len());
    let mut esc = false;
    for c in q.chars() {
        if esc {
            out.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for NameAddr {
    /// Prints the canonical form `"Name" <uri>;params` (always with angle brackets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display_name {
            f.write_str("\"")?;
            for c in d.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\" ")?;
        }
        write!(f, "<{}>", self.uri)?;
        for p in &self.params {
            f.write_str(";")?;
            p.write(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_inbound_ruri() {
        let s = "sip:+1234567890;tgrp=wacall;trunk-context=byoc.example.com@sip.example.com";
        let u = Uri::parse(s).unwrap();
        assert_eq!(u.user(), Some("+1234567890"));
        assert_eq!(u.user_params().len(), 2);
        assert_eq!(
            u.user_param("TGRP").unwrap().value.as_deref(),
            Some("wacall")
        );
        assert_eq!(u.host(), "sip.example.com");
        assert_eq!(u.to_string(), s);
    }

    #[test]
    fn full_uri_lossless() {
        for s in [
            "sip:+12195550714@wa.meta.vc;transport=tls",
            "SIPS:alice:secret@[2001:db8::1]:05061;Transport=TLS;lr;;x=?subject=a%20b&h",
            "sip:wa.meta.vc;transport=tls;lr",
            "sip:mod_sofia@137.184.87.1:35181;transport=tls;swrad=137.184.87.1~56533~3",
            "sip:+172.25.16.223:5060",
            "sip:%2B1555@example.com",
            "sip:@h",
            "sip:h?",
        ] {
            assert_eq!(Uri::parse(s).unwrap().to_string(), s, "{s}");
        }
    }

    #[test]
    fn modifications_touch_only_their_part() {
        let mut u = Uri::parse("sip:+1%32@Example.COM:5061;Transport=TLS;lr?x=1").unwrap();
        u.set_param("ob", None);
        assert_eq!(
            u.to_string(),
            "sip:+1%32@Example.COM:5061;Transport=TLS;lr;ob?x=1"
        );
        u.set_param("transport", Some("udp"));
        assert_eq!(
            u.to_string(),
            "sip:+1%32@Example.COM:5061;Transport=udp;lr;ob?x=1"
        );
        u.set_port(None);
        u.set_user(Some("a b"));
        assert_eq!(
            u.to_string(),
            "sip:a%20b@Example.COM;Transport=udp;lr;ob?x=1"
        );
        assert_eq!(u.user_unescaped().unwrap(), "a b");
        u.set_host("::1").unwrap();
        assert_eq!(u.host_kind(), Host::Ipv6("::1".parse().unwrap()));
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "sip:",
            "http://x",
            "sip:a@",
            "sip:[::1",
            "sip:[zz]",
            "sip:h:99999",
            "sip:h:",
            "sip:a b@h",
            "sip:h x",
        ] {
            assert!(Uri::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn same_address() {
        let r = Uri::parse("sip:+12195550714@wa.meta.vc;transport=tls").unwrap();
        assert!(r.same_address(&Uri::parse("sip:%2B12195550714@WA.meta.vc").unwrap()));
        assert!(!r.same_address(&Uri::parse("sip:+12195550714@wa.meta.vc:5061").unwrap()));
        assert!(!r.same_address(&Uri::parse("sips:+12195550714@wa.meta.vc").unwrap()));
    }

    #[test]
    fn password_redacted() {
        let u = Uri::parse("sip:bob:hunter2@h").unwrap();
        assert_eq!(u.password(), Some("hunter2"));
        assert!(!format!("{u:?}").contains("hunter2"));
    }

    #[test]
    fn unescape_cases() {
        assert_eq!(unescape("a%20b"), "a b");
        assert_eq!(unescape("100%"), "100%");
        assert_eq!(unescape("%4"), "%4");
        assert_eq!(unescape("%zz%41"), "%zzA");
        assert_eq!(unescape("%ff"), "\u{fffd}");
    }

    #[test]
    fn name_addrs() {
        let n = NameAddr::parse(
            "\"12145551869\" <sip:+12145551869@meta-voip.example.com>;tag=28460006_c3356d0b",
        )
        .unwrap();
        assert_eq!(n.display_name.as_deref(), Some("12145551869"));
        assert_eq!(n.uri.user(), Some("+12145551869"));
        assert_eq!(n.tag(), Some("28460006_c3356d0b"));
        let n = NameAddr::parse("<sip:+12195550714@wa.meta.vc;transport=tls;ob>;isfocus").unwrap();
        assert_eq!(n.uri.transport(), Some("tls"));
        assert!(n.param("isfocus").is_some());
        let n = NameAddr::parse("sip:+1;tgrp=x@h;tag=9").unwrap();
        assert_eq!(n.uri.to_string(), "sip:+1;tgrp=x@h");
        assert_eq!(n.tag(), Some("9"));
        let n = NameAddr::parse(r#""a \"<b>\"" <sip:x@y>"#).unwrap();
        assert_eq!(n.display_name.as_deref(), Some("a \"<b>\""));
        assert!(NameAddr::parse("\"x <sip:a@b>").is_err());
        assert!(NameAddr::parse("<sip:a@b").is_err());
        for g in ["", " ", "\t ", " ;", "  sip:a@b ;tag=1 "] {
            let _ = NameAddr::parse(g);
        }
        assert_eq!(
            NameAddr::parse("  sip:a@b ;tag=1 ").unwrap().tag(),
            Some("1")
        );
    }
}
