//! The relay's control channel and plain RTP forwarding over real loopback sockets: allocate, update, media
//! both ways with latching, garbage dropped and counted, bad control input survived, client timeouts.

use std::io::{Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use wacall::relay::{
    self, Client, DefaultFactory, Engine, EngineFactory, EngineSpec, ErrorCode, LegAllocation,
    LegConfig, LegStats, Outbox, RelayConfig, RemoteLeg, Side, Transport,
};

fn config(port_min: u16) -> RelayConfig {
    RelayConfig {
        port_min,
        port_max: port_min + 49,
        workers: 2,
        ..Default::default()
    }
}

fn sock_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "wacall-relay-test-{}-{name}.sock",
        std::process::id()
    ))
}

fn rtp(seq: u16, pt: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![
        0x80,
        pt,
        (seq >> 8) as u8,
        seq as u8,
        0,
        0,
        0,
        160,
        1,
        2,
        3,
        4,
    ];
    p.extend_from_slice(payload);
    p
}

fn peer() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s
}

fn recv(s: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = [0u8; 2048];
    s.recv_from(&mut buf)
        .ok()
        .map(|(n, a)| (buf[..n].to_vec(), a))
}

/// A plain remote leg at `peer`'s address.
fn at(peer: &UdpSocket) -> Option<RemoteLeg> {
    Some(RemoteLeg {
        addr: Some(peer.local_addr().unwrap()),
        ..Default::default()
    })
}

fn rtp_leg() -> LegConfig {
    LegConfig {
        transport: Transport::Rtp,
        family: Default::default(),
    }
}

#[test]
fn plain_rtp_both_ways_with_stats() {
    let path = sock_path("plain");
    let relay = relay::spawn(config(41000), &path).unwrap();
    let mut c = Client::new(&path, Duration::from_secs(2));
    assert_eq!(c.ping().unwrap().0, 1);
    let a = c.allocate("call-1", rtp_leg(), rtp_leg()).unwrap();
    let (meta_addr, pbx_addr) = (a.meta.addrs[0], a.pbx.addrs[0]);
    assert!((41000..=41049).contains(&meta_addr.port()));

    let meta = peer();
    let pbx = peer();
    c.update(
        "call-1",
        Some(RemoteLeg {
            addr: Some(meta.local_addr().unwrap()),
            ..Default::default()
        }),
        Some(RemoteLeg {
            addr: Some(pbx.local_addr().unwrap()),
            audio_pt: Some(96),
            ..Default::default()
        }),
    )
    .unwrap();

    // Meta -> PBX, with PT rewrite 111 -> 96.
    for seq in 0..10 {
        meta.send_to(&rtp(seq, 111, &[7u8; 80]), meta_addr).unwrap();
        let (got, from) = recv(&pbx).expect("forwarded to pbx");
        assert_eq!(from, pbx_addr);
        assert_eq!(got[1] & 0x7f, 96);
        assert_eq!(&got[12..], &[7u8; 80]);
    }
    // PBX -> Meta.
    for seq in 0..5 {
        pbx.send_to(&rtp(seq, 96, &[9u8; 40]), pbx_addr).unwrap();
        let (got, from) = recv(&meta).expect("forwarded to meta");
        assert_eq!(from, meta_addr);
        assert_eq!(&got[12..], &[9u8; 40]);
    }
    // Garbage and truncated packets on both ports: dropped, counted, not forwarded.
    let evil = UdpSocket::bind("127.0.0.1:0").unwrap();
    for port in [meta_addr, pbx_addr] {
        evil.send_to(b"\xff\xfe garbage", port).unwrap();
        evil.send_to(&[0x80], port).unwrap();
        evil.send_to(&rtp(1, 111, &[0; 10]), port).unwrap(); // valid shape, wrong source: not latched
    }
    std::thread::sleep(Duration::from_millis(100));
    pbx.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    assert!(recv(&pbx).is_none());
    let st = c.stats("call-1").unwrap();
    assert_eq!(st.meta.rtp_in, 10);
    assert_eq!(st.pbx.rtp_in, 5);
    assert_eq!(st.meta.drops, 3);
    assert_eq!(st.pbx.drops, 3);
    assert_eq!(st.pbx.packets_out, 10);
    assert_eq!(st.state, "active");

    let (totals, calls) = c.stats_all().unwrap();
    assert_eq!(totals.calls, 1);
    assert_eq!(calls.len(), 1);
    let fin = c.delete("call-1").unwrap();
    assert_eq!(fin.meta.packets_in, 13);
    assert!(matches!(
        c.delete("call-1"),
        Err(relay::Error::Remote {
            code: ErrorCode::NotFound,
            ..
        })
    ));
    // A deleted call relays nothing more (its sockets went back to the pool).
    meta.send_to(&rtp(99, 111, &[1]), meta_addr).unwrap();
    assert!(recv(&pbx).is_none());
    relay.stop();
}

#[test]
fn many_calls_port_range_and_duplicates() {
    let path = sock_path("many");
    let relay = relay::spawn(config(41100), &path).unwrap();
    let mut c = Client::new(&path, Duration::from_secs(2));
    // 50 ports = 25 calls of two legs; the 26th finds no port.
    for i in 0..25 {
        c.allocate(&format!("c{i}"), rtp_leg(), rtp_leg()).unwrap();
    }
    assert!(matches!(
        c.allocate("c-extra", rtp_leg(), rtp_leg()),
        Err(relay::Error::Remote {
            code: ErrorCode::NoResources,
            ..
        })
    ));
    c.delete("c3").unwrap();
    assert!(matches!(
        c.allocate("c0", rtp_leg(), rtp_leg()),
        Err(relay::Error::Remote {
            code: ErrorCode::Exists,
            ..
        })
    ));
    c.delete("c4").unwrap();
    c.allocate("c-new", rtp_leg(), rtp_leg()).unwrap();
    assert_eq!(c.ping().unwrap().1, 24);
    relay.stop();
}

#[test]
fn survives_bad_control_input() {
    let path = sock_path("bad");
    let relay = relay::spawn(config(41200), &path).unwrap();
    let mut raw = UnixStream::connect(&path).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    raw.write_all(b"{not json\n{\"cmd\":\"nope\"}\n{\"cmd\":\"delete\"}\n\n{\"cmd\":\"ping\"}\n")
        .unwrap();
    let mut got = String::new();
    let mut buf = [0u8; 4096];
    while got.lines().count() < 4 {
        let n = raw.read(&mut buf).unwrap();
        assert!(n > 0);
        got.push_str(std::str::from_utf8(&buf[..n]).unwrap());
    }
    let lines: Vec<&str> = got.lines().collect();
    assert!(
        lines[0].contains("bad_request")
            && lines[1].contains("bad_request")
            && lines[2].contains("bad_request")
    );
    assert!(lines[3].contains("pong"));
    // An over-long line closes that connection only.
    let mut big = UnixStream::connect(&path).unwrap();
    let _ = big.write_all(&vec![b'x'; 200 * 1024]);
    let mut c = Client::new(&path, Duration::from_secs(2));
    assert!(c.ping().is_ok());
    relay.stop();
}

#[test]
fn client_reports_dead_relay() {
    let path = sock_path("dead");
    let mut c = Client::new(&path, Duration::from_millis(300));
    assert!(matches!(c.ping(), Err(relay::Error::Unavailable(_))));
    // A "relay" that accepts and never answers: the client times out.
    let _ = std::fs::remove_file(&path);
    let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let t = std::thread::spawn(move || {
        let s = l.accept().unwrap();
        std::thread::sleep(Duration::from_millis(800));
        drop(s);
    });
    let start = std::time::Instant::now();
    assert!(matches!(c.ping(), Err(relay::Error::Timeout)));
    assert!(start.elapsed() < Duration::from_millis(700));
    t.join().unwrap();
    let _ = std::fs::remove_file(&path);
    // A relay started afterwards on the same path is picked up by the same client.
    let relay = relay::spawn(config(41300), &path).unwrap();
    assert!(c.ping().is_ok());
    relay.stop();
}

#[test]
fn no_media_timeout_ends_and_reaps_the_call() {
    let path = sock_path("timeout");
    let cfg = RelayConfig {
        media_timeout_secs: 1,
        linger_secs: 1,
        ..config(41350)
    };
    let relay = relay::spawn(cfg, &path).unwrap();
    let mut c = Client::new(&path, Duration::from_secs(2));
    let a = c.allocate("quiet", rtp_leg(), rtp_leg()).unwrap();
    let meta = peer();
    c.update("quiet", at(&meta), None).unwrap();
    meta.send_to(&rtp(1, 111, &[1; 20]), a.meta.addrs[0])
        .unwrap();
    std::thread::sleep(Duration::from_millis(1600));
    let st = c.stats("quiet").unwrap();
    assert_eq!(st.state, "ended: no media", "{st:?}");
    // Freed after the linger time without the host deleting it: its ports are closed.
    std::thread::sleep(Duration::from_millis(1600));
    assert!(matches!(
        c.stats("quiet"),
        Err(relay::Error::Remote {
            code: ErrorCode::NotFound,
            ..
        })
    ));
    let (totals, _) = c.stats_all().unwrap();
    assert_eq!((totals.calls, totals.calls_ended), (0, 1));
    assert_eq!(totals.legs.rtp_in, 1);
    relay.stop();
}

#[test]
fn burst_larger_than_a_batch_is_relayed_whole() {
    // Leg sockets are edge-triggered: a socket that gave a full batch must be read again without a new edge.
    let path = sock_path("burst");
    let relay = relay::spawn(config(41550), &path).unwrap();
    let mut c = Client::new(&path, Duration::from_secs(2));
    let a = c.allocate("burst", rtp_leg(), rtp_leg()).unwrap();
    let meta = peer();
    let pbx = peer();
    c.update("burst", at(&meta), at(&pbx)).unwrap();
    // 200 packets at once: more than six batches of 32, queued before the relay reads any.
    for seq in 0..200 {
        meta.send_to(&rtp(seq, 111, &[5u8; 40]), a.meta.addrs[0])
            .unwrap();
    }
    let mut got = 0;
    while recv(&pbx).is_some() {
        got += 1;
        if got == 200 {
            break;
        }
    }
    assert_eq!(got, 200);
    relay.stop();
}

/// Plain forwarding that panics on a datagram starting with "BOOM": a bug in one call's engine.
struct Fragile(Box<dyn Engine>);

impl Engine for Fragile {
    fn update(
        &mut self,
        now: std::time::Instant,
        side: Side,
        remote: &RemoteLeg,
    ) -> Result<(), String> {
        self.0.update(now, side, remote)
    }
    fn on_datagram(
        &mut self,
        now: std::time::Instant,
        side: Side,
        sock: usize,
        from: SocketAddr,
        data: &mut [u8],
        out: &mut Outbox<'_>,
    ) {
        if data.starts_with(b"BOOM") {
            panic!("engine bug (test)");
        }
        self.0.on_datagram(now, side, sock, from, data, out)
    }
    fn on_timeout(&mut self, now: std::time::Instant, out: &mut Outbox<'_>) {
        self.0.on_timeout(now, out)
    }
    fn next_timeout(&self) -> Option<std::time::Instant> {
        self.0.next_timeout()
    }
    fn leg_stats(&self, side: Side) -> LegStats {
        self.0.leg_stats(side)
    }
    fn count_drop(&mut self, side: Side) {
        self.0.count_drop(side)
    }
    fn ended(&self) -> Option<&str> {
        self.0.ended()
    }
}

#[derive(Default)]
struct FragileFactory(DefaultFactory);

impl EngineFactory for FragileFactory {
    fn create(
        &self,
        spec: &EngineSpec<'_>,
    ) -> Result<(Box<dyn Engine>, [LegAllocation; 2]), String> {
        let (e, a) = self.0.create(spec)?;
        Ok((Box::new(Fragile(e)), a))
    }
}

#[test]
fn a_panicking_call_ends_alone() {
    let path = sock_path("fragile");
    // One worker: both calls share its loop and its lock.
    let cfg = RelayConfig {
        workers: 1,
        ..config(41600)
    };
    let relay = relay::spawn_with(cfg, &path, Box::<FragileFactory>::default()).unwrap();
    let mut c = Client::new(&path, Duration::from_secs(2));
    let mut peers = Vec::new();
    for id in ["bad", "good"] {
        let a = c.allocate(id, rtp_leg(), rtp_leg()).unwrap();
        let (meta, pbx) = (peer(), peer());
        c.update(id, at(&meta), at(&pbx)).unwrap();
        peers.push((a, meta, pbx));
    }
    let (bad, good) = (&peers[0], &peers[1]);
    bad.1
        .send_to(b"BOOM and then some", bad.0.meta.addrs[0])
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // The broken call relays nothing more; the other one carries on, and so does the control channel.
    bad.1
        .send_to(&rtp(1, 111, &[1; 20]), bad.0.meta.addrs[0])
        .unwrap();
    good.1
        .send_to(&rtp(1, 111, &[2; 20]), good.0.meta.addrs[0])
        .unwrap();
    let (got, _) = recv(&good.2).expect("the good call still relays");
    assert_eq!(&got[12..], &[2; 20]);
    bad.2
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(recv(&bad.2).is_none());
    assert_eq!(c.stats("bad").unwrap().state, "ended: internal error");
    assert_eq!(c.stats("good").unwrap().state, "active");
    assert!(c.update("bad", None, None).is_err() || c.stats("bad").is_ok());
    c.delete("bad").unwrap();
    assert_eq!(c.ping().unwrap().1, 1);
    // A new call on the same worker works.
    c.allocate("after", rtp_leg(), rtp_leg()).unwrap();
    relay.stop();
}

#[test]
fn update_carries_the_local_sdes_keys() {
    let path = sock_path("localkeys");
    let relay = relay::spawn(config(41650), &path).unwrap();
    let mut c = Client::new(&path, Duration::from_secs(2));
    let sdes = || LegConfig {
        transport: Transport::Sdes,
        family: Default::default(),
    };
    let a = c.allocate("k", sdes(), sdes()).unwrap();
    let remote = |p: &UdpSocket, key| RemoteLeg {
        addr: Some(p.local_addr().unwrap()),
        sdes: Some(key),
        ..Default::default()
    };
    let (meta, pbx) = (peer(), peer());
    let theirs = a.meta.sdes.clone().unwrap();
    // A key that does not parse is refused with the request, before anything changes.
    let bad = wacall::relay::SdesKey {
        suite: theirs.suite.clone(),
        key: "!!".into(),
    };
    assert!(matches!(
        c.update_with_local_sdes(
            "k",
            Some(remote(&meta, theirs.clone())),
            Some(remote(&pbx, theirs.clone())),
            [Some(bad), None],
        ),
        Err(relay::Error::Remote {
            code: ErrorCode::Rejected,
            ..
        })
    ));
    // Good keys for both legs and both far ends: one request.
    let ours = a.pbx.sdes.clone().unwrap();
    c.update_with_local_sdes(
        "k",
        Some(remote(&meta, theirs.clone())),
        Some(remote(&pbx, theirs)),
        [Some(ours.clone()), Some(ours)],
    )
    .unwrap();
    assert_eq!(c.stats("k").unwrap().state, "active");
    relay.stop();
}
