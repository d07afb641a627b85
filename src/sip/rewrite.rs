//! E.164 normalization and Meta's request-URI for business-initiated calls (`sip:+<E164>@wa.meta.vc;transport=tls`).
//! Numbers come in any common form (`+1 555-123-4567`, `0015551234567`, `tel:`, `sip:`); anything else is refused.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::uri::Uri;
use super::{Error, Result};

/// Meta's SIP domain for business-initiated calls.
pub const META_DOMAIN: &str = "wa.meta.vc";

/// E.164 allows at most 15 digits, country code included.
pub const E164_MAX_DIGITS: usize = 15;

/// How to read phone numbers that do not start with `+`, and where Meta lives.
///
/// `#[non_exhaustive]`: start from [`NumberPolicy::default`] and set fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NumberPolicy {
    /// International call prefixes (`00`, `011`) replaced by `+`; the longest match wins. Default `["00"]`
    /// (a leading `00` can never start an E.164 number, so this default is never ambiguous).
    pub international_prefixes: Vec<String>,
    /// Country code (digits, no `+`) for national numbers, e.g. `44`. Default none.
    pub default_country_code: Option<String>,
    /// National trunk prefix stripped before `default_country_code` is prepended, e.g. `0` (UK, DE) or `1` (NANP).
    /// Only used when `default_country_code` is set. A digits-only number without this prefix is taken as already
    /// international (country code first), so `15551234567` is `+15551234567`.
    pub national_prefix: Option<String>,
    /// Fewest digits accepted, country code included. Default 8.
    pub min_digits: usize,
    /// Meta's domain (optionally `:port`); never an IP address. Default `wa.meta.vc`.
    pub meta_domain: String,
}

impl Default for NumberPolicy {
    fn default() -> Self {
        NumberPolicy {
            international_prefixes: vec!["00".to_owned()],
            default_country_code: None,
            national_prefix: None,
            min_digits: 8,
            meta_domain: META_DOMAIN.to_owned(),
        }
    }
}

impl NumberPolicy {
    /// Builder: set the international prefixes.
    pub fn with_international_prefixes<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        p: I,
    ) -> Self {
        self.international_prefixes = p.into_iter().map(Into::into).collect();
        self
    }

    /// Builder: set the default country code and the national trunk prefix.
    pub fn with_national(mut self, country_code: &str, national_prefix: Option<&str>) -> Self {
        self.default_country_code = Some(country_code.trim_start_matches('+').to_owned());
        self.national_prefix = national_prefix.map(str::to_owned);
        self
    }

    /// Builder: set Meta's domain.
    pub fn with_meta_domain(mut self, domain: &str) -> Self {
        self.meta_domain = domain.to_owned();
        self
    }
}

/// A valid E.164 number; stored with its leading `+`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164(String);

impl E164 {
    /// `+` and digits, e.g. `+15551234567`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without `+`, e.g. `15551234567` (Meta's digest username).
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn invalid(input: &str, reason: impl Into<String>) -> Error {
    // Cap what we echo back: the input may be garbage from the network.
    let shown: String = input.chars().take(64).collect();
    Error::InvalidNumber {
        input: shown,
        reason: reason.into(),
    }
}

/// Take the number out of a `tel:`/`sip:`/`sips:` URI, or return the input.
fn strip_uri(input: &str) -> Result<String> {
    let t = input.trim();
    let lower_starts =
        |p: &str| t.len() >= p.len() && t.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    if lower_starts("tel:") {
        let rest = &t[4..];
        let num = rest.split(';').next().unwrap_or_default();
        return Ok(super::uri::unescape(num).into_owned());
    }
    if lower_starts("sip:") || lower_starts("sips:") {
        let u = Uri::parse(t).map_err(|e| invalid(input, e.to_string()))?;
        let user = u
            .user_unescaped()
            .ok_or_else(|| invalid(input, "SIP URI has no user part"))?;
        // A user part may be written `+1555...;phone-context=...` in some stacks when escaped; keep digits before ';'.
        return Ok(user.split(';').next().unwrap_or_default().to_owned());
    }
    Ok(t.to_owned())
}

/// Normalize a phone number to E.164 under `policy`.
///
/// Accepts `+1 555-123-4567`, `+1 (555) 123.4567`, `0015551234567` (with `00` an international prefix),
/// `15551234567`, national numbers with the policy's country code, `tel:+1...`, `sip:+1...@host`. Refuses letters,
/// a country code starting with 0, and fewer than `min_digits` or more than 15 digits.
pub fn normalize_e164(input: &str, policy: &NumberPolicy) -> Result<E164> {
    if input.len() > 256 {
        return Err(invalid(input, "longer than 256 bytes"));
    }
    let raw = strip_uri(input)?;
    let mut plus = false;
    let mut digits = String::with_capacity(16);
    for (i, c) in raw.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => plus = true,
            // RFC 3966 visual separators plus spaces and slashes people type.
            '-' | '.' | '(' | ')' | ' ' | '\t' | '/' => {}
            _ => return Err(invalid(input, format!("unexpected character {c:?}"))),
        }
    }
    if digits.is_empty() {
        return Err(invalid(input, "no digits"));
    }
    let e164 = if plus {
        digits
    } else if let Some(p) = policy
        .international_prefixes
        .iter()
        .filter(|p| !p.is_empty() && digits.starts_with(p.as_str()))
        .max_by_key(|p| p.len())
    {
        digits[p.len()..].to_owned()
    } else if let (Some(cc), Some(np)) = (&policy.default_country_code, &policy.national_prefix) {
        match digits.strip_prefix(np.as_str()) {
            Some(national) if !np.is_empty() => format!("{cc}{national}"),
            _ => digits,
        }
    } else if let (Some(cc), None) = (&policy.default_country_code, &policy.national_prefix) {
        // Without a trunk prefix the only national numbers we can recognise are ones starting with 0, which no
        // country code does.
        match digits.strip_prefix('0') {
            Some(national) => format!("{cc}{national}"),
            None => digits,
        }
    } else {
        digits
    };
    if e164.starts_with('0') {
        return Err(invalid(
            input,
            "country code cannot start with 0 (unknown international prefix?)",
        ));
    }
    if e164.len() > E164_MAX_DIGITS {
        return Err(invalid(
            input,
            format!(
                "{} digits; E.164 allows at most {E164_MAX_DIGITS}",
                e164.len()
            ),
        ));
    }
    if e164.len() < policy.min_digits {
        return Err(invalid(
            input,
            format!(
                "{} digits; at least {} required",
                e164.len(),
                policy.min_digits
            ),
        ));
    }
    Ok(E164(format!("+{e164}")))
}

/// Check that `domain` (optionally `host:port`) is a domain name Meta would route, not an IP address.
pub fn check_meta_domain(domain: &str) -> Result<()> {
    let err = || Error::InvalidMetaHost(domain.chars().take(64).collect());
    let d = domain.trim();
    if d.is_empty() || d.starts_with('[') || d.parse::<Ipv6Addr>().is_ok() {
        return Err(err());
    }
    let host = match d.rsplit_once(':') {
        Some((h, p)) => {
            if p.is_empty()
                || p.len() > 5
                || !p.bytes().all(|b| b.is_ascii_digit())
                || p.parse::<u16>().is_err()
            {
                return Err(err());
            }
            h
        }
        None => d,
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.parse::<Ipv4Addr>().is_ok() {
        return Err(err());
    }
    let labels_ok = host.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    });
    // An all-numeric last label is an IP-like thing (e.g. "1.2.3"), not a routable domain.
    let tld_alpha = host
        .rsplit('.')
        .next()
        .is_some_and(|t| t.bytes().any(|b| b.is_ascii_alphabetic()));
    if !labels_ok || !tld_alpha || host.len() > 253 {
        return Err(err());
    }
    Ok(())
}

/// Meta's request-URI for a business-initiated call: `sip:+15551234567@wa.meta.vc;transport=tls`.
///
/// Use the same string as the digest `uri` and keep the To URI consistent with it (Meta compares them).
pub fn meta_request_uri(number: &str, policy: &NumberPolicy) -> Result<String> {
    check_meta_domain(&policy.meta_domain)?;
    let n = normalize_e164(number, policy)?;
    let domain = policy.meta_domain.trim();
    let mut s = String::with_capacity(5 + n.0.len() + 1 + domain.len() + 14);
    s.push_str("sip:");
    s.push_str(&n.0);
    s.push('@');
    s.push_str(domain);
    s.push_str(";transport=tls");
    Ok(s)
}

/// Meta's digest username for a business number: its E.164 digits without `+` (`+1 555-123-4567` -> `15551234567`).
/// Reads the number with the default [`NumberPolicy`].
pub fn meta_digest_username(number: &str) -> Result<String> {
    Ok(normalize_e164(number, &NumberPolicy::default())?
        .digits()
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let p = NumberPolicy::default();
        let want = "sip:+15551234567@wa.meta.vc;transport=tls";
        for n in [
            "+1 555-123-4567",
            "+1 (555) 123.4567",
            "0015551234567",
            "15551234567",
            "tel:+1-555-123-4567;phone-context=x",
            "sip:+15551234567@x.example",
            "sips:%2B15551234567@x.example;transport=tls",
            " +15551234567 ",
        ] {
            assert_eq!(meta_request_uri(n, &p).unwrap(), want, "{n}");
        }
        let us = NumberPolicy::default().with_international_prefixes(["011"]);
        assert_eq!(
            meta_request_uri("01144 20 7946 0000", &us).unwrap(),
            "sip:+442079460000@wa.meta.vc;transport=tls"
        );
        assert!(meta_request_uri("0015551234567", &us).is_err());
        let uk = NumberPolicy::default().with_national("44", Some("0"));
        assert_eq!(
            normalize_e164("020 7946 0000", &uk).unwrap().as_str(),
            "+442079460000"
        );
        assert_eq!(
            normalize_e164("0044 20 7946 0000", &uk).unwrap().as_str(),
            "+442079460000"
        );
        let nanp = NumberPolicy::default().with_national("1", Some("1"));
        assert_eq!(
            normalize_e164("15551234567", &nanp).unwrap().as_str(),
            "+15551234567"
        );
    }

    #[test]
    fn rejects() {
        let p = NumberPolicy::default();
        for n in [
            "",
            "+",
            "abc",
            "+1555123456789012",
            "+1234567",
            "0123456789",
            "+1 555 CALL NOW",
            "555+1234567",
            "sip:host",
        ] {
            assert!(
                matches!(normalize_e164(n, &p), Err(Error::InvalidNumber { .. })),
                "{n}"
            );
        }
        for d in [
            "1.2.3.4",
            "[::1]",
            "::1",
            "1.2.3.4:5061",
            "",
            "wa..meta",
            "-a.vc",
            "1.2.3",
            "a b.vc",
            "wa.meta.vc:x",
        ] {
            let p = NumberPolicy::default().with_meta_domain(d);
            assert!(
                matches!(
                    meta_request_uri("+15551234567", &p),
                    Err(Error::InvalidMetaHost(_))
                ),
                "{d}"
            );
        }
        let p = NumberPolicy::default().with_meta_domain("wa.meta.vc:5061");
        assert_eq!(
            meta_request_uri("+15551234567", &p).unwrap(),
            "sip:+15551234567@wa.meta.vc:5061;transport=tls"
        );
    }

    #[test]
    fn digest_username() {
        assert_eq!(
            meta_digest_username("+1 712-555-0259").unwrap(),
            "17125550259"
        );
        assert_eq!(
            meta_digest_username("sip:+12145551869@meta-voip.example.com").unwrap(),
            "12145551869"
        );
    }
}
