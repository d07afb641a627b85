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
}

impl Default for PayloadTypes {
    fn default() -> Self {
        Self {
            audio: 111,
            dtmf: Some(126),
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

/// The call's state behind [`crate::media::call::Call`] (filled in by the implementation).
pub(crate) struct CallInner {
    stats: crate::media::call::CallStats,
}

impl CallInner {
    pub(crate) fn new(
        _now: std::time::Instant,
        _config: crate::media::call::CallConfig,
    ) -> Result<Self, crate::media::Error> {
        Ok(Self {
            stats: Default::default(),
        })
    }
    pub(crate) fn set_remote(
        &mut self,
        _now: std::time::Instant,
        _leg: LegId,
        _remote: RemoteLeg,
    ) -> Result<(), crate::media::Error> {
        Ok(())
    }
    pub(crate) fn handle_input(
        &mut self,
        _now: std::time::Instant,
        _leg: LegId,
        _local: SocketAddr,
        _from: SocketAddr,
        _buf: &mut [u8],
        _out: &mut crate::media::call::Outbox,
    ) {
    }
    pub(crate) fn handle_timeout(
        &mut self,
        _now: std::time::Instant,
        _out: &mut crate::media::call::Outbox,
    ) {
    }
    pub(crate) fn poll_timeout(&self) -> Option<std::time::Instant> {
        None
    }
    pub(crate) fn state(&self) -> crate::media::call::CallState {
        crate::media::call::CallState::Connecting
    }
    pub(crate) fn stats(&self) -> crate::media::call::CallStats {
        self.stats
    }
    pub(crate) fn remote_addr(&self, _leg: LegId) -> Option<SocketAddr> {
        None
    }
}
