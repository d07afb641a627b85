//! Runs a `media::Call` (ICE, DTLS-SRTP, SDES, Meta's rules) as a relay `Engine`: translates the control
//! protocol's leg descriptions into the media core's types and copies its outbox into the driver's send batch.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::control::proto::{LegAllocation, RemoteLeg, SdesKey, Side, Transport};
use super::engine::{Engine, EngineFactory, EngineSpec, Outbox};
use super::stats::LegStats;
use crate::media::{
    self, Call, CallConfig, CallEvent, CallState, CallTiming, DtlsCertificate, DtlsRole,
    Fingerprint, IceCredentials, LegId, LegMode, LocalLeg, PayloadTypes, RemoteCandidate,
    RemoteIce, SrtpKeyMaterial, SrtpProfile,
};

fn leg_id(side: Side) -> LegId {
    match side {
        Side::Meta => LegId::Meta,
        Side::Pbx => LegId::Pbx,
    }
}

fn side_of(leg: LegId) -> Side {
    match leg {
        LegId::Meta => Side::Meta,
        LegId::Pbx => Side::Pbx,
    }
}

/// Decodes an SDES key from the control protocol (suite name + base64 of key||salt).
pub fn sdes_to_material(k: &SdesKey) -> Result<SrtpKeyMaterial, String> {
    let profile = SrtpProfile::from_sdes_name(&k.suite)
        .ok_or_else(|| format!("unsupported SRTP suite {:?}", k.suite))?;
    // `a=crypto` keys may carry |lifetime|MKI suffixes: only the key itself is base64.
    let b64 = k.key.split('|').next().unwrap_or("");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| "SDES key is not base64".to_string())?;
    SrtpKeyMaterial::new(profile, &raw).map_err(|e| e.to_string())
}

/// Encodes key material for the control protocol.
pub fn material_to_sdes(k: &SrtpKeyMaterial) -> SdesKey {
    SdesKey {
        suite: k.profile().sdes_name().to_owned(),
        key: base64::engine::general_purpose::STANDARD.encode(k.key_and_salt()),
    }
}

/// Builds `media::Call`s; holds the relay's one DTLS certificate (generated once: it costs milliseconds).
pub struct MediaFactory {
    cert: OnceLock<Result<Arc<DtlsCertificate>, String>>,
    timing: CallTiming,
}

impl Default for MediaFactory {
    fn default() -> Self {
        Self::new(CallTiming::default())
    }
}

impl MediaFactory {
    pub fn new(timing: CallTiming) -> Self {
        Self {
            cert: OnceLock::new(),
            timing,
        }
    }

    /// Uses a configured certificate instead of a generated one.
    pub fn with_certificate(cert: Arc<DtlsCertificate>, timing: CallTiming) -> Self {
        let c = OnceLock::new();
        let _ = c.set(Ok(cert));
        Self { cert: c, timing }
    }

    fn cert(&self) -> Result<Arc<DtlsCertificate>, String> {
        self.cert
            .get_or_init(|| {
                DtlsCertificate::generate()
                    .map(Arc::new)
                    .map_err(|e| format!("DTLS certificate: {e}"))
            })
            .clone()
    }
}

impl EngineFactory for MediaFactory {
    fn create(
        &self,
        spec: &EngineSpec<'_>,
    ) -> Result<(Box<dyn Engine>, [LegAllocation; 2]), String> {
        let mut allocs = Vec::with_capacity(2);
        let mut locals = Vec::with_capacity(2);
        for (i, cfg) in [spec.meta, spec.pbx].into_iter().enumerate() {
            let addrs = spec.addrs[i].to_vec();
            let mut alloc = LegAllocation {
                addrs: Vec::new(),
                ice_ufrag: None,
                ice_pwd: None,
                fingerprint: None,
                sdes: None,
            };
            let local = match cfg.transport {
                Transport::Dtls => {
                    let mut l = LocalLeg::new(LegMode::DtlsSrtp, addrs);
                    let cert = self.cert()?;
                    let ice = IceCredentials::random();
                    alloc.ice_ufrag = Some(ice.ufrag.clone());
                    alloc.ice_pwd = Some(ice.pwd.clone());
                    alloc.fingerprint = Some(cert.fingerprint().to_attribute());
                    l.dtls_cert = Some(cert);
                    l.dtls_role = DtlsRole::Client;
                    l.ice = Some(ice);
                    l
                }
                Transport::Sdes => {
                    let mut l = LocalLeg::new(LegMode::Sdes, addrs);
                    let key = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80)
                        .map_err(|e| e.to_string())?;
                    alloc.sdes = Some(material_to_sdes(&key));
                    l.sdes_key = Some(key);
                    l.latch = true;
                    l
                }
                Transport::Rtp => {
                    let mut l = LocalLeg::new(LegMode::Plain, addrs);
                    l.latch = true;
                    l
                }
            };
            locals.push(local);
            allocs.push(alloc);
        }
        let pbx = locals.pop().ok_or("no pbx leg")?;
        let meta = locals.pop().ok_or("no meta leg")?;
        let mut timing = self.timing.clone();
        timing.media_timeout_mid = spec.media_timeout;
        timing.media_timeout_start = timing
            .media_timeout_start
            .min(spec.media_timeout.max(Duration::from_secs(1)));
        let config = CallConfig {
            meta: media::LegConfig {
                local: meta,
                remote: None,
            },
            pbx: media::LegConfig {
                local: pbx,
                remote: None,
            },
            timing,
        };
        let call = Call::new(Instant::now(), config).map_err(|e| e.to_string())?;
        let engine = MediaEngine {
            call,
            addrs: [spec.addrs[0].to_vec(), spec.addrs[1].to_vec()],
            extra_drops: [0; 2],
            leg_state: ["new", "new"],
            ended: None,
        };
        let pbx_alloc = allocs.pop().ok_or("no pbx leg")?;
        let meta_alloc = allocs.pop().ok_or("no meta leg")?;
        Ok((Box::new(engine), [meta_alloc, pbx_alloc]))
    }
}

/// A `media::Call` behind the driver's `Engine` trait.
pub struct MediaEngine {
    call: Call,
    /// Bound addresses per leg, in socket index order.
    addrs: [Vec<SocketAddr>; 2],
    /// Datagrams the driver dropped before the call saw them.
    extra_drops: [u64; 2],
    leg_state: [&'static str; 2],
    ended: Option<String>,
}

impl MediaEngine {
    /// Sends what the call queued and notes its events.
    fn drain(&mut self, scratch: &media::Outbox, out: &mut Outbox<'_>) {
        for t in scratch.transmits() {
            let side = side_of(t.leg);
            let sock = self.addrs[side.index()]
                .iter()
                .position(|a| *a == t.local)
                .unwrap_or(0);
            let data = t.data;
            out.send(side, sock, t.remote, |buf| {
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                n
            });
        }
        for e in scratch.events() {
            match e {
                CallEvent::IceConnected { leg, remote, .. } => {
                    self.leg_state[leg.index()] = "connected";
                    log::debug!("relay: ICE connected on {leg:?} to {remote}");
                }
                CallEvent::DtlsConnected { leg } => self.leg_state[leg.index()] = "dtls",
                CallEvent::KeysReady { leg } => self.leg_state[leg.index()] = "secure",
                CallEvent::MediaTimeout { leg } => {
                    self.leg_state[leg.index()] = "timeout";
                    self.ended
                        .get_or_insert_with(|| format!("no media from {:?}", side_of(*leg)));
                }
                CallEvent::Failed { leg, reason } => {
                    self.leg_state[leg.index()] = "failed";
                    self.ended
                        .get_or_insert_with(|| format!("{:?} leg: {reason}", side_of(*leg)));
                }
                _ => {}
            }
        }
        if self.ended.is_none() && self.call.state() == CallState::Ended {
            self.ended = Some("ended".into());
        }
    }

    /// Runs `f` against the worker's scratch outbox, then sends what it queued.
    fn with_scratch(
        &mut self,
        out: &mut Outbox<'_>,
        f: impl FnOnce(&mut Call, &mut media::Outbox),
    ) {
        // Taking the scratch outbox out moves three Vec headers, not their buffers.
        let mut scratch = std::mem::take(out.scratch());
        scratch.clear();
        f(&mut self.call, &mut scratch);
        self.drain(&scratch, out);
        scratch.clear();
        *out.scratch() = scratch;
    }
}

/// Translates the control protocol's remote leg into the media core's.
pub fn remote_to_media(r: &RemoteLeg) -> Result<media::RemoteLeg, String> {
    let sdes_key = r.sdes.as_ref().map(sdes_to_material).transpose()?;
    let fingerprint = r
        .fingerprint
        .as_deref()
        .map(|f| Fingerprint::parse_attribute(f).map_err(|e| e.to_string()))
        .transpose()?;
    let ice = match (&r.ice_ufrag, &r.ice_pwd) {
        (Some(u), Some(p)) => Some(RemoteIce {
            credentials: IceCredentials {
                ufrag: u.clone(),
                pwd: p.clone(),
            },
            candidates: r
                .candidates
                .iter()
                .filter(|c| c.component == 1)
                .map(|c| RemoteCandidate {
                    addr: c.addr,
                    priority: c.priority,
                })
                .collect(),
            lite: r.ice_lite,
        }),
        _ => None,
    };
    let d = PayloadTypes::default();
    Ok(media::RemoteLeg {
        addr: r.addr,
        sdes_key,
        fingerprint,
        ice,
        payload: PayloadTypes {
            audio: r.audio_pt.unwrap_or(d.audio),
            dtmf: r.dtmf_pt.or(d.dtmf),
            clock_rate: r.clock_rate.unwrap_or(d.clock_rate),
        },
    })
}

impl Engine for MediaEngine {
    fn update(&mut self, now: Instant, side: Side, remote: &RemoteLeg) -> Result<(), String> {
        let r = remote_to_media(remote)?;
        self.call
            .set_remote(now, leg_id(side), r)
            .map_err(|e| e.to_string())
    }

    fn set_local_sdes(&mut self, _now: Instant, side: Side, k: &SdesKey) -> Result<(), String> {
        let key = sdes_to_material(k)?;
        self.call
            .set_local_sdes_key(leg_id(side), key)
            .map_err(|e| e.to_string())
    }

    fn on_datagram(
        &mut self,
        now: Instant,
        side: Side,
        sock: usize,
        from: SocketAddr,
        data: &mut [u8],
        out: &mut Outbox<'_>,
    ) {
        let Some(local) = self.addrs[side.index()].get(sock).copied() else {
            self.extra_drops[side.index()] += 1;
            return;
        };
        self.with_scratch(out, |call, scratch| {
            call.handle_input(now, leg_id(side), local, from, data, scratch)
        });
    }

    fn on_timeout(&mut self, now: Instant, out: &mut Outbox<'_>) {
        self.with_scratch(out, |call, scratch| call.handle_timeout(now, scratch));
    }

    fn next_timeout(&self) -> Option<Instant> {
        self.call.poll_timeout()
    }

    fn leg_stats(&self, side: Side) -> LegStats {
        let all = self.call.stats();
        let s = if side == Side::Meta {
            all.meta
        } else {
            all.pbx
        };
        let extra = self.extra_drops[side.index()];
        LegStats {
            packets_in: s.packets_in + extra,
            bytes_in: s.bytes_in,
            packets_out: s.packets_out,
            bytes_out: s.bytes_out,
            rtp_in: s
                .packets_in
                .saturating_sub(s.rtcp_in + s.stun_in + s.dropped),
            rtcp_in: s.rtcp_in,
            drops: s.dropped + extra,
            auth_failures: s.auth_failures,
            replays: s.replays,
            rtcp_jitter: (s.rtcp_in > 0).then_some(s.remote_jitter),
            rtcp_lost: (s.rtcp_in > 0).then_some(s.remote_lost),
            remote: self.call.remote_addr(leg_id(side)).map(|a| a.to_string()),
            // Plain legs get no key event: media arriving is what makes them active.
            state: match self.leg_state[side.index()] {
                "new" if s.packets_in > s.dropped => "active".into(),
                st => st.into(),
            },
        }
    }

    fn count_drop(&mut self, side: Side) {
        self.extra_drops[side.index()] += 1;
    }

    fn ended(&self) -> Option<&str> {
        self.ended.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdes_round_trip_and_errors() {
        let k = SrtpKeyMaterial::random(SrtpProfile::AesCm128HmacSha1_80).unwrap();
        let s = material_to_sdes(&k);
        assert_eq!(s.suite, "AES_CM_128_HMAC_SHA1_80");
        assert_eq!(sdes_to_material(&s).unwrap(), k);
        let with_lifetime = SdesKey {
            suite: s.suite.clone(),
            key: format!("{}|2^31", s.key),
        };
        assert_eq!(sdes_to_material(&with_lifetime).unwrap(), k);
        assert!(sdes_to_material(&SdesKey {
            suite: "NOPE".into(),
            key: s.key.clone()
        })
        .is_err());
        assert!(sdes_to_material(&SdesKey {
            suite: s.suite.clone(),
            key: "!!".into()
        })
        .is_err());
        assert!(sdes_to_material(&SdesKey {
            suite: s.suite,
            key: "AAAA".into()
        })
        .is_err());
    }
}
