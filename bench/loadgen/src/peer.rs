//! The generator's "Meta side" of a DTLS leg: an ice-lite STUN responder and a DTLS-SRTP server, one per call,
//! over in-memory datagrams (the generator's shared sockets carry many calls; the relay's source port tells them
//! apart). Its STUN responder and DTLS state machine are `tools/meta-peer`'s (OpenSSL directly, not wacall's
//! `media::{stun,dtls}`), so the relay is checked against an independent peer.

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::ssl::{Ssl, SslContext, SslMethod, SslOptions, SslVerifyMode};
use openssl::x509::{X509Name, X509};
use std::net::SocketAddr;
use wacall::media::{SrtpKeyMaterial, SrtpProfile};
use wacall_meta_peer::{dtls, stun};

/// The DTLS-SRTP profile the generator (server) accepts: Meta's.
pub const DTLS_PROFILE: SrtpProfile = SrtpProfile::AesCm128HmacSha1_80;

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
            fingerprint: format!("sha-256 {}", dtls::fingerprint_of(&cert)),
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

/// One call's DTLS server: verifies the client's certificate against the fingerprint the relay announced.
pub struct DtlsServer {
    inner: dtls::Server,
}

impl DtlsServer {
    /// `expected`: the relay's fingerprint ("sha-256 AB:..." or bare hex).
    pub fn new(id: &Identity, expected: &str) -> Result<Self, String> {
        let want = fingerprint_hex(expected);
        let mut ssl = Ssl::new(&id.ctx).map_err(|e| e.to_string())?;
        ssl.set_verify_callback(
            SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
            move |_, ctx| {
                if ctx.error_depth() != 0 {
                    return true;
                }
                ctx.current_cert()
                    .is_some_and(|c| dtls::fingerprint_of(c) == want)
            },
        );
        Ok(Self {
            inner: dtls::Server::accept(ssl)?,
        })
    }

    /// Feeds one DTLS datagram (post-handshake records too: OpenSSL answers a retransmitted flight); returns
    /// the datagrams to send back.
    pub fn input(&mut self, data: &[u8]) -> Vec<Vec<u8>> {
        self.inner.input(data)
    }

    pub fn failed(&self) -> Option<&str> {
        self.inner.failed()
    }

    /// Once connected: (our sending key, the relay's sending key), RFC 5764 4.2 (we are the server).
    pub fn keys(&self) -> Option<Result<(SrtpKeyMaterial, SrtpKeyMaterial), String>> {
        let dtls::State::Done(s) = &self.inner.state else {
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

/// Whether `data` looks like STUN (RFC 7983 demultiplexing: first byte 0-3).
pub fn is_stun(data: &[u8]) -> bool {
    data.len() >= 20 && data[0] < 4
}

/// Validates a binding request for `creds` (USERNAME, MESSAGE-INTEGRITY, FINGERPRINT) and builds the success
/// response (XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY, FINGERPRINT): the meta-peer's responder. None = drop it.
pub fn stun_answer(req: &[u8], from: SocketAddr, creds: &IceCreds) -> Option<Vec<u8>> {
    stun::answer(req, from, &creds.ufrag, &creds.pwd).map(|c| c.response)
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
