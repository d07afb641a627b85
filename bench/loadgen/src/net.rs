//! The generator's socket layer: non-blocking UDP sockets, batched `sendmmsg`/`recvmmsg` and epoll, so the
//! generator spends its core on SRTP and bookkeeping rather than one syscall per packet.
#![allow(unsafe_code)]

use std::io;
use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

pub const MAX_PKT: usize = 256;
pub const BATCH: usize = 64;

/// Binds a non-blocking socket with large buffers (forced when we may: the generator must not be the one dropping).
pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let s = UdpSocket::bind(addr)?;
    s.set_nonblocking(true)?;
    let fd = s.as_raw_fd();
    let one: libc::c_int = 1;
    // Kernel receive timestamps: latency is measured at arrival, not when the generator gets round to it.
    // SAFETY: fd is a live socket; the option value is a c_int.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            &one as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    // Don't-fragment: for a datagram with DF on an unconnected socket the kernel sets IP ID 0 instead of hashing
    // one per packet (`__ip_select_ident`, about 1.5% of the generator's core at 150k pps). Packets are < 256 B.
    let pmtu: libc::c_int = libc::IP_PMTUDISC_DO;
    // SAFETY: fd is a live socket; the option value is a c_int.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            &pmtu as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    let size: libc::c_int = 8 << 20;
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        // SAFETY: fd is a live socket; the option value is a c_int of the given size.
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                force,
                &size as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r != 0 {
            // SAFETY: as above.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    plain,
                    &size as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
        }
    }
    Ok(s)
}

fn v4(addr: &SocketAddr) -> libc::sockaddr_in {
    let SocketAddr::V4(a) = addr else {
        // The benchmark runs on 127.0.0.1 only.
        return v4(&SocketAddr::V4(SocketAddrV4::new([127, 0, 0, 1].into(), 9)));
    };
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(a.ip().octets()),
        },
        sin_zero: [0; 8],
    }
}

/// A batch of datagrams to send from one socket.
pub struct SendBatch {
    bufs: Vec<[u8; MAX_PKT]>,
    lens: Vec<usize>,
    addrs: Vec<libc::sockaddr_in>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    pub n: usize,
}

// SAFETY: the raw pointers inside iovec/mmsghdr are rebuilt before every use and point into this struct only.
unsafe impl Send for SendBatch {}

impl SendBatch {
    pub fn new() -> Self {
        Self {
            bufs: vec![[0u8; MAX_PKT]; BATCH],
            lens: vec![0; BATCH],
            addrs: vec![v4(&"127.0.0.1:9".parse().unwrap_or_else(|_| unreachable!())); BATCH],
            // SAFETY: iovec and mmsghdr are plain C structs for which all-zero is valid.
            iovs: vec![unsafe { std::mem::zeroed() }; BATCH],
            hdrs: vec![unsafe { std::mem::zeroed() }; BATCH],
            n: 0,
        }
    }

    pub fn is_full(&self) -> bool {
        self.n == BATCH
    }

    /// The next slot's buffer; call `commit` with its length and destination.
    pub fn slot(&mut self) -> &mut [u8; MAX_PKT] {
        &mut self.bufs[self.n]
    }

    pub fn commit(&mut self, len: usize, dest: &SocketAddr) {
        self.lens[self.n] = len;
        self.addrs[self.n] = v4(dest);
        self.n += 1;
    }

    /// Sends everything queued; returns how many datagrams the kernel refused.
    pub fn flush(&mut self, fd: RawFd) -> usize {
        let total = self.n;
        for i in 0..total {
            self.iovs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr() as *mut libc::c_void,
                iov_len: self.lens[i],
            };
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_name = &mut self.addrs[i] as *mut _ as *mut libc::c_void;
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
        }
        let mut done = 0;
        let mut failed = 0;
        while done < total {
            // SAFETY: hdrs[done..total] point at live buffers/addresses owned by self.
            let r = unsafe {
                libc::sendmmsg(
                    fd,
                    self.hdrs[done..].as_mut_ptr(),
                    (total - done) as libc::c_uint,
                    0,
                )
            };
            if r <= 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                if e.kind() == io::ErrorKind::WouldBlock {
                    // Socket buffer full: wait a little rather than drop (the generator must not be the loss).
                    std::thread::yield_now();
                    continue;
                }
                // One bad datagram: skip it.
                failed += 1;
                done += 1;
                continue;
            }
            done += r as usize;
        }
        self.n = 0;
        failed
    }
}

/// A batch of received datagrams.
pub struct RecvBatch {
    pub bufs: Vec<[u8; MAX_PKT]>,
    pub lens: Vec<usize>,
    /// Kernel arrival time (CLOCK_REALTIME, ns) of each datagram; 0 when missing.
    pub rx_ns: Vec<u64>,
    ctrl: Vec<[u64; 8]>,
    addrs: Vec<libc::sockaddr_in>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

// SAFETY: as SendBatch.
unsafe impl Send for RecvBatch {}

impl RecvBatch {
    pub fn new() -> Self {
        Self {
            bufs: vec![[0u8; MAX_PKT]; BATCH],
            lens: vec![0; BATCH],
            rx_ns: vec![0; BATCH],
            ctrl: vec![[0u64; 8]; BATCH],
            // SAFETY: all-zero is valid for these C structs.
            addrs: vec![unsafe { std::mem::zeroed() }; BATCH],
            iovs: vec![unsafe { std::mem::zeroed() }; BATCH],
            hdrs: vec![unsafe { std::mem::zeroed() }; BATCH],
        }
    }

    /// Receives up to BATCH datagrams without blocking; 0 when none.
    pub fn recv(&mut self, fd: RawFd) -> usize {
        for i in 0..BATCH {
            self.iovs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr() as *mut libc::c_void,
                iov_len: MAX_PKT,
            };
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_name = &mut self.addrs[i] as *mut _ as *mut libc::c_void;
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = self.ctrl[i].as_mut_ptr() as *mut libc::c_void;
            h.msg_controllen = std::mem::size_of::<[u64; 8]>();
            h.msg_flags = 0;
        }
        // SAFETY: hdrs point at live buffers owned by self.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r <= 0 {
            return 0;
        }
        let n = r as usize;
        for i in 0..n {
            self.lens[i] = self.hdrs[i].msg_len as usize;
            self.rx_ns[i] = 0;
            // SAFETY: the kernel filled msg_control/msg_controllen; CMSG_* walk inside that buffer.
            unsafe {
                let h = &self.hdrs[i].msg_hdr;
                let mut c = libc::CMSG_FIRSTHDR(h);
                while !c.is_null() {
                    if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SO_TIMESTAMPNS
                    {
                        let ts =
                            std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                        self.rx_ns[i] = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
                    }
                    c = libc::CMSG_NXTHDR(h, c);
                }
            }
        }
        n
    }

    /// Source port of datagram i.
    pub fn src_port(&self, i: usize) -> u16 {
        u16::from_be(self.addrs[i].sin_port)
    }
}

/// Level-triggered epoll over the generator's sockets.
pub struct Epoll {
    fd: RawFd,
    events: Vec<libc::epoll_event>,
}

impl Epoll {
    pub fn new(fds: &[RawFd]) -> io::Result<Self> {
        // SAFETY: plain syscall.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        for (i, f) in fds.iter().enumerate() {
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: i as u64,
            };
            // SAFETY: fd and f are live descriptors; ev is a valid event.
            if unsafe { libc::epoll_ctl(fd, libc::EPOLL_CTL_ADD, *f, &mut ev) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(Self {
            fd,
            events: vec![libc::epoll_event { events: 0, u64: 0 }; fds.len().max(1)],
        })
    }

    /// Waits up to `timeout_ns` (0: just look); returns the indexes of ready sockets.
    pub fn wait(&mut self, timeout_ns: u64, ready: &mut Vec<usize>) {
        ready.clear();
        if timeout_ns > 0 {
            // epoll_wait sleeps in whole milliseconds: sleep finer on the epoll fd itself with ppoll.
            let mut p = libc::pollfd {
                fd: self.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            let ts = libc::timespec {
                tv_sec: (timeout_ns / 1_000_000_000) as libc::time_t,
                tv_nsec: (timeout_ns % 1_000_000_000) as libc::c_long,
            };
            // SAFETY: p and ts are valid for the call.
            unsafe { libc::ppoll(&mut p, 1, &ts, std::ptr::null()) };
        }
        let timeout_ms = 0;
        // SAFETY: events has room for len entries.
        let n = unsafe {
            libc::epoll_wait(
                self.fd,
                self.events.as_mut_ptr(),
                self.events.len() as libc::c_int,
                timeout_ms,
            )
        };
        for i in 0..n.max(0) as usize {
            ready.push(self.events[i].u64 as usize);
        }
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: we own fd.
        unsafe { libc::close(self.fd) };
    }
}

/// Timer slack of 1 ns for this thread, so sub-millisecond sleeps end on time.
pub fn precise_timers() {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
}

/// Pins the calling thread to one CPU.
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_SET writes inside it; sched_setaffinity reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Raises the priority of this process and the relays it starts, where allowed; ignored otherwise.
/// With autogroup scheduling a nice value only counts inside its session, and compilers of other sessions
/// share these two cores: so a session of our own (setsid; fails harmlessly when we lead a group already,
/// e.g. when started by `setsid`) whose autogroup gets nice -20.
pub fn raise_priority() {
    // SAFETY: plain syscalls on our own process.
    unsafe {
        libc::setsid();
        libc::setpriority(libc::PRIO_PROCESS, 0, -20);
    }
    // The generator is the measuring instrument: SCHED_FIFO so its sleeps end on time. It sleeps between
    // ticks (well under half its core), and the kernel's RT throttling keeps 5% for everyone else anyway.
    // RESET_ON_FORK: the relays it starts run as ordinary (nice -20) processes.
    let p = libc::sched_param { sched_priority: 10 };
    // SAFETY: plain syscall on the calling thread with a valid param.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &p) } != 0
    {
        eprintln!("loadgen: SCHED_FIFO refused; generator timing will suffer from other load");
    }
    if std::fs::write("/proc/self/autogroup", "-20").is_err() {
        eprintln!(
            "loadgen: could not raise the autogroup priority; figures will suffer from other load"
        );
    }
}

/// Wall clock (CLOCK_REALTIME, ns): the clock of kernel receive timestamps.
pub fn realtime_ns() -> u64 {
    // SAFETY: ts is written by the kernel.
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts);
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }
}

/// Sleeps `ns` nanoseconds.
pub fn sleep_ns(ns: u64) {
    let ts = libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: ts is valid; a null remainder is allowed.
    unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
}

/// CPU time of the calling thread, nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    // SAFETY: ts is written by the kernel.
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }
}
