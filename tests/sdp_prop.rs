//! Property tests: arbitrary well-formed SDP prints back byte for byte, arbitrary input never panics, typed
//! lines round-trip through Display, and mapping works for any allocation.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;
use wacall::sdp::{
    self, Candidate, CandidateType, Crypto, CryptoSuite, Fingerprint, HashFunc, MapConfig,
    MediaAllocation, MediaLine, Sdp, SrtpMasterKey,
};

fn eol() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("\r\n"), Just("\n")]
}

fn line() -> impl Strategy<Value = String> {
    let value = "[ -~\t\u{a0}-\u{ff}]{0,60}";
    prop_oneof![
        (
            prop::sample::select(vec!['a', 'b', 'c', 'i', 'k', 'o', 's', 't', 'u', 'z']),
            value
        )
            .prop_map(|(k, v)| format!("{k}={v}")),
        value.prop_map(|v| format!("a={v}")),
        (
            0u16..65535,
            "[A-Z/]{1,20}",
            prop::collection::vec(0u8..128, 0..6)
        )
            .prop_map(|(p, proto, f)| {
                let f: Vec<String> = f.iter().map(u8::to_string).collect();
                format!("m=audio {p} {proto} {}", f.join(" "))
            }),
        Just(String::new()),
    ]
}

fn ipv4() -> impl Strategy<Value = IpAddr> {
    (1u8..=223, any::<[u8; 3]>())
        .prop_map(|(a, r)| IpAddr::V4(Ipv4Addr::new(a, r[0], r[1], r[2].max(1))))
}

fn ipv6() -> impl Strategy<Value = IpAddr> {
    (1u16..0xfeff, any::<[u16; 7]>()).prop_map(|(a, r)| {
        IpAddr::V6(Ipv6Addr::new(
            a,
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6].max(1),
        ))
    })
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![ipv4(), ipv6()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn well_formed_sdp_round_trips(lines in prop::collection::vec((line(), eol()), 0..40), last in eol(), term in any::<bool>()) {
        let mut text = String::from("v=0");
        text.push_str(last);
        for (l, e) in &lines {
            text.push_str(l);
            text.push_str(e);
        }
        if !term {
            while text.ends_with('\n') || text.ends_with('\r') {
                text.pop();
            }
        }
        let sdp = Sdp::parse(&text).unwrap();
        prop_assert_eq!(sdp.to_string(), text);
    }

    #[test]
    fn arbitrary_input_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(sdp) = Sdp::parse_bytes(&bytes) {
            let printed = sdp.to_string();
            prop_assert_eq!(printed.as_bytes(), &bytes[..]);
            let _ = sdp.origin();
            for i in 0..sdp.media().len() {
                let v = sdp.media_view(i).unwrap();
                let _ = (v.candidates(), v.cryptos(), v.fingerprints(), v.setup(), v.connection(), v.direction());
                let _ = v.media.media_line();
                let _ = v.media.rtpmaps().count();
            }
        }
    }

    #[test]
    fn mutated_fixture_never_panics_mapping(pos in 0usize..1028, byte in any::<u8>(), cut in 0usize..1028) {
        let base = include_str!("fixtures/sdp/meta_offer_dtls.sdp").as_bytes().to_vec();
        let mut b = base.clone();
        let p = pos.min(b.len() - 1);
        b[p] = byte;
        b.truncate(cut.max(1));
        if let Ok(text) = std::str::from_utf8(&b) {
            let a = alloc(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)), 4000);
            let _ = sdp::meta_offer_to_pbx(text, &a, &MapConfig::default());
            let _ = sdp::pbx_offer_to_meta(text, &a, &MapConfig::default());
        }
    }

    #[test]
    fn candidate_round_trips(found in "[a-zA-Z0-9+/]{1,32}", comp in 1u16..3, prio in any::<u32>(), ip in ip(), port in any::<u16>(),
                             typ in prop::sample::select(vec![CandidateType::Host, CandidateType::Srflx, CandidateType::Prflx, CandidateType::Relay]),
                             rel in prop::option::of((ip(), any::<u16>())),
                             ext in prop::collection::vec(("[a-z-]{1,12}", "[a-z0-9]{1,8}"), 0..4)) {
        let c = Candidate {
            foundation: found, component: comp, transport: "udp".into(), priority: prio, address: ip.to_string(), port, typ,
            raddr: rel.map(|r| r.0.to_string()), rport: rel.map(|r| r.1),
            extensions: ext.into_iter().filter(|(k, _)| k != "raddr" && k != "rport").collect(),
        };
        let back = Candidate::parse(&c.to_string()).unwrap();
        prop_assert_eq!(back, c);
    }

    #[test]
    fn crypto_round_trips(suite in prop::sample::select(CryptoSuite::ALL.to_vec()), tag in 1u32..1000, seed in prop::collection::vec(any::<u8>(), 46),
                          life in prop::option::of(0u8..=48)) {
        let mut c = Crypto::generate(tag, suite).unwrap();
        c.keys[0].key = SrtpMasterKey::new(suite, seed[..suite.key_salt_len()].to_vec()).unwrap();
        c.keys[0].lifetime = life.map(|l| format!("2^{l}"));
        let back = Crypto::parse(&c.to_sdp_value()).unwrap();
        prop_assert_eq!(back, c);
    }

    #[test]
    fn fingerprint_round_trips(bytes in any::<[u8; 32]>()) {
        let f = Fingerprint { hash: HashFunc::Sha256, bytes: bytes.to_vec() };
        let s = f.to_string();
        prop_assert_eq!(Fingerprint::parse(&s).unwrap(), f.clone());
        prop_assert_eq!(Fingerprint::parse(&s.to_lowercase()).unwrap(), f);
    }

    #[test]
    fn media_line_round_trips(port in any::<u16>(), proto in "[A-Z]{1,4}(/[A-Z]{1,6}){0,3}", fmts in prop::collection::vec(0u8..128, 1..8)) {
        let m = MediaLine { media: "audio".into(), port, port_count: None, proto, formats: fmts.iter().map(u8::to_string).collect() };
        prop_assert_eq!(MediaLine::parse(&m.to_string()).unwrap(), m);
    }

    #[test]
    fn mapping_uses_any_allocation(meta_ip in ip(), pbx_ip in ip(), mport in 1u16.., pport in 1u16..) {
        let mut a = alloc(pbx_ip, pport);
        a.meta_side = SocketAddr::new(meta_ip, mport);
        let cfg = MapConfig::default();
        let offer = include_str!("fixtures/sdp/meta_offer_dtls.sdp");
        let o = sdp::meta_offer_to_pbx(offer, &a, &cfg).unwrap();
        let p = Sdp::parse(&o.sdp).unwrap();
        let c = p.connection().unwrap().unwrap();
        prop_assert_eq!(c.ip(), Some(pbx_ip));
        prop_assert_eq!(p.media()[0].media_line().unwrap().port, pport);
        let ans = sdp::pbx_answer_to_meta(offer, &o.sdp, include_str!("fixtures/sdp/twilio_answer_1.sdp"), &a, &cfg).unwrap();
        let p = Sdp::parse(&ans.sdp).unwrap();
        let v = p.audio().unwrap();
        prop_assert_eq!(v.connection().unwrap().unwrap().ip(), Some(meta_ip));
        let cands: Vec<_> = v.candidates().into_iter().map(Result::unwrap).collect();
        prop_assert_eq!(cands[0].socket_addr(), Some(SocketAddr::new(meta_ip, mport)));
    }
}

fn alloc(pbx_ip: IpAddr, pbx_port: u16) -> MediaAllocation {
    MediaAllocation::new(
        "203.0.113.10:40000".parse().unwrap(),
        SocketAddr::new(pbx_ip, pbx_port),
        "wAcL",
        "0123456789abcdefABCDEF+/",
        "3C:4E:0B:9A:61:F2:7D:E8:25:AA:90:1B:C4:57:D3:8E:6F:02:BD:49:71:C8:3A:E5:16:9F:0D:62:A7:B4:58:E1",
    )
}
