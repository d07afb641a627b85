//! SRTP and relay-path micro-benchmarks: libsrtp protect+unprotect per 160-byte-payload packet with 1 and with
//! 4,000 streams in play, and the call's per-packet relay path (SDES->SDES re-encryption, DTLS-SRTP->SDES).

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wacall::media::call::Outbox;
use wacall::media::ice::RemoteCandidate;
use wacall::media::peer::{MetaLikePeer, PbxPeer, PeerTransmit};
use wacall::media::srtp::{
    Direction, SrtpBackend, SrtpContext, SrtpKeyMaterial, SrtpProfile, SRTP_MAX_TRAILER,
};
use wacall::media::{
    Call, CallConfig, CallTiming, DtlsCertificate, IceCredentials, LegConfig, LegId, LegMode,
    LocalLeg, PayloadTypes, RemoteIce, RemoteLeg,
};

const PAYLOAD: usize = 160;

/// This thread's CPU time: the machine is shared by many busy processes, so wall time mostly measures the
/// scheduler; CPU time measures our work (and is what the set-up target is stated in).
fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid, exclusively borrowed `ts`.
    #[allow(unsafe_code)]
    unsafe {
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs `f` `iters` times and returns the CPU time it took.
fn cpu_iters(iters: u64, mut f: impl FnMut()) -> Duration {
    let t = cpu_now();
    for _ in 0..iters {
        f();
    }
    cpu_now() - t
}

fn packet(seq: u16, ssrc: u32) -> [u8; 12 + PAYLOAD + SRTP_MAX_TRAILER] {
    let mut p = [0xabu8; 12 + PAYLOAD + SRTP_MAX_TRAILER];
    p[0] = 0x80;
    p[1] = 111;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(seq as u32 * 960).to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p
}

struct Stream {
    tx: SrtpContext,
    rx: SrtpContext,
    seq: u16,
    ssrc: u32,
}

fn streams(n: usize, profile: SrtpProfile, backend: SrtpBackend) -> Vec<Stream> {
    (0..n)
        .map(|i| {
            let k = SrtpKeyMaterial::random(profile).unwrap();
            Stream {
                tx: SrtpContext::with_backend(&k, Direction::Outbound, backend).unwrap(),
                rx: SrtpContext::with_backend(&k, Direction::Inbound, backend).unwrap(),
                seq: 1,
                ssrc: i as u32 + 1,
            }
        })
        .collect()
}

/// Protect+unprotect per packet, round-robin over `n` streams so that each packet touches a different context
/// (the cache behaviour of a relay with `n` legs in play).
fn bench_pp(c: &mut Criterion, group: &str, backend: SrtpBackend, profiles: &[SrtpProfile]) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    for &profile in profiles {
        for n in [1usize, 4000] {
            let mut ss = streams(n, profile, backend);
            let mut i = 0usize;
            g.bench_function(format!("{profile:?}/{n}_streams"), |b| {
                b.iter_custom(|iters| {
                    cpu_iters(iters, || {
                        let s = &mut ss[i];
                        i += 1;
                        if i == n {
                            i = 0;
                        }
                        let mut p = packet(s.seq, s.ssrc);
                        s.seq = s.seq.wrapping_add(1);
                        let len = s.tx.protect_rtp(&mut p, 12 + PAYLOAD).unwrap();
                        let m = s.rx.unprotect_rtp(&mut p[..len]).unwrap();
                        black_box(m);
                    })
                })
            });
        }
    }
    g.finish();
}

/// libsrtp (the reference) and the native path (`media::srtp_fast`), same packets, same stream counts.
fn bench_srtp(c: &mut Criterion) {
    bench_pp(
        c,
        "srtp_protect_unprotect",
        SrtpBackend::Libsrtp,
        &[SrtpProfile::AesCm128HmacSha1_80, SrtpProfile::AeadAes128Gcm],
    );
    bench_pp(
        c,
        "srtp_fast",
        SrtpBackend::Native,
        &[
            SrtpProfile::AesCm128HmacSha1_80,
            SrtpProfile::AesCm128HmacSha1_32,
        ],
    );
}

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A call between a Meta-like peer and a PBX peer, connected (DTLS finished when `dtls`).
struct Setup {
    now: Instant,
    call: Call,
    meta: MetaLikePeer,
    pbx: PbxPeer,
    out: Outbox,
}

fn setup(dtls: bool) -> Setup {
    let now = Instant::now();
    let pt = PayloadTypes {
        audio: 111,
        dtmf: Some(126),
        clock_rate: 48_000,
    };
    let (meta_local, meta_remote, meta) = if dtls {
        let ours = Arc::new(DtlsCertificate::generate().unwrap());
        let mc = DtlsCertificate::generate().unwrap();
        let ice = IceCredentials::random();
        let mut l = LocalLeg::new(LegMode::DtlsSrtp, vec![a("10.0.0.1:40000")]);
        l.dtls_cert = Some(ours.clone());
        l.ice = Some(IceCredentials::random());
        let r = RemoteLeg {
            fingerprint: Some(mc.fingerprint().clone()),
            ice: Some(RemoteIce {
                credentials: ice.clone(),
                candidates: vec![RemoteCandidate {
                    addr: a("157.240.0.1:3480"),
                    priority: 2122260223,
                }],
                lite: true,
            }),
            payload: pt,
            ..Default::default()
        };
        let m = MetaLikePeer::new_dtls(
            vec![a("157.240.0.1:3480")],
            ice,
            &mc,
            ours.fingerprint().clone(),
        )
        .unwrap();
        (l, r, m)
    } else {
        // Different keys per leg force re-encryption (as rtpengine comparisons must).
        let ok = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
        let mk = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
        let mut l = LocalLeg::new(LegMode::Sdes, vec![a("10.0.0.1:40000")]);
        l.sdes_key = Some(ok.clone());
        let r = RemoteLeg {
            addr: Some(a("157.240.0.1:3480")),
            sdes_key: Some(mk.clone()),
            payload: pt,
            ..Default::default()
        };
        let m = MetaLikePeer::new_sdes(vec![a("157.240.0.1:3480")], mk, ok).unwrap();
        (l, r, m)
    };
    let rk = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
    let pk = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
    let mut pl = LocalLeg::new(LegMode::Sdes, vec![a("10.0.0.1:40002")]);
    pl.sdes_key = Some(rk.clone());
    let pr = RemoteLeg {
        addr: Some(a("192.0.2.10:5004")),
        sdes_key: Some(pk.clone()),
        payload: pt,
        ..Default::default()
    };
    let pbx = PbxPeer::new(
        a("192.0.2.10:5004"),
        a("10.0.0.1:40002"),
        Some((&pk, &rk)),
        111,
    )
    .unwrap();
    let call = Call::new(
        now,
        CallConfig {
            meta: LegConfig {
                local: meta_local,
                remote: Some(meta_remote),
            },
            pbx: LegConfig {
                local: pl,
                remote: Some(pr),
            },
            timing: CallTiming::default(),
        },
    )
    .unwrap();
    let mut s = Setup {
        now,
        call,
        meta,
        pbx,
        out: Outbox::with_capacity(64),
    };
    // Drive set-up (ICE, DTLS, maiden packet) with a fake clock.
    for _ in 0..200 {
        s.call.handle_timeout(s.now, &mut s.out);
        loop {
            let sends: Vec<PeerTransmit> = s
                .out
                .transmits()
                .map(|t| PeerTransmit {
                    local: t.local,
                    remote: t.remote,
                    data: t.data.to_vec(),
                })
                .collect();
            s.out.clear();
            if sends.is_empty() {
                break;
            }
            for t in sends {
                if s.meta.addrs().contains(&t.remote) {
                    for r in s.meta.handle_input(s.now, t.remote, t.local, &t.data) {
                        let mut d = r.data;
                        s.call.handle_input(
                            s.now,
                            LegId::Meta,
                            r.remote,
                            r.local,
                            &mut d,
                            &mut s.out,
                        );
                    }
                } else {
                    s.pbx.handle_input(&t.data);
                }
            }
        }
        if s.meta.got_first_srtp() {
            break;
        }
        s.now += Duration::from_millis(10);
    }
    assert!(
        s.meta.got_first_srtp(),
        "call set-up failed in the benchmark"
    );
    s
}

/// Feeds `iters` pre-protected packets through the call, timing only `handle_input` + outbox clear.
fn relay(s: &mut Setup, from_meta: bool, iters: u64) -> Duration {
    let payload = [0x5au8; PAYLOAD];
    let mut total = Duration::ZERO;
    let mut left = iters;
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(4096);
    while left > 0 {
        let n = left.min(4096);
        batch.clear();
        for _ in 0..n {
            let t = if from_meta {
                s.meta.send_audio(&payload)
            } else {
                s.pbx.send_audio(&payload)
            };
            batch.push(t.unwrap().data);
        }
        let (leg, local, from) = if from_meta {
            (LegId::Meta, a("10.0.0.1:40000"), a("157.240.0.1:3480"))
        } else {
            (LegId::Pbx, a("10.0.0.1:40002"), a("192.0.2.10:5004"))
        };
        let start = Instant::now();
        for p in batch.iter_mut() {
            s.call.handle_input(s.now, leg, local, from, p, &mut s.out);
            black_box(s.out.len());
            s.out.clear();
        }
        total += start.elapsed();
        left -= n;
    }
    total
}

fn bench_relay(c: &mut Criterion) {
    let mut g = c.benchmark_group("call_relay_per_packet");
    g.throughput(Throughput::Elements(1));
    for backend in [SrtpBackend::Libsrtp, SrtpBackend::Native] {
        // Contexts take the default backend at creation; set-up below creates all of them.
        wacall::media::srtp::set_default_backend(backend);
        let mut sdes = setup(false);
        g.bench_function(
            format!("sdes_to_sdes_reencrypt(pbx->meta)/{backend:?}"),
            |b| b.iter_custom(|iters| relay(&mut sdes, false, iters)),
        );
        let mut dtls = setup(true);
        g.bench_function(format!("dtls_srtp_to_sdes(meta->pbx)/{backend:?}"), |b| {
            b.iter_custom(|iters| relay(&mut dtls, true, iters))
        });
    }
    wacall::media::srtp::set_default_backend(SrtpBackend::Native);
    g.finish();
}

/// CPU cost of creating a call with SDES on both legs (4 SRTP contexts, key derivation; per backend) and of a whole
/// DTLS-SRTP set-up (ICE checks, ECDHE handshake on both ends, key export) against the in-memory Meta-like peer.
fn bench_setup(c: &mut Criterion) {
    let mut g = c.benchmark_group("call_setup");
    let pt = PayloadTypes::default();
    for backend in [SrtpBackend::Libsrtp, SrtpBackend::Native] {
        g.bench_function(format!("sdes_sdes_call_new/{backend:?}"), |b| {
            wacall::media::srtp::set_default_backend(backend);
            let k1 = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
            let k2 = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
            b.iter_custom(|iters| {
                cpu_iters(iters, || {
                    let mut m = LocalLeg::new(LegMode::Sdes, vec![a("10.0.0.1:40000")]);
                    m.sdes_key = Some(k1.clone());
                    let mut p = LocalLeg::new(LegMode::Sdes, vec![a("10.0.0.1:40002")]);
                    p.sdes_key = Some(k1.clone());
                    let r = |addr: &str| RemoteLeg {
                        addr: Some(a(addr)),
                        sdes_key: Some(k2.clone()),
                        payload: pt,
                        ..Default::default()
                    };
                    let call = Call::new(
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
                    .unwrap();
                    black_box(call);
                })
            })
        });
    }
    wacall::media::srtp::set_default_backend(SrtpBackend::Native);
    for backend in [SrtpBackend::Libsrtp, SrtpBackend::Native] {
        g.bench_function(format!("srtp_context_new_aes_cm_128_80/{backend:?}"), |b| {
            let k = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
            b.iter_custom(|iters| {
                cpu_iters(iters, || {
                    black_box(SrtpContext::with_backend(&k, Direction::Outbound, backend).unwrap());
                })
            })
        });
    }
    g.sample_size(10);
    g.bench_function("dtls_ice_setup_both_ends_incl_2_cert_generations", |b| {
        b.iter(|| black_box(setup(true).now))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(30);
    targets = bench_srtp, bench_relay, bench_setup
}
criterion_main!(benches);
