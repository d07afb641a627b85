//! DTLS 1.2 for DTLS-SRTP (RFC 5764): an OpenSSL endpoint over in-memory datagram queues (no sockets), the
//! peer's certificate checked against the SDP fingerprint, use_srtp negotiated and SRTP keys exported.
//!
//! OpenSSL's retransmission timer runs on the wall clock; [`DtlsEndpoint::poll_timeout`] converts its remaining
//! time into an `Instant` relative to the caller's `now`, and [`DtlsEndpoint::handle_timeout`] lets OpenSSL
//! retransmit when its timer has expired. The two `SSL_ctrl` calls for that are the only unsafe code here.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::srtp::SrtpProfileId;
use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslMethod, SslMode, SslStream, SslVerifyMode, SslVersion,
};
use openssl::x509::{X509Name, X509};

use crate::media::srtp::{SrtpKeyMaterial, SrtpProfile};

/// Errors of the DTLS layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtlsError {
    #[error("openssl: {0}")]
    Ssl(String),
    #[error("bad fingerprint: {0}")]
    BadFingerprint(String),
    #[error("peer certificate does not match the SDP fingerprint")]
    FingerprintMismatch,
    #[error("no SRTP profile negotiated")]
    NoSrtpProfile,
    #[error("DTLS handshake failed: {0}")]
    Handshake(String),
}

impl From<openssl::error::ErrorStack> for DtlsError {
    fn from(e: openssl::error::ErrorStack) -> Self {
        Self::Ssl(e.to_string())
    }
}

/// Our DTLS role. Toward Meta we are the client (`a=setup:active`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsRole {
    /// Sends ClientHello (`a=setup:active`).
    Client,
    /// Waits for ClientHello (`a=setup:passive`); used by tests and Meta-like peers.
    Server,
}

/// A certificate fingerprint (`a=fingerprint:sha-256 AB:CD:...`). Only sha-256 is produced; sha-1/384/512 are
/// accepted from peers.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    algorithm: FingerprintAlg,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum FingerprintAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl FingerprintAlg {
    fn digest(self) -> MessageDigest {
        match self {
            Self::Sha1 => MessageDigest::sha1(),
            Self::Sha256 => MessageDigest::sha256(),
            Self::Sha384 => MessageDigest::sha384(),
            Self::Sha512 => MessageDigest::sha512(),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha-1",
            Self::Sha256 => "sha-256",
            Self::Sha384 => "sha-384",
            Self::Sha512 => "sha-512",
        }
    }
}

impl Fingerprint {
    /// Parses the SDP form: algorithm (`sha-256`, case-insensitive) and colon-separated hex (any case).
    pub fn parse(algorithm: &str, hex: &str) -> Result<Self, DtlsError> {
        let alg = match algorithm.to_ascii_lowercase().as_str() {
            "sha-1" => FingerprintAlg::Sha1,
            "sha-256" => FingerprintAlg::Sha256,
            "sha-384" => FingerprintAlg::Sha384,
            "sha-512" => FingerprintAlg::Sha512,
            other => {
                return Err(DtlsError::BadFingerprint(format!(
                    "unsupported algorithm {other:?}"
                )))
            }
        };
        let mut bytes = Vec::with_capacity(64);
        for part in hex.trim().split(':') {
            if part.len() != 2 {
                return Err(DtlsError::BadFingerprint(
                    "expected colon-separated hex pairs".into(),
                ));
            }
            let b = u8::from_str_radix(part, 16)
                .map_err(|_| DtlsError::BadFingerprint("not hex".into()))?;
            bytes.push(b);
        }
        if bytes.len() != alg.digest().size() {
            return Err(DtlsError::BadFingerprint(format!(
                "wrong length for {}",
                alg.name()
            )));
        }
        Ok(Self {
            algorithm: alg,
            bytes,
        })
    }
    /// Parses the whole attribute value `sha-256 AB:CD:...`.
    pub fn parse_attribute(value: &str) -> Result<Self, DtlsError> {
        let mut it = value.split_whitespace();
        match (it.next(), it.next(), it.next()) {
            (Some(a), Some(h), None) => Self::parse(a, h),
            _ => Err(DtlsError::BadFingerprint(
                "expected '<algorithm> <hex>'".into(),
            )),
        }
    }
    /// The sha-256 fingerprint of a certificate.
    pub fn of_certificate(cert: &X509) -> Result<Self, DtlsError> {
        Self::of_cert_with(cert, FingerprintAlg::Sha256)
    }
    fn of_cert_with(cert: &openssl::x509::X509Ref, alg: FingerprintAlg) -> Result<Self, DtlsError> {
        Ok(Self {
            algorithm: alg,
            bytes: cert.digest(alg.digest())?.to_vec(),
        })
    }
    /// The algorithm name as in SDP (`sha-256`).
    pub fn algorithm(&self) -> &'static str {
        self.algorithm.name()
    }
    /// Upper-case colon-separated hex (`AB:CD:...`), which every peer accepts.
    pub fn hex(&self) -> String {
        let mut s = String::with_capacity(self.bytes.len() * 3);
        for (i, b) in self.bytes.iter().enumerate() {
            if i > 0 {
                s.push(':');
            }
            s.push_str(&format!("{b:02X}"));
        }
        s
    }
    /// The SDP attribute value: `sha-256 AB:CD:...`.
    pub fn to_attribute(&self) -> String {
        format!("{} {}", self.algorithm(), self.hex())
    }
    fn matches(&self, cert: &openssl::x509::X509Ref) -> bool {
        match Self::of_cert_with(cert, self.algorithm) {
            Ok(fp) => {
                openssl::memcmp::eq(&fp.bytes, &self.bytes) && fp.bytes.len() == self.bytes.len()
            }
            Err(_) => false,
        }
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_attribute())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_attribute())
    }
}

/// Our DTLS certificate and key, plus the OpenSSL contexts built from them once. Share one per process (`Arc`).
/// The private key never appears in Debug output.
pub struct DtlsCertificate {
    cert: X509,
    fingerprint: Fingerprint,
    client_ctx: SslContext,
    server_ctx: SslContext,
}

impl fmt::Debug for DtlsCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DtlsCertificate")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// SRTP profiles offered/accepted, in preference order (server picks by its own order).
const SRTP_PROFILES: &str = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80:SRTP_AES128_CM_SHA1_32";

impl DtlsCertificate {
    /// Generates an ECDSA P-256 self-signed certificate (valid from yesterday for a year; peers check only the
    /// fingerprint).
    pub fn generate() -> Result<Self, DtlsError> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
        let mut name = X509Name::builder()?;
        name.append_entry_by_nid(Nid::COMMONNAME, "wacall")?;
        let name = name.build();
        let mut b = X509::builder()?;
        b.set_version(2)?;
        let mut serial = BigNum::new()?;
        serial.rand(63, MsbOption::MAYBE_ZERO, false)?;
        let serial = serial.to_asn1_integer()?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(&name)?;
        b.set_issuer_name(&name)?;
        b.set_pubkey(&key)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let not_before = Asn1Time::from_unix(now - 86_400)?;
        let not_after = Asn1Time::from_unix(now + 365 * 86_400)?;
        b.set_not_before(&not_before)?;
        b.set_not_after(&not_after)?;
        b.sign(&key, MessageDigest::sha256())?;
        Self::from_parts(b.build(), key)
    }

    /// Loads a certificate and its private key from PEM.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, DtlsError> {
        let cert = X509::from_pem(cert_pem)?;
        let key = PKey::private_key_from_pem(key_pem)?;
        Self::from_parts(cert, key)
    }

    fn from_parts(cert: X509, key: PKey<Private>) -> Result<Self, DtlsError> {
        let fingerprint = Fingerprint::of_certificate(&cert)?;
        let mk = |server: bool| -> Result<SslContext, DtlsError> {
            let mut b = SslContext::builder(SslMethod::dtls())?;
            b.set_min_proto_version(Some(SslVersion::DTLS1_2))?;
            b.set_max_proto_version(Some(SslVersion::DTLS1_2))?;
            b.set_certificate(&cert)?;
            b.set_private_key(&key)?;
            b.check_private_key()?;
            b.set_tlsext_use_srtp(SRTP_PROFILES)?;
            // Thousands of calls each hold an SSL object: free record buffers when idle.
            b.set_mode(SslMode::RELEASE_BUFFERS);
            b.set_cipher_list("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA")?;
            // The verify callback is set per connection (it needs that connection's expected fingerprint).
            let _ = server;
            Ok(b.build())
        };
        Ok(Self {
            client_ctx: mk(false)?,
            server_ctx: mk(true)?,
            cert,
            fingerprint,
        })
    }

    /// Our fingerprint for `a=fingerprint`.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// Our certificate in PEM (no key).
    pub fn certificate_pem(&self) -> Result<Vec<u8>, DtlsError> {
        Ok(self.cert.to_pem()?)
    }
}

/// In-memory datagram pipe under OpenSSL: each read returns one whole datagram, each write is one datagram.
#[derive(Debug, Default)]
struct Pipe {
    incoming: VecDeque<Vec<u8>>,
    outgoing: VecDeque<Vec<u8>>,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.incoming.pop_front() {
            Some(d) => {
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                Ok(n)
            }
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.push_back(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Keys exported after the handshake: `local` protects what we send, `remote` unprotects what we receive.
#[derive(Debug, Clone)]
pub struct DtlsSrtpKeys {
    pub profile: SrtpProfile,
    pub local: SrtpKeyMaterial,
    pub remote: SrtpKeyMaterial,
}

/// Where a handshake stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DtlsState {
    /// Not started (client: before `start`).
    New,
    Handshaking,
    /// Done; keys available.
    Connected,
    Failed(DtlsError),
}

/// One DTLS association (one per DTLS-SRTP leg).
pub struct DtlsEndpoint {
    role: DtlsRole,
    stream: SslStream<Pipe>,
    state: DtlsState,
    keys: Option<DtlsSrtpKeys>,
    mismatch: Arc<AtomicBool>,
    /// Deadline of OpenSSL's retransmission timer, in the caller's clock.
    deadline: Option<Instant>,
}

impl fmt::Debug for DtlsEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DtlsEndpoint")
            .field("role", &self.role)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl DtlsEndpoint {
    /// A new endpoint that will accept only a peer whose certificate matches `remote_fingerprint`.
    pub fn new(
        role: DtlsRole,
        cert: &DtlsCertificate,
        remote_fingerprint: Fingerprint,
    ) -> Result<Self, DtlsError> {
        let ctx = match role {
            DtlsRole::Client => &cert.client_ctx,
            DtlsRole::Server => &cert.server_ctx,
        };
        let mut ssl = Ssl::new(ctx)?;
        // Keep records below typical path MTU with room for IPv6 + UDP headers.
        ssl.set_mtu(1200)?;
        let mismatch = Arc::new(AtomicBool::new(false));
        let flag = mismatch.clone();
        // Self-signed certificates never verify against a CA; the SDP fingerprint is the only trust anchor
        // (RFC 5763), so the chain verdict is ignored and only the leaf's fingerprint decides.
        ssl.set_verify_callback(
            SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
            move |_pre, ctx| {
                if ctx.error_depth() != 0 {
                    return true;
                }
                let ok = ctx
                    .current_cert()
                    .is_some_and(|c| remote_fingerprint.matches(c));
                if !ok {
                    flag.store(true, Ordering::Relaxed);
                }
                ok
            },
        );
        match role {
            DtlsRole::Client => ssl.set_connect_state(),
            DtlsRole::Server => ssl.set_accept_state(),
        }
        let stream = SslStream::new(ssl, Pipe::default())?;
        Ok(Self {
            role,
            stream,
            state: DtlsState::New,
            keys: None,
            mismatch,
            deadline: None,
        })
    }

    /// Our role.
    pub fn role(&self) -> DtlsRole {
        self.role
    }

    /// Current state.
    pub fn state(&self) -> &DtlsState {
        &self.state
    }

    /// True once the handshake completed and keys were exported.
    pub fn is_connected(&self) -> bool {
        self.state == DtlsState::Connected
    }

    /// Starts the handshake (client: queues the ClientHello). Harmless for a server or when already started.
    pub fn start(&mut self, now: Instant) {
        if self.state == DtlsState::New {
            self.state = DtlsState::Handshaking;
            self.drive(now);
        }
    }

    /// Feeds one DTLS datagram (first byte 20..=63).
    pub fn handle_datagram(&mut self, now: Instant, data: &[u8]) {
        if matches!(self.state, DtlsState::Failed(_)) {
            return;
        }
        // Bound queued input so a flood cannot grow memory.
        if self.stream.get_ref().incoming.len() < 32 {
            self.stream.get_mut().incoming.push_back(data.to_vec());
        }
        if self.state == DtlsState::New {
            self.state = DtlsState::Handshaking;
        }
        self.drive(now);
    }

    /// Lets OpenSSL retransmit if its timer expired.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state != DtlsState::Handshaking {
            return;
        }
        if self.deadline.is_some_and(|d| now >= d) {
            handle_ssl_timeout(&self.stream);
            self.drive(now);
        }
    }

    /// When `handle_timeout` should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == DtlsState::Handshaking {
            self.deadline
        } else {
            None
        }
    }

    /// Next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.stream.get_mut().outgoing.pop_front()
    }

    /// Takes the exported keys (once).
    pub fn take_keys(&mut self) -> Option<DtlsSrtpKeys> {
        self.keys.take()
    }

    fn drive(&mut self, now: Instant) {
        if self.state == DtlsState::Handshaking {
            match self.stream.do_handshake() {
                Ok(()) => match self.export() {
                    Ok(k) => {
                        self.keys = Some(k);
                        self.state = DtlsState::Connected;
                    }
                    Err(e) => self.state = DtlsState::Failed(e),
                },
                Err(e) if e.code() == ErrorCode::WANT_READ || e.code() == ErrorCode::WANT_WRITE => {
                }
                Err(e) => {
                    self.state = DtlsState::Failed(if self.mismatch.load(Ordering::Relaxed) {
                        DtlsError::FingerprintMismatch
                    } else {
                        DtlsError::Handshake(e.to_string())
                    });
                }
            }
        } else if self.state == DtlsState::Connected {
            // Post-handshake records (alerts, retransmitted Finished): let OpenSSL consume them.
            let mut scratch = [0u8; 64];
            loop {
                match self.stream.ssl_read(&mut scratch) {
                    Ok(_) => continue,
                    Err(e) if e.code() == ErrorCode::ZERO_RETURN => break,
                    Err(_) => break,
                }
            }
        }
        self.deadline = get_ssl_timeout(&self.stream).map(|d| now + d);
    }

    fn export(&mut self) -> Result<DtlsSrtpKeys, DtlsError> {
        let ssl = self.stream.ssl();
        if self.mismatch.load(Ordering::Relaxed) {
            return Err(DtlsError::FingerprintMismatch);
        }
        // Belt and braces: the callback already checked, but never export keys without a verified peer.
        if ssl.peer_certificate().is_none() {
            return Err(DtlsError::FingerprintMismatch);
        }
        let id = ssl
            .selected_srtp_profile()
            .ok_or(DtlsError::NoSrtpProfile)?
            .id();
        let profile = if id == SrtpProfileId::SRTP_AES128_CM_SHA1_80 {
            SrtpProfile::AesCm128HmacSha1_80
        } else if id == SrtpProfileId::SRTP_AES128_CM_SHA1_32 {
            SrtpProfile::AesCm128HmacSha1_32
        } else if id == SrtpProfileId::SRTP_AEAD_AES_128_GCM {
            SrtpProfile::AeadAes128Gcm
        } else if id == SrtpProfileId::SRTP_AEAD_AES_256_GCM {
            SrtpProfile::AeadAes256Gcm
        } else {
            return Err(DtlsError::NoSrtpProfile);
        };
        let (kl, sl) = (profile.key_len(), profile.salt_len());
        let mut m = zeroize::Zeroizing::new(vec![0u8; 2 * (kl + sl)]);
        ssl.export_keying_material(&mut m, "EXTRACTOR-dtls_srtp", None)?;
        // RFC 5764 4.2: client key | server key | client salt | server salt.
        let client = SrtpKeyMaterial::from_parts(profile, &m[..kl], &m[2 * kl..2 * kl + sl])
            .map_err(|e| DtlsError::Ssl(e.to_string()))?;
        let server = SrtpKeyMaterial::from_parts(profile, &m[kl..2 * kl], &m[2 * kl + sl..])
            .map_err(|e| DtlsError::Ssl(e.to_string()))?;
        let (local, remote) = match self.role {
            DtlsRole::Client => (client, server),
            DtlsRole::Server => (server, client),
        };
        Ok(DtlsSrtpKeys {
            profile,
            local,
            remote,
        })
    }
}

const DTLS_CTRL_GET_TIMEOUT: i32 = 73;
const DTLS_CTRL_HANDLE_TIMEOUT: i32 = 74;

#[allow(unsafe_code)]
fn get_ssl_timeout(stream: &SslStream<Pipe>) -> Option<Duration> {
    use foreign_types_shared::ForeignTypeRef;
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    // SAFETY: DTLSv1_get_timeout(ssl, &tv) is a macro for this SSL_ctrl call; it only writes into tv, which lives
    // on our stack, and the SSL pointer is valid for the lifetime of `stream`.
    let r = unsafe {
        openssl_sys::SSL_ctrl(
            stream.ssl().as_ptr(),
            DTLS_CTRL_GET_TIMEOUT,
            0,
            (&mut tv as *mut libc::timeval).cast(),
        )
    };
    if r <= 0 {
        return None;
    }
    Some(
        Duration::from_secs(tv.tv_sec.max(0) as u64)
            + Duration::from_micros(tv.tv_usec.max(0) as u64),
    )
}

#[allow(unsafe_code)]
fn handle_ssl_timeout(stream: &SslStream<Pipe>) {
    use foreign_types_shared::ForeignTypeRef;
    // SAFETY: DTLSv1_handle_timeout(ssl) is a macro for this SSL_ctrl call; the SSL pointer is valid. OpenSSL
    // retransmits the last flight into our memory pipe if its timer expired.
    unsafe {
        openssl_sys::SSL_ctrl(
            stream.ssl().as_ptr(),
            DTLS_CTRL_HANDLE_TIMEOUT,
            0,
            std::ptr::null_mut(),
        );
    }
}
