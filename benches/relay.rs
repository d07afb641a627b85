//! The relay's per-packet path beyond what benches/srtp.rs covers: SDES-SRTP -> plain RTP through a
//! `media::Call`, and SDES->SDES re-encryption with 4,000 calls in play (cache and key-schedule effects); and
//! call set-up through the driver in-process, as FreeSWITCH drives it (no control socket): allocate + update
//! (SDES<->SDES, maiden packet sent) + delete, on the calling thread.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wacall::media::call::Outbox;
use wacall::media::peer::MetaLikePeer;
use wacall::media::srtp::{SrtpKeyMaterial, SrtpProfile};
use wacall::media::{
    Call, CallConfig, CallTiming, LegConfig, LegId, LegMode, LocalLeg, PayloadTypes, RemoteLeg,
};

const PAYLOAD: usize = 120;

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const META_LOCAL: &str = "10.0.0.1:40000";
const META_REMOTE: &str = "157.240.0.1:3480";
const PBX_LOCAL: &str = "10.0.0.1:40002";
const PBX_REMOTE: &str = "192.0.2.10:5004";

/// An SDES call (Meta leg SDES; PBX leg SDES or plain) with its Meta-side peer.
struct OneCall {
    call: Call,
    meta: MetaLikePeer,
}

fn key() -> SrtpKeyMaterial {
    SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap()
}

fn make_call(now: Instant, pbx_srtp: bool) -> OneCall {
    let pt = PayloadTypes {
        audio: 111,
        dtmf: Some(126),
        clock_rate: 48_000,
    };
    // Different keys per leg force re-encryption.
    let ours = key();
    let theirs = key();
    let mut ml = LocalLeg::new(LegMode::Sdes, vec![a(META_LOCAL)]);
    ml.sdes_key = Some(ours.clone());
    let mr = RemoteLeg {
        addr: Some(a(META_REMOTE)),
        sdes_key: Some(theirs.clone()),
        payload: pt,
        ..Default::default()
    };
    let meta = MetaLikePeer::new_sdes(vec![a(META_REMOTE)], theirs, ours).unwrap();
    let (pl, pr) = if pbx_srtp {
        let mut l = LocalLeg::new(LegMode::Sdes, vec![a(PBX_LOCAL)]);
        l.sdes_key = Some(key());
        let r = RemoteLeg {
            addr: Some(a(PBX_REMOTE)),
            sdes_key: Some(key()),
            payload: pt,
            ..Default::default()
        };
        (l, r)
    } else {
        let l = LocalLeg::new(LegMode::Plain, vec![a(PBX_LOCAL)]);
        let r = RemoteLeg {
            addr: Some(a(PBX_REMOTE)),
            payload: pt,
            ..Default::default()
        };
        (l, r)
    };
    let call = Call::new(
        now,
        CallConfig {
            meta: LegConfig {
                local: ml,
                remote: Some(mr),
            },
            pbx: LegConfig {
                local: pl,
                remote: Some(pr),
            },
            timing: CallTiming::default(),
        },
    )
    .unwrap();
    let mut c = OneCall { call, meta };
    // Meta's peer sends nothing before the relay's first ("maiden") SRTP packet: run the call's timers
    // (fake clock) and hand what it sends to the peer until the peer has it.
    let mut out = Outbox::with_capacity(8);
    let mut t = now;
    for _ in 0..100 {
        c.call.handle_timeout(t, &mut out);
        let sends: Vec<(SocketAddr, SocketAddr, Vec<u8>)> = out
            .transmits()
            .map(|x| (x.local, x.remote, x.data.to_vec()))
            .collect();
        out.clear();
        for (local, remote, data) in sends {
            if remote == a(META_REMOTE) {
                let _ = c.meta.handle_input(t, remote, local, &data);
            }
        }
        if c.meta.got_first_srtp() {
            break;
        }
        t += Duration::from_millis(10);
    }
    assert!(c.meta.got_first_srtp(), "no maiden packet from the call");
    c
}

/// Feeds `iters` Meta->PBX packets, round robin over `calls`, timing only `handle_input` + outbox clear.
fn relay(calls: &mut [OneCall], now: Instant, out: &mut Outbox, iters: u64) -> Duration {
    let payload = [0x5au8; PAYLOAD];
    let mut total = Duration::ZERO;
    let mut left = iters;
    let mut next = 0usize;
    let mut batch: Vec<(usize, Vec<u8>)> = Vec::with_capacity(4096);
    while left > 0 {
        let n = left.min(4096);
        batch.clear();
        for _ in 0..n {
            let t = calls[next].meta.send_audio(&payload).unwrap();
            batch.push((next, t.data));
            next = (next + 1) % calls.len();
        }
        let start = Instant::now();
        for (i, p) in batch.iter_mut() {
            calls[*i]
                .call
                .handle_input(now, LegId::Meta, a(META_LOCAL), a(META_REMOTE), p, out);
            black_box(out.len());
            out.clear();
        }
        total += start.elapsed();
        left -= n;
    }
    total
}

fn bench_relay(c: &mut Criterion) {
    let mut g = c.benchmark_group("relay_per_packet");
    g.throughput(Throughput::Elements(1));
    let now = Instant::now();
    let mut out = Outbox::with_capacity(64);
    for (name, srtp, n) in [
        ("sdes_to_rtp(meta->pbx)/1_call", false, 1usize),
        ("sdes_to_rtp(meta->pbx)/4000_calls", false, 4000),
        ("sdes_to_sdes_reencrypt(meta->pbx)/4000_calls", true, 4000),
    ] {
        let mut calls: Vec<OneCall> = (0..n).map(|_| make_call(now, srtp)).collect();
        // Let each call latch and send its first packets outside the measurement.
        relay(&mut calls, now, &mut out, n as u64 * 2);
        g.bench_function(name, |b| {
            b.iter_custom(|iters| relay(&mut calls, now, &mut out, iters))
        });
    }
    g.finish();
}

fn bench_setup(c: &mut Criterion) {
    use wacall::relay::media_engine::material_to_sdes;
    use wacall::relay::{Family, RelayConfig, Transport};
    // Loopback ports 28000-28999 for the relay, 28990-28991 for the far ends (outside the relay's pool).
    let cfg = RelayConfig {
        port_min: 28000,
        port_max: 28899,
        workers: 1,
        ..Default::default()
    };
    let sock = std::env::temp_dir().join(format!("wacall-bench-setup-{}.sock", std::process::id()));
    let relay = wacall::relay::spawn(cfg, &sock).expect("relay");
    let d = relay.driver().clone();
    let far = [
        std::net::UdpSocket::bind("127.0.0.1:28990").expect("far end"),
        std::net::UdpSocket::bind("127.0.0.1:28991").expect("far end"),
    ];
    let k = material_to_sdes(&key());
    let leg = || wacall::relay::LegConfig {
        transport: Transport::Sdes,
        family: Family::Ipv4,
    };
    let remote = |s: &std::net::UdpSocket| wacall::relay::RemoteLeg {
        addr: s.local_addr().ok(),
        sdes: Some(k.clone()),
        ..Default::default()
    };
    let mut g = c.benchmark_group("relay_setup");
    let mut n = 0u64;
    g.bench_function("in_process_allocate_update_delete(sdes<->sdes)", |b| {
        b.iter(|| {
            n += 1;
            let id = format!("b{n}");
            d.allocate(&id, &leg(), &leg()).expect("allocate");
            d.update(&id, Some(remote(&far[0])), Some(remote(&far[1])))
                .expect("update");
            black_box(d.delete(&id).expect("delete"));
        })
    });
    g.finish();
    drop(d);
    relay.stop();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(20);
    targets = bench_relay, bench_setup
}
criterion_main!(benches);
