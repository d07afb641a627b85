//! `autoload_configs/wacall.conf.xml`: module settings and the business numbers wacall serves.
//! Parsed at load and on `wacall_reload` through the `ConfigNode` trait, so tests feed it without FreeSWITCH.

use std::fmt;

use crate::host::ConfigNode;

/// How a number exchanges SRTP keys with Meta (`calling.srtp_key_exchange_protocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SrtpMode {
    Dtls,
    Sdes,
}

impl SrtpMode {
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "DTLS" => Some(SrtpMode::Dtls),
            "SDES" => Some(SrtpMode::Sdes),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SrtpMode::Dtls => "DTLS",
            SrtpMode::Sdes => "SDES",
        }
    }
}

/// What wacall offers the PBX on calls from Meta.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PbxMediaMode {
    /// SDES-SRTP (`RTP/SAVP`, AES_CM_128_HMAC_SHA1_80): what a sofia profile with `rtp-secure-media` expects.
    Sdes,
    /// Plain RTP (`RTP/AVP`).
    Rtp,
}

/// One business phone number configured at Meta.
#[derive(Clone, PartialEq, Eq)]
pub struct Number {
    /// E.164 with `+`, as Meta writes it in R-URIs.
    pub e164: String,
    /// `sip_user_password` from Meta's settings API. Never logged or shown.
    pub password: Option<String>,
    pub srtp: SrtpMode,
    /// The SIP server hostname configured at Meta for this number: the From domain of calls to Meta.
    pub hostname: Option<String>,
    /// A sofia gateway that carries calls to Meta for this number (holds the digest credentials).
    pub gateway: Option<String>,
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Number")
            .field("e164", &self.e164)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("srtp", &self.srtp)
            .field("hostname", &self.hostname)
            .field("gateway", &self.gateway)
            .finish()
    }
}

/// The whole module configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Sofia profile used for calls to Meta when a number has no gateway.
    pub profile: String,
    /// Meta's SIP host for business-initiated calls.
    pub meta_host: String,
    /// Prefix that stands for `+` in dialled numbers (default `00`).
    pub international_prefix: Option<String>,
    /// Country code for national numbers (digits, e.g. `44`).
    pub default_country_code: Option<String>,
    /// National trunk prefix dropped before `default_country_code` (e.g. `0`).
    pub national_prefix: Option<String>,
    /// Default SRTP mode for numbers that do not say.
    pub default_srtp: SrtpMode,
    /// Media toward the PBX (FreeSWITCH itself) on calls from Meta.
    pub pbx_media: PbxMediaMode,
    /// Start the media relay threads at load.
    pub relay: bool,
    /// The relay's control socket (for the `wacall` CLI); `None`: a per-process path in the temp directory.
    pub relay_control_socket: Option<String>,
    /// Relay event loops.
    pub relay_workers: usize,
    /// Address written into SDP instead of `relay_address` (the public address behind NAT).
    pub relay_advertise: Option<String>,
    /// Address the relay binds on.
    pub relay_address: String,
    /// Relay port range, inclusive.
    pub relay_ports: (u16, u16),
    pub numbers: Vec<Number>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            profile: "wacall-meta".into(),
            meta_host: "wa.meta.vc".into(),
            international_prefix: None,
            default_country_code: None,
            national_prefix: None,
            default_srtp: SrtpMode::Dtls,
            pbx_media: PbxMediaMode::Sdes,
            relay: true,
            relay_control_socket: None,
            relay_workers: 1,
            relay_advertise: None,
            relay_address: "127.0.0.1".into(),
            relay_ports: (43000, 43999),
            numbers: Vec::new(),
        }
    }
}

/// What is wrong with a configuration document.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("unknown setting {0:?}")]
    UnknownSetting(String),
    #[error("setting {name:?}: bad value {value:?} ({why})")]
    BadValue {
        name: String,
        value: String,
        why: &'static str,
    },
    #[error("<number> without an id attribute")]
    NumberWithoutId,
    #[error("number {0:?} is not E.164 (+ and 8 to 15 digits)")]
    BadNumber(String),
    #[error("number {0} is listed twice")]
    DuplicateNumber(String),
}

impl Config {
    /// Parse the `<configuration name="wacall.conf">` element.
    pub fn from_node<N: ConfigNode>(cfg: &N) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        if let Some(settings) = cfg.child("settings") {
            for p in settings.children("param") {
                let (Some(name), value) = (p.attr("name"), p.attr("value").unwrap_or_default())
                else {
                    continue;
                };
                c.set(&name, &value)?;
            }
        }
        if let Some(numbers) = cfg.child("numbers") {
            for n in numbers.children("number") {
                let id = n.attr("id").ok_or(ConfigError::NumberWithoutId)?;
                let e164 = normalize_e164(&id).ok_or_else(|| ConfigError::BadNumber(id.clone()))?;
                if c.numbers.iter().any(|x| x.e164 == e164) {
                    return Err(ConfigError::DuplicateNumber(e164));
                }
                let srtp = match n.attr("srtp") {
                    None => c.default_srtp,
                    Some(s) => SrtpMode::parse(&s).ok_or(ConfigError::BadValue {
                        name: format!("number {e164} srtp"),
                        value: s,
                        why: "DTLS or SDES",
                    })?,
                };
                c.numbers.push(Number {
                    e164,
                    password: n.attr("password"),
                    srtp,
                    hostname: n.attr("hostname"),
                    gateway: n.attr("gateway"),
                });
            }
        }
        Ok(c)
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let bad = |why| ConfigError::BadValue {
            name: name.into(),
            value: value.into(),
            why,
        };
        match name {
            "profile" => self.profile = non_empty(value).ok_or(bad("a sofia profile name"))?,
            "meta-host" => self.meta_host = non_empty(value).ok_or(bad("a host name"))?,
            "international-prefix" => self.international_prefix = non_empty(value),
            "default-country-code" => {
                self.default_country_code = non_empty(value);
                if !self
                    .default_country_code
                    .as_deref()
                    .is_none_or(|c| c.bytes().all(|b| b.is_ascii_digit()))
                {
                    return Err(bad("digits"));
                }
            }
            "national-prefix" => self.national_prefix = non_empty(value),
            "srtp" | "default-srtp" => {
                self.default_srtp = SrtpMode::parse(value).ok_or(bad("DTLS or SDES"))?
            }
            "pbx-media" => {
                self.pbx_media = match value.to_ascii_lowercase().as_str() {
                    "sdes" => PbxMediaMode::Sdes,
                    "rtp" => PbxMediaMode::Rtp,
                    _ => return Err(bad("sdes or rtp")),
                }
            }
            "relay" => {
                self.relay = match value.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "on" | "1" => true,
                    "false" | "no" | "off" | "0" => false,
                    _ => return Err(bad("true or false")),
                }
            }
            "relay-control-socket" => self.relay_control_socket = non_empty(value),
            "relay-workers" => {
                self.relay_workers = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .ok_or(bad("1 to 64"))?
            }
            "relay-advertise-address" => {
                value
                    .parse::<std::net::IpAddr>()
                    .map_err(|_| bad("an IP address"))?;
                self.relay_advertise = non_empty(value);
            }
            "relay-address" => {
                value
                    .parse::<std::net::IpAddr>()
                    .map_err(|_| bad("an IP address"))?;
                self.relay_address = value.into();
            }
            "relay-ports" => {
                self.relay_ports = parse_range(value).ok_or(bad("low-high, low <= high"))?
            }
            other => return Err(ConfigError::UnknownSetting(other.into())),
        }
        Ok(())
    }

    /// The configured number matching `number` in any common written form.
    pub fn number(&self, number: &str) -> Option<&Number> {
        let e164 = normalize_e164(number)?;
        self.numbers.iter().find(|n| n.e164 == e164)
    }
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn parse_range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once('-')?;
    let (a, b) = (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?);
    (a > 0 && a <= b).then_some((a, b))
}

/// A configured or dialled number in E.164 (`+` and digits) with the core's default rules; `None` if it is not one.
pub fn normalize_e164(s: &str) -> Option<String> {
    wacall::sip::normalize_e164(s, &wacall::sip::NumberPolicy::default())
        .ok()
        .map(|n| n.as_str().to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// An in-memory element for tests.
    #[derive(Clone, Default)]
    pub struct Node {
        pub name: String,
        pub attrs: HashMap<String, String>,
        pub kids: Vec<Node>,
    }

    impl Node {
        pub fn new(name: &str, attrs: &[(&str, &str)], kids: Vec<Node>) -> Node {
            Node {
                name: name.into(),
                attrs: attrs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                kids,
            }
        }
    }

    impl ConfigNode for Node {
        fn child(&self, name: &str) -> Option<Self> {
            self.kids.iter().find(|k| k.name == name).cloned()
        }
        fn children(&self, name: &str) -> Vec<Self> {
            self.kids
                .iter()
                .filter(|k| k.name == name)
                .cloned()
                .collect()
        }
        fn attr(&self, name: &str) -> Option<String> {
            self.attrs.get(name).filter(|v| !v.is_empty()).cloned()
        }
    }

    fn param(n: &str, v: &str) -> Node {
        Node::new("param", &[("name", n), ("value", v)], vec![])
    }

    pub fn sample() -> Node {
        Node::new(
            "configuration",
            &[("name", "wacall.conf")],
            vec![
                Node::new(
                    "settings",
                    &[],
                    vec![
                        param("profile", "meta"),
                        param("relay-ports", "43000-43099"),
                        param("srtp", "sdes"),
                    ],
                ),
                Node::new(
                    "numbers",
                    &[],
                    vec![
                        Node::new(
                            "number",
                            &[
                                ("id", "+1 555-123-4567"),
                                ("password", "s3cret"),
                                ("srtp", "DTLS"),
                                ("gateway", "wa1"),
                            ],
                            vec![],
                        ),
                        Node::new(
                            "number",
                            &[("id", "15550001111"), ("hostname", "sip.example.com")],
                            vec![],
                        ),
                    ],
                ),
            ],
        )
    }

    #[test]
    fn parses_settings_and_numbers() {
        let c = Config::from_node(&sample()).unwrap();
        assert_eq!(c.profile, "meta");
        assert_eq!(c.relay_ports, (43000, 43099));
        assert_eq!(c.default_srtp, SrtpMode::Sdes);
        assert_eq!(c.numbers.len(), 2);
        assert_eq!(c.numbers[0].e164, "+15551234567");
        assert_eq!(c.numbers[0].srtp, SrtpMode::Dtls);
        assert_eq!(c.numbers[1].srtp, SrtpMode::Sdes);
        assert_eq!(
            c.number("+15551234567").unwrap().gateway.as_deref(),
            Some("wa1")
        );
        assert!(c.number("+19999999999").is_none());
    }

    #[test]
    fn password_never_in_debug() {
        let c = Config::from_node(&sample()).unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("s3cret"), "{d}");
        assert!(d.contains("<redacted>"));
    }

    #[test]
    fn rejects_bad_documents() {
        let bad = |kids| Config::from_node(&Node::new("configuration", &[], kids));
        assert!(matches!(
            bad(vec![Node::new(
                "settings",
                &[],
                vec![param("relay-ports", "5-1")]
            )]),
            Err(ConfigError::BadValue { .. })
        ));
        assert!(matches!(
            bad(vec![Node::new("settings", &[], vec![param("nope", "1")])]),
            Err(ConfigError::UnknownSetting(_))
        ));
        assert!(matches!(
            bad(vec![Node::new(
                "numbers",
                &[],
                vec![Node::new("number", &[("id", "12")], vec![])]
            )]),
            Err(ConfigError::BadNumber(_))
        ));
        let twice = Node::new("number", &[("id", "+15551234567")], vec![]);
        assert!(matches!(
            bad(vec![Node::new("numbers", &[], vec![twice.clone(), twice])]),
            Err(ConfigError::DuplicateNumber(_))
        ));
        assert_eq!(bad(vec![]).unwrap(), Config::default());
    }
}
