//! The relay driving the media core's call over real sockets: SDES on Meta's side (the test plays Meta with
//! wacall's own SRTP session) and plain RTP on the PBX side; forged and replayed SRTP dropped and counted.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use wacall::media::srtp::SrtpSession;
use wacall::media::{SrtpKeyMaterial, SrtpProfile};
use wacall::relay::{self, Client, LegConfig, RelayConfig, RemoteLeg, SdesKey, Transport};

fn sock_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "wacall-relay-media-{}-{name}.sock",
        std::process::id()
    ))
}

fn rtp(seq: u16, ts: u32, pt: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&[9, 9, 9, 9]);
    p.extend_from_slice(payload);
    p
}

fn recv_until(
    s: &UdpSocket,
    deadline: Instant,
    mut want: impl FnMut(&mut [u8], SocketAddr) -> bool,
) -> bool {
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        if let Ok((n, from)) = s.recv_from(&mut buf) {
            if want(&mut buf[..n], from) {
                return true;
            }
        }
    }
    false
}

#[test]
fn sdes_meta_to_plain_pbx_and_back() {
    let path = sock_path("sdes");
    let cfg = RelayConfig {
        port_min: 41400,
        port_max: 41449,
        workers: 1,
        ..Default::default()
    };
    let relay = relay::spawn(cfg, &path).unwrap();
    let mut c = Client::new(&path, Duration::from_secs(2));
    let a = c
        .allocate(
            "sdes-1",
            LegConfig {
                transport: Transport::Sdes,
                family: Default::default(),
            },
            LegConfig {
                transport: Transport::Rtp,
                family: Default::default(),
            },
        )
        .unwrap();
    let relay_key = a.meta.sdes.clone().expect("relay's SDES key");
    let relay_key = SrtpKeyMaterial::new(
        SrtpProfile::AesCm128HmacSha1_80,
        &base64::engine::general_purpose::STANDARD
            .decode(&relay_key.key)
            .unwrap(),
    )
    .unwrap();
    let meta_key = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
    let mut meta_srtp = SrtpSession::new(&meta_key, &relay_key).unwrap();

    let meta = UdpSocket::bind("127.0.0.1:0").unwrap();
    let pbx = UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&meta, &pbx] {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    }
    let key_b64 = base64::engine::general_purpose::STANDARD.encode(meta_key.key_and_salt());
    c.update(
        "sdes-1",
        Some(RemoteLeg {
            addr: Some(meta.local_addr().unwrap()),
            sdes: Some(SdesKey {
                suite: "AES_CM_128_HMAC_SHA1_80".into(),
                key: key_b64,
            }),
            ..Default::default()
        }),
        Some(RemoteLeg {
            addr: Some(pbx.local_addr().unwrap()),
            audio_pt: Some(96),
            ..Default::default()
        }),
    )
    .unwrap();
    let (meta_port, pbx_port) = (a.meta.addrs[0], a.pbx.addrs[0]);

    // The business speaks first (Meta waits for the maiden packet): PBX audio comes out at Meta as SRTP.
    for i in 0..5u16 {
        pbx.send_to(&rtp(i, u32::from(i) * 960, 96, &[0x11; 60]), pbx_port)
            .unwrap();
    }
    let got_srtp = recv_until(
        &meta,
        Instant::now() + Duration::from_secs(3),
        |buf, from| {
            if from != meta_port || buf.len() < 12 || (64..=95).contains(&(buf[1] & 0x7f)) {
                return false;
            }
            let mut v = buf.to_vec();
            match meta_srtp.inbound.unprotect_rtp(&mut v) {
                Ok(n) => v[1] & 0x7f == 111 && n >= 12,
                Err(_) => false,
            }
        },
    );
    assert!(
        got_srtp,
        "Meta got an authentic SRTP packet with PT rewritten to 111"
    );

    // Meta -> PBX: decrypted, PT 111 -> 96, payload intact.
    let mut sent = Vec::new();
    for i in 0..5u16 {
        let mut p = rtp(i, u32::from(i) * 960, 111, &[0x22; 80]);
        let len = p.len();
        p.resize(len + 32, 0);
        let n = meta_srtp.outbound.protect_rtp(&mut p, len).unwrap();
        p.truncate(n);
        meta.send_to(&p, meta_port).unwrap();
        sent.push(p);
    }
    let got_plain = recv_until(&pbx, Instant::now() + Duration::from_secs(3), |buf, _| {
        buf.len() == 92 && buf[1] & 0x7f == 96 && buf[12..] == [0x22; 80]
    });
    assert!(got_plain, "PBX got the decrypted packet");

    // Replays and forgeries from Meta's own address: dropped and counted, never forwarded.
    let before = c.stats("sdes-1").unwrap().meta;
    for p in &sent {
        meta.send_to(p, meta_port).unwrap();
    }
    let mut forged = sent[0].clone();
    let l = forged.len();
    forged[l - 1] ^= 1;
    forged[3] = 0x77;
    meta.send_to(&forged, meta_port).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let after = c.stats("sdes-1").unwrap().meta;
    assert_eq!(after.replays - before.replays, 5, "{after:?}");
    assert_eq!(after.auth_failures - before.auth_failures, 1, "{after:?}");
    let fin = c.delete("sdes-1").unwrap();
    assert!(fin.pbx.packets_out >= 5);
    relay.stop();
}
