//! The module's settings as Kamailio's modparams and the numbers file give them: parsed and checked here, in plain
//! Rust, so that a bad line is refused at start-up with a clear message instead of surfacing during a call.

use std::fmt;
use std::net::IpAddr;

/// A configuration error, reported at start-up or by `wacall.reload`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A `number` entry or numbers-file line could not be read.
    Number { entry: String, reason: String },
    /// A `meta_acl` CIDR could not be read.
    Acl(String),
    /// Another parameter had a bad value.
    Param { name: &'static str, reason: String },
    /// The numbers file could not be read.
    File(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Number { entry, reason } => write!(f, "number entry `{entry}`: {reason}"),
            ConfigError::Acl(s) => write!(f, "meta_acl: {s}"),
            ConfigError::Param { name, reason } => write!(f, "modparam {name}: {reason}"),
            ConfigError::File(s) => write!(f, "numbers_file: {s}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// How Meta exchanges SRTP keys for a number (its `srtp_key_exchange_protocol` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrtpMode {
    Dtls,
    Sdes,
}

/// What the PBX side of the call speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PbxMedia {
    Sdes,
    Rtp,
}

impl PbxMedia {
    pub fn parse(s: &str) -> Result<PbxMedia, ConfigError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "SDES" | "SRTP" => Ok(PbxMedia::Sdes),
            "RTP" => Ok(PbxMedia::Rtp),
            other => Err(ConfigError::Param {
                name: "pbx_media",
                reason: format!("`{other}` is not SDES or RTP"),
            }),
        }
    }
}

/// A SIP password: kept out of Debug and Display so it never reaches a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: &str) -> Secret {
        Secret(s.to_string())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// One business number served through Meta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberEntry {
    /// E.164 with the leading `+`.
    pub number: String,
    /// Meta's `sip_user_password` for this number.
    pub password: Secret,
    pub srtp: SrtpMode,
    /// The `request_uri_user_params` configured at Meta (e.g. tgrp, trunk-context), in order.
    pub params: Vec<(String, String)>,
}

impl NumberEntry {
    /// Reads `+15551234567;password=secret;srtp=DTLS|SDES;params=tgrp=x&trunk-context=y`.
    pub fn parse(entry: &str) -> Result<NumberEntry, ConfigError> {
        let shown = entry.split(';').next().unwrap_or_default().to_string();
        let err = |reason: String| ConfigError::Number {
            entry: shown.clone(),
            reason,
        };
        let mut parts = entry.trim().split(';');
        let raw_number = parts.next().unwrap_or_default();
        let number = crate::meta::normalize_e164(raw_number).map_err(|e| err(e.to_string()))?;
        let mut password = None;
        let mut srtp = SrtpMode::Dtls;
        let mut params = Vec::new();
        for p in parts {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| err(format!("`{p}` is not key=value")))?;
            match k.trim() {
                "password" => password = Some(Secret::new(v)),
                "srtp" => {
                    srtp = match v.trim().to_ascii_uppercase().as_str() {
                        "DTLS" => SrtpMode::Dtls,
                        "SDES" => SrtpMode::Sdes,
                        o => return Err(err(format!("srtp `{o}` is not DTLS or SDES"))),
                    }
                }
                "params" => {
                    for kv in v.split('&').filter(|s| !s.is_empty()) {
                        let (pk, pv) = kv.split_once('=').unwrap_or((kv, ""));
                        // Meta's limit on each request_uri_user_params key and value.
                        if pk.len() > 128 || pv.len() > 128 {
                            return Err(err(format!(
                                "user param `{pk}` longer than Meta's 128 characters"
                            )));
                        }
                        params.push((pk.to_string(), pv.to_string()));
                    }
                }
                other => return Err(err(format!("unknown attribute `{other}`"))),
            }
        }
        let password = password.ok_or_else(|| err("missing password=".to_string()))?;
        Ok(NumberEntry {
            number,
            password,
            srtp,
            params,
        })
    }
}

/// Reads a numbers file: one `number` entry per line, `#` comments and blank lines ignored.
pub fn parse_numbers_file(text: &str) -> Result<Vec<NumberEntry>, ConfigError> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(NumberEntry::parse)
        .collect()
}

/// Meta's source addresses (CIDRs). Empty means "refuse everybody": an ACL must be configured on purpose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl(Vec<(IpAddr, u8)>);

impl Acl {
    /// Adds comma/space separated CIDRs (`157.240.0.0/16, 2a03:2880::/32`, a bare address is a host route).
    pub fn add(&mut self, list: &str) -> Result<(), ConfigError> {
        for item in list.split([',', ' ', '\t']).filter(|s| !s.is_empty()) {
            let (addr, len) = match item.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (item, None),
            };
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| ConfigError::Acl(format!("`{item}` is not an address")))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = match len {
                Some(l) => l.parse::<u8>().ok().filter(|l| *l <= max),
                None => Some(max),
            }
            .ok_or_else(|| ConfigError::Acl(format!("`{item}` has a bad prefix length")))?;
            self.0.push((ip, len));
        }
        Ok(())
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4-mapped IPv6 source matches IPv4 entries.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.0.iter().any(|(net, len)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), *len),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), *len),
            _ => false,
        })
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn prefix_eq(a: &[u8], b: &[u8], len: u8) -> bool {
    let full = usize::from(len / 8);
    let rest = len % 8;
    if a[..full] != b[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[full] & mask) == (b[full] & mask)
}

/// Everything the modparams set.
#[derive(Debug, Clone)]
pub struct Settings {
    pub meta_domain: String,
    pub server_hostname: String,
    /// Entries from `number` modparams (kept apart from the file so a reload keeps them).
    pub numbers: Vec<NumberEntry>,
    pub numbers_file: Option<String>,
    pub acl: Acl,
    pub relay_ports: (u16, u16),
    pub relay_address: String,
    pub relay_advertised_address: Option<String>,
    /// IPv6 address of the relay's sockets (Meta offers IPv6 candidates too); none = IPv4 only.
    pub relay_address6: Option<String>,
    /// The relay's control socket; default `<runtime_dir>/wacall-relay.sock`.
    pub relay_socket: Option<String>,
    /// Bound on every control request from a SIP worker, in milliseconds.
    pub relay_timeout_ms: u64,
    /// Relay event loops (0 = one per core).
    pub relay_workers: usize,
    /// Seconds without media after which the relay ends a call.
    pub relay_media_timeout: u64,
    pub pbx_media: PbxMedia,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            meta_domain: "wa.meta.vc".to_string(),
            server_hostname: String::new(),
            numbers: Vec::new(),
            numbers_file: None,
            acl: Acl::default(),
            relay_ports: (40000, 40999),
            relay_address: "127.0.0.1".to_string(),
            relay_advertised_address: None,
            relay_address6: None,
            relay_socket: None,
            relay_timeout_ms: 1000,
            relay_workers: 1,
            relay_media_timeout: 30,
            pbx_media: PbxMedia::Sdes,
        }
    }
}

/// Reads a non-negative integer modparam given as a string.
pub fn parse_number(name: &'static str, s: &str) -> Result<u64, ConfigError> {
    s.trim().parse().map_err(|_| ConfigError::Param {
        name,
        reason: format!("`{s}` is not a number"),
    })
}

/// Reads `relay_ports` (`40000-40999`).
pub fn parse_port_range(s: &str) -> Result<(u16, u16), ConfigError> {
    let bad = || ConfigError::Param {
        name: "relay_ports",
        reason: format!("`{s}` is not LOW-HIGH"),
    };
    let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
    let a: u16 = a.trim().parse().map_err(|_| bad())?;
    let b: u16 = b.trim().parse().map_err(|_| bad())?;
    if a == 0 || a > b {
        return Err(bad());
    }
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_entry_full() {
        let e = NumberEntry::parse(
            "+1 555-123-4567;password=s3cr;srtp=SDES;params=tgrp=wa&trunk-context=ex.com",
        )
        .unwrap();
        assert_eq!(e.number, "+15551234567");
        assert_eq!(e.password.expose(), "s3cr");
        assert_eq!(e.srtp, SrtpMode::Sdes);
        assert_eq!(
            e.params,
            vec![
                ("tgrp".into(), "wa".into()),
                ("trunk-context".into(), "ex.com".into())
            ]
        );
        assert!(!format!("{e:?}").contains("s3cr"));
    }

    #[test]
    fn number_entry_errors() {
        assert!(NumberEntry::parse("+15551234567").is_err());
        assert!(NumberEntry::parse("abc;password=x").is_err());
        assert!(NumberEntry::parse("+15551234567;password=x;srtp=ZRTP").is_err());
        assert!(NumberEntry::parse("+15551234567;password=x;bogus").is_err());
    }

    #[test]
    fn acl() {
        let mut a = Acl::default();
        a.add("127.0.0.1/32, 10.0.0.0/8 2a03:2880::/32").unwrap();
        assert!(a.contains("127.0.0.1".parse().unwrap()));
        assert!(a.contains("10.9.8.7".parse().unwrap()));
        assert!(a.contains("::ffff:10.1.1.1".parse().unwrap()));
        assert!(a.contains("2a03:2880:f343::1".parse().unwrap()));
        assert!(!a.contains("127.0.0.2".parse().unwrap()));
        assert!(!a.contains("2a03:2881::1".parse().unwrap()));
        assert!(a.add("10.0.0.0/33").is_err());
        assert!(a.add("nonsense").is_err());
    }

    #[test]
    fn numbers_file() {
        let f = "# comment\n\n+15551234567;password=a\n+442071234567;password=b;srtp=DTLS\n";
        assert_eq!(parse_numbers_file(f).unwrap().len(), 2);
        assert!(parse_numbers_file("+1;password=a").is_err());
    }
}
