//! A small, bounded SIP message reader over bytes: start line, headers (folding, compact forms, case-insensitive
//! names, repeated headers), body split at the first empty line; and Meta's `x-wa-meta-*` headers on top of it.

use std::borrow::Cow;

use super::{Error, Result};

/// Largest header section read (start line and headers); SIP messages over UDP stay below 64 KiB anyway.
pub const MAX_HEADER_SECTION: usize = 64 * 1024;
/// Most header lines read.
pub const MAX_HEADERS: usize = 512;

/// A message's first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// `INVITE sip:... SIP/2.0`
    Request {
        /// The method, e.g. `INVITE`.
        method: &'a str,
        /// The request-URI as written.
        uri: &'a str,
        /// The version, e.g. `SIP/2.0`.
        version: &'a str,
    },
    /// `SIP/2.0 407 Proxy Authentication Required`
    Response {
        /// The version, e.g. `SIP/2.0`.
        version: &'a str,
        /// The status code (100..=699).
        code: u16,
        /// The reason phrase (may be empty).
        reason: &'a str,
    },
}

/// One header line (folded continuation lines joined by one space).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    /// The name as written (`Call-ID`, `i`, `x-wa-meta-wacid`).
    pub name: &'a str,
    /// The value, trimmed; borrowed unless folding joined lines.
    pub value: Cow<'a, str>,
}

/// A SIP message read from bytes; borrows the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The first line.
    pub start: StartLine<'a>,
    /// Every header in order.
    pub headers: Vec<Header<'a>>,
    /// Everything after the first empty line (CRLFCRLF or LFLF); empty when there is none.
    pub body: &'a [u8],
}

/// RFC 3261 (and later) compact header forms.
fn expand_compact(name: &str) -> &str {
    if name.len() != 1 {
        return name;
    }
    match name.as_bytes()[0].to_ascii_lowercase() {
        b'i' => "call-id",
        b'm' => "contact",
        b'e' => "content-encoding",
        b'l' => "content-length",
        b'c' => "content-type",
        b'f' => "from",
        b's' => "subject",
        b'k' => "supported",
        b't' => "to",
        b'v' => "via",
        b'o' => "event",
        b'r' => "refer-to",
        b'b' => "referred-by",
        b'a' => "accept-contact",
        b'u' => "allow-events",
        b'j' => "reject-contact",
        b'd' => "request-disposition",
        b'x' => "session-expires",
        b'y' => "identity",
        b'n' => "identity-info",
        _ => name,
    }
}

/// Whether two header names denote the same header (case-insensitive, compact forms expanded).
pub fn same_header_name(a: &str, b: &str) -> bool {
    expand_compact(a).eq_ignore_ascii_case(expand_compact(b))
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

fn bad(msg: impl Into<String>) -> Error {
    Error::InvalidMessage(msg.into())
}

fn parse_start(line: &str) -> Result<StartLine<'_>> {
    if line.len() >= 4 && line.as_bytes()[..4].eq_ignore_ascii_case(b"SIP/") {
        let (version, rest) = line
            .split_once(' ')
            .ok_or_else(|| bad("status line without code"))?;
        let rest = rest.trim_start();
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let code: u16 = match code.parse() {
            Ok(c) if code.len() == 3 && (100..=699).contains(&c) => c,
            _ => {
                return Err(bad(format!(
                    "bad status code {:?}",
                    code.chars().take(16).collect::<String>()
                )))
            }
        };
        return Ok(StartLine::Response {
            version,
            code,
            reason: reason.trim(),
        });
    }
    let mut it = line.split(' ').filter(|p| !p.is_empty());
    let (Some(method), Some(uri), Some(version), None) =
        (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(bad("request line is not `METHOD URI SIP/2.0`"));
    };
    if !is_token(method) || !version.to_ascii_uppercase().starts_with("SIP/") {
        return Err(bad("request line is not `METHOD URI SIP/2.0`"));
    }
    Ok(StartLine::Request {
        method,
        uri,
        version,
    })
}

/// Find the end of the header section: (end of headers, start of body).
fn split_body(b: &[u8]) -> (usize, usize) {
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\n' {
            if b.get(i + 1) == Some(&b'\n') {
                return (i + 1, i + 2);
            }
            if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') {
                return (i + 1, i + 3);
            }
        }
        i += 1;
    }
    (b.len(), b.len())
}

impl<'a> Message<'a> {
    /// Read a message. Never panics; refuses a header section over [`MAX_HEADER_SECTION`] bytes or with more than
    /// [`MAX_HEADERS`] headers, non-UTF-8 headers, a bad start line, or a header line without `:`.
    pub fn parse(input: &'a [u8]) -> Result<Message<'a>> {
        // RFC 3261 7.5: ignore empty lines before the start line (keep-alives).
        let mut start = 0;
        while start < input.len() && (input[start] == b'\r' || input[start] == b'\n') {
            start += 1;
        }
        let input = &input[start..];
        let (head_end, body_start) = split_body(input);
        if head_end > MAX_HEADER_SECTION {
            return Err(Error::TooLarge(format!(
                "header section over {MAX_HEADER_SECTION} bytes"
            )));
        }
        let head = std::str::from_utf8(&input[..head_end])
            .map_err(|_| bad("header section is not UTF-8"))?;
        let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let first = lines.next().ok_or_else(|| bad("empty message"))?;
        if first.is_empty() {
            return Err(bad("empty message"));
        }
        let start = parse_start(first)?;
        let mut headers: Vec<Header<'a>> = Vec::new();
        for line in lines {
            if line.is_empty() {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                let last = headers
                    .last_mut()
                    .ok_or_else(|| bad("continuation line before any header"))?;
                let cont = line.trim();
                if !cont.is_empty() {
                    let v = last.value.to_mut();
                    if !v.is_empty() {
                        v.push(' ');
                    }
                    v.push_str(cont);
                }
                continue;
            }
            if headers.len() >= MAX_HEADERS {
                return Err(Error::TooLarge(format!("more than {MAX_HEADERS} headers")));
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| bad("header line without ':'"))?;
            let name = name.trim_end();
            if !is_token(name) {
                return Err(bad(format!(
                    "bad header name {:?}",
                    name.chars().take(32).collect::<String>()
                )));
            }
            headers.push(Header {
                name,
                value: Cow::Borrowed(value.trim()),
            });
        }
        Ok(Message {
            start,
            headers,
            body: &input[body_start..],
        })
    }

    /// [`Message::parse`] over a string.
    pub fn parse_str(input: &'a str) -> Result<Message<'a>> {
        Message::parse(input.as_bytes())
    }

    /// The first value of a header (name case-insensitive, compact forms understood: `i` finds `Call-ID`).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| same_header_name(h.name, name))
            .map(|h| h.value.as_ref())
    }

    /// Every instance of a header, in order.
    pub fn header_all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.headers
            .iter()
            .filter(move |h| same_header_name(h.name, name))
            .map(|h| h.value.as_ref())
    }

    /// Every comma-separated value of every instance of a list header (Via, Allow, Supported, Route, Contact),
    /// splitting outside quotes and angle brackets. Not for auth headers, whose parameters contain commas.
    pub fn header_values<'s>(&'s self, name: &'s str) -> Vec<&'s str> {
        self.header_all(name).flat_map(split_list).collect()
    }

    /// The method of a request (`None` for a response).
    pub fn method(&self) -> Option<&'a str> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response (`None` for a request).
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// Meta's `x-wa-meta-*` headers.
    pub fn meta_headers(&self) -> MetaHeaders {
        MetaHeaders::from_message(self)
    }
}

/// Split a header value at commas that are outside quoted strings and `<...>`; parts are trimmed, empty ones dropped.
pub fn split_list(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = v.as_bytes();
    let (mut q, mut angle, mut esc) = (false, false, false);
    let mut from = 0;
    for (i, &c) in b.iter().enumerate() {
        if esc {
            esc = false;
            continue;
        }
        match c {
            b'\\' if q => esc = true,
            b'"' => q = !q,
            b'<' if !q => angle = true,
            b'>' if !q => angle = false,
            b',' if !q && !angle => {
                out.push(v[from..i].trim());
                from = i + 1;
            }
            _ => {}
        }
    }
    out.push(v[from..].trim());
    out.retain(|s| !s.is_empty());
    out
}

/// Meta's headers on calls from Meta (INVITE) and on Meta's BYE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaHeaders {
    /// `x-wa-meta-wacid`: WhatsApp call id (INVITE and BYE).
    pub wacid: Option<String>,
    /// `x-wa-meta-call-duration` as written (BYE).
    pub call_duration_raw: Option<String>,
    /// `x-wa-meta-call-duration` in whole seconds, when it is a number (fractions are cut).
    pub call_duration_secs: Option<u64>,
    /// `x-wa-meta-cta-payload`: payload of the call button the user pressed.
    pub cta_payload: Option<String>,
    /// `x-wa-meta-deeplink-payload`: payload of the call deeplink the user followed.
    pub deeplink_payload: Option<String>,
}

fn parse_secs(s: &str) -> Option<u64> {
    let s = s.trim();
    let int = match s.split_once('.') {
        Some((i, f)) if f.bytes().all(|b| b.is_ascii_digit()) => i,
        Some(_) => return None,
        None => s,
    };
    if int.is_empty() || int.len() > 19 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    int.parse().ok()
}

impl MetaHeaders {
    /// Read them from a message (first instance of each; absent or empty values are `None`).
    pub fn from_message(m: &Message<'_>) -> MetaHeaders {
        MetaHeaders::from_lookup(|n| m.header(n).map(str::to_owned))
    }

    /// Read them through a host's own header getter (called with lowercase names such as `x-wa-meta-wacid`; it
    /// should match names case-insensitively). Empty values are `None`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> MetaHeaders {
        let get = |n: &str| {
            lookup(n)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let call_duration_raw = get("x-wa-meta-call-duration");
        let call_duration_secs = call_duration_raw.as_deref().and_then(parse_secs);
        if call_duration_raw.is_some() && call_duration_secs.is_none() {
            log::debug!("x-wa-meta-call-duration is not a number of seconds");
        }
        MetaHeaders {
            wacid: get("x-wa-meta-wacid"),
            call_duration_raw,
            call_duration_secs,
            cta_payload: get("x-wa-meta-cta-payload"),
            deeplink_payload: get("x-wa-meta-deeplink-payload"),
        }
    }

    /// Whether none of Meta's headers is present.
    pub fn is_empty(&self) -> bool {
        self.wacid.is_none()
            && self.call_duration_raw.is_none()
            && self.cta_payload.is_none()
            && self.deeplink_payload.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basics() {
        let raw = "\r\nBYE sip:+1@h;transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS a\r\nv: SIP/2.0/TLS b, SIP/2.0/TLS c\r\n\
            i: abc\r\nSubject: one\r\n two\r\nX-WA-Meta-WACID: w1\r\nx-wa-meta-call-duration: 42\r\n\r\nbody\r\n\r\nmore";
        let m = Message::parse_str(raw).unwrap();
        assert_eq!(m.method(), Some("BYE"));
        assert_eq!(m.header("call-id"), Some("abc"));
        assert_eq!(m.header("SUBJECT"), Some("one two"));
        assert_eq!(
            m.header_values("via"),
            ["SIP/2.0/TLS a", "SIP/2.0/TLS b", "SIP/2.0/TLS c"]
        );
        assert_eq!(m.body, b"body\r\n\r\nmore");
        let mh = m.meta_headers();
        assert_eq!(mh.wacid.as_deref(), Some("w1"));
        assert_eq!(mh.call_duration_secs, Some(42));
    }

    #[test]
    fn lf_only_and_status() {
        let m = Message::parse_str("SIP/2.0 407 Proxy Authentication Required\nA: 1\n\nx").unwrap();
        assert_eq!(m.status(), Some(407));
        assert_eq!(m.body, b"x");
    }

    #[test]
    fn garbage() {
        for g in [
            "",
            "\r\n",
            "SIP/2.0 99 x",
            "INVITE sip:x",
            "X y z\r\n nope",
            "INVITE a SIP/2.0\r\n: x",
            "INVITE a SIP/2.0\r\n x",
        ] {
            assert!(Message::parse_str(g).is_err(), "{g:?}");
        }
        assert!(Message::parse(b"INVITE a SIP/2.0\r\nA: \xff\r\n").is_err());
        let big = format!("INVITE a SIP/2.0\r\n{}", "A: b\r\n".repeat(MAX_HEADERS + 1));
        assert!(matches!(Message::parse_str(&big), Err(Error::TooLarge(_))));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_secs("12.7"), Some(12));
        assert_eq!(parse_secs(" 0 "), Some(0));
        assert_eq!(parse_secs("x"), None);
        assert_eq!(parse_secs("-1"), None);
        assert_eq!(parse_secs("99999999999999999999"), None);
        let mh = MetaHeaders::from_lookup(|n| {
            (n == "x-wa-meta-call-duration").then(|| " 5 ".to_owned())
        });
        assert_eq!(mh.call_duration_secs, Some(5));
        assert_eq!(mh.wacid, None);
    }
}
