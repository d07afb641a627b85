//! The relay's driver: binds the port range once (per-worker socket pools), shards calls over one epoll loop per
//! worker thread, moves datagrams in batches through each call's `Engine` and fires its timers. Control
//! requests run on the caller's thread under the worker's lock; each call's engine is shielded from the others'
//! panics.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::control::proto::{
    Allocation, ErrorCode, Family, LegConfig, RemoteLeg, Reply, SdesKey, Side,
};
use super::engine::{Engine, EngineFactory, EngineSpec, Outbox};
use super::stats::{CallStats, LegStats, TotalStats};
use super::sys::{self, Epoll, EventFd, RecvBatch, SendBatch};

/// Addresses one side of the relay binds and advertises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Interface {
    /// IPv4 address to bind (None: no IPv4 on this side).
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address to bind (None: no IPv6 on this side).
    pub ipv6: Option<Ipv6Addr>,
    /// Address to put in SDP instead of `ipv4` (behind NAT).
    pub advertise_ipv4: Option<Ipv4Addr>,
    pub advertise_ipv6: Option<Ipv6Addr>,
}

impl Default for Interface {
    fn default() -> Self {
        Self {
            ipv4: Some(Ipv4Addr::LOCALHOST),
            ipv6: None,
            advertise_ipv4: None,
            advertise_ipv6: None,
        }
    }
}

/// The relay's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RelayConfig {
    /// The side facing Meta.
    pub meta: Interface,
    /// The side facing the PBX.
    pub pbx: Interface,
    /// UDP port range, inclusive.
    pub port_min: u16,
    pub port_max: u16,
    /// Event loops (threads); 0 = one per core.
    pub workers: usize,
    /// Seconds without any media on both legs after which the relay ends a call.
    pub media_timeout_secs: u64,
    /// Seconds an ended or abandoned call keeps its stats before the relay frees it.
    pub linger_secs: u64,
    /// Datagrams per recvmmsg/sendmmsg batch.
    pub batch: usize,
    /// Socket buffer size per leg socket (SO_RCVBUF/SO_SNDBUF).
    pub socket_buffer: usize,
    /// Exit the relay process when its parent (the host) goes away. Only for `run` in a forked process.
    pub exit_with_parent: bool,
    /// Bind the whole port range at start-up (one socket per port and address, needing that many file
    /// descriptors), so that setting a call up costs no socket system call. Off: bind per call.
    pub prebind_ports: bool,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            meta: Interface::default(),
            pbx: Interface::default(),
            port_min: 41000,
            port_max: 42999,
            workers: 0,
            media_timeout_secs: 30,
            linger_secs: 60,
            batch: 32,
            socket_buffer: 1 << 20,
            exit_with_parent: false,
            prebind_ports: true,
        }
    }
}

/// An error from the driver, as the control reply it becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverError {
    pub code: ErrorCode,
    pub message: String,
}

impl DriverError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<DriverError> for Reply {
    fn from(e: DriverError) -> Self {
        Reply::Error {
            code: e.code,
            message: e.message,
        }
    }
}

type Res<T> = Result<T, DriverError>;

/// What a worker thread and the control threads share. Control threads (one per host connection) change the
/// call table themselves under the lock, so a request costs no hand-off to the worker and back (on these VMs
/// each sleep/wake of a thread costs tens of microseconds of CPU); the worker is woken only when a change
/// needs it earlier than it planned to wake.
struct WorkerShared {
    state: Mutex<WorkerState>,
    epoll: Epoll,
    wake: EventFd,
    stop: AtomicBool,
}

impl WorkerShared {
    /// The worker's state. A panic while it was held (a bug outside any call's engine: engines are shielded
    /// per call) leaves the table usable, so the lock is taken back rather than failing every later request.
    fn lock(&self) -> Res<MutexGuard<'_, WorkerState>> {
        Ok(self.state.lock().unwrap_or_else(|e| {
            log::error!("relay: a worker's state lock was poisoned by a panic; carrying on");
            self.state.clear_poison();
            e.into_inner()
        }))
    }

    /// Wakes the worker when the call table now holds a deadline earlier than the one it sleeps towards.
    fn wake_if_needed(&self, st: &WorkerState) {
        if let (Some(sleeping), Some(std::cmp::Reverse((next, _)))) =
            (st.sleeping_until, st.timers.peek())
        {
            if *next < sleeping {
                self.wake.signal();
            }
        }
    }
}

struct WorkerHandle {
    shared: Arc<WorkerShared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Binds ports of the range on demand (when pre-binding was cut short by the open-files limit), cycling
/// through the range so a freed port is not reused at once.
struct PortPool {
    next: u16,
    min: u16,
    max: u16,
}

impl PortPool {
    fn bind(&mut self, ip: IpAddr) -> Res<UdpSocket> {
        let span = u32::from(self.max - self.min) + 1;
        for _ in 0..span {
            let port = self.next;
            self.next = if self.next >= self.max {
                self.min
            } else {
                self.next + 1
            };
            match UdpSocket::bind(SocketAddr::new(ip, port)) {
                Ok(s) => return Ok(s),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    return Err(DriverError::new(
                        ErrorCode::NoResources,
                        "out of file descriptors (raise the relay's open-files limit)",
                    ))
                }
                Err(_) => {}
            }
        }
        Err(DriverError::new(
            ErrorCode::NoResources,
            format!("no free UDP port on {ip} in {}-{}", self.min, self.max),
        ))
    }
}

/// The running relay: worker threads plus the port pool. Shared by the control server (or used directly by
/// a host that runs the relay in its own process as threads).
pub struct Driver {
    config: RelayConfig,
    workers: Vec<WorkerHandle>,
    ports: Mutex<PortPool>,
    factory: Box<dyn EngineFactory>,
    /// Calls held by all workers (kept by the workers, read by `ping` without asking them).
    calls: Arc<AtomicU64>,
}

impl Driver {
    /// Starts the worker threads.
    pub fn start(config: RelayConfig, factory: Box<dyn EngineFactory>) -> std::io::Result<Driver> {
        if config.port_min == 0 || config.port_min > config.port_max {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "bad port range",
            ));
        }
        let n = if config.workers == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            config.workers
        };
        let mut workers = Vec::with_capacity(n);
        let calls = Arc::new(AtomicU64::new(0));
        for i in 0..n {
            let wake = EventFd::new()?;
            let epoll = Epoll::new()?;
            epoll.add(wake.raw(), WAKE_TOKEN)?;
            let shared = Arc::new(WorkerShared {
                state: Mutex::new(WorkerState::new(&config, calls.clone())),
                epoll,
                wake,
                stop: AtomicBool::new(false),
            });
            let recv = RecvBatch::new(config.batch);
            let sh = shared.clone();
            let thread = std::thread::Builder::new()
                .name(format!("wacall-relay-{i}"))
                .spawn(move || run_worker(&sh, recv))?;
            workers.push(WorkerHandle {
                shared,
                thread: Mutex::new(Some(thread)),
            });
        }
        let ports = Mutex::new(PortPool {
            next: config.port_min,
            min: config.port_min,
            max: config.port_max,
        });
        let driver = Driver {
            config,
            workers,
            ports,
            factory,
            calls,
        };
        if driver.config.prebind_ports {
            driver.prebind();
        }
        Ok(driver)
    }

    /// Binds the whole port range on every configured address, spread over the workers. Ports another
    /// program holds are skipped; when the process runs out of descriptors the rest is bound on demand.
    fn prebind(&self) {
        let c = &self.config;
        let mut ips: Vec<IpAddr> = Vec::new();
        for ip in [
            c.meta.ipv4.map(IpAddr::from),
            c.meta.ipv6.map(IpAddr::from),
            c.pbx.ipv4.map(IpAddr::from),
            c.pbx.ipv6.map(IpAddr::from),
        ]
        .into_iter()
        .flatten()
        {
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        let want = (usize::from(c.port_max - c.port_min) + 1) * ips.len();
        // Leave room for everything else the process opens (control connections, per-call binds, logs).
        const RESERVE: u64 = 512;
        let limit = sys::raise_nofile_limit(want as u64 + RESERVE + 64);
        let budget = match (limit, sys::open_fds()) {
            (Some(l), Some(open)) => l.saturating_sub(open + RESERVE) as usize,
            _ => want,
        };
        if budget < want {
            log::warn!(
                "relay: the open-files limit allows binding {budget} of {want} sockets at start-up; the rest \
                 is bound per call (raise LimitNOFILE / ulimit -n for set-up without socket calls)"
            );
        }
        let mut bound = 0usize;
        let mut stopped_at = None;
        'ports: for port in c.port_min..=c.port_max {
            let w = &self.workers[usize::from(port - c.port_min) % self.workers.len()].shared;
            for &ip in &ips {
                if bound >= budget {
                    stopped_at = Some(port);
                    break 'ports;
                }
                let s = match UdpSocket::bind(SocketAddr::new(ip, port)) {
                    Ok(s) => s,
                    Err(e) if e.raw_os_error() == Some(libc::EMFILE) => {
                        log::warn!(
                            "relay: out of file descriptors after {bound} of {want} sockets; the rest of \
                             the port range is bound per call"
                        );
                        stopped_at = Some(port);
                        break 'ports;
                    }
                    Err(_) => continue,
                };
                self.tune(&s, ip);
                let Ok(mut st) = w.state.lock() else {
                    return;
                };
                if st.register(&w.epoll, s).is_ok() {
                    bound += 1;
                }
            }
        }
        // Binding per call starts where pre-binding stopped, not by retrying the ports already bound.
        if let (Some(port), Ok(mut pool)) = (stopped_at, self.ports.lock()) {
            pool.next = port;
        }
        log::info!(
            "relay: bound {bound} of {want} sockets ({} addresses, ports {}-{})",
            ips.len(),
            c.port_min,
            c.port_max
        );
    }

    pub fn config(&self) -> &RelayConfig {
        &self.config
    }

    fn worker_of(&self, call_id: &str) -> &WorkerHandle {
        let mut h = DefaultHasher::new();
        call_id.hash(&mut h);
        &self.workers[(h.finish() % self.workers.len() as u64) as usize]
    }

    /// Socket options of every leg socket: buffer sizes, and DF on IPv4 (no per-datagram IP ID hashing).
    fn tune(&self, s: &UdpSocket, ip: IpAddr) {
        sys::set_buffers(s.as_raw_fd(), self.config.socket_buffer);
        if ip.is_ipv4() {
            sys::set_dont_fragment(s.as_raw_fd());
        }
    }

    /// The bind and advertised addresses one leg wants.
    fn leg_addrs(&self, side: Side, cfg: &LegConfig) -> Res<Vec<(IpAddr, IpAddr)>> {
        let iface = match side {
            Side::Meta => &self.config.meta,
            Side::Pbx => &self.config.pbx,
        };
        let mut want: Vec<(IpAddr, IpAddr)> = Vec::new();
        if matches!(cfg.family, Family::Ipv4 | Family::Dual) {
            if let Some(ip) = iface.ipv4 {
                want.push((ip.into(), iface.advertise_ipv4.unwrap_or(ip).into()));
            }
        }
        if matches!(cfg.family, Family::Ipv6 | Family::Dual) {
            if let Some(ip) = iface.ipv6 {
                want.push((ip.into(), iface.advertise_ipv6.unwrap_or(ip).into()));
            }
        }
        if want.is_empty() {
            return Err(DriverError::new(
                ErrorCode::NoResources,
                format!(
                    "no {:?} address configured for the {side:?} side",
                    cfg.family
                ),
            ));
        }
        Ok(want)
    }

    /// Takes one socket per wanted address from the worker's pool, binding a new one from the port range
    /// when the pool has none left. On error the sockets taken so far go back.
    fn take_leg(
        &self,
        st: &mut WorkerState,
        epoll: &Epoll,
        want: &[(IpAddr, IpAddr)],
    ) -> Res<(Vec<usize>, Vec<SocketAddr>, Vec<SocketAddr>)> {
        let mut tokens = Vec::with_capacity(want.len());
        let mut addrs = Vec::with_capacity(want.len());
        let mut adv = Vec::with_capacity(want.len());
        for &(ip, adv_ip) in want {
            let token = match st.take(ip) {
                Some(t) => t,
                None => match self.bind_new(st, epoll, ip) {
                    Ok(t) => t,
                    Err(e) => {
                        st.release(&tokens);
                        return Err(e);
                    }
                },
            };
            let Some(Some(entry)) = st.socks.get(token) else {
                return Err(DriverError::new(
                    ErrorCode::Internal,
                    "socket pool out of step",
                ));
            };
            let a = entry.local;
            tokens.push(token);
            addrs.push(a);
            adv.push(SocketAddr::new(adv_ip, a.port()));
        }
        Ok((tokens, addrs, adv))
    }

    /// A socket for a worker whose pool ran dry: a free one of another worker (skipping workers busy right
    /// now, so two threads never wait on each other's lock), else a port of the range not bound yet. It is
    /// given to `st` taken, not in the pool.
    fn bind_new(&self, st: &mut WorkerState, epoll: &Epoll, ip: IpAddr) -> Res<usize> {
        let mut moved = None;
        for w in &self.workers {
            if std::ptr::eq(&w.shared.epoll, epoll) {
                continue;
            }
            if let Ok(mut other) = w.shared.state.try_lock() {
                moved = other.give_away(&w.shared.epoll, ip);
            }
            if moved.is_some() {
                break;
            }
        }
        let s = match moved {
            Some(s) => s,
            None => {
                let s = self
                    .ports
                    .lock()
                    .map_err(|_| DriverError::new(ErrorCode::Internal, "port pool poisoned"))?
                    .bind(ip)?;
                self.tune(&s, ip);
                s
            }
        };
        st.register(epoll, s)
            .map_err(|e| DriverError::new(ErrorCode::Internal, e.to_string()))?;
        st.take(ip)
            .ok_or_else(|| DriverError::new(ErrorCode::Internal, "socket pool out of step"))
    }

    /// Creates the call with one socket per wanted address and leg.
    pub fn allocate(&self, call_id: &str, meta: &LegConfig, pbx: &LegConfig) -> Res<Allocation> {
        if call_id.is_empty() || call_id.len() > 256 {
            return Err(DriverError::new(
                ErrorCode::BadRequest,
                "call_id must be 1-256 bytes",
            ));
        }
        let want_meta = self.leg_addrs(Side::Meta, meta)?;
        let want_pbx = self.leg_addrs(Side::Pbx, pbx)?;
        let w = &self.worker_of(call_id).shared;
        let ((mt, ma, madv), (pt, pa, padv)) = {
            let mut st = w.lock()?;
            if st.by_id.contains_key(call_id) {
                return Err(DriverError::new(
                    ErrorCode::Exists,
                    format!("call {call_id:?} exists"),
                ));
            }
            let m = self.take_leg(&mut st, &w.epoll, &want_meta)?;
            let p = match self.take_leg(&mut st, &w.epoll, &want_pbx) {
                Ok(p) => p,
                Err(e) => {
                    st.release(&m.0);
                    return Err(e);
                }
            };
            (m, p)
        };
        let spec = EngineSpec {
            call_id,
            meta,
            pbx,
            addrs: [&ma, &pa],
            advertised: [&madv, &padv],
            media_timeout: Duration::from_secs(self.config.media_timeout_secs.max(1)),
        };
        // The engine (keys, DTLS state) is built outside the lock: the worker keeps relaying meanwhile.
        let created = self.factory.create(&spec);
        let mut st = w.lock()?;
        let (engine, [mut mal, mut pal]) = match created {
            Ok(x) => x,
            Err(e) => {
                st.release(&mt);
                st.release(&pt);
                return Err(DriverError::new(ErrorCode::Rejected, e));
            }
        };
        mal.addrs = madv;
        pal.addrs = padv;
        st.add(call_id.to_owned(), [mt, pt], engine, Instant::now())?;
        w.wake_if_needed(&st);
        drop(st);
        Ok(Allocation {
            call_id: call_id.to_owned(),
            meta: mal,
            pbx: pal,
        })
    }

    /// Gives the call the remote side's parameters of one or both legs.
    pub fn update(
        &self,
        call_id: &str,
        meta: Option<RemoteLeg>,
        pbx: Option<RemoteLeg>,
    ) -> Res<()> {
        let w = &self.worker_of(call_id).shared;
        let mut st = w.lock()?;
        let r = st.update(call_id, [meta, pbx], Instant::now());
        // Updating may have queued ICE checks or the maiden packet: send them now, from this thread.
        st.flush();
        w.wake_if_needed(&st);
        r
    }

    /// Replaces the key the relay sends with on an SDES leg (SDP mapping chose it).
    pub fn set_local_sdes(&self, call_id: &str, side: Side, key: SdesKey) -> Res<()> {
        let w = &self.worker_of(call_id).shared;
        let mut st = w.lock()?;
        let now = Instant::now();
        let r = match st.by_id.get(call_id).copied() {
            Some(slot) => match st.calls.get_mut(slot) {
                Some(Some(call)) => shield(call, |e| e.set_local_sdes(now, side, &key))
                    .ok_or_else(|| {
                        DriverError::new(ErrorCode::Internal, "the call failed internally")
                    })?
                    .map_err(|e| DriverError::new(ErrorCode::Rejected, e)),
                _ => Err(DriverError::new(
                    ErrorCode::Internal,
                    "call table out of step",
                )),
            },
            None => Err(DriverError::new(
                ErrorCode::NotFound,
                format!("no call {call_id:?}"),
            )),
        };
        if let Some(slot) = st.by_id.get(call_id).copied() {
            st.reschedule_slot(slot);
        }
        w.wake_if_needed(&st);
        r
    }

    /// Ends the call, closes its sockets and returns its final statistics.
    pub fn delete(&self, call_id: &str) -> Res<CallStats> {
        let w = &self.worker_of(call_id).shared;
        let mut st = w.lock()?;
        st.remove(call_id, Instant::now())
            .ok_or_else(|| DriverError::new(ErrorCode::NotFound, format!("no call {call_id:?}")))
    }

    /// Statistics of one call.
    pub fn call_stats(&self, call_id: &str) -> Res<CallStats> {
        let w = &self.worker_of(call_id).shared;
        let st = w.lock()?;
        let (mut calls, _) = st.stats(Some(call_id), Instant::now());
        calls
            .pop()
            .ok_or_else(|| DriverError::new(ErrorCode::NotFound, format!("no call {call_id:?}")))
    }

    /// Totals over every worker and the statistics of every call.
    pub fn stats(&self) -> Res<(TotalStats, Vec<CallStats>)> {
        let mut total = TotalStats {
            workers: self.workers.len(),
            ..Default::default()
        };
        let mut all = Vec::new();
        for w in &self.workers {
            let (calls, t) = w.shared.lock()?.stats(None, Instant::now());
            total.calls += t.calls;
            total.calls_started += t.calls_started;
            total.calls_ended += t.calls_ended;
            total.stray_drops += t.stray_drops;
            total.legs.add(&t.legs);
            all.extend(calls);
        }
        Ok((total, all))
    }

    /// Number of calls currently held.
    pub fn call_count(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Stops the workers (closing every socket) and waits for them.
    pub fn stop(&self) {
        for w in &self.workers {
            w.shared.stop.store(true, Ordering::SeqCst);
            w.shared.wake.signal();
        }
        for w in &self.workers {
            if let Ok(mut t) = w.thread.lock() {
                if let Some(t) = t.take() {
                    let _ = t.join();
                }
            }
            // Close every socket now, not when the last Arc goes.
            if let Ok(mut st) = w.shared.state.lock() {
                let ids: Vec<String> = st.by_id.keys().cloned().collect();
                for id in ids {
                    st.remove(&id, Instant::now());
                }
                st.pool.clear();
                st.socks.clear();
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop();
    }
}

const WAKE_TOKEN: u64 = u64::MAX;

struct CallSlot {
    call_id: String,
    engine: Box<dyn Engine>,
    fds: [[RawFd; 2]; 2],
    tokens: Vec<usize>,
    scheduled: Option<Instant>,
    created: Instant,
    updated: bool,
    ended_at: Option<Instant>,
    /// The engine panicked: it is never called again and the call ends (the others carry on).
    broken: bool,
}

/// Runs `f` on the call's engine, unless it panicked before. A panic marks the call broken and ended, so one
/// call's bug costs that call, not the worker and its other calls.
fn shield<R>(call: &mut CallSlot, f: impl FnOnce(&mut dyn Engine) -> R) -> Option<R> {
    if call.broken {
        return None;
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut *call.engine))) {
        Ok(r) => Some(r),
        Err(_) => {
            log::error!(
                "relay: call {} failed with an internal error and was stopped",
                call.call_id
            );
            call.broken = true;
            call.scheduled = None;
            call.ended_at.get_or_insert_with(Instant::now);
            None
        }
    }
}

/// The call, leg and socket index a bound socket serves.
#[derive(Clone, Copy)]
struct Owner {
    slot: usize,
    side: Side,
    idx: usize,
}

/// A bound UDP socket of the worker, registered in its epoll set for its whole life. Sockets are bound once
/// (at start-up for the whole port range, or on demand when that ran out) and go back to the worker's pool
/// when their call ends: a call's set-up then costs no socket, bind or epoll system call.
struct SockEntry {
    sock: UdpSocket,
    fd: RawFd,
    local: SocketAddr,
    owner: Option<Owner>,
}

struct WorkerState {
    calls: Vec<Option<CallSlot>>,
    free_calls: Vec<usize>,
    by_id: HashMap<String, usize>,
    socks: Vec<Option<SockEntry>>,
    /// Tokens of sockets that moved to another worker, for reuse.
    free_tokens: Vec<usize>,
    /// Free sockets per bound address, oldest first (a freed port is not reused at once: late packets of the
    /// old call are drained and counted as strays meanwhile).
    pool: HashMap<IpAddr, VecDeque<usize>>,
    timers: BinaryHeap<std::cmp::Reverse<(Instant, usize)>>,
    send: SendBatch,
    /// Shared by every engine of this worker (see `Outbox::scratch`).
    scratch: crate::media::Outbox,
    send_failures: u64,
    stray_drops: u64,
    ended_legs: LegStats,
    started: u64,
    finished: u64,
    linger: Duration,
    next_housekeeping: Instant,
    calls_gauge: Arc<AtomicU64>,
    /// Set while the worker sleeps in epoll_wait: the deadline it will wake at by itself.
    sleeping_until: Option<Instant>,
}

/// The worker thread: waits on its epoll set, then moves packets and fires timers under the state lock.
fn run_worker(shared: &WorkerShared, mut recv: RecvBatch) {
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    // Sockets are edge-triggered: one that gave a full batch may hold more and is read again next turn
    // (after the others had theirs) without waiting.
    let mut pending: Vec<usize> = Vec::new();
    let mut again: Vec<usize> = Vec::new();
    loop {
        let wait_ms = if !pending.is_empty() {
            0
        } else {
            let Ok(mut st) = shared.lock() else {
                return;
            };
            let now = Instant::now();
            let mut deadline = st.next_housekeeping;
            if let Some(std::cmp::Reverse((t, _))) = st.timers.peek() {
                deadline = deadline.min(*t);
            }
            st.sleeping_until = Some(deadline);
            deadline
                .saturating_duration_since(now)
                .as_micros()
                .div_ceil(1000)
                .min(1000) as i32
        };
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let n = match shared.epoll.wait(&mut events, wait_ms) {
            Ok(n) => n,
            Err(e) => {
                log::error!("relay worker: epoll_wait failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
                0
            }
        };
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut st) = shared.lock() else {
            return;
        };
        st.sleeping_until = None;
        let now = Instant::now();
        // Engines are shielded per call; this catches a bug of the loop itself, which must not stop the
        // worker (the guard stays outside, so the lock is not poisoned).
        let turn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for token in pending.drain(..) {
                if st.read_socket(&mut recv, token, now) {
                    again.push(token);
                }
            }
            for ev in &events[..n] {
                let token = ev.u64;
                if token == WAKE_TOKEN {
                    shared.wake.drain();
                    continue;
                }
                let token = token as usize;
                if st.read_socket(&mut recv, token, now) {
                    again.push(token);
                }
            }
            // A socket can be both pending and signalled again: read it once next turn.
            if again.len() > 1 {
                again.sort_unstable();
                again.dedup();
            }
            std::mem::swap(&mut pending, &mut again);
            st.fire_timers(now);
            if now >= st.next_housekeeping {
                st.housekeeping(now);
            }
            st.flush();
        }));
        if turn.is_err() {
            log::error!("relay worker: internal error in a loop turn; carrying on");
            pending.clear();
            again.clear();
        }
    }
}

impl WorkerState {
    fn new(cfg: &RelayConfig, calls_gauge: Arc<AtomicU64>) -> Self {
        Self {
            calls: Vec::new(),
            free_calls: Vec::new(),
            by_id: HashMap::new(),
            socks: Vec::new(),
            free_tokens: Vec::new(),
            pool: HashMap::new(),
            timers: BinaryHeap::new(),
            send: SendBatch::new(cfg.batch * 2),
            scratch: crate::media::Outbox::with_capacity(64),
            send_failures: 0,
            stray_drops: 0,
            ended_legs: LegStats::default(),
            started: 0,
            finished: 0,
            linger: Duration::from_secs(cfg.linger_secs.max(1)),
            next_housekeeping: Instant::now(),
            calls_gauge,
            sleeping_until: None,
        }
    }

    fn flush(&mut self) {
        if !self.send.is_empty() {
            self.send_failures += self.send.flush() as u64;
        }
    }

    fn reschedule_slot(&mut self, slot: usize) {
        if let Some(Some(call)) = self.calls.get_mut(slot) {
            reschedule(&mut self.timers, call, slot);
        }
    }

    /// One batch per readable socket per loop turn, so other sockets get their turn. Returns true when the
    /// socket may hold more (a full batch, or an error reported before the queue): read it again next turn.
    fn read_socket(&mut self, recv: &mut RecvBatch, token: usize, now: Instant) -> bool {
        let Some(Some((fd, owner))) = self
            .socks
            .get(token)
            .map(|e| e.as_ref().map(|e| (e.fd, e.owner)))
        else {
            return false;
        };
        let got = match recv.recv(fd) {
            Ok(n) => n,
            Err(e) => {
                // ICMP errors (port unreachable) surface here; they are no reason to stop.
                log::debug!("relay: recv on leg socket: {e}");
                return true;
            }
        };
        let more = got == recv.capacity();
        let Some(entry) = owner else {
            self.stray_drops += got as u64;
            return more;
        };
        let Some(Some(call)) = self.calls.get_mut(entry.slot) else {
            self.stray_drops += got as u64;
            return more;
        };
        let fds = call.fds;
        let mut out = Outbox {
            batch: &mut self.send,
            fds: &fds,
            send_failures: &mut self.send_failures,
            scratch: &mut self.scratch,
        };
        let relayed = shield(call, |engine| {
            for i in 0..got {
                let (data, from, truncated) = recv.get(i);
                match from {
                    Some(from) if !truncated => {
                        engine.on_datagram(now, entry.side, entry.idx, from, data, &mut out)
                    }
                    _ => engine.count_drop(entry.side),
                }
            }
        });
        if relayed.is_none() {
            self.stray_drops += got as u64;
        }
        reschedule(&mut self.timers, call, entry.slot);
        more
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some(std::cmp::Reverse((t, slot))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(Some(call)) = self.calls.get_mut(slot) else {
                continue;
            };
            if call.scheduled != Some(t) {
                continue;
            }
            call.scheduled = None;
            if shield(call, |e| e.next_timeout().is_some_and(|d| d > now)).unwrap_or(false) {
                reschedule(&mut self.timers, call, slot);
                continue;
            }
            let fds = call.fds;
            let mut out = Outbox {
                batch: &mut self.send,
                fds: &fds,
                send_failures: &mut self.send_failures,
                scratch: &mut self.scratch,
            };
            let ended = shield(call, |e| {
                e.on_timeout(now, &mut out);
                e.ended().map(str::to_owned)
            })
            .flatten();
            if call.ended_at.is_none() {
                if let Some(reason) = ended {
                    log::info!("relay: call {} ended: {reason}", call.call_id);
                    call.ended_at = Some(now);
                }
            }
            reschedule(&mut self.timers, call, slot);
        }
    }

    /// Frees calls that ended (or were never updated) longer than `linger` ago: a host that crashed or forgot
    /// to delete must not leak ports forever.
    fn housekeeping(&mut self, now: Instant) {
        self.next_housekeeping = now + Duration::from_secs(1);
        let mut reap = Vec::new();
        for call in self.calls.iter().flatten() {
            let ended = call
                .ended_at
                .map(|t| now.saturating_duration_since(t) >= self.linger)
                .unwrap_or(false);
            let abandoned =
                !call.updated && now.saturating_duration_since(call.created) >= self.linger * 2;
            if ended || abandoned {
                reap.push(call.call_id.clone());
            }
        }
        for id in reap {
            log::info!("relay: freeing call {id} (ended or never updated)");
            self.remove(&id, now);
        }
    }

    /// Registers a freshly bound socket with this worker (epoll set + pool); returns its token.
    fn register(&mut self, epoll: &Epoll, sock: UdpSocket) -> std::io::Result<usize> {
        let local = sock.local_addr()?;
        sock.set_nonblocking(true)?;
        let fd = sock.as_raw_fd();
        let token = self.free_tokens.pop().unwrap_or_else(|| {
            self.socks.push(None);
            self.socks.len() - 1
        });
        if let Err(e) = epoll.add_edge(fd, token as u64) {
            self.free_tokens.push(token);
            return Err(e);
        }
        self.socks[token] = Some(SockEntry {
            sock,
            fd,
            local,
            owner: None,
        });
        self.pool.entry(local.ip()).or_default().push_back(token);
        Ok(token)
    }

    /// Hands a free socket bound to `ip` over to another worker (its own pool ran dry).
    fn give_away(&mut self, epoll: &Epoll, ip: IpAddr) -> Option<UdpSocket> {
        let t = self.take(ip)?;
        let e = self.socks.get_mut(t)?.take()?;
        let _ = epoll.delete(e.fd);
        self.free_tokens.push(t);
        Some(e.sock)
    }

    /// A free socket bound to `ip`, if the pool has one.
    fn take(&mut self, ip: IpAddr) -> Option<usize> {
        self.pool.get_mut(&ip)?.pop_front()
    }

    /// Gives sockets back to the pool, dropping whatever is queued on them.
    fn release(&mut self, tokens: &[usize]) {
        let mut junk = [0u8; 64];
        for &t in tokens {
            let Some(Some(e)) = self.socks.get_mut(t) else {
                continue;
            };
            e.owner = None;
            while e.sock.recv_from(&mut junk).is_ok() {
                self.stray_drops += 1;
            }
            let ip = e.local.ip();
            self.pool.entry(ip).or_default().push_back(t);
        }
    }

    fn add(
        &mut self,
        call_id: String,
        tokens: [Vec<usize>; 2],
        engine: Box<dyn Engine>,
        now: Instant,
    ) -> Res<()> {
        if self.by_id.contains_key(&call_id) {
            let all: Vec<usize> = tokens.iter().flatten().copied().collect();
            self.release(&all);
            return Err(DriverError::new(
                ErrorCode::Exists,
                format!("call {call_id:?} exists"),
            ));
        }
        let slot = self.free_calls.pop().unwrap_or_else(|| {
            self.calls.push(None);
            self.calls.len() - 1
        });
        let mut fds = [[-1; 2]; 2];
        let mut all = Vec::with_capacity(4);
        for (side_i, leg) in tokens.iter().enumerate() {
            for (idx, &t) in leg.iter().enumerate().take(2) {
                if let Some(Some(e)) = self.socks.get_mut(t) {
                    e.owner = Some(Owner {
                        slot,
                        side: Side::from_index(side_i),
                        idx,
                    });
                    fds[side_i][idx] = e.fd;
                    all.push(t);
                }
            }
        }
        let tokens = all;
        let mut call = CallSlot {
            call_id: call_id.clone(),
            engine,
            fds,
            tokens,
            scheduled: None,
            created: now,
            updated: false,
            ended_at: None,
            broken: false,
        };
        reschedule(&mut self.timers, &mut call, slot);
        self.calls[slot] = Some(call);
        self.by_id.insert(call_id, slot);
        self.started += 1;
        self.calls_gauge.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn update(&mut self, call_id: &str, remote: [Option<RemoteLeg>; 2], now: Instant) -> Res<()> {
        let slot = *self
            .by_id
            .get(call_id)
            .ok_or_else(|| DriverError::new(ErrorCode::NotFound, format!("no call {call_id:?}")))?;
        let Some(Some(call)) = self.calls.get_mut(slot) else {
            return Err(DriverError::new(
                ErrorCode::Internal,
                "call table out of step",
            ));
        };
        let broken = || DriverError::new(ErrorCode::Internal, "the call failed internally");
        for (i, r) in remote.iter().enumerate() {
            if let Some(r) = r {
                shield(call, |e| e.update(now, Side::from_index(i), r))
                    .ok_or_else(broken)?
                    .map_err(|e| DriverError::new(ErrorCode::Rejected, e))?;
            }
        }
        call.updated = true;
        // Updating may start ICE checks or DTLS: let the engine act now rather than at its old deadline.
        let fds = call.fds;
        let mut out = Outbox {
            batch: &mut self.send,
            fds: &fds,
            send_failures: &mut self.send_failures,
            scratch: &mut self.scratch,
        };
        shield(call, |e| e.on_timeout(now, &mut out)).ok_or_else(broken)?;
        reschedule(&mut self.timers, call, slot);
        Ok(())
    }

    fn remove(&mut self, call_id: &str, now: Instant) -> Option<CallStats> {
        let slot = self.by_id.remove(call_id)?;
        let call = self.calls.get_mut(slot)?.take()?;
        self.free_calls.push(slot);
        self.release(&call.tokens);
        let mut call = call;
        let mut st = call_stats(&call, now);
        st.state = match (
            call.broken,
            shield(&mut call, |e| e.ended().map(str::to_owned)),
        ) {
            (true, _) => "ended: internal error".into(),
            (false, Some(Some(r))) => format!("ended: {r}"),
            _ => "deleted".into(),
        };
        self.ended_legs.add(&st.meta);
        self.ended_legs.add(&st.pbx);
        self.finished += 1;
        self.calls_gauge.fetch_sub(1, Ordering::Relaxed);
        Some(st)
    }

    fn stats(&self, call_id: Option<&str>, now: Instant) -> (Vec<CallStats>, TotalStats) {
        let mut total = TotalStats {
            calls: self.by_id.len() as u64,
            calls_started: self.started,
            calls_ended: self.finished,
            ..Default::default()
        };
        total.legs = self.ended_legs.clone();
        total.legs.drops += self.send_failures;
        total.stray_drops = self.stray_drops;
        let mut out = Vec::new();
        match call_id {
            Some(id) => {
                if let Some(Some(c)) = self.by_id.get(id).and_then(|s| self.calls.get(*s)) {
                    out.push(call_stats(c, now));
                }
            }
            None => {
                for c in self.calls.iter().flatten() {
                    let s = call_stats(c, now);
                    total.legs.add(&s.meta);
                    total.legs.add(&s.pbx);
                    out.push(s);
                }
            }
        }
        (out, total)
    }
}

fn call_stats(c: &CallSlot, now: Instant) -> CallStats {
    let age_ms = now.saturating_duration_since(c.created).as_millis() as u64;
    let engine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        (
            c.engine.ended().map(str::to_owned),
            c.engine.leg_stats(Side::Meta),
            c.engine.leg_stats(Side::Pbx),
        )
    }));
    let (ended, meta, pbx) = match engine {
        Ok(x) if !c.broken => x,
        _ => {
            return CallStats {
                call_id: c.call_id.clone(),
                state: "ended: internal error".into(),
                age_ms,
                meta: LegStats::default(),
                pbx: LegStats::default(),
            }
        }
    };
    let state = match (ended, c.updated) {
        (Some(r), _) => format!("ended: {r}"),
        (None, true) => "active".into(),
        (None, false) => "allocated".into(),
    };
    CallStats {
        call_id: c.call_id.clone(),
        state,
        age_ms,
        meta,
        pbx,
    }
}

/// Arms the call's timer. A deadline that moved later keeps the earlier heap entry (it fires early and is
/// re-armed then), so busy calls whose deadline slides with every packet push nothing per packet.
fn reschedule(
    timers: &mut BinaryHeap<std::cmp::Reverse<(Instant, usize)>>,
    call: &mut CallSlot,
    slot: usize,
) {
    let Some(Some(next)) = shield(call, |e| e.next_timeout()) else {
        return;
    };
    match call.scheduled {
        Some(armed) if armed <= next => {}
        _ => {
            call.scheduled = Some(next);
            timers.push(std::cmp::Reverse((next, slot)));
        }
    }
}
