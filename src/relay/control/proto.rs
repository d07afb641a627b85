//! The control protocol's messages: one JSON object per line, a request from the host, one reply from the relay.
//! Secrets (SDES keys, ICE passwords) travel here by design; the types' Debug output hides them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;

use crate::relay::stats::{CallStats, TotalStats};

/// Largest request or reply line, in bytes. Longer lines are refused without being parsed.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Protocol version reported by `ping`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Which side of the call a leg faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Meta's media servers (DTLS-SRTP with ICE, or SDES).
    Meta,
    /// The business's PBX (SDES-SRTP or plain RTP).
    Pbx,
}

impl Side {
    pub fn index(self) -> usize {
        match self {
            Side::Meta => 0,
            Side::Pbx => 1,
        }
    }
    pub fn other(self) -> Side {
        match self {
            Side::Meta => Side::Pbx,
            Side::Pbx => Side::Meta,
        }
    }
    pub fn from_index(i: usize) -> Side {
        if i == 0 {
            Side::Meta
        } else {
            Side::Pbx
        }
    }
}

/// How a leg protects its media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// DTLS-SRTP keyed, ICE on the leg (Meta's default).
    Dtls,
    /// SDES keys from `a=crypto`.
    Sdes,
    /// Plain RTP (PBX side only in production; any side in tests).
    Rtp,
}

/// Address families a leg listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    #[default]
    Ipv4,
    Ipv6,
    /// One socket per family (Meta offers IPv4 and IPv6 host candidates).
    Dual,
}

/// What the host asks for one leg at allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegConfig {
    pub transport: Transport,
    #[serde(default)]
    pub family: Family,
}

/// An SRTP suite and its inline key material (base64 of key || salt, as in `a=crypto`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdesKey {
    /// e.g. "AES_CM_128_HMAC_SHA1_80".
    pub suite: String,
    /// base64 of master key || master salt.
    pub key: String,
}

impl fmt::Debug for SdesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SdesKey")
            .field("suite", &self.suite)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// What the relay allocated for one leg: what the host writes into the SDP it sends on that side.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegAllocation {
    /// One address per socket (IPv4 first). With rtcp-mux, RTCP uses the same port.
    pub addrs: Vec<SocketAddr>,
    /// ICE credentials (DTLS legs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ice_ufrag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ice_pwd: Option<String>,
    /// Our DTLS certificate fingerprint, "sha-256 AB:CD:...", upper-case hex (DTLS legs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The key we send with (SDES legs): goes into our `a=crypto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdes: Option<SdesKey>,
}

impl fmt::Debug for LegAllocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegAllocation")
            .field("addrs", &self.addrs)
            .field("ice_ufrag", &self.ice_ufrag)
            .field("ice_pwd", &self.ice_pwd.as_ref().map(|_| "<redacted>"))
            .field("fingerprint", &self.fingerprint)
            .field("sdes", &self.sdes)
            .finish()
    }
}

/// Both legs' allocations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub call_id: String,
    pub meta: LegAllocation,
    pub pbx: LegAllocation,
}

/// A remote ICE candidate (host candidates are all Meta sends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub addr: SocketAddr,
    #[serde(default)]
    pub priority: u32,
    #[serde(default)]
    pub foundation: String,
    /// 1 = RTP (with rtcp-mux the only one used).
    #[serde(default = "one")]
    pub component: u8,
}

fn one() -> u8 {
    1
}

/// What the far end of one leg said in its SDP, as mapped by `sdp`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RemoteLeg {
    /// Media address from c=/m= (where to send before, or without, ICE / latching).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<SocketAddr>,
    /// RTCP address without rtcp-mux (`a=rtcp`); None = same as `addr` (rtcp-mux).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtcp_addr: Option<SocketAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ice_ufrag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ice_pwd: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
    #[serde(default)]
    pub ice_lite: bool,
    /// The peer's certificate fingerprint, "sha-256 AB:CD:..." (DTLS legs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The key the peer sends with (SDES legs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdes: Option<SdesKey>,
    /// The audio codec's payload type agreed on this leg (opus; default 111). The relay rewrites PTs between legs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_pt: Option<u8>,
    /// telephone-event's payload type on this leg (default 126), if negotiated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtmf_pt: Option<u8>,
    /// The audio codec's RTP clock rate (default 48000, opus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_rate: Option<u32>,
}

impl fmt::Debug for RemoteLeg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteLeg")
            .field("addr", &self.addr)
            .field("rtcp_addr", &self.rtcp_addr)
            .field("ice_ufrag", &self.ice_ufrag)
            .field("ice_pwd", &self.ice_pwd.as_ref().map(|_| "<redacted>"))
            .field("candidates", &self.candidates)
            .field("ice_lite", &self.ice_lite)
            .field("fingerprint", &self.fingerprint)
            .field("sdes", &self.sdes)
            .field("audio_pt", &self.audio_pt)
            .field("dtmf_pt", &self.dtmf_pt)
            .field("clock_rate", &self.clock_rate)
            .finish()
    }
}

/// A request from a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // a transient message, never stored in bulk
pub enum Request {
    Ping,
    Allocate {
        call_id: String,
        meta: LegConfig,
        pbx: LegConfig,
    },
    /// Remote parameters of one or both legs; may be sent several times (offer, then answer).
    Update {
        call_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        meta: Option<RemoteLeg>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pbx: Option<RemoteLeg>,
        /// Keys we send with on SDES legs, when SDP mapping chose them: as `set_local_sdes`, in the same request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        meta_local_sdes: Option<SdesKey>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pbx_local_sdes: Option<SdesKey>,
    },
    /// The key we send with on an SDES leg, when SDP mapping chose it (it writes fresh keys into our
    /// `a=crypto`): replaces the one the relay generated at allocation. Send it before media flows on that leg.
    SetLocalSdes {
        call_id: String,
        side: Side,
        key: SdesKey,
    },
    Delete {
        call_id: String,
    },
    /// Statistics of one call, or totals (and every call) when `call_id` is absent.
    Stats {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call_id: Option<String>,
    },
}

/// Why a request failed, as a stable code hosts can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The line was not a valid request.
    BadRequest,
    /// No call with that id.
    NotFound,
    /// A call with that id already exists.
    Exists,
    /// No free port, or a socket could not be opened.
    NoResources,
    /// The remote plan was refused (bad key, bad fingerprint, wrong transport).
    Rejected,
    /// The relay failed internally.
    Internal,
}

/// The relay's reply to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Pong {
        version: u32,
        calls: u64,
    },
    Allocated(Allocation),
    Updated {
        call_id: String,
    },
    Deleted(CallStats),
    CallStats(CallStats),
    Stats {
        totals: TotalStats,
        calls: Vec<CallStats>,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
}

impl Reply {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Reply::Error {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_json_shape() {
        let r: Request = serde_json::from_str(
            r#"{"cmd":"allocate","call_id":"c1","meta":{"transport":"dtls","family":"dual"},"pbx":{"transport":"sdes"}}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            Request::Allocate {
                call_id: "c1".into(),
                meta: LegConfig {
                    transport: Transport::Dtls,
                    family: Family::Dual
                },
                pbx: LegConfig {
                    transport: Transport::Sdes,
                    family: Family::Ipv4
                },
            }
        );
        let s = serde_json::to_string(&Request::Ping).unwrap();
        assert_eq!(s, r#"{"cmd":"ping"}"#);
    }

    #[test]
    fn secrets_not_in_debug() {
        let k = SdesKey {
            suite: "AES_CM_128_HMAC_SHA1_80".into(),
            key: "c2VjcmV0".into(),
        };
        assert!(!format!("{k:?}").contains("c2VjcmV0"));
        let r = RemoteLeg {
            ice_pwd: Some("hunter2".into()),
            sdes: Some(k),
            ..Default::default()
        };
        let d = format!("{r:?}");
        assert!(!d.contains("hunter2") && !d.contains("c2VjcmV0"));
    }
}
