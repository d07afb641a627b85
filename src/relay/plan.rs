//! Glue between SDP mapping (`crate::sdp`) and the relay's control protocol: the relay's allocation as the
//! `MediaAllocation` the mapper writes into SDP, and a mapped `CallPlan` as the `update` a host sends back.

use std::net::SocketAddr;

use super::control::proto::{Allocation, Candidate, RemoteLeg, SdesKey};
use crate::sdp::{CallPlan, LegPlan, LegSecurity, MediaAllocation};

/// The allocation as SDP mapping wants it: our sockets, advertised addresses, ICE credentials and fingerprint.
/// A Meta leg without ICE/DTLS (SDES mode) gets empty credentials, which the mapper does not use then.
pub fn media_allocation(a: &Allocation) -> Option<MediaAllocation> {
    let meta_side = *a.meta.addrs.first()?;
    let pbx_side = *a.pbx.addrs.first()?;
    let fp = a
        .meta
        .fingerprint
        .as_deref()
        .and_then(|f| f.split_whitespace().last())
        .unwrap_or("")
        .to_owned();
    let mut m = MediaAllocation::new(
        meta_side,
        pbx_side,
        a.meta.ice_ufrag.clone().unwrap_or_default(),
        a.meta.ice_pwd.clone().unwrap_or_default(),
        fp,
    );
    // Every socket of the Meta leg is a host candidate (IPv4 and IPv6 when the leg is dual-stack).
    m.meta_advertised = a.meta.addrs.clone();
    Some(m)
}

/// (the peer's key, our key) of an SDES leg.
fn sdes_of(plan: &LegPlan) -> (Option<SdesKey>, Option<SdesKey>) {
    match &plan.security {
        LegSecurity::Sdes(k) => {
            let suite = k.suite.as_str().to_owned();
            let remote = k.remote.as_ref().map(|r| SdesKey {
                suite: suite.clone(),
                key: r.to_base64(),
            });
            let local = k.local.as_ref().map(|l| SdesKey {
                suite,
                key: l.to_base64(),
            });
            (remote, local)
        }
        _ => (None, None),
    }
}

/// One leg of a plan as the relay's `RemoteLeg`.
pub fn remote_leg(plan: &LegPlan) -> RemoteLeg {
    let (sdes, _) = sdes_of(plan);
    let fingerprint = match &plan.security {
        LegSecurity::Dtls(d) => d.remote_fingerprint.as_ref().map(|f| f.to_string()),
        _ => None,
    };
    let (mut ice_ufrag, mut ice_pwd, mut candidates, mut ice_lite) =
        (None, None, Vec::new(), false);
    if let Some(ice) = &plan.ice {
        ice_ufrag = ice.remote_ufrag.clone();
        ice_pwd = ice.remote_pwd.clone();
        ice_lite = ice.remote_lite;
        candidates = ice
            .remote_candidates
            .iter()
            .filter_map(|c| {
                let ip = c.address.parse().ok()?;
                Some(Candidate {
                    addr: SocketAddr::new(ip, c.port),
                    priority: c.priority,
                    foundation: c.foundation.clone(),
                    component: u8::try_from(c.component).ok()?,
                })
            })
            .collect();
    }
    RemoteLeg {
        addr: plan.remote_rtp,
        rtcp_addr: if plan.rtcp_mux {
            None
        } else {
            plan.remote_rtcp
        },
        ice_ufrag,
        ice_pwd,
        candidates,
        ice_lite,
        fingerprint,
        sdes,
        audio_pt: Some(plan.payload.opus),
        dtmf_pt: plan.payload.telephone_event,
        clock_rate: None,
    }
}

/// Both legs of a mapped plan, ready for `Client::update(call_id, Some(meta), Some(pbx))`.
pub fn remote_legs(plan: &CallPlan) -> (RemoteLeg, RemoteLeg) {
    (remote_leg(&plan.meta), remote_leg(&plan.pbx))
}

/// The SDES keys SDP mapping chose for us (what it wrote into our `a=crypto`), per leg [meta, pbx]: give them to
/// `Client::update_with_local_sdes` (or each to `Client::set_local_sdes`) so the relay encrypts with the key the
/// peer was told. (Alternatively rewrite our
/// `a=crypto` with the relay's key from the allocation and skip this.)
pub fn local_sdes_keys(plan: &CallPlan) -> [Option<SdesKey>; 2] {
    [sdes_of(&plan.meta).1, sdes_of(&plan.pbx).1]
}
