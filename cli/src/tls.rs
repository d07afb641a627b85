//! `wacall check-tls`: connect to the business SIP server the way Meta's TLS client does (SNI, no ALPN, public roots)
//! and say whether Meta would accept the certificate chain, and why not.

use std::io::{ErrorKind, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};
use serde::Serialize;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::CliError;

/// Days of validity below which we warn: Let's Encrypt renews at 30, so under 14 means renewal is failing.
pub const EXPIRY_WARN_DAYS: i64 = 14;

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct CheckTlsOptions {
    /// Host name Meta would use (SNI and hostname verification).
    pub host: String,
    pub port: u16,
    /// Connect here instead of resolving `host`.
    pub connect: Option<String>,
    /// Extra trust anchors (PEM), for private CAs and tests.
    pub ca_files: Vec<PathBuf>,
    /// Trust only `ca_files`, not the public roots.
    pub no_public_roots: bool,
    pub timeout: Duration,
}

/// One certificate of the chain the server sent.
#[derive(Debug, Serialize)]
pub struct CertInfo {
    pub index: usize,
    pub subject: String,
    pub issuer: String,
    pub self_signed: bool,
    pub not_before: String,
    pub not_after: String,
    pub days_left: i64,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub key: String,
    pub signature_algorithm: String,
}

/// The result of one check; `meta_accepts` is the verdict.
#[derive(Debug, Serialize)]
pub struct TlsReport {
    pub host: String,
    pub port: u16,
    pub address: String,
    pub sni: Option<String>,
    pub protocol: Option<String>,
    pub cipher_suite: Option<String>,
    pub chain: Vec<CertInfo>,
    /// Trust anchors the verdict was reached with.
    pub trust: String,
    pub meta_accepts: bool,
    /// Reasons Meta would refuse the connection.
    pub rejects: Vec<String>,
    /// Things that work today but need attention.
    pub warnings: Vec<String>,
}

/// Splits `HOST[:PORT]`, `[v6]:PORT` or a bare IPv6 literal.
pub fn parse_target(target: &str, default_port: u16) -> Result<(String, u16), CliError> {
    let bad = |why: &str| {
        CliError::Usage(format!(
            "bad target {target:?}: {why} (expected HOST[:PORT])"
        ))
    };
    if target.is_empty() {
        return Err(bad("empty"));
    }
    if let Some(rest) = target.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("missing ']'"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad("port is not a number 1-65535"))?,
            None if after.is_empty() => default_port,
            None => return Err(bad("junk after ']'")),
        };
        return Ok((
            host.to_string(),
            nonzero(port).ok_or_else(|| bad("port 0"))?,
        ));
    }
    match target.matches(':').count() {
        0 => Ok((target.to_string(), default_port)),
        1 => {
            let (h, p) = target.split_once(':').ok_or_else(|| bad("missing port"))?;
            let port: u16 = p.parse().map_err(|_| bad("port is not a number 1-65535"))?;
            if h.is_empty() {
                return Err(bad("empty host"));
            }
            Ok((h.to_string(), nonzero(port).ok_or_else(|| bad("port 0"))?))
        }
        _ => {
            // More than one colon: an IPv6 literal without brackets, so no port.
            target
                .parse::<IpAddr>()
                .map_err(|_| bad("not an IPv6 address; use [addr]:port"))?;
            Ok((target.to_string(), default_port))
        }
    }
}

fn nonzero(p: u16) -> Option<u16> {
    (p != 0).then_some(p)
}

/// Wraps the real WebPKI verifier: records its verdict but lets the handshake finish, so we can still show the chain,
/// protocol and cipher of a server Meta would reject.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    verdict: Mutex<Option<rustls::Error>>,
    checked: Mutex<bool>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let r = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        if let Ok(mut c) = self.checked.lock() {
            *c = true;
        }
        if let (Err(e), Ok(mut v)) = (r, self.verdict.lock()) {
            *v = Some(e);
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn roots(opts: &CheckTlsOptions) -> Result<RootCertStore, CliError> {
    let mut roots = RootCertStore::empty();
    if !opts.no_public_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for path in &opts.ca_files {
        let mut n = 0;
        let iter = CertificateDer::pem_file_iter(path)
            .map_err(|e| CliError::Usage(format!("cannot read CA file {}: {e}", path.display())))?;
        for cert in iter {
            let cert =
                cert.map_err(|e| CliError::Usage(format!("bad PEM in {}: {e}", path.display())))?;
            roots.add(cert).map_err(|e| {
                CliError::Usage(format!(
                    "unusable CA certificate in {}: {e}",
                    path.display()
                ))
            })?;
            n += 1;
        }
        if n == 0 {
            return Err(CliError::Usage(format!(
                "no certificate found in CA file {}",
                path.display()
            )));
        }
    }
    if roots.is_empty() {
        return Err(CliError::Usage(
            "no trust anchors: --no-public-roots needs --ca-file".into(),
        ));
    }
    Ok(roots)
}

/// Verifies the chain the server sent against the public roots alone (None when there is no chain).
fn verify_with_public_roots(
    conn: &ClientConnection,
    host: &str,
) -> Option<Result<(), rustls::Error>> {
    let certs = conn.peer_certificates()?;
    let (leaf, intermediates) = certs.split_first()?;
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let v = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .ok()?;
    let name = ServerName::try_from(host.to_string()).ok()?;
    Some(
        v.verify_server_cert(leaf, intermediates, &name, &[], UnixTime::now())
            .map(|_| ()),
    )
}

fn resolve(opts: &CheckTlsOptions) -> Result<Vec<SocketAddr>, CliError> {
    let (what, port) = match &opts.connect {
        Some(c) => {
            let (h, p) = parse_target(c, opts.port)?;
            (h, p)
        }
        None => (opts.host.clone(), opts.port),
    };
    // getaddrinfo has no timeout of its own and can hang on a broken resolver: run it on a thread we stop waiting for.
    let (tx, rx) = std::sync::mpsc::channel();
    let name = what.clone();
    std::thread::spawn(move || {
        let _ = tx.send(
            (name.as_str(), port)
                .to_socket_addrs()
                .map(|a| a.collect::<Vec<_>>()),
        );
    });
    let addrs: Vec<SocketAddr> = match rx.recv_timeout(opts.timeout) {
        Ok(r) => r.map_err(|e| CliError::Network(format!("cannot resolve {what}: {e}")))?,
        Err(_) => {
            return Err(CliError::Network(format!(
                "cannot resolve {what}: no answer from the resolver within {} s",
                opts.timeout.as_secs_f32()
            )))
        }
    };
    if addrs.is_empty() {
        return Err(CliError::Network(format!("{what} resolves to no address")));
    }
    Ok(addrs)
}

fn connect(addrs: &[SocketAddr], timeout: Duration) -> Result<TcpStream, CliError> {
    let mut last = String::new();
    for a in addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::WouldBlock => {
                last = format!("{a}: no answer within {} s", timeout.as_secs_f32())
            }
            Err(e) => last = format!("{a}: {e}"),
        }
    }
    Err(CliError::Network(format!("cannot connect: {last}")))
}

/// Runs the check. Network and usage problems are errors; a certificate Meta would refuse is a report with
/// `meta_accepts == false`.
pub fn check(opts: &CheckTlsOptions) -> Result<TlsReport, CliError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots(opts)?), provider.clone())
            .build()
            .map_err(|e| CliError::Usage(format!("cannot build verifier: {e}")))?;
    let verifier = Arc::new(RecordingVerifier {
        inner,
        verdict: Mutex::new(None),
        checked: Mutex::new(false),
    });
    // Meta's client: TLS 1.2 or 1.3, no ALPN, no client certificate.
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| CliError::Usage(format!("TLS configuration: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();

    let mut warnings = Vec::new();
    let server_name = ServerName::try_from(opts.host.clone())
        .map_err(|_| CliError::Usage(format!("{:?} is not a valid host name", opts.host)))?;
    let sni = match server_name {
        ServerName::DnsName(_) => Some(opts.host.clone()),
        _ => {
            warnings.push(format!(
                "{} is an IP address: Meta connects to the hostname configured in the phone number's settings and \
                 verifies the certificate against that name; check the name, not an address",
                opts.host
            ));
            None
        }
    };

    let addrs = resolve(opts)?;
    let mut sock = connect(&addrs, opts.timeout)?;
    let address = sock.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    sock.set_read_timeout(Some(opts.timeout))
        .map_err(|e| CliError::Network(e.to_string()))?;
    sock.set_write_timeout(Some(opts.timeout))
        .map_err(|e| CliError::Network(e.to_string()))?;

    let mut conn = ClientConnection::new(Arc::new(config), server_name)
        .map_err(|e| CliError::Usage(format!("TLS client: {e}")))?;
    let mut rejects = Vec::new();
    let mut handshake_ok = true;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut sock) {
            handshake_ok = false;
            let msg = match e.kind() {
                ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                    format!("the server did not complete the TLS handshake within {} s", opts.timeout.as_secs_f32())
                }
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset => {
                    "the server closed the connection during the TLS handshake (is this port speaking TLS? plain SIP \
                     on 5060 and TLS on 5061 are often mixed up)"
                        .to_string()
                }
                _ => handshake_error(&e),
            };
            rejects.push(msg);
            break;
        }
    }

    let chain: Vec<CertInfo> = conn
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, c)| cert_info(i, c))
        .collect();
    let protocol = conn
        .protocol_version()
        .map(|v| format!("{v:?}").replace('_', "."));
    let cipher_suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()));

    let verdict = verifier.verdict.lock().ok().and_then(|mut v| v.take());
    let name_error = matches!(
        verdict,
        Some(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        ))
    );
    if let Some(err) = verdict {
        rejects.push(explain_cert_error(&err, &opts.host, &chain));
    } else if !opts.ca_files.is_empty() {
        // Accepted, but maybe only because of --ca-file: Meta has only the public roots.
        if let Some(Err(_)) = verify_with_public_roots(&conn, &opts.host) {
            warnings.push(
                "the chain verifies only thanks to --ca-file: Meta trusts public CAs only (Mozilla's list), so Meta \
                 would reject this certificate; fine for a lab, not for production"
                    .into(),
            );
        }
    }
    if let Some(leaf) = chain.first() {
        if !name_error && leaf.dns_names.is_empty() && leaf.ip_addresses.is_empty() {
            rejects.push(
                "the certificate has no subjectAltName: Meta checks the hostname against the DNS names in \
                 subjectAltName, the CN alone does not count"
                    .into(),
            );
        }
    }
    if handshake_ok {
        // In TLS 1.3 a server that insists on a client certificate says so only after our Finished: listen briefly
        // for that alert, since Meta sends no client certificate unless mutual TLS was arranged.
        let _ = sock.set_read_timeout(Some(opts.timeout.min(Duration::from_millis(700))));
        if let Err(e) = conn.complete_io(&mut sock) {
            if let Some(rustls::Error::AlertReceived(a)) =
                e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
            {
                if !matches!(a, rustls::AlertDescription::CloseNotify) {
                    rejects.push(handshake_error(&e));
                }
            }
        }
        conn.send_close_notify();
        let _ = conn.complete_io(&mut sock);
        let _ = sock.flush();
    }

    for c in &chain {
        if c.days_left < 0 {
            continue; // already a reject when it matters
        }
        if c.days_left < EXPIRY_WARN_DAYS {
            let what = if c.index == 0 {
                "the server certificate".to_string()
            } else {
                format!("chain certificate #{}", c.index)
            };
            warnings.push(format!(
                "{what} ({}) expires in {} day(s), on {}: renew it now, Meta will refuse it the moment it lapses",
                c.subject, c.days_left, c.not_after
            ));
        }
    }
    if let Some(leaf) = chain.first() {
        if leaf.key.starts_with("RSA") {
            if let Some(bits) = leaf
                .key
                .split_whitespace()
                .nth(1)
                .and_then(|b| b.parse::<u32>().ok())
            {
                if bits < 2048 {
                    rejects.push(format!(
                        "the server key is RSA {bits} bits; Meta needs at least 2048"
                    ));
                }
            }
        }
    }

    Ok(TlsReport {
        host: opts.host.clone(),
        port: opts.port,
        address,
        sni,
        protocol,
        cipher_suite,
        meta_accepts: rejects.is_empty(),
        trust: match (opts.ca_files.is_empty(), opts.no_public_roots) {
            (true, _) => "public roots (webpki-roots), as Meta".to_string(),
            (false, false) => "public roots + --ca-file".to_string(),
            (false, true) => "--ca-file only".to_string(),
        },
        chain,
        rejects,
        warnings,
    })
}

fn handshake_error(e: &std::io::Error) -> String {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::AlertReceived(a)) => {
            let a = format!("{a:?}");
            let why = match a.as_str() {
                "ProtocolVersion" => "the server supports no TLS version Meta uses (TLS 1.2 or 1.3); TLS 1.0/1.1 are refused",
                "HandshakeFailure" | "InsufficientSecurity" => {
                    "no common cipher suite or the server demands a client certificate; Meta offers modern ECDHE AEAD \
                     suites (TLS 1.2/1.3) and, by default, no client certificate"
                }
                "CertificateRequired" | "BadCertificate" => {
                    "the server demands a client certificate; Meta sends none unless mutual TLS was arranged with \
                     Meta (then from client.sip.fbclientcerts.com)"
                }
                _ => "the server aborted the handshake",
            };
            format!("TLS handshake failed: server sent alert {a}: {why}")
        }
        Some(rustls::Error::PeerIncompatible(p)) => format!(
            "TLS handshake failed: the server is incompatible with a modern client ({p:?}); Meta requires TLS 1.2 or \
             newer with ECDHE and AEAD suites"
        ),
        Some(rustls::Error::InvalidMessage(m)) => format!(
            "TLS handshake failed: the server sent something that is not TLS ({m:?}); is this port serving plain SIP?"
        ),
        Some(other) => format!("TLS handshake failed: {other}"),
        None => format!("TLS handshake failed: {e}"),
    }
}

fn explain_cert_error(err: &rustls::Error, host: &str, chain: &[CertInfo]) -> String {
    let leaf = chain.first();
    let lone_self_signed = chain.len() == 1 && leaf.is_some_and(|l| l.self_signed);
    let ca_as_leaf = matches!(err, rustls::Error::InvalidCertificate(CertificateError::Other(o)) if format!("{o:?}").contains("CaUsedAsEndEntity"));
    if lone_self_signed
        && (ca_as_leaf
            || matches!(
                err,
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
            ))
    {
        return unknown_issuer(chain);
    }
    if ca_as_leaf {
        return "the server certificate is a CA certificate (basicConstraints CA:TRUE), not a server certificate; \
                Meta refuses it"
            .into();
    }
    match err {
        rustls::Error::InvalidCertificate(ce) => match ce {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!(
                "the certificate has expired{}: Meta refuses expired certificates; renew it and reload the SIP server",
                leaf.map(|l| format!(" (not after {})", l.not_after)).unwrap_or_default()
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => format!(
                "the certificate is not valid yet{}: check the server clock and the certificate dates",
                leaf.map(|l| format!(" (not before {})", l.not_before)).unwrap_or_default()
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                let names = leaf
                    .map(|l| {
                        let mut v = l.dns_names.clone();
                        v.extend(l.ip_addresses.iter().cloned());
                        v.join(", ")
                    })
                    .unwrap_or_default();
                format!(
                    "hostname mismatch: the certificate is not valid for {host} (it names: {}); Meta verifies the \
                     hostname configured in the phone number's settings against the subjectAltName DNS entries, the \
                     CN alone does not count",
                    if names.is_empty() { "no subjectAltName at all".into() } else { names }
                )
            }
            CertificateError::UnknownIssuer => unknown_issuer(chain),
            CertificateError::Revoked => "the certificate has been revoked".into(),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "the certificate is not valid for TLS server authentication (extendedKeyUsage lacks serverAuth)".into()
            }
            CertificateError::BadSignature | CertificateError::UnsupportedSignatureAlgorithmContext { .. } => {
                "a signature in the chain is bad or uses an algorithm Meta's client does not accept (use SHA-256 or \
                 better with RSA >= 2048 or ECDSA P-256/P-384)"
                    .into()
            }
            other => format!("the certificate is rejected: {other:?}"),
        },
        other => format!("the certificate is rejected: {other}"),
    }
}

fn unknown_issuer(chain: &[CertInfo]) -> String {
    let Some(leaf) = chain.first() else {
        return "the server sent no certificate".into();
    };
    if chain.len() == 1 && leaf.self_signed {
        return "self-signed certificate: Meta only trusts certificates issued by a public CA; get one (for example \
                from Let's Encrypt) for the hostname configured in the phone number's settings"
            .into();
    }
    let last = chain.last().unwrap_or(leaf);
    if !last.self_signed && !chain.iter().skip(1).any(|c| c.subject == leaf.issuer) {
        return format!(
            "incomplete chain or unknown CA: the server sends no certificate for the issuer {:?}; configure the full \
             chain file (leaf followed by the intermediates) in the TLS settings. If the issuer is a private CA, Meta \
             will never trust it",
            leaf.issuer
        );
    }
    format!(
        "unknown CA: the chain ends at {:?}, which is not a public root Meta trusts; use a certificate from a public CA",
        last.issuer
    )
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn cert_info(index: usize, der: &CertificateDer<'_>) -> CertInfo {
    let Ok((_, cert)) = X509Certificate::from_der(der.as_ref()) else {
        return CertInfo {
            index,
            subject: "(unparsable certificate)".into(),
            issuer: String::new(),
            self_signed: false,
            not_before: String::new(),
            not_after: String::new(),
            days_left: 0,
            dns_names: vec![],
            ip_addresses: vec![],
            key: "unknown".into(),
            signature_algorithm: String::new(),
        };
    };
    let fmt = |t: &x509_parser::time::ASN1Time| {
        t.to_datetime()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| t.to_string())
    };
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => dns_names.push(d.to_string()),
                GeneralName::IPAddress(b) => ip_addresses.push(match b.len() {
                    4 => IpAddr::from(<[u8; 4]>::try_from(*b).unwrap_or_default()).to_string(),
                    16 => IpAddr::from(<[u8; 16]>::try_from(*b).unwrap_or_default()).to_string(),
                    _ => format!("{b:02x?}"),
                }),
                _ => {}
            }
        }
    }
    let spki = cert.public_key();
    let key = match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
        Ok(PublicKey::EC(ec)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| match o.to_id_string().as_str() {
                    "1.2.840.10045.3.1.7" => "P-256".to_string(),
                    "1.3.132.0.34" => "P-384".to_string(),
                    "1.3.132.0.35" => "P-521".to_string(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            format!("ECDSA {} {curve}", ec.key_size())
        }
        _ => match spki.algorithm.algorithm.to_id_string().as_str() {
            "1.3.101.112" => "Ed25519".to_string(),
            other => other.to_string(),
        },
    };
    let sig_oid = &cert.signature_algorithm.algorithm;
    let signature_algorithm =
        x509_parser::objects::oid2sn(sig_oid, x509_parser::objects::oid_registry())
            .map(str::to_string)
            .unwrap_or_else(|_| sig_oid.to_id_string());
    let not_after_ts = cert.validity().not_after.timestamp();
    CertInfo {
        index,
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        not_before: fmt(&cert.validity().not_before),
        not_after: fmt(&cert.validity().not_after),
        days_left: (not_after_ts - now_unix()).div_euclid(86_400),
        dns_names,
        ip_addresses,
        key,
        signature_algorithm,
    }
}

/// Human-readable report.
pub fn render(r: &TlsReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "host        {}:{} (connected to {})",
        r.host, r.port, r.address
    );
    let _ = writeln!(
        s,
        "SNI         {}",
        r.sni.as_deref().unwrap_or("(none: IP address)")
    );
    let _ = writeln!(s, "ALPN        none (as Meta)");
    let _ = writeln!(s, "protocol    {}", r.protocol.as_deref().unwrap_or("-"));
    let _ = writeln!(
        s,
        "cipher      {}",
        r.cipher_suite.as_deref().unwrap_or("-")
    );
    let _ = writeln!(
        s,
        "chain       {} certificate(s) sent by the server",
        r.chain.len()
    );
    for c in &r.chain {
        let _ = writeln!(s, "  #{} subject {}", c.index, c.subject);
        let _ = writeln!(
            s,
            "     issuer  {}{}",
            c.issuer,
            if c.self_signed { " (self-signed)" } else { "" }
        );
        let _ = writeln!(
            s,
            "     valid   {} .. {} ({} day(s) left)",
            c.not_before, c.not_after, c.days_left
        );
        if c.index == 0 {
            let mut names = c.dns_names.clone();
            names.extend(c.ip_addresses.iter().map(|i| format!("IP:{i}")));
            let _ = writeln!(
                s,
                "     names   {}",
                if names.is_empty() {
                    "(no subjectAltName)".into()
                } else {
                    names.join(", ")
                }
            );
        }
        let _ = writeln!(
            s,
            "     key     {}, signed {}",
            c.key, c.signature_algorithm
        );
    }
    for w in &r.warnings {
        let _ = writeln!(s, "WARNING: {w}");
    }
    for x in &r.rejects {
        let _ = writeln!(s, "REJECT: {x}");
    }
    if r.meta_accepts {
        let _ = writeln!(s, "verdict     Meta would accept this endpoint");
    } else {
        let _ = writeln!(
            s,
            "verdict     Meta would REJECT this endpoint ({} reason(s) above)",
            r.rejects.len()
        );
    }
    s
}
