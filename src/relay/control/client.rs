//! Blocking control client for host processes: one connection per process, reconnected on demand, every call
//! bounded by a timeout so a dead or hung relay turns into an error, never into a stuck SIP worker.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::proto::{Allocation, LegConfig, RemoteLeg, Reply, Request, SdesKey, Side, MAX_MESSAGE};
use crate::relay::stats::{CallStats, TotalStats};
use crate::relay::Error;

/// A connection to a relay's control socket.
pub struct Client {
    path: PathBuf,
    timeout: Duration,
    conn: Option<BufReader<UnixStream>>,
}

impl Client {
    /// A client for the relay at `path`. Connects lazily; `timeout` bounds each request (connect, write, read).
    pub fn new(path: impl AsRef<Path>, timeout: Duration) -> Client {
        Client {
            path: path.as_ref().to_owned(),
            timeout: timeout.max(Duration::from_millis(1)),
            conn: None,
        }
    }

    fn connect(&mut self) -> Result<&mut BufReader<UnixStream>, Error> {
        if self.conn.is_none() {
            let s = UnixStream::connect(&self.path)
                .map_err(|e| Error::Unavailable(format!("{}: {e}", self.path.display())))?;
            s.set_read_timeout(Some(self.timeout)).map_err(Error::Io)?;
            s.set_write_timeout(Some(self.timeout)).map_err(Error::Io)?;
            self.conn = Some(BufReader::new(s));
        }
        self.conn
            .as_mut()
            .ok_or_else(|| Error::Unavailable("not connected".into()))
    }

    fn exchange(&mut self, line: &[u8]) -> Result<Vec<u8>, Error> {
        let conn = self.connect()?;
        if let Err(e) = conn.get_mut().write_all(line) {
            return Err(Error::Unavailable(format!("write: {e}")));
        }
        let mut buf = Vec::with_capacity(256);
        let n = conn
            .by_ref()
            .take(MAX_MESSAGE as u64 * 64)
            .read_until(b'\n', &mut buf);
        match n {
            Ok(0) => Err(Error::Unavailable(
                "relay closed the control connection".into(),
            )),
            Ok(_) if buf.last() == Some(&b'\n') => Ok(buf),
            Ok(_) => Err(Error::Protocol("reply without end of line".into())),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(Error::Timeout)
            }
            Err(e) => Err(Error::Io(e)),
        }
    }

    /// Sends one request and returns the relay's reply (which may be `Reply::Error`).
    pub fn request(&mut self, req: &Request) -> Result<Reply, Error> {
        let mut line = serde_json::to_vec(req).map_err(|e| Error::Protocol(e.to_string()))?;
        line.push(b'\n');
        if line.len() > MAX_MESSAGE {
            return Err(Error::Protocol("request longer than 64 KiB".into()));
        }
        let reply = match self.exchange(&line) {
            Ok(r) => r,
            // The relay may have restarted since our last request: a write to the old connection fails before
            // anything was processed, so one retry on a fresh connection is safe.
            Err(Error::Unavailable(_)) if self.conn.is_some() => {
                self.conn = None;
                self.exchange(&line).inspect_err(|_| self.conn = None)?
            }
            Err(e) => {
                // After a timeout or garbage the stream is out of step: start over next time.
                self.conn = None;
                return Err(e);
            }
        };
        serde_json::from_slice(&reply).map_err(|e| {
            self.conn = None;
            Error::Protocol(format!("bad reply: {e}"))
        })
    }

    fn expect<T>(
        &mut self,
        req: &Request,
        pick: impl FnOnce(Reply) -> Option<T>,
    ) -> Result<T, Error> {
        match self.request(req)? {
            Reply::Error { code, message } => Err(Error::Remote { code, message }),
            r => pick(r).ok_or_else(|| Error::Protocol("unexpected reply".into())),
        }
    }

    /// Checks that the relay answers; returns its protocol version and call count.
    pub fn ping(&mut self) -> Result<(u32, u64), Error> {
        self.expect(&Request::Ping, |r| match r {
            Reply::Pong { version, calls } => Some((version, calls)),
            _ => None,
        })
    }

    /// Opens both legs of a call: addresses, ICE credentials, fingerprint and SDES keys to put into SDP.
    pub fn allocate(
        &mut self,
        call_id: &str,
        meta: LegConfig,
        pbx: LegConfig,
    ) -> Result<Allocation, Error> {
        self.expect(
            &Request::Allocate {
                call_id: call_id.into(),
                meta,
                pbx,
            },
            |r| match r {
                Reply::Allocated(a) => Some(a),
                _ => None,
            },
        )
    }

    /// Gives the relay what the far ends said (offer or answer), for one or both legs.
    pub fn update(
        &mut self,
        call_id: &str,
        meta: Option<RemoteLeg>,
        pbx: Option<RemoteLeg>,
    ) -> Result<(), Error> {
        self.update_with_local_sdes(call_id, meta, pbx, [None, None])
    }

    /// `update` plus the SDES keys SDP mapping chose for us, per leg [meta, pbx] (what
    /// [`crate::relay::plan::local_sdes_keys`] returns): one request instead of up to three.
    pub fn update_with_local_sdes(
        &mut self,
        call_id: &str,
        meta: Option<RemoteLeg>,
        pbx: Option<RemoteLeg>,
        local_sdes: [Option<SdesKey>; 2],
    ) -> Result<(), Error> {
        let [meta_local_sdes, pbx_local_sdes] = local_sdes;
        self.expect(
            &Request::Update {
                call_id: call_id.into(),
                meta,
                pbx,
                meta_local_sdes,
                pbx_local_sdes,
            },
            |r| match r {
                Reply::Updated { .. } => Some(()),
                _ => None,
            },
        )
    }

    /// Makes the relay send with `key` on leg `side` (an SDES key SDP mapping wrote into our `a=crypto`).
    pub fn set_local_sdes(&mut self, call_id: &str, side: Side, key: SdesKey) -> Result<(), Error> {
        self.expect(
            &Request::SetLocalSdes {
                call_id: call_id.into(),
                side,
                key,
            },
            |r| match r {
                Reply::Updated { .. } => Some(()),
                _ => None,
            },
        )
    }

    /// Ends a call and returns its final statistics.
    pub fn delete(&mut self, call_id: &str) -> Result<CallStats, Error> {
        self.expect(
            &Request::Delete {
                call_id: call_id.into(),
            },
            |r| match r {
                Reply::Deleted(s) => Some(s),
                _ => None,
            },
        )
    }

    /// Statistics of one call.
    pub fn stats(&mut self, call_id: &str) -> Result<CallStats, Error> {
        self.expect(
            &Request::Stats {
                call_id: Some(call_id.into()),
            },
            |r| match r {
                Reply::CallStats(s) => Some(s),
                _ => None,
            },
        )
    }

    /// Totals and every call's statistics.
    pub fn stats_all(&mut self) -> Result<(TotalStats, Vec<CallStats>), Error> {
        self.expect(&Request::Stats { call_id: None }, |r| match r {
            Reply::Stats { totals, calls } => Some((totals, calls)),
            _ => None,
        })
    }
}
