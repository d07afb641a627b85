//! The seam between the driver (sockets, batches, timers) and what happens to a call's packets: an `Engine`
//! is a sans-IO two-leg call fed with datagrams and time, writing what to send into an `Outbox`.

use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use super::control::proto::{LegAllocation, LegConfig, RemoteLeg, SdesKey, Side};
use super::stats::LegStats;
use super::sys::SendBatch;

/// Where an engine writes datagrams to send. Borrowed from the worker for one call at a time; flushes the
/// worker's batch by itself when it fills up, so an engine never has to care about batch size.
pub struct Outbox<'a> {
    pub(crate) batch: &'a mut SendBatch,
    /// fds[side][socket index]; -1 where the leg has no such socket.
    pub(crate) fds: &'a [[RawFd; 2]; 2],
    pub(crate) send_failures: &'a mut u64,
    /// Scratch space for engines that build datagrams before queueing them (the media core's `Outbox`),
    /// shared by every call of a worker so that no call keeps buffers of its own.
    pub(crate) scratch: &'a mut crate::media::Outbox,
}

impl Outbox<'_> {
    /// The worker's shared scratch outbox (empty when an engine gets it; leave it empty).
    pub fn scratch(&mut self) -> &mut crate::media::Outbox {
        self.scratch
    }

    /// Queues one datagram from socket `sock` of leg `side` to `dest`. `fill` writes it and returns its length.
    pub fn send(
        &mut self,
        side: Side,
        sock: usize,
        dest: SocketAddr,
        fill: impl FnOnce(&mut [u8]) -> usize,
    ) {
        let fd = self.fds[side.index()].get(sock).copied().unwrap_or(-1);
        if fd < 0 {
            *self.send_failures += 1;
            return;
        }
        if self.batch.is_full() {
            *self.send_failures += self.batch.flush() as u64;
        }
        self.batch.push(fd, &dest, fill);
    }

    /// The socket index of leg `side` whose family matches `dest` (0 when only one).
    pub fn sock_for(&self, side: Side, dest: &SocketAddr, addrs: &[SocketAddr]) -> usize {
        let _ = side;
        addrs
            .iter()
            .position(|a| a.is_ipv4() == dest.is_ipv4())
            .unwrap_or(0)
    }
}

/// A two-leg call as the driver sees it.
pub trait Engine: Send {
    /// Remote parameters of one leg (from the mapped SDP). May be called more than once.
    fn update(&mut self, now: Instant, side: Side, remote: &RemoteLeg) -> Result<(), String>;
    /// Replaces the key we send with on an SDES leg. Engines without SDES legs refuse.
    fn set_local_sdes(&mut self, now: Instant, side: Side, key: &SdesKey) -> Result<(), String> {
        let _ = (now, key);
        Err(format!("the {side:?} leg has no SDES key to replace"))
    }
    /// A datagram arrived on socket `sock` of leg `side`. `data` may be modified in place (SRTP).
    fn on_datagram(
        &mut self,
        now: Instant,
        side: Side,
        sock: usize,
        from: SocketAddr,
        data: &mut [u8],
        out: &mut Outbox<'_>,
    );
    /// The deadline from `next_timeout` has passed.
    fn on_timeout(&mut self, now: Instant, out: &mut Outbox<'_>);
    /// When the engine next needs `on_timeout` (retransmissions, keep-alives, no-media check).
    fn next_timeout(&self) -> Option<Instant>;
    /// Counters of one leg.
    fn leg_stats(&self, side: Side) -> LegStats;
    /// Count a datagram the driver dropped before the engine saw it (truncated, unknown source family).
    fn count_drop(&mut self, side: Side);
    /// Some(reason) once the call ended on its own (no media, DTLS failure); the driver reaps it later.
    fn ended(&self) -> Option<&str>;
}

/// What an engine factory gets to build a call.
pub struct EngineSpec<'a> {
    pub call_id: &'a str,
    pub meta: &'a LegConfig,
    pub pbx: &'a LegConfig,
    /// Bound addresses of each leg's sockets, [meta, pbx].
    pub addrs: [&'a [SocketAddr]; 2],
    /// The addresses to advertise (NAT), same order as `addrs`.
    pub advertised: [&'a [SocketAddr]; 2],
    pub media_timeout: Duration,
}

/// Builds engines; the relay's default factory picks plain forwarding or the media core's call.
pub trait EngineFactory: Send + Sync {
    /// Returns the engine and what to report to the host per leg (ICE credentials, fingerprint, SDES key);
    /// the driver fills in `addrs`.
    fn create(
        &self,
        spec: &EngineSpec<'_>,
    ) -> Result<(Box<dyn Engine>, [LegAllocation; 2]), String>;
}
