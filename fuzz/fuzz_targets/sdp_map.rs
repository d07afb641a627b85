//! Fuzzes the four offer/answer mappings with arbitrary SDP in every position: errors are fine, panics are not,
//! and whatever is produced must parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wacall::sdp::{self, MapConfig, MediaAllocation, MetaMedia, PbxMedia, Sdp};

const META_OFFER: &str = include_str!("../../tests/fixtures/sdp/meta_offer_dtls.sdp");
const PBX_OFFER: &str = include_str!("../../tests/fixtures/sdp/twilio_offer_to_meta.sdp");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let a = MediaAllocation::new(
        "203.0.113.10:40000".parse().unwrap(),
        "192.0.2.10:30000".parse().unwrap(),
        "wAcL",
        "0123456789abcdefABCDEF+/",
        "3C:4E:0B:9A:61:F2:7D:E8:25:AA:90:1B:C4:57:D3:8E:6F:02:BD:49:71:C8:3A:E5:16:9F:0D:62:A7:B4:58:E1",
    );
    let cfg = if data.first().is_some_and(|b| b & 1 == 1) {
        MapConfig::new(PbxMedia::Rtp, MetaMedia::Sdes)
    } else {
        MapConfig::default()
    };
    let check = |r: Result<sdp::Mapped, sdp::Error>| {
        if let Ok(m) = r {
            assert!(Sdp::parse(&m.sdp).is_ok(), "mapped SDP must parse");
            Some(m.sdp)
        } else {
            None
        }
    };
    // The input as an offer from each side.
    let to_pbx = check(sdp::meta_offer_to_pbx(text, &a, &cfg));
    let to_meta = check(sdp::pbx_offer_to_meta(text, &a, &cfg));
    // The input as an answer to a real offer.
    if let Some(o) = check(sdp::meta_offer_to_pbx(META_OFFER, &a, &cfg)) {
        check(sdp::pbx_answer_to_meta(META_OFFER, &o, text, &a, &cfg));
    }
    if let Some(o) = check(sdp::pbx_offer_to_meta(PBX_OFFER, &a, &cfg)) {
        check(sdp::meta_answer_to_pbx(PBX_OFFER, &o, text, &a, &cfg));
    }
    // Its own mapping fed back as the answer (a peer echoing our offer).
    if let Some(o) = to_pbx {
        check(sdp::pbx_answer_to_meta(text, &o, &o, &a, &cfg));
    }
    if let Some(o) = to_meta {
        check(sdp::meta_answer_to_pbx(text, &o, &o, &a, &cfg));
    }
});
