//! DTLS 1.2 server over an in-memory datagram pipe (openssl), verifying the client's certificate against the
//! fingerprint from the SDP and exporting DTLS-SRTP keys (RFC 5764).

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{
    HandshakeError, MidHandshakeSslStream, Ssl, SslContext, SslMethod, SslStream, SslVerifyMode,
};
use openssl::x509::{X509Name, X509};
use std::collections::VecDeque;
use std::io::{Read, Write};

pub fn fingerprint_of(cert: &openssl::x509::X509Ref) -> String {
    let d = cert
        .digest(MessageDigest::sha256())
        .map(|d| d.to_vec())
        .unwrap_or_default();
    d.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn make_cert() -> (X509, PKey<Private>) {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("p256");
    let key = PKey::from_ec_key(EcKey::generate(&group).expect("ec key")).expect("pkey");
    let mut name = X509Name::builder().expect("name");
    name.append_entry_by_nid(Nid::COMMONNAME, "meta-peer")
        .expect("cn");
    let name = name.build();
    let mut b = X509::builder().expect("x509");
    b.set_version(2).expect("v");
    let mut serial = BigNum::new().expect("bn");
    serial.rand(63, MsbOption::MAYBE_ZERO, false).expect("rand");
    b.set_serial_number(&serial.to_asn1_integer().expect("serial"))
        .expect("serial");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(&name).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&Asn1Time::days_from_now(0).expect("t"))
        .expect("nb");
    b.set_not_after(&Asn1Time::days_from_now(30).expect("t"))
        .expect("na");
    b.sign(&key, MessageDigest::sha256()).expect("sign");
    (b.build(), key)
}

#[derive(Default, Debug)]
pub struct Pipe {
    pub inbox: VecDeque<Vec<u8>>,
    pub outbox: Vec<Vec<u8>>,
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

pub enum State {
    Handshaking(MidHandshakeSslStream<Pipe>),
    Done(SslStream<Pipe>),
    Failed(String),
    Empty,
}

pub struct Server {
    pub state: State,
}

impl Server {
    /// `expected` = the peer's fingerprint (upper/lower hex with colons); None = accept any (for tests of the
    /// relay's own check).
    pub fn new(cert: &X509, key: &PKey<Private>, expected: Option<String>) -> Result<Self, String> {
        let e = |e: openssl::error::ErrorStack| e.to_string();
        let mut b = SslContext::builder(SslMethod::dtls()).map_err(e)?;
        b.set_certificate(cert).map_err(e)?;
        b.set_private_key(key).map_err(e)?;
        b.set_tlsext_use_srtp("SRTP_AES128_CM_SHA1_80").map_err(e)?;
        let want = expected.map(|s| s.to_ascii_uppercase());
        b.set_verify_callback(
            SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
            move |_, ctx| {
                if ctx.error_depth() != 0 {
                    return true;
                }
                let Some(c) = ctx.current_cert() else {
                    return false;
                };
                let got = fingerprint_of(c);
                match &want {
                    Some(w) if *w != got => {
                        eprintln!(
                            "meta-peer: DTLS client fingerprint {got} does not match the SDP's {w}"
                        );
                        false
                    }
                    _ => true,
                }
            },
        );
        let ctx = b.build();
        Self::accept(Ssl::new(&ctx).map_err(e)?)
    }

    /// A server over `ssl`, configured by the caller (context, verification); starts accepting.
    pub fn accept(mut ssl: Ssl) -> Result<Self, String> {
        ssl.set_mtu(1200).map_err(|e| e.to_string())?;
        let state = match ssl.accept(Pipe::default()) {
            Ok(s) => State::Done(s),
            Err(HandshakeError::WouldBlock(m)) => State::Handshaking(m),
            Err(err) => State::Failed(err.to_string()),
        };
        Ok(Self { state })
    }

    /// Why the handshake failed, if it did.
    pub fn failed(&self) -> Option<&str> {
        match &self.state {
            State::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Feeds one DTLS datagram; returns datagrams to send.
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
                // Post-handshake records (retransmitted Finished, alerts): let OpenSSL see them.
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

    /// (local key||salt, remote key||salt) once connected. We are the server.
    pub fn keys(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        let State::Done(s) = &self.state else {
            return None;
        };
        let mut m = [0u8; 60];
        s.ssl()
            .export_keying_material(&mut m, "EXTRACTOR-dtls_srtp", None)
            .ok()?;
        let (ck, sk, cs, ss) = (&m[0..16], &m[16..32], &m[32..46], &m[46..60]);
        Some(([sk, ss].concat(), [ck, cs].concat()))
    }
}
