//! A call: the Meta leg and the PBX leg, relaying audio between them under Meta's rules (maiden packet, RTCP,
//! no-media timeouts, audio held until keys exist). Sans-IO: the relay driver feeds datagrams and timeouts.
//!
//! # Driving a call (what `crate::relay` does)
//! ```text
//! let mut call = Call::new(now, config)?;            // when the relay allocates ports for a call
//! let mut out = Outbox::new();                       // one per event loop, reused for every call
//! call.set_remote(now, LegId::Pbx, remote)?;         // when the other side's SDP is known
//! loop {
//!     // a datagram arrived on one of the leg's sockets `local` from `from`:
//!     call.handle_input(now, leg, local, from, &mut buf[..n], &mut out);
//!     // or the timer fired:
//!     call.handle_timeout(now, &mut out);
//!     for t in out.transmits() { send(t.local, t.remote, t.data) }   // from socket `t.local` to `t.remote`
//!     for e in out.events() { ... }                  // IceConnected, KeysReady, MediaTimeout, Failed...
//!     out.clear();
//!     rearm(call.poll_timeout());                    // earliest instant the call wants handle_timeout
//! }
//! ```
//! `now` must never go backwards. Nothing panics on network input: bad packets are dropped and counted in
//! [`LegStats`].
//!
//! # Audio before keys
//! Audio from the PBX that arrives before the Meta leg has keys (DTLS takes up to ~3 s) is **buffered** in a
//! bounded queue ([`CallTiming::pre_key_buffer`] packets, oldest dropped first) and flushed in order right after the
//! maiden packet, so greetings are not clipped. RTP sequence numbers and timestamps are re-stamped continuously
//! onto our own SSRC, so Meta's jitter buffer sees a coherent stream. [`PreKeyAudio::Drop`] turns this off.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use std::collections::VecDeque;

use crate::media::dtls::{DtlsEndpoint, DtlsError, DtlsState};
use crate::media::ice::{IceAgent, IceEvent};
use crate::media::leg::{Leg, LegConfig, LegId, LegMode, LegStats, RemoteLeg};
use crate::media::rtp::{self, PacketKind, RtpHeader, SenderInfo};
use crate::media::srtp::{SrtpError, SrtpKeyMaterial, SrtpSession, SRTCP_MAX_TRAILER};
use crate::media::Error;

/// Timers and limits of a call.
#[derive(Debug, Clone)]
pub struct CallTiming {
    /// No media from a leg for this long before its first packet ends the call (Meta: about 20 s).
    pub media_timeout_start: Duration,
    /// No media from a leg for this long once it has sent media ends the call (Meta: about 30 s).
    pub media_timeout_mid: Duration,
    /// Interval of the RTCP sender/receiver reports we send on each leg.
    pub rtcp_interval: Duration,
    /// When nothing was relayed toward Meta for this long (PBX silent, on hold), send opus silence every 20 ms so
    /// Meta never sees a silent leg. None disables the filler (the maiden packet is always sent).
    pub silence_fill_after: Option<Duration>,
    /// Give up if ICE + DTLS have not produced keys after this long.
    pub connect_timeout: Duration,
    /// What to do with PBX audio before the Meta leg has keys.
    pub pre_key: PreKeyAudio,
    /// Bound of the pre-key buffer, in packets (100 = 2 s of 20 ms audio).
    pub pre_key_buffer: usize,
}

impl Default for CallTiming {
    fn default() -> Self {
        Self {
            media_timeout_start: Duration::from_secs(20),
            media_timeout_mid: Duration::from_secs(30),
            rtcp_interval: Duration::from_secs(5),
            silence_fill_after: Some(Duration::from_millis(200)),
            connect_timeout: Duration::from_secs(20),
            pre_key: PreKeyAudio::Buffer,
            pre_key_buffer: 100,
        }
    }
}

/// Policy for audio that arrives before the destination leg has keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PreKeyAudio {
    /// Hold up to `pre_key_buffer` packets and send them once keys exist (default).
    Buffer,
    /// Drop them (counted); Meta gets the maiden silence packet first anyway.
    Drop,
}

/// Everything needed to create a call.
#[derive(Debug, Clone)]
pub struct CallConfig {
    pub meta: LegConfig,
    pub pbx: LegConfig,
    pub timing: CallTiming,
}

/// Why a call failed. After `Failed` the call sends nothing more; the relay should tear it down (and the host
/// send BYE on both sides).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailReason {
    /// No ICE pair succeeded.
    IceFailed,
    /// ICE consent lost (RFC 7675: no response for 30 s).
    ConsentLost,
    /// The DTLS handshake failed (message from OpenSSL).
    Dtls(String),
    /// The peer's certificate does not match the SDP fingerprint.
    FingerprintMismatch,
    /// Keys did not exist within `connect_timeout`.
    ConnectTimeout,
    /// SRTP context creation failed.
    Srtp(String),
}

impl std::fmt::Display for FailReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::IceFailed => f.write_str("ICE failed"),
            Self::ConsentLost => f.write_str("ICE consent lost"),
            Self::Dtls(m) => write!(f, "DTLS failed: {m}"),
            Self::FingerprintMismatch => f.write_str("DTLS fingerprint mismatch"),
            Self::ConnectTimeout => f.write_str("no keys within the connect timeout"),
            Self::Srtp(m) => write!(f, "SRTP: {m}"),
        }
    }
}

/// Something the relay (and the host) may want to know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallEvent {
    /// ICE nominated a pair on `leg`: send from `local` to `remote`.
    IceConnected {
        leg: LegId,
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// The address we send `leg`'s media to changed (ICE selection or latching).
    RemoteSelected { leg: LegId, remote: SocketAddr },
    /// The DTLS handshake on `leg` completed with a matching fingerprint.
    DtlsConnected { leg: LegId },
    /// SRTP keys exist for `leg` (SDES at set-up, DTLS after the handshake); the maiden packet follows at once.
    KeysReady { leg: LegId },
    /// No media from `leg` for the configured timeout: end the call.
    MediaTimeout { leg: LegId },
    /// The call failed on `leg`.
    Failed { leg: LegId, reason: FailReason },
}

/// Overall call state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallState {
    /// Setting up (ICE, DTLS, waiting for remote descriptions).
    Connecting,
    /// Both legs can carry media.
    Active,
    /// Failed or timed out: nothing more is sent.
    Ended,
}

/// One datagram to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit<'a> {
    pub leg: LegId,
    /// The local socket address to send from (one of the leg's `LocalLeg::addrs`).
    pub local: SocketAddr,
    /// Destination.
    pub remote: SocketAddr,
    pub data: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    leg: LegId,
    local: SocketAddr,
    remote: SocketAddr,
    start: usize,
    end: usize,
}

/// Reusable output of `handle_input`/`handle_timeout`: datagrams (in one byte arena) and events. Clear it after
/// sending; its capacity is kept, so steady-state relaying allocates nothing.
#[derive(Debug, Default)]
pub struct Outbox {
    arena: Vec<u8>,
    slots: Vec<Slot>,
    events: Vec<CallEvent>,
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }
    /// An outbox sized for `datagrams` datagrams of typical size without growing.
    pub fn with_capacity(datagrams: usize) -> Self {
        Self {
            arena: Vec::with_capacity(datagrams * 256),
            slots: Vec::with_capacity(datagrams),
            events: Vec::new(),
        }
    }
    /// Datagrams queued so far, in order.
    pub fn transmits(&self) -> impl ExactSizeIterator<Item = Transmit<'_>> + '_ {
        self.slots.iter().map(|s| Transmit {
            leg: s.leg,
            local: s.local,
            remote: s.remote,
            data: &self.arena[s.start..s.end],
        })
    }
    /// Events queued so far, in order.
    pub fn events(&self) -> &[CallEvent] {
        &self.events
    }
    /// Number of queued datagrams.
    pub fn len(&self) -> usize {
        self.slots.len()
    }
    /// True when there is nothing to send and no event.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty() && self.events.is_empty()
    }
    /// Forgets datagrams and events, keeping capacity.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.slots.clear();
        self.events.clear();
    }

    /// Reserves `room` bytes for a datagram and returns the buffer to fill; `commit` then fixes its length.
    pub(crate) fn begin(&mut self, room: usize) -> &mut [u8] {
        let start = self.arena.len();
        self.arena.resize(start + room, 0);
        &mut self.arena[start..]
    }
    /// The buffer handed out by the last `begin` (again).
    pub(crate) fn last_mut(&mut self) -> &mut [u8] {
        let start = self.slots.last().map_or(0, |s| s.end);
        &mut self.arena[start..]
    }
    /// Keeps `len` bytes of the buffer handed out by the last `begin` as a datagram.
    pub(crate) fn commit(&mut self, leg: LegId, local: SocketAddr, remote: SocketAddr, len: usize) {
        let start = self.slots.last().map_or(0, |s| s.end);
        let end = start + len;
        debug_assert!(end <= self.arena.len());
        self.arena.truncate(end);
        self.slots.push(Slot {
            leg,
            local,
            remote,
            start,
            end,
        });
    }
    /// Drops the buffer handed out by the last `begin`.
    pub(crate) fn abort(&mut self) {
        let start = self.slots.last().map_or(0, |s| s.end);
        self.arena.truncate(start);
    }
    /// Queues a copy of `data`.
    pub(crate) fn push(&mut self, leg: LegId, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        let buf = self.begin(data.len());
        buf[..data.len()].copy_from_slice(data);
        self.commit(leg, local, remote, data.len());
    }
    pub(crate) fn event(&mut self, e: CallEvent) {
        self.events.push(e);
    }
}

/// Counters of both legs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallStats {
    pub meta: LegStats,
    pub pbx: LegStats,
}

/// Protects the datagram being built in the outbox (`len` plain bytes) with `srtp` (if any) and commits it;
/// None (and nothing queued) if protection failed.
fn protect_commit(
    out: &mut Outbox,
    srtp: &mut Option<SrtpSession>,
    rtcp: bool,
    len: usize,
    (leg, local, remote): (LegId, SocketAddr, SocketAddr),
) -> Option<usize> {
    let n = match srtp {
        Some(ctx) => {
            let room = out.last_mut();
            let r = if rtcp {
                ctx.outbound.protect_rtcp(room, len)
            } else {
                ctx.outbound.protect_rtp(room, len)
            };
            match r {
                Ok(n) => n,
                Err(_) => {
                    out.abort();
                    return None;
                }
            }
        }
        None => len,
    };
    out.commit(leg, local, remote, n);
    Some(n)
}

/// A two-leg call. See the module documentation for how to drive it.
pub struct Call {
    legs: [Leg; 2],
    timing: CallTiming,
    created: Instant,
    ended: bool,
    /// PBX audio held until the Meta leg has keys (plain RTP, already PT-rewritten).
    pre_key: VecDeque<Vec<u8>>,
    /// Real audio last relayed toward Meta, and last silence packet sent (for the filler).
    last_relayed_to_meta: Option<Instant>,
    last_silence: Option<Instant>,
    /// set_remote happened: run `progress` at the next handle_timeout (poll_timeout returns this instant).
    progress_due: Option<Instant>,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

/// Largest datagram we relay (bigger ones are dropped as malformed).
const MAX_DATAGRAM: usize = 1500;

impl Call {
    /// Creates a call. Fails on an inconsistent configuration (e.g. SDES without a key, DTLS without a
    /// certificate, ICE without local addresses).
    pub fn new(now: Instant, config: CallConfig) -> Result<Self, Error> {
        let CallConfig { meta, pbx, timing } = config;
        let mut call = Self {
            legs: [
                Leg::new(LegId::Meta, meta.local.clone()),
                Leg::new(LegId::Pbx, pbx.local.clone()),
            ],
            timing,
            created: now,
            ended: false,
            pre_key: VecDeque::new(),
            last_relayed_to_meta: None,
            last_silence: None,
            progress_due: None,
        };
        for (cfg, id) in [(&meta, LegId::Meta), (&pbx, LegId::Pbx)] {
            let l = &cfg.local;
            if l.addrs.is_empty() {
                return Err(Error::Config(format!("{id:?} leg has no local address")));
            }
            match l.mode {
                LegMode::Sdes if l.sdes_key.is_none() => {
                    return Err(Error::Config(format!(
                        "{id:?} leg is SDES but has no local key"
                    )))
                }
                LegMode::DtlsSrtp if l.dtls_cert.is_none() => {
                    return Err(Error::Config(format!(
                        "{id:?} leg is DTLS-SRTP but has no certificate"
                    )))
                }
                _ => {}
            }
            if let Some(creds) = &l.ice {
                let mut agent = IceAgent::new(creds.clone(), true, IceAgent::random_tie_breaker());
                for a in &l.addrs {
                    agent.add_local_candidate(*a);
                }
                call.legs[id.index()].ice = Some(agent);
            }
        }
        if let Some(r) = meta.remote {
            call.set_remote(now, LegId::Meta, r)?;
        }
        if let Some(r) = pbx.remote {
            call.set_remote(now, LegId::Pbx, r)?;
        }
        Ok(call)
    }

    /// Supplies (or, for Plain/SDES legs, replaces) the peer's half of `leg` once its SDP is known. Starts ICE
    /// and DTLS; nothing is sent here: call `handle_timeout` (at `poll_timeout`) as usual.
    pub fn set_remote(&mut self, now: Instant, leg: LegId, remote: RemoteLeg) -> Result<(), Error> {
        let l = &mut self.legs[leg.index()];
        match l.local.mode {
            LegMode::Plain => {}
            LegMode::Sdes => {
                let (Some(lk), Some(rk)) = (&l.local.sdes_key, &remote.sdes_key) else {
                    return Err(Error::Config(format!(
                        "{leg:?} leg is SDES but the peer gave no key"
                    )));
                };
                l.srtp = Some(SrtpSession::new(lk, rk)?);
            }
            LegMode::DtlsSrtp => {
                if l.dtls.is_some() {
                    return Err(Error::Config(format!(
                        "{leg:?} leg: DTLS remote already set"
                    )));
                }
                let fp = remote.fingerprint.clone().ok_or_else(|| {
                    Error::Config(format!(
                        "{leg:?} leg is DTLS-SRTP but the peer gave no fingerprint"
                    ))
                })?;
                let cert = l
                    .local
                    .dtls_cert
                    .as_ref()
                    .ok_or_else(|| Error::Config("no DTLS certificate".into()))?;
                l.dtls = Some(DtlsEndpoint::new(l.local.dtls_role, cert, fp)?);
            }
        }
        match (&mut l.ice, &remote.ice) {
            (Some(agent), Some(ri)) => agent.set_remote(now, ri.clone()),
            (Some(_), None) => {
                return Err(Error::Config(format!(
                    "{leg:?} leg runs ICE but the peer gave no ICE data"
                )))
            }
            _ => {}
        }
        if l.ice.is_none() {
            l.dest = remote
                .addr
                .and_then(|a| l.local_for(&a).map(|loc| (loc, a)));
        }
        l.remote = Some(remote);
        l.remote_set_at = Some(now);
        self.progress_due = Some(now);
        Ok(())
    }

    /// Replaces our SDES key on `leg` (when the SDP mapper, not the relay, chose the key we announced). Takes
    /// effect at once: if the peer's key is known the SRTP session is rebuilt.
    pub fn set_local_sdes_key(&mut self, leg: LegId, key: SrtpKeyMaterial) -> Result<(), Error> {
        let l = &mut self.legs[leg.index()];
        if l.local.mode != LegMode::Sdes {
            return Err(Error::Config(format!("{leg:?} leg is not SDES")));
        }
        if let Some(rk) = l.remote.as_ref().and_then(|r| r.sdes_key.as_ref()) {
            l.srtp = Some(SrtpSession::new(&key, rk)?);
        }
        l.local.sdes_key = Some(key);
        Ok(())
    }

    /// Feeds one datagram that arrived on `leg`'s socket `local` from `from`. `buf` is decrypted/rewritten in
    /// place (its content is garbage afterwards). Whatever must be sent goes to `out`.
    pub fn handle_input(
        &mut self,
        now: Instant,
        leg: LegId,
        local: SocketAddr,
        from: SocketAddr,
        buf: &mut [u8],
        out: &mut Outbox,
    ) {
        let li = leg.index();
        {
            let l = &mut self.legs[li];
            l.stats.packets_in += 1;
            l.stats.bytes_in += buf.len() as u64;
        }
        if self.ended {
            self.legs[li].stats.dropped += 1;
            return;
        }
        if buf.len() > MAX_DATAGRAM {
            self.drop_malformed(leg);
            return;
        }
        match rtp::classify(buf) {
            PacketKind::Stun => {
                let l = &mut self.legs[li];
                l.stats.stun_in += 1;
                let ok = match &mut l.ice {
                    Some(agent) => agent.handle_stun(now, local, from, buf),
                    None => false,
                };
                if !ok {
                    self.drop_malformed(leg);
                }
            }
            PacketKind::Dtls => {
                let l = &mut self.legs[li];
                let trusted = match (&l.ice, l.dest) {
                    // With ICE, DTLS is accepted only from the nominated remote (RFC 8445 consent).
                    (Some(agent), _) => agent.selected().is_some_and(|(_, r)| r == from),
                    (None, Some((_, r))) => r == from || l.local.latch,
                    (None, None) => l.local.latch,
                };
                match (&mut l.dtls, trusted) {
                    (Some(d), true) => {
                        if l.ice.is_none() && l.dest.is_none() {
                            l.dest = Some((local, from));
                        }
                        d.handle_datagram(now, buf)
                    }
                    _ => self.drop_malformed(leg),
                }
            }
            // Media never changes ICE/DTLS state: skip `progress` on the hot path.
            PacketKind::Rtp => return self.on_rtp(now, leg, local, from, buf, out),
            PacketKind::Rtcp => return self.on_rtcp(now, leg, from, buf),
            PacketKind::Unknown => return self.drop_malformed(leg),
        }
        self.progress(now, out);
    }

    fn drop_malformed(&mut self, leg: LegId) {
        let s = &mut self.legs[leg.index()].stats;
        s.malformed += 1;
        s.dropped += 1;
    }

    fn count_srtp_error(&mut self, leg: LegId, e: SrtpError) {
        let s = &mut self.legs[leg.index()].stats;
        s.dropped += 1;
        match e {
            SrtpError::AuthFailed => s.auth_failures += 1,
            SrtpError::Replay => s.replays += 1,
            _ => s.malformed += 1,
        }
    }

    /// Source check shared by RTP and RTCP; latches when allowed. False: drop.
    fn accept_source(
        &mut self,
        now: Instant,
        leg: LegId,
        local: SocketAddr,
        from: SocketAddr,
        out: &mut Outbox,
    ) -> bool {
        let l = &mut self.legs[leg.index()];
        if let Some(agent) = &l.ice {
            return agent.selected().is_some_and(|(_, r)| r == from);
        }
        match l.dest {
            Some((_, r)) if r == from => {
                l.last_latch_in = Some(now);
                true
            }
            _ if l.local.latch => {
                // Latch on the first source, or move to a new one once the current one has been silent for 2 s
                // (a PBX that changed ports), so a stray sender cannot steal an active stream.
                let stale = l
                    .last_latch_in
                    .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(2));
                // The address the peer's SDP names always wins: a spoofer that beat the PBX's first packet must not
                // keep the leg (its packets would make the real peer's look like a stranger's).
                let signalled = l
                    .remote
                    .as_ref()
                    .and_then(|r| r.addr)
                    .is_some_and(|a| a == from);
                if stale || signalled {
                    l.dest = Some((local, from));
                    l.last_latch_in = Some(now);
                    out.event(CallEvent::RemoteSelected { leg, remote: from });
                    // A first destination can make the leg ready (RTCP, timers): let handle_timeout see it now.
                    self.progress_due = Some(now);
                    true
                } else {
                    false
                }
            }
            _ => false,
        }
    }

    fn on_rtcp(&mut self, now: Instant, leg: LegId, from: SocketAddr, buf: &mut [u8]) {
        let li = leg.index();
        let len = match &mut self.legs[li].srtp {
            Some(s) => match s.inbound.unprotect_rtcp(buf) {
                Ok(n) => n,
                Err(e) => return self.count_srtp_error(leg, e),
            },
            None if self.legs[li].local.mode == LegMode::Plain => buf.len(),
            None => {
                self.legs[li].stats.dropped += 1;
                return;
            }
        };
        // RTCP never latches (only authenticated media may move the destination); it must come from the peer we
        // send to (the ICE-selected or latched address).
        let l = &self.legs[li];
        let from_peer = match &l.ice {
            Some(agent) => agent.selected().is_some_and(|(_, r)| r == from),
            None => l.dest.is_some_and(|(_, r)| r == from),
        };
        if !from_peer {
            self.legs[li].stats.dropped += 1;
            return;
        }
        let l = &mut self.legs[li];
        l.stats.rtcp_in += 1;
        l.last_media_in = Some(now);
        if let Some(b) = rtp::first_report_block(&buf[..len]) {
            if b.ssrc == l.out.ssrc {
                l.stats.remote_jitter = b.jitter;
                l.stats.remote_lost = b.cumulative_lost;
                l.stats.remote_fraction_lost = b.fraction_lost;
            }
        }
    }

    fn on_rtp(
        &mut self,
        now: Instant,
        leg: LegId,
        local: SocketAddr,
        from: SocketAddr,
        buf: &mut [u8],
        out: &mut Outbox,
    ) {
        let li = leg.index();
        if RtpHeader::parse(buf).is_none() {
            return self.drop_malformed(leg);
        }
        // Decrypt before latching: only authentic packets may move the destination.
        let len = match &mut self.legs[li].srtp {
            Some(s) => match s.inbound.unprotect_rtp(buf) {
                Ok(n) => n,
                Err(e) => return self.count_srtp_error(leg, e),
            },
            None if self.legs[li].local.mode == LegMode::Plain => buf.len(),
            None => {
                self.legs[li].stats.dropped += 1;
                return;
            }
        };
        if !self.accept_source(now, leg, local, from, out) {
            self.legs[li].stats.dropped += 1;
            return;
        }
        let pkt = &mut buf[..len];
        let Some(h) = RtpHeader::parse(pkt) else {
            return self.drop_malformed(leg);
        };
        let src_pt = self.legs[li].payload();
        let clock = src_pt.clock_rate;
        {
            let l = &mut self.legs[li];
            l.last_media_in = Some(now);
            l.recv.record(now, &h, clock);
        }
        let dst = leg.other();
        let dst_pt = self.legs[dst.index()].payload();
        let new_pt = if h.payload_type == src_pt.audio {
            dst_pt.audio
        } else if Some(h.payload_type) == src_pt.dtmf {
            match dst_pt.dtmf {
                Some(p) => p,
                None => {
                    self.legs[li].stats.dropped += 1;
                    return;
                }
            }
        } else {
            // A codec we did not negotiate (e.g. CN, or a PBX ignoring the answer): Meta would reject it.
            self.legs[li].stats.dropped += 1;
            return;
        };
        pkt[1] = (pkt[1] & 0x80) | new_pt;
        if self.legs[dst.index()].ready_at.is_none() {
            // The destination may have just become ready (e.g. SDES keys at set-up): the maiden packet and any
            // held audio must go out before this packet.
            self.progress(now, out);
        }
        if !self.legs[dst.index()].is_ready() {
            if dst == LegId::Meta
                && self.timing.pre_key == PreKeyAudio::Buffer
                && self.timing.pre_key_buffer > 0
            {
                let mut slot = if self.pre_key.len() >= self.timing.pre_key_buffer {
                    self.legs[li].stats.dropped += 1;
                    self.pre_key.pop_front().unwrap_or_default()
                } else {
                    Vec::new()
                };
                slot.clear();
                slot.extend_from_slice(pkt);
                self.pre_key.push_back(slot);
                self.legs[li].stats.buffered += 1;
            } else {
                self.legs[li].stats.dropped += 1;
            }
            return;
        }
        self.send_rtp(now, dst, pkt, &h, out);
        if dst == LegId::Meta {
            self.last_relayed_to_meta = Some(now);
        }
    }

    /// Re-stamps `pkt` (plain RTP) onto `dst`'s stream, protects it into the outbox and counts it.
    fn send_rtp(&mut self, now: Instant, dst: LegId, pkt: &[u8], h: &RtpHeader, out: &mut Outbox) {
        let d = &mut self.legs[dst.index()];
        let Some((local, remote)) = d.dest else {
            d.stats.dropped += 1;
            return;
        };
        let clock = d.payload().clock_rate;
        let (s, t) = d.out.map(now, clock, h.ssrc, h.seq, h.timestamp);
        let room = out.begin(pkt.len() + SRTCP_MAX_TRAILER);
        room[..pkt.len()].copy_from_slice(pkt);
        let pt = pkt[1] & 0x7f;
        rtp::restamp(room, pt, s, t, d.out.ssrc);
        let Some(n) = protect_commit(out, &mut d.srtp, false, pkt.len(), (dst, local, remote))
        else {
            d.stats.dropped += 1;
            return;
        };
        d.stats.packets_out += 1;
        d.stats.bytes_out += n as u64;
        d.out.packets = d.out.packets.wrapping_add(1);
        d.out.octets = d.out.octets.wrapping_add((pkt.len() - 12) as u32);
    }

    fn send_silence(&mut self, now: Instant, dst: LegId, marker: bool, out: &mut Outbox) {
        let d = &mut self.legs[dst.index()];
        let Some((local, remote)) = d.dest else {
            return;
        };
        let pt = d.payload();
        let (seq, ts) = d.out.next_generated(now, pt.clock_rate);
        let room = out.begin(15 + SRTCP_MAX_TRAILER);
        let len = rtp::build_silence(room, pt.audio, seq, ts, d.out.ssrc, marker);
        let Some(n) = protect_commit(out, &mut d.srtp, false, len, (dst, local, remote)) else {
            return;
        };
        d.stats.packets_out += 1;
        d.stats.bytes_out += n as u64;
        d.out.packets = d.out.packets.wrapping_add(1);
        d.out.octets = d.out.octets.wrapping_add(3);
    }

    fn send_rtcp(&mut self, now: Instant, leg: LegId, out: &mut Outbox) {
        let created = self.created;
        let l = &mut self.legs[leg.index()];
        let Some((local, remote)) = l.dest else {
            return;
        };
        let sender = (l.out.packets > 0).then(|| {
            // NTP time from the call's own monotonic epoch (no wall clock in the sans-IO core): consistent within
            // the call, which is what LSR/DLSR round-trip estimation needs.
            let d = now.saturating_duration_since(created) + Duration::from_secs(1);
            let ntp = (d.as_secs() << 32) | (((d.subsec_nanos() as u64) << 32) / 1_000_000_000);
            SenderInfo {
                ntp,
                rtp_ts: l.out.last_ts,
                packets: l.out.packets,
                octets: l.out.octets,
            }
        });
        let block = l.recv.report_block();
        let room = out.begin(52 + SRTCP_MAX_TRAILER);
        let len = rtp::build_report(room, l.out.ssrc, sender, block);
        let Some(n) = protect_commit(out, &mut l.srtp, true, len, (leg, local, remote)) else {
            return;
        };
        l.stats.packets_out += 1;
        l.stats.rtcp_out += 1;
        l.stats.bytes_out += n as u64;
    }

    /// Moves ICE/DTLS output to the outbox and handles state transitions (keys, readiness, failures).
    fn progress(&mut self, now: Instant, out: &mut Outbox) {
        for li in 0..2 {
            let leg = self.legs[li].id;
            // ICE.
            let mut ice_connected = None;
            let mut fail = None;
            if let Some(agent) = &mut self.legs[li].ice {
                while let Some(t) = agent.poll_transmit() {
                    out.push(leg, t.local, t.remote, &t.data);
                }
                while let Some(e) = agent.poll_event() {
                    match e {
                        IceEvent::Connected { local, remote } => {
                            ice_connected = Some((local, remote))
                        }
                        IceEvent::Failed => fail = Some(FailReason::IceFailed),
                        IceEvent::ConsentLost => fail = Some(FailReason::ConsentLost),
                        _ => {}
                    }
                }
            }
            if let Some((local, remote)) = ice_connected {
                let l = &mut self.legs[li];
                let changed = l.dest != Some((local, remote));
                l.dest = Some((local, remote));
                out.event(CallEvent::IceConnected { leg, local, remote });
                if changed {
                    out.event(CallEvent::RemoteSelected { leg, remote });
                }
            }
            // DTLS: the client starts once there is somewhere to send.
            let l = &mut self.legs[li];
            if let (Some(d), Some((local, remote))) = (&mut l.dtls, l.dest) {
                d.start(now);
                while let Some(dg) = d.poll_transmit() {
                    out.push(leg, local, remote, &dg);
                }
                match d.state().clone() {
                    DtlsState::Connected if l.srtp.is_none() => {
                        if let Some(k) = d.take_keys() {
                            out.event(CallEvent::DtlsConnected { leg });
                            l.dtls_done_at = Some(now);
                            match SrtpSession::new(&k.local, &k.remote) {
                                Ok(s) => l.srtp = Some(s),
                                Err(e) => fail = Some(FailReason::Srtp(e.to_string())),
                            }
                        }
                    }
                    DtlsState::Failed(DtlsError::FingerprintMismatch) => {
                        fail = Some(FailReason::FingerprintMismatch)
                    }
                    DtlsState::Failed(e) => fail = Some(FailReason::Dtls(e.to_string())),
                    _ => {}
                }
            }
            if let Some(reason) = fail {
                self.fail(leg, reason, out);
                return;
            }
            let l = &mut self.legs[li];
            if l.srtp.is_some() && !l.keys_announced && l.remote.is_some() {
                l.keys_announced = true;
                out.event(CallEvent::KeysReady { leg });
            }
            if l.ready_at.is_none() && l.is_ready() {
                l.ready_at = Some(now);
                l.rtcp_next = Some(now + self.timing.rtcp_interval);
                if leg == LegId::Meta {
                    // Meta's rule: the business sends the first SRTP packet. Then whatever audio we held.
                    self.send_silence(now, LegId::Meta, true, out);
                    self.last_relayed_to_meta = Some(now);
                    self.flush_pre_key(now, out);
                }
            }
        }
    }

    fn flush_pre_key(&mut self, now: Instant, out: &mut Outbox) {
        let mut q = std::mem::take(&mut self.pre_key);
        for pkt in q.drain(..) {
            if let Some(h) = RtpHeader::parse(&pkt) {
                self.send_rtp(now, LegId::Meta, &pkt, &h, out);
                self.legs[LegId::Pbx.index()].stats.flushed += 1;
            }
        }
        // The buffer is only needed before keys: give its memory back.
        self.pre_key = VecDeque::new();
    }

    fn fail(&mut self, leg: LegId, reason: FailReason, out: &mut Outbox) {
        if !self.ended {
            log::info!("call failed on {leg:?} leg: {reason}");
            self.legs[leg.index()].failed = true;
            self.ended = true;
            out.event(CallEvent::Failed { leg, reason });
        }
    }

    /// Runs timers due at `now` (ICE checks, DTLS retransmissions, RTCP, silence filler, timeouts).
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) {
        if self.ended {
            return;
        }
        for li in 0..2 {
            let l = &mut self.legs[li];
            if let Some(agent) = &mut l.ice {
                agent.handle_timeout(now);
            }
            if let Some(d) = &mut l.dtls {
                d.handle_timeout(now);
            }
            // The SSL object costs tens of KB per call; once keys exist it is only needed for a short while.
            if l.dtls_release_at().is_some_and(|t| now >= t) && l.srtp.is_some() {
                l.dtls = None;
                l.dtls_done_at = None;
            }
        }
        self.progress_due = None;
        self.progress(now, out);
        if self.ended {
            return;
        }
        for li in 0..2 {
            let leg = self.legs[li].id;
            let l = &self.legs[li];
            // Media timeouts.
            let deadline = match (l.last_media_in, l.ready_at) {
                (Some(t), _) => Some(t + self.timing.media_timeout_mid),
                (None, Some(r)) => Some(r + self.timing.media_timeout_start),
                _ => None,
            };
            if deadline.is_some_and(|d| now >= d) {
                self.ended = true;
                out.event(CallEvent::MediaTimeout { leg });
                return;
            }
            if l.ready_at.is_none()
                && l.remote_set_at
                    .is_some_and(|t| now >= t + self.timing.connect_timeout)
            {
                self.fail(leg, FailReason::ConnectTimeout, out);
                return;
            }
            if l.rtcp_next.is_some_and(|t| now >= t) {
                self.send_rtcp(now, leg, out);
                self.legs[li].rtcp_next = Some(now + self.timing.rtcp_interval);
            }
        }
        if let Some(due) = self.silence_due() {
            if now >= due {
                self.send_silence(now, LegId::Meta, false, out);
                self.last_silence = Some(now);
            }
        }
    }

    fn silence_due(&self) -> Option<Instant> {
        let after = self.timing.silence_fill_after?;
        if !self.legs[0].is_ready() {
            return None;
        }
        let base = self.last_relayed_to_meta? + after;
        Some(match self.last_silence {
            Some(s) => base.max(s + Duration::from_millis(20)),
            None => base,
        })
    }

    /// The earliest instant `handle_timeout` should be called; None once the call has ended.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.ended {
            return None;
        }
        let mut t: Option<Instant> = None;
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |y| y.min(x)));
            }
        };
        consider(self.progress_due);
        for l in &self.legs {
            consider(l.ice.as_ref().and_then(|a| a.poll_timeout()));
            consider(l.dtls.as_ref().and_then(|d| d.poll_timeout()));
            consider(l.dtls_release_at());
            consider(l.rtcp_next);
            consider(match (l.last_media_in, l.ready_at) {
                (Some(t), _) => Some(t + self.timing.media_timeout_mid),
                (None, Some(r)) => Some(r + self.timing.media_timeout_start),
                _ => None,
            });
            if l.ready_at.is_none() {
                consider(l.remote_set_at.map(|t| t + self.timing.connect_timeout));
            }
        }
        consider(self.silence_due());
        t
    }

    /// Current state.
    pub fn state(&self) -> CallState {
        if self.ended {
            CallState::Ended
        } else if self.legs.iter().all(|l| l.is_ready()) {
            CallState::Active
        } else {
            CallState::Connecting
        }
    }

    /// Counters of both legs.
    pub fn stats(&self) -> CallStats {
        CallStats {
            meta: self.legs[0].stats,
            pbx: self.legs[1].stats,
        }
    }

    /// Where `leg`'s media currently goes (ICE selection, latched address or SDP address).
    pub fn remote_addr(&self, leg: LegId) -> Option<SocketAddr> {
        self.legs[leg.index()].dest.map(|(_, r)| r)
    }

    /// Our local interarrival jitter estimate for what `leg`'s peer sends us (RTP timestamp units).
    pub fn receive_jitter(&self, leg: LegId) -> u32 {
        self.legs[leg.index()].recv.jitter()
    }
}
