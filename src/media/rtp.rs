//! RTP/RTCP header views, RFC 7983 demultiplexing, a tiny RTCP SR/RR builder/reader and opus silence.
//! Only what relaying needs: no jitter buffer, no codec. Every accessor is bounds-checked.

use std::time::Instant;

/// What a datagram on a media port is, by its first byte (RFC 7983) and, for RTP/RTCP, the second (RFC 5761).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    Stun,
    Dtls,
    Rtp,
    Rtcp,
    Unknown,
}

/// Classifies a datagram.
pub fn classify(buf: &[u8]) -> PacketKind {
    match buf.first() {
        Some(0..=3) => PacketKind::Stun,
        Some(20..=63) => PacketKind::Dtls,
        Some(128..=191) => match buf.get(1) {
            Some(192..=223) => PacketKind::Rtcp,
            Some(_) => PacketKind::Rtp,
            None => PacketKind::Unknown,
        },
        _ => PacketKind::Unknown,
    }
}

/// Fixed RTP header fields plus where the payload starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    pub marker: bool,
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// Offset of the payload (after CSRCs and header extension).
    pub payload_offset: usize,
}

impl RtpHeader {
    /// Parses an RTP header (version 2), checking CSRC count, extension and padding against the length.
    pub fn parse(buf: &[u8]) -> Option<Self> {
        if buf.len() < 12 || buf[0] >> 6 != 2 {
            return None;
        }
        let cc = (buf[0] & 0x0f) as usize;
        let mut off = 12 + 4 * cc;
        if buf[0] & 0x10 != 0 {
            let ext_len = u16::from_be_bytes([*buf.get(off + 2)?, *buf.get(off + 3)?]) as usize;
            off += 4 + 4 * ext_len;
        }
        if off > buf.len() {
            return None;
        }
        if buf[0] & 0x20 != 0 {
            let pad = *buf.last()? as usize;
            if pad == 0 || off + pad > buf.len() {
                return None;
            }
        }
        Some(Self {
            marker: buf[1] & 0x80 != 0,
            payload_type: buf[1] & 0x7f,
            seq: u16::from_be_bytes([buf[2], buf[3]]),
            timestamp: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
            ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
            payload_offset: off,
        })
    }
}

/// Rewrites PT (keeping the marker bit), sequence number, timestamp and SSRC of an RTP packet of at least 12 bytes.
pub fn restamp(buf: &mut [u8], pt: u8, seq: u16, ts: u32, ssrc: u32) {
    if buf.len() < 12 {
        return;
    }
    buf[1] = (buf[1] & 0x80) | (pt & 0x7f);
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&ts.to_be_bytes());
    buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
}

/// Opus "silence" frame: TOC 0xF8 (CELT-only FB 20 ms, mono) + 0xFF 0xFE, which decoders play as silence.
pub const OPUS_SILENCE: [u8; 3] = [0xF8, 0xFF, 0xFE];
/// Opus RTP clock rate and 20 ms in its units.
pub const OPUS_CLOCK: u32 = 48_000;
pub const OPUS_20MS: u32 = 960;

/// Writes an RTP packet carrying opus silence into `buf`; returns its length (15) or 0 if `buf` is too small.
pub fn build_silence(buf: &mut [u8], pt: u8, seq: u16, ts: u32, ssrc: u32, marker: bool) -> usize {
    if buf.len() < 15 {
        return 0;
    }
    buf[0] = 0x80;
    buf[1] = (pt & 0x7f) | if marker { 0x80 } else { 0 };
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&ts.to_be_bytes());
    buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
    buf[12..15].copy_from_slice(&OPUS_SILENCE);
    15
}

/// One RTCP report block (RFC 3550 6.4.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportBlock {
    pub ssrc: u32,
    pub fraction_lost: u8,
    /// 24-bit signed cumulative loss.
    pub cumulative_lost: i32,
    pub highest_seq: u32,
    pub jitter: u32,
    pub lsr: u32,
    pub dlsr: u32,
}

impl ReportBlock {
    fn write(&self, b: &mut [u8]) {
        b[0..4].copy_from_slice(&self.ssrc.to_be_bytes());
        let lost = (self.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32) & 0x00ff_ffff;
        b[4..8].copy_from_slice(&(((self.fraction_lost as u32) << 24) | lost).to_be_bytes());
        b[8..12].copy_from_slice(&self.highest_seq.to_be_bytes());
        b[12..16].copy_from_slice(&self.jitter.to_be_bytes());
        b[16..20].copy_from_slice(&self.lsr.to_be_bytes());
        b[20..24].copy_from_slice(&self.dlsr.to_be_bytes());
    }
    fn read(b: &[u8]) -> Option<Self> {
        let b = b.get(..24)?;
        let w = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
        let raw = (w & 0x00ff_ffff) as i32;
        Some(Self {
            ssrc: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            fraction_lost: (w >> 24) as u8,
            cumulative_lost: if raw & 0x80_0000 != 0 {
                raw - 0x100_0000
            } else {
                raw
            },
            highest_seq: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            jitter: u32::from_be_bytes([b[12], b[13], b[14], b[15]]),
            lsr: u32::from_be_bytes([b[16], b[17], b[18], b[19]]),
            dlsr: u32::from_be_bytes([b[20], b[21], b[22], b[23]]),
        })
    }
}

/// Sender info of an SR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderInfo {
    pub ntp: u64,
    pub rtp_ts: u32,
    pub packets: u32,
    pub octets: u32,
}

/// Writes an SR (when `sender` is Some) or an RR from `ssrc` with at most one report block; returns the length
/// or 0 if `buf` is too small (52 bytes suffice).
pub fn build_report(
    buf: &mut [u8],
    ssrc: u32,
    sender: Option<SenderInfo>,
    block: Option<ReportBlock>,
) -> usize {
    let rc = block.is_some() as usize;
    let len = 8 + if sender.is_some() { 20 } else { 0 } + 24 * rc;
    if buf.len() < len {
        return 0;
    }
    buf[0] = 0x80 | rc as u8;
    buf[1] = if sender.is_some() { 200 } else { 201 };
    buf[2..4].copy_from_slice(&((len / 4 - 1) as u16).to_be_bytes());
    buf[4..8].copy_from_slice(&ssrc.to_be_bytes());
    let mut off = 8;
    if let Some(s) = sender {
        buf[8..16].copy_from_slice(&s.ntp.to_be_bytes());
        buf[16..20].copy_from_slice(&s.rtp_ts.to_be_bytes());
        buf[20..24].copy_from_slice(&s.packets.to_be_bytes());
        buf[24..28].copy_from_slice(&s.octets.to_be_bytes());
        off = 28;
    }
    if let Some(b) = block {
        b.write(&mut buf[off..off + 24]);
    }
    len
}

/// Finds the first report block in a (compound) RTCP packet, from an SR or RR. Bounds-checked.
pub fn first_report_block(buf: &[u8]) -> Option<ReportBlock> {
    let mut off = 0;
    while off + 8 <= buf.len() {
        let b0 = buf[off];
        if b0 >> 6 != 2 {
            return None;
        }
        let rc = (b0 & 0x1f) as usize;
        let pt = buf[off + 1];
        let words = u16::from_be_bytes([buf[off + 2], buf[off + 3]]) as usize;
        let end = off + 4 * (words + 1);
        if end > buf.len() {
            return None;
        }
        let first = match pt {
            200 => off + 28,
            201 => off + 8,
            _ => end,
        };
        if rc > 0 && first + 24 <= end {
            return ReportBlock::read(&buf[first..end]);
        }
        off = end;
    }
    None
}

/// Receive-side statistics of one RTP stream (RFC 3550 A.1/A.3/A.8), for our report blocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReceiveStats {
    started: bool,
    ssrc: u32,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    transit: i64,
    jitter: f64,
    clock_rate: u32,
    epoch: Option<Instant>,
}

impl ReceiveStats {
    /// Records one packet arriving at `now`.
    pub fn record(&mut self, now: Instant, h: &RtpHeader, clock_rate: u32) {
        let epoch = *self.epoch.get_or_insert(now);
        self.clock_rate = clock_rate;
        if !self.started || h.ssrc != self.ssrc {
            *self = Self {
                epoch: Some(epoch),
                clock_rate,
                ..Self::default()
            };
            self.started = true;
            self.ssrc = h.ssrc;
            self.base_seq = h.seq as u32;
            self.max_seq = h.seq;
        } else {
            let delta = h.seq.wrapping_sub(self.max_seq);
            if delta != 0 && delta < 0x8000 {
                if h.seq < self.max_seq {
                    self.cycles = self.cycles.wrapping_add(1 << 16);
                }
                self.max_seq = h.seq;
            }
        }
        self.received = self.received.wrapping_add(1);
        let arrival =
            (now.duration_since(epoch).as_micros() as u64 * clock_rate as u64 / 1_000_000) as i64;
        let transit = arrival - h.timestamp as i64;
        if self.received > 1 {
            let d = (transit - self.transit).unsigned_abs() as f64;
            // Timestamp wrap makes d huge once; ignore such outliers.
            if d < clock_rate as f64 * 10.0 {
                self.jitter += (d - self.jitter) / 16.0;
            }
        }
        self.transit = transit;
    }

    /// A report block about this stream (and resets the interval counters for fraction lost).
    pub fn report_block(&mut self) -> Option<ReportBlock> {
        if !self.started {
            return None;
        }
        let ext_max = self.cycles.wrapping_add(self.max_seq as u32);
        let expected = ext_max.wrapping_sub(self.base_seq).wrapping_add(1);
        let lost = expected as i64 - self.received as i64;
        let exp_int = expected.wrapping_sub(self.expected_prior);
        let rec_int = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_int = exp_int as i64 - rec_int as i64;
        let fraction = if exp_int == 0 || lost_int <= 0 {
            0
        } else {
            ((lost_int << 8) / exp_int as i64) as u8
        };
        Some(ReportBlock {
            ssrc: self.ssrc,
            fraction_lost: fraction,
            cumulative_lost: lost.clamp(-0x80_0000, 0x7f_ffff) as i32,
            highest_seq: ext_max,
            jitter: self.jitter as u32,
            lsr: 0,
            dlsr: 0,
        })
    }

    /// Current interarrival jitter (timestamp units).
    pub fn jitter(&self) -> u32 {
        self.jitter as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demux() {
        assert_eq!(classify(&[0, 1]), PacketKind::Stun);
        assert_eq!(classify(&[22, 0xfe]), PacketKind::Dtls);
        assert_eq!(classify(&[0x80, 111]), PacketKind::Rtp);
        assert_eq!(classify(&[0x80, 0x80 | 111]), PacketKind::Rtp);
        assert_eq!(classify(&[0x81, 200]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x80]), PacketKind::Unknown);
        assert_eq!(classify(&[]), PacketKind::Unknown);
        assert_eq!(classify(&[70]), PacketKind::Unknown);
    }

    #[test]
    fn report_roundtrip() {
        let blk = ReportBlock {
            ssrc: 7,
            fraction_lost: 3,
            cumulative_lost: -2,
            highest_seq: 99,
            jitter: 12,
            lsr: 0,
            dlsr: 0,
        };
        let mut b = [0u8; 64];
        let n = build_report(&mut b, 1, Some(SenderInfo::default()), Some(blk));
        assert_eq!(n, 52);
        assert_eq!(classify(&b[..n]), PacketKind::Rtcp);
        assert_eq!(first_report_block(&b[..n]), Some(blk));
        let n = build_report(&mut b, 1, None, Some(blk));
        assert_eq!(first_report_block(&b[..n]), Some(blk));
        for i in 0..n {
            let _ = first_report_block(&b[..i]);
        }
    }

    #[test]
    fn header_bounds() {
        let mut b = [0u8; 15];
        assert_eq!(build_silence(&mut b, 111, 1, 2, 3, true), 15);
        let h = RtpHeader::parse(&b).unwrap();
        assert_eq!(
            (
                h.payload_type,
                h.seq,
                h.timestamp,
                h.ssrc,
                h.marker,
                h.payload_offset
            ),
            (111, 1, 2, 3, true, 12)
        );
        b[0] = 0x9f; // extension + 15 CSRCs: too long
        assert!(RtpHeader::parse(&b).is_none());
    }

    #[test]
    fn loss_and_wrap() {
        let mut s = ReceiveStats::default();
        let now = Instant::now();
        for (i, seq) in [65534u16, 65535, 1, 2].iter().enumerate() {
            let h = RtpHeader {
                marker: false,
                payload_type: 0,
                seq: *seq,
                timestamp: i as u32 * 960,
                ssrc: 1,
                payload_offset: 12,
            };
            s.record(
                now + std::time::Duration::from_millis(20 * i as u64),
                &h,
                48000,
            );
        }
        let r = s.report_block().unwrap();
        assert_eq!(r.cumulative_lost, 1);
        assert_eq!(r.highest_seq, 65536 + 2);
    }
}
