//! Property tests of the digest layer: challenges print and parse back, the parsers never panic, and any client
//! answer verifies on the server (and fails with another password).

use proptest::prelude::*;
use wacall::digest::{
    parse_challenges, respond, Algorithm, AuthParam, Authorization, Challenge, Credentials,
    DigestRequest, Server, ServerConfig, VerifyRequest,
};

fn param() -> impl Strategy<Value = AuthParam> {
    prop_oneof![
        (
            "[a-zA-Z][a-zA-Z0-9-]{0,8}",
            "[a-zA-Z0-9!#$%&'*+.^_`|~-]{1,12}"
        )
            .prop_map(|(name, value)| AuthParam {
                name,
                value,
                quoted: false
            }),
        ("[a-zA-Z][a-zA-Z0-9-]{0,8}", "[ -~\u{e4}\u{4e2d}]{0,16}").prop_map(|(name, value)| {
            AuthParam {
                name,
                value,
                quoted: true,
            }
        }),
    ]
}

fn challenge() -> impl Strategy<Value = Challenge> {
    prop_oneof![
        (
            prop_oneof![
                Just("Digest"),
                Just("digest"),
                Just("Basic"),
                Just("X-Custom")
            ],
            proptest::collection::vec(param(), 0..6)
        )
            .prop_map(|(s, params)| Challenge {
                scheme: s.into(),
                token68: None,
                params
            }),
        (
            "Bearer|Negotiate",
            "[A-Za-z0-9+/]{1,10}={0,2}",
            proptest::collection::vec(param(), 0..3)
        )
            .prop_map(|(s, t, params)| Challenge {
                scheme: s,
                token68: Some(t),
                params
            }),
    ]
}

proptest! {
    #[test]
    fn challenge_print_parse(cs in proptest::collection::vec(challenge(), 1..4)) {
        let joined = cs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let back = parse_challenges(&joined).map_err(|e| TestCaseError::fail(format!("{joined}: {e}")))?;
        prop_assert_eq!(back, cs);
    }

    #[test]
    fn parsers_never_panic(s in any::<String>()) {
        let _ = parse_challenges(&s);
        let _ = Authorization::parse(&s);
    }

    #[test]
    fn parsers_never_panic_on_near_misses(s in "(Digest|Basic)? ?([a-z]{1,4}=(\"([^\"\\\\]|\\\\.){0,5}\"?|[a-z0-9]{0,4}),? ?){0,5}") {
        let _ = parse_challenges(&s);
        let _ = Authorization::parse(&s);
    }

    #[test]
    fn client_answer_verifies(
        alg in proptest::sample::select(Algorithm::ALL.to_vec()),
        user in "[0-9]{8,15}",
        pw in "[ -~]{0,24}",
        method in "INVITE|BYE|ACK|CANCEL",
        nc in 1u32..1000,
    ) {
        let mut cfg = ServerConfig::new("wa.meta.vc", vec![7u8; 32]);
        cfg.algorithms = vec![alg];
        let mut srv = Server::new(cfg).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let chs = srv.challenges(1000, false).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let req = DigestRequest { nonce_count: nc, ..DigestRequest::new(&method, "sip:+15551234567@wa.meta.vc;transport=tls") };
        let a = respond(&chs[0], &Credentials::new(user.clone(), pw.clone()), &req).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let vr = VerifyRequest { method: &method, body: b"", now_unix: 1001, uri_check: None };
        let wrong = format!("{pw}x");
        prop_assert!(srv.verify(&a.to_string(), &vr, |_| Some(wrong.clone())).is_err());
        let v = srv.verify(&a.to_string(), &vr, |u| (u == user).then(|| pw.clone()));
        prop_assert!(v.is_ok(), "{:?}", v);
        prop_assert!(srv.verify(&a.to_string(), &vr, |_| Some(pw.clone())).is_err());
    }
}
