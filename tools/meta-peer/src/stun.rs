//! An ice-lite STUN responder written for this peer (independent of wacall's `media::stun`): checks USERNAME,
//! MESSAGE-INTEGRITY and FINGERPRINT of binding requests and answers with XOR-MAPPED-ADDRESS, M-I, FINGERPRINT.

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use std::net::SocketAddr;

const COOKIE: u32 = 0x2112_A442;

fn hmac_sha1(key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let k = PKey::hmac(key).ok()?;
    let mut s = Signer::new(MessageDigest::sha1(), &k).ok()?;
    s.update(data).ok()?;
    s.sign_to_vec().ok()
}

/// What a valid binding request carried.
pub struct Check {
    pub use_candidate: bool,
    pub response: Vec<u8>,
}

/// Validates a binding request for `local_ufrag`/`local_pwd` and builds the success response. None = drop.
pub fn answer(req: &[u8], from: SocketAddr, local_ufrag: &str, local_pwd: &str) -> Option<Check> {
    if req.len() < 20 || u16::from_be_bytes([req[0], req[1]]) != 0x0001 {
        return None;
    }
    let len = u16::from_be_bytes([req[2], req[3]]) as usize;
    if u32::from_be_bytes([req[4], req[5], req[6], req[7]]) != COOKIE || 20 + len != req.len() {
        return None;
    }
    let txid = &req[8..20];
    let mut at = 20;
    let mut username_ok = false;
    let mut mi_ok = false;
    let mut fp_ok = false;
    let mut use_candidate = false;
    while at + 4 <= req.len() {
        let t = u16::from_be_bytes([req[at], req[at + 1]]);
        let l = u16::from_be_bytes([req[at + 2], req[at + 3]]) as usize;
        let v = req.get(at + 4..at + 4 + l)?;
        match t {
            0x0006 => {
                let u = std::str::from_utf8(v).ok()?;
                username_ok = u.split(':').next() == Some(local_ufrag);
            }
            0x0025 => use_candidate = true,
            0x0008 => {
                let mut m = req[..at].to_vec();
                let fake_len = (at + 24 - 20) as u16;
                m[2..4].copy_from_slice(&fake_len.to_be_bytes());
                let mac = hmac_sha1(local_pwd.as_bytes(), &m)?;
                mi_ok = l == 20 && openssl::memcmp::eq(&mac, v);
            }
            0x8028 => {
                let crc = crc32fast::hash(&req[..at]) ^ 0x5354_554e;
                fp_ok = l == 4 && v == crc.to_be_bytes();
            }
            _ => {}
        }
        at += 4 + l.div_ceil(4) * 4;
    }
    if !(username_ok && mi_ok && fp_ok) {
        return None;
    }
    Some(Check {
        use_candidate,
        response: success(txid, from, local_pwd)?,
    })
}

fn success(txid: &[u8], from: SocketAddr, pwd: &str) -> Option<Vec<u8>> {
    let mut m = Vec::with_capacity(80);
    m.extend_from_slice(&0x0101u16.to_be_bytes());
    m.extend_from_slice(&0u16.to_be_bytes());
    m.extend_from_slice(&COOKIE.to_be_bytes());
    m.extend_from_slice(txid);
    // XOR-MAPPED-ADDRESS
    let port = from.port() ^ (COOKIE >> 16) as u16;
    match from {
        SocketAddr::V4(a) => {
            m.extend_from_slice(&[0x00, 0x20, 0, 8, 0, 1]);
            m.extend_from_slice(&port.to_be_bytes());
            let x = u32::from(*a.ip()) ^ COOKIE;
            m.extend_from_slice(&x.to_be_bytes());
        }
        SocketAddr::V6(a) => {
            m.extend_from_slice(&[0x00, 0x20, 0, 20, 0, 2]);
            m.extend_from_slice(&port.to_be_bytes());
            let mut key = COOKIE.to_be_bytes().to_vec();
            key.extend_from_slice(txid);
            for (i, b) in a.ip().octets().iter().enumerate() {
                m.push(b ^ key[i]);
            }
        }
    }
    // MESSAGE-INTEGRITY over the message with its length covering M-I.
    let l = (m.len() + 24 - 20) as u16;
    m[2..4].copy_from_slice(&l.to_be_bytes());
    let mac = hmac_sha1(pwd.as_bytes(), &m)?;
    m.extend_from_slice(&[0x00, 0x08, 0, 20]);
    m.extend_from_slice(&mac);
    // FINGERPRINT
    let l = (m.len() + 8 - 20) as u16;
    m[2..4].copy_from_slice(&l.to_be_bytes());
    let crc = crc32fast::hash(&m) ^ 0x5354_554e;
    m.extend_from_slice(&[0x80, 0x28, 0, 4]);
    m.extend_from_slice(&crc.to_be_bytes());
    Some(m)
}
