//! Digest against published vectors (RFC 7616 3.9.1), the seed's 407s and Proxy-Authorization lines, and a Meta-style
//! 407 carrying SHA-256 then MD5; client answers checked by the server verifier.

use wacall::digest::{
    self, check_response, choose_best, meta_authorization, parse_challenge_headers, respond,
    Algorithm, Authorization, Challenge, Credentials, DigestRequest, Qop, Server, ServerConfig,
    VerifyRequest,
};
use wacall::sip::Message;

const RFC_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

fn rfc_challenge(alg: &str) -> Challenge {
    Challenge::parse(&format!(
        "Digest\r\n    realm=\"http-auth@example.org\",\r\n    qop=\"auth, auth-int\",\r\n    algorithm={alg},\r\n    \
         nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n    \
         opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
    ))
    .unwrap()
}

fn rfc_request() -> DigestRequest<'static> {
    DigestRequest {
        method: "GET",
        uri: "/dir/index.html",
        body: b"",
        nonce_count: 1,
        cnonce: Some(RFC_CNONCE),
    }
}

#[test]
fn rfc7616_section_3_9_1() {
    let creds = Credentials::new("Mufasa", "Circle of Life");
    let md5 = respond(&rfc_challenge("MD5"), &creds, &rfc_request()).unwrap();
    assert_eq!(md5.response, "8ca523f5e9506fed4657c9700eebdbec");
    assert_eq!(md5.qop, Some(Qop::Auth));
    assert_eq!(md5.nc, Some(1));
    let sha = respond(&rfc_challenge("SHA-256"), &creds, &rfc_request()).unwrap();
    assert_eq!(
        sha.response,
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
    // The RFC's own Authorization, as a strict server reads it.
    let rfc = Authorization::parse(
        "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", algorithm=SHA-256, \
         nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
         cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
         response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", \
         opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
    )
    .unwrap();
    assert_eq!(rfc, sha);
    assert!(check_response(&rfc, "Circle of Life", "GET", b""));
    assert!(!check_response(&rfc, "circle of life", "GET", b""));
}

const META_407_MD5: &str = "SIP/2.0 407 Proxy Authentication Required\r
Via: SIP/2.0/TLS 159.65.244.171:5061;received=2803:6081:798c:93f8:5f9b:bfe8:300:0;branch=z9hG4bK0da2.36614b8977461b486ceabc004c723476.0;i=617261\r
Via: SIP/2.0/TLS 137.184.87.1:35181;rport=56533;received=137.184.87.1;branch=z9hG4bKQNa6meey5Dj2g\r
Record-Route: <sip:+159.65.244.171:5061;transport=tls;lr;ftag=Kc9QZg4496maQ;nat=yes>\r
Call-ID: dc2c5b33-1b81-43ee-9213-afb56f4e56ba\r
From: <sip:+17125550259@meta-voip.example.com>;tag=Kc9QZg4496maQ\r
To: <sip:+12195550714@wa.meta.vc>;tag=z9hG4bK0da2.36614b8977461b486ceabc004c723476.0\r
CSeq: 96743476 INVITE\r
Proxy-Authenticate: Digest realm=\"wa.meta.vc\",nonce=\"419ac2415577f8e1\",opaque=\"440badfc05072367\",algorithm=MD5,qop=\"auth\"\r
Content-Length: 0\r
\r
";

const SEED_PROXY_AUTH_META: &str = r#"Digest username="17125550259", realm="wa.meta.vc", nonce="419ac2415577f8e1", uri="sip:+12195550714@wa.meta.vc;transport=tls", response="blah", algorithm=MD5, cnonce="/mVZtYFCEj65YQJCrBEAAg", opaque="440badfc05072367", qop=auth, nc=00000001"#;

const TWILIO_407_CHALLENGE: &str = r#"Digest realm="sip.twilio.com",nonce="eyOam_8-l5FVugxsyxFRjnlxq9vy1TjQIMB3mBfJuAvB5gV4",opaque="4a6a068be2ca2032a57912b9a2a6adf7",qop="auth""#;
const TWILIO_PROXY_AUTH: &str = r#"Digest username="12145551869", realm="sip.twilio.com", nonce="eyOam_8-l5FVugxsyxFRjnlxq9vy1TjQIMB3mBfJuAvB5gV4", uri="sip:+12145551869@meta-voip.example.com", response="b28ed6b8bf1418e3c6eca05ef8c7a0b1", cnonce="TY2SszvYCKitUCBlVLpGiPKMQfmBbj", opaque="4a6a068be2ca2032a57912b9a2a6adf7", qop=auth, nc=00000001"#;

/// The Proxy-Authorization that answered the seed's 407 has exactly our field order; ours differs only in response.
#[test]
fn seed_meta_407_layout() {
    let m = Message::parse_str(META_407_MD5).unwrap();
    assert_eq!(m.status(), Some(407));
    let values: Vec<&str> = m.header_all("proxy-authenticate").collect();
    let cs = parse_challenge_headers(&values).unwrap();
    let ch = choose_best(&cs).unwrap();
    let creds = Credentials::new("17125550259", "not-the-real-password");
    let req = DigestRequest {
        cnonce: Some("/mVZtYFCEj65YQJCrBEAAg"),
        ..DigestRequest::new("INVITE", "sip:+12195550714@wa.meta.vc;transport=tls")
    };
    let ours = respond(ch, &creds, &req).unwrap();
    let seed = Authorization::parse(SEED_PROXY_AUTH_META).unwrap();
    let ours_s = ours.to_string();
    assert_eq!(ours_s.replace(&ours.response, "blah"), SEED_PROXY_AUTH_META);
    let mut blah = ours.clone();
    blah.response = "blah".into();
    assert_eq!(blah, seed);
}

/// Meta answering Twilio's 407: our layout matches Meta's own (no algorithm when the challenge named none), and a
/// response for a known password checks out.
#[test]
fn seed_twilio_layout_and_known_password() {
    let ch = Challenge::parse(TWILIO_407_CHALLENGE).unwrap();
    assert_eq!(ch.algorithm(), Some(Algorithm::Md5));
    let req = DigestRequest {
        cnonce: Some("TY2SszvYCKitUCBlVLpGiPKMQfmBbj"),
        ..DigestRequest::new("INVITE", "sip:+12145551869@meta-voip.example.com")
    };
    let a = respond(
        &ch,
        &Credentials::new("12145551869", "known password"),
        &req,
    )
    .unwrap();
    let seed = Authorization::parse(TWILIO_PROXY_AUTH).unwrap();
    assert_eq!(
        a.to_string().replace(&a.response, &seed.response),
        TWILIO_PROXY_AUTH
    );
    assert!(check_response(&a, "known password", "INVITE", b""));
    assert!(!check_response(&a, "known password", "BYE", b""));
    // The seed's own response was made with a password we do not have.
    assert!(!check_response(&seed, "known password", "INVITE", b""));
}

/// The same layout through our server: a Twilio-like realm, a known password, verified.
#[test]
fn client_server_round_trip_all_algorithms() {
    for alg in Algorithm::ALL {
        for qop in [Qop::Auth, Qop::AuthInt] {
            let mut cfg =
                ServerConfig::new("sip.twilio.com", b"a secret of at least 16 bytes".to_vec());
            cfg.algorithms = vec![alg];
            cfg.qop = vec![qop];
            cfg.opaque = Some("4a6a068be2ca2032a57912b9a2a6adf7".into());
            let mut srv = Server::new(cfg).unwrap();
            let hv = srv.challenge_header_values(1_750_000_000, false).unwrap();
            let cs = parse_challenge_headers(&hv).unwrap();
            let body = b"v=0\r\n";
            let req = DigestRequest {
                body,
                ..DigestRequest::new("INVITE", "sip:+12145551869@meta-voip.example.com")
            };
            let a = respond(
                choose_best(&cs).unwrap(),
                &Credentials::new("12145551869", "pw"),
                &req,
            )
            .unwrap();
            let uri_ok = |u: &str| u == "sip:+12145551869@meta-voip.example.com";
            let vr = VerifyRequest {
                method: "INVITE",
                body,
                now_unix: 1_750_000_010,
                uri_check: Some(&uri_ok),
            };
            let v = srv
                .verify(&a.to_string(), &vr, |u| {
                    (u == "12145551869").then(|| "pw".to_owned())
                })
                .unwrap_or_else(|e| panic!("{alg} {qop}: {e}"));
            assert_eq!((v.algorithm, v.qop, v.nc), (alg, qop, 1));
            if qop == Qop::AuthInt {
                let tampered = VerifyRequest {
                    body: b"v=1\r\n",
                    ..vr
                };
                let again = respond(
                    choose_best(&cs).unwrap(),
                    &Credentials::new("12145551869", "pw"),
                    &DigestRequest {
                        nonce_count: 2,
                        ..req
                    },
                )
                .unwrap();
                assert_eq!(
                    srv.verify(&again.to_string(), &tampered, |_| Some("pw".into())),
                    Err(digest::Error::BadResponse)
                );
            }
        }
    }
}

/// Meta since 2026: two challenges, SHA-256 first, then MD5; we answer SHA-256 in Meta's layout.
#[test]
fn meta_sha256_then_md5() {
    let resp = "SIP/2.0 407 Proxy Authentication Required\r\n\
        Via: SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1\r\n\
        From: <sip:+17125550259@meta-voip.example.com>;tag=a\r\n\
        To: <sip:+12195550714@wa.meta.vc>;tag=b\r\n\
        Call-ID: c\r\nCSeq: 1 INVITE\r\n\
        Proxy-Authenticate: Digest realm=\"wa.meta.vc\",nonce=\"6a1f0c2e9d3b4a57\",opaque=\"0b1c2d3e4f506172\",algorithm=SHA-256,qop=\"auth\"\r\n\
        Proxy-Authenticate: Digest realm=\"wa.meta.vc\",nonce=\"6a1f0c2e9d3b4a57\",opaque=\"0b1c2d3e4f506172\",algorithm=MD5,qop=\"auth\"\r\n\
        Content-Length: 0\r\n\r\n";
    let m = Message::parse_str(resp).unwrap();
    let values: Vec<&str> = m.header_all("Proxy-Authenticate").collect();
    let ruri = "sip:+12195550714@wa.meta.vc;transport=tls";
    let h = meta_authorization(&values, "+1 712-555-0259", "s3cret", "INVITE", ruri).unwrap();
    let a = Authorization::parse(&h).unwrap();
    assert_eq!(a.algorithm, Some(Algorithm::Sha256));
    assert_eq!(a.username, "17125550259");
    assert_eq!(a.uri, ruri);
    assert_eq!(a.realm, "wa.meta.vc");
    assert_eq!(a.nc, Some(1));
    assert_eq!(a.qop, Some(Qop::Auth));
    assert_eq!(a.opaque.as_deref(), Some("0b1c2d3e4f506172"));
    assert_eq!(a.cnonce.as_ref().map(String::len), Some(32));
    assert!(check_response(&a, "s3cret", "INVITE", b""));
    let prefix =
        "Digest username=\"17125550259\", realm=\"wa.meta.vc\", nonce=\"6a1f0c2e9d3b4a57\", \
        uri=\"sip:+12195550714@wa.meta.vc;transport=tls\", response=\"";
    assert!(h.starts_with(prefix), "{h}");
    let tail = format!(
        "\", algorithm=SHA-256, cnonce=\"{}\", opaque=\"0b1c2d3e4f506172\", qop=auth, nc=00000001",
        a.cnonce.as_deref().unwrap_or("")
    );
    assert!(h.ends_with(&tail), "{h}");
    // Also when both challenges come in one header value, in either order.
    let joined = values.join(", ");
    let h2 = meta_authorization(&[&joined], "17125550259", "s3cret", "INVITE", ruri).unwrap();
    assert!(h2.contains("algorithm=SHA-256"));
    let rev = format!("{}, {}", values[1], values[0]);
    let h3 = meta_authorization(&[&rev], "17125550259", "s3cret", "INVITE", ruri).unwrap();
    assert!(h3.contains("algorithm=SHA-256"));
}

#[test]
fn meta_errors() {
    let ruri = "sip:+12195550714@wa.meta.vc;transport=tls";
    assert_eq!(
        meta_authorization(
            &["Digest realm=\"wa.meta.vc\", nonce=\"n\", algorithm=SHA-1"],
            "+17125550259",
            "p",
            "INVITE",
            ruri
        ),
        Err(digest::Error::NoSupportedChallenge)
    );
    assert!(matches!(
        meta_authorization(
            &["Digest realm=\"wa.meta.vc\", nonce=\"n\""],
            "abc",
            "p",
            "INVITE",
            ruri
        ),
        Err(digest::Error::InvalidNumber(_))
    ));
    assert!(matches!(
        meta_authorization(&["Digest realm=\"x"], "+17125550259", "p", "INVITE", ruri),
        Err(digest::Error::Parse(_))
    ));
}
