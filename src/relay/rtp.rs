//! Plain RTP forwarding between two legs (no crypto): latching, payload-type rewrite, RTCP report reading and
//! the no-media timeout. Used for RTP<->RTP calls and as the reference the SRTP engines are tested against.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::control::proto::{RemoteLeg, Side};
use super::engine::{Engine, Outbox};
use super::stats::LegStats;

/// Classification of a datagram's first bytes (RFC 7983 demultiplexing plus RFC 5761 RTP/RTCP split).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stun,
    Dtls,
    Rtp,
    Rtcp,
    Other,
}

/// Classifies a datagram. Anything too short to be its kind is `Other`.
pub fn classify(data: &[u8]) -> Kind {
    let Some(&b0) = data.first() else {
        return Kind::Other;
    };
    match b0 {
        0..=3 if data.len() >= 20 => Kind::Stun,
        20..=63 if data.len() >= 13 => Kind::Dtls,
        128..=191 if data.len() >= 8 => {
            let pt = data[1] & 0x7f;
            // RFC 5761: RTCP packet types 192-223 show up as marker+pt 64-95.
            if (64..=95).contains(&pt) {
                Kind::Rtcp
            } else if data.len() >= 12 {
                Kind::Rtp
            } else {
                Kind::Other
            }
        }
        _ => Kind::Other,
    }
}

/// Jitter and cumulative loss from the first report block of an RTCP compound packet, if any.
pub fn rtcp_report(data: &[u8]) -> Option<(u32, i32)> {
    let mut at = 0;
    while at + 4 <= data.len() {
        let b0 = data[at];
        let pt = data[at + 1];
        let words = u16::from_be_bytes([data[at + 2], data[at + 3]]) as usize;
        let len = (words + 1) * 4;
        if b0 >> 6 != 2 || at + len > data.len() {
            return None;
        }
        let count = (b0 & 0x1f) as usize;
        let block = match pt {
            200 => at + 28,
            201 => at + 8,
            _ => 0,
        };
        if block != 0 && count > 0 && block + 24 <= at + len {
            let b = &data[block..block + 24];
            let lost = i32::from_be_bytes([b[5], b[6], b[7], 0]) >> 8;
            let jitter = u32::from_be_bytes([b[12], b[13], b[14], b[15]]);
            return Some((jitter, lost));
        }
        at += len;
    }
    None
}

/// Payload types of one leg (audio codec, telephone-event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pts {
    pub audio: u8,
    pub dtmf: Option<u8>,
}

impl Default for Pts {
    fn default() -> Self {
        Self {
            audio: 111,
            dtmf: Some(126),
        }
    }
}

/// Rewrites the payload type of an RTP packet received with `from`'s numbering to `to`'s.
pub fn rewrite_pt(data: &mut [u8], from: Pts, to: Pts) {
    if data.len() < 2 || from == to {
        return;
    }
    let pt = data[1] & 0x7f;
    let new = if pt == from.audio {
        to.audio
    } else if Some(pt) == from.dtmf {
        to.dtmf.unwrap_or(pt)
    } else {
        pt
    };
    data[1] = (data[1] & 0x80) | (new & 0x7f);
}

/// Where one leg's media goes and where it may come from.
#[derive(Debug, Default)]
pub(crate) struct Latch {
    /// From the plan (SDP c=/m=).
    pub planned: Option<SocketAddr>,
    pub planned_rtcp: Option<SocketAddr>,
    /// The address the peer actually sends from (symmetric RTP).
    pub latched: Option<SocketAddr>,
}

impl Latch {
    /// Whether a packet from `from` may be accepted, latching on the first one. With a planned address the
    /// source must at least share its IP: stops a stray sender from capturing an unprotected leg.
    pub fn accept(&mut self, from: SocketAddr) -> bool {
        match self.latched {
            Some(l) if l == from => true,
            Some(_) => false,
            None => {
                if let Some(p) = self.planned {
                    if p.ip() != from.ip() {
                        return false;
                    }
                }
                self.latched = Some(from);
                true
            }
        }
    }

    pub fn dest(&self) -> Option<SocketAddr> {
        self.latched.or(self.planned)
    }

    pub fn rtcp_dest(&self) -> Option<SocketAddr> {
        self.latched.or(self.planned_rtcp).or(self.planned)
    }
}

struct PlainLeg {
    addrs: Vec<SocketAddr>,
    latch: Latch,
    pts: Pts,
    stats: LegStats,
    last_in: Option<Instant>,
}

/// RTP<->RTP forwarding engine.
pub struct PlainEngine {
    legs: [PlainLeg; 2],
    created: Instant,
    media_timeout: Duration,
    ended: Option<String>,
}

impl PlainEngine {
    pub fn new(addrs: [&[SocketAddr]; 2], media_timeout: Duration) -> Self {
        let leg = |a: &[SocketAddr]| PlainLeg {
            addrs: a.to_vec(),
            latch: Latch::default(),
            pts: Pts::default(),
            stats: LegStats {
                state: "new".into(),
                ..Default::default()
            },
            last_in: None,
        };
        Self {
            legs: [leg(addrs[0]), leg(addrs[1])],
            created: Instant::now(),
            media_timeout,
            ended: None,
        }
    }
}

impl Engine for PlainEngine {
    fn update(&mut self, _now: Instant, side: Side, remote: &RemoteLeg) -> Result<(), String> {
        let leg = &mut self.legs[side.index()];
        if remote.addr.is_some() {
            leg.latch.planned = remote.addr;
            leg.latch.planned_rtcp = remote.rtcp_addr;
            // A new plan (re-answer) may move the peer: let it latch again.
            leg.latch.latched = None;
        }
        let d = Pts::default();
        leg.pts = Pts {
            audio: remote.audio_pt.unwrap_or(d.audio),
            dtmf: remote.dtmf_pt.or(d.dtmf),
        };
        Ok(())
    }

    fn on_datagram(
        &mut self,
        now: Instant,
        side: Side,
        _sock: usize,
        from: SocketAddr,
        data: &mut [u8],
        out: &mut Outbox<'_>,
    ) {
        let (i, o) = (side.index(), side.other().index());
        {
            let leg = &mut self.legs[i];
            leg.stats.packets_in += 1;
            leg.stats.bytes_in += data.len() as u64;
        }
        let kind = classify(data);
        if !matches!(kind, Kind::Rtp | Kind::Rtcp)
            || self.ended.is_some()
            || !self.legs[i].latch.accept(from)
        {
            self.legs[i].stats.drops += 1;
            return;
        }
        let leg = &mut self.legs[i];
        leg.last_in = Some(now);
        if kind == Kind::Rtp {
            leg.stats.rtp_in += 1;
        } else {
            leg.stats.rtcp_in += 1;
            if let Some((j, l)) = rtcp_report(data) {
                leg.stats.rtcp_jitter = Some(j);
                leg.stats.rtcp_lost = Some(l);
            }
        }
        let from_pts = self.legs[i].pts;
        let peer = &mut self.legs[o];
        let dest = if kind == Kind::Rtp {
            peer.latch.dest()
        } else {
            peer.latch.rtcp_dest()
        };
        let Some(dest) = dest else {
            self.legs[i].stats.drops += 1;
            return;
        };
        if kind == Kind::Rtp {
            rewrite_pt(data, from_pts, peer.pts);
        }
        let sock = out.sock_for(side.other(), &dest, &peer.addrs);
        let len = data.len();
        peer.stats.packets_out += 1;
        peer.stats.bytes_out += len as u64;
        out.send(side.other(), sock, dest, |buf| {
            buf[..len].copy_from_slice(data);
            len
        });
    }

    fn on_timeout(&mut self, now: Instant, _out: &mut Outbox<'_>) {
        if self.ended.is_some() {
            return;
        }
        let last = self
            .legs
            .iter()
            .filter_map(|l| l.last_in)
            .max()
            .unwrap_or(self.created);
        if now.saturating_duration_since(last) >= self.media_timeout {
            self.ended = Some("no media".into());
        }
    }

    fn next_timeout(&self) -> Option<Instant> {
        if self.ended.is_some() {
            return None;
        }
        let last = self
            .legs
            .iter()
            .filter_map(|l| l.last_in)
            .max()
            .unwrap_or(self.created);
        Some(last + self.media_timeout)
    }

    fn leg_stats(&self, side: Side) -> LegStats {
        // State and address are rendered here, not per packet: the forwarding path must not allocate.
        let leg = &self.legs[side.index()];
        let mut s = leg.stats.clone();
        s.state = match (&self.ended, leg.last_in) {
            (Some(_), _) => "ended",
            (None, Some(_)) => "active",
            (None, None) => "new",
        }
        .into();
        s.remote = leg.latch.dest().map(|a| a.to_string());
        s
    }

    fn count_drop(&mut self, side: Side) {
        let s = &mut self.legs[side.index()].stats;
        s.packets_in += 1;
        s.drops += 1;
    }

    fn ended(&self) -> Option<&str> {
        self.ended.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_kinds() {
        let mut rtp = [0u8; 172];
        rtp[0] = 0x80;
        rtp[1] = 111;
        assert_eq!(classify(&rtp), Kind::Rtp);
        rtp[1] = 200;
        assert_eq!(classify(&rtp), Kind::Rtcp);
        assert_eq!(classify(&[0x80, 0]), Kind::Other);
        assert_eq!(classify(&[0u8; 20]), Kind::Stun);
        assert_eq!(classify(&[22u8; 20]), Kind::Dtls);
        assert_eq!(classify(&[]), Kind::Other);
        assert_eq!(classify(&[0xffu8; 40]), Kind::Other);
    }

    #[test]
    fn rtcp_rr_block() {
        // RR with one report block: lost = 3, jitter = 77.
        let mut p = vec![0x81, 201, 0, 7, 1, 2, 3, 4];
        p.extend_from_slice(&[
            9, 9, 9, 9, 10, 0, 0, 3, 0, 0, 1, 0, 0, 0, 0, 77, 0, 0, 0, 0, 0, 0, 0, 0,
        ]);
        assert_eq!(rtcp_report(&p), Some((77, 3)));
        assert_eq!(rtcp_report(&p[..20]), None);
    }

    #[test]
    fn latch_rules() {
        let mut l = Latch {
            planned: Some("10.0.0.1:4000".parse().unwrap()),
            ..Default::default()
        };
        assert!(!l.accept("10.0.0.2:4000".parse().unwrap()));
        assert!(l.accept("10.0.0.1:4002".parse().unwrap()));
        assert!(!l.accept("10.0.0.1:4000".parse().unwrap()));
        assert_eq!(l.dest(), Some("10.0.0.1:4002".parse().unwrap()));
    }

    #[test]
    fn pt_rewrite() {
        let mut p = [0x80, 0x80 | 96, 0, 0];
        let pbx = Pts {
            audio: 96,
            dtmf: Some(101),
        };
        rewrite_pt(&mut p, pbx, Pts::default());
        assert_eq!(p[1], 0x80 | 111);
        p[1] = 101;
        rewrite_pt(&mut p, pbx, Pts::default());
        assert_eq!(p[1], 126);
        p[1] = 0;
        rewrite_pt(&mut p, pbx, Pts::default());
        assert_eq!(p[1], 0);
    }
}
