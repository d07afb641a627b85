//! One side of a call: its configuration (local half known at allocation, remote half from the peer's SDP) and
//! its counters. The per-leg state machine (`Leg`) lives here too and is driven only by [`crate::media::call::Call`].

use std::net::SocketAddr;
use std::sync::Arc;

use crate::media::dtls::{DtlsCertificate, DtlsRole, Fingerprint};
use crate::media::ice::{IceCredentials, RemoteIce};
use crate::media::srtp::SrtpKeyMaterial;

/// Which leg of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegId {
    /// Toward Meta (ICE + DTLS-SRTP, or SDES-SRTP).
    Meta,
    /// Toward the business's PBX (SDES-SRTP or plain RTP, latching).
    Pbx,
}

impl LegId {
    /// The other leg.
    pub fn other(self) -> Self {
        match self {
            Self::Meta => Self::Pbx,
            Self::Pbx => Self::Meta,
        }
    }
    /// 0 for Meta, 1 for PBX (for arrays indexed by leg).
    pub fn index(self) -> usize {
        match self {
            Self::Meta => 0,
            Self::Pbx => 1,
        }
    }
}

/// How a leg's media is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LegMode {
    /// Plain RTP/RTCP (PBX only).
    Plain,
    /// SRTP with keys from SDP `a=crypto` (RFC 4568).
    Sdes,
    /// SRTP with keys from a DTLS handshake (RFC 5764); needs a certificate and the peer's fingerprint.
    DtlsSrtp,
}

/// Payload type numbers used on one leg (the call rewrites between legs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadTypes {
    /// The audio codec's PT (opus: 111 on Meta's side in DTLS mode, 107 in some SDES traces).
    pub audio: u8,
    /// telephone-event's PT, if negotiated (126 / 101 in Meta's traces).
    pub dtmf: Option<u8>,
    /// RTP clock rate of the audio codec (48000 for opus), used to stamp silence and RTCP.
    pub clock_rate: u32,
}

impl Default for PayloadTypes {
    fn default() -> Self {
        Self {
            audio: 111,
            dtmf: Some(126),
            clock_rate: 48_000,
        }
    }
}

/// Our half of a leg, known when the relay allocates the call (before any SDP answer).
#[derive(Debug, Clone)]
pub struct LocalLeg {
    /// Addresses the relay receives this leg on (one socket each). With ICE, each is a host candidate (one per
    /// address family is enough); the relay must pass the address a datagram arrived on to `Call::handle_input`.
    pub addrs: Vec<SocketAddr>,
    /// Protection of this leg.
    pub mode: LegMode,
    /// Our SDES key (what we put in our `a=crypto`), required for [`LegMode::Sdes`].
    pub sdes_key: Option<SrtpKeyMaterial>,
    /// Our DTLS role: [`DtlsRole::Client`] (`a=setup:active`) toward Meta.
    pub dtls_role: DtlsRole,
    /// Our certificate for [`LegMode::DtlsSrtp`] (share one per process: generating costs milliseconds).
    pub dtls_cert: Option<Arc<DtlsCertificate>>,
    /// Our ICE credentials: Some = run a full controlling ICE agent on this leg.
    pub ice: Option<IceCredentials>,
    /// Send to the address the peer actually sends from (PBX behind NAT, or a PBX that answers from another port).
    pub latch: bool,
    /// SSRC of the stream we send on this leg (media relayed from the other leg is re-stamped onto it).
    pub ssrc: u32,
}

impl LocalLeg {
    /// A leg with sensible defaults for `mode` on `addrs` (random SSRC, no keys, no ICE, latching off).
    pub fn new(mode: LegMode, addrs: Vec<SocketAddr>) -> Self {
        let mut b = [0u8; 4];
        // A zero SSRC is legal, so a failed RNG only costs uniqueness.
        let _ = openssl::rand::rand_bytes(&mut b);
        Self {
            addrs,
            mode,
            sdes_key: None,
            dtls_role: DtlsRole::Client,
            dtls_cert: None,
            ice: None,
            latch: false,
            ssrc: u32::from_be_bytes(b),
        }
    }
}

/// The peer's half of a leg, from its SDP (offer or answer).
#[derive(Debug, Clone, Default)]
pub struct RemoteLeg {
    /// Where to send media absent ICE or latching (`c=` + `m=` port). With ICE, the selected pair wins.
    pub addr: Option<SocketAddr>,
    /// The peer's SDES key (its `a=crypto`), required for [`LegMode::Sdes`].
    pub sdes_key: Option<SrtpKeyMaterial>,
    /// The peer's certificate fingerprint (`a=fingerprint`), required for [`LegMode::DtlsSrtp`].
    pub fingerprint: Option<Fingerprint>,
    /// The peer's ICE parameters (ufrag, pwd, candidates, ice-lite), required when the local leg runs ICE.
    pub ice: Option<RemoteIce>,
    /// PT numbers agreed on this leg.
    pub payload: PayloadTypes,
}

/// Both halves of one leg.
#[derive(Debug, Clone)]
pub struct LegConfig {
    pub local: LocalLeg,
    /// None until the peer's SDP is known; supply it later with `Call::set_remote`.
    pub remote: Option<RemoteLeg>,
}

/// Counters of one leg. `*_in` count what arrived from this leg's peer, `*_out` what we sent to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegStats {
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_out: u64,
    pub bytes_out: u64,
    /// RTCP packets received / sent (also counted in packets_*).
    pub rtcp_in: u64,
    pub rtcp_out: u64,
    /// Packets dropped for any reason (sum of the reasons below plus "no keys yet", "no destination", buffer overflow).
    pub dropped: u64,
    pub auth_failures: u64,
    pub replays: u64,
    pub malformed: u64,
    /// STUN packets received (checks and responses).
    pub stun_in: u64,
    /// Packets held before keys existed, and how many of them were later sent.
    pub buffered: u64,
    pub flushed: u64,
    /// From the peer's last RTCP report about our stream: interarrival jitter (RTP timestamp units), cumulative
    /// packets lost, fraction lost (/256).
    pub remote_jitter: u32,
    pub remote_lost: i32,
    pub remote_fraction_lost: u8,
}

/// Our outgoing RTP stream on a leg: relayed packets from any source are re-stamped onto one SSRC with continuous
/// sequence numbers and timestamps, so silence, buffered audio and live audio form one coherent stream.
#[derive(Debug, Clone)]
pub(crate) struct OutStream {
    pub(crate) ssrc: u32,
    started: bool,
    pub(crate) last_seq: u16,
    pub(crate) last_ts: u32,
    last_at: Option<Instant>,
    src_ssrc: Option<u32>,
    seq_off: u16,
    ts_off: u32,
    pub(crate) packets: u32,
    pub(crate) octets: u32,
}

impl OutStream {
    pub(crate) fn new(ssrc: u32) -> Self {
        let mut b = [0u8; 6];
        // Random initial seq/ts (RFC 3550 5.1); zeros are acceptable if the RNG fails.
        let _ = openssl::rand::rand_bytes(&mut b);
        Self {
            ssrc,
            started: false,
            // The first sequence number stays below 32768 (as libwebrtc does): a receiver that misses the first
            // packets around a wrap would otherwise stay one rollover behind and fail every SRTP tag.
            last_seq: u16::from_be_bytes([b[0] & 0x7f, b[1]]),
            last_ts: u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
            last_at: None,
            src_ssrc: None,
            seq_off: 0,
            ts_off: 0,
            packets: 0,
            octets: 0,
        }
    }

    fn advance_ts(&self, now: Instant, clock: u32) -> u32 {
        match self.last_at {
            Some(t) => {
                let ms = now.saturating_duration_since(t).as_millis().max(20) as u64;
                self.last_ts.wrapping_add((ms * clock as u64 / 1000) as u32)
            }
            None => self.last_ts,
        }
    }

    /// Sequence number and timestamp for a generated packet (silence), and forget the relayed source so the next
    /// relayed packet is anchored after it.
    pub(crate) fn next_generated(&mut self, now: Instant, clock: u32) -> (u16, u32) {
        let seq = self.last_seq.wrapping_add(1);
        let ts = if self.started {
            self.advance_ts(now, clock)
        } else {
            self.last_ts
        };
        self.started = true;
        self.last_seq = seq;
        self.last_ts = ts;
        self.last_at = Some(now);
        self.src_ssrc = None;
        (seq, ts)
    }

    /// Maps a relayed packet's (ssrc, seq, ts) onto this stream.
    pub(crate) fn map(
        &mut self,
        now: Instant,
        clock: u32,
        src_ssrc: u32,
        seq: u16,
        ts: u32,
    ) -> (u16, u32) {
        if self.src_ssrc != Some(src_ssrc) {
            let next_seq = self.last_seq.wrapping_add(1);
            let next_ts = if self.started {
                self.advance_ts(now, clock)
            } else {
                self.last_ts
            };
            self.seq_off = next_seq.wrapping_sub(seq);
            self.ts_off = next_ts.wrapping_sub(ts);
            self.src_ssrc = Some(src_ssrc);
            self.started = true;
        }
        let (s, t) = (seq.wrapping_add(self.seq_off), ts.wrapping_add(self.ts_off));
        // Track the newest only, so reordered packets do not move the anchor backwards.
        if s.wrapping_sub(self.last_seq) < 0x8000 {
            self.last_seq = s;
            self.last_ts = t;
            self.last_at = Some(now);
        }
        (s, t)
    }
}

/// Per-leg state machine (ICE, DTLS, SRTP, destination, counters); driven by `Call`.
pub(crate) struct Leg {
    pub(crate) id: LegId,
    pub(crate) local: LocalLeg,
    pub(crate) remote: Option<RemoteLeg>,
    pub(crate) ice: Option<IceAgent>,
    pub(crate) dtls: Option<DtlsEndpoint>,
    pub(crate) srtp: Option<SrtpSession>,
    /// Where media goes: (our socket, peer address).
    pub(crate) dest: Option<(SocketAddr, SocketAddr)>,
    pub(crate) last_latch_in: Option<Instant>,
    pub(crate) stats: LegStats,
    pub(crate) recv: ReceiveStats,
    pub(crate) out: OutStream,
    /// When this leg became able to carry media (keys + destination), for the start-of-call timeout.
    pub(crate) ready_at: Option<Instant>,
    pub(crate) remote_set_at: Option<Instant>,
    pub(crate) last_media_in: Option<Instant>,
    pub(crate) rtcp_next: Option<Instant>,
    pub(crate) keys_announced: bool,
    pub(crate) failed: bool,
    /// When the DTLS handshake finished; the association is dropped a linger time later to free its memory
    /// (see [`Leg::dtls_release_at`]).
    pub(crate) dtls_done_at: Option<Instant>,
}

/// How long a finished DTLS association is kept when we sent the handshake's last flight (DTLS server, full
/// handshake): a peer that missed it retransmits its own flight and must get ours again (RFC 6347 4.2.4).
pub(crate) const DTLS_LINGER: std::time::Duration = std::time::Duration::from_secs(30);
/// The same as DTLS client: the peer sent the last flight and we got it, so nobody waits on us; a short grace
/// absorbs duplicated records still in flight. Frees the SSL object (tens of KB) early on Meta's side.
pub(crate) const DTLS_LINGER_CLIENT: std::time::Duration = std::time::Duration::from_secs(2);

impl Leg {
    /// When the finished DTLS association may be dropped.
    pub(crate) fn dtls_release_at(&self) -> Option<Instant> {
        let linger = match self.dtls.as_ref().map(|d| d.role()) {
            Some(crate::media::dtls::DtlsRole::Client) => DTLS_LINGER_CLIENT,
            _ => DTLS_LINGER,
        };
        self.dtls_done_at.map(|t| t + linger)
    }

    pub(crate) fn new(id: LegId, local: LocalLeg) -> Self {
        let ssrc = local.ssrc;
        Self {
            id,
            local,
            remote: None,
            ice: None,
            dtls: None,
            srtp: None,
            dest: None,
            last_latch_in: None,
            stats: LegStats::default(),
            recv: ReceiveStats::default(),
            out: OutStream::new(ssrc),
            ready_at: None,
            remote_set_at: None,
            last_media_in: None,
            rtcp_next: None,
            keys_announced: false,
            failed: false,
            dtls_done_at: None,
        }
    }

    /// Keys exist (or none are needed).
    pub(crate) fn has_keys(&self) -> bool {
        self.local.mode == LegMode::Plain || self.srtp.is_some()
    }

    /// Can send media now.
    pub(crate) fn is_ready(&self) -> bool {
        !self.failed && self.has_keys() && self.dest.is_some() && self.remote.is_some()
    }

    pub(crate) fn payload(&self) -> PayloadTypes {
        self.remote.as_ref().map(|r| r.payload).unwrap_or_default()
    }

    /// Our socket for sending to `to`: the first local address of the same family.
    pub(crate) fn local_for(&self, to: &SocketAddr) -> Option<SocketAddr> {
        self.local
            .addrs
            .iter()
            .find(|a| a.is_ipv4() == to.is_ipv4())
            .copied()
    }
}

use std::time::Instant;

use crate::media::dtls::DtlsEndpoint;
use crate::media::ice::IceAgent;
use crate::media::rtp::ReceiveStats;
use crate::media::srtp::SrtpSession;

#[cfg(test)]
mod tests {
    use super::OutStream;

    #[test]
    fn first_sequence_number_is_below_32768() {
        for _ in 0..1000 {
            let s = OutStream::new(1);
            assert!(s.last_seq.wrapping_add(1) <= 0x8000);
        }
    }
}
