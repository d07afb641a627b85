//! The traffic side: calls as pairs of SRTP streams (A->B, B->A) at 50 packets/s each, sent on a uniform
//! schedule in sendmmsg batches, received with recvmmsg, decrypted, and timed by a stamp in the payload.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use wacall::media::srtp::{Direction, SrtpBackend, SrtpContext, SRTP_MAX_TRAILER};
use wacall::media::SrtpKeyMaterial;

use crate::net::{self, Epoll, RecvBatch, SendBatch, MAX_PKT};
use crate::peer::{self, DtlsServer, IceCreds};
use crate::procstat;

pub const PAYLOAD: usize = 120;
const MAGIC: u32 = 0x5741_4342; // "WACB"
const PERIOD_NS: u64 = 20_000_000;

struct Stream {
    tx: Option<SrtpContext>,
    /// Generator socket index to send from.
    sock: usize,
    dest: SocketAddr,
    seq: u16,
    ts: u32,
    ssrc: u32,
}

/// One step's measurements.
#[derive(Debug, Clone, Default)]
pub struct StepResult {
    pub calls: usize,
    pub offered_pps: f64,
    pub sent: u64,
    pub received: u64,
    pub loss: f64,
    pub delivered_pps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    /// Relay CPU, % of one core.
    pub relay_cpu_pct: f64,
    /// Relay CPU per 1,000 delivered pps, % of a core.
    pub cpu_per_kpps: f64,
    pub gen_cpu_pct: f64,
    /// Largest lag of the send schedule, ms.
    pub gen_lag_ms: f64,
    pub generator_limited: bool,
    pub auth_fail: u64,
    pub foreign: u64,
    /// STUN checks (consent freshness) answered on DTLS legs during the step.
    pub stun: u64,
    /// DTLS records received during the step (a relay retransmitting its handshake flight).
    pub dtls: u64,
}

/// An established call's DTLS leg.
pub struct DtlsLeg {
    pub id: usize,
    pub creds: IceCreds,
    pub server: DtlsServer,
    /// The relay's sending key as exported at the end of the handshake (debugging: did it change since?).
    pub rx_key: Vec<u8>,
    /// DTLS records received after the handshake.
    pub late: u32,
}

/// A call whose DTLS leg is being set up: the relay side is allocated, ICE and DTLS are under way.
pub struct Pending {
    /// The relay's call id.
    pub id: usize,
    /// Generator A socket (index) and the relay's address on leg A.
    pub sock: usize,
    pub relay: SocketAddr,
    pub creds: IceCreds,
    pub server: DtlsServer,
    pub started: Instant,
    pub stun: u32,
    /// SRTP the relay sent once its keys existed, before the call left `pending` (its maiden packet): fed to the
    /// call's receive context by `add_call` so that context follows the relay's rollover counter.
    pub early: Vec<Vec<u8>>,
}

pub struct Generator {
    socks: Vec<UdpSocket>,
    streams: Vec<Stream>,
    /// rx context per stream (the receiving end's view), indexed like `streams`.
    rx: Vec<Option<SrtpContext>>,
    /// relay source port -> stream index received from it.
    port_map: Vec<u32>,
    /// Per call with a DTLS leg: its ICE credentials (the generator answers the relay's consent checks) and its
    /// DTLS server, kept to answer a relay that retransmits its last flight (it missed ours).
    dtls: Vec<Option<DtlsLeg>>,
    origin: Instant,
    step_tag: u32,
    /// Sends go out in batches every `tick_ns` (see docs/benchmarks.md: pacing decides how often a relay wakes).
    pub tick_ns: u64,
}

impl Generator {
    /// Binds `2*per_side` sockets from `base_port`: the first half are A endpoints, the second B endpoints.
    pub fn new(base_port: u16, per_side: usize) -> Result<Self, String> {
        let mut socks = Vec::new();
        for i in 0..2 * per_side {
            let addr = SocketAddr::from(([127, 0, 0, 1], base_port + i as u16));
            socks.push(net::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?);
        }
        Ok(Self {
            socks,
            streams: Vec::new(),
            rx: Vec::new(),
            port_map: vec![u32::MAX; 65536],
            dtls: Vec::new(),
            origin: Instant::now(),
            step_tag: 0,
            tick_ns: 200_000,
        })
    }

    fn per_side(&self) -> usize {
        self.socks.len() / 2
    }

    /// The generator A socket call id `i` uses.
    pub fn a_sock(&self, i: usize) -> usize {
        i % self.per_side()
    }

    /// The A and B endpoint addresses call `i` uses (`i` is the relay's call id; the A socket is `i % per_side`).
    pub fn endpoints(&self, i: usize) -> (SocketAddr, SocketAddr) {
        let k = self.a_sock(i);
        let a = self.socks[k]
            .local_addr()
            .unwrap_or_else(|_| unreachable!());
        let b = self.socks[self.per_side() + k]
            .local_addr()
            .unwrap_or_else(|_| unreachable!());
        (a, b)
    }

    pub fn calls(&self) -> usize {
        self.streams.len() / 2
    }

    /// Adds call number `calls()`: its send contexts are prepared here, once.
    #[allow(clippy::too_many_arguments)]
    pub fn add_call(
        &mut self,
        id: usize,
        dtls: Option<DtlsLeg>,
        a_key: &SrtpKeyMaterial,
        b_key: Option<&SrtpKeyMaterial>,
        a_dest: SocketAddr,
        b_dest: SocketAddr,
        a_rx: Option<&SrtpKeyMaterial>,
        b_rx: Option<&SrtpKeyMaterial>,
    ) -> Result<(), String> {
        let k = self.a_sock(id);
        let ctx = |key: Option<&SrtpKeyMaterial>, d| {
            // The native AES-CM/HMAC-SHA1 path (`media::srtp_fast`) explicitly, whatever the process default.
            key.map(|k| {
                SrtpContext::with_backend(k, d, SrtpBackend::Native).map_err(|e| e.to_string())
            })
            .transpose()
        };
        let base = self.streams.len() as u32;
        // Stream 2i: A -> relay(a_dest) -> B (arrives at B from b_dest's port).
        self.streams.push(Stream {
            tx: ctx(Some(a_key), Direction::Outbound)?,
            sock: k,
            dest: a_dest,
            seq: 1,
            ts: 0,
            ssrc: 0x1000_0000 + base,
        });
        self.rx.push(ctx(b_rx, Direction::Inbound)?);
        self.port_map[b_dest.port() as usize] = base;
        // Stream 2i+1: B -> relay(b_dest) -> A.
        self.streams.push(Stream {
            tx: ctx(b_key, Direction::Outbound)?,
            sock: self.per_side() + k,
            dest: b_dest,
            seq: 1,
            ts: 0,
            ssrc: 0x1000_0000 + base + 1,
        });
        self.rx.push(ctx(a_rx, Direction::Inbound)?);
        self.port_map[a_dest.port() as usize] = base + 1;
        self.dtls.push(dtls);
        Ok(())
    }

    /// Feeds the relay's SRTP that arrived on leg A before the last call was added (see `Pending::early`).
    pub fn replay_early(&mut self, early: Vec<Vec<u8>>) {
        if let Some(Some(ctx)) = self.rx.last_mut() {
            for mut d in early {
                let _ = ctx.unprotect_rtp(&mut d);
            }
        }
    }

    /// Removes the last call (for stepping load down); its relay side is torn down by the caller.
    pub fn pop_call(&mut self, a_dest: SocketAddr, b_dest: SocketAddr) {
        self.streams.truncate(self.streams.len().saturating_sub(2));
        self.rx.truncate(self.rx.len().saturating_sub(2));
        self.dtls.truncate(self.streams.len() / 2);
        self.port_map[a_dest.port() as usize] = u32::MAX;
        self.port_map[b_dest.port() as usize] = u32::MAX;
    }

    /// STUN or DTLS from the relay on an established call's DTLS leg (`from` is the relay's port, `si` the
    /// generator socket it arrived on): answers it. Returns whether it was a STUN check answered.
    fn established_control(&mut self, si: usize, from: SocketAddr, data: &[u8]) -> bool {
        let stream = self.port_map[from.port() as usize];
        let Some(Some(leg)) = (stream != u32::MAX)
            .then(|| self.dtls.get_mut(stream as usize / 2))
            .flatten()
        else {
            return false;
        };
        if peer::is_stun(data) {
            if let Some(r) = peer::stun_answer(data, from, &leg.creds) {
                let _ = self.socks[si].send_to(&r, from);
                return true;
            }
        } else if (20..=63).contains(&data[0]) {
            leg.late += 1;
            if std::env::var_os("LOADGEN_DEBUG").is_some() {
                let epoch = data
                    .get(3..5)
                    .map_or(0, |e| u16::from_be_bytes([e[0], e[1]]));
                eprintln!(
                    "call {}: DTLS record after the handshake: content type {}, epoch {epoch}, handshake type {}",
                    leg.id,
                    data[0],
                    if data[0] == 22 && epoch == 0 { data.get(13).copied().unwrap_or(0) } else { 0 }
                );
            }
            for o in leg.server.input(data) {
                let _ = self.socks[si].send_to(&o, from);
            }
        }
        false
    }

    /// SRTP from the relay outside a step (its maiden packet and silence filler toward a DTLS leg, sent as soon
    /// as its keys exist): decrypted and dropped, so the stream's receive context sees every packet, as Meta's
    /// would. Skipping them would break more than the count: a relay whose random first sequence number is near
    /// 65535 wraps during set-up, and a receiver that missed the wrap stays one rollover behind for good.
    fn track_srtp(&mut self, from: SocketAddr, data: &mut [u8]) {
        let stream = self.port_map[from.port() as usize];
        if data.len() < 12 || (200..=204).contains(&data[1]) {
            return;
        }
        if let Some(Some(ctx)) = self.rx.get_mut(stream as usize) {
            let _ = ctx.unprotect_rtp(data);
        }
    }

    /// One pass over the A sockets while DTLS legs are being set up: answers STUN checks (for `pending` calls and
    /// for established ones, whose consent checks keep coming) and feeds DTLS records to the pending calls'
    /// servers. Sleeps `idle` when nothing arrived. Returns the number of datagrams handled.
    pub fn pump(&mut self, pending: &mut [Pending], idle: Duration) -> usize {
        let mut buf = [0u8; 2048];
        let mut handled = 0;
        for si in 0..self.per_side() {
            while let Ok((n, from)) = self.socks[si].recv_from(&mut buf) {
                handled += 1;
                let data = &buf[..n];
                let Some(p) = pending.iter_mut().find(|p| p.sock == si && p.relay == from) else {
                    if (128..=191).contains(&data[0]) {
                        self.track_srtp(from, &mut buf[..n]);
                    } else {
                        self.established_control(si, from, data);
                    }
                    continue;
                };
                if peer::is_stun(data) {
                    if let Some(r) = peer::stun_answer(data, from, &p.creds) {
                        let _ = self.socks[si].send_to(&r, from);
                        p.stun += 1;
                    }
                } else if (20..=63).contains(&data[0]) {
                    for o in p.server.input(data) {
                        let _ = self.socks[si].send_to(&o, from);
                    }
                } else if (128..=191).contains(&data[0]) && p.early.len() < 64 {
                    p.early.push(data.to_vec());
                }
            }
        }
        if handled == 0 {
            std::thread::sleep(idle);
        }
        handled
    }

    fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// Runs traffic on every call for `warm + measure`, measuring over `measure`, then drains for `drain`.
    pub fn run(
        &mut self,
        relay_pid: u32,
        warm: Duration,
        measure: Duration,
        drain: Duration,
    ) -> StepResult {
        self.step_tag = self.step_tag.wrapping_add(1);
        let tag = self.step_tag;
        let n = self.streams.len();
        let mut res = StepResult {
            calls: n / 2,
            offered_pps: n as f64 * 50.0,
            ..Default::default()
        };
        if n == 0 {
            return res;
        }
        let fds: Vec<_> = self.socks.iter().map(|s| s.as_raw_fd()).collect();
        let Ok(mut ep) = Epoll::new(&fds) else {
            return res;
        };
        let mut sends: Vec<SendBatch> = (0..fds.len()).map(|_| SendBatch::new()).collect();
        let mut rb = RecvBatch::new();
        let mut ready = Vec::new();
        let mut lat: Vec<u32> =
            Vec::with_capacity((res.offered_pps * measure.as_secs_f64()) as usize + 1024);
        let slot = PERIOD_NS / n as u64;
        let t0 = self.now_ns();
        let m_start = t0 + warm.as_nanos() as u64;
        let m_end = m_start + measure.as_nanos() as u64;
        let end = m_end + drain.as_nanos() as u64;
        let mut k: u64 = 0;
        let mut relay_cpu0 = 0;
        let mut gen_cpu0 = 0;
        let mut measuring = false;
        let mut max_lag = 0u64;
        // LOADGEN_DEBUG: per stream, packets authenticated, the last one's seq and SSRC, and whether one failed.
        let mut dbg: Option<Vec<(u32, u16, u32, bool)>> = std::env::var_os("LOADGEN_DEBUG")
            .is_some()
            .then(|| vec![(0, 0, 0, false); n]);
        loop {
            let now = self.now_ns();
            if !measuring && now >= m_start {
                measuring = true;
                relay_cpu0 = procstat::cpu_ns(relay_pid);
                gen_cpu0 = net::thread_cpu_ns();
            }
            if measuring && now >= m_end && res.relay_cpu_pct == 0.0 {
                let wall = (now - m_start) as f64;
                res.relay_cpu_pct =
                    (procstat::cpu_ns(relay_pid) - relay_cpu0) as f64 / wall * 100.0;
                res.gen_cpu_pct = (net::thread_cpu_ns() - gen_cpu0) as f64 / wall * 100.0;
                if res.relay_cpu_pct == 0.0 {
                    res.relay_cpu_pct = f64::MIN_POSITIVE;
                }
            }
            if now >= end {
                break;
            }
            // Send everything due (only until the end of the measured window).
            let send_until = now.min(m_end.saturating_sub(1));
            loop {
                let due = t0 + k * slot;
                if due > send_until {
                    break;
                }
                if now - due > max_lag {
                    max_lag = now - due;
                    if std::env::var_os("LOADGEN_DEBUG").is_some() && max_lag > 5_000_000 {
                        eprintln!(
                            "lag {:.1} ms at {:.3} s (k {k})",
                            max_lag as f64 / 1e6,
                            (now - t0) as f64 / 1e9
                        );
                    }
                }
                let si = (k % n as u64) as usize;
                k += 1;
                let s = &mut self.streams[si];
                let counted = due >= m_start && due < m_end;
                let b = &mut sends[s.sock];
                if b.is_full() {
                    b.flush(fds[s.sock]);
                }
                let buf = b.slot();
                buf[0] = 0x80;
                buf[1] = 111;
                buf[2..4].copy_from_slice(&s.seq.to_be_bytes());
                buf[4..8].copy_from_slice(&s.ts.to_be_bytes());
                buf[8..12].copy_from_slice(&s.ssrc.to_be_bytes());
                buf[12..16].copy_from_slice(&MAGIC.to_be_bytes());
                buf[16..20].copy_from_slice(&(si as u32).to_be_bytes());
                buf[20..24].copy_from_slice(&(if counted { tag } else { 0 }).to_be_bytes());
                buf[24..32].copy_from_slice(&net::realtime_ns().to_be_bytes());
                s.seq = s.seq.wrapping_add(1);
                s.ts = s.ts.wrapping_add(960);
                let mut len = 12 + PAYLOAD;
                if let Some(tx) = s.tx.as_mut() {
                    debug_assert!(len + SRTP_MAX_TRAILER <= MAX_PKT);
                    match tx.protect_rtp(&mut buf[..], len) {
                        Ok(l) => len = l,
                        Err(_) => continue,
                    }
                }
                if counted {
                    res.sent += 1;
                }
                let dest = s.dest;
                b.commit(len, &dest);
            }
            for (i, b) in sends.iter_mut().enumerate() {
                if b.n > 0 {
                    b.flush(fds[i]);
                }
            }
            // Sleep to the next tick whatever arrives (waking per packet would make the generator the
            // bottleneck); arrival times come from the kernel's receive timestamps.
            let now = self.now_ns();
            let next_tick = if now < m_end {
                (t0 + k * slot).max(now - now % self.tick_ns + self.tick_ns)
            } else {
                now + 1_000_000
            };
            if next_tick > now {
                net::sleep_ns(next_tick - now);
            }
            ep.wait(0, &mut ready);
            for &si in &ready {
                loop {
                    let got = rb.recv(fds[si]);
                    if got == 0 {
                        break;
                    }
                    let rnow = net::realtime_ns();
                    for j in 0..got {
                        let rx_at = if rb.rx_ns[j] > 0 { rb.rx_ns[j] } else { rnow };
                        let stream = self.port_map[rb.src_port(j) as usize];
                        let len = rb.lens[j];
                        let src = rb.src_port(j);
                        let buf = &mut rb.bufs[j][..];
                        if peer::is_stun(&buf[..len]) || (20..=63).contains(&buf[0]) {
                            // Consent freshness (RFC 7675) or a DTLS retransmission on a DTLS leg: answer it, or
                            // the relay drops the call or never gets its keys.
                            let from = SocketAddr::from(([127, 0, 0, 1], src));
                            if self.established_control(si, from, &buf[..len]) {
                                res.stun += 1;
                            } else if peer::is_stun(&buf[..len]) {
                                res.foreign += 1;
                            } else {
                                res.dtls += 1;
                            }
                            continue;
                        }
                        if stream == u32::MAX || len < 12 || (200..=204).contains(&buf[1]) {
                            res.foreign += 1;
                            continue;
                        }
                        let seq = u16::from_be_bytes([buf[2], buf[3]]);
                        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
                        let plain = match self.rx[stream as usize].as_mut() {
                            Some(ctx) => match ctx.unprotect_rtp(&mut buf[..len]) {
                                Ok(l) => {
                                    if let Some(d) = dbg.as_mut() {
                                        let e = &mut d[stream as usize];
                                        e.0 += 1;
                                        e.1 = seq;
                                        e.2 = ssrc;
                                    }
                                    l
                                }
                                Err(e) => {
                                    res.auth_fail += 1;
                                    if let Some(d) = dbg.as_mut() {
                                        let (ok, lseq, lssrc, failed) = &mut d[stream as usize];
                                        if !*failed {
                                            *failed = true;
                                            if let Some(Some(l)) =
                                                self.dtls.get(stream as usize / 2)
                                            {
                                                let same =
                                                    l.server.keys().and_then(Result::ok).map(
                                                        |(_, rx)| {
                                                            rx.key_and_salt() == &l.rx_key[..]
                                                        },
                                                    );
                                                eprintln!("  relay call bench-{}: {} DTLS records after the handshake; server's keys now: {}", l.id, l.late, match same { Some(true) => "unchanged", Some(false) => "CHANGED", None => "none" });
                                            }
                                            eprintln!(
                                                "authfail stream {stream} (generator call {}, {}) from port {src} seq {seq} ssrc {ssrc:08x}: {e}; {ok} packets authenticated before, the last seq {lseq} ssrc {lssrc:08x}",
                                                stream / 2,
                                                if stream % 2 == 0 { "A->B, relay's leg B key" } else { "B->A, relay's leg A key" },
                                            );
                                        }
                                    }
                                    continue;
                                }
                            },
                            None => len,
                        };
                        if plain < 32 || buf[12..16] != MAGIC.to_be_bytes() {
                            res.foreign += 1;
                            continue;
                        }
                        if u32::from_be_bytes([buf[20], buf[21], buf[22], buf[23]]) != tag {
                            continue;
                        }
                        let mut sent = [0u8; 8];
                        sent.copy_from_slice(&buf[24..32]);
                        let sent = u64::from_be_bytes(sent);
                        res.received += 1;
                        lat.push((rx_at.saturating_sub(sent) / 1000).min(u32::MAX as u64) as u32);
                    }
                    if got < net::BATCH {
                        break;
                    }
                }
            }
        }
        let secs = measure.as_secs_f64();
        res.delivered_pps = res.received as f64 / secs;
        res.loss = if res.sent > 0 {
            1.0 - res.received as f64 / res.sent as f64
        } else {
            0.0
        };
        res.loss = res.loss.max(0.0);
        lat.sort_unstable();
        let pct = |p: f64| -> f64 {
            if lat.is_empty() {
                return f64::NAN;
            }
            lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)] as f64
        };
        res.p50_us = pct(0.5);
        res.p99_us = pct(0.99);
        res.p999_us = pct(0.999);
        let kpps = res.delivered_pps.max(1.0) / 1000.0;
        res.cpu_per_kpps = res.relay_cpu_pct / kpps;
        res.gen_lag_ms = max_lag.saturating_sub(self.tick_ns) as f64 / 1e6;
        // The generator is the limit when it could not send its schedule in the window (it fell behind for
        // good) or was busy nearly all of its core. A late wake-up alone (another process held the core) only makes
        // a burst; `gen_lag_ms` shows it.
        let expected = res.offered_pps * secs;
        res.generator_limited = (res.sent as f64) < 0.99 * expected || res.gen_cpu_pct >= 95.0;
        res
    }
}
