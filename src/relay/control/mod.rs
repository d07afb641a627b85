//! The relay's control channel: JSON lines over a Unix stream socket, a server that turns requests into driver
//! calls, and a blocking `Client` for host processes (Kamailio SIP workers, FreeSWITCH threads).
//!
//! # Protocol (version 1)
//! One request per line, one reply line per request, in order, on a connection a host keeps open. Lines are at
//! most 64 KiB ([`proto::MAX_MESSAGE`]); a longer line gets an error reply and the connection is closed. A line
//! that is not a valid request gets `{"reply":"error","code":"bad_request",...}` and the connection stays usable.
//! ```text
//! -> {"cmd":"ping"}
//! <- {"reply":"pong","version":1,"calls":0}
//! -> {"cmd":"allocate","call_id":"c1","meta":{"transport":"dtls","family":"dual"},"pbx":{"transport":"sdes"}}
//! <- {"reply":"allocated","call_id":"c1",
//!     "meta":{"addrs":["127.0.0.1:41000","[::1]:41001"],"ice_ufrag":"..","ice_pwd":"..","fingerprint":"sha-256 AB:.."},
//!     "pbx":{"addrs":["127.0.0.1:41002"],"sdes":{"suite":"AES_CM_128_HMAC_SHA1_80","key":"base64 key||salt"}}}
//! -> {"cmd":"update","call_id":"c1",
//!     "meta":{"addr":"157.240.19.130:3480","ice_ufrag":"..","ice_pwd":"..","ice_lite":true,
//!             "candidates":[{"addr":"157.240.19.130:3480","priority":2130706431}],"fingerprint":"sha-256 ..",
//!             "audio_pt":111,"dtmf_pt":126},
//!     "pbx":{"addr":"10.0.0.5:20000","sdes":{"suite":"AES_CM_128_HMAC_SHA1_80","key":".."},"audio_pt":96}}
//! <- {"reply":"updated","call_id":"c1"}
//! -> {"cmd":"set_local_sdes","call_id":"c1","side":"pbx","key":{"suite":"AES_CM_128_HMAC_SHA1_80","key":".."}}
//! <- {"reply":"updated","call_id":"c1"}      (when the SDP mapper, not the relay, chose our SDES key; or send
//!                                             "meta_local_sdes"/"pbx_local_sdes" keys inside `update`)
//! -> {"cmd":"stats","call_id":"c1"}        (or {"cmd":"stats"} for totals and every call)
//! <- {"reply":"call_stats","call_id":"c1","state":"active","age_ms":5230,"meta":{...LegStats},"pbx":{...}}
//! -> {"cmd":"delete","call_id":"c1"}
//! <- {"reply":"deleted",...final CallStats}
//! <- {"reply":"error","code":"not_found|exists|no_resources|rejected|bad_request|internal","message":".."}
//! ```
//! `update` may be sent more than once (after the offer, then after the answer) with one or both legs.
//! [`crate::relay::plan`] turns SDP mapping's `CallPlan` into these legs and the allocation into the mapper's
//! `MediaAllocation`. The relay frees a call by itself when it ended (no media, DTLS/ICE failure) or was never
//! updated, after `linger_secs`, so a host that crashed does not leak ports.

pub mod client;
pub mod proto;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::driver::Driver;
use proto::{ErrorCode, Reply, Request, Side, MAX_MESSAGE, PROTOCOL_VERSION};

pub use client::Client;

/// Most control connections served at once; each host process holds one, so this bounds a runaway host.
const MAX_CONNECTIONS: usize = 512;

/// Answers one request. Never panics on any input: a bad request is a `Reply::Error`.
pub fn dispatch(driver: &Driver, req: Request) -> Reply {
    match req {
        Request::Ping => Reply::Pong {
            version: PROTOCOL_VERSION,
            calls: driver.call_count(),
        },
        Request::Allocate { call_id, meta, pbx } => match driver.allocate(&call_id, &meta, &pbx) {
            Ok(a) => Reply::Allocated(a),
            Err(e) => e.into(),
        },
        Request::Update {
            call_id,
            meta,
            pbx,
            meta_local_sdes,
            pbx_local_sdes,
        } => {
            for (side, key) in [(Side::Meta, meta_local_sdes), (Side::Pbx, pbx_local_sdes)] {
                if let Some(key) = key {
                    if let Err(e) = driver.set_local_sdes(&call_id, side, key) {
                        return e.into();
                    }
                }
            }
            match driver.update(&call_id, meta, pbx) {
                Ok(()) => Reply::Updated { call_id },
                Err(e) => e.into(),
            }
        }
        Request::SetLocalSdes { call_id, side, key } => {
            match driver.set_local_sdes(&call_id, side, key) {
                Ok(()) => Reply::Updated { call_id },
                Err(e) => e.into(),
            }
        }
        Request::Delete { call_id } => match driver.delete(&call_id) {
            Ok(s) => Reply::Deleted(s),
            Err(e) => e.into(),
        },
        Request::Stats { call_id: Some(id) } => match driver.call_stats(&id) {
            Ok(s) => Reply::CallStats(s),
            Err(e) => e.into(),
        },
        Request::Stats { call_id: None } => match driver.stats() {
            Ok((totals, calls)) => Reply::Stats { totals, calls },
            Err(e) => e.into(),
        },
    }
}

/// Answers one request line (without its newline).
pub fn dispatch_line(driver: &Driver, line: &[u8]) -> Reply {
    match serde_json::from_slice::<Request>(line) {
        Ok(req) => {
            // A panic in the driver's caller side must cost one reply, not the relay.
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(driver, req))) {
                Ok(r) => r,
                Err(_) => Reply::error(
                    ErrorCode::Internal,
                    "internal error while handling the request",
                ),
            }
        }
        Err(e) => Reply::error(ErrorCode::BadRequest, format!("bad request: {e}")),
    }
}

/// Reads one line of at most MAX_MESSAGE bytes. Ok(None) at end of stream; Err on an over-long line.
fn read_line(r: &mut BufReader<UnixStream>, buf: &mut Vec<u8>) -> std::io::Result<Option<()>> {
    buf.clear();
    let n = r
        .by_ref()
        .take(MAX_MESSAGE as u64 + 1)
        .read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > MAX_MESSAGE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "control message too long",
        ));
    }
    Ok(Some(()))
}

fn serve_connection(driver: &Driver, stream: UnixStream) {
    // No read timeout: host processes keep one idle connection each for their whole life (bounded by
    // MAX_CONNECTIONS). A host that stops reading replies must not block the relay, hence the write timeout.
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let Ok(mut w) = stream.try_clone() else {
        return;
    };
    let mut r = BufReader::new(stream);
    let mut line = Vec::with_capacity(1024);
    loop {
        let reply = match read_line(&mut r, &mut line) {
            Ok(None) => return,
            Ok(Some(())) if line.iter().all(|b| b.is_ascii_whitespace()) => continue,
            Ok(Some(())) => dispatch_line(driver, &line),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                let r = Reply::error(ErrorCode::BadRequest, "message longer than 64 KiB");
                let _ = write_reply(&mut w, &r);
                return;
            }
            Err(_) => return,
        };
        if write_reply(&mut w, &reply).is_err() {
            return;
        }
    }
}

fn write_reply(w: &mut UnixStream, reply: &Reply) -> std::io::Result<()> {
    let mut out = serde_json::to_vec(reply).map_err(std::io::Error::other)?;
    out.push(b'\n');
    w.write_all(&out)
}

/// A control server bound to a socket path; `serve` blocks until `stop` is called from another thread.
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Binds the socket, replacing a stale socket file left by a crashed relay.
    pub fn bind(path: &Path) -> std::io::Result<Server> {
        if path.exists() {
            // Only remove it if nobody answers there: two relays on one path is a configuration error.
            if UnixStream::connect(path).is_ok() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    "a relay already listens on this control socket",
                ));
            }
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        Ok(Server {
            listener,
            path: path.to_owned(),
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A handle that stops `serve`.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            stop: self.stop.clone(),
            path: self.path.clone(),
        }
    }

    /// Accepts connections and serves each on its own thread.
    pub fn serve(&self, driver: Arc<Driver>) {
        let active = Arc::new(AtomicUsize::new(0));
        for conn in self.listener.incoming() {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = conn else { continue };
            if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                let mut s = stream;
                let _ = write_reply(
                    &mut s,
                    &Reply::error(ErrorCode::NoResources, "too many control connections"),
                );
                continue;
            }
            active.fetch_add(1, Ordering::SeqCst);
            let d = driver.clone();
            let a = active.clone();
            let spawned = std::thread::Builder::new()
                .name("wacall-relay-ctl".into())
                .spawn(move || {
                    serve_connection(&d, stream);
                    a.fetch_sub(1, Ordering::SeqCst);
                });
            if spawned.is_err() {
                active.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Stops a `Server::serve` loop.
#[derive(Clone)]
pub struct Stopper {
    stop: Arc<AtomicBool>,
    path: PathBuf,
}

impl Stopper {
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = UnixStream::connect(&self.path);
    }
}
