//! SRTP wrapper tests: libsrtp's reference vectors (RFC 3711 AES-CM/HMAC-SHA1, RFC 7714 GCM) through our API,
//! round trips for every profile, tampering, replay and sequence wrap.

use wacall::media::srtp::{
    Direction, SrtpContext, SrtpError, SrtpKeyMaterial, SrtpProfile, SRTCP_MAX_TRAILER,
};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const KEY_CM: &str = "e1f97a0d3e018be0d64fa32c06de4139 0ec675ad498afeebb6960b3aabe6";
const RTP_PLAIN: &str = "800f1234decafbadcafebabe abababababababababababababababab";
const RTCP_PLAIN: &str = "81c8000bcafebabe abababababababababababababababab";

fn check_vector(profile: SrtpProfile, key: &str, srtp: &str, srtcp: &str) {
    let keys = SrtpKeyMaterial::new(profile, &hex(key)).unwrap();
    let mut tx = SrtpContext::new(&keys, Direction::Outbound).unwrap();
    let mut rx = SrtpContext::new(&keys, Direction::Inbound).unwrap();

    let plain = hex(RTP_PLAIN);
    let mut buf = plain.clone();
    buf.resize(plain.len() + 16, 0);
    let n = tx.protect_rtp(&mut buf, plain.len()).unwrap();
    assert_eq!(&buf[..n], &hex(srtp)[..], "{profile:?} SRTP vector");
    let n = rx.unprotect_rtp(&mut buf[..n]).unwrap();
    assert_eq!(&buf[..n], &plain[..]);

    let plain = hex(RTCP_PLAIN);
    let mut buf = plain.clone();
    buf.resize(plain.len() + SRTCP_MAX_TRAILER, 0);
    let n = tx.protect_rtcp(&mut buf, plain.len()).unwrap();
    assert_eq!(&buf[..n], &hex(srtcp)[..], "{profile:?} SRTCP vector");
    let n = rx.unprotect_rtcp(&mut buf[..n]).unwrap();
    assert_eq!(&buf[..n], &plain[..]);
}

#[test]
fn reference_vector_aes_cm_128_hmac_sha1_80() {
    check_vector(
        SrtpProfile::AesCm128HmacSha1_80,
        KEY_CM,
        "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb",
        "81c8000bcafebabe7128035be487b9bdbef89041f977a5a880000001993e08cd54d6c1230798",
    );
}

#[test]
fn reference_vector_aead_aes_128_gcm() {
    check_vector(
        SrtpProfile::AeadAes128Gcm,
        "000102030405060708090a0b0c0d0e0f a0a1a2a3a4a5a6a7a8a9aaab",
        "800f1234decafbadcafebabec5002ede04cfdd2eb91159e0880aa06ed2976826f796b201df3131a127e8a392",
        "81c8000bcafebabec98b8b5df0392a55852b6c21ac8e7025c52c6fbea2b3b446ea31123ba88ce61e80000001",
    );
}

#[test]
fn reference_vector_aes_256_cm_hmac_sha1_80_rtp() {
    let keys = SrtpKeyMaterial::new(
        SrtpProfile::AesCm256HmacSha1_80,
        &hex("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6 3b04803de51ee7c96423ab5b78d2"),
    )
    .unwrap();
    let mut tx = SrtpContext::new(&keys, Direction::Outbound).unwrap();
    let mut rx = SrtpContext::new(&keys, Direction::Inbound).unwrap();
    let plain = hex(RTP_PLAIN);
    let mut buf = plain.clone();
    buf.resize(plain.len() + 16, 0);
    let n = tx.protect_rtp(&mut buf, plain.len()).unwrap();
    assert_eq!(
        &buf[..n],
        &hex("800f1234decafbadcafebabef1d9de17ff251ff1aa007774b0b4b40da08d9d9a5b3a55d8873b")[..]
    );
    let n = rx.unprotect_rtp(&mut buf[..n]).unwrap();
    assert_eq!(&buf[..n], &plain[..]);
}

fn rtp_packet(seq: u16, payload: usize) -> Vec<u8> {
    let mut p = vec![0x80, 111];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(seq as u32 * 960).to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend((0..payload).map(|i| i as u8));
    p
}

#[test]
fn roundtrip_all_profiles_tamper_replay() {
    for profile in [
        SrtpProfile::AesCm128HmacSha1_80,
        SrtpProfile::AesCm128HmacSha1_32,
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm,
        SrtpProfile::AesCm256HmacSha1_80,
        SrtpProfile::AesCm256HmacSha1_32,
    ] {
        let k = SrtpKeyMaterial::random(profile).unwrap();
        let mut tx = SrtpContext::new(&k, Direction::Outbound).unwrap();
        let mut rx = SrtpContext::new(&k, Direction::Inbound).unwrap();
        let plain = rtp_packet(1, 160);
        let mut buf = plain.clone();
        buf.resize(plain.len() + 16, 0);
        let n = tx.protect_rtp(&mut buf, plain.len()).unwrap();
        assert_eq!(n, plain.len() + profile.rtp_overhead());
        let sent = buf[..n].to_vec();

        let mut t = sent.clone();
        t[20] ^= 0x01;
        assert_eq!(
            rx.unprotect_rtp(&mut t),
            Err(SrtpError::AuthFailed),
            "{profile:?} tampered"
        );
        let mut t = sent.clone();
        assert_eq!(
            rx.unprotect_rtp(&mut t[..n - 1]),
            Err(SrtpError::AuthFailed),
            "{profile:?} truncated"
        );

        let mut r = sent.clone();
        let m = rx.unprotect_rtp(&mut r).unwrap();
        assert_eq!(&r[..m], &plain[..]);
        let mut r = sent.clone();
        assert_eq!(
            rx.unprotect_rtp(&mut r),
            Err(SrtpError::Replay),
            "{profile:?} replay"
        );

        // A forged packet under another key.
        let other = SrtpKeyMaterial::random(profile).unwrap();
        let mut ftx = SrtpContext::new(&other, Direction::Outbound).unwrap();
        let mut f = rtp_packet(2, 160);
        let l = f.len();
        f.resize(l + 16, 0);
        let n = ftx.protect_rtp(&mut f, l).unwrap();
        assert_eq!(rx.unprotect_rtp(&mut f[..n]), Err(SrtpError::AuthFailed));
    }
}

#[test]
fn garbage_and_short_buffers() {
    let k = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
    let mut rx = SrtpContext::new(&k, Direction::Inbound).unwrap();
    let mut tx = SrtpContext::new(&k, Direction::Outbound).unwrap();
    for n in 0..40 {
        let mut g = vec![0x80u8; n];
        assert!(rx.unprotect_rtp(&mut g).is_err());
        assert!(rx.unprotect_rtcp(&mut g).is_err());
    }
    let mut p = rtp_packet(1, 10);
    let l = p.len();
    assert_eq!(tx.protect_rtp(&mut p, l), Err(SrtpError::BufferTooSmall));
    assert!(SrtpKeyMaterial::new(SrtpProfile::AesCm128HmacSha1_80, &[0; 29]).is_err());
    // Keys never show in Debug.
    let dbg = format!("{k:?}");
    assert!(
        !dbg.contains(&format!("{:?}", &k.key_and_salt()[..4])),
        "{dbg}"
    );
}

#[test]
fn sequence_wrap_keeps_working() {
    let k = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
    let mut tx = SrtpContext::new(&k, Direction::Outbound).unwrap();
    let mut rx = SrtpContext::new(&k, Direction::Inbound).unwrap();
    let mut seq: u16 = 65_500;
    for _ in 0..100 {
        let plain = rtp_packet(seq, 160);
        let mut buf = plain.clone();
        buf.resize(plain.len() + 16, 0);
        let n = tx.protect_rtp(&mut buf, plain.len()).unwrap();
        let m = rx
            .unprotect_rtp(&mut buf[..n])
            .unwrap_or_else(|e| panic!("seq {seq}: {e}"));
        assert_eq!(&buf[..m], &plain[..]);
        seq = seq.wrapping_add(1);
    }
}
