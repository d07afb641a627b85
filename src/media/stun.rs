//! STUN messages (RFC 5389/8489) as ICE needs them: binding request/response/error with USERNAME,
//! MESSAGE-INTEGRITY, FINGERPRINT, PRIORITY, ICE-CONTROLLING/CONTROLLED, USE-CANDIDATE, XOR-MAPPED-ADDRESS, ERROR-CODE.
//!
//! Hand-written rather than taken from a crate: str0m's STUN code is internal to str0m (not published on its own),
//! `stun_codec` builds on the `bytecodec`/`trackable` stack and allocates per message, and `stun-types` (a good
//! general-purpose crate) brings its own attribute/agent framework we would only use a sliver of. ICE needs one
//! message type and nine attributes; a bounds-checked parser of ~150 lines that borrows the datagram, plus a writer,
//! is smaller than the glue any of them would need. Fuzzed by `fuzz/fuzz_targets/stun.rs`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

/// Errors parsing STUN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StunError {
    #[error("not a STUN message")]
    NotStun,
    #[error("truncated or malformed STUN message")]
    Malformed,
    #[error("STUN FINGERPRINT mismatch")]
    BadFingerprint,
    #[error("STUN MESSAGE-INTEGRITY mismatch")]
    BadIntegrity,
    #[error("buffer too small")]
    BufferTooSmall,
}

/// The STUN magic cookie.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
const FINGERPRINT_XOR: u32 = 0x5354_554e;
const HEADER_LEN: usize = 20;

/// Attribute types used here.
pub mod attr {
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    pub const USERNAME: u16 = 0x0006;
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    pub const ERROR_CODE: u16 = 0x0009;
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    pub const PRIORITY: u16 = 0x0024;
    pub const USE_CANDIDATE: u16 = 0x0025;
    pub const FINGERPRINT: u16 = 0x8028;
    pub const ICE_CONTROLLED: u16 = 0x8029;
    pub const ICE_CONTROLLING: u16 = 0x802A;
}

/// STUN message class (binding is the only method we speak).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Request,
    Indication,
    Success,
    Error,
}

/// Method BINDING.
pub const BINDING: u16 = 0x0001;

fn encode_type(class: Class, method: u16) -> u16 {
    let c = match class {
        Class::Request => 0b00,
        Class::Indication => 0b01,
        Class::Success => 0b10,
        Class::Error => 0b11,
    };
    (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((c & 1) << 4)
        | ((c & 2) << 7)
}

fn decode_type(t: u16) -> (Class, u16) {
    let c = ((t >> 4) & 1) | ((t >> 7) & 2);
    let class = match c {
        0 => Class::Request,
        1 => Class::Indication,
        2 => Class::Success,
        _ => Class::Error,
    };
    let method = (t & 0x000F) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0F80);
    (class, method)
}

/// Quick RFC 7983 check: could `buf` be STUN (first byte 0..=3, cookie present)?
pub fn is_stun(buf: &[u8]) -> bool {
    buf.len() >= HEADER_LEN && buf[0] < 4 && buf[4..8] == MAGIC_COOKIE.to_be_bytes()
}

/// A parsed STUN message borrowing its datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    raw: &'a [u8],
    pub class: Class,
    pub method: u16,
    pub transaction_id: [u8; 12],
    pub username: Option<&'a [u8]>,
    pub priority: Option<u32>,
    pub ice_controlling: Option<u64>,
    pub ice_controlled: Option<u64>,
    pub use_candidate: bool,
    pub xor_mapped_address: Option<SocketAddr>,
    /// ERROR-CODE as class*100+number (e.g. 487) and its reason.
    pub error_code: Option<(u16, &'a [u8])>,
    /// Offset of the MESSAGE-INTEGRITY attribute header, if present.
    integrity_at: Option<usize>,
    /// True if a FINGERPRINT was present (and, having parsed, correct).
    pub has_fingerprint: bool,
}

fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}
fn be32(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?))
}
fn be64(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(i..i + 8)?.try_into().ok()?))
}

fn parse_xor_addr(v: &[u8], txid: &[u8; 12]) -> Option<SocketAddr> {
    let family = *v.get(1)?;
    let port = be16(v, 2)? ^ (MAGIC_COOKIE >> 16) as u16;
    match family {
        1 => {
            let a = be32(v, 4)? ^ MAGIC_COOKIE;
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), port))
        }
        2 => {
            let raw: [u8; 16] = v.get(4..20)?.try_into().ok()?;
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
            key[4..].copy_from_slice(txid);
            let mut x = [0u8; 16];
            for i in 0..16 {
                x[i] = raw[i] ^ key[i];
            }
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(x)), port))
        }
        _ => None,
    }
}

impl<'a> Message<'a> {
    /// Parses and bounds-checks `buf`; verifies FINGERPRINT when present. MESSAGE-INTEGRITY is checked separately
    /// with [`Message::verify_integrity`] (the key depends on who sent it).
    pub fn parse(buf: &'a [u8]) -> Result<Self, StunError> {
        if !is_stun(buf) {
            return Err(StunError::NotStun);
        }
        let len = be16(buf, 2).ok_or(StunError::Malformed)? as usize;
        if len % 4 != 0 || HEADER_LEN + len != buf.len() {
            return Err(StunError::Malformed);
        }
        let (class, method) = decode_type(be16(buf, 0).ok_or(StunError::Malformed)?);
        let mut txid = [0u8; 12];
        txid.copy_from_slice(&buf[8..20]);
        let mut m = Message {
            raw: buf,
            class,
            method,
            transaction_id: txid,
            username: None,
            priority: None,
            ice_controlling: None,
            ice_controlled: None,
            use_candidate: false,
            xor_mapped_address: None,
            error_code: None,
            integrity_at: None,
            has_fingerprint: false,
        };
        let mut i = HEADER_LEN;
        while i < buf.len() {
            let t = be16(buf, i).ok_or(StunError::Malformed)?;
            let l = be16(buf, i + 2).ok_or(StunError::Malformed)? as usize;
            let vstart = i + 4;
            let vend = vstart.checked_add(l).ok_or(StunError::Malformed)?;
            let v = buf.get(vstart..vend).ok_or(StunError::Malformed)?;
            let next = vstart + l.div_ceil(4) * 4;
            if next > buf.len() {
                return Err(StunError::Malformed);
            }
            if m.has_fingerprint {
                // Nothing may follow FINGERPRINT.
                return Err(StunError::Malformed);
            }
            // After MESSAGE-INTEGRITY only FINGERPRINT counts (RFC 5389 15.4): ignore anything else.
            if m.integrity_at.is_some() && t != attr::FINGERPRINT {
                i = next;
                continue;
            }
            match t {
                attr::USERNAME => m.username = Some(v),
                attr::PRIORITY => m.priority = Some(be32(v, 0).ok_or(StunError::Malformed)?),
                attr::ICE_CONTROLLING => {
                    m.ice_controlling = Some(be64(v, 0).ok_or(StunError::Malformed)?)
                }
                attr::ICE_CONTROLLED => {
                    m.ice_controlled = Some(be64(v, 0).ok_or(StunError::Malformed)?)
                }
                attr::USE_CANDIDATE => m.use_candidate = true,
                attr::XOR_MAPPED_ADDRESS => {
                    m.xor_mapped_address =
                        Some(parse_xor_addr(v, &txid).ok_or(StunError::Malformed)?)
                }
                attr::ERROR_CODE => {
                    if v.len() < 4 {
                        return Err(StunError::Malformed);
                    }
                    let code = (v[2] & 0x7) as u16 * 100 + (v[3] as u16 % 100);
                    m.error_code = Some((code, &v[4..]));
                }
                attr::MESSAGE_INTEGRITY => {
                    if l != 20 {
                        return Err(StunError::Malformed);
                    }
                    m.integrity_at = Some(i);
                }
                attr::FINGERPRINT => {
                    let got = be32(v, 0).ok_or(StunError::Malformed)?;
                    if l != 4 {
                        return Err(StunError::Malformed);
                    }
                    if crc32fast::hash(&buf[..i]) ^ FINGERPRINT_XOR != got {
                        return Err(StunError::BadFingerprint);
                    }
                    m.has_fingerprint = true;
                }
                _ => {}
            }
            i = next;
        }
        Ok(m)
    }

    /// True if MESSAGE-INTEGRITY is present.
    pub fn has_integrity(&self) -> bool {
        self.integrity_at.is_some()
    }

    /// Checks MESSAGE-INTEGRITY (HMAC-SHA1 keyed with the ICE password). False when absent or wrong.
    pub fn verify_integrity(&self, key: &[u8]) -> bool {
        let Some(at) = self.integrity_at else {
            return false;
        };
        let Some(expected) = self.raw.get(at + 4..at + 24) else {
            return false;
        };
        let mut hdr = [0u8; HEADER_LEN];
        hdr.copy_from_slice(&self.raw[..HEADER_LEN]);
        // The length covers up to the end of MESSAGE-INTEGRITY, as when it was computed (before FINGERPRINT).
        let len = (at + 24 - HEADER_LEN) as u16;
        hdr[2..4].copy_from_slice(&len.to_be_bytes());
        match hmac_sha1(key, &[&hdr, &self.raw[HEADER_LEN..at]]) {
            Some(mac) => openssl::memcmp::eq(&mac, expected),
            None => false,
        }
    }
}

fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> Option<[u8; 20]> {
    let pkey = PKey::hmac(key).ok()?;
    let mut s = Signer::new(MessageDigest::sha1(), &pkey).ok()?;
    for p in parts {
        s.update(p).ok()?;
    }
    let v = s.sign_to_vec().ok()?;
    v.try_into().ok()
}

/// Builds one STUN message into a Vec. Attributes in call order; finish with `integrity` then `fingerprint`.
#[derive(Debug)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// Starts a message of `class` BINDING with `txid`.
    pub fn new(class: Class, txid: &[u8; 12]) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&encode_type(class, BINDING).to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        buf.extend_from_slice(txid);
        Self { buf }
    }

    fn attr(&mut self, t: u16, v: &[u8]) {
        self.buf.extend_from_slice(&t.to_be_bytes());
        self.buf.extend_from_slice(&(v.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(v);
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
        self.set_len(self.buf.len());
    }

    fn set_len(&mut self, total: usize) {
        let l = (total - HEADER_LEN) as u16;
        self.buf[2..4].copy_from_slice(&l.to_be_bytes());
    }

    /// USERNAME (`remote_ufrag:local_ufrag` in checks).
    pub fn username(mut self, u: &str) -> Self {
        self.attr(attr::USERNAME, u.as_bytes());
        self
    }
    /// PRIORITY.
    pub fn priority(mut self, p: u32) -> Self {
        self.attr(attr::PRIORITY, &p.to_be_bytes());
        self
    }
    /// ICE-CONTROLLING with our tie-breaker.
    pub fn ice_controlling(mut self, tb: u64) -> Self {
        self.attr(attr::ICE_CONTROLLING, &tb.to_be_bytes());
        self
    }
    /// ICE-CONTROLLED with our tie-breaker.
    pub fn ice_controlled(mut self, tb: u64) -> Self {
        self.attr(attr::ICE_CONTROLLED, &tb.to_be_bytes());
        self
    }
    /// USE-CANDIDATE.
    pub fn use_candidate(mut self) -> Self {
        self.attr(attr::USE_CANDIDATE, &[]);
        self
    }
    /// XOR-MAPPED-ADDRESS.
    pub fn xor_mapped_address(mut self, a: SocketAddr) -> Self {
        let txid: [u8; 12] = self.buf[8..20].try_into().unwrap_or([0; 12]);
        let port = a.port() ^ (MAGIC_COOKIE >> 16) as u16;
        let mut v = Vec::with_capacity(20);
        match a.ip() {
            IpAddr::V4(ip) => {
                v.extend_from_slice(&[0, 1]);
                v.extend_from_slice(&port.to_be_bytes());
                v.extend_from_slice(&(u32::from(ip) ^ MAGIC_COOKIE).to_be_bytes());
            }
            IpAddr::V6(ip) => {
                v.extend_from_slice(&[0, 2]);
                v.extend_from_slice(&port.to_be_bytes());
                let mut key = [0u8; 16];
                key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
                key[4..].copy_from_slice(&txid);
                for (o, k) in ip.octets().iter().zip(key) {
                    v.push(o ^ k);
                }
            }
        }
        self.attr(attr::XOR_MAPPED_ADDRESS, &v);
        self
    }
    /// ERROR-CODE (e.g. 487 "Role Conflict").
    pub fn error_code(mut self, code: u16, reason: &str) -> Self {
        let mut v = vec![0, 0, (code / 100) as u8, (code % 100) as u8];
        v.extend_from_slice(reason.as_bytes());
        self.attr(attr::ERROR_CODE, &v);
        self
    }
    /// MESSAGE-INTEGRITY (HMAC-SHA1 with `key`, the ICE password).
    pub fn integrity(mut self, key: &[u8]) -> Self {
        let start = self.buf.len();
        // The length must already include MESSAGE-INTEGRITY when the HMAC is computed.
        self.set_len(start + 24);
        let mac = hmac_sha1(key, &[&self.buf]).unwrap_or([0; 20]);
        self.attr(attr::MESSAGE_INTEGRITY, &mac);
        self
    }
    /// FINGERPRINT (must be last).
    pub fn fingerprint(mut self) -> Self {
        let start = self.buf.len();
        self.set_len(start + 8);
        let crc = crc32fast::hash(&self.buf) ^ FINGERPRINT_XOR;
        self.attr(attr::FINGERPRINT, &crc.to_be_bytes());
        self
    }
    /// The encoded message.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// A fresh random transaction id.
pub fn new_transaction_id() -> [u8; 12] {
    let mut t = [0u8; 12];
    // An RNG failure leaves zeros; transactions would still be matched per pair, so this is not fatal.
    let _ = openssl::rand::rand_bytes(&mut t);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5769 2.1 sample request.
    const RFC5769_REQ: &[u8] = &[
        0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6,
        0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74,
        0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e,
        0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
        0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20,
        0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e,
        0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5,
        0x7a, 0x3b, 0xcf,
    ];

    #[test]
    fn rfc5769_request() {
        let m = Message::parse(RFC5769_REQ).unwrap();
        assert_eq!(m.class, Class::Request);
        assert_eq!(m.method, BINDING);
        assert_eq!(m.username, Some(&b"evtj:h6vY"[..]));
        assert_eq!(m.priority, Some(0x6e0001ff));
        assert_eq!(m.ice_controlled, Some(0x932ff9b151263b36));
        assert!(m.has_fingerprint);
        assert!(m.verify_integrity(b"VOkJxbRl1RmTxUk/WvJxBt"));
        assert!(!m.verify_integrity(b"wrong"));
    }

    #[test]
    fn roundtrip_v4_v6() {
        for a in [
            "192.0.2.1:32853",
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853",
        ] {
            let a: SocketAddr = a.parse().unwrap();
            let tx = new_transaction_id();
            let b = Writer::new(Class::Success, &tx)
                .xor_mapped_address(a)
                .integrity(b"pw")
                .fingerprint()
                .finish();
            let m = Message::parse(&b).unwrap();
            assert_eq!(m.class, Class::Success);
            assert_eq!(m.xor_mapped_address, Some(a));
            assert!(m.verify_integrity(b"pw"));
        }
    }

    #[test]
    fn error_487() {
        let tx = new_transaction_id();
        let b = Writer::new(Class::Error, &tx)
            .error_code(487, "Role Conflict")
            .integrity(b"k")
            .fingerprint()
            .finish();
        let m = Message::parse(&b).unwrap();
        assert_eq!(m.class, Class::Error);
        assert_eq!(m.error_code.map(|e| e.0), Some(487));
    }

    #[test]
    fn truncations_never_panic() {
        for n in 0..RFC5769_REQ.len() {
            let _ = Message::parse(&RFC5769_REQ[..n]);
        }
        let mut bad = RFC5769_REQ.to_vec();
        bad[30] ^= 1;
        assert!(Message::parse(&bad).is_err());
    }
}
