//! The two relays under test, started pinned to core 0 and driven through their own control protocols:
//! wacall's relay (`Client`: allocate/update/delete) and rtpengine (ng protocol: offer/answer/delete).

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use wacall::media::{SrtpKeyMaterial, SrtpProfile};
use wacall::relay::media_engine::{material_to_sdes, sdes_to_material};
use wacall::relay::{Candidate, Client, Family, LegConfig, RemoteLeg, Transport};

use crate::bencode::{dict, Value};
use crate::peer::IceCreds;

/// What one generator call needs to know after set-up.
pub struct CallWiring {
    /// Where leg A (the "Meta" side) sends, and the relay port that sends to A.
    pub a_dest: SocketAddr,
    /// Where leg B (the PBX side) sends.
    pub b_dest: SocketAddr,
    /// The key the relay encrypts with toward A / toward B (None: plain RTP).
    pub a_rx: Option<SrtpKeyMaterial>,
    pub b_rx: Option<SrtpKeyMaterial>,
}

pub trait Relay {
    fn name(&self) -> &'static str;
    fn pid(&self) -> u32;
    /// Sets up call `id` between generator endpoints `a` and `b`; A always sends SRTP with `a_key`, B sends
    /// SRTP with `b_key` or plain RTP when None.
    fn setup(
        &mut self,
        id: usize,
        a: SocketAddr,
        b: SocketAddr,
        a_key: &SrtpKeyMaterial,
        b_key: Option<&SrtpKeyMaterial>,
    ) -> Result<CallWiring, String>;
    /// Sets up call `id` with a DTLS-SRTP leg A (the generator is its ice-lite side and DTLS server, `offer`) and
    /// an SDES leg B sending with `b_key`. The relay is the DTLS client on A; its handshake is the generator's
    /// business (see `Generator::pump`).
    fn setup_dtls(
        &mut self,
        id: usize,
        a: SocketAddr,
        b: SocketAddr,
        offer: &DtlsOffer<'_>,
        b_key: &SrtpKeyMaterial,
    ) -> Result<DtlsWiring, String>;
    fn teardown(&mut self, id: usize) -> Result<(), String>;
}

/// What the generator announces for its DTLS leg A: ICE credentials (ice-lite, one host candidate) and its
/// certificate's fingerprint.
pub struct DtlsOffer<'a> {
    pub creds: &'a IceCreds,
    pub fingerprint: &'a str,
}

/// A DTLS call after set-up, before its handshake.
pub struct DtlsWiring {
    pub a_dest: SocketAddr,
    pub b_dest: SocketAddr,
    /// The key the relay encrypts with toward B.
    pub b_rx: SrtpKeyMaterial,
    /// The relay's certificate fingerprint on leg A ("sha-256 AB:...").
    pub a_fingerprint: String,
}

/// `prog` pinned to `cpu` at nice -20: this machine is shared (compilers run beside the benchmark), and the
/// relay under test must get its core, not a sixth of it. Both relays get the same treatment.
fn pinned(cpu: usize, prog: &str) -> Command {
    let mut c = Command::new("nice");
    c.args(["-n", "-20", "taskset", "-c"])
        .arg(cpu.to_string())
        .arg(prog);
    c
}

fn kill(child: &mut Child) {
    // SIGTERM first so rtpengine can clean up; then make sure.
    // SAFETY-free: kill(1) through the command line keeps this crate free of unsafe outside net.rs.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// wacall's relay in its own process (this binary's `serve-wacall`), one event loop, pinned to `cpu`.
pub struct Wacall {
    child: Child,
    client: Client,
    socket: PathBuf,
}

impl Wacall {
    pub fn start(cpu: usize, dir: &Path, port_min: u16, port_max: u16) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let socket = dir.join("wacall-relay.sock");
        let _ = std::fs::remove_file(&socket);
        let log = std::fs::File::create(dir.join("wacall-relay.log")).map_err(|e| e.to_string())?;
        let child = pinned(cpu, &exe.to_string_lossy())
            .arg("serve-wacall")
            .arg(&socket)
            .arg(port_min.to_string())
            .arg(port_max.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("start wacall relay: {e}"))?;
        let mut client = Client::new(&socket, Duration::from_secs(5));
        let t = Instant::now();
        loop {
            if client.ping().is_ok() {
                break;
            }
            if t.elapsed() > Duration::from_secs(10) {
                let mut w = Wacall {
                    child,
                    client,
                    socket,
                };
                w.stop();
                return Err("wacall relay did not come up".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Wacall {
            child,
            client,
            socket,
        })
    }

    pub fn stop(&mut self) {
        kill(&mut self.child);
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Drop for Wacall {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Relay for Wacall {
    fn name(&self) -> &'static str {
        "wacall"
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn setup(
        &mut self,
        id: usize,
        a: SocketAddr,
        b: SocketAddr,
        a_key: &SrtpKeyMaterial,
        b_key: Option<&SrtpKeyMaterial>,
    ) -> Result<CallWiring, String> {
        let call_id = format!("bench-{id}");
        let leg = |t| LegConfig {
            transport: t,
            family: Family::Ipv4,
        };
        let pbx_t = if b_key.is_some() {
            Transport::Sdes
        } else {
            Transport::Rtp
        };
        let alloc = self
            .client
            .allocate(&call_id, leg(Transport::Sdes), leg(pbx_t))
            .map_err(|e| format!("allocate: {e}"))?;
        let meta_remote = RemoteLeg {
            addr: Some(a),
            sdes: Some(material_to_sdes(a_key)),
            ..RemoteLeg::default()
        };
        let pbx_remote = RemoteLeg {
            addr: Some(b),
            sdes: b_key.map(material_to_sdes),
            ..RemoteLeg::default()
        };
        self.client
            .update(&call_id, Some(meta_remote), Some(pbx_remote))
            .map_err(|e| format!("update: {e}"))?;
        let first = |v: &[SocketAddr]| v.first().copied().ok_or("no address allocated");
        Ok(CallWiring {
            a_dest: first(&alloc.meta.addrs)?,
            b_dest: first(&alloc.pbx.addrs)?,
            a_rx: alloc.meta.sdes.as_ref().map(sdes_to_material).transpose()?,
            b_rx: alloc.pbx.sdes.as_ref().map(sdes_to_material).transpose()?,
        })
    }

    fn setup_dtls(
        &mut self,
        id: usize,
        a: SocketAddr,
        b: SocketAddr,
        offer: &DtlsOffer<'_>,
        b_key: &SrtpKeyMaterial,
    ) -> Result<DtlsWiring, String> {
        let call_id = format!("bench-{id}");
        let leg = |t| LegConfig {
            transport: t,
            family: Family::Ipv4,
        };
        let alloc = self
            .client
            .allocate(&call_id, leg(Transport::Dtls), leg(Transport::Sdes))
            .map_err(|e| format!("allocate: {e}"))?;
        // Meta's side as its SDP says it: ice-lite, one host candidate, DTLS fingerprint.
        let meta_remote = RemoteLeg {
            addr: Some(a),
            ice_ufrag: Some(offer.creds.ufrag.clone()),
            ice_pwd: Some(offer.creds.pwd.clone()),
            candidates: vec![Candidate {
                addr: a,
                priority: 2_130_706_431,
                foundation: "1".into(),
                component: 1,
            }],
            ice_lite: true,
            fingerprint: Some(offer.fingerprint.to_owned()),
            ..RemoteLeg::default()
        };
        let pbx_remote = RemoteLeg {
            addr: Some(b),
            sdes: Some(material_to_sdes(b_key)),
            ..RemoteLeg::default()
        };
        self.client
            .update(&call_id, Some(meta_remote), Some(pbx_remote))
            .map_err(|e| format!("update: {e}"))?;
        let first = |v: &[SocketAddr]| v.first().copied().ok_or("no address allocated");
        Ok(DtlsWiring {
            a_dest: first(&alloc.meta.addrs)?,
            b_dest: first(&alloc.pbx.addrs)?,
            b_rx: sdes_to_material(alloc.pbx.sdes.as_ref().ok_or("no SDES key on leg B")?)?,
            a_fingerprint: alloc
                .meta
                .fingerprint
                .ok_or("no DTLS fingerprint on leg A")?,
        })
    }

    fn teardown(&mut self, id: usize) -> Result<(), String> {
        self.client
            .delete(&format!("bench-{id}"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// rtpengine (Debian's rtpengine-daemon), userspace forwarding only (`--table=-1`), pinned to `cpu`.
pub struct Rtpengine {
    child: Child,
    ng: UdpSocket,
    ng_addr: SocketAddr,
    cookie: u64,
}

fn b64(k: &SrtpKeyMaterial) -> String {
    base64::engine::general_purpose::STANDARD.encode(k.key_and_salt())
}

fn sdp(id: usize, port: u16, srtp: Option<(u32, &str, &SrtpKeyMaterial)>) -> String {
    let proto = if srtp.is_some() {
        "RTP/SAVP"
    } else {
        "RTP/AVP"
    };
    let mut s = format!(
        "v=0\r\no=- {id} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} {proto} 111\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-mux\r\n"
    );
    if let Some((tag, suite, k)) = srtp {
        s.push_str(&format!("a=crypto:{tag} {suite} inline:{}\r\n", b64(k)));
    }
    s.push_str("a=sendrecv\r\n");
    s
}

/// From an SDP: the media address and the crypto lines (tag, suite, key).
/// One `a=crypto` line: tag, suite, inline key.
type Crypto = (u32, String, String);

fn parse_sdp(s: &str) -> Result<(SocketAddr, Vec<Crypto>), String> {
    let mut ip = None;
    let mut port = None;
    let mut crypto = Vec::new();
    for l in s.lines() {
        let l = l.trim_end();
        if let Some(r) = l.strip_prefix("c=IN IP4 ") {
            ip = r.split_whitespace().next().map(str::to_owned);
        } else if let Some(r) = l.strip_prefix("m=audio ") {
            port = r
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok());
        } else if let Some(r) = l.strip_prefix("a=crypto:") {
            let f: Vec<&str> = r.split_whitespace().collect();
            if f.len() >= 3 {
                let tag = f[0].parse().unwrap_or(0);
                let key = f[2].trim_start_matches("inline:").to_owned();
                crypto.push((tag, f[1].to_owned(), key));
            }
        }
    }
    let addr = format!("{}:{}", ip.ok_or("no c= line")?, port.ok_or("no m=audio")?)
        .parse()
        .map_err(|_| "bad media address".to_string())?;
    Ok((addr, crypto))
}

fn key_of(suite: &str, key: &str) -> Result<SrtpKeyMaterial, String> {
    sdes_to_material(&wacall::relay::SdesKey {
        suite: suite.into(),
        key: key.into(),
    })
}

pub const SUITE: &str = "AES_CM_128_HMAC_SHA1_80";

impl Rtpengine {
    pub fn start(
        cpu: usize,
        dir: &Path,
        ng_port: u16,
        client_port: u16,
        port_min: u16,
        port_max: u16,
    ) -> Result<Self, String> {
        let log = std::fs::File::create(dir.join("rtpengine.log")).map_err(|e| e.to_string())?;
        let child = pinned(cpu, "rtpengine")
            .args([
                "--config-file=none",
                "--foreground",
                "--table=-1",
                "--interface=127.0.0.1",
                "--log-stderr",
            ])
            // LOADGEN_RTPENGINE_LOG_LEVEL=7 for debugging (the default keeps warnings and errors).
            .arg(format!(
                "--log-level={}",
                std::env::var("LOADGEN_RTPENGINE_LOG_LEVEL").unwrap_or_else(|_| "4".into())
            ))
            .arg(format!("--listen-ng=127.0.0.1:{ng_port}"))
            .arg(format!("--port-min={port_min}"))
            .arg(format!("--port-max={port_max}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("start rtpengine: {e}"))?;
        let ng = UdpSocket::bind(("127.0.0.1", client_port)).map_err(|e| e.to_string())?;
        ng.set_read_timeout(Some(Duration::from_millis(500)))
            .map_err(|e| e.to_string())?;
        let mut r = Rtpengine {
            child,
            ng,
            ng_addr: SocketAddr::from(([127, 0, 0, 1], ng_port)),
            cookie: 0,
        };
        let t = Instant::now();
        loop {
            if r.request(dict(vec![("command", Value::s("ping"))])).is_ok() {
                return Ok(r);
            }
            if t.elapsed() > Duration::from_secs(10) {
                r.stop();
                return Err("rtpengine did not answer ng ping (see rtpengine.log)".into());
            }
        }
    }

    pub fn stop(&mut self) {
        kill(&mut self.child);
    }

    fn request(&mut self, msg: Value) -> Result<Value, String> {
        self.cookie += 1;
        let cookie = format!("{}_{}", std::process::id(), self.cookie);
        let mut out = format!("{cookie} ").into_bytes();
        msg.encode(&mut out);
        let mut buf = vec![0u8; 65536];
        for _ in 0..4 {
            self.ng
                .send_to(&out, self.ng_addr)
                .map_err(|e| e.to_string())?;
            while let Ok(n) = self.ng.recv(&mut buf) {
                {
                    {
                        let b = &buf[..n];
                        let Some(sp) = b.iter().position(|&c| c == b' ') else {
                            continue;
                        };
                        if &b[..sp] != cookie.as_bytes() {
                            continue; // a late answer to an earlier retry
                        }
                        let (v, _) = Value::decode(&b[sp + 1..]).ok_or("bad ng reply")?;
                        let result = v.get("result").and_then(Value::as_str).unwrap_or("");
                        if result == "ok" || result == "pong" {
                            return Ok(v);
                        }
                        let reason = v.get("error-reason").and_then(Value::as_str).unwrap_or("");
                        return Err(format!("rtpengine: {result} {reason}"));
                    }
                }
            }
        }
        Err("rtpengine: no ng reply".into())
    }
}

impl Drop for Rtpengine {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Relay for Rtpengine {
    fn name(&self) -> &'static str {
        "rtpengine"
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn setup(
        &mut self,
        id: usize,
        a: SocketAddr,
        b: SocketAddr,
        a_key: &SrtpKeyMaterial,
        b_key: Option<&SrtpKeyMaterial>,
    ) -> Result<CallWiring, String> {
        let call_id = format!("bench-{id}");
        let b_proto = if b_key.is_some() {
            "RTP/SAVP"
        } else {
            "RTP/AVP"
        };
        let offer = dict(vec![
            ("command", Value::s("offer")),
            ("call-id", Value::s(&call_id)),
            ("from-tag", Value::s("a")),
            (
                "sdp",
                Value::s(&sdp(
                    id,
                    a.port(),
                    Some((1, a_key.profile().sdes_name(), a_key)),
                )),
            ),
            ("transport-protocol", Value::s(b_proto)),
            ("ICE", Value::s("remove")),
            ("replace", Value::list(&["origin", "session-connection"])),
        ]);
        let r = self.request(offer)?;
        let (b_dest, crypto_b) = parse_sdp(
            r.get("sdp")
                .and_then(Value::as_str)
                .ok_or("offer: no sdp")?,
        )?;
        let mut b_rx = None;
        let mut b_tag = 1;
        if b_key.is_some() {
            // rtpengine offers A's own suite with A's key first (pass-through, no crypto work) and other suites
            // with fresh keys: A sends _32, B takes _80 with rtpengine's fresh key, so rtpengine must
            // decrypt and re-encrypt every packet, the job wacall's relay does.
            let (tag, suite, key) = crypto_b
                .iter()
                .find(|c| c.1 == SUITE && c.2 != b64(a_key))
                .ok_or("rtpengine offered no fresh AES_CM_128_HMAC_SHA1_80 key")?;
            b_tag = *tag;
            b_rx = Some(key_of(suite, key)?);
        }
        let answer_sdp = sdp(id, b.port(), b_key.map(|k| (b_tag, SUITE, k)));
        let answer = dict(vec![
            ("command", Value::s("answer")),
            ("call-id", Value::s(&call_id)),
            ("from-tag", Value::s("a")),
            ("to-tag", Value::s("b")),
            ("sdp", Value::s(&answer_sdp)),
            ("transport-protocol", Value::s("RTP/SAVP")),
            ("ICE", Value::s("remove")),
            ("replace", Value::list(&["origin", "session-connection"])),
        ]);
        let r = self.request(answer)?;
        let (a_dest, crypto_a) = parse_sdp(
            r.get("sdp")
                .and_then(Value::as_str)
                .ok_or("answer: no sdp")?,
        )?;
        let (_, suite, key) = crypto_a
            .first()
            .ok_or("rtpengine answered without crypto")?;
        let a_rx = key_of(suite, key)?;
        if b_rx.as_ref().map(|k| k.key_and_salt()) == Some(a_key.key_and_salt()) {
            return Err("rtpengine passed A's key through: no re-encryption".into());
        }
        Ok(CallWiring {
            a_dest,
            b_dest,
            a_rx: Some(a_rx),
            b_rx,
        })
    }

    fn setup_dtls(
        &mut self,
        id: usize,
        a: SocketAddr,
        b: SocketAddr,
        offer: &DtlsOffer<'_>,
        b_key: &SrtpKeyMaterial,
    ) -> Result<DtlsWiring, String> {
        let call_id = format!("bench-{id}");
        // A (Meta) offers DTLS-SRTP with ICE as Meta does (ice-lite, one host candidate) and `a=setup:passive`:
        // rtpengine becomes the full ICE agent and DTLS client on A, as wacall is. ICE is removed toward B only.
        let a_sdp = format!(
            "v=0\r\no=- {id} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\na=ice-lite\r\n\
             m=audio {port} UDP/TLS/RTP/SAVP 111\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-mux\r\n\
             a=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\n\
             a=candidate:1 1 udp 2130706431 127.0.0.1 {port} typ host\r\n\
             a=fingerprint:{fp}\r\na=setup:passive\r\na=sendrecv\r\n",
            port = a.port(),
            ufrag = offer.creds.ufrag,
            pwd = offer.creds.pwd,
            fp = offer.fingerprint,
        );
        let r = self.request(dict(vec![
            ("command", Value::s("offer")),
            ("call-id", Value::s(&call_id)),
            ("from-tag", Value::s("a")),
            ("sdp", Value::s(&a_sdp)),
            ("transport-protocol", Value::s("RTP/SAVP")),
            ("ICE", Value::s("remove")),
            ("replace", Value::list(&["origin", "session-connection"])),
        ]))?;
        let (b_dest, crypto_b) = parse_sdp(
            r.get("sdp")
                .and_then(Value::as_str)
                .ok_or("offer: no sdp")?,
        )?;
        // A's keys come from DTLS, so any SDES key toward B means decrypt + re-encrypt.
        let (b_tag, suite, key) = crypto_b
            .iter()
            .find(|c| c.1 == SUITE)
            .ok_or("rtpengine offered no AES_CM_128_HMAC_SHA1_80 key")?;
        let b_rx = key_of(suite, key)?;
        let r = self.request(dict(vec![
            ("command", Value::s("answer")),
            ("call-id", Value::s(&call_id)),
            ("from-tag", Value::s("a")),
            ("to-tag", Value::s("b")),
            (
                "sdp",
                Value::s(&sdp(id, b.port(), Some((*b_tag, SUITE, b_key)))),
            ),
            ("replace", Value::list(&["origin", "session-connection"])),
        ]))?;
        let a_answer = r
            .get("sdp")
            .and_then(Value::as_str)
            .ok_or("answer: no sdp")?;
        let (a_dest, _) = parse_sdp(a_answer)?;
        let attr = |name: &str| {
            a_answer
                .lines()
                .find_map(|l| l.trim_end().strip_prefix(name).map(str::to_owned))
        };
        if attr("a=setup:").as_deref() != Some("active") {
            return Err("rtpengine did not take the DTLS client role (a=setup:active) on A".into());
        }
        Ok(DtlsWiring {
            a_dest,
            b_dest,
            b_rx,
            a_fingerprint: attr("a=fingerprint:")
                .ok_or("rtpengine answered without a=fingerprint")?,
        })
    }

    fn teardown(&mut self, id: usize) -> Result<(), String> {
        self.request(dict(vec![
            ("command", Value::s("delete")),
            ("call-id", Value::s(&format!("bench-{id}"))),
            ("from-tag", Value::s("a")),
        ]))
        .map(|_| ())
    }
}

/// A fresh random key for the generator's own sending.
pub fn random_key(profile: SrtpProfile) -> Result<SrtpKeyMaterial, String> {
    SrtpKeyMaterial::random(profile).map_err(|e| e.to_string())
}
