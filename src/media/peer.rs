//! Test peers, sans-IO like the rest: a Meta-like endpoint (ice-lite responder, DTLS server or SDES, silent until
//! it receives the first SRTP packet) and a PBX-like SDES/plain RTP endpoint. Used by the pair tests and meant
//! for the relay's end-to-end tests and tools (drive them over real sockets); not used by the relay itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::media::dtls::{DtlsCertificate, DtlsEndpoint, DtlsRole, Fingerprint};
use crate::media::ice::{IceCredentials, IceLiteResponder};
use crate::media::rtp::{self, PacketKind, RtpHeader};
use crate::media::srtp::{SrtpKeyMaterial, SrtpSession, SRTCP_MAX_TRAILER};
use crate::media::Error;

/// A datagram a test peer wants sent: from its `local` address to `remote`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerTransmit {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub data: Vec<u8>,
}

/// Counters of a test peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerStats {
    pub rtp_in: u64,
    pub rtcp_in: u64,
    pub stun_in: u64,
    pub rejected: u64,
}

/// RTP sender state of a test peer.
#[derive(Debug, Clone)]
struct Sender {
    ssrc: u32,
    seq: u16,
    ts: u32,
    pt: u8,
}

impl Sender {
    fn packet(&mut self, payload: &[u8], room: usize) -> Vec<u8> {
        let mut p = Vec::with_capacity(12 + payload.len() + room);
        p.extend_from_slice(&[0x80, self.pt]);
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&self.ts.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(rtp::OPUS_20MS);
        p
    }
}

enum MetaKeys {
    Dtls(Box<DtlsEndpoint>),
    Sdes {
        local: SrtpKeyMaterial,
        remote: SrtpKeyMaterial,
    },
}

/// Behaves like Meta's media side: ice-lite (answers checks, never sends its own), DTLS server (`setup:actpass`
/// answered with `active` by us) or SDES, and sends no media before it has received one valid SRTP packet.
pub struct MetaLikePeer {
    addrs: Vec<SocketAddr>,
    ice: Option<IceLiteResponder>,
    keys: MetaKeys,
    srtp: Option<SrtpSession>,
    /// Where the business sends from (learned from the nominating check or the first valid packet).
    business: Option<(SocketAddr, SocketAddr)>,
    got_first_srtp: bool,
    sender: Sender,
    received: Vec<(u8, Vec<u8>)>,
    pub stats: PeerStats,
}

impl std::fmt::Debug for MetaLikePeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaLikePeer")
            .field("addrs", &self.addrs)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl MetaLikePeer {
    /// DTLS mode: ice-lite with `ice` credentials on `addrs`, DTLS server with `cert`, expecting the business's
    /// certificate to match `business_fingerprint`.
    pub fn new_dtls(
        addrs: Vec<SocketAddr>,
        ice: IceCredentials,
        cert: &DtlsCertificate,
        business_fingerprint: Fingerprint,
    ) -> Result<Self, Error> {
        let dtls = DtlsEndpoint::new(DtlsRole::Server, cert, business_fingerprint)?;
        Ok(Self::new(
            addrs,
            Some(IceLiteResponder::new(ice)),
            MetaKeys::Dtls(Box::new(dtls)),
        ))
    }

    /// SDES mode (no ICE): `local` is Meta's key (its `a=crypto`), `remote` the business's.
    pub fn new_sdes(
        addrs: Vec<SocketAddr>,
        local: SrtpKeyMaterial,
        remote: SrtpKeyMaterial,
    ) -> Result<Self, Error> {
        let srtp = SrtpSession::new(&local, &remote)?;
        let mut p = Self::new(addrs, None, MetaKeys::Sdes { local, remote });
        p.srtp = Some(srtp);
        Ok(p)
    }

    fn new(addrs: Vec<SocketAddr>, ice: Option<IceLiteResponder>, keys: MetaKeys) -> Self {
        Self {
            addrs,
            ice,
            keys,
            srtp: None,
            business: None,
            got_first_srtp: false,
            sender: Sender {
                ssrc: 849_255_537,
                seq: 1000,
                ts: 5000,
                pt: 111,
            },
            received: Vec::new(),
            stats: PeerStats::default(),
        }
    }

    /// Meta's addresses (its candidates).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Payload type Meta sends audio with (default 111).
    pub fn set_payload_type(&mut self, pt: u8) {
        self.sender.pt = pt;
    }

    /// True once SRTP keys exist.
    pub fn has_keys(&self) -> bool {
        self.srtp.is_some()
    }

    /// True once the business's first SRTP packet arrived (Meta starts sending only then).
    pub fn got_first_srtp(&self) -> bool {
        self.got_first_srtp
    }

    /// (PT, payload) of every RTP packet received, in order.
    pub fn received(&self) -> &[(u8, Vec<u8>)] {
        &self.received
    }

    /// Feeds a datagram that arrived on `local` from `from`; returns what to send back.
    pub fn handle_input(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        buf: &[u8],
    ) -> Vec<PeerTransmit> {
        let mut out = Vec::new();
        match rtp::classify(buf) {
            PacketKind::Stun => {
                self.stats.stun_in += 1;
                if let Some(ice) = &mut self.ice {
                    match ice.handle(from, buf) {
                        Some(resp) => {
                            out.push(PeerTransmit {
                                local,
                                remote: from,
                                data: resp,
                            });
                            if ice.nominated == Some(from) {
                                self.business = Some((local, from));
                            }
                        }
                        None => self.stats.rejected += 1,
                    }
                }
            }
            PacketKind::Dtls => {
                if let MetaKeys::Dtls(d) = &mut self.keys {
                    if self.business.is_none() {
                        self.business = Some((local, from));
                    }
                    d.handle_datagram(now, buf);
                    while let Some(dg) = d.poll_transmit() {
                        out.push(PeerTransmit {
                            local,
                            remote: from,
                            data: dg,
                        });
                    }
                    if self.srtp.is_none() {
                        if let Some(k) = d.take_keys() {
                            self.srtp = SrtpSession::new(&k.local, &k.remote).ok();
                        }
                    }
                }
            }
            PacketKind::Rtp | PacketKind::Rtcp => {
                let Some(s) = &mut self.srtp else {
                    self.stats.rejected += 1;
                    return out;
                };
                let mut b = buf.to_vec();
                if rtp::classify(buf) == PacketKind::Rtcp {
                    match s.inbound.unprotect_rtcp(&mut b) {
                        Ok(_) => self.stats.rtcp_in += 1,
                        Err(_) => self.stats.rejected += 1,
                    }
                    return out;
                }
                match s.inbound.unprotect_rtp(&mut b) {
                    Ok(n) => {
                        if let Some(h) = RtpHeader::parse(&b[..n]) {
                            self.stats.rtp_in += 1;
                            self.got_first_srtp = true;
                            if !matches!(self.keys, MetaKeys::Dtls(_)) || self.business.is_none() {
                                self.business = Some((local, from));
                            }
                            self.received
                                .push((h.payload_type, b[h.payload_offset..n].to_vec()));
                        }
                    }
                    Err(_) => self.stats.rejected += 1,
                }
            }
            PacketKind::Unknown => self.stats.rejected += 1,
        }
        out
    }

    /// DTLS retransmissions.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<PeerTransmit> {
        let mut out = Vec::new();
        if let (MetaKeys::Dtls(d), Some((local, remote))) = (&mut self.keys, self.business) {
            d.handle_timeout(now);
            while let Some(dg) = d.poll_transmit() {
                out.push(PeerTransmit {
                    local,
                    remote,
                    data: dg,
                });
            }
        }
        out
    }

    /// One audio packet toward the business, or None while Meta is still waiting for the maiden packet.
    pub fn send_audio(&mut self, payload: &[u8]) -> Option<PeerTransmit> {
        if !self.got_first_srtp {
            return None;
        }
        let (local, remote) = self.business?;
        let s = self.srtp.as_mut()?;
        let mut p = self.sender.packet(payload, SRTCP_MAX_TRAILER);
        let len = p.len();
        p.resize(len + SRTCP_MAX_TRAILER, 0);
        let n = s.outbound.protect_rtp(&mut p, len).ok()?;
        p.truncate(n);
        Some(PeerTransmit {
            local,
            remote,
            data: p,
        })
    }

    /// The SDES keys in SDES mode (local, remote).
    pub fn sdes_keys(&self) -> Option<(&SrtpKeyMaterial, &SrtpKeyMaterial)> {
        match &self.keys {
            MetaKeys::Sdes { local, remote } => Some((local, remote)),
            MetaKeys::Dtls(_) => None,
        }
    }
}

/// A PBX-like endpoint: SDES-SRTP (or plain RTP) from a fixed address to the relay's PBX-side address.
pub struct PbxPeer {
    pub addr: SocketAddr,
    pub relay: SocketAddr,
    srtp: Option<SrtpSession>,
    sender: Sender,
    received: Vec<(u8, Vec<u8>)>,
    pub stats: PeerStats,
}

impl std::fmt::Debug for PbxPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PbxPeer")
            .field("addr", &self.addr)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl PbxPeer {
    /// `keys` = Some((ours, relay's)) for SDES, None for plain RTP. Sends audio with PT `pt`.
    pub fn new(
        addr: SocketAddr,
        relay: SocketAddr,
        keys: Option<(&SrtpKeyMaterial, &SrtpKeyMaterial)>,
        pt: u8,
    ) -> Result<Self, Error> {
        let srtp = match keys {
            Some((l, r)) => Some(SrtpSession::new(l, r)?),
            None => None,
        };
        Ok(Self {
            addr,
            relay,
            srtp,
            sender: Sender {
                ssrc: 0x5EED_0001,
                seq: 40_000,
                ts: 77,
                pt,
            },
            received: Vec::new(),
            stats: PeerStats::default(),
        })
    }

    /// (PT, payload) of every RTP packet received.
    pub fn received(&self) -> &[(u8, Vec<u8>)] {
        &self.received
    }

    /// One audio packet toward the relay.
    pub fn send_audio(&mut self, payload: &[u8]) -> Option<PeerTransmit> {
        let mut p = self.sender.packet(payload, SRTCP_MAX_TRAILER);
        if let Some(s) = &mut self.srtp {
            let len = p.len();
            p.resize(len + SRTCP_MAX_TRAILER, 0);
            let n = s.outbound.protect_rtp(&mut p, len).ok()?;
            p.truncate(n);
        }
        Some(PeerTransmit {
            local: self.addr,
            remote: self.relay,
            data: p,
        })
    }

    /// Feeds a datagram from the relay.
    pub fn handle_input(&mut self, buf: &[u8]) {
        let mut b = buf.to_vec();
        match rtp::classify(buf) {
            PacketKind::Rtp => {
                let n = match &mut self.srtp {
                    Some(s) => match s.inbound.unprotect_rtp(&mut b) {
                        Ok(n) => n,
                        Err(_) => {
                            self.stats.rejected += 1;
                            return;
                        }
                    },
                    None => b.len(),
                };
                if let Some(h) = RtpHeader::parse(&b[..n]) {
                    self.stats.rtp_in += 1;
                    self.received
                        .push((h.payload_type, b[h.payload_offset..n].to_vec()));
                }
            }
            PacketKind::Rtcp => {
                let ok = match &mut self.srtp {
                    Some(s) => s.inbound.unprotect_rtcp(&mut b).is_ok(),
                    None => true,
                };
                if ok {
                    self.stats.rtcp_in += 1;
                } else {
                    self.stats.rejected += 1;
                }
            }
            _ => self.stats.rejected += 1,
        }
    }
}

/// Shares a certificate between test peers.
pub fn shared_certificate() -> Result<Arc<DtlsCertificate>, Error> {
    Ok(Arc::new(DtlsCertificate::generate()?))
}
