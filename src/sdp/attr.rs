//! Typed views of the SDP lines wacall reads or writes (o=, c=, t=, m= and the attributes of RFC 3264, 4145,
//! 4572/8122, 5576, 5761, 8839, 8843). Each type parses from the line's value and prints back with `Display`.

use std::fmt;
use std::net::IpAddr;

use super::{Error, Result};

fn field(field: &'static str, reason: &'static str) -> Error {
    Error::Field { field, reason }
}

/// An attribute line split at its first `:` (`a=rtcp-mux` has no value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// The attribute name (`rtpmap`, `candidate`, ...).
    pub name: &'a str,
    /// The text after the first `:`, if any.
    pub value: Option<&'a str>,
}

impl<'a> Attribute<'a> {
    /// Splits the value of an `a=` line.
    pub fn split(s: &'a str) -> Attribute<'a> {
        match s.split_once(':') {
            Some((name, value)) => Attribute {
                name,
                value: Some(value),
            },
            None => Attribute {
                name: s,
                value: None,
            },
        }
    }
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Username (`-` when none).
    pub username: String,
    /// Session id (digits, kept as text since some peers exceed 64 bits).
    pub session_id: String,
    /// Session version.
    pub session_version: String,
    /// Network type (`IN`).
    pub nettype: String,
    /// Address type (`IP4`/`IP6`).
    pub addrtype: String,
    /// Unicast address or host name.
    pub address: String,
}

impl Origin {
    /// Parses the value of an `o=` line.
    pub fn parse(s: &str) -> Result<Origin> {
        let mut it = s.split_ascii_whitespace();
        let mut next = || {
            it.next()
                .map(str::to_owned)
                .ok_or(field("o=", "expected 6 fields"))
        };
        let o = Origin {
            username: next()?,
            session_id: next()?,
            session_version: next()?,
            nettype: next()?,
            addrtype: next()?,
            address: next()?,
        };
        Ok(o)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.nettype,
            self.addrtype,
            self.address
        )
    }
}

/// Address type of a `c=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrType {
    /// `IP4`.
    Ip4,
    /// `IP6`.
    Ip6,
}

impl AddrType {
    /// `IP4` or `IP6`.
    pub fn as_str(self) -> &'static str {
        match self {
            AddrType::Ip4 => "IP4",
            AddrType::Ip6 => "IP6",
        }
    }

    /// The address type of an IP address.
    pub fn of(ip: IpAddr) -> AddrType {
        match ip {
            IpAddr::V4(_) => AddrType::Ip4,
            IpAddr::V6(_) => AddrType::Ip6,
        }
    }
}

/// `c=IN IP4 192.0.2.1` / `c=IN IP6 2001:db8::1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Address type.
    pub addrtype: AddrType,
    /// The address as written (may carry `/ttl` for multicast, or be a host name).
    pub address: String,
}

impl Connection {
    /// A `c=` for a unicast IP address.
    pub fn from_ip(ip: IpAddr) -> Connection {
        Connection {
            addrtype: AddrType::of(ip),
            address: ip.to_string(),
        }
    }

    /// Parses the value of a `c=` line (network type must be `IN`).
    pub fn parse(s: &str) -> Result<Connection> {
        let mut it = s.split_ascii_whitespace();
        if it.next() != Some("IN") {
            return Err(field("c=", "network type is not IN"));
        }
        let addrtype = match it.next() {
            Some("IP4") => AddrType::Ip4,
            Some("IP6") => AddrType::Ip6,
            _ => return Err(field("c=", "address type is not IP4/IP6")),
        };
        let address = it.next().ok_or(field("c=", "missing address"))?.to_owned();
        if it.next().is_some() {
            return Err(field("c=", "trailing fields"));
        }
        Ok(Connection { addrtype, address })
    }

    /// The IP address, if the address is a literal of the declared type (any `/ttl` stripped).
    pub fn ip(&self) -> Option<IpAddr> {
        let a = self.address.split('/').next().unwrap_or("");
        let ip: IpAddr = a.parse().ok()?;
        (AddrType::of(ip) == self.addrtype).then_some(ip)
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IN {} {}", self.addrtype.as_str(), self.address)
    }
}

/// `t=<start> <stop>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Start time (NTP seconds; 0 = unbounded).
    pub start: u64,
    /// Stop time (0 = unbounded).
    pub stop: u64,
}

impl Timing {
    /// Parses the value of a `t=` line.
    pub fn parse(s: &str) -> Result<Timing> {
        let (a, b) = s
            .trim()
            .split_once(' ')
            .ok_or(field("t=", "expected 2 fields"))?;
        Ok(Timing {
            start: a.parse().map_err(|_| field("t=", "bad start"))?,
            stop: b.trim().parse().map_err(|_| field("t=", "bad stop"))?,
        })
    }
}

/// `m=<media> <port>[/<count>] <proto> <fmt> ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaLine {
    /// `audio`, `video`, ...
    pub media: String,
    /// Transport port (0 = rejected/disabled stream).
    pub port: u16,
    /// Number of ports, when written `port/count`.
    pub port_count: Option<u16>,
    /// Transport protocol (`RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, ...).
    pub proto: String,
    /// Formats (payload type numbers for RTP).
    pub formats: Vec<String>,
}

impl MediaLine {
    /// Parses the value of an `m=` line.
    pub fn parse(s: &str) -> Result<MediaLine> {
        let mut it = s.split_ascii_whitespace();
        let media = it.next().ok_or(field("m=", "missing media"))?.to_owned();
        let port_s = it.next().ok_or(field("m=", "missing port"))?;
        let (port, port_count) = match port_s.split_once('/') {
            Some((p, n)) => (
                p,
                Some(n.parse().map_err(|_| field("m=", "bad port count"))?),
            ),
            None => (port_s, None),
        };
        let port = port.parse().map_err(|_| field("m=", "bad port"))?;
        let proto = it.next().ok_or(field("m=", "missing proto"))?.to_owned();
        let formats = it.map(str::to_owned).collect();
        Ok(MediaLine {
            media,
            port,
            port_count,
            proto,
            formats,
        })
    }

    /// The formats that are RTP payload type numbers.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter(|pt| *pt < 128)
    }

    /// Whether the proto is one of the SRTP profiles with SDES keys (`RTP/SAVP`, `RTP/SAVPF`).
    pub fn is_sdes_proto(&self) -> bool {
        matches!(self.proto.as_str(), "RTP/SAVP" | "RTP/SAVPF")
    }

    /// Whether the proto is DTLS-SRTP (`UDP/TLS/RTP/SAVP[F]`).
    pub fn is_dtls_proto(&self) -> bool {
        matches!(
            self.proto.as_str(),
            "UDP/TLS/RTP/SAVPF" | "UDP/TLS/RTP/SAVP"
        )
    }

    /// Whether the proto is plain RTP (`RTP/AVP`, `RTP/AVPF`).
    pub fn is_rtp_proto(&self) -> bool {
        matches!(self.proto.as_str(), "RTP/AVP" | "RTP/AVPF")
    }
}

impl fmt::Display for MediaLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.media, self.port)?;
        if let Some(n) = self.port_count {
            write!(f, "/{n}")?;
        }
        write!(f, " {}", self.proto)?;
        for fmt_ in &self.formats {
            write!(f, " {fmt_}")?;
        }
        Ok(())
    }
}

/// `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// Payload type.
    pub pt: u8,
    /// Encoding name as written (`opus`, `telephone-event`, `PCMU`).
    pub encoding: String,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Channels (audio), if given.
    pub channels: Option<u16>,
}

impl RtpMap {
    /// Parses the value of an `a=rtpmap` attribute.
    pub fn parse(s: &str) -> Result<RtpMap> {
        let (pt, rest) = s
            .trim()
            .split_once(' ')
            .ok_or(field("a=rtpmap", "missing encoding"))?;
        let pt: u8 = pt
            .parse()
            .map_err(|_| field("a=rtpmap", "bad payload type"))?;
        if pt > 127 {
            return Err(field("a=rtpmap", "payload type above 127"));
        }
        let mut it = rest.trim().split('/');
        let encoding = it.next().unwrap_or("").to_owned();
        if encoding.is_empty() {
            return Err(field("a=rtpmap", "missing encoding"));
        }
        let clock_rate = it
            .next()
            .and_then(|c| c.parse().ok())
            .ok_or(field("a=rtpmap", "bad clock rate"))?;
        let channels = match it.next() {
            Some(c) => Some(c.parse().map_err(|_| field("a=rtpmap", "bad channels"))?),
            None => None,
        };
        Ok(RtpMap {
            pt,
            encoding,
            clock_rate,
            channels,
        })
    }

    /// Whether this is opus/48000 (the only codec Meta speaks).
    pub fn is_opus(&self) -> bool {
        self.encoding.eq_ignore_ascii_case("opus") && self.clock_rate == 48000
    }

    /// Whether this is telephone-event (RFC 4733) at `rate` Hz.
    pub fn is_telephone_event(&self, rate: u32) -> bool {
        self.encoding.eq_ignore_ascii_case("telephone-event") && self.clock_rate == rate
    }
}

impl fmt::Display for RtpMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.pt, self.encoding, self.clock_rate)?;
        if let Some(c) = self.channels {
            write!(f, "/{c}")?;
        }
        Ok(())
    }
}

/// `a=rtcp-fb:<pt|*> <type> [<subtype>]` (RFC 4585).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpFb {
    /// Payload type, `None` for `*`.
    pub pt: Option<u8>,
    /// The feedback type and parameters (`transport-cc`, `nack pli`).
    pub value: String,
}

impl RtcpFb {
    /// Parses the value of an `a=rtcp-fb` attribute.
    pub fn parse(s: &str) -> Result<RtcpFb> {
        let (pt, rest) = s
            .trim()
            .split_once(' ')
            .ok_or(field("a=rtcp-fb", "missing type"))?;
        let pt = if pt == "*" {
            None
        } else {
            Some(
                pt.parse()
                    .map_err(|_| field("a=rtcp-fb", "bad payload type"))?,
            )
        };
        Ok(RtcpFb {
            pt,
            value: rest.trim().to_owned(),
        })
    }
}

/// Hash function of an `a=fingerprint` (RFC 8122).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashFunc {
    /// `sha-1`.
    Sha1,
    /// `sha-224`.
    Sha224,
    /// `sha-256` (what wacall sends).
    Sha256,
    /// `sha-384`.
    Sha384,
    /// `sha-512`.
    Sha512,
}

impl HashFunc {
    /// The SDP name (`sha-256`).
    pub fn as_str(self) -> &'static str {
        match self {
            HashFunc::Sha1 => "sha-1",
            HashFunc::Sha224 => "sha-224",
            HashFunc::Sha256 => "sha-256",
            HashFunc::Sha384 => "sha-384",
            HashFunc::Sha512 => "sha-512",
        }
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashFunc::Sha1 => 20,
            HashFunc::Sha224 => 28,
            HashFunc::Sha256 => 32,
            HashFunc::Sha384 => 48,
            HashFunc::Sha512 => 64,
        }
    }

    fn parse(s: &str) -> Option<HashFunc> {
        const ALL: [HashFunc; 5] = [
            HashFunc::Sha1,
            HashFunc::Sha224,
            HashFunc::Sha256,
            HashFunc::Sha384,
            HashFunc::Sha512,
        ];
        ALL.into_iter().find(|h| h.as_str().eq_ignore_ascii_case(s))
    }
}

/// `a=fingerprint:<hash> <hex:hex:...>`: the certificate fingerprint a DTLS peer must present.
#[derive(Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Hash function.
    pub hash: HashFunc,
    /// Digest bytes (length matches `hash`).
    pub bytes: Vec<u8>,
}

impl Fingerprint {
    /// Parses the value of an `a=fingerprint` attribute (hex in either case).
    pub fn parse(s: &str) -> Result<Fingerprint> {
        let (h, hex) = s
            .trim()
            .split_once(' ')
            .ok_or(field("a=fingerprint", "missing digest"))?;
        let hash = HashFunc::parse(h).ok_or(field("a=fingerprint", "unknown hash function"))?;
        let bytes = parse_colon_hex(hex.trim()).ok_or(field("a=fingerprint", "bad hex digest"))?;
        if bytes.len() != hash.digest_len() {
            return Err(field("a=fingerprint", "digest length does not match hash"));
        }
        Ok(Fingerprint { hash, bytes })
    }

    /// The digest as upper-case colon-separated hex (`AB:CD:...`), as some peers require.
    pub fn hex(&self) -> String {
        colon_hex(&self.bytes)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.hash.as_str(), self.hex())
    }
}

/// Upper-case colon-separated hex of `bytes`.
pub(crate) fn colon_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// Parses `AB:cd:01` into bytes; each group must be exactly two hex digits.
pub(crate) fn parse_colon_hex(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || s.len() > 64 * 3 {
        return None;
    }
    s.split(':')
        .map(|g| {
            if g.len() == 2 {
                u8::from_str_radix(g, 16).ok()
            } else {
                None
            }
        })
        .collect()
}

/// `a=setup` (RFC 4145): who opens the DTLS association.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// `active`: this side is the DTLS client.
    Active,
    /// `passive`: this side is the DTLS server.
    Passive,
    /// `actpass`: either (offers only).
    ActPass,
    /// `holdconn`.
    HoldConn,
}

impl Setup {
    /// Parses the value of `a=setup`.
    pub fn parse(s: &str) -> Result<Setup> {
        match s.trim() {
            v if v.eq_ignore_ascii_case("active") => Ok(Setup::Active),
            v if v.eq_ignore_ascii_case("passive") => Ok(Setup::Passive),
            v if v.eq_ignore_ascii_case("actpass") => Ok(Setup::ActPass),
            v if v.eq_ignore_ascii_case("holdconn") => Ok(Setup::HoldConn),
            _ => Err(field("a=setup", "unknown role")),
        }
    }

    /// The SDP token.
    pub fn as_str(self) -> &'static str {
        match self {
            Setup::Active => "active",
            Setup::Passive => "passive",
            Setup::ActPass => "actpass",
            Setup::HoldConn => "holdconn",
        }
    }
}

/// Media direction (RFC 3264), from the point of view of the SDP's author.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `sendrecv`.
    SendRecv,
    /// `sendonly`.
    SendOnly,
    /// `recvonly`.
    RecvOnly,
    /// `inactive`.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction named by an attribute name, if it is one.
    pub fn from_attr_name(s: &str) -> Option<Direction> {
        match s {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    fn bits(self) -> (bool, bool) {
        match self {
            Direction::SendRecv => (true, true),
            Direction::SendOnly => (true, false),
            Direction::RecvOnly => (false, true),
            Direction::Inactive => (false, false),
        }
    }

    fn from_bits(send: bool, recv: bool) -> Direction {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// The same flow seen from the other end (`sendonly` <-> `recvonly`).
    pub fn reversed(self) -> Direction {
        let (s, r) = self.bits();
        Direction::from_bits(r, s)
    }

    /// The most an answerer may use in reply to an offer with direction `self` (RFC 3264 6.1).
    pub fn answer_limit(self) -> Direction {
        self.reversed()
    }

    /// Both restrictions at once.
    pub fn intersect(self, other: Direction) -> Direction {
        let (s1, r1) = self.bits();
        let (s2, r2) = other.bits();
        Direction::from_bits(s1 && s2, r1 && r2)
    }
}

/// `a=group:<semantics> <mid> ...` (RFC 5888, 8843).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// `BUNDLE`, `LS`, ...
    pub semantics: String,
    /// Identification tags of the grouped sections.
    pub mids: Vec<String>,
}

impl Group {
    /// Parses the value of `a=group`.
    pub fn parse(s: &str) -> Result<Group> {
        let mut it = s.split_ascii_whitespace();
        let semantics = it
            .next()
            .ok_or(field("a=group", "missing semantics"))?
            .to_owned();
        Ok(Group {
            semantics,
            mids: it.map(str::to_owned).collect(),
        })
    }
}

/// `a=ssrc:<id> <attribute>[:<value>]` (RFC 5576).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ssrc {
    /// The SSRC.
    pub id: u32,
    /// Source attribute name (`cname`, `msid`, ...).
    pub attribute: String,
    /// Its value.
    pub value: Option<String>,
}

impl Ssrc {
    /// Parses the value of `a=ssrc`.
    pub fn parse(s: &str) -> Result<Ssrc> {
        let (id, rest) = s.trim().split_once(' ').unwrap_or((s.trim(), ""));
        let id = id.parse().map_err(|_| field("a=ssrc", "bad SSRC"))?;
        let a = Attribute::split(rest.trim());
        Ok(Ssrc {
            id,
            attribute: a.name.to_owned(),
            value: a.value.map(str::to_owned),
        })
    }
}

/// `a=rtcp:<port> [IN IP4 <addr>]` (RFC 3605).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtcp {
    /// RTCP port.
    pub port: u16,
    /// RTCP address, if given.
    pub connection: Option<Connection>,
}

impl Rtcp {
    /// Parses the value of `a=rtcp`.
    pub fn parse(s: &str) -> Result<Rtcp> {
        let s = s.trim();
        let (port, rest) = s.split_once(' ').unwrap_or((s, ""));
        let port = port.parse().map_err(|_| field("a=rtcp", "bad port"))?;
        let connection = if rest.trim().is_empty() {
            None
        } else {
            Some(Connection::parse(rest.trim())?)
        };
        Ok(Rtcp { port, connection })
    }
}

impl fmt::Display for Rtcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.port)?;
        if let Some(c) = &self.connection {
            write!(f, " {c}")?;
        }
        Ok(())
    }
}

/// ICE candidate type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateType {
    /// `host`.
    Host,
    /// `srflx` (server reflexive).
    Srflx,
    /// `prflx` (peer reflexive).
    Prflx,
    /// `relay` (TURN).
    Relay,
}

impl CandidateType {
    /// The SDP token.
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateType::Host => "host",
            CandidateType::Srflx => "srflx",
            CandidateType::Prflx => "prflx",
            CandidateType::Relay => "relay",
        }
    }

    /// Type preference recommended by RFC 8445 5.1.2.2.
    pub fn preference(self) -> u32 {
        match self {
            CandidateType::Host => 126,
            CandidateType::Prflx => 110,
            CandidateType::Srflx => 100,
            CandidateType::Relay => 0,
        }
    }
}

/// `a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> [raddr <a>]
/// [rport <p>] *(<ext-name> <ext-value>)` (RFC 8839).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Foundation.
    pub foundation: String,
    /// Component id (1 = RTP, 2 = RTCP).
    pub component: u16,
    /// Transport (`udp`, `tcp`), as written.
    pub transport: String,
    /// Priority.
    pub priority: u32,
    /// Connection address as written (IPv4, IPv6, or an FQDN / mDNS name).
    pub address: String,
    /// Port.
    pub port: u16,
    /// Candidate type.
    pub typ: CandidateType,
    /// Related address.
    pub raddr: Option<String>,
    /// Related port.
    pub rport: Option<u16>,
    /// Extension attributes in order (`generation 0`, `network-cost 50`, `tcptype passive`).
    pub extensions: Vec<(String, String)>,
}

impl Candidate {
    /// Parses the value of `a=candidate` (an optional leading `candidate:` is accepted too, as trickle
    /// messages carry it).
    pub fn parse(s: &str) -> Result<Candidate> {
        const F: &str = "a=candidate";
        let s = s.trim();
        let s = s.strip_prefix("candidate:").unwrap_or(s);
        let mut it = s.split_ascii_whitespace();
        let mut next = |what: &'static str| it.next().ok_or(field(F, what));
        let foundation = next("missing foundation")?.to_owned();
        let component = next("missing component")?
            .parse()
            .map_err(|_| field(F, "bad component"))?;
        let transport = next("missing transport")?.to_owned();
        let priority = next("missing priority")?
            .parse()
            .map_err(|_| field(F, "bad priority"))?;
        let address = next("missing address")?.to_owned();
        let port = next("missing port")?
            .parse()
            .map_err(|_| field(F, "bad port"))?;
        if next("missing typ")? != "typ" {
            return Err(field(F, "expected typ"));
        }
        let typ = match next("missing type")? {
            "host" => CandidateType::Host,
            "srflx" => CandidateType::Srflx,
            "prflx" => CandidateType::Prflx,
            "relay" => CandidateType::Relay,
            _ => return Err(field(F, "unknown candidate type")),
        };
        let mut c = Candidate {
            foundation,
            component,
            transport,
            priority,
            address,
            port,
            typ,
            raddr: None,
            rport: None,
            extensions: Vec::new(),
        };
        while let Some(name) = it.next() {
            let value = it.next().ok_or(field(F, "extension without value"))?;
            match name {
                "raddr" => c.raddr = Some(value.to_owned()),
                "rport" => c.rport = Some(value.parse().map_err(|_| field(F, "bad rport"))?),
                _ => {
                    if c.extensions.len() >= 32 {
                        return Err(field(F, "too many extensions"));
                    }
                    c.extensions.push((name.to_owned(), value.to_owned()))
                }
            }
        }
        Ok(c)
    }

    /// The address as an IP, if it is a literal (mDNS/FQDN candidates give `None`).
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.parse().ok()
    }

    /// Whether the transport is UDP.
    pub fn is_udp(&self) -> bool {
        self.transport.eq_ignore_ascii_case("udp")
    }

    /// The socket address, if the address is an IP literal.
    pub fn socket_addr(&self) -> Option<std::net::SocketAddr> {
        self.ip().map(|ip| std::net::SocketAddr::new(ip, self.port))
    }
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {} typ {}",
            self.foundation,
            self.component,
            self.transport,
            self.priority,
            self.address,
            self.port,
            self.typ.as_str()
        )?;
        if let Some(a) = &self.raddr {
            write!(f, " raddr {a}")?;
        }
        if let Some(p) = self.rport {
            write!(f, " rport {p}")?;
        }
        for (k, v) in &self.extensions {
            write!(f, " {k} {v}")?;
        }
        Ok(())
    }
}
