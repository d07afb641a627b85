//! Digest server side: challenges with stateless nonces (timestamp + salt + HMAC-SHA256 over them, the realm and a
//! secret) and verification of responses, with expiry (`stale=true`) and bounded nonce-count replay tracking.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::authorization::Authorization;
use super::challenge::{Algorithm, AuthParam, Challenge, Qop};
use super::client::{compute_response, ResponseInput};
use super::hash::ct_eq;
use super::{Error, Result};

/// Bytes in a nonce: 8 timestamp + 8 salt + 16 MAC.
const NONCE_BYTES: usize = 32;

/// How a [`Server`] challenges. Start from [`ServerConfig::new`] and adjust fields.
#[derive(Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The realm announced and required.
    pub realm: String,
    /// HMAC key for nonces; at least 16 bytes. Never printed.
    pub secret: Vec<u8>,
    /// How long a nonce is good for. Default 300 s.
    pub nonce_ttl: Duration,
    /// Algorithms offered, strongest first, one challenge each. Default SHA-256, MD5 (as Meta does).
    pub algorithms: Vec<Algorithm>,
    /// qop values offered. Default `auth`. Responses without qop are always refused (no nonce-count, no replay
    /// protection).
    pub qop: Vec<Qop>,
    /// `opaque` to send and require back, if any.
    pub opaque: Option<String>,
    /// Most nonces whose nonce-counts are remembered; older ones are forgotten and then answered as stale.
    /// Default 10,000.
    pub max_tracked_nonces: usize,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("realm", &self.realm)
            .field("secret", &"<redacted>")
            .field("nonce_ttl", &self.nonce_ttl)
            .field("algorithms", &self.algorithms)
            .field("qop", &self.qop)
            .field("opaque", &self.opaque)
            .field("max_tracked_nonces", &self.max_tracked_nonces)
            .finish()
    }
}

impl ServerConfig {
    /// Defaults for a realm and secret.
    pub fn new(realm: impl Into<String>, secret: impl Into<Vec<u8>>) -> ServerConfig {
        ServerConfig {
            realm: realm.into(),
            secret: secret.into(),
            nonce_ttl: Duration::from_secs(300),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            qop: vec![Qop::Auth],
            opaque: None,
            max_tracked_nonces: 10_000,
        }
    }
}

/// What a request under verification looks like.
#[derive(Clone, Copy)]
pub struct VerifyRequest<'a> {
    /// The request's method.
    pub method: &'a str,
    /// The body (used for qop=auth-int).
    pub body: &'a [u8],
    /// Now, in Unix seconds.
    pub now_unix: u64,
    /// Accepts or refuses the digest `uri` (e.g. compare with the request-URI); `None` accepts any.
    pub uri_check: Option<&'a dyn Fn(&str) -> bool>,
}

impl fmt::Debug for VerifyRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyRequest")
            .field("method", &self.method)
            .field("body_len", &self.body.len())
            .field("now_unix", &self.now_unix)
            .field("uri_check", &self.uri_check.is_some())
            .finish()
    }
}

/// A successful verification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The authenticated username.
    pub username: String,
    /// The algorithm used.
    pub algorithm: Algorithm,
    /// The qop used.
    pub qop: Qop,
    /// The nonce-count accepted.
    pub nc: u32,
}

/// Seen nonce-counts of one nonce: the highest and a 64-wide window below it (for reordered retransmissions).
struct NcWindow {
    max: u32,
    seen: u64,
}

impl NcWindow {
    fn accept(&mut self, nc: u32) -> bool {
        if nc > self.max {
            let shift = nc - self.max;
            self.seen = if shift >= 64 { 0 } else { self.seen << shift };
            self.seen |= 1;
            self.max = nc;
            return true;
        }
        let back = self.max - nc;
        if back >= 64 || self.seen & (1u64 << back) != 0 {
            return false;
        }
        self.seen |= 1u64 << back;
        true
    }
}

/// Issues and verifies digest challenges. Sans-IO: the caller passes the time. Not `Sync` by itself: wrap it in a
/// mutex to share between threads.
pub struct Server {
    cfg: ServerConfig,
    tracked: HashMap<String, NcWindow>,
    order: VecDeque<(u64, String)>,
    /// Nonces at or before this timestamp whose state was evicted: answered as stale, never trusted again.
    evicted_up_to: Option<u64>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("cfg", &self.cfg)
            .field("tracked", &self.tracked.len())
            .finish()
    }
}

impl Server {
    /// A server for this configuration; refuses a secret under 16 bytes, no algorithm, or no qop.
    pub fn new(cfg: ServerConfig) -> Result<Server> {
        if cfg.secret.len() < 16 {
            return Err(Error::Config("secret must be at least 16 bytes".into()));
        }
        if cfg.algorithms.is_empty() || cfg.qop.is_empty() {
            return Err(Error::Config(
                "at least one algorithm and one qop needed".into(),
            ));
        }
        if cfg.realm.is_empty() {
            return Err(Error::Config("empty realm".into()));
        }
        Ok(Server {
            cfg,
            tracked: HashMap::new(),
            order: VecDeque::new(),
            evicted_up_to: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.cfg
    }

    fn mac(&self, ts: &[u8], salt: &[u8]) -> [u8; 16] {
        let mut out = [0u8; 16];
        // new_from_slice accepts any key length for HMAC; the error branch is unreachable in practice.
        if let Ok(mut m) = Hmac::<Sha256>::new_from_slice(&self.cfg.secret) {
            m.update(ts);
            m.update(salt);
            m.update(self.cfg.realm.as_bytes());
            out.copy_from_slice(&m.finalize().into_bytes()[..16]);
        }
        out
    }

    /// A fresh nonce for time `now_unix`.
    pub fn new_nonce(&self, now_unix: u64) -> Result<String> {
        let mut raw = [0u8; NONCE_BYTES];
        raw[..8].copy_from_slice(&now_unix.to_be_bytes());
        getrandom::fill(&mut raw[8..16]).map_err(|e| Error::Random(e.to_string()))?;
        let mac = self.mac(&raw[..8], &raw[8..16]);
        raw[16..].copy_from_slice(&mac);
        Ok(URL_SAFE_NO_PAD.encode(raw))
    }

    /// Check a nonce's MAC; returns its timestamp. Says nothing about expiry.
    pub fn nonce_timestamp(&self, nonce: &str) -> Result<u64> {
        if nonce.len() > 64 {
            return Err(Error::InvalidNonce);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(nonce)
            .map_err(|_| Error::InvalidNonce)?;
        if raw.len() != NONCE_BYTES {
            return Err(Error::InvalidNonce);
        }
        let mac = self.mac(&raw[..8], &raw[8..16]);
        if !ct_eq(&mac, &raw[16..]) {
            return Err(Error::InvalidNonce);
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&raw[..8]);
        Ok(u64::from_be_bytes(ts))
    }

    /// One challenge per configured algorithm, all with the same fresh nonce; `stale` after a [`Error::StaleNonce`].
    pub fn challenges(&self, now_unix: u64, stale: bool) -> Result<Vec<Challenge>> {
        let nonce = self.new_nonce(now_unix)?;
        let qop = self
            .cfg
            .qop
            .iter()
            .map(|q| q.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let p = |n: &str, v: &str, quoted: bool| AuthParam {
            name: n.into(),
            value: v.into(),
            quoted,
        };
        Ok(self
            .cfg
            .algorithms
            .iter()
            .map(|a| {
                let mut params = vec![p("realm", &self.cfg.realm, true), p("nonce", &nonce, true)];
                if let Some(o) = &self.cfg.opaque {
                    params.push(p("opaque", o, true));
                }
                params.push(p("algorithm", a.as_str(), false));
                params.push(p("qop", &qop, true));
                if stale {
                    params.push(p("stale", "true", false));
                }
                Challenge {
                    scheme: "Digest".into(),
                    token68: None,
                    params,
                }
            })
            .collect())
    }

    /// [`Server::challenges`] as header values, one `Proxy-Authenticate`/`WWW-Authenticate` header each.
    pub fn challenge_header_values(&self, now_unix: u64, stale: bool) -> Result<Vec<String>> {
        Ok(self
            .challenges(now_unix, stale)?
            .iter()
            .map(ToString::to_string)
            .collect())
    }

    /// Verify an `Authorization`/`Proxy-Authorization` value. `password_for` maps a username to its password.
    ///
    /// Checks, in order: syntax, realm, algorithm and qop offered, opaque, nonce MAC, uri (hook), user known, response
    /// (constant-time), nonce expiry (so `StaleNonce` means the password was right), nonce-count not replayed.
    pub fn verify(
        &mut self,
        header_value: &str,
        req: &VerifyRequest<'_>,
        password_for: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Verified> {
        let a = Authorization::parse(header_value)?;
        if a.realm != self.cfg.realm {
            return Err(Error::RealmMismatch);
        }
        let algorithm = a.effective_algorithm();
        if !self.cfg.algorithms.contains(&algorithm) {
            return Err(Error::UnsupportedAlgorithm(algorithm.as_str().into()));
        }
        let qop = a.qop.ok_or(Error::MissingParam("qop"))?;
        if !self.cfg.qop.contains(&qop) {
            return Err(Error::UnsupportedQop(qop.as_str().into()));
        }
        if a.userhash {
            return Err(Error::Invalid(
                "userhash is not offered by this server".into(),
            ));
        }
        let nc = a.nc.ok_or(Error::MissingParam("nc"))?;
        let cnonce = a.cnonce.as_deref().ok_or(Error::MissingParam("cnonce"))?;
        if nc == 0 {
            return Err(Error::ReplayedNonceCount(0));
        }
        if let Some(o) = &self.cfg.opaque {
            if a.opaque.as_deref() != Some(o.as_str()) {
                return Err(Error::InvalidNonce);
            }
        }
        let ts = self.nonce_timestamp(&a.nonce)?;
        if let Some(check) = req.uri_check {
            if !check(&a.uri) {
                return Err(Error::UriMismatch);
            }
        }
        let password = password_for(&a.username).ok_or(Error::UnknownUser)?;
        let expected = compute_response(&ResponseInput {
            algorithm,
            qop: Some(qop),
            username: &a.username,
            realm: &a.realm,
            password: &password,
            nonce: &a.nonce,
            cnonce,
            nc,
            method: req.method,
            uri: &a.uri,
            body: req.body,
        });
        if !ct_eq(
            expected.as_bytes(),
            a.response.to_ascii_lowercase().as_bytes(),
        ) {
            return Err(Error::BadResponse);
        }
        let expired = req.now_unix.saturating_sub(ts) > self.cfg.nonce_ttl.as_secs()
            || ts > req.now_unix.saturating_add(60);
        if expired {
            return Err(Error::StaleNonce);
        }
        self.accept_nc(&a.nonce, ts, nc, req.now_unix)?;
        Ok(Verified {
            username: a.username,
            algorithm,
            qop,
            nc,
        })
    }

    fn accept_nc(&mut self, nonce: &str, ts: u64, nc: u32, now: u64) -> Result<()> {
        if let Some(w) = self.tracked.get_mut(nonce) {
            return if w.accept(nc) {
                Ok(())
            } else {
                Err(Error::ReplayedNonceCount(nc))
            };
        }
        if self.evicted_up_to.is_some_and(|e| ts <= e) {
            // We may have forgotten this nonce's counts: make the client take a fresh one.
            return Err(Error::StaleNonce);
        }
        // Drop expired entries from the front, then the oldest while full.
        let ttl = self.cfg.nonce_ttl.as_secs();
        while let Some((t, _)) = self.order.front() {
            let full = self.tracked.len() >= self.cfg.max_tracked_nonces.max(1);
            if now.saturating_sub(*t) <= ttl && !full {
                break;
            }
            if let Some((t, n)) = self.order.pop_front() {
                self.tracked.remove(&n);
                if now.saturating_sub(t) <= ttl {
                    self.evicted_up_to = Some(self.evicted_up_to.map_or(t, |e| e.max(t)));
                }
            }
        }
        let mut w = NcWindow { max: 0, seen: 0 };
        w.accept(nc);
        self.tracked.insert(nonce.to_owned(), w);
        self.order.push_back((ts, nonce.to_owned()));
        Ok(())
    }

    /// How many nonces have tracked nonce-counts.
    pub fn tracked_nonces(&self) -> usize {
        self.tracked.len()
    }
}

/// Whether `a.response` is right for `password`, `method` and `body`, without any nonce checks: for checking
/// recorded traces and third-party nonces. Servers use [`Server::verify`]. Constant-time compare.
pub fn check_response(a: &Authorization, password: &str, method: &str, body: &[u8]) -> bool {
    if a.userhash {
        return false;
    }
    let expected = compute_response(&ResponseInput {
        algorithm: a.effective_algorithm(),
        qop: a.qop,
        username: &a.username,
        realm: &a.realm,
        password,
        nonce: &a.nonce,
        cnonce: a.cnonce.as_deref().unwrap_or(""),
        nc: a.nc.unwrap_or(0),
        method,
        uri: &a.uri,
        body,
    });
    ct_eq(
        expected.as_bytes(),
        a.response.to_ascii_lowercase().as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::client::{respond, Credentials, DigestRequest};

    fn server() -> Server {
        Server::new(ServerConfig::new(
            "wa.example",
            b"0123456789abcdef0123".to_vec(),
        ))
        .unwrap()
    }

    fn answer(s: &Server, now: u64, alg_idx: usize, nc: u32) -> String {
        let ch = &s.challenges(now, false).unwrap()[alg_idx];
        let mut r = DigestRequest::new("INVITE", "sip:+15551234567@wa.example;transport=tls");
        r.nonce_count = nc;
        respond(ch, &Credentials::new("15551234567", "pw"), &r)
            .unwrap()
            .to_string()
    }

    fn req(now: u64) -> VerifyRequest<'static> {
        VerifyRequest {
            method: "INVITE",
            body: b"",
            now_unix: now,
            uri_check: None,
        }
    }

    fn pw(u: &str) -> Option<String> {
        (u == "15551234567").then(|| "pw".to_owned())
    }

    #[test]
    fn round_trip_and_replay() {
        let mut s = server();
        for idx in [0, 1] {
            let h = answer(&s, 1000, idx, 1);
            let v = s.verify(&h, &req(1001), pw).unwrap();
            assert_eq!(v.username, "15551234567");
            assert_eq!(
                s.verify(&h, &req(1001), pw),
                Err(Error::ReplayedNonceCount(1))
            );
        }
        let h = answer(&s, 1000, 0, 1);
        assert_eq!(s.verify(&h, &req(1000 + 301), pw), Err(Error::StaleNonce));
        assert!(s.verify(&h, &req(1000 + 301), pw).unwrap_err().is_stale());
        assert_eq!(
            s.verify(&h, &req(1001), |_| Some("bad".into())),
            Err(Error::BadResponse)
        );
        assert_eq!(s.verify(&h, &req(1001), |_| None), Err(Error::UnknownUser));
        let no = |_: &str| false;
        let r = VerifyRequest {
            uri_check: Some(&no),
            ..req(1001)
        };
        assert_eq!(s.verify(&h, &r, pw), Err(Error::UriMismatch));
        let other = Server::new(ServerConfig::new(
            "wa.example",
            b"another secret of 16+".to_vec(),
        ))
        .unwrap();
        let h2 = answer(&other, 1000, 0, 1);
        assert_eq!(s.verify(&h2, &req(1001), pw), Err(Error::InvalidNonce));
    }

    #[test]
    fn nc_window() {
        let mut w = NcWindow { max: 0, seen: 0 };
        assert!(w.accept(1) && w.accept(3) && w.accept(2) && !w.accept(2) && !w.accept(3));
        assert!(w.accept(100) && !w.accept(36) && w.accept(37));
    }

    #[test]
    fn bounded_tracking() {
        let mut cfg = ServerConfig::new("wa.example", b"0123456789abcdef0123".to_vec());
        cfg.max_tracked_nonces = 4;
        let mut s = Server::new(cfg).unwrap();
        let first = answer(&s, 1000, 0, 1);
        s.verify(&first, &req(1000), pw).unwrap();
        for t in 1..=4 {
            let h = answer(&s, 1000 + t, 0, 1);
            s.verify(&h, &req(1000 + t), pw).unwrap();
        }
        assert_eq!(s.tracked_nonces(), 4);
        // The first nonce's state was evicted: its next count is refused as stale, not accepted blindly.
        let again = answer_with_nonce_of(&first, 2);
        assert_eq!(s.verify(&again, &req(1005), pw), Err(Error::StaleNonce));
    }

    fn answer_with_nonce_of(prev: &str, nc: u32) -> String {
        let a = Authorization::parse(prev).unwrap();
        let ch = Challenge::parse(&format!(
            r#"Digest realm="{}", nonce="{}", algorithm=SHA-256, qop="auth""#,
            a.realm, a.nonce
        ))
        .unwrap();
        let mut r = DigestRequest::new("INVITE", "sip:+15551234567@wa.example;transport=tls");
        r.nonce_count = nc;
        respond(&ch, &Credentials::new("15551234567", "pw"), &r)
            .unwrap()
            .to_string()
    }

    #[test]
    fn config_checks() {
        assert!(Server::new(ServerConfig::new("r", b"short".to_vec())).is_err());
        assert!(!format!("{:?}", server()).contains("0123456789abcdef"));
    }
}
