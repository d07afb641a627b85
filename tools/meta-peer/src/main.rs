//! meta-peer: a media peer that behaves like Meta's side of a WhatsApp call, for testing wacall's relay.
//! ice-lite (answers STUN checks, never sends them), DTLS server that verifies the client's fingerprint, SDES and
//! plain RTP modes; sends no media until the first (maiden) packet from the business arrived, then a sine tone
//! as opus (48 kHz mono, 20 ms, PT 111 by default); records what it receives to a WAV file.
//!
//! Independent of wacall's media core on purpose (own STUN code, own libsrtp wrapper, OpenSSL DTLS directly), so
//! the tests cross-check rather than test wacall against itself. Parameters are exchanged as JSON files: the peer
//! writes its own (`--info-out`) as soon as it is bound and waits for the relay's (`--remote-in`).
#![allow(unsafe_code)] // in opus.rs and srtp.rs only (FFI)

mod opus;
mod srtp;
mod wav;

use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};
use wacall_meta_peer::{dtls, stun};

fn usage() -> ! {
    eprintln!(
        "usage: meta-peer --mode dtls|sdes|rtp [--bind ADDR] [--info-out FILE] [--remote-in FILE]
   [--remote-fingerprint 'sha-256 HEX'] [--remote-sdes BASE64] [--remote-addr ADDR] [--no-verify]
   [--tone HZ] [--amplitude 0..1] [--duration SECS] [--record FILE.wav] [--summary FILE] [--pt N]
   [--no-wait-maiden] [--replay-every N] [--forge-every N]"
    );
    std::process::exit(2)
}

fn rand_string(n: usize) -> String {
    const C: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut b = vec![0u8; n];
    openssl::rand::rand_bytes(&mut b).expect("rand");
    b.iter().map(|x| C[*x as usize % C.len()] as char).collect()
}

fn main() {
    let mut args: HashMap<String, String> = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let Some(k) = a.strip_prefix("--") else {
            usage()
        };
        match k {
            "no-verify" | "no-wait-maiden" | "help" => {
                args.insert(k.into(), "1".into());
            }
            _ => {
                let Some(v) = it.next() else { usage() };
                args.insert(k.into(), v);
            }
        }
    }
    if args.contains_key("help") {
        usage()
    }
    let get = |k: &str| args.get(k).cloned();
    let num = |k: &str, d: f64| get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(d);
    let mode = get("mode").unwrap_or_else(|| "dtls".into());
    if !["dtls", "sdes", "rtp"].contains(&mode.as_str()) {
        usage()
    }
    let bind: SocketAddr = get("bind")
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()
        .unwrap_or_else(|_| usage());
    let sock = UdpSocket::bind(bind).expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(2)))
        .expect("timeout");
    let local = sock.local_addr().expect("local addr");

    let (ufrag, pwd) = (rand_string(4), rand_string(24));
    let (cert, key) = dtls::make_cert();
    let fp = format!("sha-256 {}", dtls::fingerprint_of(&cert));
    let mut sdes_key = vec![0u8; 30];
    openssl::rand::rand_bytes(&mut sdes_key).expect("rand");
    let sdes_b64 = base64::engine::general_purpose::STANDARD.encode(&sdes_key);
    let pt: u8 = num("pt", 111.0) as u8;

    let proto = match mode.as_str() {
        "dtls" => "UDP/TLS/RTP/SAVPF",
        "sdes" => "RTP/SAVP",
        _ => "RTP/AVP",
    };
    let ipv = if local.is_ipv4() { "IP4" } else { "IP6" };
    let mut sdp = format!(
        "v=0\r\no=- 1 1 IN {ipv} {ip}\r\ns=-\r\nc=IN {ipv} {ip}\r\nt=0 0\r\nm=audio {port} {proto} {pt} 126\r\n\
         a=rtpmap:{pt} opus/48000/2\r\na=fmtp:{pt} minptime=20;useinbandfec=1\r\na=rtpmap:126 telephone-event/8000\r\na=rtcp-mux\r\n",
        ip = local.ip(),
        port = local.port()
    );
    if mode == "dtls" {
        sdp += &format!(
            "a=ice-lite\r\na=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\na=fingerprint:{fp}\r\na=setup:actpass\r\n\
             a=candidate:1 1 udp 2130706431 {} {} typ host\r\n",
            local.ip(),
            local.port()
        );
    } else if mode == "sdes" {
        sdp += &format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{sdes_b64}\r\n");
    }
    let info = json!({
        "addr": local.to_string(), "mode": mode, "ice_ufrag": ufrag, "ice_pwd": pwd, "fingerprint": fp,
        "sdes": {"suite": "AES_CM_128_HMAC_SHA1_80", "key": sdes_b64}, "pt": pt, "sdp": sdp,
    });
    if let Some(f) = get("info-out") {
        let tmp = format!("{f}.tmp");
        std::fs::write(&tmp, info.to_string()).expect("write info");
        std::fs::rename(&tmp, &f).expect("rename info");
    }
    eprintln!("meta-peer: {mode} on {local}\n{sdp}");

    // The relay's side: from a file (written by the test driver after allocation) or the command line.
    let mut remote: Value = json!({});
    if let Some(f) = get("remote-in") {
        let start = Instant::now();
        loop {
            if let Ok(s) = std::fs::read_to_string(&f) {
                if let Ok(v) = serde_json::from_str::<Value>(&s) {
                    remote = v;
                    break;
                }
            }
            if start.elapsed() > Duration::from_secs(30) {
                eprintln!("meta-peer: no remote parameters in {f}");
                std::process::exit(1);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let rget = |k: &str| {
        get(&format!("remote-{k}"))
            .or_else(|| remote.get(k).and_then(|v| v.as_str()).map(String::from))
    };
    let remote_fp =
        rget("fingerprint").map(|f| f.split_whitespace().last().unwrap_or("").to_string());
    let remote_sdes = rget("sdes").or_else(|| {
        remote
            .pointer("/sdes/key")
            .and_then(|v| v.as_str())
            .map(String::from)
    });
    let mut peer: Option<SocketAddr> = rget("addr").and_then(|a| a.parse().ok());

    let verify = if args.contains_key("no-verify") {
        None
    } else {
        remote_fp.clone()
    };
    let mut dtls_srv = if mode == "dtls" {
        Some(dtls::Server::new(&cert, &key, verify).expect("dtls"))
    } else {
        None
    };
    let mut tx_srtp: Option<srtp::Session> = None;
    let mut rx_srtp: Option<srtp::Session> = None;
    if mode == "sdes" {
        let rk = remote_sdes
            .and_then(|k| {
                base64::engine::general_purpose::STANDARD
                    .decode(k.split('|').next().unwrap_or(""))
                    .ok()
            })
            .unwrap_or_else(|| {
                eprintln!("meta-peer: sdes mode needs --remote-sdes");
                std::process::exit(2)
            });
        tx_srtp = Some(srtp::Session::new(&sdes_key, false).expect("srtp"));
        rx_srtp = Some(srtp::Session::new(&rk, true).expect("srtp"));
    }
    let plain = mode == "rtp";

    let tone = num("tone", 1000.0);
    let amp = num("amplitude", 0.3).clamp(0.0, 1.0);
    let duration = Duration::from_secs_f64(num("duration", 8.0));
    let wait_maiden = !args.contains_key("no-wait-maiden");
    let replay_every = num("replay-every", 0.0) as u64;
    let forge_every = num("forge-every", 0.0) as u64;

    let mut enc = opus::Encoder::new().expect("opus encoder");
    let mut dec = opus::Decoder::new().expect("opus decoder");
    let mut recorded: Vec<i16> = Vec::new();
    let mut ssrc_b = [0u8; 4];
    openssl::rand::rand_bytes(&mut ssrc_b).expect("rand");
    let ssrc = u32::from_be_bytes(ssrc_b);

    let start = Instant::now();
    let ms = |t: Instant| t.duration_since(start).as_millis() as u64;
    let (mut seq, mut ts, mut phase) = (0u16, 0u32, 0f64);
    let mut next_tx = Instant::now();
    let mut next_rtcp = Instant::now();
    let mut last_sent: Option<Vec<u8>> = None;
    let mut c: HashMap<&str, u64> = HashMap::new();
    let mut first_rx: Option<u64> = None;
    let mut first_tx: Option<u64> = None;
    let mut dtls_state = if mode == "dtls" {
        "waiting".to_string()
    } else {
        "none".to_string()
    };
    let mut received_from_peer = false;
    let mut buf = [0u8; 2048];
    let mut pcm = [0i16; 5760];

    while start.elapsed() < duration {
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            let data = &mut buf[..n];
            match data[0] {
                0..=3 => {
                    *c.entry("stun_in").or_default() += 1;
                    match stun::answer(data, from, &ufrag, &pwd) {
                        Some(chk) => {
                            *c.entry("stun_ok").or_default() += 1;
                            let _ = sock.send_to(&chk.response, from);
                            if chk.use_candidate {
                                if peer != Some(from) {
                                    eprintln!(
                                        "meta-peer: nominated {from} at {} ms",
                                        ms(Instant::now())
                                    );
                                }
                                peer = Some(from);
                                *c.entry("nominations").or_default() += 1;
                            }
                        }
                        None => *c.entry("stun_bad").or_default() += 1,
                    }
                }
                20..=63 => {
                    *c.entry("dtls_in").or_default() += 1;
                    if let Some(d) = dtls_srv.as_mut() {
                        for o in d.input(data) {
                            let _ = sock.send_to(&o, from);
                        }
                        match &d.state {
                            dtls::State::Done(_) if tx_srtp.is_none() => {
                                if let Some((l, r)) = d.keys() {
                                    tx_srtp = Some(srtp::Session::new(&l, false).expect("srtp"));
                                    rx_srtp = Some(srtp::Session::new(&r, true).expect("srtp"));
                                    dtls_state = "connected".into();
                                    eprintln!(
                                        "meta-peer: DTLS connected at {} ms",
                                        ms(Instant::now())
                                    );
                                    peer.get_or_insert(from);
                                }
                            }
                            dtls::State::Failed(e) if !dtls_state.starts_with("failed") => {
                                dtls_state = format!("failed: {e}");
                                eprintln!("meta-peer: DTLS failed: {e}");
                            }
                            _ => {}
                        }
                    }
                }
                128..=191 if n >= 12 => {
                    let rtcp = (64..=95).contains(&(data[1] & 0x7f));
                    let len = if plain {
                        Ok(n)
                    } else if let Some(s) = rx_srtp.as_mut() {
                        s.unprotect(data, rtcp)
                    } else {
                        *c.entry("before_keys").or_default() += 1;
                        continue;
                    };
                    match len {
                        Ok(len) => {
                            if plain && peer.is_none() {
                                peer = Some(from);
                            }
                            if rtcp {
                                *c.entry("rtcp_in").or_default() += 1;
                            } else {
                                *c.entry("rtp_in").or_default() += 1;
                                first_rx.get_or_insert(ms(Instant::now()));
                                received_from_peer = true;
                                if sdes_or_rtp_latch(&mode) && peer.is_none() {
                                    peer = Some(from);
                                }
                                let payload = &data[12 + 4 * (data[0] & 0x0f) as usize..len];
                                if (data[1] & 0x7f) == pt && !payload.is_empty() {
                                    if let Some(k) = dec.decode(payload, &mut pcm) {
                                        recorded.extend_from_slice(&pcm[..k]);
                                    }
                                }
                            }
                        }
                        Err(srtp::Fail::Auth) => *c.entry("auth_failures").or_default() += 1,
                        Err(srtp::Fail::Replay) => *c.entry("replays").or_default() += 1,
                        Err(_) => *c.entry("srtp_errors").or_default() += 1,
                    }
                }
                _ => *c.entry("garbage").or_default() += 1,
            }
        }

        // Meta's rule: nothing is sent before the business's first packet arrived.
        let can_send =
            peer.is_some() && (plain || tx_srtp.is_some()) && (received_from_peer || !wait_maiden);
        let now = Instant::now();
        if can_send && now >= next_tx {
            let Some(dest) = peer else { continue };
            next_tx += Duration::from_millis(20);
            if next_tx < now {
                next_tx = now + Duration::from_millis(20);
            }
            let mut frame = [0i16; opus::FRAME];
            for s in frame.iter_mut() {
                *s = (amp * 32767.0 * phase.sin()) as i16;
                phase += 2.0 * std::f64::consts::PI * tone / opus::RATE as f64;
            }
            phase %= 2.0 * std::f64::consts::PI;
            let mut pkt = [0u8; 1500];
            pkt[0] = 0x80;
            pkt[1] = pt | if seq == 0 { 0x80 } else { 0 };
            pkt[2..4].copy_from_slice(&seq.to_be_bytes());
            pkt[4..8].copy_from_slice(&ts.to_be_bytes());
            pkt[8..12].copy_from_slice(&ssrc.to_be_bytes());
            let Some(plen) = enc.encode(&frame, &mut pkt[12..1400]) else {
                continue;
            };
            let mut len = 12 + plen;
            if let Some(s) = tx_srtp.as_mut() {
                match s.protect(&mut pkt, len, false) {
                    Some(l) => len = l,
                    None => continue,
                }
            }
            let _ = sock.send_to(&pkt[..len], dest);
            first_tx.get_or_insert(ms(now));
            *c.entry("rtp_out").or_default() += 1;
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(opus::FRAME as u32);
            // Attack modes, from the peer's own (ICE-selected / latched) address: the relay must reject these by
            // crypto, not by source.
            if replay_every > 0 && u64::from(seq) % replay_every == 0 {
                if let Some(old) = &last_sent {
                    let _ = sock.send_to(old, dest);
                    *c.entry("replayed_out").or_default() += 1;
                }
            }
            if forge_every > 0 && u64::from(seq) % forge_every == 0 {
                let mut f = pkt[..len].to_vec();
                let l = f.len();
                f[l - 3] ^= 0x55; // corrupt the auth tag
                let _ = sock.send_to(&f, dest);
                *c.entry("forged_out").or_default() += 1;
            }
            last_sent = Some(pkt[..len].to_vec());
        }
        if can_send && now >= next_rtcp {
            if let Some(dest) = peer {
                next_rtcp = now + Duration::from_secs(1);
                let mut p = [0u8; 64];
                p[..4].copy_from_slice(&[0x80, 200, 0, 6]);
                p[4..8].copy_from_slice(&ssrc.to_be_bytes());
                p[16..20].copy_from_slice(&ts.to_be_bytes());
                p[20..24].copy_from_slice(&u32::from(seq).to_be_bytes());
                let mut len = 28;
                if let Some(s) = tx_srtp.as_mut() {
                    len = s.protect(&mut p, len, true).unwrap_or(0);
                }
                if len > 0 {
                    let _ = sock.send_to(&p[..len], dest);
                    *c.entry("rtcp_out").or_default() += 1;
                }
            }
        }
    }

    if let Some(f) = get("record") {
        if let Err(e) = wav::write(&f, opus::RATE as u32, &recorded) {
            eprintln!("meta-peer: cannot write {f}: {e}");
        }
    }
    let mut summary = json!({
        "mode": mode, "local": local.to_string(), "peer": peer.map(|p| p.to_string()), "dtls": dtls_state,
        "first_rx_ms": first_rx, "first_tx_ms": first_tx, "recorded_samples": recorded.len(),
        "sent_before_maiden": first_tx.is_some() && (first_rx.is_none() || first_tx < first_rx),
    });
    for (k, v) in &c {
        summary[*k] = json!(v);
    }
    let s = summary.to_string();
    if let Some(f) = get("summary") {
        let _ = std::fs::write(f, &s);
    }
    println!("{s}");
}

fn sdes_or_rtp_latch(mode: &str) -> bool {
    mode != "dtls"
}
