//! Counters the relay keeps per leg, per call and in total, as plain serde structs so the control channel,
//! Kamailio's RPC and FreeSWITCH's API can print them without knowing the driver.

use serde::{Deserialize, Serialize};

/// Counters of one leg. Everything counts datagrams as seen on the wire of that leg.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LegStats {
    /// Datagrams received on this leg's sockets (all kinds).
    pub packets_in: u64,
    pub bytes_in: u64,
    /// Datagrams sent from this leg's sockets (media, RTCP, STUN, DTLS).
    pub packets_out: u64,
    pub bytes_out: u64,
    /// Media packets (RTP) received and accepted.
    pub rtp_in: u64,
    /// RTCP packets received and accepted.
    pub rtcp_in: u64,
    /// Datagrams dropped: malformed, truncated, from an unexpected source, before keys, or refused by the kernel.
    pub drops: u64,
    /// SRTP/SRTCP authentication failures (forged or corrupted packets).
    pub auth_failures: u64,
    /// SRTP/SRTCP replays rejected.
    pub replays: u64,
    /// Interarrival jitter from the peer's last RTCP receiver report, in RTP timestamp units.
    pub rtcp_jitter: Option<u32>,
    /// Cumulative packets lost from the peer's last RTCP receiver report.
    pub rtcp_lost: Option<i32>,
    /// The peer's address media is sent to (latched or from the plan).
    pub remote: Option<String>,
    /// Free-form state of the leg's transport: "new", "checking", "connected", "dtls", "secure", "failed".
    pub state: String,
}

impl LegStats {
    pub fn add(&mut self, o: &LegStats) {
        self.packets_in += o.packets_in;
        self.bytes_in += o.bytes_in;
        self.packets_out += o.packets_out;
        self.bytes_out += o.bytes_out;
        self.rtp_in += o.rtp_in;
        self.rtcp_in += o.rtcp_in;
        self.drops += o.drops;
        self.auth_failures += o.auth_failures;
        self.replays += o.replays;
    }
}

/// Statistics of one call: its two legs (Meta's side and the PBX's side).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CallStats {
    pub call_id: String,
    /// "allocated", "active", "ended" (with a reason when ended by the relay).
    pub state: String,
    pub age_ms: u64,
    pub meta: LegStats,
    pub pbx: LegStats,
}

/// Totals over all calls the relay carries, plus the counts of calls.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TotalStats {
    pub calls: u64,
    pub calls_started: u64,
    pub calls_ended: u64,
    /// Sum over both legs of every call still up, plus what ended calls had counted.
    pub legs: LegStats,
    /// Datagrams on sockets that no longer belong to a call, or that the kernel truncated.
    pub stray_drops: u64,
    pub workers: usize,
}
