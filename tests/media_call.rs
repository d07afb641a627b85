//! Full call pair tests, all in memory with a fake clock: our Call between a Meta-like peer (ice-lite, DTLS
//! server or SDES, silent until our first SRTP packet) and a PBX SDES/plain peer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wacall::media::call::Outbox;
use wacall::media::ice::RemoteCandidate;
use wacall::media::peer::{MetaLikePeer, PbxPeer, PeerTransmit};
use wacall::media::rtp::OPUS_SILENCE;
use wacall::media::{
    Call, CallConfig, CallEvent, CallState, CallTiming, DtlsCertificate, FailReason,
    IceCredentials, LegConfig, LegId, LegMode, LocalLeg, PayloadTypes, RemoteIce, RemoteLeg,
    SrtpKeyMaterial, SrtpProfile,
};

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const META_V4: &str = "157.240.0.1:3480";
const META_V6: &str = "[2a03:2880::1]:3480";
const OUR_META_V4: &str = "10.0.0.1:40000";
const OUR_META_V6: &str = "[fd00::1]:40000";
const OUR_PBX: &str = "10.0.0.1:40002";
const PBX: &str = "192.0.2.10:5004";

struct World {
    now: Instant,
    call: Call,
    meta: MetaLikePeer,
    pbx: PbxPeer,
    out: Outbox,
    events: Vec<CallEvent>,
    /// Drop datagrams toward the Meta peer while true.
    cut_meta: bool,
}

enum MetaMode {
    Dtls { wrong_fingerprint: bool },
    Sdes,
}

fn world(mode: MetaMode, timing: CallTiming, pbx_sends_from: Option<&str>) -> World {
    let now = Instant::now();
    let ours = Arc::new(DtlsCertificate::generate().unwrap());
    let meta_cert = DtlsCertificate::generate().unwrap();
    let impostor = DtlsCertificate::generate().unwrap();
    let meta_ice = IceCredentials::random();
    let meta_pt = PayloadTypes {
        audio: 111,
        dtmf: Some(126),
        clock_rate: 48_000,
    };
    let pbx_pt = PayloadTypes {
        audio: 107,
        dtmf: Some(101),
        clock_rate: 48_000,
    };

    let (meta_local, meta_remote, meta_peer) = match mode {
        MetaMode::Dtls { wrong_fingerprint } => {
            let mut local = LocalLeg::new(LegMode::DtlsSrtp, vec![a(OUR_META_V4), a(OUR_META_V6)]);
            local.dtls_cert = Some(ours.clone());
            local.ice = Some(IceCredentials::random());
            let announced = if wrong_fingerprint {
                impostor.fingerprint().clone()
            } else {
                meta_cert.fingerprint().clone()
            };
            let remote = RemoteLeg {
                addr: Some(a(META_V4)),
                fingerprint: Some(announced),
                ice: Some(RemoteIce {
                    credentials: meta_ice.clone(),
                    candidates: vec![
                        RemoteCandidate {
                            addr: a(META_V4),
                            priority: 2122260223,
                        },
                        RemoteCandidate {
                            addr: a(META_V6),
                            priority: 2122262783,
                        },
                    ],
                    lite: true,
                }),
                payload: meta_pt,
                ..Default::default()
            };
            let peer = MetaLikePeer::new_dtls(
                vec![a(META_V4), a(META_V6)],
                meta_ice,
                &meta_cert,
                ours.fingerprint().clone(),
            )
            .unwrap();
            (local, remote, peer)
        }
        MetaMode::Sdes => {
            let our_key = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
            let meta_key = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
            let mut local = LocalLeg::new(LegMode::Sdes, vec![a(OUR_META_V4)]);
            local.sdes_key = Some(our_key.clone());
            local.latch = true;
            let remote = RemoteLeg {
                addr: Some(a(META_V4)),
                sdes_key: Some(meta_key.clone()),
                payload: meta_pt,
                ..Default::default()
            };
            let peer = MetaLikePeer::new_sdes(vec![a(META_V4)], meta_key, our_key).unwrap();
            (local, remote, peer)
        }
    };
    let relay_pbx_key = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
    let pbx_key = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
    let mut pbx_local = LocalLeg::new(LegMode::Sdes, vec![a(OUR_PBX)]);
    pbx_local.sdes_key = Some(relay_pbx_key.clone());
    pbx_local.latch = true;
    let pbx_remote = RemoteLeg {
        addr: Some(a(PBX)),
        sdes_key: Some(pbx_key.clone()),
        payload: pbx_pt,
        ..Default::default()
    };
    let pbx_addr = a(pbx_sends_from.unwrap_or(PBX));
    let pbx = PbxPeer::new(pbx_addr, a(OUR_PBX), Some((&pbx_key, &relay_pbx_key)), 107).unwrap();

    let config = CallConfig {
        meta: LegConfig {
            local: meta_local,
            remote: Some(meta_remote),
        },
        pbx: LegConfig {
            local: pbx_local,
            remote: Some(pbx_remote),
        },
        timing,
    };
    let call = Call::new(now, config).unwrap();
    World {
        now,
        call,
        meta: meta_peer,
        pbx,
        out: Outbox::new(),
        events: Vec::new(),
        cut_meta: false,
    }
}

impl World {
    /// Delivers the outbox; replies from peers go straight back into the call. Returns datagrams delivered.
    fn deliver(&mut self) {
        for _ in 0..50 {
            let sends: Vec<PeerTransmit> = self
                .out
                .transmits()
                .map(|t| PeerTransmit {
                    local: t.local,
                    remote: t.remote,
                    data: t.data.to_vec(),
                })
                .collect();
            self.events.extend(self.out.events().iter().cloned());
            self.out.clear();
            if sends.is_empty() {
                return;
            }
            let mut replies = Vec::new();
            for t in sends {
                if self.meta.addrs().contains(&t.remote) {
                    if !self.cut_meta {
                        replies
                            .extend(self.meta.handle_input(self.now, t.remote, t.local, &t.data));
                    }
                } else if t.remote == self.pbx.addr {
                    assert_eq!(t.local, a(OUR_PBX));
                    self.pbx.handle_input(&t.data);
                } else {
                    panic!("datagram to unknown address {}", t.remote);
                }
            }
            for r in replies {
                self.input(r);
            }
        }
    }

    fn input(&mut self, t: PeerTransmit) {
        let leg = if t.remote == a(OUR_PBX) {
            LegId::Pbx
        } else {
            LegId::Meta
        };
        let mut buf = t.data;
        self.call
            .handle_input(self.now, leg, t.remote, t.local, &mut buf, &mut self.out);
    }

    /// Runs for `d` of fake time; each side sends one audio packet per 20 ms when `talk`.
    fn run(&mut self, d: Duration, pbx_talks: bool, meta_talks: bool) {
        let end = self.now + d;
        let mut next_audio = self.now;
        let mut n: u32 = 0;
        while self.now < end {
            if self.now >= next_audio {
                n += 1;
                if pbx_talks {
                    let p = self.pbx.send_audio(format!("pbx-{n}").as_bytes()).unwrap();
                    self.input(p);
                }
                if meta_talks {
                    if let Some(p) = self.meta.send_audio(format!("meta-{n}").as_bytes()) {
                        self.input(p);
                    }
                }
                next_audio += Duration::from_millis(20);
            }
            self.call.handle_timeout(self.now, &mut self.out);
            for t in self.meta.handle_timeout(self.now) {
                self.input(t);
            }
            self.deliver();
            let mut next = next_audio.min(end);
            if let Some(t) = self.call.poll_timeout() {
                next = next.min(t);
            }
            self.now = next.max(self.now + Duration::from_micros(100));
        }
    }

    fn meta_payloads(&self) -> Vec<Vec<u8>> {
        self.meta
            .received()
            .iter()
            .map(|(_, p)| p.clone())
            .collect()
    }
}

#[test]
fn dtls_call_audio_both_ways() {
    let mut w = world(
        MetaMode::Dtls {
            wrong_fingerprint: false,
        },
        CallTiming::default(),
        None,
    );
    w.run(Duration::from_secs(3), true, true);

    assert!(
        w.events.iter().any(|e| matches!(
            e,
            CallEvent::IceConnected {
                leg: LegId::Meta,
                ..
            }
        )),
        "{:?}",
        w.events
    );
    assert!(w
        .events
        .contains(&CallEvent::DtlsConnected { leg: LegId::Meta }));
    assert!(w
        .events
        .contains(&CallEvent::KeysReady { leg: LegId::Meta }));
    assert!(w.events.contains(&CallEvent::KeysReady { leg: LegId::Pbx }));
    assert_eq!(w.call.state(), CallState::Active);

    // Meta got the maiden silence packet first, then the PBX audio, in order, with Meta's PT.
    let got = w.meta_payloads();
    assert_eq!(got[0], OPUS_SILENCE.to_vec(), "maiden packet first");
    let audio: Vec<String> = got
        .iter()
        .skip(1)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    assert_eq!(
        audio[0], "pbx-1",
        "audio from before DTLS completed was buffered, not lost"
    );
    let nums: Vec<u32> = audio
        .iter()
        .filter_map(|s| s.strip_prefix("pbx-")?.parse().ok())
        .collect();
    assert!(
        nums.windows(2).all(|w| w[1] == w[0] + 1),
        "in order, none lost: {nums:?}"
    );
    assert!(nums.len() >= 140, "about 3 s of audio: {}", nums.len());
    assert!(w.meta.received().iter().all(|(pt, _)| *pt == 111));

    // The PBX got Meta's audio with its own PT.
    let pbx_got = w.pbx.received();
    assert!(pbx_got.len() >= 100, "{}", pbx_got.len());
    assert!(pbx_got.iter().all(|(pt, _)| *pt == 107));
    assert!(String::from_utf8_lossy(&pbx_got[0].1).starts_with("meta-"));

    let s = w.call.stats();
    assert_eq!(s.meta.auth_failures + s.pbx.auth_failures, 0);
    assert!(
        s.pbx.buffered > 0 && s.pbx.flushed == s.pbx.buffered,
        "{:?}",
        s.pbx
    );
}

#[test]
fn sdes_call_audio_both_ways() {
    let mut w = world(MetaMode::Sdes, CallTiming::default(), None);
    // Keys exist at set-up: the call wants to run at once, and the maiden packet goes out without any input.
    assert_eq!(w.call.poll_timeout(), Some(w.now));
    let now = w.now;
    w.call.handle_timeout(now, &mut w.out);
    assert_eq!(w.out.len(), 1, "maiden packet");
    assert!(w
        .out
        .events()
        .contains(&CallEvent::KeysReady { leg: LegId::Meta }));
    w.run(Duration::from_secs(1), true, true);
    let got = w.meta_payloads();
    assert_eq!(got[0], OPUS_SILENCE.to_vec(), "maiden packet first");
    assert_eq!(got[1], b"pbx-1".to_vec());
    assert!(w.pbx.received().len() >= 40);
    assert_eq!(w.call.state(), CallState::Active);
}

#[test]
fn wrong_fingerprint_no_media() {
    let mut w = world(
        MetaMode::Dtls {
            wrong_fingerprint: true,
        },
        CallTiming::default(),
        None,
    );
    w.run(Duration::from_secs(3), true, true);
    assert!(
        w.events.iter().any(|e| matches!(
            e,
            CallEvent::Failed {
                leg: LegId::Meta,
                reason: FailReason::FingerprintMismatch
            }
        )),
        "{:?}",
        w.events
    );
    assert_eq!(w.call.state(), CallState::Ended);
    assert!(w.meta.received().is_empty(), "no media toward Meta");
    assert!(!w.meta.got_first_srtp());
    assert!(w.pbx.received().is_empty(), "no media toward the PBX");
    assert_eq!(w.call.poll_timeout(), None);
}

#[test]
fn pbx_latches_to_actual_source() {
    let mut w = world(
        MetaMode::Sdes,
        CallTiming::default(),
        Some("192.0.2.10:6000"),
    );
    w.run(Duration::from_secs(1), true, true);
    assert!(w.events.contains(&CallEvent::RemoteSelected {
        leg: LegId::Pbx,
        remote: a("192.0.2.10:6000")
    }));
    assert_eq!(w.call.remote_addr(LegId::Pbx), Some(a("192.0.2.10:6000")));
    assert!(w.pbx.received().len() >= 40);
}

#[test]
fn rtcp_and_silence_toward_meta() {
    let mut w = world(
        MetaMode::Dtls {
            wrong_fingerprint: false,
        },
        CallTiming::default(),
        None,
    );
    // PBX silent (on hold): Meta still gets silence and RTCP; Meta keeps talking so no timeout.
    w.run(Duration::from_secs(11), false, true);
    assert!(w.meta.stats.rtcp_in >= 2, "{:?}", w.meta.stats);
    let silence = w
        .meta
        .received()
        .iter()
        .filter(|(_, p)| p == &OPUS_SILENCE.to_vec())
        .count();
    assert!(silence > 400, "silence filler every 20 ms: {silence}");
    assert!(w.pbx.stats.rtcp_in >= 2);
    let s = w.call.stats();
    assert!(s.meta.rtcp_out >= 2 && s.pbx.rtcp_out >= 2);
}

#[test]
fn media_timeout_mid_call() {
    let timing = CallTiming {
        media_timeout_mid: Duration::from_secs(30),
        ..CallTiming::default()
    };
    let mut w = world(MetaMode::Sdes, timing, None);
    w.run(Duration::from_secs(1), true, true);
    assert_eq!(w.call.state(), CallState::Active);
    // The PBX stops sending (Meta continues): after 30 s the call ends with MediaTimeout on the PBX leg.
    w.run(Duration::from_secs(32), false, true);
    assert!(
        w.events
            .contains(&CallEvent::MediaTimeout { leg: LegId::Pbx }),
        "{:?}",
        w.events
    );
    assert_eq!(w.call.state(), CallState::Ended);
}

#[test]
fn media_timeout_at_start() {
    let timing = CallTiming {
        media_timeout_start: Duration::from_secs(20),
        ..CallTiming::default()
    };
    let mut w = world(MetaMode::Sdes, timing, None);
    // Nobody ever sends: the Meta leg times out about 20 s after it could carry media.
    w.run(Duration::from_secs(22), false, false);
    assert!(
        w.events
            .iter()
            .any(|e| matches!(e, CallEvent::MediaTimeout { .. })),
        "{:?}",
        w.events
    );
}

#[test]
fn ice_failure_is_reported() {
    let mut w = world(
        MetaMode::Dtls {
            wrong_fingerprint: false,
        },
        CallTiming::default(),
        None,
    );
    w.cut_meta = true;
    w.run(Duration::from_secs(40), true, false);
    assert!(
        w.events.iter().any(|e| matches!(
            e,
            CallEvent::Failed {
                leg: LegId::Meta,
                reason: FailReason::IceFailed | FailReason::ConnectTimeout
            }
        )),
        "{:?}",
        w.events
    );
    assert!(w.meta.received().is_empty());
}

#[test]
fn garbage_replay_forgery_dropped_and_counted() {
    let mut w = world(
        MetaMode::Dtls {
            wrong_fingerprint: false,
        },
        CallTiming::default(),
        None,
    );
    w.run(Duration::from_secs(1), true, true);
    let before = w.pbx.received().len();

    // Capture one valid SRTP packet from Meta and replay it; forge one under another key; garbage; truncations.
    let valid = w.meta.send_audio(b"meta-x").unwrap();
    w.input(valid.clone());
    let replay_src = valid.clone();
    w.input(replay_src);
    let mut forged = valid.clone();
    let l = forged.data.len();
    forged.data[l - 3] ^= 0x55;
    w.input(forged);
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x80],
        vec![0x80, 111, 0, 1],
        vec![0xff; 200],
        vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42],
        vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0],
        vec![0x90; 13],
        vec![0x81, 200, 0, 1, 0, 0, 0, 0],
        vec![0u8; 2000],
    ];
    for g in &garbage {
        for leg_to in [a(OUR_PBX), a(OUR_META_V4)] {
            for n in 0..g.len().min(40) {
                w.input(PeerTransmit {
                    local: a(META_V4),
                    remote: leg_to,
                    data: g[..n].to_vec(),
                });
            }
            w.input(PeerTransmit {
                local: a(PBX),
                remote: leg_to,
                data: g.clone(),
            });
        }
    }
    // Truncated versions of a valid packet.
    let v2 = w.meta.send_audio(b"meta-y").unwrap();
    for n in 0..v2.data.len() {
        w.input(PeerTransmit {
            local: v2.local,
            remote: v2.remote,
            data: v2.data[..n].to_vec(),
        });
    }
    let s = w.call.stats();
    assert!(s.meta.replays >= 1, "{:?}", s.meta);
    assert!(s.meta.auth_failures >= 2, "{:?}", s.meta);
    assert!(s.meta.malformed > 10 && s.pbx.malformed > 10, "{s:?}");

    // Audio still flows afterwards.
    w.deliver();
    w.run(Duration::from_secs(1), true, true);
    assert!(w.pbx.received().len() > before + 40);
    assert_eq!(w.call.state(), CallState::Active);
}

/// From SDP to audio: Meta's DTLS offer (seed fixture, with a real fingerprint) is mapped for the PBX, the PBX
/// answers SDES, the final plan becomes a `CallConfig` (`CallConfig::from_plan`) and audio flows both ways.
#[test]
fn from_sdp_plan_to_audio() {
    use wacall::sdp::{self, CryptoSuite, LegSecurity, MapConfig, MediaAllocation, SrtpMasterKey};

    let now = Instant::now();
    let ours = Arc::new(DtlsCertificate::generate().unwrap());
    let meta_cert = DtlsCertificate::generate().unwrap();
    let offer = include_str!("fixtures/sdp/meta_offer_dtls.sdp");
    let offer: String = offer
        .lines()
        .map(|l| {
            if l.starts_with("a=fingerprint:") {
                format!("a=fingerprint:{}", meta_cert.fingerprint().to_attribute())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
        + "\r\n";
    let our_ice = IceCredentials::random();
    let alloc = MediaAllocation::new(
        a(OUR_META_V4),
        a(OUR_PBX),
        &our_ice.ufrag,
        &our_ice.pwd,
        ours.fingerprint().hex(),
    );
    let cfg = MapConfig::default();
    let to_pbx = sdp::meta_offer_to_pbx(&offer, &alloc, &cfg).unwrap();

    // The PBX answers with its own key for the suite we offered.
    let pbx_key = SrtpMasterKey::generate(CryptoSuite::AesCm128HmacSha1_80).unwrap();
    let answer = format!(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 5004 RTP/SAVP 111 126\r\n\
         a=rtpmap:111 opus/48000/2\r\na=rtpmap:126 telephone-event/8000\r\n\
         a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\na=rtcp-mux\r\na=sendrecv\r\n",
        pbx_key.to_base64()
    );
    let to_meta = sdp::pbx_answer_to_meta(&offer, &to_pbx.sdp, &answer, &alloc, &cfg).unwrap();
    let plan = &to_meta.plan;
    assert!(plan.answered);
    let config = CallConfig::from_plan(plan, Some(&ours), CallTiming::default()).unwrap();
    let call = Call::new(now, config).unwrap();

    let meta_ice = IceCredentials {
        ufrag: "RmDDkfzkwbexPfbC".into(),
        pwd: "Xk3vP9qLm2Rt7wYz4BnC8dFh".into(),
    };
    let meta = MetaLikePeer::new_dtls(
        vec![
            a("57.144.135.35:3480"),
            a("[2a03:2880:f343:131:face:b00c:0:699c]:3480"),
        ],
        meta_ice,
        &meta_cert,
        ours.fingerprint().clone(),
    )
    .unwrap();
    let LegSecurity::Sdes(k) = &plan.pbx.security else {
        panic!("PBX leg is SDES")
    };
    let relay_key = SrtpKeyMaterial::new(
        SrtpProfile::AesCm128HmacSha1_80,
        k.local.as_ref().unwrap().as_bytes(),
    )
    .unwrap();
    let pbx_mat =
        SrtpKeyMaterial::new(SrtpProfile::AesCm128HmacSha1_80, pbx_key.as_bytes()).unwrap();
    let pbx = PbxPeer::new(a(PBX), a(OUR_PBX), Some((&pbx_mat, &relay_key)), 111).unwrap();
    let mut w = World {
        now,
        call,
        meta,
        pbx,
        out: Outbox::new(),
        events: Vec::new(),
        cut_meta: false,
    };
    w.run(Duration::from_secs(2), true, true);
    assert!(
        w.events
            .contains(&CallEvent::DtlsConnected { leg: LegId::Meta }),
        "{:?}",
        w.events
    );
    // Only our IPv4 socket exists, so the IPv4 pair wins.
    assert_eq!(
        w.call.remote_addr(LegId::Meta),
        Some(a("57.144.135.35:3480"))
    );
    assert!(w.meta.received().len() > 80);
    assert!(w.pbx.received().len() > 80);
    assert_eq!(w.call.state(), CallState::Active);
}

/// A plain-RTP PBX whose SDP gave no usable address: the leg becomes ready when the PBX's first packet latches
/// it, and audio flows both ways.
#[test]
fn plain_pbx_without_address_latches() {
    let now = Instant::now();
    let key_ours = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
    let key_meta = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
    let mut meta_local = LocalLeg::new(LegMode::Sdes, vec![a(OUR_META_V4)]);
    meta_local.sdes_key = Some(key_ours.clone());
    let meta_remote = RemoteLeg {
        addr: Some(a(META_V4)),
        sdes_key: Some(key_meta.clone()),
        ..Default::default()
    };
    let mut pbx_local = LocalLeg::new(LegMode::Plain, vec![a(OUR_PBX)]);
    pbx_local.latch = true;
    let pbx_remote = RemoteLeg {
        addr: None,
        ..Default::default()
    };
    let call = Call::new(
        now,
        CallConfig {
            meta: LegConfig {
                local: meta_local,
                remote: Some(meta_remote),
            },
            pbx: LegConfig {
                local: pbx_local,
                remote: Some(pbx_remote),
            },
            timing: CallTiming::default(),
        },
    )
    .unwrap();
    let meta = MetaLikePeer::new_sdes(vec![a(META_V4)], key_meta, key_ours).unwrap();
    let pbx = PbxPeer::new(a("198.51.100.7:7078"), a(OUR_PBX), None, 111).unwrap();
    let mut w = World {
        now,
        call,
        meta,
        pbx,
        out: Outbox::new(),
        events: Vec::new(),
        cut_meta: false,
    };
    w.run(Duration::from_secs(7), true, true);
    assert_eq!(w.call.remote_addr(LegId::Pbx), Some(a("198.51.100.7:7078")));
    assert!(w.pbx.received().len() > 300);
    assert!(w.pbx.stats.rtcp_in >= 1, "RTCP toward the latched PBX");
    assert_eq!(w.call.state(), CallState::Active);
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4
}

/// Prints the memory an established call costs (run with `--ignored --nocapture`); not an assertion of speed.
#[test]
#[ignore]
fn memory_per_call() {
    const N: usize = 300;
    let base = rss_kib();
    let mut sdes = Vec::new();
    for _ in 0..N {
        let mut w = world(MetaMode::Sdes, CallTiming::default(), None);
        w.run(Duration::from_millis(100), true, true);
        sdes.push(w.call);
    }
    let after_sdes = rss_kib();
    let mut dtls = Vec::new();
    for _ in 0..N {
        let timing = CallTiming {
            media_timeout_mid: Duration::from_secs(120),
            silence_fill_after: None,
            ..CallTiming::default()
        };
        let mut w = world(
            MetaMode::Dtls {
                wrong_fingerprint: false,
            },
            timing,
            None,
        );
        w.run(Duration::from_millis(300), true, true);
        // Past the DTLS linger time (2 s as DTLS client; consent checks keep ICE up): the SSL object is released.
        w.run(Duration::from_secs(3), false, false);
        assert_eq!(w.call.state(), CallState::Active);
        dtls.push(w.call);
    }
    let after_dtls = rss_kib();
    println!(
        "RSS per established call: SDES<->SDES {} KiB, DTLS+ICE<->SDES {} KiB ({} calls each)",
        (after_sdes - base) / N as u64,
        (after_dtls - after_sdes) / N as u64,
        N
    );
}

/// The host may choose our SDES key after the call exists (`set_local_sdes_key`): media then uses that key.
#[test]
fn local_sdes_key_set_later() {
    let mut w = world(MetaMode::Sdes, CallTiming::default(), None);
    let new_key = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
    w.call
        .set_local_sdes_key(LegId::Pbx, new_key.clone())
        .unwrap();
    // Media toward the PBX is now protected with the new key, which the test PBX (still on the old one) rejects.
    w.run(Duration::from_millis(500), false, true);
    assert!(
        w.pbx.received().is_empty(),
        "old PBX peer keys no longer match"
    );
    assert!(w.pbx.stats.rejected > 0);
    assert!(w.call.set_local_sdes_key(LegId::Meta, new_key).is_ok());
}
