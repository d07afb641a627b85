//! `wacall check-tls` against local TLS servers on 127.0.0.1 with certificates made at test time (rcgen): good,
//! expired, wrong host, self-signed, incomplete chain, near expiry; plus a closed port, a silent server and plain TCP.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{scratch, wacall};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

const HOST: &str = "sip.wacall.test";

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(p, KeyPair::generate().expect("key")).expect("ca")
}

fn intermediate(
    name: &str,
    root: &CertifiedIssuer<'static, KeyPair>,
) -> CertifiedIssuer<'static, KeyPair> {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::signed_by(p, KeyPair::generate().expect("key"), root).expect("intermediate")
}

struct Leaf {
    der: CertificateDer<'static>,
    pem: String,
    key: PrivateKeyDer<'static>,
}

/// A server certificate for `names`, valid from `from_days` to `to_days` relative to now, signed by `issuer`
/// (self-signed when None).
fn leaf(
    names: &[&str],
    from_days: i64,
    to_days: i64,
    issuer: Option<&CertifiedIssuer<'static, KeyPair>>,
) -> Leaf {
    let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .expect("params");
    p.distinguished_name.push(DnType::CommonName, names[0]);
    let now = OffsetDateTime::now_utc();
    p.not_before = now + time::Duration::days(from_days);
    p.not_after = now + time::Duration::days(to_days);
    let key = KeyPair::generate().expect("key");
    let cert = match issuer {
        Some(i) => p.signed_by(&key, i).expect("sign"),
        None => p.self_signed(&key).expect("self-sign"),
    };
    Leaf {
        der: cert.der().clone(),
        pem: cert.pem(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

/// A TLS server for one connection at a time, on an ephemeral port; lives until the test process ends.
fn serve(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> SocketAddr {
    serve_with(chain, key, None)
}

/// Same, optionally demanding a client certificate issued by `client_ca`.
fn serve_with(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_ca: Option<CertificateDer<'static>>,
) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca).expect("client ca");
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .expect("client verifier");
            builder.with_client_cert_verifier(v)
        }
        None => builder.with_no_client_auth(),
    };
    let cfg = builder.with_single_cert(chain, key).expect("server cert");
    let cfg = Arc::new(cfg);
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let Ok(mut conn) = rustls::ServerConnection::new(cfg.clone()) else {
                continue;
            };
            while conn.is_handshaking() {
                if conn.complete_io(&mut s).is_err() {
                    break;
                }
            }
            let mut buf = [0u8; 512];
            let mut tls = rustls::Stream::new(&mut conn, &mut s);
            while let Ok(n) = tls.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
        }
    });
    addr
}

fn write_pem(dir: &std::path::Path, name: &str, pem: String) -> String {
    let p = dir.join(name);
    std::fs::write(&p, pem).expect("write pem");
    p.to_string_lossy().into_owned()
}

/// Runs `wacall --json check-tls HOST:port --connect 127.0.0.1:port --ca-file ca.pem`.
fn check(addr: SocketAddr, ca_pem: &str, host: &str) -> common::Out {
    let target = format!("{host}:{}", addr.port());
    let connect = addr.to_string();
    wacall(&[
        "--json",
        "check-tls",
        &target,
        "--connect",
        &connect,
        "--ca-file",
        ca_pem,
        "--timeout",
        "5",
    ])
}

/// A root CA in `ca.pem` and a server with one leaf for `names` valid `from..to` days from now, signed by it.
fn ca_signed_server(tag: &str, names: &[&str], from: i64, to: i64) -> (SocketAddr, String) {
    let dir = scratch(tag);
    let root = ca("wacall test root");
    let ca_pem = write_pem(&dir, "ca.pem", root.pem());
    let l = leaf(names, from, to, Some(&root));
    (serve(vec![l.der], l.key), ca_pem)
}

fn rejects(o: &common::Out) -> String {
    o.json()["rejects"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default()
}

#[test]
fn good_certificate_is_accepted() {
    let (addr, ca_pem) = ca_signed_server("tls-good", &[HOST], -1, 90);
    let o = check(addr, &ca_pem, HOST);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let j = o.json();
    assert_eq!(j["meta_accepts"], true);
    assert_eq!(j["sni"], HOST);
    assert_eq!(j["protocol"], "TLSv1.3");
    assert!(j["cipher_suite"]
        .as_str()
        .unwrap_or("")
        .starts_with("TLS13_"));
    assert_eq!(j["chain"][0]["dns_names"][0], HOST);
    assert!(
        j["chain"][0]["key"]
            .as_str()
            .unwrap_or("")
            .starts_with("ECDSA 256"),
        "{}",
        j["chain"][0]["key"]
    );
    let days = j["chain"][0]["days_left"].as_i64().unwrap_or(-1);
    assert!((88..=90).contains(&days), "days_left {days}");
    // The private test CA is trusted only through --ca-file, and the report says Meta would not trust it.
    let w = j["warnings"].to_string();
    assert!(w.contains("only thanks to --ca-file"), "{w}");
    assert_eq!(j["warnings"].as_array().map(|a| a.len()), Some(1), "{w}");

    // --no-public-roots changes nothing about what Meta trusts: the warning stays.
    let o = wacall(&[
        "--json",
        "check-tls",
        &format!("{HOST}:{}", addr.port()),
        "--connect",
        &addr.to_string(),
        "--ca-file",
        &ca_pem,
        "--no-public-roots",
    ]);
    assert_eq!(o.code, 0);
    assert!(
        o.json()["warnings"]
            .to_string()
            .contains("only thanks to --ca-file"),
        "{}",
        o.stdout
    );

    // The text form says it plainly.
    let target = format!("{HOST}:{}", addr.port());
    let o = wacall(&[
        "check-tls",
        &target,
        "--connect",
        &addr.to_string(),
        "--ca-file",
        &ca_pem,
    ]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("Meta would accept"), "{}", o.stdout);
}

#[test]
fn expired_certificate_is_rejected() {
    let (addr, ca_pem) = ca_signed_server("tls-expired", &[HOST], -100, -2);
    let o = check(addr, &ca_pem, HOST);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert_eq!(o.json()["meta_accepts"], false);
    assert!(rejects(&o).contains("expired"), "{}", rejects(&o));
}

#[test]
fn wrong_host_is_rejected() {
    let (addr, ca_pem) = ca_signed_server("tls-wronghost", &["other.wacall.test"], -1, 90);
    let o = check(addr, &ca_pem, HOST);
    assert_eq!(o.code, 1);
    let r = rejects(&o);
    assert!(
        r.contains("hostname mismatch") && r.contains("other.wacall.test"),
        "{r}"
    );
}

#[test]
fn self_signed_is_rejected() {
    let dir = scratch("tls-selfsigned");
    let root = ca("unrelated root");
    let ca_pem = write_pem(&dir, "ca.pem", root.pem());
    let l = leaf(&[HOST], -1, 90, None);
    let addr = serve(vec![l.der], l.key);
    let o = check(addr, &ca_pem, HOST);
    assert_eq!(o.code, 1);
    assert!(rejects(&o).contains("self-signed"), "{}", rejects(&o));
    assert_eq!(o.json()["chain"][0]["self_signed"], true);
}

#[test]
fn incomplete_chain_is_rejected_and_full_chain_accepted() {
    let dir = scratch("tls-chain");
    let root = ca("wacall test root");
    let inter = intermediate("wacall test intermediate", &root);
    let ca_pem = write_pem(&dir, "ca.pem", root.pem());
    let l = leaf(&[HOST], -1, 90, Some(&inter));
    let addr = serve(vec![l.der.clone()], l.key.clone_key());
    let o = check(addr, &ca_pem, HOST);
    assert_eq!(o.code, 1);
    assert!(rejects(&o).contains("incomplete chain"), "{}", rejects(&o));

    let addr = serve(vec![l.der, inter.der().clone()], l.key);
    let o = check(addr, &ca_pem, HOST);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert_eq!(o.json()["chain"].as_array().map(|a| a.len()), Some(2));
}

#[test]
fn near_expiry_warns_but_accepts() {
    let (addr, ca_pem) = ca_signed_server("tls-soon", &[HOST], -80, 5);
    let o = check(addr, &ca_pem, HOST);
    assert_eq!(o.code, 0);
    let w = o.json()["warnings"].to_string();
    assert!(w.contains("expires in"), "{w}");
}

#[test]
fn public_roots_only_rejects_private_ca() {
    let root = ca("private root");
    let l = leaf(&[HOST], -1, 90, Some(&root));
    let addr = serve(vec![l.der], l.key);
    let o = wacall(&[
        "--json",
        "check-tls",
        &format!("{HOST}:{}", addr.port()),
        "--connect",
        &addr.to_string(),
    ]);
    assert_eq!(o.code, 1);
    let r = rejects(&o);
    assert!(r.contains("CA") || r.contains("chain"), "{r}");
}

#[test]
fn closed_port_is_a_clear_network_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let o = wacall(&[
        "check-tls",
        &format!("{HOST}:{port}"),
        "--connect",
        &format!("127.0.0.1:{port}"),
        "--timeout",
        "2",
    ]);
    assert_eq!(o.code, 3);
    assert!(o.stderr.contains("cannot connect"), "{}", o.stderr);
    let o = wacall(&[
        "--json",
        "check-tls",
        &format!("{HOST}:{port}"),
        "--connect",
        &format!("127.0.0.1:{port}"),
        "--timeout",
        "2",
    ]);
    assert_eq!(o.code, 3);
    assert!(o.json()["error"]
        .as_str()
        .unwrap_or("")
        .contains("cannot connect"));
}

#[test]
fn silent_server_times_out_within_bound() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s); // accept, never answer
        }
    });
    let t = Instant::now();
    let o = wacall(&[
        "--json",
        "check-tls",
        &format!("{HOST}:{}", addr.port()),
        "--connect",
        &addr.to_string(),
        "--timeout",
        "1",
    ]);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(o.code, 1);
    assert!(
        rejects(&o).contains("did not complete the TLS handshake"),
        "{}",
        rejects(&o)
    );
}

#[test]
fn plain_sip_port_is_rejected() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let _ = s.write_all(b"SIP/2.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let o = wacall(&[
        "--json",
        "check-tls",
        &format!("{HOST}:{}", addr.port()),
        "--connect",
        &addr.to_string(),
        "--timeout",
        "3",
    ]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(rejects(&o).contains("TLS"), "{}", rejects(&o));
}

#[test]
fn bad_arguments() {
    let o = wacall(&["check-tls", "host:notaport"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("port"), "{}", o.stderr);
    let o = wacall(&["check-tls", "host", "--ca-file", "/nonexistent/ca.pem"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("CA file"), "{}", o.stderr);
    let o = wacall(&["check-tls"]);
    assert_eq!(o.code, 2);
}

/// An old server that speaks only TLS 1.1 (OpenSSL's s_server, when the openssl tool is installed).
#[test]
fn tls_1_1_only_server_is_rejected() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let dir = scratch("tls-old");
    let root = ca("wacall test root");
    let l = leaf(&[HOST], -1, 90, Some(&root));
    let cert = write_pem(&dir, "cert.pem", l.pem.clone());
    let key_path = dir.join("key.der");
    std::fs::write(&key_path, l.key.secret_der()).expect("key");
    let child = Command::new("openssl")
        .args(["s_server", "-accept", "127.0.0.1:0", "-cert", &cert, "-key"])
        .arg(&key_path)
        .args([
            "-keyform",
            "DER",
            "-tls1_1",
            "-cipher",
            "DEFAULT@SECLEVEL=0",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("openssl not installed: skipping");
        return;
    };
    // Read s_server's "ACCEPT addr:port" line on a thread so a silent openssl cannot hang the test.
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(p) = line.strip_prefix("ACCEPT 127.0.0.1:") {
                    let _ = tx.send(p.trim().parse::<u16>().ok());
                }
            }
        });
    }
    let port = rx.recv_timeout(Duration::from_secs(5)).ok().flatten();
    let Some(port) = port else {
        let _ = child.kill();
        let _ = child.wait();
        eprintln!("openssl s_server did not start: skipping");
        return;
    };
    let o = wacall(&[
        "--json",
        "check-tls",
        &format!("{HOST}:{port}"),
        "--connect",
        &format!("127.0.0.1:{port}"),
        "--timeout",
        "5",
    ]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(rejects(&o).contains("TLS 1.2"), "{}", rejects(&o));
}

#[test]
fn unresolvable_host_is_a_clear_error() {
    let t = Instant::now();
    let o = wacall(&["check-tls", "no-such-host.invalid", "--timeout", "3"]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(
        o.stderr.contains("cannot resolve no-such-host.invalid"),
        "{}",
        o.stderr
    );
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn server_demanding_client_certificate_is_rejected() {
    let dir = scratch("tls-mtls");
    let root = ca("wacall test root");
    let ca_pem = write_pem(&dir, "ca.pem", root.pem());
    let l = leaf(&[HOST], -1, 90, Some(&root));
    let addr = serve_with(vec![l.der], l.key, Some(root.der().clone()));
    let o = check(addr, &ca_pem, HOST);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(
        rejects(&o).contains("client certificate"),
        "{}",
        rejects(&o)
    );
}
