//! Digest checks for `wacall diagnose`: the fields of our Proxy-Authorization against Meta's latest challenge, and
//! optionally the response itself against sip_user_password.

use std::collections::BTreeMap;

use super::*;

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

pub(super) fn check_digest(
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
