//! The generator's "Meta side" of a DTLS leg: an ice-lite STUN responder and a DTLS-SRTP server, one per call,
//! over in-memory datagrams (the generator's shared sockets carry many calls; the relay's source port tells them
//! apart). Adapted from `tools/meta-peer` (its own STUN code and OpenSSL DTLS directly, not wacall's
//! `media::{stun,dtls}`), so the relay is checked against an independent peer.

use std::collections::VecDeque;
use std::io::{Read, Write};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use openssl::ssl::{
    HandshakeError, MidHandshakeSslStream, Ssl, SslContext, SslMethod, SslOptions, SslStream,
    SslVerifyMode,
};
use openssl::x509::{X509Name, X509Ref, X509};
use std::net::SocketAddr;
use wacall::media::{SrtpKeyMaterial, SrtpProfile};

/// The DTLS-SRTP profile the generator (server) accepts: Meta's.
pub const DTLS_PROFILE: SrtpProfile = SrtpProfile::AesCm128HmacSha1_80;

fn hex_fingerprint(cert: &X509Ref) -> String {
    let d = cert
        .digest(MessageDigest::sha256())
        .map(|d| d.to_vec())
        .unwrap_or_default();
    d.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The hex part of "sha-256 AB:CD:..." (or the hex itself), upper case.
pub fn fingerprint_hex(attr: &str) -> String {
    attr.split_whitespace()
        .last()
        .unwrap_or("")
        .to_ascii_uppercase()
}

/// The generator's certificate (ECDSA P-256, self-signed) in one DTLS server context shared by all calls.
pub struct Identity {
    ctx: SslContext,
    /// "sha-256 AB:CD:...", as in `a=fingerprint`.
    pub fingerprint: String,
}

impl Identity {
    pub fn new() -> Result<Self, String> {
        let e = |e: openssl::error::ErrorStack| e.to_string();
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(e)?;
        let key = PKey::from_ec_key(EcKey::generate(&group).map_err(e)?).map_err(e)?;
        let mut name = X509Name::builder().map_err(e)?;
        name.append_entry_by_nid(Nid::COMMONNAME, "wacall-loadgen")
            .map_err(e)?;
        let name = name.build();
        let mut b = X509::builder().map_err(e)?;
        b.set_version(2).map_err(e)?;
        let mut serial = BigNum::new().map_err(e)?;
        serial.rand(63, MsbOption::MAYBE_ZERO, false).map_err(e)?;
        let serial = serial.to_asn1_integer().map_err(e)?;
        b.set_serial_number(&serial).map_err(e)?;
        b.set_subject_name(&name).map_err(e)?;
        b.set_issuer_name(&name).map_err(e)?;
        b.set_pubkey(&key).map_err(e)?;
        let (from, until) = (
            Asn1Time::days_from_now(0).map_err(e)?,
            Asn1Time::days_from_now(30).map_err(e)?,
        );
        b.set_not_before(&from).map_err(e)?;
        b.set_not_after(&until).map_err(e)?;
        b.sign(&key, MessageDigest::sha256()).map_err(e)?;
        let cert = b.build();
        let mut c = SslContext::builder(SslMethod::dtls()).map_err(e)?;
        c.set_certificate(&cert).map_err(e)?;
        c.set_private_key(&key).map_err(e)?;
        c.check_private_key().map_err(e)?;
        c.set_tlsext_use_srtp(DTLS_PROFILE.dtls_name()).map_err(e)?;
        // No session tickets: the last flight is ChangeCipherSpec + Finished only, as a WebRTC peer sends it.
        c.set_options(SslOptions::NO_TICKET);
        Ok(Self {
            ctx: c.build(),
            fingerprint: format!("sha-256 {}", hex_fingerprint(&cert)),
        })
    }
}

/// ICE credentials the generator chooses for one call (it is the ice-lite side: it only answers checks).
#[derive(Clone)]
pub struct IceCreds {
    pub ufrag: String,
    pub pwd: String,
}

impl IceCreds {
    pub fn random() -> Self {
        Self {
            ufrag: rand_string(8),
            pwd: rand_string(24),
        }
    }
}

fn rand_string(n: usize) -> String {
    const C: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut b = vec![0u8; n];
    let _ = openssl::rand::rand_bytes(&mut b);
    b.iter().map(|x| C[*x as usize % C.len()] as char).collect()
}

/// Datagrams in and out of OpenSSL.
#[derive(Default, Debug)]
struct Pipe {
    inbox: VecDeque<Vec<u8>>,
    outbox: Vec<Vec<u8>>,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inbox.pop_front() {
            Some(d) => {
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                Ok(n)
            }
            None => Err(std::io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.outbox.push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum State {
    Handshaking(MidHandshakeSslStream<Pipe>),
    Done(SslStream<Pipe>),
    Failed(String),
    Empty,
}

/// One call's DTLS server: verifies the client's certificate against the fingerprint the relay announced.
pub struct DtlsServer {
    state: State,
}

impl DtlsServer {
    /// `expected`: the relay's fingerprint ("sha-256 AB:..." or bare hex).
    pub fn new(id: &Identity, expected: &str) -> Result<Self, String> {
        let e = |e: openssl::error::ErrorStack| e.to_string();
        let want = fingerprint_hex(expected);
        let mut ssl = Ssl::new(&id.ctx).map_err(e)?;
        ssl.set_verify_callback(
            SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
            move |_, ctx| {
                if ctx.error_depth() != 0 {
                    return true;
                }
                ctx.current_cert()
                    .is_some_and(|c| hex_fingerprint(c) == want)
            },
        );
        ssl.set_mtu(1200).map_err(e)?;
        let state = match ssl.accept(Pipe::default()) {
            Ok(s) => State::Done(s),
            Err(HandshakeError::WouldBlock(m)) => State::Handshaking(m),
            Err(err) => State::Failed(err.to_string()),
        };
        Ok(Self { state })
    }

    /// Feeds one DTLS datagram; returns the datagrams to send back.
    pub fn input(&mut self, data: &[u8]) -> Vec<Vec<u8>> {
        let st = std::mem::replace(&mut self.state, State::Empty);
        let (st, out) = match st {
            State::Handshaking(mut m) => {
                m.get_mut().inbox.push_back(data.to_vec());
                match m.handshake() {
                    Ok(mut s) => {
                        let out = std::mem::take(&mut s.get_mut().outbox);
                        (State::Done(s), out)
                    }
                    Err(HandshakeError::WouldBlock(mut m)) => {
                        let out = std::mem::take(&mut m.get_mut().outbox);
                        (State::Handshaking(m), out)
                    }
                    Err(e) => (State::Failed(e.to_string()), Vec::new()),
                }
            }
            State::Done(mut s) => {
                // Post-handshake records (a retransmitted flight, alerts): let OpenSSL answer them.
                s.get_mut().inbox.push_back(data.to_vec());
                let mut buf = [0u8; 2048];
                let _ = s.ssl_read(&mut buf);
                let out = std::mem::take(&mut s.get_mut().outbox);
                (State::Done(s), out)
            }
            other => (other, Vec::new()),
        };
        self.state = st;
        out
    }

    pub fn failed(&self) -> Option<&str> {
        match &self.state {
            State::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Once connected: (our sending key, the relay's sending key), RFC 5764 4.2 (we are the server).
    pub fn keys(&self) -> Option<Result<(SrtpKeyMaterial, SrtpKeyMaterial), String>> {
        let State::Done(s) = &self.state else {
            return None;
        };
        Some((|| {
            let p = s
                .ssl()
                .selected_srtp_profile()
                .ok_or("no SRTP profile negotiated")?;
            if p.name() != DTLS_PROFILE.dtls_name() {
                return Err(format!("unexpected SRTP profile {}", p.name()));
            }
            let (kl, sl) = (DTLS_PROFILE.key_len(), DTLS_PROFILE.salt_len());
            let mut m = vec![0u8; 2 * (kl + sl)];
            s.ssl()
                .export_keying_material(&mut m, "EXTRACTOR-dtls_srtp", None)
                .map_err(|e| e.to_string())?;
            let (ck, sk) = (&m[..kl], &m[kl..2 * kl]);
            let (cs, ss) = (&m[2 * kl..2 * kl + sl], &m[2 * kl + sl..]);
            let km =
                |k, s| SrtpKeyMaterial::from_parts(DTLS_PROFILE, k, s).map_err(|e| e.to_string());
            Ok((km(sk, ss)?, km(ck, cs)?))
        })())
    }
}

const COOKIE: u32 = 0x2112_A442;

fn hmac_sha1(key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let k = PKey::hmac(key).ok()?;
    let mut s = Signer::new(MessageDigest::sha1(), &k).ok()?;
    s.update(data).ok()?;
    s.sign_to_vec().ok()
}

/// Whether `data` looks like STUN (RFC 7983 demultiplexing: first byte 0-3).
pub fn is_stun(data: &[u8]) -> bool {
    data.len() >= 20 && data[0] < 4
}

/// Validates a binding request for `creds` (USERNAME, MESSAGE-INTEGRITY, FINGERPRINT) and builds the success
/// response (XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY, FINGERPRINT). None = drop it.
pub fn stun_answer(req: &[u8], from: SocketAddr, creds: &IceCreds) -> Option<Vec<u8>> {
    if req.len() < 20 || u16::from_be_bytes([req[0], req[1]]) != 0x0001 {
        return None;
    }
    let len = u16::from_be_bytes([req[2], req[3]]) as usize;
    if u32::from_be_bytes([req[4], req[5], req[6], req[7]]) != COOKIE || 20 + len != req.len() {
        return None;
    }
    let txid = &req[8..20];
    let mut at = 20;
    let (mut username_ok, mut mi_ok, mut fp_ok) = (false, false, false);
    while at + 4 <= req.len() {
        let t = u16::from_be_bytes([req[at], req[at + 1]]);
        let l = u16::from_be_bytes([req[at + 2], req[at + 3]]) as usize;
        let v = req.get(at + 4..at + 4 + l)?;
        match t {
            0x0006 => {
                let u = std::str::from_utf8(v).ok()?;
                username_ok = u.split(':').next() == Some(creds.ufrag.as_str());
            }
            0x0008 => {
                let mut m = req[..at].to_vec();
                let fake_len = (at + 24 - 20) as u16;
                m[2..4].copy_from_slice(&fake_len.to_be_bytes());
                let mac = hmac_sha1(creds.pwd.as_bytes(), &m)?;
                mi_ok = l == 20 && openssl::memcmp::eq(&mac, v);
            }
            0x8028 => {
                let crc = crc32fast::hash(&req[..at]) ^ 0x5354_554e;
                fp_ok = l == 4 && v == crc.to_be_bytes();
            }
            _ => {}
        }
        at += 4 + l.div_ceil(4) * 4;
    }
    if !(username_ok && mi_ok && fp_ok) {
        return None;
    }
    let SocketAddr::V4(a) = from else {
        return None; // the benchmark runs on 127.0.0.1
    };
    let mut m = Vec::with_capacity(80);
    m.extend_from_slice(&0x0101u16.to_be_bytes());
    m.extend_from_slice(&0u16.to_be_bytes());
    m.extend_from_slice(&COOKIE.to_be_bytes());
    m.extend_from_slice(txid);
    m.extend_from_slice(&[0x00, 0x20, 0, 8, 0, 1]);
    m.extend_from_slice(&(from.port() ^ (COOKIE >> 16) as u16).to_be_bytes());
    m.extend_from_slice(&(u32::from(*a.ip()) ^ COOKIE).to_be_bytes());
    let l = (m.len() + 24 - 20) as u16;
    m[2..4].copy_from_slice(&l.to_be_bytes());
    let mac = hmac_sha1(creds.pwd.as_bytes(), &m)?;
    m.extend_from_slice(&[0x00, 0x08, 0, 20]);
    m.extend_from_slice(&mac);
    let l = (m.len() + 8 - 20) as u16;
    m[2..4].copy_from_slice(&l.to_be_bytes());
    let crc = crc32fast::hash(&m) ^ 0x5354_554e;
    m.extend_from_slice(&[0x80, 0x28, 0, 4]);
    m.extend_from_slice(&crc.to_be_bytes());
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use wacall::media::dtls::{DtlsCertificate, DtlsEndpoint, DtlsRole, Fingerprint};
    use wacall::media::stun::{Class, Message, Writer};

    /// A binding request as wacall's ICE agent builds it, for `ufrag`/`pwd`.
    fn request(txid: &[u8; 12], ufrag: &str, pwd: &str) -> Vec<u8> {
        Writer::new(Class::Request, txid)
            .username(&format!("{ufrag}:relay"))
            .priority(1)
            .ice_controlling(42)
            .use_candidate()
            .integrity(pwd.as_bytes())
            .fingerprint()
            .finish()
    }

    #[test]
    fn stun_answer_checks_credentials_and_signs_its_answer() {
        let creds = IceCreds::random();
        let from: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let txid = [7u8; 12];
        let r = stun_answer(&request(&txid, &creds.ufrag, &creds.pwd), from, &creds).unwrap();
        let m = Message::parse(&r).unwrap();
        assert_eq!(m.class, Class::Success);
        assert_eq!(m.transaction_id, txid);
        assert_eq!(m.xor_mapped_address, Some(from));
        assert!(m.verify_integrity(creds.pwd.as_bytes()));
        assert!(m.has_fingerprint);
        let wrong_pwd = request(&txid, &creds.ufrag, "not-the-password-at-all");
        assert!(stun_answer(&wrong_pwd, from, &creds).is_none());
        let wrong_ufrag = request(&txid, "someone-else", &creds.pwd);
        assert!(stun_answer(&wrong_ufrag, from, &creds).is_none());
    }

    /// Runs a handshake between wacall's DTLS client and our server; returns both sides' keys when it completed.
    fn handshake(
        me: &Identity,
        client_cert: &DtlsCertificate,
        expected: &str,
    ) -> Option<(DtlsEndpoint, DtlsServer)> {
        let fp = Fingerprint::parse_attribute(&me.fingerprint).unwrap();
        let mut client = DtlsEndpoint::new(DtlsRole::Client, client_cert, fp).unwrap();
        let mut server = DtlsServer::new(me, expected).unwrap();
        let now = Instant::now();
        client.start(now);
        for _ in 0..20 {
            let mut moved = false;
            while let Some(d) = client.poll_transmit() {
                moved = true;
                for o in server.input(&d) {
                    client.handle_datagram(now, &o);
                }
            }
            if !moved {
                break;
            }
        }
        (client.is_connected() && server.keys().is_some()).then_some((client, server))
    }

    #[test]
    fn dtls_server_completes_with_wacalls_client_and_exports_the_same_keys() {
        let me = Identity::new().unwrap();
        let cert = DtlsCertificate::generate().unwrap();
        let (mut client, server) =
            handshake(&me, &cert, &cert.fingerprint().to_attribute()).expect("handshake");
        let (tx, rx) = server.keys().unwrap().unwrap();
        let k = client.take_keys().unwrap();
        assert_eq!(k.profile, DTLS_PROFILE);
        assert_eq!(k.local.key_and_salt(), rx.key_and_salt());
        assert_eq!(k.remote.key_and_salt(), tx.key_and_salt());
    }

    #[test]
    fn dtls_server_rejects_a_client_with_another_fingerprint() {
        let me = Identity::new().unwrap();
        let cert = DtlsCertificate::generate().unwrap();
        let other = DtlsCertificate::generate().unwrap();
        assert!(handshake(&me, &cert, &other.fingerprint().to_attribute()).is_none());
    }
}
