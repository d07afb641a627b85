//! SDP parse and mapping cost for the seed's Meta offers (target: parse + map under 20 us).
//! Run: `cargo bench --bench sdp`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use wacall::sdp::{self, MapConfig, MediaAllocation, MetaMedia, PbxMedia, Sdp};

const META_OFFER_DTLS: &str = include_str!("../tests/fixtures/sdp/meta_offer_dtls.sdp");
const META_OFFER_SDES: &str = include_str!("../tests/fixtures/sdp/meta_offer_sdes_1.sdp");
const TWILIO_OFFER: &str = include_str!("../tests/fixtures/sdp/twilio_offer_to_meta.sdp");

fn alloc() -> MediaAllocation {
    MediaAllocation::new(
        "203.0.113.10:40000".parse().unwrap(),
        "192.0.2.10:30000".parse().unwrap(),
        "wAcL",
        "0123456789abcdefABCDEF+/",
        "3C:4E:0B:9A:61:F2:7D:E8:25:AA:90:1B:C4:57:D3:8E:6F:02:BD:49:71:C8:3A:E5:16:9F:0D:62:A7:B4:58:E1",
    )
}

fn bench(c: &mut Criterion) {
    let a = alloc();
    let cfg = MapConfig::default();
    let rtp = MapConfig::new(PbxMedia::Rtp, MetaMedia::Dtls);
    c.bench_function("parse meta dtls offer", |b| {
        b.iter(|| Sdp::parse(black_box(META_OFFER_DTLS)).unwrap())
    });
    c.bench_function("parse+print meta dtls offer", |b| {
        b.iter(|| Sdp::parse(black_box(META_OFFER_DTLS)).unwrap().to_string())
    });
    c.bench_function("map meta dtls offer -> pbx sdes offer", |b| {
        b.iter(|| sdp::meta_offer_to_pbx(black_box(META_OFFER_DTLS), &a, &cfg).unwrap())
    });
    c.bench_function("map meta dtls offer -> pbx rtp offer", |b| {
        b.iter(|| sdp::meta_offer_to_pbx(black_box(META_OFFER_DTLS), &a, &rtp).unwrap())
    });
    c.bench_function("map meta sdes offer -> pbx sdes offer", |b| {
        b.iter(|| sdp::meta_offer_to_pbx(black_box(META_OFFER_SDES), &a, &cfg).unwrap())
    });
    let pbx_offer = sdp::meta_offer_to_pbx(META_OFFER_DTLS, &a, &cfg)
        .unwrap()
        .sdp;
    let pbx_answer = pbx_offer
        .replace("192.0.2.10 ", "198.51.100.20 ")
        .replace("30000", "31000");
    c.bench_function("map pbx answer -> meta dtls answer", |b| {
        b.iter(|| {
            sdp::pbx_answer_to_meta(
                black_box(META_OFFER_DTLS),
                &pbx_offer,
                &pbx_answer,
                &a,
                &cfg,
            )
            .unwrap()
        })
    });
    c.bench_function("map pbx sdes offer -> meta dtls offer", |b| {
        b.iter(|| sdp::pbx_offer_to_meta(black_box(TWILIO_OFFER), &a, &cfg).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
