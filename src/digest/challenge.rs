//! `Proxy-Authenticate`/`WWW-Authenticate` values: several challenges per value and per message, quoted strings with
//! escapes, unknown parameters kept; and the choice of the strongest challenge we can answer.

use std::fmt;

use super::{Error, Result};

/// Longest auth header value parsed.
pub const MAX_AUTH_HEADER: usize = 16 * 1024;
/// Most parameters per challenge.
pub const MAX_PARAMS: usize = 64;
/// Most challenges read from one message.
pub const MAX_CHALLENGES: usize = 32;

/// Digest algorithms (RFC 7616 section 6.1, RFC 8760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// `MD5` (the default when a challenge names none)
    Md5,
    /// `MD5-sess`
    Md5Sess,
    /// `SHA-256`
    Sha256,
    /// `SHA-256-sess`
    Sha256Sess,
    /// `SHA-512-256`
    Sha512_256,
    /// `SHA-512-256-sess`
    Sha512_256Sess,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Md5,
        Algorithm::Md5Sess,
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
        Algorithm::Sha512_256,
        Algorithm::Sha512_256Sess,
    ];

    /// Read an `algorithm` token (case-insensitive); `None` when unsupported.
    pub fn from_token(s: &str) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    /// The token as RFC 7616 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// Whether this is a `-sess` variant (A1 includes nonce and cnonce).
    pub fn is_sess(self) -> bool {
        matches!(
            self,
            Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess
        )
    }

    /// Ranking of the hash behind it: SHA-512-256 > SHA-256 > MD5.
    pub fn strength(self) -> u8 {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => 1,
            Algorithm::Sha256 | Algorithm::Sha256Sess => 2,
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => 3,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Quality of protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Qop {
    /// `auth`: method and URI are protected.
    Auth,
    /// `auth-int`: the body too.
    AuthInt,
}

impl Qop {
    /// Read a qop token (case-insensitive).
    pub fn from_token(s: &str) -> Option<Qop> {
        if s.eq_ignore_ascii_case("auth") {
            Some(Qop::Auth)
        } else if s.eq_ignore_ascii_case("auth-int") {
            Some(Qop::AuthInt)
        } else {
            None
        }
    }

    /// The token.
    pub fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `name=value` or `name="value"` auth parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParam {
    /// The name as written.
    pub name: String,
    /// The value with quoting and `\` escapes removed.
    pub value: String,
    /// Whether it is printed quoted: as received, and always when the value is not a token (e.g. empty, or with
    /// `/` or `=` in it).
    pub quoted: bool,
}

/// One challenge (`Digest realm="..", nonce="..", ...`), all parameters kept in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth scheme as written (`Digest`, `Basic`, `Bearer`, ...).
    pub scheme: String,
    /// A token68 credential blob (other schemes); `None` for Digest.
    pub token68: Option<String>,
    /// Every parameter in order, unknown ones included.
    pub params: Vec<AuthParam>,
}

impl Challenge {
    /// The value of the first parameter with this name (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_str())
    }

    /// Whether the scheme is `Digest`.
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("digest")
    }

    /// `realm`.
    pub fn realm(&self) -> Option<&str> {
        self.get("realm")
    }

    /// `nonce`.
    pub fn nonce(&self) -> Option<&str> {
        self.get("nonce")
    }

    /// `opaque` (echoed back unchanged).
    pub fn opaque(&self) -> Option<&str> {
        self.get("opaque")
    }

    /// `domain` (space-separated URIs).
    pub fn domain(&self) -> Option<&str> {
        self.get("domain")
    }

    /// `charset` (RFC 7616 allows only `UTF-8`).
    pub fn charset(&self) -> Option<&str> {
        self.get("charset")
    }

    /// The `algorithm` token as written.
    pub fn algorithm_raw(&self) -> Option<&str> {
        self.get("algorithm")
    }

    /// The algorithm: `MD5` when absent (RFC 7616 3.3), `None` when unsupported.
    pub fn algorithm(&self) -> Option<Algorithm> {
        match self.algorithm_raw() {
            None => Some(Algorithm::Md5),
            Some(a) => Algorithm::from_token(a.trim()),
        }
    }

    /// The supported qop options offered (`qop="auth,auth-int"`), in order; empty when `qop` is absent (RFC 2069).
    pub fn qop_options(&self) -> Vec<Qop> {
        self.get("qop")
            .map(|q| {
                q.split(',')
                    .filter_map(|t| Qop::from_token(t.trim()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether a `qop` parameter is present at all.
    pub fn has_qop(&self) -> bool {
        self.get("qop").is_some()
    }

    /// `stale=true`: the nonce expired, the credentials were right; retry without asking the user.
    pub fn stale(&self) -> bool {
        self.get("stale")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// `userhash=true` (RFC 7616 3.4.4): send H(username:realm) as username.
    pub fn userhash(&self) -> bool {
        self.get("userhash")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// Parse a value holding exactly one challenge.
    pub fn parse(value: &str) -> Result<Challenge> {
        let mut v = parse_challenges(value)?;
        if v.len() != 1 {
            return Err(Error::Parse(format!(
                "expected one challenge, found {}",
                v.len()
            )));
        }
        Ok(v.remove(0))
    }
}

impl fmt::Display for Challenge {
    /// `Digest realm="a", nonce="b", algorithm=MD5` (", " between parameters, quoting as parsed).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        if let Some(t) = &self.token68 {
            write!(f, " {t}")?;
        }
        for (i, p) in self.params.iter().enumerate() {
            f.write_str(if i == 0 && self.token68.is_none() {
                " "
            } else {
                ", "
            })?;
            f.write_str(&p.name)?;
            f.write_str("=")?;
            if p.quoted {
                write_quoted(f, &p.value)?;
            } else {
                f.write_str(&p.value)?;
            }
        }
        Ok(())
    }
}

/// Write `"value"` with `"` and `\` escaped.
pub(crate) fn write_quoted(f: &mut impl fmt::Write, v: &str) -> fmt::Result {
    f.write_char('"')?;
    // Write unescaped runs whole: per-char writes through a formatter dominate the cost of a header.
    let mut rest = v;
    while let Some(i) = rest.find(['"', '\\']) {
        f.write_str(&rest[..i])?;
        f.write_char('\\')?;
        f.write_str(&rest[i..i + 1])?;
        rest = &rest[i + 1..];
    }
    f.write_str(rest)?;
    f.write_char('"')
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

struct Lexer<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Lexer<'a> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\r' | b'\n') {
            self.i += 1;
        }
    }
    fn ws_commas(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\r' | b'\n' | b',')
        {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn token(&mut self) -> &'a str {
        let st = self.i;
        while self.i < self.b.len() && is_tchar(self.b[self.i]) {
            self.i += 1;
        }
        &self.s[st..self.i]
    }
    fn err(&self, what: &str) -> Error {
        Error::Parse(format!("{what} at byte {}", self.i))
    }
    fn quoted(&mut self) -> Result<String> {
        // Caller checked the opening quote.
        self.i += 1;
        let mut out = String::new();
        let mut st = self.i;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'"' => {
                    out.push_str(&self.s[st..self.i]);
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.s[st..self.i]);
                    self.i += 1;
                    // Escaped char may be multi-byte UTF-8: copy the whole char.
                    let c = self.s[self.i..]
                        .chars()
                        .next()
                        .ok_or_else(|| self.err("dangling escape"))?;
                    out.push(c);
                    self.i += c.len_utf8();
                    st = self.i;
                }
                _ => self.i += 1,
            }
        }
        Err(self.err("unterminated quoted string"))
    }
    fn bare_value(&mut self) -> &'a str {
        let st = self.i;
        while self.i < self.b.len()
            && !matches!(self.b[self.i], b',' | b' ' | b'\t' | b'\r' | b'\n' | b'"')
        {
            self.i += 1;
        }
        &self.s[st..self.i]
    }
    /// A token68 right after a scheme: token68 chars then '='s, followed by end or ','.
    fn try_token68(&mut self) -> Option<&'a str> {
        let st = self.i;
        let mut j = self.i;
        while j < self.b.len() && is_token68(self.b[j]) {
            j += 1;
        }
        if j == st {
            return None;
        }
        while j < self.b.len() && self.b[j] == b'=' {
            j += 1;
        }
        let mut k = j;
        while k < self.b.len() && matches!(self.b[k], b' ' | b'\t' | b'\r' | b'\n') {
            k += 1;
        }
        if k == self.b.len() || self.b[k] == b',' {
            self.i = j;
            Some(&self.s[st..j])
        } else {
            None
        }
    }
}

/// Parse one header value into its challenges: `Digest a=b, c="d", Digest e=f` gives two.
pub fn parse_challenges(value: &str) -> Result<Vec<Challenge>> {
    let mut out = Vec::new();
    parse_into(value, &mut out)?;
    Ok(out)
}

/// Parse every instance of a `Proxy-Authenticate`/`WWW-Authenticate` header, in order.
pub fn parse_challenge_headers<S: AsRef<str>>(values: &[S]) -> Result<Vec<Challenge>> {
    let mut out = Vec::new();
    for v in values {
        parse_into(v.as_ref(), &mut out)?;
    }
    Ok(out)
}

fn parse_into(value: &str, out: &mut Vec<Challenge>) -> Result<()> {
    if value.len() > MAX_AUTH_HEADER {
        return Err(Error::TooLarge(format!("over {MAX_AUTH_HEADER} bytes")));
    }
    let mut lx = Lexer {
        s: value,
        b: value.as_bytes(),
        i: 0,
    };
    let mut cur: Option<Challenge> = None;
    loop {
        lx.ws_commas();
        if lx.peek().is_none() {
            break;
        }
        let name = lx.token();
        if name.is_empty() {
            return Err(lx.err("expected a token"));
        }
        let after_name = lx.i;
        lx.ws();
        if lx.peek() == Some(b'=') {
            let ch = cur
                .as_mut()
                .ok_or_else(|| Error::Parse("parameter before any auth scheme".into()))?;
            lx.i += 1;
            lx.ws();
            let (v, quoted) = if lx.peek() == Some(b'"') {
                (lx.quoted()?, true)
            } else {
                // A bare value that is not a token (empty, or with '/', '=', ...) is lenient input; it is printed
                // quoted, since printed bare it could read as a token68 or a different value.
                let v = lx.bare_value();
                (v.to_owned(), v.is_empty() || !v.bytes().all(is_tchar))
            };
            if ch.params.len() >= MAX_PARAMS {
                return Err(Error::TooLarge(format!(
                    "more than {MAX_PARAMS} parameters"
                )));
            }
            ch.params.push(AuthParam {
                name: name.to_owned(),
                value: v,
                quoted,
            });
            lx.ws();
            match lx.peek() {
                None | Some(b',') => {}
                Some(_) => return Err(lx.err("expected ',' after parameter")),
            }
        } else {
            // A new scheme.
            if after_name == lx.i && lx.peek().is_some_and(|c| c != b',') {
                return Err(lx.err("expected whitespace after auth scheme"));
            }
            if let Some(c) = cur.take() {
                out.push(c);
            }
            if out.len() >= MAX_CHALLENGES {
                return Err(Error::TooLarge(format!(
                    "more than {MAX_CHALLENGES} challenges"
                )));
            }
            // Digest never uses token68; trying it would misread `Digest a=, b=c`.
            let token68 = if name.eq_ignore_ascii_case("digest") {
                None
            } else {
                lx.try_token68().map(str::to_owned)
            };
            cur = Some(Challenge {
                scheme: name.to_owned(),
                token68,
                params: Vec::new(),
            });
        }
    }
    if let Some(c) = cur {
        out.push(c);
    }
    Ok(())
}

/// Index of the strongest challenge we can answer: Digest with a supported algorithm (SHA-512-256 > SHA-256 > MD5,
/// plain before -sess) and qop (`auth` preferred over `auth-int` only, over none), realm and nonce present. Ties go to
/// the one listed first (servers list their preference first).
pub fn choose_best_index(challenges: &[Challenge]) -> Option<usize> {
    let mut best: Option<(usize, (u8, u8, u8))> = None;
    for (i, c) in challenges.iter().enumerate() {
        if !c.is_digest() || c.realm().is_none() || c.nonce().is_none() {
            continue;
        }
        let Some(alg) = c.algorithm() else { continue };
        let qops = c.qop_options();
        let qop_rank = if qops.contains(&Qop::Auth) {
            2
        } else if qops.contains(&Qop::AuthInt) {
            1
        } else if c.has_qop() {
            // qop offered, but nothing we know: cannot answer.
            continue;
        } else {
            0
        };
        let key = (alg.strength(), u8::from(!alg.is_sess()), qop_rank);
        if best.is_none_or(|(_, k)| key > k) {
            best = Some((i, key));
        }
    }
    best.map(|(i, _)| i)
}

/// The strongest challenge we can answer (see [`choose_best_index`]).
pub fn choose_best(challenges: &[Challenge]) -> Option<&Challenge> {
    choose_best_index(challenges).map(|i| &challenges[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_two_challenges() {
        let v = [
            r#"Digest realm="wa.meta.vc", nonce="abc", opaque="o1", algorithm=SHA-256, qop="auth""#,
            r#"Digest realm="wa.meta.vc", nonce="abc", opaque="o1", algorithm=MD5, qop="auth""#,
        ];
        let cs = parse_challenge_headers(&v).unwrap();
        assert_eq!(cs.len(), 2);
        assert_eq!(
            choose_best(&cs).unwrap().algorithm(),
            Some(Algorithm::Sha256)
        );
        let one = parse_challenges(&v.join(", ")).unwrap();
        assert_eq!(one, cs);
        let rev = parse_challenges(&format!("{}, {}", v[1], v[0])).unwrap();
        assert_eq!(
            choose_best(&rev).unwrap().algorithm(),
            Some(Algorithm::Sha256)
        );
    }

    #[test]
    fn seed_407s() {
        let c = Challenge::parse(
            r#"Digest realm="wa.meta.vc",nonce="419ac2415577f8e1",opaque="440badfc05072367",algorithm=MD5,qop="auth""#,
        )
        .unwrap();
        assert_eq!(c.realm(), Some("wa.meta.vc"));
        assert_eq!(c.nonce(), Some("419ac2415577f8e1"));
        assert_eq!(c.opaque(), Some("440badfc05072367"));
        assert_eq!(c.algorithm(), Some(Algorithm::Md5));
        assert_eq!(c.qop_options(), [Qop::Auth]);
        let t = Challenge::parse(r#"Digest realm="sip.twilio.com",nonce="eyOam_8-l5FVugxsyxFRjnlxq9vy1TjQIMB3mBfJuAvB5gV4",opaque="4a6a068be2ca2032a57912b9a2a6adf7",qop="auth""#).unwrap();
        assert_eq!(t.algorithm_raw(), None);
        assert_eq!(t.algorithm(), Some(Algorithm::Md5));
    }

    #[test]
    fn quoting_unknown_and_flags() {
        let c = Challenge::parse(
            r#"Digest realm="a \"q\" \\ b", qop="auth,auth-int", userhash=true, stale=TRUE, x-foo=bar, charset=UTF-8, domain="sip:a sip:b", algorithm=SHA-512-256-sess, nonce=n"#,
        )
        .unwrap();
        assert_eq!(c.realm(), Some(r#"a "q" \ b"#));
        assert_eq!(c.qop_options(), [Qop::Auth, Qop::AuthInt]);
        assert!(c.userhash() && c.stale());
        assert_eq!(c.get("X-FOO"), Some("bar"));
        assert_eq!(c.algorithm(), Some(Algorithm::Sha512_256Sess));
        assert_eq!(Challenge::parse(&c.to_string()).unwrap(), c);
    }

    #[test]
    fn other_schemes_and_garbage() {
        let cs = parse_challenges(
            r#"Basic realm="x", Bearer abc==, Digest realm="r", nonce="n", algorithm=FOO"#,
        )
        .unwrap();
        assert_eq!(cs.len(), 3);
        assert_eq!(cs[1].token68.as_deref(), Some("abc=="));
        let odd = parse_challenges("Bearer abc==, x=y").unwrap();
        assert_eq!(parse_challenges(&odd[0].to_string()).unwrap(), odd);
        let odd = parse_challenges("r abc=\n=, x=a/b, y=").unwrap();
        assert!(odd[0].params.iter().all(|p| p.quoted));
        assert_eq!(parse_challenges(&odd[0].to_string()).unwrap(), odd);
        assert!(choose_best(&cs).is_none());
        for g in [
            r#"realm="x""#,
            r#"Digest realm="x"#,
            "Digest a=b c",
            "=",
            "Digest \\",
        ] {
            assert!(parse_challenges(g).is_err(), "{g}");
        }
        assert!(parse_challenges("").unwrap().is_empty());
    }
}
