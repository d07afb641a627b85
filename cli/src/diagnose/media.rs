//! SDP and media checks for `wacall diagnose`: ICE/DTLS roles, SRTP and codec in our SDP, and (in captures) the
//! ICE checks, DTLS handshake and first SRTP packet we send toward Meta's media address.

use super::*;
use crate::trace::{MediaKind, MediaPacket};

/// The SDP facts the checks need (media-level attributes win over session-level ones).
#[derive(Debug, Default)]
pub(super) struct SdpFacts {
    pub(super) profile: Option<String>,
    pub(super) ice_lite: bool,
    pub(super) setup: Option<String>,
    pub(super) fingerprint: bool,
    pub(super) crypto: bool,
    /// Suite names of the a=crypto lines (masked lines give none).
    pub(super) crypto_suites: Vec<String>,
    /// Hash names of the a=fingerprint lines, lower case.
    pub(super) fingerprint_hashes: Vec<String>,
    pub(super) ice_ufrag: bool,
    pub(super) candidates: usize,
    pub(super) opus: bool,
    pub(super) port_zero: bool,
}

/// Reads the audio section through the core's lossless SDP model (media level first, then session level).
pub(super) fn sdp_facts(body: &str) -> SdpFacts {
    let mut f = SdpFacts::default();
    let Ok(sdp) = wacall::sdp::Sdp::parse(body) else {
        return f;
    };
    let Some(audio) = sdp.audio() else {
        return f;
    };
    if let Ok(ml) = audio.media.media_line() {
        f.port_zero = ml.port == 0;
        f.profile = Some(ml.proto);
    }
    f.ice_lite = audio.ice_lite() || sdp.ice_lite();
    // Seed traces mask fingerprints and keys with '*': presence is what matters here.
    f.fingerprint =
        audio.media.has_attribute("fingerprint") || sdp.attribute("fingerprint").is_some();
    f.setup = audio
        .media
        .attribute("setup")
        .or_else(|| sdp.attribute("setup"))
        .map(|v| v.trim().to_ascii_lowercase());
    f.crypto = audio.media.has_attribute("crypto");
    f.crypto_suites = audio
        .media
        .attribute_values("crypto")
        .filter_map(|v| v.split_whitespace().nth(1))
        .map(str::to_string)
        .collect();
    f.fingerprint_hashes = audio
        .media
        .attribute_values("fingerprint")
        .chain(
            sdp.attributes()
                .filter(|a| a.name == "fingerprint")
                .filter_map(|a| a.value),
        )
        .filter_map(|v| v.split_whitespace().next())
        .filter(|h| !h.starts_with('*'))
        .map(str::to_ascii_lowercase)
        .collect();
    f.ice_ufrag = audio.ice_ufrag().is_some() && audio.ice_pwd().is_some();
    f.candidates = audio.candidates().len();
    f.opus = audio.media.rtpmaps().flatten().any(|r| r.is_opus());
    f
}

/// With media in the capture: did we send ICE checks, DTLS and the first ("maiden") SRTP packet to Meta's address?
pub(super) fn check_media(call: &Call<'_>, ctx: &mut Ctx<'_>) {
    if ctx.media.is_empty() {
        return;
    }
    let (Some(invite), Some(ok)) = (call.initial_invite(), call.answers().into_iter().next())
    else {
        return;
    };
    let meta_sdp = match call.caller_is_business {
        Some(false) => invite,
        Some(true) => ok,
        None => return,
    };
    let Ok(sdp) = wacall::sdp::Sdp::parse(&meta_sdp.body) else {
        return;
    };
    let Some(audio) = sdp.audio() else { return };
    let mut eps: Vec<String> = Vec::new();
    if let (Ok(Some(c)), Ok(ml)) = (audio.connection(), audio.media.media_line()) {
        if let Some(ip) = c.ip().filter(|ip| !ip.is_unspecified()) {
            eps.push(std::net::SocketAddr::new(ip, ml.port).to_string());
        }
    }
    eps.extend(
        audio
            .candidates()
            .into_iter()
            .flatten()
            .filter_map(|c| c.socket_addr())
            .map(|a| a.to_string()),
    );
    if eps.is_empty() {
        return;
    }
    let dtls = audio
        .media
        .media_line()
        .is_ok_and(|ml| ml.proto.contains("TLS"));
    let start = invite.time.unwrap_or(f64::MIN);
    let end = call
        .msgs
        .iter()
        .filter(|m| m.method() == Some("BYE"))
        .filter_map(|m| m.time)
        .next()
        .unwrap_or(f64::MAX);
    let window: Vec<&MediaPacket> = ctx
        .media
        .iter()
        .filter(|p| p.time >= start && p.time <= end + 1.0)
        .collect();
    if window.is_empty() {
        return; // a SIP-only capture: nothing to say about media
    }
    let to = |k: MediaKind| {
        window
            .iter()
            .filter(|p| p.kind == k && eps.contains(&p.dst))
            .count()
    };
    let from = |k: MediaKind| {
        window
            .iter()
            .filter(|p| p.kind == k && eps.contains(&p.src))
            .count()
    };
    let (stun_to, dtls_to, rtp_to) = (
        to(MediaKind::Stun),
        to(MediaKind::Dtls),
        to(MediaKind::Rtp) + to(MediaKind::Rtcp),
    );
    let eps_s = eps.join(", ");
    let fix_maiden = "send audio (or comfort noise) and RTCP to Meta as soon as the keys exist; with DTLS run full ICE \
                      as controlling agent toward Meta's candidates, then the DTLS handshake as client";
    if stun_to + dtls_to + rtp_to == 0 {
        ctx.add(
            Severity::Error,
            ok,
            "maiden-packet",
            format!("no media packet from us to Meta's media address ({eps_s}) in the capture"),
            format!(
                "Meta waits for the business to send the first packet and ends the call after about 20 s without it; \
                 the capture has media ({} packet(s)) but none toward Meta{}",
                window.len(),
                if from(MediaKind::Rtp) + from(MediaKind::Stun) + from(MediaKind::Dtls) > 0 { ", although Meta's address sent to us" } else { "" }
            ),
            fix_maiden,
        );
        return;
    }
    if dtls {
        if stun_to == 0 {
            ctx.add(
                Severity::Error,
                ok,
                "ice-no-checks",
                "no ICE connectivity checks sent to Meta",
                "Meta is ice-lite and only answers checks; without our STUN binding requests (as controlling agent, \
                 with nomination) no media path is selected",
                "run full ICE toward Meta's candidates as the controlling agent",
            );
        } else if from(MediaKind::Stun) == 0 {
            ctx.add(
                Severity::Warning,
                ok,
                "ice-no-response",
                format!("Meta never answered our {stun_to} ICE check(s)"),
                "checks with the wrong ICE credentials (ufrag/pwd from Meta's SDP), from an address Meta cannot reach \
                 back, or blocked by a firewall get no response",
                "use Meta's a=ice-ufrag/a=ice-pwd, allow UDP to/from Meta's media ports (3478-3484, 40012)",
            );
        }
        if stun_to > 0 && dtls_to == 0 {
            ctx.add(
                Severity::Error,
                ok,
                "dtls-not-started",
                "no DTLS handshake sent to Meta",
                "Meta is the DTLS server (it offers actpass and waits): the business must send the ClientHello after \
                 ICE; without it no SRTP keys exist and Meta hangs up after about 20 s",
                "act as DTLS client (answer a=setup:active) and start the handshake once ICE selects a pair",
            );
        } else if dtls_to > 0 && rtp_to == 0 {
            ctx.add(
                Severity::Error,
                ok,
                "maiden-packet",
                "DTLS sent but no SRTP packet from us to Meta",
                "Meta waits for the business's first SRTP packet",
                fix_maiden,
            );
        }
    } else if rtp_to == 0 {
        ctx.add(
            Severity::Error,
            ok,
            "maiden-packet",
            "no SRTP packet from us to Meta",
            "Meta waits for the business's first SRTP packet (SDES mode too)",
            fix_maiden,
        );
    }
    if let (Some(first), Some(answered)) = (
        window
            .iter()
            .filter(|p| matches!(p.kind, MediaKind::Rtp) && eps.contains(&p.dst))
            .map(|p| p.time)
            .reduce(f64::min),
        ok.time,
    ) {
        if first - answered > 10.0 {
            ctx.add(
                Severity::Warning,
                ok,
                "late-maiden-packet",
                format!("our first RTP packet to Meta left {:.1} s after the answer", first - answered),
                "Meta drops calls without media after about 20 s; a late first packet leaves little margin and clips the \
                 greeting",
                fix_maiden,
            );
        }
    }
}

pub(super) fn check_our_sdp(
    m: &Message,
    is_offer: bool,
    meta_offer: Option<&SdpFacts>,
    ctx: &mut Ctx<'_>,
) {
    let f = sdp_facts(&m.body);
    let what = if is_offer { "our offer" } else { "our answer" };
    let Some(profile) = f.profile.clone() else {
        return;
    };
    if f.port_zero {
        ctx.add(
            Severity::Error,
            m,
            "sdp-audio-rejected",
            format!("{what} rejects the audio stream (port 0)"),
            "the call has no media and Meta drops it",
            "accept the audio stream with opus",
        );
        return;
    }
    if f.ice_lite {
        ctx.add(
            Severity::Error,
            m,
            "ice-lite",
            format!("a=ice-lite in {what}"),
            "Meta is ice-lite: with both sides lite nobody sends connectivity checks, ICE never completes and there is \
             no media",
            "run full ICE as the controlling agent (remove ice-lite; rtpengine: ICE=force without ice-lite; \
             FreeSWITCH: no ice-lite on this profile)",
        );
    }
    if !f.opus {
        ctx.add(
            Severity::Error,
            m,
            "codec",
            format!("no opus/48000/2 in {what}"),
            "Meta only takes opus (G.711 only where Meta transcodes on request)",
            "offer/answer opus/48000/2",
        );
    }
    if let Some(mo) = meta_offer.and_then(|o| o.profile.clone()) {
        if mo != profile {
            ctx.add(
                Severity::Error,
                m,
                "sdp-profile",
                format!("Meta offered {mo}, {what} uses {profile}"),
                "the answer must use the offer's transport profile; the SRTP mode is fixed by \
                 srtp_key_exchange_protocol (DTLS: UDP/TLS/RTP/SAVPF, SDES: RTP/SAVP)",
                "answer with the same profile, or change srtp_key_exchange_protocol with `wacall settings apply --srtp`",
            );
        }
    }
    match profile.as_str() {
        "UDP/TLS/RTP/SAVPF" | "UDP/TLS/RTP/SAVP" => {
            if let Some(h) = f
                .fingerprint_hashes
                .iter()
                .find(|h| !matches!(h.as_str(), "sha-256" | "sha-384" | "sha-512"))
            {
                ctx.add(
                    Severity::Warning,
                    m,
                    "dtls-fingerprint-hash",
                    format!("a=fingerprint uses {h} in {what}"),
                    "WebRTC peers such as Meta expect SHA-256 fingerprints (RFC 8122 deprecates SHA-1 and MD5)",
                    "publish a=fingerprint:sha-256 of the DTLS certificate",
                );
            }
            if !f.fingerprint {
                ctx.add(Severity::Error, m, "dtls-fingerprint", format!("DTLS profile without a=fingerprint in {what}"), "Meta cannot authenticate the DTLS handshake without the certificate fingerprint", "add a=fingerprint:sha-256 of the DTLS certificate");
            }
            match f.setup.as_deref() {
                Some("active") => {}
                Some("actpass") if is_offer => {}
                Some(s) => ctx.add(
                    Severity::Error,
                    m,
                    "dtls-role",
                    format!("a=setup:{s} in {what}"),
                    if is_offer {
                        "with a=setup:passive Meta would have to be the DTLS client, but Meta is the DTLS server; the \
                         handshake never starts"
                    } else {
                        "Meta offers actpass and waits as DTLS server: the business must answer a=setup:active and \
                         start the handshake (actpass is invalid in an answer; passive leaves both sides waiting)"
                    },
                    "answer a=setup:active (offer actpass or active) and act as DTLS client",
                ),
                None => ctx.add(
                    Severity::Error,
                    m,
                    "dtls-role",
                    format!("no a=setup in {what}"),
                    "without a=setup the default role is active for the offerer/passive for the answerer (RFC 4145), \
                     which leaves Meta and us both waiting in an answer",
                    "add a=setup:active",
                ),
            }
            if !f.ice_ufrag || f.candidates == 0 {
                ctx.add(
                    Severity::Error,
                    m,
                    "ice-missing",
                    format!("ICE credentials or candidates missing in {what}"),
                    "Meta (ice-lite) only sends media after our connectivity checks succeed",
                    "include a=ice-ufrag, a=ice-pwd and host (or relay) candidates, and run ICE as controlling agent",
                );
            }
        }
        "RTP/SAVP" | "RTP/SAVPF"
            if f.crypto
                && !f.crypto_suites.is_empty()
                && !f
                    .crypto_suites
                    .iter()
                    .any(|c| c == "AES_CM_128_HMAC_SHA1_80") =>
        {
            ctx.add(
                Severity::Error,
                m,
                "sdes-suite",
                format!(
                    "{what} offers only {} in a=crypto",
                    f.crypto_suites.join(", ")
                ),
                "Meta's SDES mode uses AES_CM_128_HMAC_SHA1_80",
                "include a=crypto with AES_CM_128_HMAC_SHA1_80 (first)",
            );
        }
        "RTP/SAVP" | "RTP/SAVPF" if !f.crypto => {
            ctx.add(
                Severity::Error,
                m,
                "sdes-crypto",
                format!("RTP/SAVP without a=crypto in {what}"),
                "SDES mode needs the key in a=crypto",
                "add a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:...",
            );
        }
        "RTP/AVP" | "RTP/AVPF" => ctx.add(
            Severity::Error,
            m,
            "plain-rtp",
            format!("{what} uses unencrypted {profile}"),
            "Meta only takes SRTP (DTLS-SRTP by default, SDES if configured)",
            "offer DTLS-SRTP (UDP/TLS/RTP/SAVPF) or SDES (RTP/SAVP with a=crypto)",
        ),
        _ => {}
    }
}
