//! The hash functions digest uses, as lowercase hex, fed piecewise so responses need no temporary strings.
//! One place knows how each `algorithm` maps to a hash.

use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};

use super::challenge::Algorithm;

/// Lowercase hex of a hash; 64 bytes covers SHA-256 and SHA-512/256 (32 bytes each).
pub(crate) struct Hex {
    buf: [u8; 64],
    len: usize,
}

impl Hex {
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into buf.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

fn to_hex(bytes: &[u8]) -> Hex {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 64];
    let n = bytes.len().min(32);
    for (i, b) in bytes[..n].iter().enumerate() {
        buf[2 * i] = D[usize::from(b >> 4)];
        buf[2 * i + 1] = D[usize::from(b & 15)];
    }
    Hex { buf, len: 2 * n }
}

fn run<D: Digest>(parts: &[&[u8]]) -> Hex {
    let mut h = D::new();
    for p in parts {
        h.update(p);
    }
    to_hex(&h.finalize())
}

/// H(concatenation of parts) as lowercase hex, for the hash behind `alg`.
pub(crate) fn h(alg: Algorithm, parts: &[&[u8]]) -> Hex {
    match alg {
        Algorithm::Md5 | Algorithm::Md5Sess => run::<Md5>(parts),
        Algorithm::Sha256 | Algorithm::Sha256Sess => run::<Sha256>(parts),
        Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => run::<Sha512_256>(parts),
    }
}

/// Constant-time equality (the length is not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut d = 0u8;
    for (x, y) in a.iter().zip(b) {
        d |= x ^ y;
    }
    std::hint::black_box(d) == 0
}
