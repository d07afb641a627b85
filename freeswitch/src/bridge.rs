//! Relay bridging for calls from Meta: wacall's relay terminates Meta's DTLS/ICE (or SDES) media and hands the
//! PBX leg plain RTP or SDES; FreeSWITCH carries the signalling in bypass-media mode with SDPs mapped here.
//!
//! How it rides on FreeSWITCH's proxy mode: `wacall_relay` replaces the A-leg's `switch_r_sdp` (copied to the
//! B-leg as its offer when the bridge creates it) with the PBX offer. The B-leg's `api_on_answer` (exported as
//! `nolocal:`) runs `wacall_relay_answered` inside sofia's 200 OK handling, after sofia copied the PBX's answer to
//! the A-leg's `switch_m_sdp` and before it tells the A-leg to answer: the hook maps that answer for Meta and
//! overwrites `switch_m_sdp`, which the A-leg then sends. `api_hangup_hook` ends the relay call.

use std::collections::HashMap;
use std::sync::Mutex;

use wacall::relay::{self, Allocation, Family, LegConfig, SdesKey, Transport};
use wacall::sdp::{self, MapConfig, MediaAllocation, MetaMedia, PbxMedia};

use crate::apps::Vars;
use crate::config::{Config, PbxMediaMode, SrtpMode};
use crate::state;

/// Which way a relayed call goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Meta calls the business (the A-leg is Meta's).
    FromMeta,
    /// The business calls a WhatsApp user (the A-leg is the PBX's).
    ToMeta,
}

/// What the answer hook needs to finish a call's mapping.
struct Pending {
    direction: Direction,
    /// The offer the A-leg received (Meta's or the PBX's).
    a_offer: String,
    /// The offer wacall wrote for the B-leg.
    b_offer: String,
    alloc: MediaAllocation,
    map_cfg: MapConfig,
    /// The relay's SDES key toward the A-leg's peer, to go into the answer that leg sends.
    a_sdes: Option<SdesKey>,
}

static PENDING: Mutex<Option<HashMap<String, Pending>>> = Mutex::new(None);

fn pending() -> std::sync::MutexGuard<'static, Option<HashMap<String, Pending>>> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// The transport Meta's offer asks for.
fn offered_transport(sdp: &str) -> Transport {
    if sdp.contains("UDP/TLS/RTP/SAVP") {
        Transport::Dtls
    } else if sdp.contains("RTP/SAVP") {
        Transport::Sdes
    } else {
        Transport::Rtp
    }
}

/// The relay's allocation as the SDP mapper wants it (the core's conversion, with its errors spelled out).
fn media_allocation(a: &Allocation) -> Result<MediaAllocation, String> {
    relay::plan::media_allocation(a)
        .ok_or_else(|| "relay gave no Meta-side or PBX-side address".to_string())
}

/// Put the relay's SDES key into the `a=crypto` line the mapper wrote (the relay encrypts with its own key).
fn with_relay_key(sdp_text: &str, key: Option<&SdesKey>) -> String {
    let Some(key) = key else {
        return sdp_text.to_string();
    };
    sdp_text
        .split_inclusive('\n')
        .map(|line| {
            let body = line.trim_end_matches(['\r', '\n']);
            let end = &line[body.len()..];
            match body.strip_prefix("a=crypto:") {
                Some(rest) => {
                    let mut parts = rest.splitn(3, ' ');
                    let (tag, suite) = (
                        parts.next().unwrap_or("1"),
                        parts.next().unwrap_or(&key.suite),
                    );
                    format!("a=crypto:{tag} {suite} inline:{}{end}", key.key)
                }
                None => line.to_string(),
            }
        })
        .collect()
}

// Our `a=crypto` carries the relay's own key (`with_relay_key`), so no `set_local_sdes` follows an update.
use relay::plan::remote_leg;

fn map_config(cfg: &Config, meta: Transport) -> MapConfig {
    let pbx = match cfg.pbx_media {
        PbxMediaMode::Sdes => PbxMedia::Sdes(vec![sdp::CryptoSuite::AesCm128HmacSha1_80]),
        PbxMediaMode::Rtp => PbxMedia::Rtp,
    };
    let meta = if meta == Transport::Sdes {
        MetaMedia::Sdes
    } else {
        MetaMedia::Dtls
    };
    MapConfig::new(pbx, meta)
}

fn transport_of(mode: SrtpMode) -> Transport {
    match mode {
        SrtpMode::Dtls => Transport::Dtls,
        SrtpMode::Sdes => Transport::Sdes,
    }
}

/// `wacall_relay [from-meta|to-meta]`, before `bridge`: allocate the relay call, write the B-leg's offer into the
/// A-leg's `switch_r_sdp`, and set the hooks. Returns a line for the log.
pub fn relay(
    vars: &dyn Vars,
    cfg: &Config,
    uuid: &str,
    direction: Direction,
) -> Result<String, String> {
    let a_offer = vars
        .get("switch_r_sdp")
        .ok_or("no SDP offer on this channel (switch_r_sdp): relaying needs the caller's offer")?;
    let (meta_t, pbx_t) = match direction {
        Direction::FromMeta => {
            let pbx_t = match cfg.pbx_media {
                PbxMediaMode::Sdes => Transport::Sdes,
                PbxMediaMode::Rtp => Transport::Rtp,
            };
            (offered_transport(&a_offer), pbx_t)
        }
        Direction::ToMeta => {
            let pbx_t = offered_transport(&a_offer);
            if pbx_t == Transport::Dtls {
                return Err(
                    "the PBX offered DTLS-SRTP; offer SDES or plain RTP toward wacall".into(),
                );
            }
            // Meta's key exchange is a setting of the business number placing the call.
            let mode = vars
                .get("wacall_business_number")
                .and_then(|n| cfg.number(&n).map(|n| n.srtp))
                .unwrap_or(cfg.default_srtp);
            (transport_of(mode), pbx_t)
        }
    };
    // The relay binds one address family (relay-address); ask for legs in it.
    let family = if cfg.relay_address.contains(':') {
        Family::Ipv6
    } else {
        Family::Ipv4
    };
    let leg = |transport| LegConfig { transport, family };
    let a = state::with_relay(|d| {
        d.allocate(uuid, &leg(meta_t), &leg(pbx_t))
            .map_err(|e| e.message)
    })?;
    let result = (|| {
        let alloc = media_allocation(&a)?;
        let map_cfg = map_config(cfg, meta_t);
        let (b_offer, a_sdes) = match direction {
            Direction::FromMeta => {
                let m = sdp::meta_offer_to_pbx(&a_offer, &alloc, &map_cfg)
                    .map_err(|e| e.to_string())?;
                state::with_relay(|d| {
                    d.update(uuid, Some(remote_leg(&m.plan.meta)), None)
                        .map_err(|e| e.message)
                })?;
                (
                    with_relay_key(&m.sdp, a.pbx.sdes.as_ref()),
                    a.meta.sdes.clone(),
                )
            }
            Direction::ToMeta => {
                let m = sdp::pbx_offer_to_meta(&a_offer, &alloc, &map_cfg)
                    .map_err(|e| e.to_string())?;
                state::with_relay(|d| {
                    d.update(uuid, None, Some(remote_leg(&m.plan.pbx)))
                        .map_err(|e| e.message)
                })?;
                (
                    with_relay_key(&m.sdp, a.meta.sdes.as_ref()),
                    a.pbx.sdes.clone(),
                )
            }
        };
        vars.set("switch_r_sdp", Some(&b_offer));
        vars.set("bypass_media", Some("true"));
        // Without this, sofia-sip's offer/answer engine rewrites our answer against the caller's offer.
        vars.set("sip_enable_soa", Some("false"));
        vars.set("wacall_relay_call", Some(uuid));
        // The B-leg runs the answer hook: inside its 200 OK handling, after sofia copied the far end's SDP to
        // this leg's switch_m_sdp and before this leg is told to answer, so this leg sends what the hook writes.
        vars.set(
            "nolocal:api_on_answer",
            Some(&format!("wacall_relay_answered {uuid}")),
        );
        crate::apps::export(vars, &["nolocal:api_on_answer"]);
        vars.set("api_hangup_hook", Some(&format!("wacall_relay_end {uuid}")));
        let line = format!(
            "relay call {uuid} ({direction:?}): Meta {meta_t:?} on {}, PBX {pbx_t:?} on {}",
            alloc.meta_side, alloc.pbx_side
        );
        pending().get_or_insert_with(HashMap::new).insert(
            uuid.to_string(),
            Pending {
                direction,
                a_offer,
                b_offer,
                alloc,
                map_cfg,
                a_sdes,
            },
        );
        Ok(line)
    })();
    if result.is_err() {
        let _ = state::with_relay(|d| d.delete(uuid).map(|_| ()).map_err(|e| e.message));
    }
    result
}

/// The B-leg of call `uuid` answered with `b_answer`: give the relay the far end's address, key and payload
/// types, and return the answer the A-leg sends (for its `switch_m_sdp`) with a line for the log.
pub fn answered(uuid: &str, b_answer: &str) -> Result<(String, String), String> {
    let p = pending()
        .as_mut()
        .and_then(|m| m.remove(uuid))
        .ok_or_else(|| format!("no relay call {uuid}"))?;
    let (mapped, remote) = match p.direction {
        Direction::FromMeta => {
            let m = sdp::pbx_answer_to_meta(&p.a_offer, &p.b_offer, b_answer, &p.alloc, &p.map_cfg)
                .map_err(|e| e.to_string())?;
            state::with_relay(|d| {
                d.update(uuid, None, Some(remote_leg(&m.plan.pbx)))
                    .map_err(|e| e.message)
            })?;
            let r = m.plan.pbx.remote_rtp;
            (m, r)
        }
        Direction::ToMeta => {
            let m = sdp::meta_answer_to_pbx(&p.a_offer, &p.b_offer, b_answer, &p.alloc, &p.map_cfg)
                .map_err(|e| e.to_string())?;
            state::with_relay(|d| {
                d.update(uuid, Some(remote_leg(&m.plan.meta)), None)
                    .map_err(|e| e.message)
            })?;
            let r = m.plan.meta.remote_rtp;
            (m, r)
        }
    };
    let a_answer = with_relay_key(&mapped.sdp, p.a_sdes.as_ref());
    let line = format!(
        "relay call {uuid} ({:?}): far end answered from {remote:?}, answer written",
        p.direction
    );
    Ok((a_answer, line))
}

/// End relay call `uuid`: its final statistics, for the log.
pub fn end(uuid: &str) -> Result<String, String> {
    pending().as_mut().map(|m| m.remove(uuid));
    let s = state::with_relay(|d| d.delete(uuid).map_err(|e| e.message))?;
    Ok(format!("relay call {uuid} ended: {}", serde_line(&s)))
}

fn serde_line(s: &relay::CallStats) -> String {
    format!("{s:?}").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_key_replaces_inline_key() {
        let s = "v=0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:OLD|2^31\r\na=x\r\n";
        let k = SdesKey {
            suite: "AES_CM_128_HMAC_SHA1_80".into(),
            key: "NEW".into(),
        };
        assert_eq!(
            with_relay_key(s, Some(&k)),
            "v=0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:NEW\r\na=x\r\n"
        );
        assert_eq!(with_relay_key(s, None), s);
    }

    #[test]
    fn transport_from_offer() {
        assert_eq!(
            offered_transport("m=audio 1 UDP/TLS/RTP/SAVPF 111"),
            Transport::Dtls
        );
        assert_eq!(offered_transport("m=audio 1 RTP/SAVP 111"), Transport::Sdes);
        assert_eq!(offered_transport("m=audio 1 RTP/AVP 0"), Transport::Rtp);
    }
}
