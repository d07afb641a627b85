//! Builds a call's configuration from the SDP mapping's plan ([`crate::sdp::CallPlan`]), so a host that maps SDP
//! with `crate::sdp::map` can start the media core without translating field by field.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::media::call::{CallConfig, CallTiming};
use crate::media::dtls::{DtlsCertificate, DtlsRole, Fingerprint};
use crate::media::ice::{IceCredentials, RemoteCandidate, RemoteIce};
use crate::media::leg::{LegConfig, LegMode, LocalLeg, PayloadTypes, RemoteLeg};
use crate::media::srtp::{SrtpKeyMaterial, SrtpProfile};
use crate::media::Error;
use crate::sdp;

fn key_material(
    suite: sdp::CryptoSuite,
    key: &sdp::SrtpMasterKey,
) -> Result<SrtpKeyMaterial, Error> {
    let profile = SrtpProfile::from_sdes_name(suite.as_str())
        .ok_or_else(|| Error::Config(format!("unsupported SRTP suite {suite}")))?;
    Ok(SrtpKeyMaterial::new(profile, key.as_bytes())?)
}

fn fingerprint(f: &sdp::Fingerprint) -> Result<Fingerprint, Error> {
    let alg = match f.hash {
        sdp::HashFunc::Sha1 => "sha-1",
        sdp::HashFunc::Sha256 => "sha-256",
        sdp::HashFunc::Sha384 => "sha-384",
        sdp::HashFunc::Sha512 => "sha-512",
        _ => return Err(Error::Config("unsupported fingerprint hash".into())),
    };
    let hex: Vec<String> = f.bytes.iter().map(|b| format!("{b:02X}")).collect();
    Ok(Fingerprint::parse(alg, &hex.join(":"))?)
}

fn payload(p: &sdp::PayloadTypes) -> PayloadTypes {
    PayloadTypes {
        audio: p.opus,
        dtmf: p.telephone_event,
        clock_rate: 48_000,
    }
}

/// Our half of a leg from its plan. `cert` is required for a DTLS leg.
pub fn local_leg(
    plan: &sdp::LegPlan,
    cert: Option<&Arc<DtlsCertificate>>,
) -> Result<LocalLeg, Error> {
    let mode = match &plan.security {
        sdp::LegSecurity::Rtp => LegMode::Plain,
        sdp::LegSecurity::Sdes(_) => LegMode::Sdes,
        sdp::LegSecurity::Dtls(_) => LegMode::DtlsSrtp,
    };
    let mut l = LocalLeg::new(mode, vec![plan.local]);
    match &plan.security {
        sdp::LegSecurity::Sdes(k) => {
            let key = k
                .local
                .as_ref()
                .ok_or_else(|| Error::Config("SDES leg without our key".into()))?;
            l.sdes_key = Some(key_material(k.suite, key)?);
        }
        sdp::LegSecurity::Dtls(d) => {
            l.dtls_cert = Some(
                cert.cloned()
                    .ok_or_else(|| Error::Config("DTLS leg without a certificate".into()))?,
            );
            l.dtls_role = match d.role {
                Some(sdp::DtlsRole::Server) => DtlsRole::Server,
                _ => DtlsRole::Client,
            };
        }
        _ => {}
    }
    if let Some(ice) = &plan.ice {
        l.ice = Some(IceCredentials {
            ufrag: ice.local_ufrag.clone(),
            pwd: ice.local_pwd.clone(),
        });
    }
    // Without ICE, follow the address the peer really sends from (NAT, PBX answering from another port); with ICE
    // the selected pair decides.
    l.latch = plan.ice.is_none();
    Ok(l)
}

/// The peer's half of a leg from its plan, or None while the peer's SDP (keys, fingerprint, ICE data) is missing.
pub fn remote_leg(plan: &sdp::LegPlan) -> Result<Option<RemoteLeg>, Error> {
    let mut r = RemoteLeg {
        addr: plan.remote_rtp,
        payload: payload(&plan.payload),
        ..Default::default()
    };
    match &plan.security {
        sdp::LegSecurity::Sdes(k) => match &k.remote {
            Some(key) => r.sdes_key = Some(key_material(k.suite, key)?),
            None => return Ok(None),
        },
        sdp::LegSecurity::Dtls(d) => match &d.remote_fingerprint {
            Some(f) => r.fingerprint = Some(fingerprint(f)?),
            None => return Ok(None),
        },
        _ => {
            if plan.remote_rtp.is_none() {
                return Ok(None);
            }
        }
    }
    if let Some(ice) = &plan.ice {
        let (Some(ufrag), Some(pwd)) = (&ice.remote_ufrag, &ice.remote_pwd) else {
            return Ok(None);
        };
        let candidates = ice
            .remote_candidates
            .iter()
            .filter(|c| c.component == 1 && c.transport.eq_ignore_ascii_case("udp"))
            .filter_map(|c| {
                let ip: IpAddr = c.address.parse().ok()?;
                Some(RemoteCandidate {
                    addr: SocketAddr::new(ip, c.port),
                    priority: c.priority,
                })
            })
            .collect();
        r.ice = Some(RemoteIce {
            credentials: IceCredentials {
                ufrag: ufrag.clone(),
                pwd: pwd.clone(),
            },
            candidates,
            lite: ice.remote_lite,
        });
    }
    Ok(Some(r))
}

impl CallConfig {
    /// A call configuration from the SDP mapping's plan. Remote halves missing from a provisional plan (after an
    /// offer) are left None: supply them later with `Call::set_remote(.., remote_leg(&final_plan.pbx)?)`.
    pub fn from_plan(
        plan: &sdp::CallPlan,
        cert: Option<&Arc<DtlsCertificate>>,
        timing: CallTiming,
    ) -> Result<Self, Error> {
        Ok(Self {
            meta: LegConfig {
                local: local_leg(&plan.meta, cert)?,
                remote: remote_leg(&plan.meta)?,
            },
            pbx: LegConfig {
                local: local_leg(&plan.pbx, cert)?,
                remote: remote_leg(&plan.pbx)?,
            },
            timing,
        })
    }
}
