//! relay-load: a small, bounded load check of a running relay over loopback. Sets up N calls through the control
//! socket (Meta leg SDES or RTP, PBX leg RTP), sends 20 ms packets both ways for each call, and reports delivered
//! packets per second, loss, one-way latency percentiles and (with --pid) the relay's CPU per 1,000 pps.
//! Not the benchmark of issue 6 (no rtpengine side, no ramp): a quick figure for the relay's own tests.
//! usage: relay-load --socket PATH [--calls 200] [--seconds 5] [--mode sdes|rtp] [--pid RELAY_PID]

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use wacall::media::srtp::SrtpSession;
use wacall::media::{SrtpKeyMaterial, SrtpProfile};
use wacall::relay::{Client, LegConfig, RemoteLeg, SdesKey, Transport};

const PAYLOAD: usize = 160;

fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn main() {
    let mut a: HashMap<String, String> = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        a.insert(k.trim_start_matches("--").to_string(), v);
    }
    let Some(sock) = a.get("socket").cloned() else {
        eprintln!("usage: relay-load --socket PATH [--calls N] [--seconds S] [--mode sdes|rtp] [--pid PID]");
        std::process::exit(2)
    };
    let calls: usize = a.get("calls").and_then(|v| v.parse().ok()).unwrap_or(200);
    let seconds: f64 = a
        .get("seconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(5.0_f64)
        .min(60.0);
    let sdes = a.get("mode").map(|m| m == "sdes").unwrap_or(true);
    let pid: Option<u32> = a.get("pid").and_then(|v| v.parse().ok());

    let mut c = Client::new(&sock, Duration::from_secs(5));
    let meta = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let pbx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for s in [&meta, &pbx] {
        s.set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
    }
    let mut legs: Vec<(SocketAddr, SocketAddr)> = Vec::new();
    let mut srtp: Vec<Option<SrtpSession>> = Vec::new();
    let mut by_port: HashMap<SocketAddr, usize> = HashMap::new();
    let mut meta_tx: Vec<Option<SrtpSession>> = Vec::new();
    let t_setup = Instant::now();
    for i in 0..calls {
        let id = format!("load-{}-{i}", std::process::id());
        let mt = if sdes {
            Transport::Sdes
        } else {
            Transport::Rtp
        };
        let al = c
            .allocate(
                &id,
                LegConfig {
                    transport: mt,
                    family: Default::default(),
                },
                LegConfig {
                    transport: Transport::Rtp,
                    family: Default::default(),
                },
            )
            .expect("allocate");
        let mut mleg = RemoteLeg {
            addr: Some(meta.local_addr().expect("addr")),
            ..Default::default()
        };
        if sdes {
            let ours = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).expect("key");
            let relay_b64 = &al.meta.sdes.as_ref().expect("relay key").key;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(relay_b64)
                .expect("b64");
            let theirs = SrtpKeyMaterial::new(SrtpProfile::AesCm128HmacSha1_80, &raw).expect("key");
            srtp.push(Some(SrtpSession::new(&ours, &theirs).expect("srtp")));
            meta_tx.push(Some(SrtpSession::new(&ours, &theirs).expect("srtp")));
            mleg.sdes = Some(SdesKey {
                suite: "AES_CM_128_HMAC_SHA1_80".into(),
                key: base64::engine::general_purpose::STANDARD.encode(ours.key_and_salt()),
            });
        } else {
            srtp.push(None);
            meta_tx.push(None);
        }
        let pleg = RemoteLeg {
            addr: Some(pbx.local_addr().expect("addr")),
            ..Default::default()
        };
        c.update(&id, Some(mleg), Some(pleg)).expect("update");
        by_port.insert(al.meta.addrs[0], i);
        legs.push((al.meta.addrs[0], al.pbx.addrs[0]));
    }
    let setup = t_setup.elapsed();

    // Receivers: PBX side gets plain RTP (Meta's packets), Meta side gets SRTP/RTP (PBX's packets).
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let rx_pbx = {
        let s = pbx.try_clone().expect("clone");
        let stop = stop.clone();
        std::thread::spawn(move || receive(s, stop, start, None))
    };
    let rx_meta = {
        let s = meta.try_clone().expect("clone");
        let stop = stop.clone();
        let sessions: Vec<Option<SrtpSession>> = std::mem::take(&mut srtp);
        let srtp = if sdes {
            Some((sessions, by_port))
        } else {
            None
        };
        std::thread::spawn(move || receive(s, stop, start, srtp))
    };
    let cpu0 = pid.and_then(cpu_ticks);
    let mut seq: u16 = 0;
    let mut sent = 0u64;
    let end = start + Duration::from_secs_f64(seconds);
    let mut tick = start;
    let mut pkt = [0u8; 256];
    while Instant::now() < end {
        for (i, (mport, pport)) in legs.iter().enumerate() {
            let now_ns = start.elapsed().as_nanos() as u64;
            pkt[0] = 0x80;
            pkt[1] = 111;
            pkt[2..4].copy_from_slice(&seq.to_be_bytes());
            pkt[4..8].copy_from_slice(&(u32::from(seq) * 960).to_be_bytes());
            pkt[8..12].copy_from_slice(&(i as u32).to_be_bytes());
            pkt[12..20].copy_from_slice(&now_ns.to_be_bytes());
            pkt[20..24].copy_from_slice(&(i as u32).to_be_bytes());
            let len = 12 + PAYLOAD;
            let _ = pbx.send_to(&pkt[..len], pport);
            sent += 1;
            let mut out = pkt;
            let olen = match meta_tx[i].as_mut() {
                Some(s) => match s.outbound.protect_rtp(&mut out, len) {
                    Ok(l) => l,
                    Err(_) => continue,
                },
                None => len,
            };
            let _ = meta.send_to(&out[..olen], mport);
            sent += 1;
        }
        seq = seq.wrapping_add(1);
        tick += Duration::from_millis(20);
        let now = Instant::now();
        if tick > now {
            std::thread::sleep(tick - now);
        }
    }
    let cpu1 = pid.and_then(cpu_ticks);
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::SeqCst);
    let (n_pbx, lat_pbx) = rx_pbx.join().expect("join");
    let (n_meta, lat_meta) = rx_meta.join().expect("join");
    let elapsed = seconds;
    let got = n_pbx + n_meta;
    let mut lat: Vec<u64> = lat_pbx.into_iter().chain(lat_meta).collect();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    // /proc ticks are 1/100 s on Linux: CPU share of one core over the run, per 1,000 delivered pps.
    let cpu_pct = match (cpu0, cpu1) {
        (Some(a), Some(b)) => (b - a) as f64 / elapsed, // ticks/s = % of one core
        _ => -1.0,
    };
    let per_k = if got > 0 {
        cpu_pct / (got as f64 / elapsed / 1000.0)
    } else {
        -1.0
    };
    eprintln!(
        "relay-load: received at PBX side {n_pbx}, at Meta side {n_meta} (sent {} each way)",
        sent / 2
    );
    println!(
        "{{\"calls\":{calls},\"relay_cpu_pct\":{cpu_pct:.1},\"cpu_pct_per_1000pps\":{per_k:.2},\"mode\":\"{}\",\"setup_ms\":{:.1},\"sent\":{sent},\"received\":{got},\"loss_pct\":{:.3},\
         \"pps\":{:.0},\"p50_us\":{:.0},\"p99_us\":{:.0},\"p999_us\":{:.0}}}",
        if sdes { "sdes<->rtp" } else { "rtp<->rtp" },
        setup.as_secs_f64() * 1000.0,
        100.0 * (sent.saturating_sub(got)) as f64 / sent.max(1) as f64,
        got as f64 / elapsed,
        pct(0.5),
        pct(0.99),
        pct(0.999)
    );
    for i in 0..calls {
        let _ = c.delete(&format!("load-{}-{i}", std::process::id()));
    }
}

type Sessions = (Vec<Option<SrtpSession>>, HashMap<SocketAddr, usize>);

fn receive(
    s: UdpSocket,
    stop: Arc<AtomicBool>,
    start: Instant,
    mut srtp: Option<Sessions>,
) -> (u64, Vec<u64>) {
    let mut n = 0u64;
    let mut lat = Vec::with_capacity(1 << 20);
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::SeqCst) {
        let Ok((len, from)) = s.recv_from(&mut buf) else {
            continue;
        };
        if len < 24 || (64..=95).contains(&(buf[1] & 0x7f)) {
            continue; // RTCP and silence filler from the relay
        }
        let mut l = len;
        if let Some((sessions, by_port)) = srtp.as_mut() {
            let Some(Some(sess)) = by_port.get(&from).and_then(|i| sessions.get_mut(*i)) else {
                continue;
            };
            match sess.inbound.unprotect_rtp(&mut buf[..len]) {
                Ok(x) => l = x,
                Err(_) => continue,
            }
        }
        if l < 12 + PAYLOAD {
            continue; // the relay's own packets (maiden/silence) are shorter
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&buf[12..20]);
        let sent_ns = u64::from_be_bytes(ts);
        let now_ns = start.elapsed().as_nanos() as u64;
        lat.push(now_ns.saturating_sub(sent_ns));
        n += 1;
    }
    (n, lat)
}
