//! `wacall diagnose`: checks the messages of a SIP trace against Meta's rules (From domain, R-URI, digest, dialog
//! routing, session timers, early media, SDP roles, call timing) and explains each problem with a fix.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

mod auth;
mod dialog;
mod media;

use auth::{check_digest, digest_params};
use dialog::{check_dialog_routes, check_remote_target, check_timing};
use media::{check_media, check_our_sdp, sdp_facts};

use crate::trace::{header_uri, uri_parts, user_number, MediaPacket, Message, Trace};

/// Meta's SIP domain (R-URI host for calls to Meta, digest realm).
pub const META_DOMAIN: &str = "wa.meta.vc";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// One problem found in the trace.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// 1-based message number in the trace.
    pub message: usize,
    /// Stable rule name for scripts.
    pub rule: &'static str,
    pub title: String,
    pub explanation: String,
    pub fix: String,
}

/// Who sent a message, as far as the trace tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Business,
    Meta,
    Unknown,
}

#[derive(Debug, Serialize)]
pub struct MessageLine {
    pub index: usize,
    pub summary: String,
    pub call_id: String,
    pub sender: Side,
    pub time: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub messages: Vec<MessageLine>,
    pub calls: usize,
    pub findings: Vec<Finding>,
    pub errors: usize,
    pub warnings: usize,
    pub notes: Vec<String>,
}

fn is_meta_host(h: &str) -> bool {
    let h = h.to_ascii_lowercase();
    h == META_DOMAIN
        || h.ends_with(".meta.vc")
        || h.ends_with(".fbinfra.net")
        || h.ends_with(".facebook.com")
}

/// RFC 1918, loopback, link-local and unique-local addresses: unreachable from Meta.
fn is_private(h: &str) -> bool {
    match h
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    {
        Ok(std::net::IpAddr::V4(a)) => {
            a.is_private() || a.is_loopback() || a.is_link_local() || a.is_unspecified()
        }
        Ok(std::net::IpAddr::V6(a)) => {
            a.is_loopback()
                || a.is_unspecified()
                || (a.segments()[0] & 0xfe00) == 0xfc00
                || (a.segments()[0] & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

fn is_ip(h: &str) -> bool {
    let h = h.trim_start_matches('[').trim_end_matches(']');
    h.parse::<std::net::IpAddr>().is_ok()
}

/// A header's URI host, lower-cased.
fn hdr_host(m: &Message, name: &str) -> Option<String> {
    m.header(name)
        .and_then(|v| uri_parts(header_uri(v)))
        .map(|u| u.host)
}

/// Per Call-ID view: the initial INVITE tells which side placed the call.
struct Call<'a> {
    msgs: Vec<&'a Message>,
    /// From tag of the side that sent the initial request, and whether that side is the business.
    caller_tag: Option<String>,
    caller_is_business: Option<bool>,
}

impl<'a> Call<'a> {
    fn new(msgs: Vec<&'a Message>) -> Self {
        let first_req = msgs
            .iter()
            .find(|m| m.method() == Some("INVITE") && m.to_tag().is_none())
            .or_else(|| msgs.iter().find(|m| m.is_request()));
        let (mut caller_tag, mut caller_is_business) = (None, None);
        if let Some(r) = first_req {
            caller_tag = r.tag_of_from().map(str::to_string);
            caller_is_business = request_heuristic(r);
        }
        Call {
            msgs,
            caller_tag,
            caller_is_business,
        }
    }

    /// The first INVITE without a To tag: the one that set up the call.
    fn initial_invite(&self) -> Option<&'a Message> {
        self.msgs
            .iter()
            .find(|m| m.method() == Some("INVITE") && m.to_tag().is_none())
            .copied()
    }

    /// The 2xx answers to initial INVITEs (the authenticated retry has another CSeq); re-INVITE answers do not
    /// count.
    fn answers(&self) -> Vec<&'a Message> {
        let initial: Vec<u32> = self
            .msgs
            .iter()
            .filter(|m| m.method() == Some("INVITE") && m.to_tag().is_none())
            .filter_map(|m| m.cseq().map(|c| c.0))
            .collect();
        self.msgs
            .iter()
            .filter(|m| {
                m.cseq_method() == "INVITE" && m.code().is_some_and(|c| (200..300).contains(&c))
            })
            .filter(|m| m.cseq().is_some_and(|c| initial.contains(&c.0)))
            .copied()
            .collect()
    }

    /// Whether the side that sent the request (for a response: the request it answers) is the business.
    fn requester_is_business(&self, m: &Message) -> Option<bool> {
        if let (Some(ct), Some(cb), Some(ft)) =
            (&self.caller_tag, self.caller_is_business, m.tag_of_from())
        {
            return Some(if ft == ct { cb } else { !cb });
        }
        if m.is_request() {
            return request_heuristic(m);
        }
        // A response copies the request's From/To: the request went to the To host.
        match hdr_host(m, "to") {
            Some(h) if is_meta_host(&h) => Some(true),
            _ => hdr_host(m, "from")
                .map(|h| is_meta_host(&h))
                .filter(|b| *b)
                .map(|_| false),
        }
    }

    fn sender(&self, m: &Message) -> Side {
        match self.requester_is_business(m) {
            Some(b) if b == m.is_request() => Side::Business,
            Some(_) => Side::Meta,
            None => Side::Unknown,
        }
    }

    /// The request a response answers (same CSeq), latest one before it.
    fn request_for(&self, resp: &Message) -> Option<&'a Message> {
        let cs = resp.cseq()?;
        self.msgs
            .iter()
            .rev()
            .find(|m| m.is_request() && m.index < resp.index && m.cseq().as_ref() == Some(&cs))
            .copied()
    }
}

/// Who sent a request, judged from the request alone.
fn request_heuristic(m: &Message) -> Option<bool> {
    let ruri_host = m.request_uri().and_then(uri_parts).map(|u| u.host);
    if ruri_host.as_deref().is_some_and(is_meta_host)
        || hdr_host(m, "to").as_deref().is_some_and(is_meta_host)
    {
        return Some(true);
    }
    let ua_meta = m
        .header("user-agent")
        .is_some_and(|u| u.contains("Facebook"));
    if hdr_host(m, "from").as_deref().is_some_and(is_meta_host)
        || m.has_header("x-fb-external-domain")
        || ua_meta
    {
        return Some(false);
    }
    None
}

struct Ctx<'a> {
    /// Media packets of a capture (empty for text logs).
    media: &'a [MediaPacket],
    hostname: Option<String>,
    /// sip_user_password, to verify digest responses; never printed.
    password: Option<String>,
    findings: Vec<Finding>,
    _p: std::marker::PhantomData<&'a ()>,
}

impl Ctx<'_> {
    fn add(
        &mut self,
        severity: Severity,
        m: &Message,
        rule: &'static str,
        title: impl Into<String>,
        explanation: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.findings.push(Finding {
            severity,
            message: m.index,
            rule,
            title: title.into(),
            explanation: explanation.into(),
            fix: fix.into(),
        });
    }
}

/// Runs every check over the trace.
pub fn diagnose(trace: &Trace, hostname: Option<&str>, password: Option<&str>) -> Report {
    let mut order: Vec<String> = Vec::new();
    let mut by_call: HashMap<String, Vec<&Message>> = HashMap::new();
    for m in &trace.messages {
        let id = m.call_id().to_string();
        if !by_call.contains_key(&id) {
            order.push(id.clone());
        }
        by_call.entry(id).or_default().push(m);
    }
    let mut ctx = Ctx {
        media: &trace.media,
        hostname: hostname.map(|h| h.trim_end_matches('.').to_ascii_lowercase()),
        password: password.map(str::to_string),
        findings: Vec::new(),
        _p: std::marker::PhantomData,
    };
    let mut lines = Vec::new();
    for id in &order {
        let call = Call::new(by_call.remove(id).unwrap_or_default());
        for m in &call.msgs {
            lines.push(MessageLine {
                index: m.index,
                summary: m.summary(),
                call_id: id.clone(),
                sender: call.sender(m),
                time: m.time,
            });
        }
        check_call(&call, &mut ctx);
    }
    lines.sort_by_key(|l| l.index);
    let mut findings = ctx.findings;
    findings.sort_by_key(|f| (f.message, f.severity));
    Report {
        errors: findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count(),
        warnings: findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count(),
        calls: order.len(),
        messages: lines,
        findings,
        notes: trace.notes.clone(),
    }
}

fn check_call(call: &Call<'_>, ctx: &mut Ctx<'_>) {
    let mut challenges: Vec<(usize, BTreeMap<String, String>)> = Vec::new();
    let mut rejected_auth = 0usize;
    for m in &call.msgs {
        let from_business = call.sender(m) == Side::Business;
        if m.is_request() {
            if from_business {
                check_business_request(call, m, &challenges, ctx);
            }
        } else {
            // Challenges from Meta to the business (realm wa.meta.vc or answering a request to Meta).
            if matches!(m.code(), Some(401) | Some(407)) && !from_business {
                for v in m
                    .header_all("proxy-authenticate")
                    .into_iter()
                    .chain(m.header_all("www-authenticate"))
                {
                    for p in digest_params(v) {
                        challenges.push((m.index, p));
                    }
                }
                if let Some(req) = call.request_for(m) {
                    if req.has_header("proxy-authorization") || req.has_header("authorization") {
                        rejected_auth += 1;
                        let (sev, title) = if rejected_auth >= 2 {
                            (
                                Severity::Error,
                                format!(
                                    "407 loop: credentials rejected again ({rejected_auth} times)"
                                ),
                            )
                        } else {
                            (
                                Severity::Error,
                                "credentials rejected: challenged again after Proxy-Authorization"
                                    .to_string(),
                            )
                        };
                        ctx.add(
                            sev,
                            m,
                            "auth-rejected",
                            title,
                            format!(
                                "message #{} carried Proxy-Authorization and Meta answered {} again: the digest response \
                                 did not verify",
                                req.index,
                                m.code().unwrap_or(407)
                            ),
                            "use username = the business number without '+', password = sip_user_password from `wacall \
                             settings get ID --include-sip-credentials --show-password` (it changes when settings are \
                             re-applied), realm wa.meta.vc, digest uri byte-equal to the Request-URI, a fresh nonce from \
                             the latest 407",
                        );
                    }
                }
            }
            check_response(call, m, from_business, ctx);
        }
    }
    // A challenge the business never answered.
    if let Some((idx, first)) = challenges.first() {
        let answered = call
            .msgs
            .iter()
            .any(|m| m.index > *idx && m.is_request() && m.has_header("proxy-authorization"));
        let cancelled = call
            .msgs
            .iter()
            .any(|m| m.index > *idx && m.method() == Some("CANCEL"));
        if !answered && !cancelled {
            if let Some(m) = call.msgs.iter().find(|m| m.index == *idx) {
                let algs: Vec<String> = challenges
                    .iter()
                    .filter(|(i, _)| i == idx)
                    .map(|(_, p)| p.get("algorithm").cloned().unwrap_or_else(|| "MD5".into()))
                    .collect();
                let sha_first = first
                    .get("algorithm")
                    .is_some_and(|a| a.to_ascii_uppercase().starts_with("SHA-256"));
                ctx.add(
                    Severity::Error,
                    m,
                    "challenge-unanswered",
                    "Meta's 407 challenge was never answered",
                    format!(
                        "Meta challenged the INVITE (algorithms offered: {}) and no request with Proxy-Authorization \
                         follows{}",
                        algs.join(", "),
                        if sha_first {
                            ". SHA-256 is offered first: stock Kamailio 5.6 uac_auth() reads only the first challenge \
                             and fails with 'unsupported algorithm'"
                        } else {
                            ""
                        }
                    ),
                    "answer the 407 with Proxy-Authorization (Kamailio: uac_auth() in a failure_route for 407, or \
                     wacall's digest; FreeSWITCH: gateway with username/password), choosing an offered algorithm",
                );
            }
        }
    }
    check_dialog_routes(call, ctx);
    check_timing(call, ctx);
    check_media(call, ctx);
}

fn check_business_request(
    call: &Call<'_>,
    m: &Message,
    challenges: &[(usize, BTreeMap<String, String>)],
    ctx: &mut Ctx<'_>,
) {
    let method = m.method().unwrap_or("");
    let ruri = m.request_uri().unwrap_or("");
    let rparts = uri_parts(ruri);
    let initial = m.to_tag().is_none();
    let to_meta = rparts.as_ref().is_some_and(|u| is_meta_host(&u.host))
        || hdr_host(m, "to").as_deref().is_some_and(is_meta_host);

    if method == "REGISTER" {
        ctx.add(
            Severity::Error,
            m,
            "register",
            "REGISTER sent toward Meta",
            "Meta does not take registrations (it answers 403); calls to Meta are authenticated per INVITE with the 407 digest",
            "remove the registration (FreeSWITCH gateway: register=false; Kamailio: no uac_reg entry for wa.meta.vc)",
        );
    }

    if method == "INVITE" && initial && call.caller_is_business == Some(true) {
        if let Some(u) = &rparts {
            if is_ip(&u.host) {
                ctx.add(
                    Severity::Error,
                    m,
                    "ruri-ip",
                    format!("IP address {} in the Request-URI", u.host),
                    "Meta answers 404 when the Request-URI host is an address: it routes on the domain",
                    format!("send INVITE sip:+<E164>@{META_DOMAIN};transport=tls (resolve wa.meta.vc for the transport, keep the name in the URI)"),
                );
            } else if !is_meta_host(&u.host) && to_meta {
                ctx.add(
                    Severity::Error,
                    m,
                    "ruri-host",
                    format!("Request-URI host {} is not {META_DOMAIN}", u.host),
                    "Meta routes business-initiated calls on the Request-URI domain wa.meta.vc",
                    format!("send INVITE sip:+<E164>@{META_DOMAIN};transport=tls"),
                );
            }
            let user = u.user.as_deref().map(user_number).unwrap_or("");
            if to_meta
                && !(user.starts_with('+')
                    && user.len() > 4
                    && user[1..].chars().all(|c| c.is_ascii_digit()))
            {
                ctx.add(
                    Severity::Warning,
                    m,
                    "ruri-user",
                    format!("Request-URI user {user:?} is not +E.164"),
                    "Meta expects the WhatsApp user's number in E.164 with a leading '+'",
                    "normalise the dialled number to +<country code><number> before sending to Meta",
                );
            }
        }
        if to_meta {
            check_from_domain(m, ctx);
            // Meta compares the To URI with the digest uri, which must be the R-URI: keep them on one target.
            let to = m.header("to").and_then(|t| uri_parts(header_uri(t)));
            if let (Some(u), Some(t)) = (&rparts, &to) {
                let ru = u.user.as_deref().map(user_number);
                let tu = t.user.as_deref().map(user_number);
                if ru != tu || u.host != t.host {
                    ctx.add(
                        Severity::Warning,
                        m,
                        "to-uri",
                        format!(
                            "To URI {}@{} differs from the Request-URI {}@{}",
                            tu.unwrap_or(""),
                            t.host,
                            ru.unwrap_or(""),
                            u.host
                        ),
                        "Meta checks the digest uri (the Request-URI) against the To URI and has answered 403 'Proxy \
                         auth uri does not match SIP \"to\" uri'",
                        "send the same +E.164 user and host wa.meta.vc in To and Request-URI",
                    );
                }
            }
        }
    }

    if to_meta {
        if let Some(cred) = m
            .header("proxy-authorization")
            .or_else(|| m.header("authorization"))
        {
            check_digest(m, cred, challenges, ctx);
        }
        if method == "UPDATE" || (method == "INVITE" && !initial) {
            ctx.add(
                Severity::Warning,
                m,
                "reinvite",
                format!("{} inside the dialog sent to Meta", if method == "UPDATE" { "UPDATE" } else { "re-INVITE" }),
                "Meta does not support re-INVITE or UPDATE (it answers 500): hold, codec changes and session refreshes fail",
                "disable session timers and re-INVITEs toward Meta (FreeSWITCH: enable-timer=false, no hold; Kamailio: \
                 do not let the PBX's refreshes through to Meta, answer them locally)",
            );
        }
    }

    // Session timers in our INVITE (business-initiated) ask Meta to refresh with re-INVITE/UPDATE, which it refuses.
    if method == "INVITE" && initial && to_meta {
        if let Some(se) = m.header("session-expires") {
            ctx.add(
                Severity::Warning,
                m,
                "session-timer",
                format!("session timer requested (Session-Expires: {se})"),
                "a session refresh needs re-INVITE or UPDATE, which Meta answers with 500; the call then ends at the \
                 refresh interval",
                "disable session timers on the trunk toward Meta (FreeSWITCH: enable-timer=false; remove \
                 Session-Expires/Min-SE and 'timer' from Supported)",
            );
        }
    }

    if method == "INVITE" && initial && to_meta && m.has_sdp() {
        check_our_sdp(m, true, None, ctx);
    }

    // In-dialog requests must follow Meta's Contact (remote target).
    if !initial && method != "ACK" && to_meta {
        check_remote_target(call, m, ctx);
    }
    if method == "ACK" && to_meta {
        check_remote_target(call, m, ctx);
    }
}

fn check_from_domain(m: &Message, ctx: &mut Ctx<'_>) {
    let Some(from_host) = hdr_host(m, "from") else {
        return;
    };
    if is_meta_host(&from_host) {
        ctx.add(
            Severity::Error,
            m,
            "from-domain",
            format!("From domain is {from_host}, Meta's own domain"),
            "Meta identifies the business by the From domain, which must be the SIP server hostname configured for the \
             phone number (or a subdomain of it); Meta answers '403 SIP server ... does not match any SIP server \
             configured'",
            "set the From host to your configured hostname (FreeSWITCH gateway: from-domain; Kamailio: \
             uac_replace_from or $fd)",
        );
        return;
    }
    if is_ip(&from_host) {
        ctx.add(
            Severity::Error,
            m,
            "from-domain",
            format!("From domain is the address {from_host}"),
            "Meta matches the From domain against the SIP server hostname configured for the phone number; an \
             address never matches",
            "set the From host to the configured hostname",
        );
        return;
    }
    if let Some(h) = &ctx.hostname {
        if from_host != *h && !from_host.ends_with(&format!(".{h}")) {
            ctx.add(
                Severity::Error,
                m,
                "from-domain",
                format!("From domain {from_host} is not the configured hostname {h}"),
                "Meta answers 403 'SIP server ... does not match any SIP server configured' unless the From domain is \
                 the configured hostname or a subdomain of it",
                format!("set the From host to {h}, or configure {from_host} with `wacall settings apply`"),
            );
        }
    }
}

fn check_response(call: &Call<'_>, m: &Message, from_business: bool, ctx: &mut Ctx<'_>) {
    let code = m.code().unwrap_or(0);
    let method = m.cseq_method();
    let req = call.request_for(m);
    let reason = match &m.start {
        crate::trace::StartLine::Response { reason, .. } => reason.as_str(),
        _ => "",
    };
    let from_meta = call.sender(m) == Side::Meta;

    if from_meta && method == "INVITE" {
        let in_dialog = req.is_some_and(|r| r.to_tag().is_some());
        if in_dialog && code >= 400 {
            ctx.add(
                Severity::Error,
                m,
                "reinvite-refused",
                format!("re-INVITE refused with {code}"),
                "Meta does not support re-INVITE or UPDATE: hold, codec changes and session refreshes are refused",
                "disable session timers and re-INVITEs toward Meta; keep the call's media as first negotiated",
            );
            return;
        }
        match code {
            403 => {
                let lower = reason.to_ascii_lowercase();
                let warning = m.header("warning").unwrap_or("");
                if lower.contains("does not match any sip server") || warning.contains("does not match any SIP server") {
                    let named = reason.split_whitespace().nth(2).unwrap_or("?").to_string();
                    let from_host = req.and_then(|r| hdr_host(r, "from")).unwrap_or_else(|| named.clone());
                    ctx.add(
                        Severity::Error,
                        m,
                        "403-server-mismatch",
                        format!("403: From domain {from_host} does not match the configured SIP server"),
                        format!(
                            "Meta takes the From domain of the INVITE ({named}) as the business SIP server and finds no \
                             such server in the phone number's settings{}",
                            ctx.hostname.as_ref().map(|h| format!(" (you said it is {h})")).unwrap_or_default()
                        ),
                        "put the configured hostname in the From URI, or set the hostname with `wacall settings apply \
                         ID --hostname HOST`; check it with `wacall settings get ID`",
                    );
                } else if lower.contains("proxy auth uri") {
                    ctx.add(
                        Severity::Error,
                        m,
                        "403-auth-uri",
                        "403: digest uri does not match the To URI",
                        "Meta compares the Proxy-Authorization uri with the To URI",
                        "keep Request-URI, To URI and digest uri identical in user, host and port",
                    );
                } else {
                    ctx.add(
                        Severity::Error,
                        m,
                        "403",
                        format!("403 {reason}"),
                        "Meta refused the call: wrong From domain, failed digest, SIP not enabled for the number, or no \
                         call permission from the WhatsApp user for business-initiated calls",
                        "check From domain vs settings (`wacall settings get`), the digest credentials, and the user's \
                         call permission",
                    );
                }
            }
            404 => {
                let ip = req.and_then(|r| r.request_uri()).and_then(uri_parts).is_some_and(|u| is_ip(&u.host));
                ctx.add(
                    Severity::Error,
                    m,
                    "404",
                    format!("404 {reason}"),
                    if ip {
                        "the Request-URI host was an IP address: Meta routes on wa.meta.vc".to_string()
                    } else {
                        "Meta could not route the Request-URI: host not wa.meta.vc, or the number is not a WhatsApp \
                         user / not in E.164"
                            .to_string()
                    },
                    format!("send INVITE sip:+<E164>@{META_DOMAIN};transport=tls"),
                );
            }
            488 | 415 => ctx.add(
                Severity::Error,
                m,
                "sdp-refused",
                format!("{code} {reason}: Meta refused the offer"),
                "the SDP does not match what Meta takes: opus/48000/2, SRTP with the configured key exchange (DTLS: \
                 UDP/TLS/RTP/SAVPF with ICE and fingerprint; SDES: RTP/SAVP with a=crypto)",
                "offer opus and the SRTP mode set in srtp_key_exchange_protocol",
            ),
            500 | 503 | 408 | 480 | 486 | 487 | 400 => {
                let why = match code {
                    400 => "Meta could not parse the request: check header syntax and the R-URI user parameters",
                    408 => "no answer in time (user's phone unreachable, or our side did not complete the transaction)",
                    480 => "the WhatsApp user is unavailable (offline, or business calling not permitted)",
                    486 => "the WhatsApp user is busy or declined",
                    487 => "the INVITE was cancelled",
                    500 => "Meta failed the request; for an initial INVITE check the SDP and headers",
                    _ => "Meta is overloaded or the number hit its concurrent-call limit (about 1,000)",
                };
                ctx.add(Severity::Info, m, "final-response", format!("{code} {reason}"), why, "see the explanation; retry later for 480/486/503");
            }
            _ => {}
        }
    }
    if from_meta && method == "UPDATE" && code >= 400 {
        ctx.add(
            Severity::Error,
            m,
            "reinvite-refused",
            format!("UPDATE refused with {code}"),
            "Meta does not support UPDATE (or re-INVITE)",
            "disable session timers and UPDATE toward Meta",
        );
    }

    if from_business && method == "INVITE" && call.caller_is_business == Some(false) {
        // Our answer to Meta's call.
        if (180..=183).contains(&code) && m.has_sdp() {
            ctx.add(
                Severity::Warning,
                m,
                "early-media",
                format!("{code} with SDP (early media) sent to Meta"),
                "Meta does not support early media: announcements or ringback played before 200 OK are not heard and \
                 the media set-up can fail",
                "send 180 without SDP and the SDP only in 200 OK (FreeSWITCH: no pre_answer/ring_ready with media; \
                 Kamailio/rtpengine: strip SDP from 183)",
            );
        }
        if (200..300).contains(&code) {
            if let Some(se) = m.header("session-expires") {
                ctx.add(
                    Severity::Warning,
                    m,
                    "session-timer",
                    format!("session timer in our 200 OK (Session-Expires: {se})"),
                    "a refresh needs re-INVITE or UPDATE, which Meta refuses; the call ends at the refresh",
                    "disable session timers toward Meta",
                );
            }
            let offer = req.filter(|r| r.has_sdp()).map(|r| sdp_facts(&r.body));
            if m.has_sdp() {
                check_our_sdp(m, false, offer.as_ref(), ctx);
            }
        }
        if code == 401 || code == 407 {
            let retried = call.msgs.iter().any(|x| {
                x.index > m.index
                    && x.is_request()
                    && (x.has_header("proxy-authorization") || x.has_header("authorization"))
            });
            ctx.add(
                if retried { Severity::Info } else { Severity::Warning },
                m,
                "business-challenge",
                format!("our side challenged Meta's INVITE with {code}"),
                if retried {
                    "Meta answered the challenge with credentials (it can, as traces with carriers show); it adds a round trip to every call"
                } else {
                    "Meta did not answer the challenge, so the call never reached the PBX"
                },
                "identify Meta by source address and TLS instead of digest (Meta sends no credentials by default); never trust X-FB-External-Domain, anyone can send it",
            );
        } else if code >= 400 && code != 487 {
            let hint = match code {
                404 | 484 | 604 => {
                    "your server did not find the called number: the R-URI user carries Meta's user parameters \
                     (;tgrp=...;trunk-context=...) before '@'; strip or use them when routing"
                }
                403 => "your server refused Meta's call: allow Meta by source address and TLS",
                488 => "your server refused Meta's offer: accept opus and DTLS-SRTP (or SDES if so configured)",
                _ => "your server refused Meta's call",
            };
            ctx.add(
                Severity::Warning,
                m,
                "business-refused",
                format!("{code} {reason} sent to Meta"),
                hint,
                "see the explanation",
            );
        }
    }
}

/// Human-readable report.
pub fn render(r: &Report, list: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "read {} SIP message(s) in {} call(s)",
        r.messages.len(),
        r.calls
    );
    for n in &r.notes {
        let _ = writeln!(s, "note: {n}");
    }
    if list {
        for m in &r.messages {
            let who = match m.sender {
                Side::Business => "business -> Meta",
                Side::Meta => "Meta -> business",
                Side::Unknown => "?",
            };
            let t = m.time.map(|t| format!(" t={t:.3}")).unwrap_or_default();
            let _ = writeln!(s, "  #{:<3} {:<18} {}{t}", m.index, who, m.summary);
        }
    }
    if r.findings.is_empty() {
        let _ = writeln!(s, "no problem found against Meta's rules");
        return s;
    }
    for f in &r.findings {
        let sev = match f.severity {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
            Severity::Info => "INFO",
        };
        let summary = r
            .messages
            .iter()
            .find(|m| m.index == f.message)
            .map(|m| m.summary.as_str())
            .unwrap_or("");
        let _ = writeln!(s, "\n{sev} [{}] message #{} ({summary})", f.rule, f.message);
        let _ = writeln!(s, "  {}", f.title);
        let _ = writeln!(s, "  why: {}", f.explanation);
        let _ = writeln!(s, "  fix: {}", f.fix);
    }
    let _ = writeln!(
        s,
        "\n{} error(s), {} warning(s), {} note(s)",
        r.errors,
        r.warnings,
        r.findings.len() - r.errors - r.warnings
    );
    s
}
