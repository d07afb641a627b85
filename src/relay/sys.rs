//! Thin, allocation-free wrappers over the Linux calls the relay's hot path needs: epoll, eventfd,
//! `recvmmsg` and `sendmmsg` with preallocated buffers. The only unsafe code of the relay lives here.
#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Largest datagram the relay handles; bigger ones are truncated by the kernel and dropped as such.
pub const MAX_DATAGRAM: usize = 2048;

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// An epoll instance.
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; the returned fd is owned by us from here on.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: fd is a fresh, valid descriptor nobody else owns.
        Ok(Self {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Registers `fd` for readability (level-triggered) with `token` as its event data.
    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        self.add_with(fd, token, libc::EPOLLIN as u32)
    }

    /// Registers `fd` for readability, edge-triggered: the owner must read until the socket is empty (or
    /// remember to come back), and the kernel does not poll the socket again at every wait.
    pub fn add_edge(&self, fd: RawFd, token: u64) -> io::Result<()> {
        self.add_with(fd, token, (libc::EPOLLIN | libc::EPOLLET) as u32)
    }

    fn add_with(&self, fd: RawFd, token: u64, events: u32) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: ev is a valid epoll_event for the duration of the call.
        cvt(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
        Ok(())
    }

    pub fn delete(&self, fd: RawFd) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: as above; the event argument is ignored for DEL but must be non-null on old kernels.
        cvt(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev) })?;
        Ok(())
    }

    /// Waits for events; returns how many entries of `events` were filled. EINTR counts as zero events.
    pub fn wait(&self, events: &mut [libc::epoll_event], timeout_ms: i32) -> io::Result<usize> {
        let max = events.len().min(i32::MAX as usize) as libc::c_int;
        // SAFETY: events points to `max` writable epoll_event entries.
        let n =
            unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), max, timeout_ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(e);
        }
        Ok(n as usize)
    }
}

/// An eventfd used to wake a worker's epoll loop when control commands are queued.
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall returning a new descriptor.
        let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        // SAFETY: fd is fresh and owned by us.
        Ok(Self {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64. A full counter (EAGAIN) still leaves the fd readable.
        let _ = unsafe {
            libc::write(
                self.fd.as_raw_fd(),
                &one as *const u64 as *const libc::c_void,
                8,
            )
        };
    }

    pub fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64; EAGAIN when already drained is fine.
        let _ = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                &mut v as *mut u64 as *mut libc::c_void,
                8,
            )
        };
    }
}

/// Writes `addr` into a sockaddr_storage, returning the length to pass to the kernel.
pub fn to_sockaddr(addr: &SocketAddr, out: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let sin =
                unsafe { &mut *(out as *mut libc::sockaddr_storage as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(a.ip().octets()),
            };
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in6.
            let sin6 =
                unsafe { &mut *(out as *mut libc::sockaddr_storage as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: a.ip().octets(),
            };
            sin6.sin6_scope_id = a.scope_id();
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

/// Reads a sockaddr_storage the kernel filled in. IPv4-mapped IPv6 addresses stay IPv6.
pub fn from_sockaddr(st: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match st.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin =
                unsafe { &*(st as *const libc::sockaddr_storage as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6 =
                unsafe { &*(st as *const libc::sockaddr_storage as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Preallocated receive batch for `recvmmsg`.
pub struct RecvBatch {
    bufs: Vec<[u8; MAX_DATAGRAM]>,
    addrs: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers inside iovs/hdrs only ever point into this struct's own buffers and are
// rewritten before every use, so moving the batch to another thread is sound.
unsafe impl Send for RecvBatch {}

impl RecvBatch {
    pub fn new(n: usize) -> Self {
        let n = n.max(1);
        Self {
            bufs: vec![[0u8; MAX_DATAGRAM]; n],
            // SAFETY: all-zero is a valid sockaddr_storage / iovec / mmsghdr.
            addrs: (0..n).map(|_| unsafe { zeroed() }).collect(),
            iovs: (0..n).map(|_| unsafe { zeroed() }).collect(),
            hdrs: (0..n).map(|_| unsafe { zeroed() }).collect(),
        }
    }

    /// Datagrams one `recv` takes at most.
    pub fn capacity(&self) -> usize {
        self.bufs.len()
    }

    /// Receives up to the batch size of datagrams from a non-blocking socket. Ok(0) when none are queued.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        let n = self.bufs.len();
        for i in 0..n {
            self.iovs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr() as *mut libc::c_void,
                iov_len: MAX_DATAGRAM,
            };
            let h = &mut self.hdrs[i];
            h.msg_hdr.msg_name =
                &mut self.addrs[i] as *mut libc::sockaddr_storage as *mut libc::c_void;
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_hdr.msg_iov = &mut self.iovs[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_control = std::ptr::null_mut();
            h.msg_hdr.msg_controllen = 0;
            h.msg_hdr.msg_flags = 0;
            h.msg_len = 0;
        }
        // SAFETY: every header points at buffers owned by self that live across the call.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        Ok(r as usize)
    }

    /// The i-th received datagram: (bytes, source, truncated). Valid after `recv` returned more than i.
    pub fn get(&mut self, i: usize) -> (&mut [u8], Option<SocketAddr>, bool) {
        let h = &self.hdrs[i];
        let len = (h.msg_len as usize).min(MAX_DATAGRAM);
        let truncated = h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        let from = from_sockaddr(&self.addrs[i]);
        (&mut self.bufs[i][..len], from, truncated)
    }
}

/// Preallocated send batch for `sendmmsg`: packets queued with `push`, sent per socket with `flush`.
pub struct SendBatch {
    bufs: Vec<[u8; MAX_DATAGRAM]>,
    lens: Vec<usize>,
    fds: Vec<RawFd>,
    addrs: Vec<libc::sockaddr_storage>,
    addr_lens: Vec<libc::socklen_t>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    n: usize,
}

// SAFETY: see RecvBatch; pointers are rebuilt before each sendmmsg.
unsafe impl Send for SendBatch {}

impl SendBatch {
    pub fn new(n: usize) -> Self {
        let n = n.max(1);
        Self {
            bufs: vec![[0u8; MAX_DATAGRAM]; n],
            lens: vec![0; n],
            fds: vec![-1; n],
            // SAFETY: all-zero is a valid value of these C structs.
            addrs: (0..n).map(|_| unsafe { zeroed() }).collect(),
            addr_lens: vec![0; n],
            iovs: (0..n).map(|_| unsafe { zeroed() }).collect(),
            hdrs: (0..n).map(|_| unsafe { zeroed() }).collect(),
            n: 0,
        }
    }

    pub fn is_full(&self) -> bool {
        self.n == self.bufs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Queues one datagram; `fill` writes it into the slot and returns its length (0 = nothing to send).
    /// Returns false when the batch is full (flush first).
    pub fn push(
        &mut self,
        fd: RawFd,
        dest: &SocketAddr,
        fill: impl FnOnce(&mut [u8]) -> usize,
    ) -> bool {
        if self.is_full() {
            return false;
        }
        let i = self.n;
        let len = fill(&mut self.bufs[i][..]).min(MAX_DATAGRAM);
        if len == 0 {
            return true;
        }
        self.lens[i] = len;
        self.fds[i] = fd;
        self.addr_lens[i] = to_sockaddr(dest, &mut self.addrs[i]);
        self.n += 1;
        true
    }

    /// Sends everything queued, grouping consecutive packets of the same socket into one `sendmmsg`.
    /// Returns the number of datagrams the kernel refused (counted as send drops by the caller).
    pub fn flush(&mut self) -> usize {
        let mut failed = 0;
        for i in 0..self.n {
            self.iovs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr() as *mut libc::c_void,
                iov_len: self.lens[i],
            };
            let h = &mut self.hdrs[i];
            h.msg_hdr.msg_name =
                &mut self.addrs[i] as *mut libc::sockaddr_storage as *mut libc::c_void;
            h.msg_hdr.msg_namelen = self.addr_lens[i];
            h.msg_hdr.msg_iov = &mut self.iovs[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_control = std::ptr::null_mut();
            h.msg_hdr.msg_controllen = 0;
            h.msg_hdr.msg_flags = 0;
        }
        let mut start = 0;
        while start < self.n {
            let fd = self.fds[start];
            let mut end = start + 1;
            while end < self.n && self.fds[end] == fd {
                end += 1;
            }
            if end - start == 1 {
                // One datagram for this socket (the common case: one packet per call per turn): sendto skips
                // copying and checking a msghdr and an iovec.
                // SAFETY: buffer and address are owned by self and valid for the call.
                let r = unsafe {
                    libc::sendto(
                        fd,
                        self.bufs[start].as_ptr() as *const libc::c_void,
                        self.lens[start],
                        libc::MSG_DONTWAIT,
                        &self.addrs[start] as *const libc::sockaddr_storage
                            as *const libc::sockaddr,
                        self.addr_lens[start],
                    )
                };
                if r < 0 {
                    failed += 1;
                }
                start = end;
                continue;
            }
            let mut at = start;
            while at < end {
                // SAFETY: headers [at, end) point at buffers and addresses owned by self.
                let r = unsafe {
                    libc::sendmmsg(
                        fd,
                        self.hdrs.as_mut_ptr().add(at),
                        (end - at) as libc::c_uint,
                        libc::MSG_DONTWAIT,
                    )
                };
                if r <= 0 {
                    // A refused datagram (full socket buffer, unreachable peer) is dropped, not retried:
                    // real-time audio is worthless late.
                    failed += 1;
                    at += 1;
                } else {
                    at += r as usize;
                }
            }
            start = end;
        }
        self.n = 0;
        failed
    }
}

/// Raises the soft limit of open files towards `want` (at most the hard limit) and returns the soft limit in
/// force afterwards (None if unknown). Failures are ignored: the relay then binds what it can.
pub fn raise_nofile_limit(want: u64) -> Option<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write a valid rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return None;
        }
        if r.rlim_cur < want as libc::rlim_t {
            let cur = r.rlim_cur;
            r.rlim_cur = (want as libc::rlim_t).min(r.rlim_max);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
                r.rlim_cur = cur;
            }
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every target
    Some(r.rlim_cur as u64)
}

/// Descriptors this process has open now (from /proc/self/fd).
pub fn open_fds() -> Option<u64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as u64)
}

/// Sets SO_RCVBUF/SO_SNDBUF; failures are ignored because the kernel default still works.
pub fn set_buffers(fd: RawFd, bytes: usize) {
    let v = bytes.min(i32::MAX as usize) as libc::c_int;
    for opt in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
        // SAFETY: passes a pointer to a valid c_int and its size.
        let _ = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                &v as *const libc::c_int as *const libc::c_void,
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
    }
}

/// Sets the Don't Fragment bit on an IPv4 socket's datagrams without path-MTU bookkeeping
/// (IP_PMTUDISC_PROBE): media datagrams are far below any MTU, and a DF datagram gets no hashed IP ID, which
/// the kernel otherwise computes for every packet. Failures are ignored (IPv6 sockets refuse it).
pub fn set_dont_fragment(fd: RawFd) {
    let v: libc::c_int = libc::IP_PMTUDISC_PROBE;
    // SAFETY: passes a pointer to a valid c_int and its size.
    let _ = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            &v as *const libc::c_int as *const libc::c_void,
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn sockaddr_round_trip() {
        for a in ["127.0.0.1:41000", "[::1]:41001", "[2001:db8::1]:5"] {
            let a: SocketAddr = a.parse().unwrap();
            // SAFETY: zeroed sockaddr_storage is valid.
            let mut st: libc::sockaddr_storage = unsafe { zeroed() };
            to_sockaddr(&a, &mut st);
            assert_eq!(from_sockaddr(&st), Some(a));
        }
    }

    #[test]
    fn batch_send_and_receive() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        b.set_nonblocking(true).unwrap();
        let dest = b.local_addr().unwrap();
        let mut tx = SendBatch::new(8);
        for i in 0..5u8 {
            assert!(tx.push(a.as_raw_fd(), &dest, |buf| {
                buf[..3].copy_from_slice(&[i, i, i]);
                3
            }));
        }
        assert_eq!(tx.flush(), 0);
        let mut rx = RecvBatch::new(8);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let n = rx.recv(b.as_raw_fd()).unwrap();
        assert_eq!(n, 5);
        for i in 0..5 {
            let (data, from, trunc) = rx.get(i);
            assert_eq!(data, &[i as u8; 3]);
            assert_eq!(from, Some(a.local_addr().unwrap()));
            assert!(!trunc);
        }
        assert_eq!(rx.recv(b.as_raw_fd()).unwrap(), 0);
    }
}
