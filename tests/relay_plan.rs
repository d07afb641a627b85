//! SDP mapping and the relay together: the relay's allocation goes into the mapper, the mapper's plan goes back
//! to the relay, and audio then flows with the keys both SDPs carry (Meta's SDES offer from the seed's trace,
//! SDES toward the PBX). The two peers are played with wacall's SRTP sessions over loopback.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use base64::Engine as _;
use wacall::media::srtp::SrtpSession;
use wacall::media::{SrtpKeyMaterial, SrtpProfile};
use wacall::relay::{self, plan, Client, LegConfig, RelayConfig, Side, Transport};
use wacall::sdp::{self, LegSecurity, MapConfig, MetaMedia, PbxMedia};

fn key(b64: &str) -> SrtpKeyMaterial {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    SrtpKeyMaterial::new(SrtpProfile::AesCm128HmacSha1_80, &raw).unwrap()
}

fn local_key(p: &sdp::LegPlan) -> SrtpKeyMaterial {
    match &p.security {
        LegSecurity::Sdes(k) => key(&k.local.as_ref().expect("local key").to_base64()),
        other => panic!("not SDES: {other:?}"),
    }
}

fn srtp_packet(s: &mut SrtpSession, seq: u16, pt: u8, fill: u8) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
    p.extend_from_slice(&[5, 6, 7, 8]);
    p.extend_from_slice(&[fill; 60]);
    let len = p.len();
    p.resize(len + 32, 0);
    let n = s.outbound.protect_rtp(&mut p, len).unwrap();
    p.truncate(n);
    p
}

fn receive(s: &UdpSocket, srtp: &mut SrtpSession, fill: u8) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            let mut v = buf[..n].to_vec();
            if v.len() > 12 && (64..=95).contains(&(v[1] & 0x7f)) {
                continue; // RTCP
            }
            if let Ok(len) = srtp.inbound.unprotect_rtp(&mut v) {
                if len == 72 && v[12..72] == [fill; 60] {
                    return true;
                }
            }
        }
    }
    false
}

#[test]
fn meta_sdes_offer_through_mapper_and_relay() {
    let path = std::env::temp_dir().join(format!("wacall-relay-plan-{}.sock", std::process::id()));
    let cfg = RelayConfig {
        port_min: 41500,
        port_max: 41549,
        workers: 1,
        ..Default::default()
    };
    let relay = relay::spawn(cfg, &path).unwrap();
    let mut c = Client::new(&path, Duration::from_secs(2));
    let sdes = LegConfig {
        transport: Transport::Sdes,
        family: Default::default(),
    };
    let alloc = c.allocate("plan-1", sdes.clone(), sdes).unwrap();
    let media_alloc = plan::media_allocation(&alloc).unwrap();
    let map_cfg = MapConfig::new(
        PbxMedia::Sdes(vec![sdp::CryptoSuite::AesCm128HmacSha1_80]),
        MetaMedia::Sdes,
    );

    // Meta's offer (from the seed) -> SDES offer to the PBX.
    let meta_offer = std::fs::read_to_string("tests/fixtures/sdp/meta_offer_sdes_1.sdp").unwrap();
    let to_pbx = sdp::meta_offer_to_pbx(&meta_offer, &media_alloc, &map_cfg).unwrap();
    assert!(to_pbx
        .sdp
        .contains(&format!("m=audio {} RTP/SAVP", alloc.pbx.addrs[0].port())));
    let pbx_relay_key = local_key(&to_pbx.plan.pbx);

    // The PBX answers with its own key.
    let pbx_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let meta_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&pbx_sock, &meta_sock] {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    }
    let pbx_key = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
    let pbx_b64 = base64::engine::general_purpose::STANDARD.encode(pbx_key.key_and_salt());
    let pbx_answer = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/SAVP 111 126\r\n\
         a=rtpmap:111 opus/48000/2\r\na=rtpmap:126 telephone-event/8000\r\na=rtcp-mux\r\n\
         a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{pbx_b64}\r\na=sendrecv\r\n",
        pbx_sock.local_addr().unwrap().port()
    );
    let to_meta = sdp::pbx_answer_to_meta(
        &meta_offer,
        &to_pbx.sdp,
        &pbx_answer,
        &media_alloc,
        &map_cfg,
    )
    .unwrap();
    assert!(to_meta.plan.answered);
    let meta_relay_key = local_key(&to_meta.plan.meta);

    // The final plan goes to the relay; Meta's real address (157.240.x) is replaced by our loopback socket.
    let (mut meta_leg, pbx_leg) = plan::remote_legs(&to_meta.plan);
    assert!(meta_leg.sdes.is_some() && pbx_leg.sdes.is_some());
    meta_leg.addr = Some(meta_sock.local_addr().unwrap());
    c.update("plan-1", Some(meta_leg), Some(pbx_leg)).unwrap();
    // The mapper wrote its own keys into our a=crypto lines: the relay must send with those.
    let [meta_local, pbx_local] = plan::local_sdes_keys(&to_meta.plan);
    c.set_local_sdes("plan-1", Side::Meta, meta_local.unwrap())
        .unwrap();
    c.set_local_sdes("plan-1", Side::Pbx, pbx_local.unwrap())
        .unwrap();

    let meta_key = key("UjhQZzZ2TnlnbUE3ZXdNdjNxWkh5dU10SEZpSWkz");
    let mut meta = SrtpSession::new(&meta_key, &meta_relay_key).unwrap();
    let mut pbx = SrtpSession::new(&pbx_key, &pbx_relay_key).unwrap();
    let (meta_port, pbx_port): (SocketAddr, SocketAddr) = (alloc.meta.addrs[0], alloc.pbx.addrs[0]);

    // PBX first (the maiden packet toward Meta), then Meta.
    for seq in 0..5 {
        pbx_sock
            .send_to(&srtp_packet(&mut pbx, seq, 111, 0x44), pbx_port)
            .unwrap();
    }
    assert!(
        receive(&meta_sock, &mut meta, 0x44),
        "Meta decrypts PBX audio with the key of our SDP answer"
    );
    for seq in 0..5 {
        meta_sock
            .send_to(&srtp_packet(&mut meta, seq, 111, 0x55), meta_port)
            .unwrap();
    }
    assert!(
        receive(&pbx_sock, &mut pbx, 0x55),
        "PBX decrypts Meta audio with the key of our SDP offer"
    );
    let st = c.delete("plan-1").unwrap();
    assert_eq!(st.meta.auth_failures + st.pbx.auth_failures, 0, "{st:?}");
    relay.stop();
}
