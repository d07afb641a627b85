//! `wacall diagnose`: checks the messages of a SIP trace against Meta's rules (From domain, R-URI, digest, dialog
//! routing, session timers, early media, SDP roles, call timing) and explains each problem with a fix.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::trace::{header_uri, uri_parts, user_number, Message, Trace};

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

/// Digest parameters of each Digest challenge (or credentials) in a header value, names lower-cased; parsed by
/// the core's RFC 7235/7616 reader.
pub fn digest_params(v: &str) -> Vec<BTreeMap<String, String>> {
    wacall::digest::challenge::parse_challenges(v)
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.is_digest())
        .map(|c| {
            c.params
                .into_iter()
                .map(|p| (p.name.to_ascii_lowercase(), p.value))
                .collect()
        })
        .collect()
}

/// The SDP facts the checks need (media-level attributes win over session-level ones).
#[derive(Debug, Default)]
struct SdpFacts {
    profile: Option<String>,
    ice_lite: bool,
    setup: Option<String>,
    fingerprint: bool,
    crypto: bool,
    ice_ufrag: bool,
    candidates: usize,
    opus: bool,
    port_zero: bool,
}

/// Reads the audio section through the core's lossless SDP model (media level first, then session level).
fn sdp_facts(body: &str) -> SdpFacts {
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
    f.ice_ufrag = audio.ice_ufrag().is_some() && audio.ice_pwd().is_some();
    f.candidates = audio.candidates().len();
    f.opus = audio.media.rtpmaps().flatten().any(|r| r.is_opus());
    f
}

struct Ctx<'a> {
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

fn check_digest(
    m: &Message,
    cred: &str,
    challenges: &[(usize, BTreeMap<String, String>)],
    ctx: &mut Ctx<'_>,
) {
    let Some(p) = digest_params(cred).into_iter().next() else {
        ctx.add(
            Severity::Error,
            m,
            "digest-scheme",
            "credentials are not Digest",
            "Meta only uses Digest authentication",
            "send Proxy-Authorization: Digest ...",
        );
        return;
    };
    let get = |k: &str| p.get(k).map(String::as_str);
    let mut problems: Vec<(Severity, String, String)> = Vec::new();
    let ruri = m.request_uri().unwrap_or("");
    if let Some(u) = get("username") {
        if u.starts_with('+') {
            problems.push((
                Severity::Error,
                format!("digest username {u:?} starts with '+'"),
                "use the business number without '+' as username".into(),
            ));
        } else if let Some(from_user) = m
            .header("from")
            .and_then(|f| uri_parts(header_uri(f)))
            .and_then(|u| u.user)
        {
            let fu = user_number(&from_user).trim_start_matches('+');
            if !fu.is_empty() && fu != u {
                problems.push((
                    Severity::Warning,
                    format!("digest username {u:?} differs from the From number {fu:?}"),
                    "the username is the business phone number (without '+') the call is placed from".into(),
                ));
            }
        }
    } else {
        problems.push((
            Severity::Error,
            "digest username missing".into(),
            "send username=\"<business number without +>\"".into(),
        ));
    }
    match get("uri") {
        Some(uri) if uri != ruri => problems.push((
            Severity::Error,
            format!("digest uri {uri:?} is not the Request-URI {ruri:?}"),
            "Meta computes the digest over the Request-URI exactly as sent (including ;transport=tls); make the digest \
             uri byte-equal to it"
                .into(),
        )),
        None => problems.push((Severity::Error, "digest uri missing".into(), "send uri=\"<Request-URI>\"".into())),
        _ => {}
    }
    if let (Some(uri), Some(to)) = (get("uri"), m.header("to")) {
        if let (Some(a), Some(b)) = (uri_parts(uri), uri_parts(header_uri(to))) {
            let au = a.user.as_deref().map(user_number);
            let bu = b.user.as_deref().map(user_number);
            if au != bu || a.host != b.host || a.port != b.port {
                problems.push((
                    Severity::Warning,
                    format!("digest uri {uri:?} and To URI {:?} name different targets", header_uri(to)),
                    "Meta has answered '403 Proxy auth uri does not match SIP \"to\" uri': keep R-URI, To URI and \
                     digest uri on the same user, host and port"
                        .into(),
                ));
            }
        }
    }
    match get("realm") {
        Some(r) if r != META_DOMAIN => problems.push((
            Severity::Error,
            format!("digest realm {r:?} is not {META_DOMAIN}"),
            format!("use realm=\"{META_DOMAIN}\" from Meta's challenge"),
        )),
        None => problems.push((
            Severity::Error,
            "digest realm missing".into(),
            format!("use realm=\"{META_DOMAIN}\""),
        )),
        _ => {}
    }
    // Only the latest challenge counts: each 407 replaces the previous nonce and algorithm set.
    let latest = challenges
        .iter()
        .filter(|(i, _)| *i < m.index)
        .map(|(i, _)| *i)
        .max();
    let before: Vec<&BTreeMap<String, String>> = challenges
        .iter()
        .filter(|(i, _)| Some(*i) == latest)
        .map(|(_, c)| c)
        .collect();
    let alg = get("algorithm").unwrap_or("MD5").to_ascii_uppercase();
    if !before.is_empty() {
        let offered: Vec<String> = before
            .iter()
            .map(|c| {
                c.get("algorithm")
                    .map(|a| a.to_ascii_uppercase())
                    .unwrap_or_else(|| "MD5".into())
            })
            .collect();
        if !offered.contains(&alg) {
            problems.push((
                Severity::Error,
                format!("digest algorithm {alg} was not offered (challenged: {})", offered.join(", ")),
                "answer with one of the algorithms of Meta's latest challenge (SHA-256 first, then MD5 since 2026)".into(),
            ));
        }
        let nonce = get("nonce");
        if let Some(n) = nonce {
            if !before
                .iter()
                .any(|c| c.get("nonce").map(String::as_str) == Some(n))
            {
                problems.push((
                    Severity::Warning,
                    "digest nonce is not from any challenge in the trace".into(),
                    "use the nonce of the latest 407".into(),
                ));
            }
        }
        let challenged = before
            .iter()
            .find(|c| c.get("nonce").map(String::as_str) == nonce)
            .copied()
            .or(before.last().copied());
        if let Some(c) = challenged {
            if c.contains_key("opaque") && get("opaque") != c.get("opaque").map(String::as_str) {
                problems.push((
                    Severity::Warning,
                    "opaque from the challenge not echoed".into(),
                    "copy opaque from the 407 unchanged".into(),
                ));
            }
            if c.get("qop")
                .is_some_and(|q| q.split(',').any(|x| x.trim() == "auth"))
                && get("qop").is_none()
            {
                problems.push((
                    Severity::Error,
                    "qop missing although Meta's challenge has qop=\"auth\"".into(),
                    "send qop=auth with nc and cnonce".into(),
                ));
            }
        }
    }
    if get("qop").is_some() {
        if get("nc").is_none_or(|n| n.len() != 8 || !n.chars().all(|c| c.is_ascii_hexdigit())) {
            problems.push((
                Severity::Error,
                "qop=auth without a valid nc (8 hex digits)".into(),
                "send nc=00000001 (and count up on nonce reuse)".into(),
            ));
        }
        if get("cnonce").is_none_or(str::is_empty) {
            problems.push((
                Severity::Error,
                "qop=auth without cnonce".into(),
                "send a fresh random cnonce".into(),
            ));
        }
    }
    if get("response").is_none_or(|r| r.is_empty()) {
        problems.push((
            Severity::Error,
            "digest response missing".into(),
            "compute the digest response".into(),
        ));
    }
    if let Some(pw) = ctx.password.clone() {
        match wacall::digest::Authorization::parse(cred) {
            Ok(a) if a.realm == META_DOMAIN => {
                if wacall::digest::check_response(
                    &a,
                    &pw,
                    m.method().unwrap_or(""),
                    m.body.as_bytes(),
                ) {
                    ctx.add(
                        Severity::Info,
                        m,
                        "digest-verified",
                        "digest response verifies with the given SIP password",
                        "the hash over username, realm, password, nonce, method and uri matches",
                        "nothing to fix in the credentials",
                    );
                } else {
                    problems.push((
                        Severity::Error,
                        "digest response does not verify with the given SIP password".into(),
                        "the password in use is not sip_user_password (fetch it again with `wacall settings get ID \
                         --include-sip-credentials --show-password`; it changes when settings are re-applied), or \
                         the hash used another username/uri than the fields sent"
                            .into(),
                    ));
                }
            }
            Ok(_) => {}
            Err(e) => problems.push((
                Severity::Error,
                format!("credentials cannot be checked: {e}"),
                "send every digest field Meta's challenge asks for".into(),
            )),
        }
    }
    for (sev, what, fix) in problems {
        ctx.add(sev, m, "digest", what, "Meta verifies the Proxy-Authorization fields strictly; a wrong field gives another 407 (a loop) or a 403", fix);
    }
}

fn check_remote_target(call: &Call<'_>, m: &Message, ctx: &mut Ctx<'_>) {
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

fn check_our_sdp(m: &Message, is_offer: bool, meta_offer: Option<&SdpFacts>, ctx: &mut Ctx<'_>) {
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

/// Record-Route consistency inside each dialog and ACKs for 2xx.
fn check_dialog_routes(call: &Call<'_>, ctx: &mut Ctx<'_>) {
    let Some(invite) = call
        .msgs
        .iter()
        .find(|m| m.method() == Some("INVITE") && m.to_tag().is_none())
    else {
        return;
    };
    // 2xx answers to an initial INVITE (the authenticated retry has another CSeq); re-INVITE answers do not count.
    let initial_cseqs: Vec<u32> = call
        .msgs
        .iter()
        .filter(|m| m.method() == Some("INVITE") && m.to_tag().is_none())
        .filter_map(|m| m.cseq().map(|c| c.0))
        .collect();
    let oks: Vec<&Message> = call
        .msgs
        .iter()
        .filter(|m| {
            m.cseq_method() == "INVITE" && m.code().is_some_and(|c| (200..300).contains(&c))
        })
        .filter(|m| m.cseq().is_some_and(|c| initial_cseqs.contains(&c.0)))
        .copied()
        .collect();
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
fn check_timing(call: &Call<'_>, ctx: &mut Ctx<'_>) {
    let answered = call
        .msgs
        .iter()
        .find(|m| m.cseq_method() == "INVITE" && m.code().is_some_and(|c| (200..300).contains(&c)));
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
