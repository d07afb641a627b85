//! SIP trace reading for `wacall diagnose`: text logs (messages one after another, each starting at its start line)
//! and pcap/pcapng captures of unencrypted SIP over UDP or TCP, turned into a list of messages with optional times.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::CliError;

/// Input format of a trace file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Pcap,
}

/// First line of a SIP message.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StartLine {
    Request { method: String, uri: String },
    Response { code: u16, reason: String },
}

/// One SIP message of a trace.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// 1-based position in the trace: what findings refer to.
    pub index: usize,
    /// Line (text) or packet number (pcap) where it starts.
    pub origin: usize,
    /// Seconds (Unix time if a date was seen, else time of day); None when the trace has no times.
    pub time: Option<f64>,
    pub src: Option<String>,
    pub dst: Option<String>,
    pub start: StartLine,
    #[serde(skip)]
    pub headers: Vec<(String, String)>,
    #[serde(skip)]
    pub body: String,
}

/// Compact header forms (RFC 3261 section 7.3.3 and extensions) mapped to their full names.
fn expand_compact(name: &str) -> &str {
    match name.to_ascii_lowercase().as_str() {
        "f" => "from",
        "t" => "to",
        "i" => "call-id",
        "v" => "via",
        "m" => "contact",
        "l" => "content-length",
        "c" => "content-type",
        "k" => "supported",
        "x" => "session-expires",
        "s" => "subject",
        "e" => "content-encoding",
        _ => name,
    }
}

impl Message {
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    pub fn method(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    pub fn code(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { code, .. } => Some(*code),
            StartLine::Request { .. } => None,
        }
    }

    pub fn request_uri(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// All values of a header, in order, list values split at top-level commas.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for (n, v) in &self.headers {
            if expand_compact(n).eq_ignore_ascii_case(name) {
                // These headers hold credentials/challenges with commas inside; never split them.
                let single = [
                    "proxy-authorization",
                    "authorization",
                    "proxy-authenticate",
                    "www-authenticate",
                    "date",
                ];
                if single.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                    out.push(v.as_str());
                } else {
                    out.extend(split_list(v));
                }
            }
        }
        out
    }

    /// The first value of a header, unsplit.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| expand_compact(n).eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    pub fn call_id(&self) -> &str {
        self.header("call-id").unwrap_or("")
    }

    /// CSeq number and method.
    pub fn cseq(&self) -> Option<(u32, String)> {
        let v = self.header("cseq")?;
        let mut it = v.split_whitespace();
        let n = it.next()?.parse().ok()?;
        Some((n, it.next()?.to_ascii_uppercase()))
    }

    pub fn cseq_method(&self) -> String {
        self.cseq().map(|c| c.1).unwrap_or_default()
    }

    pub fn tag_of_from(&self) -> Option<&str> {
        self.header("from").and_then(|v| param(v, "tag"))
    }

    pub fn to_tag(&self) -> Option<&str> {
        self.header("to").and_then(|v| param(v, "tag"))
    }

    /// One-line summary: the start line.
    pub fn summary(&self) -> String {
        match &self.start {
            StartLine::Request { method, uri } => format!("{method} {uri}"),
            StartLine::Response { code, reason } => {
                format!("{code} {reason} ({})", self.cseq_method())
            }
        }
    }

    pub fn has_sdp(&self) -> bool {
        self.header("content-type")
            .is_some_and(|c| c.to_ascii_lowercase().contains("application/sdp"))
            && self
                .body
                .lines()
                .any(|l| l.starts_with("v=") || l.starts_with("m="))
            || self.body.lines().any(|l| l.starts_with("m=audio"))
    }
}

/// Splits a header value at top-level commas (the core's reader: quotes and `<...>` respected).
pub use wacall::sip::headers::split_list;

/// A header parameter (after the URI's closing `>` if there is one), such as `tag`.
pub fn param<'a>(v: &'a str, name: &str) -> Option<&'a str> {
    let tail = match v.rfind('>') {
        Some(i) => &v[i + 1..],
        None => v.split_once(';').map(|(_, t)| t).unwrap_or(""),
    };
    tail.split(';').map(str::trim).find_map(|p| {
        let (k, val) = p.split_once('=').unwrap_or((p, ""));
        k.trim().eq_ignore_ascii_case(name).then_some(val.trim())
    })
}

/// The URI of a name-addr or addr-spec header value.
pub fn header_uri(v: &str) -> &str {
    if let (Some(a), Some(b)) = (v.find('<'), v.find('>')) {
        if a < b {
            return &v[a + 1..b];
        }
    }
    v.split(';').next().unwrap_or(v).trim()
}

/// Parts of a SIP URI, enough for the checks (not a full RFC 3261 parser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriParts {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

/// Parses with the core's RFC 3261 URI parser; `None` for what it refuses.
pub fn uri_parts(uri: &str) -> Option<UriParts> {
    let u = wacall::sip::Uri::parse(uri.trim()).ok()?;
    let host = u
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    Some(UriParts {
        user: u.user().map(str::to_string),
        host,
        port: u.port(),
    })
}

/// The user part without its user parameters (`+1555;tgrp=x` -> `+1555`).
pub fn user_number(user: &str) -> &str {
    user.split(';').next().unwrap_or(user)
}

/// A parsed trace.
#[derive(Debug, Default, Serialize)]
pub struct Trace {
    pub messages: Vec<Message>,
    /// Notes about the reading itself (skipped packets, TLS seen).
    pub notes: Vec<String>,
    /// Non-SIP UDP packets of a capture (STUN, DTLS, RTP/RTCP), for the maiden-packet checks.
    #[serde(skip)]
    pub media: Vec<MediaPacket>,
}

/// What a media packet is, told apart by its first byte (RFC 7983).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Stun,
    Dtls,
    Rtp,
    Rtcp,
}

/// One media packet of a capture.
#[derive(Debug, Clone)]
pub struct MediaPacket {
    pub time: f64,
    /// `ip:port` / `[ip6]:port`, as `SocketAddr` prints them.
    pub src: String,
    pub dst: String,
    pub kind: MediaKind,
}

/// RFC 7983 demultiplexing: 0-3 STUN, 20-63 DTLS, 128-191 RTP or RTCP (RTCP packet types 192-223).
fn media_kind(p: &[u8]) -> Option<MediaKind> {
    match *p.first()? {
        0..=3 if p.len() >= 20 => Some(MediaKind::Stun),
        20..=63 if p.len() >= 13 => Some(MediaKind::Dtls),
        128..=191 if p.len() >= 8 => Some(if (192..=223).contains(p.get(1)?) {
            MediaKind::Rtcp
        } else {
            MediaKind::Rtp
        }),
        _ => None,
    }
}

fn parse_start_line(line: &str) -> Option<StartLine> {
    let line = line.trim_end();
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() == 3 {
            let code: u16 = code.parse().ok()?;
            if (100..700).contains(&code) {
                return Some(StartLine::Response {
                    code,
                    reason: reason.trim().to_string(),
                });
            }
        }
        return None;
    }
    let mut it = line.split(' ');
    let (method, uri, version) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || version != "SIP/2.0" {
        return None;
    }
    if method.is_empty()
        || !method
            .chars()
            .all(|c| c.is_ascii_uppercase() || c == '-' || c == '_')
    {
        return None;
    }
    if !(uri.starts_with("sip:") || uri.starts_with("sips:") || uri.starts_with("tel:")) {
        return None;
    }
    Some(StartLine::Request {
        method: method.to_string(),
        uri: uri.to_string(),
    })
}

fn header_line(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.!%*+`'~".contains(c))
    {
        return None;
    }
    Some((name, value.trim()))
}

/// Finds a time in a log line: `[YYYY-MM-DD|YYYY/MM/DD][ T]HH:MM:SS[.frac]`, or a bare `NNN.NNN` seconds stamp.
pub fn find_timestamp(line: &str) -> Option<f64> {
    let b = line.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(|c| c.is_ascii_digit());
    for i in 0..b.len() {
        if digit(i)
            && digit(i + 1)
            && b.get(i + 2) == Some(&b':')
            && digit(i + 3)
            && digit(i + 4)
            && b.get(i + 5) == Some(&b':')
            && digit(i + 6)
            && digit(i + 7)
            && (i == 0 || !digit(i - 1))
        {
            let num = |s: usize, n: usize| line.get(s..s + n).and_then(|x| x.parse::<i64>().ok());
            let (h, m, s) = (num(i, 2)?, num(i + 3, 2)?, num(i + 6, 2)?);
            let mut t = (h * 3600 + m * 60 + s) as f64;
            if matches!(b.get(i + 8), Some(b'.') | Some(b',')) {
                let frac: String = line[i + 9..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect();
                if !frac.is_empty() {
                    t += format!("0.{frac}").parse::<f64>().unwrap_or(0.0);
                }
            }
            // A date just before the time makes it absolute, so midnight crossings work.
            if let Some(d) = i.checked_sub(11).and_then(|s| line.get(s..i - 1)) {
                let db = d.as_bytes();
                if db.len() == 10 && (db[4] == b'-' || db[4] == b'/') && db[7] == db[4] {
                    if let (Ok(y), Ok(mo), Ok(da)) = (
                        d[0..4].parse::<i64>(),
                        d[5..7].parse::<i64>(),
                        d[8..10].parse::<i64>(),
                    ) {
                        t += (days_from_civil(y, mo, da) * 86_400) as f64;
                    }
                }
            }
            return Some(t);
        }
    }
    // Relative seconds as printed by some tools: "[12.345]" or "12.345 " at the start.
    let s = line.trim_start().trim_start_matches('[');
    let num: String = s
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    if num.contains('.') && num.len() >= 3 && s[num.len()..].starts_with([']', ' ', '\t']) {
        return num.parse().ok();
    }
    None
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Reads a text log. A message starts at a request or status line (possibly after a log prefix ending in a
/// timestamp); its header block runs until a blank line or a line that is not a header; the body runs until the next
/// start line. Trailing non-SDP lines before a start line are log noise, scanned for that message's time.
pub fn parse_text(text: &str) -> Trace {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut starts: Vec<(usize, StartLine)> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some(s) = parse_start_line(l.trim_start()) {
            starts.push((i, s));
        }
    }
    let mut trace = Trace::default();
    for (k, (at, start)) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map(|s| s.0).unwrap_or(lines.len());
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut i = at + 1;
        while i < end {
            let l = lines[i];
            if l.trim().is_empty() {
                i += 1;
                break;
            }
            if (l.starts_with(' ') || l.starts_with('\t')) && !headers.is_empty() {
                if let Some(last) = headers.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(l.trim());
                }
                i += 1;
                continue;
            }
            match header_line(l) {
                Some((n, v)) => headers.push((n.to_string(), v.to_string())),
                None => break,
            }
            i += 1;
        }
        let mut body_lines: Vec<&str> = lines[i.min(end)..end].to_vec();
        // Drop trailing log noise (separators, timestamps for the next message), keeping SDP-shaped lines.
        while let Some(last) = body_lines.last() {
            let t = last.trim();
            let sdp_like =
                t.len() >= 2 && t.as_bytes()[1] == b'=' && t.as_bytes()[0].is_ascii_lowercase();
            if t.is_empty() || (!sdp_like && !t.starts_with("<<")) {
                body_lines.pop();
            } else {
                break;
            }
        }
        let body = body_lines.join("\r\n");
        // Time: on the start line itself (prefix), else on the closest noise line above it.
        let mut time = None;
        let prefix_len = lines[*at].len() - lines[*at].trim_start().len();
        if prefix_len > 0 {
            time = find_timestamp(&lines[*at][..prefix_len]);
        }
        if time.is_none() {
            let floor = if k == 0 { 0 } else { starts[k - 1].0 + 1 };
            // Up to three log lines above the message (e.g. "recv 812 bytes from ... at 10:15:00.123:" then a
            // row of dashes); stop at anything belonging to the previous message.
            let mut looked = 0;
            for j in (floor..*at).rev() {
                let t = lines[j].trim();
                if t.is_empty() {
                    continue;
                }
                if looked == 3 {
                    break;
                }
                looked += 1;
                let sdp_like = t.len() >= 2 && t.as_bytes()[1] == b'=';
                let header_like = header_line(t)
                    .is_some_and(|(n, _)| n.starts_with(|c: char| c.is_ascii_alphabetic()));
                if sdp_like || header_like {
                    break;
                }
                if let Some(ts) = find_timestamp(t) {
                    time = Some(ts);
                    break;
                }
            }
        }
        trace.messages.push(Message {
            index: trace.messages.len() + 1,
            origin: at + 1,
            time,
            src: None,
            dst: None,
            start: start.clone(),
            headers,
            body,
        });
    }
    trace
}

/// Splits one byte buffer (a UDP datagram or a TCP stream) into SIP messages using Content-Length.
fn parse_wire(
    buf: &[u8],
    time: f64,
    src: &str,
    dst: &str,
    origin: usize,
    trace: &mut Trace,
) -> usize {
    let mut off = 0;
    while off < buf.len() {
        // Skip CRLF keep-alives.
        while off < buf.len() && (buf[off] == b'\r' || buf[off] == b'\n') {
            off += 1;
        }
        let rest = &buf[off..];
        let Some(hdr_end) = find(rest, b"\r\n\r\n")
            .map(|i| i + 4)
            .or_else(|| find(rest, b"\n\n").map(|i| i + 2))
        else {
            break; // incomplete: wait for more stream data
        };
        let head = String::from_utf8_lossy(&rest[..hdr_end]);
        let mut lines = head.lines();
        let Some(start) = lines.next().and_then(parse_start_line) else {
            // Not SIP (or we lost sync): drop the buffer.
            return buf.len();
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        for l in lines {
            if l.trim().is_empty() {
                break;
            }
            if l.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(l.trim());
                }
            } else if let Some((n, v)) = header_line(l) {
                headers.push((n.to_string(), v.to_string()));
            }
        }
        let clen = headers
            .iter()
            .find(|(n, _)| expand_compact(n).eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if rest.len() < hdr_end + clen {
            break; // body not complete yet
        }
        let body = String::from_utf8_lossy(&rest[hdr_end..hdr_end + clen]).into_owned();
        trace.messages.push(Message {
            index: trace.messages.len() + 1,
            origin,
            time: Some(time),
            src: Some(src.to_string()),
            dst: Some(dst.to_string()),
            start,
            headers,
            body,
        });
        off += hdr_end + clen;
    }
    off
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// A decoded transport segment.
struct Segment<'a> {
    tcp: bool,
    src: String,
    dst: String,
    seq: u32,
    payload: &'a [u8],
}

/// Decodes link, IP (v4/v6) and UDP/TCP headers by hand: the few formats captures of SIP come in.
fn decode(linktype: u32, data: &[u8]) -> Option<Segment<'_>> {
    let (ethertype, ip) = match linktype {
        1 => {
            // Ethernet, with up to two VLAN tags.
            let mut off = 12;
            let mut et = u16::from_be_bytes([*data.get(off)?, *data.get(off + 1)?]);
            while et == 0x8100 || et == 0x88a8 {
                off += 4;
                et = u16::from_be_bytes([*data.get(off)?, *data.get(off + 1)?]);
            }
            (et, data.get(off + 2..)?)
        }
        113 => (
            u16::from_be_bytes([*data.get(14)?, *data.get(15)?]),
            data.get(16..)?,
        ), // Linux cooked
        276 => (
            u16::from_be_bytes([*data.first()?, *data.get(1)?]),
            data.get(20..)?,
        ), // Linux cooked v2
        0 | 108 => {
            // BSD loopback: 4-byte address family in host order.
            let fam = u32::from_le_bytes(data.get(0..4)?.try_into().ok()?);
            let fam_be = u32::from_be_bytes(data.get(0..4)?.try_into().ok()?);
            let et = if fam == 2 || fam_be == 2 {
                0x0800
            } else {
                0x86dd
            };
            (et, data.get(4..)?)
        }
        101 | 12 | 14 | 228 | 229 => {
            let v = *data.first()? >> 4;
            (if v == 4 { 0x0800 } else { 0x86dd }, data)
        }
        _ => return None,
    };
    let (proto, src_ip, dst_ip, l4) = match ethertype {
        0x0800 => {
            let ihl = ((*ip.first()? & 0x0f) as usize) * 4;
            let total = u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]) as usize;
            let frag = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
            if frag & 0x1fff != 0 {
                return None; // later fragments: not reassembled
            }
            let s = std::net::Ipv4Addr::new(*ip.get(12)?, *ip.get(13)?, *ip.get(14)?, *ip.get(15)?);
            let d = std::net::Ipv4Addr::new(*ip.get(16)?, *ip.get(17)?, *ip.get(18)?, *ip.get(19)?);
            let end = total.min(ip.len()).max(ihl);
            (*ip.get(9)?, s.to_string(), d.to_string(), ip.get(ihl..end)?)
        }
        0x86dd => {
            let plen = u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]) as usize;
            let mut next = *ip.get(6)?;
            let s: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            let mut off = 40;
            // Hop-by-hop, routing, destination options.
            while matches!(next, 0 | 43 | 60) {
                next = *ip.get(off)?;
                off += (*ip.get(off + 1)? as usize + 1) * 8;
            }
            let end = (40 + plen).min(ip.len()).max(off);
            (
                next,
                format!("[{}]", std::net::Ipv6Addr::from(s)),
                format!("[{}]", std::net::Ipv6Addr::from(d)),
                ip.get(off..end)?,
            )
        }
        _ => return None,
    };
    let sp = u16::from_be_bytes([*l4.first()?, *l4.get(1)?]);
    let dp = u16::from_be_bytes([*l4.get(2)?, *l4.get(3)?]);
    match proto {
        17 => Some(Segment {
            tcp: false,
            src: format!("{src_ip}:{sp}"),
            dst: format!("{dst_ip}:{dp}"),
            seq: 0,
            payload: l4.get(8..)?,
        }),
        6 => {
            let seq = u32::from_be_bytes(l4.get(4..8)?.try_into().ok()?);
            let doff = ((*l4.get(12)? >> 4) as usize) * 4;
            Some(Segment {
                tcp: true,
                src: format!("{src_ip}:{sp}"),
                dst: format!("{dst_ip}:{dp}"),
                seq,
                payload: l4.get(doff..)?,
            })
        }
        _ => None,
    }
}

/// Per-direction TCP reassembly state: in-order bytes only, retransmissions dropped.
#[derive(Default)]
struct Stream {
    next_seq: Option<u32>,
    buf: Vec<u8>,
}

/// Reads a pcap or pcapng capture.
pub fn parse_pcap(bytes: &[u8]) -> Result<Trace, CliError> {
    let mut packets: Vec<(f64, u32, Vec<u8>)> = Vec::new();
    let magic = bytes.get(0..4).unwrap_or_default();
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        let mut r = pcap_file::pcapng::PcapNgReader::new(bytes)
            .map_err(|e| CliError::Input(format!("bad pcapng file: {e}")))?;
        let mut linktypes: Vec<u32> = Vec::new();
        while let Some(block) = r.next_block() {
            let block = block.map_err(|e| CliError::Input(format!("bad pcapng block: {e}")))?;
            match block {
                pcap_file::pcapng::Block::InterfaceDescription(idb) => {
                    linktypes.push(u32::from(idb.linktype))
                }
                pcap_file::pcapng::Block::EnhancedPacket(p) => {
                    let lt = linktypes.get(p.interface_id as usize).copied().unwrap_or(1);
                    packets.push((p.timestamp.as_secs_f64(), lt, p.data.into_owned()));
                }
                pcap_file::pcapng::Block::SimplePacket(p) => {
                    let lt = linktypes.first().copied().unwrap_or(1);
                    packets.push((0.0, lt, p.data.into_owned()));
                }
                _ => {}
            }
        }
    } else {
        let mut r = pcap_file::pcap::PcapReader::new(bytes)
            .map_err(|e| CliError::Input(format!("bad pcap file: {e}")))?;
        let lt = u32::from(r.header().datalink);
        while let Some(p) = r.next_packet() {
            match p {
                Ok(p) => packets.push((p.timestamp.as_secs_f64(), lt, p.data.into_owned())),
                // A capture cut short (tcpdump killed) still gives what it has.
                Err(_) => break,
            }
        }
    }

    let mut trace = Trace::default();
    let mut streams: HashMap<(String, String), Stream> = HashMap::new();
    let (mut undecoded, mut tls_seen) = (0usize, false);
    for (n, (ts, lt, data)) in packets.iter().enumerate() {
        let Some(seg) = decode(*lt, data) else {
            undecoded += 1;
            continue;
        };
        if seg.payload.is_empty() {
            continue;
        }
        if seg.tcp {
            // TLS record header: handshake/application data on a SIP port means the leg is encrypted.
            if matches!(seg.payload.first(), Some(0x16) | Some(0x17))
                && seg.payload.get(1) == Some(&0x03)
            {
                tls_seen = true;
                continue;
            }
            let st = streams
                .entry((seg.src.clone(), seg.dst.clone()))
                .or_default();
            let len = seg.payload.len() as u32;
            match st.next_seq {
                Some(next)
                    if seg.seq.wrapping_sub(next) as i32 <= 0
                        && seg.seq.wrapping_add(len).wrapping_sub(next) as i32 <= 0 =>
                {
                    continue; // retransmission
                }
                Some(next) if seg.seq != next => {
                    // Gap or partial overlap: keep the new bytes only.
                    let skip = next.wrapping_sub(seg.seq) as usize;
                    if (next.wrapping_sub(seg.seq) as i32) > 0 && skip < seg.payload.len() {
                        st.buf.extend_from_slice(&seg.payload[skip..]);
                    } else {
                        st.buf.clear();
                        st.buf.extend_from_slice(seg.payload);
                    }
                }
                _ => st.buf.extend_from_slice(seg.payload),
            }
            st.next_seq = Some(seg.seq.wrapping_add(len));
            let buf = std::mem::take(&mut st.buf);
            let used = parse_wire(&buf, *ts, &seg.src, &seg.dst, n + 1, &mut trace);
            if let Some(st) = streams.get_mut(&(seg.src.clone(), seg.dst.clone())) {
                st.buf = buf[used.min(buf.len())..].to_vec();
            }
        } else {
            if let Some(kind) = media_kind(seg.payload) {
                trace.media.push(MediaPacket {
                    time: *ts,
                    src: seg.src.clone(),
                    dst: seg.dst.clone(),
                    kind,
                });
                continue;
            }
            parse_wire(seg.payload, *ts, &seg.src, &seg.dst, n + 1, &mut trace);
        }
    }
    if tls_seen {
        trace.notes.push(
            "TLS records seen in the capture: encrypted SIP cannot be read; capture the unencrypted leg (between proxy \
             and PBX) or log SIP on the server"
                .into(),
        );
    }
    if undecoded > 0 {
        trace.notes.push(format!(
            "{undecoded} packet(s) of an unsupported link or network type were skipped"
        ));
    }
    Ok(trace)
}

/// Reads a trace file, guessing text vs pcap from its first bytes unless told.
pub fn read_file(path: &Path, format: Option<Format>) -> Result<Trace, CliError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::Input(format!("cannot read {}: {e}", path.display())))?;
    let magic = bytes.get(0..4).unwrap_or_default();
    let looks_pcap = matches!(
        magic,
        [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x0a, 0x0d, 0x0d, 0x0a]
    );
    let trace = match format.unwrap_or(if looks_pcap {
        Format::Pcap
    } else {
        Format::Text
    }) {
        Format::Pcap => parse_pcap(&bytes)?,
        Format::Text => parse_text(&String::from_utf8_lossy(&bytes)),
    };
    if trace.messages.is_empty() {
        let mut why = format!("no SIP message found in {}", path.display());
        for n in &trace.notes {
            why.push_str("; ");
            why.push_str(n);
        }
        return Err(CliError::Input(why));
    }
    Ok(trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(find_timestamp("12:00:01.5 recv"), Some(43201.5));
        let t = find_timestamp("2025-05-07 12:00:01.250 sent to 1.2.3.4").unwrap_or(0.0);
        assert!((t - (1_746_619_201.25)).abs() < 1e-6, "{t}");
        assert_eq!(find_timestamp("[3.250] INVITE"), Some(3.25));
        assert_eq!(find_timestamp("v=0"), None);
    }

    #[test]
    fn uris() {
        let u = uri_parts("sip:+1555;tgrp=a@[2001:db8::1]:5061;transport=tls")
            .unwrap_or_else(|| unreachable!());
        assert_eq!(u.user.as_deref(), Some("+1555"));
        assert_eq!(u.host, "2001:db8::1");
        assert_eq!(u.port, Some(5061));
        assert_eq!(user_number("+1555;tgrp=a"), "+1555");
        assert_eq!(param("<sip:a@b;x=1>;tag=abc", "tag"), Some("abc"));
        assert_eq!(
            split_list("<sip:a;lr>, <sip:b,c>"),
            vec!["<sip:a;lr>", "<sip:b,c>"]
        );
    }

    #[test]
    fn text_split() {
        let t = parse_text("noise\n2025-01-01 00:00:00 x\nOPTIONS sip:a@b SIP/2.0\nCall-ID: 1\nCSeq: 1 OPTIONS\n\n---\n00:00:05 y\nSIP/2.0 200 OK\nCSeq: 1 OPTIONS\nContent-Type: application/sdp\nv=0\nm=audio 1 RTP/SAVP 0\n");
        assert_eq!(t.messages.len(), 2);
        assert_eq!(t.messages[0].call_id(), "1");
        assert_eq!(t.messages[1].body.lines().count(), 2);
        assert_eq!(t.messages[1].time, Some(5.0));
    }

    #[test]
    fn freeswitch_siptrace_layout() {
        let log = "recv 400 bytes from tls/[2803:6080::1]:57363 at 10:15:00.250:\n\
            ------------------------------------------------------------------------\n\
            BYE sip:+1555@sip.example.com SIP/2.0\nCall-ID: a\nCSeq: 2 BYE\nContent-Length: 0\n\n\
            ------------------------------------------------------------------------\n\
            send 300 bytes to tls/[2803:6080::1]:57363 at 10:15:00.251:\n\
            ------------------------------------------------------------------------\n\
            SIP/2.0 200 OK\nCall-ID: a\nCSeq: 2 BYE\nContent-Length: 0\n";
        let t = parse_text(log);
        assert_eq!(t.messages.len(), 2);
        assert_eq!(t.messages[0].time, Some(36900.25));
        assert_eq!(t.messages[1].time, Some(36900.251));
        assert!(t.messages[0].body.is_empty());
    }

    use proptest::prelude::*;

    const SAMPLE: &str = "INVITE sip:+1555@wa.meta.vc;transport=tls SIP/2.0\r\nFrom: <sip:+1666@a.example>;tag=1\r\n\
        To: <sip:+1555@wa.meta.vc>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nProxy-Authorization: Digest username=\"1666\", \
        realm=\"wa.meta.vc\", nonce=\"n\", uri=\"sip:x\", response=\"r\", qop=auth, nc=00000001, cnonce=\"c\"\r\n\
        Content-Type: application/sdp\r\nContent-Length: 40\r\n\r\nv=0\r\nm=audio 1 UDP/TLS/RTP/SAVPF 111\r\na=setup:\r\n";

    proptest! {
        // Whatever a trace contains, reading and diagnosing it never panics.
        #[test]
        fn text_never_panics(s in "\\PC{0,400}") {
            let t = parse_text(&s);
            let _ = crate::diagnose::diagnose(&t, Some("a.example"), Some("pw"));
        }

        #[test]
        fn mutated_sip_never_panics(cut in 0usize..400, junk in "[\\x00-\\x7f\u{e9}\u{4e2d}]{0,40}") {
            let mut s = SAMPLE.to_string();
            let at = s.char_indices().map(|(i, _)| i).nth(cut % SAMPLE.len()).unwrap_or(0);
            s.insert_str(at, &junk);
            let mut t = parse_text(&s);
            t.messages.extend(parse_text(&s.replace("\r\n", "\n")).messages);
            let _ = crate::diagnose::diagnose(&t, None, Some("pw"));
        }

        #[test]
        fn pcap_never_panics(body in proptest::collection::vec(any::<u8>(), 0..600), lt in prop_oneof![Just(1u32), Just(101), Just(113), Just(276), Just(0)]) {
            let mut b = Vec::new();
            b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
            b.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0]);
            b.extend_from_slice(&lt.to_le_bytes());
            b.extend_from_slice(&1u32.to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
            b.extend_from_slice(&(body.len() as u32).to_le_bytes());
            b.extend_from_slice(&(body.len() as u32).to_le_bytes());
            b.extend_from_slice(&body);
            if let Ok(t) = parse_pcap(&b) {
                let _ = crate::diagnose::diagnose(&t, None, None);
            }
            let _ = parse_pcap(&body);
        }
    }
}
