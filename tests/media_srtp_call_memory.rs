//! Heap + inline bytes per SDES<->SDES call (what the relay keeps per call), per SRTP backend, measured with glibc's
//! `mallinfo2` (covers libsrtp's C allocations too). Target: at most 16 KB per call.

use std::net::SocketAddr;
use std::time::Instant;

use wacall::media::srtp::{set_default_backend, SrtpBackend, SrtpKeyMaterial, SrtpProfile};
use wacall::media::{
    Call, CallConfig, CallTiming, LegConfig, LegMode, LocalLeg, PayloadTypes, RemoteLeg,
};

/// Bytes malloc has handed out and not taken back (Rust's System allocator and libsrtp both use glibc malloc).
fn live() -> isize {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    #[allow(unsafe_code)]
    let m = unsafe { libc::mallinfo2() };
    m.uordblks as isize
}

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn call() -> Call {
    let k1 = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
    let k2 = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
    let mut m = LocalLeg::new(LegMode::Sdes, vec![a("10.0.0.1:40000")]);
    m.sdes_key = Some(k1.clone());
    let mut p = LocalLeg::new(LegMode::Sdes, vec![a("10.0.0.1:40002")]);
    p.sdes_key = Some(k1);
    let r = |addr: &str| RemoteLeg {
        addr: Some(a(addr)),
        sdes_key: Some(k2.clone()),
        payload: PayloadTypes::default(),
        ..Default::default()
    };
    Call::new(
        Instant::now(),
        CallConfig {
            meta: LegConfig {
                local: m,
                remote: Some(r("157.240.0.1:3480")),
            },
            pbx: LegConfig {
                local: p,
                remote: Some(r("192.0.2.10:5004")),
            },
            timing: CallTiming::default(),
        },
    )
    .unwrap()
}

fn per_call(backend: SrtpBackend) -> usize {
    set_default_backend(backend);
    // Warm up one-time state (libsrtp init, OpenSSL RNG).
    drop(call());
    const N: usize = 200;
    let before = live();
    let calls: Vec<Call> = (0..N).map(|_| call()).collect();
    let after = live();
    drop(calls);
    // Includes the Vec slot holding each Call inline.
    (after - before) as usize / N
}

#[test]
fn bytes_per_sdes_sdes_call() {
    // One test, so the process-wide default backend is not raced by another test thread.
    let lib = per_call(SrtpBackend::Libsrtp);
    let native = per_call(SrtpBackend::Native);
    set_default_backend(SrtpBackend::Native);
    eprintln!(
        "SDES<->SDES call: libsrtp {lib} B, native {native} B (Call inline {} B)",
        std::mem::size_of::<Call>()
    );
    assert!(native <= 16 * 1024, "native call takes {native} B");
}
