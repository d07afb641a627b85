//! `wacall diagnose` on the seed's traces (no false alarms), broken variants (each rule fires where it should), and
//! pcap captures built at test time (UDP over IPv4, TCP over IPv6 split across segments with a retransmission,
//! pcapng, TLS-only).

mod common;

use common::{fixture, scratch, wacall};
use serde_json::Value;

/// (rule, severity, message index) of every finding.
fn findings(o: &common::Out) -> Vec<(String, String, u64)> {
    o.json()["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["rule"].as_str().unwrap_or("").to_string(),
                        f["severity"].as_str().unwrap_or("").to_string(),
                        f["message"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn diagnose(file: &str, extra: &[&str]) -> common::Out {
    let path = fixture(file);
    let p = path.to_string_lossy().to_string();
    let mut args = vec!["--json", "diagnose", p.as_str()];
    args.extend_from_slice(extra);
    wacall(&args)
}

fn has(f: &[(String, String, u64)], rule: &str, sev: &str, msg: u64) -> bool {
    f.iter().any(|(r, s, m)| r == rule && s == sev && *m == msg)
}

#[test]
fn seed_answered_calls_are_clean() {
    for file in [
        "seed-inbound-answered.txt",
        "seed-outbound-answered.txt",
        "seed-inbound-dtls-offer.txt",
    ] {
        let o = diagnose(file, &["--hostname", "meta-voip.example.com"]);
        assert_eq!(o.code, 0, "{file}: {}", o.stdout);
        let j = o.json();
        assert_eq!(j["errors"], 0, "{file}: {}", o.stdout);
        assert_eq!(j["warnings"], 0, "{file}: {}", o.stdout);
    }
    // Messages and who sent them.
    let o = diagnose("seed-inbound-answered.txt", &[]);
    let j = o.json();
    assert_eq!(j["messages"][0]["sender"], "meta");
    assert_eq!(j["messages"][1]["sender"], "business");
    assert_eq!(j["messages"][1]["summary"], "200 OK (INVITE)");
}

#[test]
fn seed_spec_file_finds_the_403_and_session_timers() {
    // The whole seed, prose and all: SIP messages are picked out of it.
    let o = diagnose(
        "seed-meta-spec.txt",
        &["--hostname", "meta-voip.example.com"],
    );
    assert_eq!(o.code, 1);
    let j = o.json();
    assert_eq!(j["messages"].as_array().map(|a| a.len()), Some(15));
    let f = findings(&o);
    assert!(has(&f, "403-server-mismatch", "error", 4), "{f:?}");
    assert!(has(&f, "session-timer", "warning", 1), "{f:?}");
    // Twilio challenging Meta's INVITE, answered by Meta: a note, not an error.
    assert!(has(&f, "business-challenge", "info", 13), "{f:?}");
    // The seed's digest in message 3 has every field right (the response is a placeholder).
    assert!(!f.iter().any(|(r, _, _)| r == "digest"), "{f:?}");
}

#[test]
fn from_domain_must_be_configured_hostname() {
    let o = diagnose(
        "seed-outbound-answered.txt",
        &["--hostname", "sip.other.example"],
    );
    assert_eq!(o.code, 1);
    assert!(has(&findings(&o), "from-domain", "error", 1));
    // A subdomain of the configured hostname is fine.
    let o = diagnose("seed-outbound-answered.txt", &["--hostname", "example.com"]);
    assert_eq!(o.code, 0, "{}", o.stdout);

    let o = diagnose(
        "broken-from-domain-403.txt",
        &["--hostname", "sip.example.com"],
    );
    let f = findings(&o);
    assert!(
        has(&f, "from-domain", "error", 1) && has(&f, "403-server-mismatch", "error", 2),
        "{f:?}"
    );
}

#[test]
fn ip_in_request_uri() {
    let f = findings(&diagnose("broken-ruri-ip-404.txt", &[]));
    assert!(
        has(&f, "ruri-ip", "error", 1) && has(&f, "404", "error", 2),
        "{f:?}"
    );
}

#[test]
fn auth_loop_and_digest_fields() {
    let o = diagnose("broken-auth-loop.txt", &[]);
    assert_eq!(o.code, 1);
    let j = o.json();
    let text = j["findings"].to_string();
    for needle in [
        "starts with '+'",
        "is not the Request-URI",
        "qop missing",
        "realm \\\"meta.vc\\\" is not wa.meta.vc",
        "SHA-512-256 was not offered (challenged: SHA-256, MD5)",
        "valid nc",
        "407 loop",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in {text}");
    }
    let f = findings(&o);
    assert!(
        has(&f, "auth-rejected", "error", 5) && has(&f, "auth-rejected", "error", 7),
        "{f:?}"
    );

    let f = findings(&diagnose("broken-challenge-unanswered.txt", &[]));
    assert!(has(&f, "challenge-unanswered", "error", 2), "{f:?}");
}

#[test]
fn digest_response_checked_against_password() {
    // Build a trace whose digest response is right for "pw-right", using the core's client.
    use wacall::digest::{parse_challenge_headers, respond, Credentials, DigestRequest};
    let ruri = "sip:+12195550714@wa.meta.vc;transport=tls";
    let challenge = r#"Digest realm="wa.meta.vc",nonce="419ac2415577f8e1",opaque="440badfc05072367",algorithm=MD5,qop="auth""#;
    let cs = parse_challenge_headers(&[challenge]).expect("challenge");
    let creds = Credentials::new("12145551869", "pw-right");
    let auth = respond(&cs[0], &creds, &DigestRequest::new("INVITE", ruri)).expect("respond");
    let trace = format!(
        "INVITE {ruri} SIP/2.0\nFrom: <sip:+12145551869@sip.example.com>;tag=a\nTo: <sip:+12195550714@wa.meta.vc>\n\
         Call-ID: pw-1\nCSeq: 1 INVITE\nContent-Length: 0\n\n\
         SIP/2.0 407 Proxy Authentication Required\nFrom: <sip:+12145551869@sip.example.com>;tag=a\n\
         To: <sip:+12195550714@wa.meta.vc>;tag=m\nCall-ID: pw-1\nCSeq: 1 INVITE\nProxy-Authenticate: {challenge}\n\
         Content-Length: 0\n\n\
         INVITE {ruri} SIP/2.0\nFrom: <sip:+12145551869@sip.example.com>;tag=a\nTo: <sip:+12195550714@wa.meta.vc>\n\
         Call-ID: pw-1\nCSeq: 2 INVITE\nProxy-Authorization: {auth}\nContent-Length: 0\n\n"
    );
    let dir = scratch("pw");
    let path = dir.join("trace.txt");
    std::fs::write(&path, trace).expect("write");
    let p = path.to_string_lossy().to_string();

    let o = wacall(&["--json", "diagnose", &p, "--sip-password", "pw-right"]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(has(&findings(&o), "digest-verified", "info", 3));
    assert!(!o.stdout.contains("pw-right"));

    let o = wacall(&["--json", "diagnose", &p, "--sip-password", "pw-wrong"]);
    assert_eq!(o.code, 1);
    assert!(o.stdout.contains("does not verify"), "{}", o.stdout);
    assert!(!o.stdout.contains("pw-wrong"));

    let pwf = dir.join("pw");
    std::fs::write(&pwf, "pw-right\n").expect("write");
    let o = wacall(&[
        "--json",
        "diagnose",
        &p,
        "--sip-password-file",
        &pwf.to_string_lossy(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stdout);
}

#[test]
fn reinvite_refused() {
    let f = findings(&diagnose("broken-reinvite-500.txt", &[]));
    assert!(
        has(&f, "reinvite", "warning", 4) && has(&f, "reinvite-refused", "error", 5),
        "{f:?}"
    );
    // The dialog itself (ACK to Meta's Contact along Meta's route) is right.
    assert!(
        !f.iter()
            .any(|(r, _, _)| r == "route-set" || r == "remote-target"),
        "{f:?}"
    );
}

#[test]
fn record_route_changed_and_32s_drop() {
    let f = findings(&diagnose("broken-record-route-32s.txt", &[]));
    assert!(has(&f, "record-route", "error", 2), "{f:?}");
    assert!(has(&f, "contact-private", "warning", 2), "{f:?}");
    assert!(has(&f, "ack-missing", "warning", 2), "{f:?}");
    assert!(has(&f, "ack-timeout-32s", "error", 3), "{f:?}");
}

#[test]
fn maiden_packet_timeout_from_timestamps_across_midnight() {
    let o = diagnose("broken-maiden-20s.txt", &["--list"]);
    let f = findings(&o);
    assert!(has(&f, "media-timeout-20s", "error", 4), "{f:?}");
    assert!(o.stdout.contains("20 s after answer"), "{}", o.stdout);
}

#[test]
fn dtls_roles_in_our_sdp() {
    let o = diagnose("broken-dtls-answer.txt", &[]);
    let f = findings(&o);
    for rule in ["ice-lite", "dtls-fingerprint", "dtls-role"] {
        assert!(has(&f, rule, "error", 2), "{rule}: {f:?}");
    }
    assert!(has(&f, "session-timer", "warning", 2), "{f:?}");
    assert!(
        o.stdout.contains("a=setup:passive in our answer"),
        "{}",
        o.stdout
    );

    let f = findings(&diagnose("broken-outbound-route.txt", &[]));
    assert!(has(&f, "dtls-role", "error", 1), "{f:?}");
}

#[test]
fn early_media_and_plain_rtp_answer() {
    let f = findings(&diagnose("broken-early-media.txt", &[]));
    assert!(has(&f, "early-media", "warning", 2), "{f:?}");
    assert!(
        has(&f, "plain-rtp", "error", 3)
            && has(&f, "codec", "error", 3)
            && has(&f, "sdp-profile", "error", 3),
        "{f:?}"
    );
}

#[test]
fn outbound_route_target_and_register() {
    let f = findings(&diagnose("broken-outbound-route.txt", &[]));
    assert!(
        has(&f, "remote-target", "error", 3) && has(&f, "route-set", "error", 3),
        "{f:?}"
    );
    assert!(has(&f, "register", "error", 4), "{f:?}");
}

#[test]
fn text_output_and_bad_input() {
    let p = fixture("broken-auth-loop.txt");
    let o = wacall(&["diagnose", &p.to_string_lossy()]);
    assert_eq!(o.code, 1);
    assert!(
        o.stdout.contains("ERROR [digest] message #4") && o.stdout.contains("fix: "),
        "{}",
        o.stdout
    );

    let o = wacall(&["diagnose", "/nonexistent/trace.txt"]);
    assert_eq!(o.code, 3);
    assert!(o.stderr.contains("cannot read"), "{}", o.stderr);

    let dir = scratch("empty");
    let e = dir.join("empty.txt");
    std::fs::write(&e, "nothing to see here\n").expect("write");
    let o = wacall(&["--json", "diagnose", &e.to_string_lossy()]);
    assert_eq!(o.code, 3);
    assert!(o.json()["error"]
        .as_str()
        .unwrap_or("")
        .contains("no SIP message"));
}

// ---- pcap captures built here ----

const INVITE: &str = "INVITE sip:+12145551869@sip.example.com;transport=tls SIP/2.0\r\n\
Via: SIP/2.0/UDP 157.240.19.130:5060;branch=z9hG4bK-p1\r\n\
Record-Route: <sip:wa.meta.vc;transport=tls;lr>\r\n\
From: \"12195550714\" <sip:+12195550714@wa.meta.vc>;tag=meta-p\r\n\
To: <sip:+12145551869@sip.example.com>\r\n\
Contact: <sip:+12195550714@wa.meta.vc;transport=tls;ob>\r\n\
Call-ID: pcap-call-1\r\n\
CSeq: 1 INVITE\r\n\
User-Agent: Facebook SipGateway\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 0\r\n\r\n";

const OK: &str = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 157.240.19.130:5060;branch=z9hG4bK-p1\r\n\
Record-Route: <sip:wa.meta.vc;transport=tls;lr>\r\n\
From: \"12195550714\" <sip:+12195550714@wa.meta.vc>;tag=meta-p\r\n\
To: <sip:+12145551869@sip.example.com>;tag=biz-p\r\n\
Contact: <sip:+12145551869@sip.example.com:5061;transport=tls>\r\n\
Call-ID: pcap-call-1\r\n\
CSeq: 1 INVITE\r\n\
Content-Length: 0\r\n\r\n";

const ACK: &str = "ACK sip:+12145551869@sip.example.com:5061;transport=tls SIP/2.0\r\n\
Via: SIP/2.0/UDP 157.240.19.130:5060;branch=z9hG4bK-p2\r\n\
From: \"12195550714\" <sip:+12195550714@wa.meta.vc>;tag=meta-p\r\n\
To: <sip:+12145551869@sip.example.com>;tag=biz-p\r\n\
Call-ID: pcap-call-1\r\n\
CSeq: 1 ACK\r\n\
Content-Length: 0\r\n\r\n";

const BYE: &str = "BYE sip:+12145551869@sip.example.com:5061;transport=tls SIP/2.0\r\n\
Via: SIP/2.0/UDP 157.240.19.130:5060;branch=z9hG4bK-p3\r\n\
From: \"12195550714\" <sip:+12195550714@wa.meta.vc>;tag=meta-p\r\n\
To: <sip:+12145551869@sip.example.com>;tag=biz-p\r\n\
Call-ID: pcap-call-1\r\n\
CSeq: 2 BYE\r\n\
Content-Length: 0\r\n\r\n";

fn ipv4_udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 8 + payload.len()) as u16;
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        17,
        0,
        0,
    ]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    let ulen = (8 + payload.len()) as u16;
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&ulen.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

fn ipv6_tcp(
    src: [u8; 16],
    dst: [u8; 16],
    sport: u16,
    dport: u16,
    seq: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x86, 0xdd]);
    let plen = (20 + payload.len()) as u16;
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&plen.to_be_bytes());
    f.extend_from_slice(&[6, 64]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// Classic little-endian pcap, Ethernet link type, microsecond stamps.
fn pcap(frames: &[(f64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (t, f) in frames {
        let sec = t.floor() as u32;
        let usec = ((t - t.floor()) * 1e6).round() as u32;
        out.extend_from_slice(&sec.to_le_bytes());
        out.extend_from_slice(&usec.to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn run_pcap(name: &str, bytes: &[u8]) -> common::Out {
    let dir = scratch("pcap");
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write pcap");
    wacall(&["--json", "diagnose", &p.to_string_lossy()])
}

const META4: [u8; 4] = [157, 240, 19, 130];
const BIZ4: [u8; 4] = [198, 51, 100, 20];
const T0: f64 = 1_772_000_000.0;

#[test]
fn pcap_udp_ipv4_call_dropped_at_20s() {
    let frames = vec![
        (T0, ipv4_udp(META4, BIZ4, 5060, 5060, INVITE.as_bytes())),
        (
            T0 + 0.01,
            ipv4_udp(META4, BIZ4, 3478, 40000, &[0x00, 0x01, 0x00, 0x00]),
        ), // STUN: skipped
        (T0 + 1.5, ipv4_udp(BIZ4, META4, 5060, 5060, OK.as_bytes())),
        (T0 + 1.6, ipv4_udp(META4, BIZ4, 5060, 5060, ACK.as_bytes())),
        (T0 + 21.6, ipv4_udp(META4, BIZ4, 5060, 5060, BYE.as_bytes())),
    ];
    let o = run_pcap("call.pcap", &pcap(&frames));
    let j: Value = o.json();
    assert_eq!(
        j["messages"].as_array().map(|a| a.len()),
        Some(4),
        "{}",
        o.stdout
    );
    assert_eq!(j["messages"][0]["sender"], "meta");
    assert!((j["messages"][3]["time"].as_f64().unwrap_or(0.0) - (T0 + 21.6)).abs() < 1e-3);
    assert!(
        has(&findings(&o), "media-timeout-20s", "error", 4),
        "{}",
        o.stdout
    );
    assert_eq!(o.code, 1);
}

#[test]
fn pcap_tcp_ipv6_reassembly_with_retransmission() {
    let meta6: [u8; 16] = [0x2a, 0x03, 0x28, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let biz6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    let inv = INVITE.as_bytes();
    let (a, b) = inv.split_at(100);
    let mut seq_meta = 1000u32;
    let mut frames = vec![(T0, ipv6_tcp(meta6, biz6, 40000, 5060, seq_meta, a))];
    // Retransmission of the first segment: ignored.
    frames.push((T0 + 0.2, ipv6_tcp(meta6, biz6, 40000, 5060, seq_meta, a)));
    seq_meta += a.len() as u32;
    frames.push((T0 + 0.3, ipv6_tcp(meta6, biz6, 40000, 5060, seq_meta, b)));
    seq_meta += b.len() as u32;
    frames.push((
        T0 + 1.0,
        ipv6_tcp(biz6, meta6, 5060, 40000, 7000, OK.as_bytes()),
    ));
    // ACK and BYE in one segment.
    let both = [ACK.as_bytes(), BYE.as_bytes()].concat();
    frames.push((
        T0 + 33.0,
        ipv6_tcp(meta6, biz6, 40000, 5060, seq_meta, &both),
    ));
    let o = run_pcap("tcp6.pcap", &pcap(&frames));
    let j = o.json();
    let msgs: Vec<String> = j["messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["summary"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(msgs.len(), 4, "{msgs:?}");
    assert!(
        msgs[0].starts_with("INVITE ")
            && msgs[2].starts_with("ACK ")
            && msgs[3].starts_with("BYE "),
        "{msgs:?}"
    );
    assert!(
        has(&findings(&o), "ack-timeout-32s", "error", 4),
        "{}",
        o.stdout
    );
}

#[test]
fn pcapng_is_read() {
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
    use pcap_file::pcapng::PcapNgWriter;
    use pcap_file::DataLink;
    use std::borrow::Cow;
    use std::time::Duration;

    let mut w = PcapNgWriter::new(Vec::new()).expect("writer");
    w.write_pcapng_block(InterfaceDescriptionBlock {
        linktype: DataLink::ETHERNET,
        snaplen: 65535,
        options: vec![],
    })
    .expect("idb");
    for (i, m) in [INVITE, OK].iter().enumerate() {
        let frame = if i == 0 {
            ipv4_udp(META4, BIZ4, 5060, 5060, m.as_bytes())
        } else {
            ipv4_udp(BIZ4, META4, 5060, 5060, m.as_bytes())
        };
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_secs_f64(T0 + i as f64),
            original_len: frame.len() as u32,
            data: Cow::Owned(frame),
            options: vec![],
        })
        .expect("epb");
    }
    let o = run_pcap("call.pcapng", &w.into_inner());
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert_eq!(
        o.json()["messages"].as_array().map(|a| a.len()),
        Some(2),
        "{}",
        o.stdout
    );
}

#[test]
fn pcap_with_only_tls_says_so() {
    let mut rec = vec![0x16, 0x03, 0x01, 0x00, 0x05];
    rec.extend_from_slice(&[1, 0, 0, 1, 0]);
    let meta6 = [0u8; 16];
    let frames = vec![(T0, ipv6_tcp(meta6, meta6, 40000, 5061, 1, &rec))];
    let o = run_pcap("tls.pcap", &pcap(&frames));
    assert_eq!(o.code, 3);
    assert!(
        o.json()["error"]
            .as_str()
            .unwrap_or("")
            .contains("TLS records"),
        "{}",
        o.stdout
    );
}

// ---- media in the capture: ICE, DTLS and the maiden packet ----

fn sip(start: &str, headers: &[&str], body: &str) -> Vec<u8> {
    let body = body.replace('\n', "\r\n");
    let mut s = format!("{start}\r\n");
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    if !body.is_empty() {
        s.push_str("Content-Type: application/sdp\r\n");
    }
    s.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.into_bytes()
}

const META_SDP: &str = "v=0\no=- 1 2 IN IP4 127.0.0.1\ns=-\nt=0 0\na=ice-lite\nm=audio 3480 UDP/TLS/RTP/SAVPF 111 126\n\
c=IN IP4 157.240.19.130\na=candidate:1 1 udp 2122260223 157.240.19.130 3480 typ host generation 0\n\
a=ice-ufrag:RmDD\na=ice-pwd:abcdefghijklmnopqrstuv\na=fingerprint:sha-256 AB:CD\na=setup:actpass\na=rtcp-mux\n\
a=rtpmap:111 opus/48000/2\na=rtpmap:126 telephone-event/8000\n";

const OUR_SDP: &str = "v=0\no=- 7 1 IN IP4 198.51.100.20\ns=-\nt=0 0\nm=audio 40000 UDP/TLS/RTP/SAVPF 111 126\n\
c=IN IP4 198.51.100.20\na=candidate:1 1 udp 2130706431 198.51.100.20 40000 typ host\na=ice-ufrag:ours\n\
a=ice-pwd:0123456789abcdef012345\na=fingerprint:sha-256 12:34\na=setup:active\na=rtcp-mux\n\
a=rtpmap:111 opus/48000/2\na=rtpmap:126 telephone-event/8000\n";

const DIALOG: [&str; 3] = [
    "From: \"12195550714\" <sip:+12195550714@wa.meta.vc>;tag=meta-m",
    "Call-ID: media-call-1",
    "Via: SIP/2.0/UDP 157.240.19.130:5060;branch=z9hG4bK-m1",
];

fn dtls_call(media: &[(f64, bool, &[u8])], bye_at: Option<f64>) -> common::Out {
    let to_us = "To: <sip:+12145551869@sip.example.com>";
    let to_us_tag = "To: <sip:+12145551869@sip.example.com>;tag=biz-m";
    let contact_meta = "Contact: <sip:+12195550714@wa.meta.vc;transport=tls;ob>";
    let contact_us = "Contact: <sip:+12145551869@sip.example.com:5061;transport=tls>";
    let invite = sip(
        "INVITE sip:+12145551869@sip.example.com;transport=tls SIP/2.0",
        &[
            DIALOG[2],
            DIALOG[0],
            to_us,
            DIALOG[1],
            "CSeq: 1 INVITE",
            contact_meta,
        ],
        META_SDP,
    );
    let ok = sip(
        "SIP/2.0 200 OK",
        &[
            DIALOG[2],
            DIALOG[0],
            to_us_tag,
            DIALOG[1],
            "CSeq: 1 INVITE",
            contact_us,
        ],
        OUR_SDP,
    );
    let ack = sip(
        "ACK sip:+12145551869@sip.example.com:5061;transport=tls SIP/2.0",
        &[DIALOG[2], DIALOG[0], to_us_tag, DIALOG[1], "CSeq: 1 ACK"],
        "",
    );
    let mut frames = vec![
        (T0, ipv4_udp(META4, BIZ4, 5060, 5060, &invite)),
        (T0 + 1.0, ipv4_udp(BIZ4, META4, 5060, 5060, &ok)),
        (T0 + 1.1, ipv4_udp(META4, BIZ4, 5060, 5060, &ack)),
    ];
    for (t, from_us, payload) in media {
        let f = if *from_us {
            ipv4_udp(BIZ4, META4, 40000, 3480, payload)
        } else {
            ipv4_udp(META4, BIZ4, 3480, 40000, payload)
        };
        frames.push((T0 + t, f));
    }
    if let Some(t) = bye_at {
        let bye = sip(
            "BYE sip:+12145551869@sip.example.com:5061;transport=tls SIP/2.0",
            &[DIALOG[2], DIALOG[0], to_us_tag, DIALOG[1], "CSeq: 2 BYE"],
            "",
        );
        frames.push((T0 + t, ipv4_udp(META4, BIZ4, 5060, 5060, &bye)));
    }
    frames.sort_by(|a, b| a.0.total_cmp(&b.0));
    run_pcap("media.pcap", &pcap(&frames))
}

const STUN_REQ: &[u8] = &[
    0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
];
const STUN_RESP: &[u8] = &[
    1, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
];
const DTLS_HELLO: &[u8] = &[22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1];
const RTP: &[u8] = &[0x80, 111, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7, 0xaa, 0xbb];

#[test]
fn media_ice_without_dtls_is_found() {
    let o = dtls_call(
        &[(1.2, true, STUN_REQ), (1.21, false, STUN_RESP)],
        Some(21.5),
    );
    let f = findings(&o);
    assert!(has(&f, "dtls-not-started", "error", 2), "{f:?}");
    assert!(has(&f, "media-timeout-20s", "error", 4), "{f:?}");
    assert!(
        !f.iter()
            .any(|(r, _, _)| r == "dtls-role" || r == "ice-lite"),
        "our SDP is right: {f:?}"
    );
}

#[test]
fn media_nothing_sent_to_meta_is_the_maiden_packet() {
    let o = dtls_call(&[(1.5, false, RTP), (1.52, false, RTP)], Some(21.0));
    let f = findings(&o);
    assert!(has(&f, "maiden-packet", "error", 2), "{f:?}");
    assert!(o.stdout.contains("157.240.19.130:3480"), "{}", o.stdout);
}

#[test]
fn media_checks_unanswered_and_late_first_packet() {
    let o = dtls_call(
        &[
            (1.2, true, STUN_REQ),
            (1.3, true, DTLS_HELLO),
            (14.0, true, RTP),
        ],
        None,
    );
    let f = findings(&o);
    assert!(has(&f, "ice-no-response", "warning", 2), "{f:?}");
    assert!(has(&f, "late-maiden-packet", "warning", 2), "{f:?}");
}

#[test]
fn media_complete_call_is_clean() {
    let o = dtls_call(
        &[
            (1.2, true, STUN_REQ),
            (1.21, false, STUN_RESP),
            (1.3, true, DTLS_HELLO),
            (1.31, false, DTLS_HELLO),
            (1.4, true, RTP),
            (1.45, false, RTP),
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(findings(&o).is_empty(), "{}", o.stdout);
}

#[test]
fn meta_refusals_are_explained() {
    let o = diagnose("broken-meta-refusals.txt", &[]);
    let f = findings(&o);
    assert!(
        has(&f, "digest", "warning", 1),
        "digest uri vs To URI: {f:?}"
    );
    assert!(has(&f, "403-auth-uri", "error", 2), "{f:?}");
    assert!(has(&f, "final-response", "info", 4), "{f:?}");
    assert!(has(&f, "sdp-refused", "error", 6), "{f:?}");
    assert!(has(&f, "business-refused", "warning", 8), "{f:?}");
    assert!(
        o.stdout.contains("tgrp"),
        "the 404 hint names Meta's user parameters: {}",
        o.stdout
    );
}

#[test]
fn offer_details_suite_fingerprint_hash_and_to_uri() {
    let f = findings(&diagnose("broken-offers.txt", &[]));
    assert!(has(&f, "sdes-suite", "error", 1), "{f:?}");
    assert!(has(&f, "to-uri", "warning", 1), "{f:?}");
    assert!(has(&f, "dtls-fingerprint-hash", "warning", 2), "{f:?}");
    // Session-level fingerprint counts as present.
    assert!(!has(&f, "dtls-fingerprint", "error", 2), "{f:?}");
}
