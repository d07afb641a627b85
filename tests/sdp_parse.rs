//! The lossless SDP model against the seed's traces (fixtures in tests/fixtures/sdp; masked secrets there were
//! substituted with realistic values, see its README), baresip-style and IPv6 SDP, edits and garbage.

use std::net::IpAddr;

use wacall::sdp::{
    AddrType, CandidateType, Connection, CryptoSuite, Direction, Error, HashFunc, LineEnding, Sdp,
    Setup, MAX_LINES, MAX_SDP_LEN,
};

fn fixture(name: &str) -> String {
    let p = format!("{}/tests/fixtures/sdp/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

const ALL: &[&str] = &[
    "twilio_offer_to_meta.sdp",
    "meta_answer_sdes.sdp",
    "meta_offer_dtls.sdp",
    "meta_offer_sdes_1.sdp",
    "twilio_answer_1.sdp",
    "meta_offer_sdes_2.sdp",
    "meta_offer_sdes_2_retry.sdp",
    "twilio_answer_2.sdp",
    "baresip_answer_dtls.sdp",
    "ipv6_pbx_offer_sdes.sdp",
];

#[test]
fn every_fixture_round_trips_byte_exact() {
    for name in ALL {
        let text = fixture(name);
        let sdp = Sdp::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(sdp.to_string(), text, "{name}");
        let sdp2 = Sdp::parse_bytes(text.as_bytes()).unwrap();
        assert_eq!(sdp, sdp2);
    }
}

#[test]
fn fixtures_round_trip_with_lf_and_without_final_newline() {
    for name in ALL {
        let crlf = fixture(name);
        let lf = crlf.replace("\r\n", "\n");
        assert_eq!(Sdp::parse(&lf).unwrap().to_string(), lf, "{name} LF");
        assert_eq!(Sdp::parse(&lf).unwrap().line_ending(), LineEnding::Lf);
        let bare = crlf.trim_end_matches(['\r', '\n']);
        assert_eq!(
            Sdp::parse(bare).unwrap().to_string(),
            bare,
            "{name} unterminated"
        );
        let crlf_again = lf.replace('\n', "\r\n");
        assert_eq!(
            Sdp::parse(&crlf_again).unwrap().line_ending(),
            LineEnding::CrLf
        );
    }
}

#[test]
fn mixed_line_endings_are_kept_per_line() {
    let text = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\ns=-\r\nt=0 0\nm=audio 1 RTP/AVP 0\r\na=x";
    assert_eq!(Sdp::parse(text).unwrap().to_string(), text);
}

#[test]
fn meta_dtls_offer_typed() {
    let sdp = Sdp::parse(&fixture("meta_offer_dtls.sdp")).unwrap();
    let o = sdp.origin().unwrap();
    assert_eq!(o.session_id, "1741113186367");
    assert_eq!(o.address, "127.0.0.1");
    assert_eq!(sdp.session_name(), Some("-"));
    let t = sdp.timing().unwrap().unwrap();
    assert_eq!((t.start, t.stop), (0, 0));
    assert!(sdp.ice_lite());
    let b = sdp.bundle().unwrap();
    assert_eq!(b.mids, vec!["audio".to_owned()]);
    assert_eq!(sdp.media().len(), 1);

    let a = sdp.audio().unwrap();
    let ml = a.media.media_line().unwrap();
    assert_eq!(ml.media, "audio");
    assert_eq!(ml.port, 3480);
    assert_eq!(ml.proto, "UDP/TLS/RTP/SAVPF");
    assert_eq!(ml.payload_types().collect::<Vec<_>>(), vec![111, 126]);
    assert!(ml.is_dtls_proto());

    let c = a.connection().unwrap().unwrap();
    assert_eq!(c.addrtype, AddrType::Ip4);
    assert_eq!(c.ip(), Some("57.144.135.35".parse().unwrap()));

    let rtcp = a.media.rtcp().unwrap().unwrap();
    assert_eq!(rtcp.port, 9);
    assert_eq!(rtcp.connection.unwrap().address, "0.0.0.0");

    let cands: Vec<_> = a.candidates().into_iter().map(Result::unwrap).collect();
    assert_eq!(cands.len(), 2);
    assert_eq!(cands[0].foundation, "1775469887");
    assert_eq!(cands[0].component, 1);
    assert_eq!(cands[0].priority, 2122260223);
    assert_eq!(cands[0].ip(), Some("57.144.135.35".parse().unwrap()));
    assert_eq!(cands[0].port, 3480);
    assert_eq!(cands[0].typ, CandidateType::Host);
    assert_eq!(
        cands[0].extensions,
        vec![
            ("generation".into(), "0".into()),
            ("network-cost".into(), "50".into())
        ]
    );
    let v6: IpAddr = "2a03:2880:f343:131:face:b00c:0:699c".parse().unwrap();
    assert_eq!(cands[1].ip(), Some(v6));
    // Candidates print back exactly.
    assert_eq!(
        cands[1].to_string(),
        "3355715111 1 udp 2122262783 2a03:2880:f343:131:face:b00c:0:699c 3480 typ host generation 0 network-cost 50"
    );

    assert_eq!(a.ice_ufrag(), Some("RmDDkfzkwbexPfbC"));
    assert_eq!(a.ice_pwd(), Some("Xk3vP9qLm2Rt7wYz4BnC8dFh"));
    let fp = a.fingerprint().unwrap().unwrap();
    assert_eq!(fp.hash, HashFunc::Sha256);
    assert_eq!(fp.bytes.len(), 32);
    assert_eq!(fp.bytes[0], 0x3c);
    assert_eq!(a.setup().unwrap(), Some(Setup::ActPass));
    assert_eq!(a.media.mid(), Some("audio"));
    assert_eq!(a.direction(), Direction::SendRecv);
    assert!(a.rtcp_mux());

    let opus = a.media.rtpmap(111).unwrap();
    assert!(opus.is_opus());
    assert_eq!(opus.channels, Some(2));
    assert_eq!(
        a.media.fmtp(111),
        Some("maxaveragebitrate=20000;maxplaybackrate=16000;minptime=20;sprop-maxcapturerate=16000;useinbandfec=1")
    );
    assert!(a.media.rtpmap(126).unwrap().is_telephone_event(8000));
    let fb: Vec<_> = a.media.rtcp_fbs(111).collect();
    assert_eq!(fb.len(), 1);
    assert_eq!(fb[0].value, "transport-cc");
    assert_eq!(a.media.ptime(), Some(20));
    assert_eq!(a.media.maxptime(), Some(20));
    let ssrc: Vec<_> = a.media.ssrcs().map(Result::unwrap).collect();
    assert_eq!(ssrc[0].id, 849255537);
    assert_eq!(ssrc[0].attribute, "cname");
    assert_eq!(ssrc[0].value.as_deref(), Some("WhatsAppAudioStream1"));
    assert!(a.cryptos().is_empty());
    // Unknown lines are still there, in order.
    let names: Vec<_> = sdp.attributes().map(|a| a.name).collect();
    assert_eq!(names, vec!["group", "msid-semantic", "ice-lite"]);
}

#[test]
fn meta_sdes_offer_and_twilio_offer_typed() {
    let sdp = Sdp::parse(&fixture("meta_offer_sdes_1.sdp")).unwrap();
    let a = sdp.audio().unwrap();
    assert_eq!(a.media.media_line().unwrap().proto, "RTP/SAVP");
    let cr: Vec<_> = a.cryptos().into_iter().map(Result::unwrap).collect();
    assert_eq!(cr.len(), 1);
    assert_eq!(cr[0].tag, 1);
    assert_eq!(cr[0].suite, CryptoSuite::AesCm128HmacSha1_80);
    assert_eq!(cr[0].key().unwrap().as_bytes().len(), 30);
    assert!(a.candidates().is_empty());
    assert_eq!(a.ice_ufrag(), None);
    assert!(!sdp.ice_lite());
    // Key material never shows in Debug.
    let dbg = format!("{:?}", cr[0]);
    assert!(dbg.contains("redacted"), "{dbg}");
    assert!(!dbg.contains("b2FhbjN0"), "{dbg}");

    let sdp = Sdp::parse(&fixture("twilio_offer_to_meta.sdp")).unwrap();
    let a = sdp.audio().unwrap();
    assert_eq!(
        a.media
            .media_line()
            .unwrap()
            .payload_types()
            .collect::<Vec<_>>(),
        vec![107, 0, 8, 101]
    );
    assert_eq!(a.media.rtpmap(0).unwrap().encoding, "PCMU");
    assert_eq!(a.media.fmtp(101), Some("0-16"));
    assert_eq!(a.connection().unwrap().unwrap().address, "168.86.138.232");
    assert!(!a.rtcp_mux());
    assert_eq!(a.direction(), Direction::SendRecv);
}

#[test]
fn baresip_session_level_ice_and_dtls() {
    let sdp = Sdp::parse(&fixture("baresip_answer_dtls.sdp")).unwrap();
    let a = sdp.audio().unwrap();
    // Not in the media section: found through the session-level fallback.
    assert!(a.media.attribute("ice-ufrag").is_none());
    assert_eq!(a.ice_ufrag(), Some("Xr0P"));
    assert_eq!(a.ice_pwd(), Some("mVZg1uT1vAlyHV0xqrmHOP"));
    assert_eq!(a.setup().unwrap(), Some(Setup::Active));
    assert_eq!(a.fingerprint().unwrap().unwrap().hash, HashFunc::Sha256);
    assert_eq!(a.fingerprints().len(), 1);
    assert_eq!(a.connection().unwrap().unwrap().address, "198.51.100.7");
    let c: Vec<_> = a.candidates().into_iter().map(Result::unwrap).collect();
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].transport, "UDP");
    assert!(c[0].is_udp());
    assert_eq!(c[1].ip(), Some("2001:db8:51::7".parse().unwrap()));
    assert!(a.media.has_attribute("end-of-candidates"));
}

#[test]
fn ipv6_and_crypto_variants() {
    let sdp = Sdp::parse(&fixture("ipv6_pbx_offer_sdes.sdp")).unwrap();
    assert_eq!(sdp.origin().unwrap().addrtype, "IP6");
    let c = sdp.connection().unwrap().unwrap();
    assert_eq!(c.addrtype, AddrType::Ip6);
    assert_eq!(c.ip(), Some("2001:db8::10".parse().unwrap()));
    let a = sdp.audio().unwrap();
    let r = a.media.rtcp().unwrap().unwrap();
    assert_eq!(r.port, 20001);
    assert_eq!(r.connection.unwrap().addrtype, AddrType::Ip6);
    let cr: Vec<_> = a.cryptos().into_iter().map(Result::unwrap).collect();
    assert_eq!(cr[0].suite, CryptoSuite::AesCm128HmacSha1_32);
    assert_eq!(cr[0].keys[0].lifetime.as_deref(), Some("2^31"));
    let mki = cr[0].keys[0].mki.unwrap();
    assert_eq!((mki.value, mki.len), (1, 1));
    assert_eq!(cr[1].keys[0].lifetime.as_deref(), Some("2^20"));
    assert_eq!(cr[2].suite, CryptoSuite::AeadAes256Gcm);
    assert_eq!(cr[2].key().unwrap().as_bytes().len(), 44);
    // Crypto lines print back to the same value.
    for (line, c) in a.media.attribute_values("crypto").zip(&cr) {
        assert_eq!(c.to_sdp_value(), line);
    }
}

#[test]
fn editing_keeps_everything_else() {
    let text = fixture("meta_offer_dtls.sdp");
    let mut sdp = Sdp::parse(&text).unwrap();
    let eol = sdp.line_ending();
    {
        let m = &mut sdp.media_mut()[0];
        m.set_port(40000).unwrap();
        m.set_proto("RTP/SAVP").unwrap();
        m.set_formats(&["111"]).unwrap();
        m.set_connection(&Connection::from_ip("203.0.113.9".parse().unwrap()), eol);
        assert_eq!(m.remove_attribute("candidate"), 2);
        m.set_attribute("ptime", Some("40"), eol);
        m.set_direction(Direction::SendOnly, eol);
        m.add_attribute(
            "crypto",
            Some("1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19mdGd4TGpGeXJIaHp0b0RqNnBIcGJYZzBn"),
            eol,
        );
    }
    sdp.remove_attribute("ice-lite");
    sdp.set_connection(&Connection::from_ip("2001:db8::1".parse().unwrap()));
    let out = sdp.to_string();
    assert!(
        out.contains("m=audio 40000 RTP/SAVP 111\r\nc=IN IP4 203.0.113.9\r\n"),
        "{out}"
    );
    assert!(out.contains("a=ptime:40\r\n"));
    assert!(!out.contains("a=ptime:20"));
    assert!(!out.contains("candidate"));
    assert!(!out.contains("ice-lite"));
    assert!(
        out.contains("s=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\n"),
        "{out}"
    );
    assert!(out.contains("a=sendonly\r\na=msid:"), "{out}");
    assert!(!out.contains("a=sendrecv"));
    assert!(out.ends_with("a=ssrc:849255537 cname:WhatsAppAudioStream1\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19mdGd4TGpGeXJIaHp0b0RqNnBIcGJYZzBn\r\n"));
    // Untouched lines keep their order.
    let kept = "a=msid:632a909f-1060-4369-96a4-7bd03e291ee7 WhatsAppTrack1\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\n";
    assert!(out.contains(kept));
    let re = Sdp::parse(&out).unwrap();
    assert_eq!(re.to_string(), out);
    assert_eq!(re.audio().unwrap().media.cryptos().count(), 1);
    assert_eq!(
        re.audio().unwrap().media.direction(),
        Some(Direction::SendOnly)
    );
}

#[test]
fn editing_an_unterminated_sdp_keeps_it_unterminated_and_well_formed() {
    let mut sdp =
        Sdp::parse("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\nm=audio 1 RTP/AVP 0\na=ptime:20")
            .unwrap();
    let eol = sdp.line_ending();
    sdp.media_mut()[0].add_attribute("rtcp-mux", None, eol);
    assert_eq!(
        sdp.to_string(),
        "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\nm=audio 1 RTP/AVP 0\na=ptime:20\na=rtcp-mux"
    );
    sdp.media_mut()[0].remove_attribute("rtcp-mux");
    assert_eq!(
        sdp.to_string(),
        "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\nm=audio 1 RTP/AVP 0\na=ptime:20"
    );
}

#[test]
fn garbage_is_rejected_with_errors() {
    let cases: &[&str] = &[
        "",
        "hello",
        "o=- 1 1 IN IP4 1.2.3.4\r\n",
        "v=0\r\nthis is not sdp\r\n",
        "v=0\r\n=x\r\n",
        "v=0\r\na=x\0y\r\n",
        "v=0\r\na=x\ry\r\n",
        "\r\nv=0\r\n",
    ];
    for c in cases {
        assert!(Sdp::parse(c).is_err(), "{c:?} accepted");
    }
    assert_eq!(Sdp::parse_bytes(b"v=0\r\ns=\xff\r\n"), Err(Error::NotUtf8));
    let big = format!("v=0\r\n{}", "a=x\r\n".repeat(MAX_SDP_LEN / 5));
    assert!(matches!(Sdp::parse(&big), Err(Error::TooLarge { .. })));
    let many = format!(
        "v=0\r\n{}",
        "a\r\n".repeat(MAX_LINES + 1).replace("a\r\n", "a=\r\n")
    );
    assert!(matches!(Sdp::parse(&many), Err(Error::TooMany { .. })));
    let long = format!("v=0\r\na={}\r\n", "x".repeat(5000));
    assert!(matches!(Sdp::parse(&long), Err(Error::Syntax { .. })));
    let media = format!("v=0\r\n{}", "m=audio 1 RTP/AVP 0\r\n".repeat(100));
    assert!(matches!(Sdp::parse(&media), Err(Error::TooMany { .. })));
}

#[test]
fn typed_fields_reject_garbage() {
    use wacall::sdp::{Candidate, Crypto, Fingerprint, MediaLine, RtpMap};
    assert!(MediaLine::parse("audio x RTP/AVP 0").is_err());
    assert!(MediaLine::parse("audio 70000 RTP/AVP 0").is_err());
    assert!(MediaLine::parse("audio").is_err());
    assert!(RtpMap::parse("200 opus/48000").is_err());
    assert!(RtpMap::parse("111 opus").is_err());
    assert!(Connection::parse("IN IP5 1.2.3.4").is_err());
    assert!(Connection::parse("IN IP4").is_err());
    assert!(Fingerprint::parse("sha-256 AB:CD").is_err());
    assert!(Fingerprint::parse("md7 AB").is_err());
    assert!(Fingerprint::parse(
        "sha-1 ABC:DE:F0:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11"
    )
    .is_err());
    assert!(Candidate::parse("1 1 udp 1 1.2.3.4 5 typ bogus").is_err());
    assert!(Candidate::parse("1 1 udp 1 1.2.3.4 5 host").is_err());
    assert!(Candidate::parse("1 1 udp 1 1.2.3.4 5 typ host raddr").is_err());
    assert!(Candidate::parse("1 1 udp x 1.2.3.4 5 typ host").is_err());
    let c = Candidate::parse(
        "candidate:4 1 udp 1686052607 203.0.113.1 4000 typ srflx raddr 10.0.0.1 rport 5000",
    )
    .unwrap();
    assert_eq!(c.typ, CandidateType::Srflx);
    assert_eq!(c.raddr.as_deref(), Some("10.0.0.1"));
    assert_eq!(c.rport, Some(5000));
    for bad in [
        "1 AES_CM_128_HMAC_SHA1_80 inline:short",
        "1 AES_CM_128_HMAC_SHA1_80",
        "0 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19mdGd4TGpGeXJIaHp0b0RqNnBIcGJYZzBn",
        "1 AES_CM_128_HMAC_SHA1_80 uri:WVNfX19mdGd4TGpGeXJIaHp0b0RqNnBIcGJYZzBn",
        "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19mdGd4TGpGeXJIaHp0b0RqNnBIcGJYZzBn|2^99",
        "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19mdGd4TGpGeXJIaHp0b0RqNnBIcGJYZzBn|300:1",
        "1 F8_128_HMAC_SHA1_80 inline:WVNfX19mdGd4TGpGeXJIaHp0b0RqNnBIcGJYZzBn",
    ] {
        let e = Crypto::parse(bad).unwrap_err();
        assert!(!e.to_string().contains("WVNf"), "key leaked in {e}");
    }
}

#[test]
fn debug_of_a_parsed_sdp_hides_secrets() {
    let sdp = Sdp::parse(&fixture("meta_offer_sdes_1.sdp")).unwrap();
    let d = format!("{sdp:?}");
    assert!(
        d.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 <redacted>"),
        "{d}"
    );
    assert!(!d.contains("b2FhbjN0"));
    let sdp = Sdp::parse(&fixture("meta_offer_dtls.sdp")).unwrap();
    let d = format!("{sdp:?}");
    assert!(!d.contains("Xk3vP9qLm2Rt7wYz4BnC8dFh"), "{d}");
}
