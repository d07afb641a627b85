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

use crate::media::leg::{LegConfig, LegId, LegStats, RemoteLeg};
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

/// A two-leg call. See the module documentation for how to drive it.
pub struct Call {
    inner: crate::media::leg::CallInner,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl Call {
    /// Creates a call. Fails on an inconsistent configuration (e.g. SDES without a key, DTLS without a
    /// certificate, ICE without local addresses).
    pub fn new(now: Instant, config: CallConfig) -> Result<Self, Error> {
        Ok(Self {
            inner: crate::media::leg::CallInner::new(now, config)?,
        })
    }

    /// Supplies (or, for Plain/SDES legs, replaces) the peer's half of `leg` once its SDP is known. Starts ICE
    /// and DTLS on the Meta leg; call `poll_timeout`/drain the outbox afterwards as usual (nothing is sent here).
    pub fn set_remote(&mut self, now: Instant, leg: LegId, remote: RemoteLeg) -> Result<(), Error> {
        self.inner.set_remote(now, leg, remote)
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
        self.inner.handle_input(now, leg, local, from, buf, out)
    }

    /// Runs timers due at `now` (ICE checks, DTLS retransmissions, RTCP, silence filler, timeouts).
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) {
        self.inner.handle_timeout(now, out)
    }

    /// The earliest instant `handle_timeout` should be called; None once the call has ended.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }

    /// Current state.
    pub fn state(&self) -> CallState {
        self.inner.state()
    }

    /// Counters of both legs.
    pub fn stats(&self) -> CallStats {
        self.inner.stats()
    }

    /// Where `leg`'s media currently goes (ICE selection, latched address or SDP address).
    pub fn remote_addr(&self, leg: LegId) -> Option<SocketAddr> {
        self.inner.remote_addr(leg)
    }
}
