//! Dialog checks for `wacall diagnose`: Record-Route and Contact kept as Meta sent them, ACKs, and calls that end
//! about 20 s or 32 s after the answer.

use super::*;

pub(super) fn check_remote_target(call: &Call<'_>, m: &Message, ctx: &mut Ctx<'_>) {
    // Meta's 2xx to our INVITE carries the Contact our in-dialog requests must target.
    let Some(ok) = call.msgs.iter().find(|r| {
        r.index < m.index
            && r.code().is_some_and(|c| (200..300).contains(&c))
            && r.cseq_method() == "INVITE"
            && call.sender(r) == Side::Meta
    }) else {
        return;
    };
    // An ACK for a failure response belongs to the INVITE transaction, not the dialog.
    if m.method() == Some("ACK") && m.cseq().map(|c| c.0) != ok.cseq().map(|c| c.0) {
        return;
    }
    let Some(contact) = ok.header("contact").map(header_uri) else {
        return;
    };
    let ruri = m.request_uri().unwrap_or("");
    if ruri != contact {
        ctx.add(
            Severity::Error,
            m,
            "remote-target",
            format!("Request-URI {ruri:?} is not Meta's Contact {contact:?} from #{}", ok.index),
            "in-dialog requests (ACK, BYE) must be sent to the Contact Meta gave in its 200 OK, unchanged; a rewritten \
             target loses the ACK and Meta ends the call after about 32 s",
            "do not rewrite the Request-URI of in-dialog requests (Kamailio: loose_route() and t_relay() without \
             $ru changes; topology hiding must restore Meta's Contact)",
        );
    }
}

/// Record-Route consistency inside each dialog and ACKs for 2xx.
pub(super) fn check_dialog_routes(call: &Call<'_>, ctx: &mut Ctx<'_>) {
    let Some(invite) = call.initial_invite() else {
        return;
    };
    let oks = call.answers();
    let rr = |m: &Message| {
        m.header_all("record-route")
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };

    if call.caller_is_business == Some(false) {
        // Meta called us: Meta's Record-Route entries must come back unchanged (at the end) in our responses.
        let theirs = rr(invite);
        if theirs.is_empty() {
            return;
        }
        for r in call.msgs.iter().filter(|r| {
            !r.is_request()
                && r.cseq_method() == "INVITE"
                && r.code().is_some_and(|c| c > 100 && c < 300)
        }) {
            let ours = rr(r);
            let ok = ours.len() >= theirs.len() && ours[ours.len() - theirs.len()..] == theirs[..];
            if !ok {
                ctx.add(
                    Severity::Error,
                    r,
                    "record-route",
                    format!("Record-Route in our {} differs from Meta's INVITE #{}", r.code().unwrap_or(0), invite.index),
                    format!(
                        "Meta's Record-Route ({}) must be returned unchanged, in order; otherwise Meta's ACK and BYE do \
                         not find their way back and the call drops after about 32 s. Ours: ({})",
                        theirs.join(", "),
                        if ours.is_empty() { "none".to_string() } else { ours.join(", ") }
                    ),
                    "copy Record-Route from the INVITE into responses unchanged (no topology hiding or rewriting of \
                     Meta's entries; Kamailio: record_route() only adds your own entry)",
                );
            }
        }
        if let Some(ok) = oks.iter().find(|m| call.sender(m) == Side::Business) {
            // Meta sends ACK/BYE to our Contact unless one of our own (public) Record-Route entries leads the way.
            let ours: Vec<String> = rr(ok).into_iter().filter(|e| !theirs.contains(e)).collect();
            let public_rr = ours
                .iter()
                .any(|e| uri_parts(header_uri(e)).is_some_and(|u| !is_private(&u.host)));
            if let Some(c) = ok.header("contact").map(header_uri).and_then(uri_parts) {
                if is_private(&c.host) && !public_rr {
                    ctx.add(
                        Severity::Warning,
                        ok,
                        "contact-private",
                        format!("our Contact host {} is a private address", c.host),
                        "Meta sends ACK and BYE to the Contact of our 200 OK (through our Record-Route, if any); a \
                         private address is unreachable from Meta, so the ACK is lost and the call drops after \
                         about 32 s",
                        "put the public hostname (port 5061, transport=tls) in the Contact, or record-route through a \
                         public proxy (Kamailio: record_route() plus fix_nated_contact()/set_contact_alias())",
                    );
                }
            }
            let acked = call
                .msgs
                .iter()
                .any(|m| m.index > ok.index && m.method() == Some("ACK"));
            let later = call.msgs.iter().any(|m| m.index > ok.index);
            if !acked && later {
                ctx.add(
                    Severity::Warning,
                    ok,
                    "ack-missing",
                    "no ACK from Meta for our 200 OK",
                    "Meta sends its ACK along our Record-Route to our Contact; when it does not arrive we retransmit \
                     the 200 OK and give up after 32 s (64*T1)",
                    "check that the Contact and Record-Route in our 200 OK are reachable over TLS from Meta (public \
                     hostname/address, port 5061, transport=tls)",
                );
            }
        }
    } else if call.caller_is_business == Some(true) {
        // We called Meta: Meta's Record-Route entries from the 2xx must be in our in-dialog requests' Route set.
        let mut seen: Option<(usize, Vec<String>)> = None;
        for ok in oks.iter().filter(|m| call.sender(m) == Side::Meta) {
            let set = rr(ok);
            if let Some((i, prev)) = &seen {
                if *prev != set {
                    ctx.add(
                        Severity::Warning,
                        ok,
                        "record-route",
                        format!("Record-Route differs from the earlier 2xx #{i}"),
                        "the route set of a dialog is fixed by the first 2xx; differing copies point at a proxy \
                         rewriting them",
                        "do not rewrite Record-Route between Meta and the PBX",
                    );
                }
            }
            seen = Some((ok.index, set));
            let acked = call.msgs.iter().any(|m| {
                m.index > ok.index
                    && m.method() == Some("ACK")
                    && m.cseq().map(|c| c.0) == ok.cseq().map(|c| c.0)
            });
            if !acked && call.msgs.iter().any(|m| m.index > ok.index) {
                ctx.add(
                    Severity::Warning,
                    ok,
                    "ack-missing",
                    "no ACK for Meta's 200 OK in the trace",
                    "without our ACK Meta retransmits the 200 OK and ends the call after about 32 s",
                    "send the ACK to Meta's Contact along Meta's Record-Route (loose_route in Kamailio)",
                );
            }
        }
        let Some((ok_idx, meta_rr)) = seen else {
            return;
        };
        let meta_entries: Vec<&String> = meta_rr
            .iter()
            .filter(|e| uri_parts(header_uri(e)).is_some_and(|u| is_meta_host(&u.host)))
            .collect();
        if meta_entries.is_empty() {
            return;
        }
        for m in call.msgs.iter().filter(|m| {
            m.index > ok_idx
                && m.is_request()
                && m.to_tag().is_some()
                && call.sender(m) == Side::Business
        }) {
            if m.method() == Some("ACK")
                && m.cseq().map(|c| c.0)
                    != call
                        .msgs
                        .iter()
                        .find(|x| x.index == ok_idx)
                        .and_then(|x| x.cseq())
                        .map(|c| c.0)
            {
                continue;
            }
            let routes: Vec<String> = m
                .header_all("route")
                .into_iter()
                .map(str::to_string)
                .collect();
            let missing: Vec<&&String> = meta_entries
                .iter()
                .filter(|e| !routes.iter().any(|r| r == **e))
                .collect();
            if !missing.is_empty() {
                ctx.add(
                    Severity::Error,
                    m,
                    "route-set",
                    format!("{} does not follow Meta's Record-Route from #{ok_idx}", m.method().unwrap_or("request")),
                    format!(
                        "Meta's entries {} from the 200 OK are missing or altered in the Route set ({}); the request may \
                         not reach Meta's dialog and the call drops (about 32 s when the ACK is lost)",
                        missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                        if routes.is_empty() { "none".to_string() } else { routes.join(", ") }
                    ),
                    "build the Route set from Meta's Record-Route unchanged (reversed for the caller) and keep it for \
                     every in-dialog request",
                );
            }
        }
    }
}

/// Calls that end ~20 s or ~32 s after answer point at media (maiden packet) or a lost ACK.
pub(super) fn check_timing(call: &Call<'_>, ctx: &mut Ctx<'_>) {
    let answered = call.answers().into_iter().next();
    for bye in call.msgs.iter().filter(|m| m.method() == Some("BYE")) {
        let header = bye
            .header("x-wa-meta-call-duration")
            .and_then(|d| d.trim().parse::<f64>().ok());
        let measured = match (answered.and_then(|a| a.time), bye.time) {
            (Some(a), Some(b)) if b >= a => Some(b - a),
            _ => None,
        };
        let (dur, source) = match (header, measured) {
            (Some(d), _) => (d, "x-wa-meta-call-duration"),
            (None, Some(d)) => (d, "trace timestamps"),
            _ => continue,
        };
        let by_meta = call.sender(bye) == Side::Meta;
        let sev = if by_meta {
            Severity::Error
        } else {
            Severity::Warning
        };
        let reason = bye
            .header("reason")
            .map(|r| format!(" (Reason: {r})"))
            .unwrap_or_default();
        if (17.0..=24.0).contains(&dur) {
            ctx.add(
                sev,
                bye,
                "media-timeout-20s",
                format!("call ended {dur:.0} s after answer ({source}){reason}"),
                "about 20 s is Meta's timeout for the first media: Meta waits for the business to send the first \
                 ('maiden') SRTP packet and hangs up when none arrives (no ICE/DTLS completion, SRTP keys wrong, or \
                 media sent to the wrong address)",
                "send audio or comfort noise from the business side as soon as keys exist (DTLS: after the handshake \
                 as DTLS client; SDES: at once), plus RTCP; check ICE nomination and the DTLS role (a=setup:active)",
            );
        } else if (29.0..=36.0).contains(&dur) {
            ctx.add(
                sev,
                bye,
                "ack-timeout-32s",
                format!("call ended {dur:.0} s after answer ({source}){reason}"),
                "about 32 s (64*T1) is the SIP timeout for a 200 OK that is never acknowledged: Record-Route or Contact \
                 were rewritten so the ACK went astray; or media stopped for ~30 s mid-call",
                "keep Meta's Record-Route and Contact exactly as received; check that the ACK reaches its peer; keep \
                 sending audio/comfort noise and RTCP during the call",
            );
        }
    }
}
