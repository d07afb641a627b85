//! DTLS pair tests: our client against our server (both OpenSSL over memory pipes), same exported SRTP keys;
//! a wrong fingerprint fails the handshake and yields no keys.

use std::time::{Duration, Instant};

use wacall::media::dtls::{DtlsEndpoint, DtlsError, DtlsState};
use wacall::media::{DtlsCertificate, DtlsRole, Fingerprint};

fn pump(c: &mut DtlsEndpoint, s: &mut DtlsEndpoint, now: Instant) {
    for _ in 0..20 {
        let mut moved = false;
        while let Some(d) = c.poll_transmit() {
            moved = true;
            s.handle_datagram(now, &d);
        }
        while let Some(d) = s.poll_transmit() {
            moved = true;
            c.handle_datagram(now, &d);
        }
        if !moved {
            break;
        }
    }
}

#[test]
fn client_server_export_same_keys() {
    let now = Instant::now();
    let cc = DtlsCertificate::generate().unwrap();
    let sc = DtlsCertificate::generate().unwrap();
    let fp = sc.fingerprint().to_attribute();
    assert!(fp.starts_with("sha-256 "));
    let hex = fp.trim_start_matches("sha-256 ");
    assert_eq!(hex, hex.to_uppercase(), "upper-case hex");
    assert_eq!(hex.len(), 32 * 3 - 1);
    // Lower-case input is accepted too.
    let parsed = Fingerprint::parse("SHA-256", &hex.to_lowercase()).unwrap();
    assert_eq!(&parsed, sc.fingerprint());

    let mut c = DtlsEndpoint::new(DtlsRole::Client, &cc, sc.fingerprint().clone()).unwrap();
    let mut s = DtlsEndpoint::new(DtlsRole::Server, &sc, cc.fingerprint().clone()).unwrap();
    c.start(now);
    pump(&mut c, &mut s, now);
    assert!(c.is_connected(), "{:?}", c.state());
    assert!(s.is_connected(), "{:?}", s.state());
    let kc = c.take_keys().unwrap();
    let ks = s.take_keys().unwrap();
    assert_eq!(kc.profile, ks.profile);
    assert_eq!(kc.local, ks.remote);
    assert_eq!(kc.remote, ks.local);
    assert_ne!(kc.local, kc.remote);
    // Secrets stay out of Debug output.
    let dbg = format!("{kc:?} {cc:?}");
    assert!(!dbg.to_lowercase().contains("private"), "{dbg}");
}

#[test]
fn wrong_fingerprint_fails_without_keys() {
    let now = Instant::now();
    let cc = DtlsCertificate::generate().unwrap();
    let sc = DtlsCertificate::generate().unwrap();
    let other = DtlsCertificate::generate().unwrap();
    // The client expects a different certificate than the server presents (a man in the middle).
    let mut c = DtlsEndpoint::new(DtlsRole::Client, &cc, other.fingerprint().clone()).unwrap();
    let mut s = DtlsEndpoint::new(DtlsRole::Server, &sc, cc.fingerprint().clone()).unwrap();
    c.start(now);
    pump(&mut c, &mut s, now);
    assert_eq!(
        c.state(),
        &DtlsState::Failed(DtlsError::FingerprintMismatch)
    );
    assert!(c.take_keys().is_none());
    assert!(s.take_keys().is_none());

    // And the server side refuses a client it does not expect.
    let mut c = DtlsEndpoint::new(DtlsRole::Client, &cc, sc.fingerprint().clone()).unwrap();
    let mut s = DtlsEndpoint::new(DtlsRole::Server, &sc, other.fingerprint().clone()).unwrap();
    c.start(now);
    pump(&mut c, &mut s, now);
    assert_eq!(
        s.state(),
        &DtlsState::Failed(DtlsError::FingerprintMismatch)
    );
    assert!(s.take_keys().is_none());
    assert!(c.take_keys().is_none() || !s.is_connected());
}

#[test]
fn retransmits_lost_flight() {
    let mut now = Instant::now();
    let cc = DtlsCertificate::generate().unwrap();
    let sc = DtlsCertificate::generate().unwrap();
    let mut c = DtlsEndpoint::new(DtlsRole::Client, &cc, sc.fingerprint().clone()).unwrap();
    let mut s = DtlsEndpoint::new(DtlsRole::Server, &sc, cc.fingerprint().clone()).unwrap();
    c.start(now);
    // Lose the ClientHello.
    while c.poll_transmit().is_some() {}
    let deadline = c.poll_timeout().expect("a retransmission timer runs");
    // OpenSSL's timer runs on the wall clock (initial 1 s): wait it out for real, then drive with our clock.
    std::thread::sleep(Duration::from_millis(1100));
    now = now.max(deadline);
    c.handle_timeout(now);
    pump(&mut c, &mut s, now);
    assert!(c.is_connected(), "{:?}", c.state());
    assert!(s.is_connected());
}

#[test]
fn garbage_never_panics() {
    let now = Instant::now();
    let cc = DtlsCertificate::generate().unwrap();
    let mut s = DtlsEndpoint::new(DtlsRole::Server, &cc, cc.fingerprint().clone()).unwrap();
    for n in 0..100u8 {
        let g: Vec<u8> = (0..n)
            .map(|i| i.wrapping_mul(31).wrapping_add(22))
            .collect();
        s.handle_datagram(now, &g);
        while s.poll_transmit().is_some() {}
    }
    assert!(Fingerprint::parse("sha-256", "zz").is_err());
    assert!(Fingerprint::parse("md5", "AB").is_err());
    assert!(Fingerprint::parse_attribute("sha-256").is_err());
}
