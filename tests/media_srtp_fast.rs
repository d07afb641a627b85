//! The native SRTP path (`media::srtp_fast`) against RFC 3711's vectors and, packet for packet, against libsrtp:
//! identical bytes on protect, cross-unprotect both ways, RTP and RTCP, sequence wrap / ROC rollover, reordering,
//! tampering, replay and truncation.

use wacall::media::srtp::{
    Direction, SrtpBackend, SrtpContext, SrtpError, SrtpKeyMaterial, SrtpProfile, SRTCP_MAX_TRAILER,
};
use wacall::media::srtp_fast::{aes_cm_for_test, prf_for_test};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// xorshift64*: deterministic randomness without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn fill(&mut self, b: &mut [u8]) {
        for x in b {
            *x = self.next() as u8;
        }
    }
}

#[test]
fn rfc3711_b3_key_derivation() {
    let mk: [u8; 16] = hex("E1F97A0D3E018BE0D64FA32C06DE4139").try_into().unwrap();
    let ms: [u8; 14] = hex("0EC675AD498AFEEBB6960B3AABE6").try_into().unwrap();
    let mut enc = [0u8; 16];
    prf_for_test(&mk, &ms, 0, &mut enc);
    assert_eq!(enc.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
    let mut salt = [0u8; 14];
    prf_for_test(&mk, &ms, 2, &mut salt);
    assert_eq!(salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
    let mut auth = [0u8; 94];
    prf_for_test(&mk, &ms, 1, &mut auth);
    assert_eq!(
        auth.to_vec(),
        hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4 8F0A0ACF3C34E2359E6CDBCE E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25 6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2")
    );
}

#[test]
fn rfc3711_b2_aes_cm_keystream() {
    let key: [u8; 16] = hex("2B7E151628AED2A6ABF7158809CF4F3C").try_into().unwrap();
    let salt: [u8; 14] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD").try_into().unwrap();
    let mut ks = [0u8; 48];
    aes_cm_for_test(&key, &salt, 0, 0, &mut ks);
    assert_eq!(
        ks.to_vec(),
        hex("E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB 41E95B3BB0A2E8DD477901E4FCA894C0")
    );
}

fn ctx(k: &SrtpKeyMaterial, d: Direction, b: SrtpBackend) -> SrtpContext {
    let c = SrtpContext::with_backend(k, d, b).unwrap();
    assert_eq!(c.backend(), b);
    c
}

fn rtp(rng: &mut Rng, seq: u16, ssrc: u32) -> Vec<u8> {
    let cc = if rng.below(4) == 0 {
        rng.below(3) as usize
    } else {
        0
    };
    let ext = rng.below(4) == 0;
    let mut p = vec![0u8; 12 + 4 * cc];
    p[0] = 0x80 | cc as u8 | if ext { 0x10 } else { 0 };
    p[1] = 111;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(rng.next() as u32).to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    rng.fill(&mut p[12..]);
    if ext {
        let words = rng.below(3) as usize;
        p.extend_from_slice(&[0xbe, 0xde, 0, words as u8]);
        let at = p.len();
        p.resize(at + 4 * words, 0);
        rng.fill(&mut p[at..]);
    }
    let payload = rng.below(300) as usize;
    let at = p.len();
    p.resize(at + payload, 0);
    rng.fill(&mut p[at..]);
    p
}

/// Sends the same RTP stream through a libsrtp and a native sender; both outputs must be identical and each must
/// be accepted by the other backend's receiver, with the same answers for replays and tampering.
fn differential_rtp(profile: SrtpProfile, seed: u64, start_seq: u16, count: usize) {
    let mut rng = Rng(seed);
    let k = SrtpKeyMaterial::random(profile).unwrap();
    let mut tx_lib = ctx(&k, Direction::Outbound, SrtpBackend::Libsrtp);
    let mut tx_nat = ctx(&k, Direction::Outbound, SrtpBackend::Native);
    let mut rx_lib = ctx(&k, Direction::Inbound, SrtpBackend::Libsrtp);
    let mut rx_nat = ctx(&k, Direction::Inbound, SrtpBackend::Native);
    let ssrc = rng.next() as u32;
    let mut seq = start_seq;
    let mut held: Vec<Vec<u8>> = Vec::new();
    for i in 0..count {
        let plain = rtp(&mut rng, seq, ssrc);
        seq = seq.wrapping_add(1);
        let mut a = plain.clone();
        a.resize(plain.len() + 16, 0);
        let mut b = a.clone();
        let na = tx_lib.protect_rtp(&mut a, plain.len()).unwrap();
        let nb = tx_nat.protect_rtp(&mut b, plain.len()).unwrap();
        assert_eq!(
            &a[..na],
            &b[..nb],
            "{profile:?} packet {i}: protect differs"
        );
        a.truncate(na);
        // Hold some packets back to deliver them late (reordering within the window).
        if rng.below(5) == 0 {
            held.push(a);
            continue;
        }
        deliver(&mut rx_lib, &mut rx_nat, &a, &plain, &mut rng);
        if !held.is_empty() && rng.below(3) == 0 {
            let late = held.remove(0);
            deliver_late(&mut rx_lib, &mut rx_nat, &late);
        }
    }
}

fn deliver(
    rx_lib: &mut SrtpContext,
    rx_nat: &mut SrtpContext,
    srtp: &[u8],
    plain: &[u8],
    rng: &mut Rng,
) {
    // Tampered first (must not disturb state), then the real packet, then a replay.
    let mut t = srtp.to_vec();
    let at = rng.below(t.len() as u64) as usize;
    t[at] ^= 1 << rng.below(8);
    let mut t2 = t.clone();
    let el = rx_lib.unprotect_rtp(&mut t);
    let en = rx_nat.unprotect_rtp(&mut t2);
    assert!(
        el.is_err() && en.is_err(),
        "tampered packet accepted: {el:?} {en:?}"
    );
    let mut x = srtp.to_vec();
    let mut y = srtp.to_vec();
    let nx = rx_lib.unprotect_rtp(&mut x).unwrap();
    let ny = rx_nat.unprotect_rtp(&mut y).unwrap();
    assert_eq!(&x[..nx], plain);
    assert_eq!(&y[..ny], plain);
    let mut x = srtp.to_vec();
    let mut y = srtp.to_vec();
    assert_eq!(rx_lib.unprotect_rtp(&mut x), Err(SrtpError::Replay));
    assert_eq!(rx_nat.unprotect_rtp(&mut y), Err(SrtpError::Replay));
}

fn deliver_late(rx_lib: &mut SrtpContext, rx_nat: &mut SrtpContext, srtp: &[u8]) {
    let mut x = srtp.to_vec();
    let mut y = srtp.to_vec();
    let a = rx_lib.unprotect_rtp(&mut x).map(|n| x[..n].to_vec());
    let b = rx_nat.unprotect_rtp(&mut y).map(|n| y[..n].to_vec());
    assert_eq!(a, b, "late packet: backends disagree");
}

#[test]
fn differential_rtp_80() {
    for seed in 1..6u64 {
        differential_rtp(
            SrtpProfile::AesCm128HmacSha1_80,
            seed,
            seed as u16 * 1000,
            400,
        );
    }
}

#[test]
fn differential_rtp_32() {
    for seed in 1..4u64 {
        differential_rtp(SrtpProfile::AesCm128HmacSha1_32, seed * 77, 100, 300);
    }
}

#[test]
fn differential_rtp_sequence_wrap_and_roc_rollover() {
    // Three wraps of the 16-bit sequence number: the ROC reaches 3 on both sides.
    differential_rtp(
        SrtpProfile::AesCm128HmacSha1_80,
        42,
        65_000,
        3 * 65_536 + 2_000,
    );
}

#[test]
fn cross_backend_both_directions_rtp_and_rtcp() {
    let mut rng = Rng(7);
    for profile in [
        SrtpProfile::AesCm128HmacSha1_80,
        SrtpProfile::AesCm128HmacSha1_32,
    ] {
        for (txb, rxb) in [
            (SrtpBackend::Libsrtp, SrtpBackend::Native),
            (SrtpBackend::Native, SrtpBackend::Libsrtp),
        ] {
            let k = SrtpKeyMaterial::random(profile).unwrap();
            let mut tx = ctx(&k, Direction::Outbound, txb);
            let mut rx = ctx(&k, Direction::Inbound, rxb);
            let ssrc = rng.next() as u32;
            for seq in 65_400..65_400 + 500u32 {
                let plain = rtp(&mut rng, seq as u16, ssrc);
                let mut b = plain.clone();
                b.resize(plain.len() + 16, 0);
                let n = tx.protect_rtp(&mut b, plain.len()).unwrap();
                let m = rx.unprotect_rtp(&mut b[..n]).unwrap();
                assert_eq!(&b[..m], &plain[..]);
            }
            for _ in 0..200 {
                let len = 8 + 4 * rng.below(40) as usize;
                let mut plain = vec![0u8; len];
                rng.fill(&mut plain);
                plain[0] = 0x81;
                plain[1] = 200;
                plain[4..8].copy_from_slice(&ssrc.to_be_bytes());
                let mut b = plain.clone();
                b.resize(len + SRTCP_MAX_TRAILER, 0);
                let n = tx.protect_rtcp(&mut b, len).unwrap();
                let mut t = b[..n].to_vec();
                t[rng.below(n as u64) as usize] ^= 0x40;
                assert!(rx.unprotect_rtcp(&mut t).is_err());
                let m = rx.unprotect_rtcp(&mut b[..n].to_vec()).unwrap();
                let mut c = b[..n].to_vec();
                let m2 = rx.unprotect_rtcp(&mut c);
                assert_eq!(m2, Err(SrtpError::Replay), "{txb:?}->{rxb:?} RTCP replay");
                assert_eq!(m, len);
                let mut d = b[..n].to_vec();
                // Decrypt a fresh copy on a fresh receiver to compare plaintext bytes.
                let mut rx2 = ctx(&k, Direction::Inbound, rxb);
                let m3 = rx2.unprotect_rtcp(&mut d).unwrap();
                assert_eq!(&d[..m3], &plain[..]);
            }
        }
    }
}

#[test]
fn rtcp_protect_identical_bytes() {
    let mut rng = Rng(99);
    let k = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
    let mut a = ctx(&k, Direction::Outbound, SrtpBackend::Libsrtp);
    let mut b = ctx(&k, Direction::Outbound, SrtpBackend::Native);
    for _ in 0..300 {
        let len = 8 + 4 * rng.below(30) as usize;
        let mut p = vec![0u8; len + SRTCP_MAX_TRAILER];
        rng.fill(&mut p[..len]);
        p[0] = 0x80;
        let mut q = p.clone();
        let na = a.protect_rtcp(&mut p, len).unwrap();
        let nb = b.protect_rtcp(&mut q, len).unwrap();
        assert_eq!(&p[..na], &q[..nb]);
    }
}

#[test]
fn truncated_and_garbage_rejected_without_panic() {
    let mut rng = Rng(5);
    let k = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
    let mut tx = ctx(&k, Direction::Outbound, SrtpBackend::Native);
    let mut rx = ctx(&k, Direction::Inbound, SrtpBackend::Native);
    let plain = rtp(&mut rng, 1, 1);
    let mut b = plain.clone();
    b.resize(plain.len() + 16, 0);
    let n = tx.protect_rtp(&mut b, plain.len()).unwrap();
    for cut in 0..n {
        assert!(
            rx.unprotect_rtp(&mut b[..cut].to_vec()).is_err(),
            "cut {cut}"
        );
        assert!(
            rx.unprotect_rtcp(&mut b[..cut].to_vec()).is_err(),
            "rtcp cut {cut}"
        );
    }
    for _ in 0..2000 {
        let len = rng.below(64) as usize;
        let mut g = vec![0u8; len];
        rng.fill(&mut g);
        let _ = rx.unprotect_rtp(&mut g.clone());
        let _ = rx.unprotect_rtcp(&mut g);
    }
    // A header claiming more CSRCs/extension than the packet holds.
    let mut bad = vec![0x9f, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
    bad.resize(12 + 16, 0);
    assert_eq!(
        tx.protect_rtp(&mut bad, 12).err(),
        Some(SrtpError::Malformed)
    );
    let mut small = [0x80u8; 14];
    assert_eq!(
        tx.protect_rtp(&mut small, 12),
        Err(SrtpError::BufferTooSmall)
    );
    let rx_ok = rx.unprotect_rtp(&mut b[..n].to_vec());
    assert_eq!(rx_ok, Ok(plain.len()));
}

#[test]
fn default_backend_is_native_and_gcm_falls_back() {
    let k = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
    assert_eq!(
        SrtpContext::new(&k, Direction::Outbound).unwrap().backend(),
        SrtpBackend::Native
    );
    let g = SrtpKeyMaterial::random(SrtpProfile::AeadAes128Gcm).unwrap();
    assert_eq!(
        SrtpContext::with_backend(&g, Direction::Outbound, SrtpBackend::Native)
            .unwrap()
            .backend(),
        SrtpBackend::Libsrtp
    );
}
