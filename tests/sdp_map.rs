//! Offer/answer mapping, checked line by line against what each side accepts: Meta needs SAVPF, setup:active
//! (answers), our upper-case sha-256 fingerprint, ICE credentials and candidates, rtcp-mux and its mid/BUNDLE;
//! the PBX needs RTP/SAVP with a valid a=crypto (or RTP/AVP) and no ICE/DTLS lines. Fixtures are the seed's
//! traces (masked secrets substituted, see tests/fixtures/sdp/README.md).

use wacall::sdp::{
    self, generate_ice_credentials, CryptoSuite, Direction, DtlsRole, Error, HashFunc, LegSecurity,
    MapConfig, MediaAllocation, MetaMedia, PbxMedia, SdesKeys, Sdp, SrtpMasterKey,
};

const FP: &str = "3c:4e:0b:9A:61:F2:7D:E8:25:AA:90:1B:C4:57:D3:8E:6F:02:BD:49:71:C8:3A:E5:16:9F:0D:62:A7:B4:58:E1";
const FP_UPPER: &str =
    "3C:4E:0B:9A:61:F2:7D:E8:25:AA:90:1B:C4:57:D3:8E:6F:02:BD:49:71:C8:3A:E5:16:9F:0D:62:A7:B4:58:E1";
const PWD: &str = "0123456789abcdefABCDEF+/";

fn fixture(name: &str) -> String {
    let p = format!("{}/tests/fixtures/sdp/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn alloc() -> MediaAllocation {
    let mut a = MediaAllocation::new(
        "203.0.113.10:40000".parse().unwrap(),
        "192.0.2.10:30000".parse().unwrap(),
        "wAcL",
        PWD,
        FP,
    );
    a.meta_advertised = vec![
        "203.0.113.10:40000".parse().unwrap(),
        "[2001:db8::10]:40000".parse().unwrap(),
    ];
    a
}

fn lines(s: &str) -> Vec<&str> {
    assert!(s.ends_with("\r\n"), "SDP must end in CRLF");
    assert!(!s.replace("\r\n", "").contains('\n'), "bare LF in output");
    s.split("\r\n").filter(|l| !l.is_empty()).collect()
}

fn has(s: &str, line: &str) {
    assert!(lines(s).contains(&line), "missing line {line:?} in:\n{s}");
}

fn none_starting(s: &str, prefix: &str) {
    assert!(
        !lines(s).iter().any(|l| l.starts_with(prefix)),
        "unexpected {prefix:?} in:\n{s}"
    );
}

fn count_starting(s: &str, prefix: &str) -> usize {
    lines(s).iter().filter(|l| l.starts_with(prefix)).count()
}

/// The key on the only a=crypto line of `sdp`, with its checks: valid suite, right length.
fn crypto_of(sdp: &str) -> (u32, CryptoSuite, SrtpMasterKey) {
    let p = Sdp::parse(sdp).unwrap();
    let c: Vec<_> = p
        .audio()
        .unwrap()
        .media
        .cryptos()
        .map(Result::unwrap)
        .collect();
    assert_eq!(c.len(), 1, "{sdp}");
    let k = c[0].key().unwrap().clone();
    assert_eq!(k.as_bytes().len(), c[0].suite.key_salt_len());
    (c[0].tag, c[0].suite, k)
}

fn sdes(sec: &LegSecurity) -> &SdesKeys {
    match sec {
        LegSecurity::Sdes(k) => k,
        other => panic!("expected SDES, got {other:?}"),
    }
}

/// What the PBX side must never see: WebRTC-only lines.
fn pbx_clean(s: &str) {
    for p in [
        "a=ice-",
        "a=candidate",
        "a=fingerprint",
        "a=setup",
        "a=group",
        "a=msid",
        "a=ssrc",
        "a=rtcp-fb",
        "a=end-of",
    ] {
        none_starting(s, p);
    }
}

/// What every DTLS SDP we send Meta must have.
fn meta_dtls_ok(s: &str, setup: &str) {
    has(s, "v=0");
    has(s, "s=-");
    has(s, "t=0 0");
    has(s, &format!("a=setup:{setup}"));
    has(s, &format!("a=fingerprint:sha-256 {FP_UPPER}"));
    has(s, "a=ice-ufrag:wAcL");
    has(s, &format!("a=ice-pwd:{PWD}"));
    has(
        s,
        "a=candidate:1 1 udp 2130706431 203.0.113.10 40000 typ host",
    );
    has(
        s,
        "a=candidate:2 1 udp 2130706175 2001:db8::10 40000 typ host",
    );
    has(s, "a=rtcp-mux");
    has(s, "c=IN IP4 203.0.113.10");
    none_starting(s, "a=ice-lite");
    none_starting(s, "a=crypto");
    let p = Sdp::parse(s).unwrap();
    let a = p.audio().unwrap();
    assert_eq!(a.media.media_line().unwrap().proto, "UDP/TLS/RTP/SAVPF");
    // The BUNDLE group names our mid.
    let mid = a.media.mid().unwrap();
    assert!(p.bundle().unwrap().mids.iter().any(|m| m == mid));
    // Our candidates parse as what the relay will bind.
    for c in a.candidates() {
        let c = c.unwrap();
        assert!(c.socket_addr().is_some());
    }
    assert_eq!(a.fingerprint().unwrap().unwrap().hash, HashFunc::Sha256);
}

#[test]
fn meta_dtls_offer_to_pbx_sdes_offer() {
    let offer = fixture("meta_offer_dtls.sdp");
    let m = sdp::meta_offer_to_pbx(&offer, &alloc(), &MapConfig::default()).unwrap();
    let s = &m.sdp;
    let l = lines(s);
    assert_eq!(l[0], "v=0");
    assert!(
        l[1].starts_with("o=wacall ") && l[1].ends_with(" IN IP4 192.0.2.10"),
        "{}",
        l[1]
    );
    assert_eq!(&l[2..], &[
        "s=wacall",
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        "m=audio 30000 RTP/SAVP 111 126",
        "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 maxaveragebitrate=20000;maxplaybackrate=16000;minptime=20;sprop-maxcapturerate=16000;useinbandfec=1",
        "a=rtpmap:126 telephone-event/8000",
        "a=ptime:20",
        "a=maxptime:20",
        "a=sendrecv",
        "a=rtcp-mux",
        l[l.len() - 1],
    ][..]);
    pbx_clean(s);
    none_starting(s, "a=mid");
    let (tag, suite, key) = crypto_of(s);
    assert_eq!((tag, suite), (1, CryptoSuite::AesCm128HmacSha1_80));

    let p = &m.plan;
    assert!(!p.answered);
    let LegSecurity::Dtls(d) = &p.meta.security else {
        panic!()
    };
    assert_eq!(d.role, Some(DtlsRole::Client));
    assert_eq!(d.remote_fingerprint.as_ref().unwrap().hex(), FP_UPPER);
    let ice = p.meta.ice.as_ref().unwrap();
    assert_eq!(ice.remote_ufrag.as_deref(), Some("RmDDkfzkwbexPfbC"));
    assert_eq!(ice.remote_pwd.as_deref(), Some("Xk3vP9qLm2Rt7wYz4BnC8dFh"));
    assert_eq!(ice.remote_candidates.len(), 2);
    assert!(ice.remote_lite && ice.controlling);
    assert_eq!(
        p.meta.remote_rtp,
        Some("57.144.135.35:3480".parse().unwrap())
    );
    assert!(p.meta.rtcp_mux);
    assert_eq!(p.meta.mid.as_deref(), Some("audio"));
    assert_eq!(
        (p.meta.payload.opus, p.meta.payload.telephone_event),
        (111, Some(126))
    );
    let k = sdes(&p.pbx.security);
    assert_eq!(k.local.as_ref(), Some(&key));
    assert!(k.remote.is_none());
    assert_eq!(p.pbx.local, "192.0.2.10:30000".parse().unwrap());
}

#[test]
fn meta_offer_to_pbx_plain_rtp_and_extra_suites() {
    let offer = fixture("meta_offer_dtls.sdp");
    let rtp = MapConfig::new(PbxMedia::Rtp, MetaMedia::Dtls);
    let m = sdp::meta_offer_to_pbx(&offer, &alloc(), &rtp).unwrap();
    has(&m.sdp, "m=audio 30000 RTP/AVP 111 126");
    none_starting(&m.sdp, "a=crypto");
    pbx_clean(&m.sdp);
    assert_eq!(m.plan.pbx.security, LegSecurity::Rtp);

    let suites = vec![
        CryptoSuite::AesCm128HmacSha1_80,
        CryptoSuite::AesCm128HmacSha1_32,
        CryptoSuite::AeadAes128Gcm,
        CryptoSuite::AeadAes256Gcm,
    ];
    let cfg = MapConfig::new(PbxMedia::Sdes(suites.clone()), MetaMedia::Dtls);
    let m = sdp::meta_offer_to_pbx(&offer, &alloc(), &cfg).unwrap();
    let p = Sdp::parse(&m.sdp).unwrap();
    let c: Vec<_> = p
        .audio()
        .unwrap()
        .media
        .cryptos()
        .map(Result::unwrap)
        .collect();
    assert_eq!(c.iter().map(|c| c.suite).collect::<Vec<_>>(), suites);
    assert_eq!(
        c.iter().map(|c| c.tag).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(c[2].key().unwrap().as_bytes().len(), 28);
    assert_eq!(c[3].key().unwrap().as_bytes().len(), 44);
    // Fresh keys every time, and different per suite.
    let m2 = sdp::meta_offer_to_pbx(&offer, &alloc(), &cfg).unwrap();
    assert_ne!(crypto_line(&m.sdp, 1), crypto_line(&m2.sdp, 1));
    assert_ne!(c[0].key(), c[1].key());
}

fn crypto_line(sdp: &str, n: usize) -> String {
    lines(sdp)
        .into_iter()
        .filter(|l| l.starts_with("a=crypto"))
        .nth(n - 1)
        .unwrap()
        .to_owned()
}

#[test]
fn pbx_answer_to_meta_dtls_answer() {
    // Twilio's real 200 OK (SDES, 111/126, tag 1) answers our SDES offer made from Meta's DTLS offer.
    let offer = fixture("meta_offer_dtls.sdp");
    let a = alloc();
    let cfg = MapConfig::default();
    let o = sdp::meta_offer_to_pbx(&offer, &a, &cfg).unwrap();
    let answer = fixture("twilio_answer_1.sdp");
    let m = sdp::pbx_answer_to_meta(&offer, &o.sdp, &answer, &a, &cfg).unwrap();
    let s = &m.sdp;
    meta_dtls_ok(s, "active");
    let l = lines(s);
    assert_eq!(l[2], "s=-");
    assert_eq!(l[3], "t=0 0");
    assert_eq!(l[4], "a=group:BUNDLE audio");
    assert_eq!(l[5], "m=audio 40000 UDP/TLS/RTP/SAVPF 111 126");
    assert_eq!(l[6], "c=IN IP4 203.0.113.10");
    has(s, "a=mid:audio");
    has(s, "a=sendrecv");
    has(s, "a=rtpmap:111 opus/48000/2");
    has(s, "a=fmtp:111 maxplaybackrate=16000;sprop-maxcapturerate=16000;maxaveragebitrate=20000;useinbandfec=1");
    has(s, "a=rtpmap:126 telephone-event/8000");
    has(s, "a=ptime:20");
    assert_eq!(count_starting(s, "m="), 1);
    assert_eq!(count_starting(s, "a=candidate"), 2);

    let p = &m.plan;
    assert!(p.answered);
    // PBX leg: Twilio's address and key; our key is the one we offered.
    assert_eq!(
        p.pbx.remote_rtp,
        Some("168.86.138.176:15822".parse().unwrap())
    );
    assert!(!p.pbx.rtcp_mux);
    assert_eq!(
        p.pbx.remote_rtcp,
        Some("168.86.138.176:15823".parse().unwrap())
    );
    let k = sdes(&p.pbx.security);
    let (_, _, offered) = crypto_of(&o.sdp);
    let (_, _, theirs) = crypto_of(&answer);
    assert_eq!(k.local.as_ref(), Some(&offered));
    assert_eq!(k.remote.as_ref(), Some(&theirs));
    assert_eq!((k.tag, k.suite), (1, CryptoSuite::AesCm128HmacSha1_80));
    assert_eq!(
        (p.pbx.payload.opus, p.pbx.payload.telephone_event),
        (111, Some(126))
    );
    // Meta leg.
    let LegSecurity::Dtls(d) = &p.meta.security else {
        panic!()
    };
    assert_eq!(d.role, Some(DtlsRole::Client));
    assert!(p.meta.ice.as_ref().unwrap().controlling);
    assert_eq!(p.meta.direction, Direction::SendRecv);
    assert_eq!(
        (p.meta.payload.opus, p.meta.payload.telephone_event),
        (111, Some(126))
    );
    // Nothing secret in Debug.
    let dbg = format!("{m:?} {a:?}");
    assert!(
        !dbg.contains(PWD) && !dbg.contains("Xk3vP9qLm2Rt7wYz4BnC8dFh"),
        "{dbg}"
    );
    assert!(!dbg.contains(&theirs.to_base64()) && !dbg.contains(&offered.to_base64()));
}

#[test]
fn user_initiated_sdes_both_legs_seed_flows() {
    for (offer, answer) in [
        ("meta_offer_sdes_1.sdp", "twilio_answer_1.sdp"),
        ("meta_offer_sdes_2.sdp", "twilio_answer_2.sdp"),
        ("meta_offer_sdes_2_retry.sdp", "twilio_answer_2.sdp"),
    ] {
        let offer = fixture(offer);
        let answer = fixture(answer);
        let a = alloc();
        let cfg = MapConfig::default();
        let o = sdp::meta_offer_to_pbx(&offer, &a, &cfg).unwrap();
        has(&o.sdp, "m=audio 30000 RTP/SAVP 111 126");
        pbx_clean(&o.sdp);
        let (_, _, meta_key) = crypto_of(&offer);
        let (_, _, pbx_local) = crypto_of(&o.sdp);
        assert_ne!(meta_key, pbx_local, "each leg gets its own key");
        assert!(o.plan.meta.ice.is_none());

        let m = sdp::pbx_answer_to_meta(&offer, &o.sdp, &answer, &a, &cfg).unwrap();
        let s = &m.sdp;
        has(s, "m=audio 40000 RTP/SAVP 111 126");
        has(s, "c=IN IP4 203.0.113.10");
        has(s, "a=rtcp-mux");
        has(s, "a=mid:audio");
        has(s, "a=group:BUNDLE audio");
        has(s, "a=sendrecv");
        for p in ["a=ice-", "a=candidate", "a=fingerprint", "a=setup"] {
            none_starting(s, p);
        }
        let (tag, suite, meta_local) = crypto_of(s);
        assert_eq!((tag, suite), (1, CryptoSuite::AesCm128HmacSha1_80));
        assert_ne!(meta_local, meta_key);
        assert_ne!(meta_local, pbx_local);
        let k = sdes(&m.plan.meta.security);
        assert_eq!(k.remote.as_ref(), Some(&meta_key));
        assert_eq!(k.local.as_ref(), Some(&meta_local));
        assert_eq!(m.plan.meta.remote_rtp.unwrap().port(), 3480);
        assert!(m.plan.meta.rtcp_mux);
        let kp = sdes(&m.plan.pbx.security);
        assert_eq!(kp.local.as_ref(), Some(&pbx_local));
        assert_eq!(kp.remote.as_ref(), Some(&crypto_of(&answer).2));
    }
}

/// A DTLS answer shaped like Meta's: ice-lite, setup passive, one host candidate.
fn meta_like_dtls_answer(setup: &str, pts: &str) -> String {
    format!(
        "v=0\r\no=- 1750716867913 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE audio\r\na=ice-lite\r\n\
         m=audio 3480 UDP/TLS/RTP/SAVPF {pts}\r\nc=IN IP4 57.144.135.35\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
         a=candidate:1775469887 1 udp 2122260223 57.144.135.35 3480 typ host generation 0 network-cost 50\r\n\
         a=ice-ufrag:RmDDkfzkwbexPfbC\r\na=ice-pwd:Xk3vP9qLm2Rt7wYz4BnC8dFh\r\n\
         a=fingerprint:sha-256 0A:91:B2:5C:7E:3F:D4:88:12:6B:E9:40:AF:C3:57:1D:9E:64:2B:F0:83:CA:75:19:5E:D2:AB:36:08:F7:4C:E1\r\n\
         a=setup:{setup}\r\na=mid:audio\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:107 opus/48000/2\r\n\
         a=fmtp:107 maxaveragebitrate=20000;maxplaybackrate=16000;minptime=20;sprop-maxcapturerate=16000;useinbandfec=1\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n"
    )
}

#[test]
fn business_initiated_dtls() {
    let pbx_offer = fixture("twilio_offer_to_meta.sdp");
    let a = alloc();
    let cfg = MapConfig::default();
    let o = sdp::pbx_offer_to_meta(&pbx_offer, &a, &cfg).unwrap();
    let s = &o.sdp;
    meta_dtls_ok(s, "actpass");
    has(s, "a=group:BUNDLE audio");
    has(s, "a=mid:audio");
    has(s, "m=audio 40000 UDP/TLS/RTP/SAVPF 107 101");
    has(s, "a=rtpmap:107 opus/48000/2");
    has(s, "a=fmtp:107 useinbandfec=1");
    has(s, "a=rtpmap:101 telephone-event/8000");
    has(s, "a=fmtp:101 0-16");
    has(s, "a=sendrecv");
    // Meta is opus-only: G.711 is not offered.
    none_starting(s, "a=rtpmap:0 ");
    none_starting(s, "a=rtpmap:8 ");
    assert!(!o.plan.answered);
    let kp = sdes(&o.plan.pbx.security);
    assert_eq!(kp.remote.as_ref(), Some(&crypto_of(&pbx_offer).2));
    assert!(kp.local.is_none());
    assert_eq!(
        o.plan.pbx.remote_rtp,
        Some("168.86.138.232:19534".parse().unwrap())
    );
    let LegSecurity::Dtls(d) = &o.plan.meta.security else {
        panic!()
    };
    assert_eq!(d.role, None);

    for (setup, role) in [("passive", DtlsRole::Client), ("active", DtlsRole::Server)] {
        let meta_answer = meta_like_dtls_answer(setup, "107 101");
        let m = sdp::meta_answer_to_pbx(&pbx_offer, &o.sdp, &meta_answer, &a, &cfg).unwrap();
        let s = &m.sdp;
        let l = lines(s);
        assert!(l[1].ends_with("IN IP4 192.0.2.10"));
        has(s, "c=IN IP4 192.0.2.10");
        has(s, "m=audio 30000 RTP/SAVP 107 101");
        has(s, "a=rtpmap:107 opus/48000/2");
        has(s, "a=rtpmap:101 telephone-event/8000");
        has(s, "a=sendrecv");
        pbx_clean(s);
        // Twilio did not offer rtcp-mux, so the answer must not claim it.
        none_starting(s, "a=rtcp-mux");
        let (tag, suite, key) = crypto_of(s);
        assert_eq!((tag, suite), (1, CryptoSuite::AesCm128HmacSha1_80));
        let p = &m.plan;
        assert!(p.answered);
        let LegSecurity::Dtls(d) = &p.meta.security else {
            panic!()
        };
        assert_eq!(d.role, Some(role));
        assert_eq!(d.remote_fingerprint.as_ref().unwrap().bytes[0], 0x0a);
        let ice = p.meta.ice.as_ref().unwrap();
        assert!(ice.controlling && ice.remote_lite);
        assert_eq!(ice.local_ufrag, "wAcL");
        assert_eq!(ice.remote_ufrag.as_deref(), Some("RmDDkfzkwbexPfbC"));
        assert_eq!(ice.remote_candidates.len(), 1);
        let kp = sdes(&p.pbx.security);
        assert_eq!(kp.local.as_ref(), Some(&key));
        assert_eq!(kp.remote.as_ref(), Some(&crypto_of(&pbx_offer).2));
        assert!(!p.pbx.rtcp_mux);
        assert_eq!(
            (p.pbx.payload.opus, p.pbx.payload.telephone_event),
            (107, Some(101))
        );
        assert_eq!(
            (p.meta.payload.opus, p.meta.payload.telephone_event),
            (107, Some(101))
        );
    }
}

#[test]
fn business_initiated_sdes_seed_flow() {
    // The seed's flow exactly: Twilio's SDES INVITE, Meta's SDES 200 OK.
    let pbx_offer = fixture("twilio_offer_to_meta.sdp");
    let a = alloc();
    let cfg = MapConfig::new(
        PbxMedia::Sdes(vec![CryptoSuite::AesCm128HmacSha1_80]),
        MetaMedia::Sdes,
    );
    let o = sdp::pbx_offer_to_meta(&pbx_offer, &a, &cfg).unwrap();
    let s = &o.sdp;
    has(s, "m=audio 40000 RTP/SAVP 107 101");
    has(s, "c=IN IP4 203.0.113.10");
    has(s, "a=rtcp-mux");
    for p in ["a=ice-", "a=candidate", "a=fingerprint", "a=setup"] {
        none_starting(s, p);
    }
    let (tag, suite, our_meta_key) = crypto_of(s);
    assert_eq!((tag, suite), (1, CryptoSuite::AesCm128HmacSha1_80));
    assert_ne!(our_meta_key, crypto_of(&pbx_offer).2);

    let meta_answer = fixture("meta_answer_sdes.sdp");
    let m = sdp::meta_answer_to_pbx(&pbx_offer, &o.sdp, &meta_answer, &a, &cfg).unwrap();
    has(&m.sdp, "m=audio 30000 RTP/SAVP 107 101");
    pbx_clean(&m.sdp);
    let (_, _, pbx_local) = crypto_of(&m.sdp);
    let km = sdes(&m.plan.meta.security);
    assert_eq!(km.local.as_ref(), Some(&our_meta_key));
    assert_eq!(km.remote.as_ref(), Some(&crypto_of(&meta_answer).2));
    assert_eq!(
        m.plan.meta.remote_rtp,
        Some("157.240.19.130:3480".parse().unwrap())
    );
    assert!(m.plan.meta.rtcp_mux);
    assert_eq!(m.plan.meta.mid.as_deref(), Some("audio"));
    let kp = sdes(&m.plan.pbx.security);
    assert_eq!(kp.local.as_ref(), Some(&pbx_local));
    assert_ne!(pbx_local, our_meta_key);
}

#[test]
fn pbx_plain_rtp_offer_ipv6_and_session_level_answer() {
    // A plain RTP PBX on IPv6 calls out; the "Meta" answer is baresip-shaped (session-level ICE/DTLS).
    let pbx_offer = "v=0\r\no=- 1 1 IN IP6 2001:db8::20\r\ns=-\r\nc=IN IP6 2001:db8::20\r\nt=0 0\r\n\
                     m=audio 5004 RTP/AVP 0 111 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:111 opus/48000/2\r\n\
                     a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n";
    let mut a = alloc();
    a.pbx_side = "[::]:30000".parse().unwrap();
    a.pbx_advertised = Some("[2001:db8::1]:30000".parse().unwrap());
    let cfg = MapConfig::default();
    let o = sdp::pbx_offer_to_meta(pbx_offer, &a, &cfg).unwrap();
    has(&o.sdp, "m=audio 40000 UDP/TLS/RTP/SAVPF 111 101");
    has(&o.sdp, "a=fmtp:111 minptime=10;useinbandfec=1");
    assert_eq!(o.plan.pbx.security, LegSecurity::Rtp);
    assert_eq!(
        o.plan.pbx.remote_rtp,
        Some("[2001:db8::20]:5004".parse().unwrap())
    );
    assert_eq!(
        o.plan.pbx.remote_rtcp,
        Some("[2001:db8::20]:5005".parse().unwrap())
    );

    let answer = fixture("baresip_answer_dtls.sdp");
    let m = sdp::meta_answer_to_pbx(pbx_offer, &o.sdp, &answer, &a, &cfg).unwrap();
    let s = &m.sdp;
    has(s, "c=IN IP6 2001:db8::1");
    has(s, "m=audio 30000 RTP/AVP 111 101");
    has(s, "a=fmtp:101 0-15");
    // Meta-side opus parameters flow to the PBX.
    has(s, "a=fmtp:111 stereo=1;sprop-stereo=1");
    none_starting(s, "a=crypto");
    pbx_clean(s);
    let p = &m.plan;
    let LegSecurity::Dtls(d) = &p.meta.security else {
        panic!()
    };
    assert_eq!(d.role, Some(DtlsRole::Server), "baresip said setup:active");
    let ice = p.meta.ice.as_ref().unwrap();
    assert_eq!(ice.remote_ufrag.as_deref(), Some("Xr0P"));
    assert_eq!(ice.remote_candidates.len(), 2);
    assert!(!ice.remote_lite);
    assert!(ice.controlling, "we offered: we control");
    assert_eq!(
        p.meta.remote_rtp,
        Some("198.51.100.7:10000".parse().unwrap())
    );
    assert_eq!(p.pbx.security, LegSecurity::Rtp);
}

#[test]
fn ipv6_sdes_pbx_offer_picks_configured_suite() {
    let pbx_offer = fixture("ipv6_pbx_offer_sdes.sdp");
    let a = alloc();
    let cfg = MapConfig::default(); // SDES AES_CM_128_HMAC_SHA1_80 only
    let o = sdp::pbx_offer_to_meta(&pbx_offer, &a, &cfg).unwrap();
    let kp = sdes(&o.plan.pbx.security);
    assert_eq!((kp.tag, kp.suite), (2, CryptoSuite::AesCm128HmacSha1_80));
    assert_eq!(
        o.plan.pbx.remote_rtcp,
        Some("[2001:db8::10]:20001".parse().unwrap())
    );
    let m = sdp::meta_answer_to_pbx(
        &pbx_offer,
        &o.sdp,
        &meta_like_dtls_answer("passive", "107 101"),
        &a,
        &cfg,
    )
    .unwrap();
    let (tag, suite, _) = crypto_of(&m.sdp);
    assert_eq!((tag, suite), (2, CryptoSuite::AesCm128HmacSha1_80));
    // Meta's answer uses 107 for opus, the PBX 111: the plan says so and the relay rewrites.
    assert_eq!(m.plan.meta.payload.opus, 107);
    assert_eq!(m.plan.pbx.payload.opus, 111);
    has(&m.sdp, "m=audio 30000 RTP/SAVP 111 101");

    // Allowing only the 32-bit tag picks tag 1 (with its MKI reported to the relay).
    let cfg32 = MapConfig::new(
        PbxMedia::Sdes(vec![CryptoSuite::AesCm128HmacSha1_32]),
        MetaMedia::Dtls,
    );
    let o = sdp::pbx_offer_to_meta(&pbx_offer, &a, &cfg32).unwrap();
    let kp = sdes(&o.plan.pbx.security);
    assert_eq!((kp.tag, kp.suite), (1, CryptoSuite::AesCm128HmacSha1_32));
    assert_eq!(kp.remote_mki.map(|m| (m.value, m.len)), Some((1, 1)));
}

#[test]
fn extra_sections_are_rejected_in_answers_and_bundle_trimmed() {
    let offer = fixture("meta_offer_dtls.sdp")
        .replace("a=group:BUNDLE audio", "a=group:BUNDLE audio video")
        + "m=video 3480 UDP/TLS/RTP/SAVPF 96\r\na=mid:video\r\na=rtpmap:96 VP8/90000\r\n";
    let a = alloc();
    let cfg = MapConfig::default();
    let o = sdp::meta_offer_to_pbx(&offer, &a, &cfg).unwrap();
    assert_eq!(count_starting(&o.sdp, "m="), 1);
    let m =
        sdp::pbx_answer_to_meta(&offer, &o.sdp, &fixture("twilio_answer_1.sdp"), &a, &cfg).unwrap();
    has(&m.sdp, "a=group:BUNDLE audio");
    has(&m.sdp, "m=video 0 UDP/TLS/RTP/SAVPF 96");
    has(&m.sdp, "a=mid:video");
    let l = lines(&m.sdp);
    let ia = l.iter().position(|x| x.starts_with("m=audio")).unwrap();
    let iv = l.iter().position(|x| x.starts_with("m=video")).unwrap();
    assert!(ia < iv, "answer keeps the offer's section order");
}

#[test]
fn directions_are_answered_correctly() {
    let offer = fixture("meta_offer_dtls.sdp").replace("a=sendrecv", "a=sendonly");
    let a = alloc();
    let cfg = MapConfig::default();
    let o = sdp::meta_offer_to_pbx(&offer, &a, &cfg).unwrap();
    has(&o.sdp, "a=sendonly");
    for (pbx_dir, want) in [
        ("recvonly", "recvonly"),
        ("sendrecv", "recvonly"),
        ("inactive", "inactive"),
        ("sendonly", "inactive"),
    ] {
        let answer = fixture("twilio_answer_1.sdp").replace("a=sendrecv", &format!("a={pbx_dir}"));
        let m = sdp::pbx_answer_to_meta(&offer, &o.sdp, &answer, &a, &cfg).unwrap();
        has(&m.sdp, &format!("a={want}"));
        assert_eq!(
            count_starting(&m.sdp, "a=sendrecv")
                + count_starting(&m.sdp, "a=recvonly")
                + count_starting(&m.sdp, "a=sendonly")
                + count_starting(&m.sdp, "a=inactive"),
            1
        );
    }
    assert_eq!(Direction::SendOnly.answer_limit(), Direction::RecvOnly);
}

#[test]
fn telephone_event_dropped_when_one_side_lacks_it() {
    let offer = fixture("meta_offer_dtls.sdp");
    let a = alloc();
    let cfg = MapConfig::default();
    let o = sdp::meta_offer_to_pbx(&offer, &a, &cfg).unwrap();
    let answer = fixture("twilio_answer_1.sdp")
        .replace(
            "m=audio 15822 RTP/SAVP 111 126",
            "m=audio 15822 RTP/SAVP 111",
        )
        .replace("a=rtpmap:126 telephone-event/8000\r\n", "")
        .replace("a=fmtp:126 0-16\r\n", "");
    let m = sdp::pbx_answer_to_meta(&offer, &o.sdp, &answer, &a, &cfg).unwrap();
    has(&m.sdp, "m=audio 40000 UDP/TLS/RTP/SAVPF 111");
    none_starting(&m.sdp, "a=rtpmap:126");
    assert_eq!(m.plan.meta.payload.telephone_event, None);
    assert_eq!(m.plan.pbx.payload.telephone_event, None);
}

#[test]
fn pbx_answer_with_other_opus_pt_is_reported() {
    let offer = fixture("meta_offer_dtls.sdp");
    let a = alloc();
    let cfg = MapConfig::default();
    let o = sdp::meta_offer_to_pbx(&offer, &a, &cfg).unwrap();
    let answer = fixture("twilio_answer_1.sdp")
        .replace(" 111", " 96")
        .replace(":111", ":96");
    let m = sdp::pbx_answer_to_meta(&offer, &o.sdp, &answer, &a, &cfg).unwrap();
    has(&m.sdp, "a=rtpmap:111 opus/48000/2");
    assert_eq!(m.plan.pbx.payload.opus, 96);
    assert_eq!(m.plan.meta.payload.opus, 111);
}

#[test]
fn mapping_errors() {
    let a = alloc();
    let cfg = MapConfig::default();
    // No opus from the PBX: Meta would refuse anything else.
    let g711 = fixture("twilio_offer_to_meta.sdp").replace("107 0 8 101", "0 8 101");
    assert!(matches!(
        sdp::pbx_offer_to_meta(&g711, &a, &cfg),
        Err(Error::Missing(_))
    ));
    // No audio, garbage, DTLS from the PBX, RTP from Meta.
    assert!(sdp::meta_offer_to_pbx("v=0\r\ns=-\r\n", &a, &cfg).is_err());
    assert!(sdp::meta_offer_to_pbx("garbage", &a, &cfg).is_err());
    let dtls = fixture("meta_offer_dtls.sdp");
    assert!(matches!(
        sdp::pbx_offer_to_meta(&dtls, &a, &cfg),
        Err(Error::Unsupported(_))
    ));
    let rtp = fixture("meta_offer_sdes_1.sdp").replace("RTP/SAVP", "RTP/AVP");
    assert!(matches!(
        sdp::meta_offer_to_pbx(&rtp, &a, &cfg),
        Err(Error::Unsupported(_))
    ));
    // DTLS offer without fingerprint or ICE credentials.
    let nofp: String = dtls
        .split_inclusive("\r\n")
        .filter(|l| !l.starts_with("a=fingerprint"))
        .collect();
    assert!(matches!(
        sdp::meta_offer_to_pbx(&nofp, &a, &cfg),
        Err(Error::Missing(_))
    ));
    let nopwd: String = dtls
        .split_inclusive("\r\n")
        .filter(|l| !l.starts_with("a=ice-pwd"))
        .collect();
    assert!(matches!(
        sdp::meta_offer_to_pbx(&nopwd, &a, &cfg),
        Err(Error::Missing(_))
    ));

    let o = sdp::meta_offer_to_pbx(&dtls, &a, &cfg).unwrap();
    // PBX answers plain RTP to our SRTP offer, or with a tag we never offered.
    let avp = fixture("twilio_answer_1.sdp").replace("RTP/SAVP", "RTP/AVP");
    assert!(matches!(
        sdp::pbx_answer_to_meta(&dtls, &o.sdp, &avp, &a, &cfg),
        Err(Error::Unsupported(_))
    ));
    let tag9 = fixture("twilio_answer_1.sdp").replace("a=crypto:1 ", "a=crypto:9 ");
    assert!(matches!(
        sdp::pbx_answer_to_meta(&dtls, &o.sdp, &tag9, &a, &cfg),
        Err(Error::Missing(_))
    ));
    // PBX rejected the stream.
    let rejected = fixture("twilio_answer_1.sdp").replace("m=audio 15822", "m=audio 0");
    assert!(sdp::pbx_answer_to_meta(&dtls, &o.sdp, &rejected, &a, &cfg).is_err());

    // Bad allocations.
    let mut bad = alloc();
    bad.dtls_fingerprint_sha256 = "AB:CD".into();
    assert!(matches!(
        sdp::pbx_offer_to_meta(&fixture("twilio_offer_to_meta.sdp"), &bad, &cfg),
        Err(Error::Config(_))
    ));
    let mut bad = alloc();
    bad.ice_pwd = "short".into();
    assert!(matches!(
        sdp::pbx_offer_to_meta(&fixture("twilio_offer_to_meta.sdp"), &bad, &cfg),
        Err(Error::Config(_))
    ));
    let mut bad = alloc();
    bad.pbx_side = "0.0.0.0:3000".parse().unwrap();
    assert!(matches!(
        sdp::meta_offer_to_pbx(&dtls, &bad, &cfg),
        Err(Error::Config(_))
    ));
    let empty = MapConfig::new(PbxMedia::Sdes(vec![]), MetaMedia::Dtls);
    assert!(matches!(
        sdp::meta_offer_to_pbx(&dtls, &a, &empty),
        Err(Error::Config(_))
    ));
}

#[test]
fn ice_credentials_are_valid_and_fresh() {
    let (u, p) = generate_ice_credentials().unwrap();
    let (u2, p2) = generate_ice_credentials().unwrap();
    assert_eq!((u.len(), p.len()), (8, 24));
    assert_ne!((&u, &p), (&u2, &p2));
    for s in [&u, &p] {
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'));
    }
    let mut a = alloc();
    a.ice_ufrag = u;
    a.ice_pwd = p;
    assert!(sdp::pbx_offer_to_meta(
        &fixture("twilio_offer_to_meta.sdp"),
        &a,
        &MapConfig::default()
    )
    .is_ok());
}

#[test]
fn every_mapped_output_reparses_and_round_trips() {
    let a = alloc();
    let cfg = MapConfig::default();
    let offer = fixture("meta_offer_dtls.sdp");
    let o = sdp::meta_offer_to_pbx(&offer, &a, &cfg).unwrap();
    let m =
        sdp::pbx_answer_to_meta(&offer, &o.sdp, &fixture("twilio_answer_1.sdp"), &a, &cfg).unwrap();
    let b = sdp::pbx_offer_to_meta(&fixture("twilio_offer_to_meta.sdp"), &a, &cfg).unwrap();
    for s in [&o.sdp, &m.sdp, &b.sdp] {
        let p = Sdp::parse(s).unwrap();
        assert_eq!(&p.to_string(), s);
        p.origin().unwrap();
    }
}
