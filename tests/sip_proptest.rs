//! Property tests of the sip layer: URIs print back byte for byte, accepted input is always lossless, and no reader
//! panics on arbitrary input.

use proptest::prelude::*;
use wacall::sip::{meta_request_uri, Message, NameAddr, NumberPolicy, Uri};

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\\.[a-z0-9]{1,8}){0,3}",
        any::<[u8; 4]>().prop_map(|b| format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])),
        any::<[u16; 8]>().prop_map(|w| format!("[{}]", std::net::Ipv6Addr::from(w))),
    ]
}

prop_compose! {
    fn uri_parts()(
        scheme in prop_oneof![Just("sip"), Just("sips"), Just("SIP")],
        user in proptest::option::of("([a-zA-Z0-9+._!~*'()&=$,/?-]|%[0-9A-F]{2}){0,12}"),
        user_params in proptest::collection::vec(("[a-z-]{1,8}", proptest::option::of("[a-zA-Z0-9._+:-]{0,10}")), 0..3),
        password in proptest::option::of("[a-zA-Z0-9]{0,8}"),
        host in host(),
        port in proptest::option::of(any::<u16>()),
        params in proptest::collection::vec(("[a-zA-Z0-9-]{0,8}", proptest::option::of("[a-zA-Z0-9.:+~-]{0,10}")), 0..4),
        headers in proptest::collection::vec(("[a-zA-Z]{0,6}", proptest::option::of("([a-zA-Z0-9]|%[0-9A-F]{2}){0,8}")), 0..3),
    ) -> (String, Option<String>, Vec<(String, Option<String>)>, Option<String>, String, Option<u16>, Vec<(String, Option<String>)>, usize) {
        let mut s = format!("{scheme}:");
        // A password after user parameters reads as part of the last value (RFC 3966 allows ':' there).
        let password = if user_params.is_empty() { password } else { None };
        if let Some(u) = &user {
            s.push_str(u);
            for (k, v) in &user_params {
                s.push(';');
                s.push_str(k);
                if let Some(v) = v { s.push('='); s.push_str(v); }
            }
            if let Some(p) = &password { s.push(':'); s.push_str(p); }
            s.push('@');
        }
        s.push_str(&host);
        if let Some(p) = port { s.push_str(&format!(":{p}")); }
        for (k, v) in &params {
            s.push(';');
            s.push_str(k);
            if let Some(v) = v { s.push('='); s.push_str(v); }
        }
        for (i, (k, v)) in headers.iter().enumerate() {
            s.push(if i == 0 { '?' } else { '&' });
            s.push_str(k);
            if let Some(v) = v { s.push('='); s.push_str(v); }
        }
        let user_params = if user.is_some() { user_params } else { Vec::new() };
        let password = if user.is_some() { password } else { None };
        (s, user, user_params, password, host, port, params, headers.len())
    }
}

proptest! {
    #[test]
    fn uri_round_trip((s, user, user_params, password, host, port, params, nheaders) in uri_parts()) {
        let u = Uri::parse(&s).map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
        prop_assert_eq!(u.to_string(), s.clone());
        prop_assert_eq!(u.user(), user.as_deref());
        prop_assert_eq!(u.user_params().len(), user_params.len());
        for (p, (k, v)) in u.user_params().iter().zip(&user_params) {
            prop_assert_eq!(&p.name, k);
            prop_assert_eq!(&p.value, v);
        }
        prop_assert_eq!(u.password(), password.as_deref());
        prop_assert_eq!(u.host(), host.as_str());
        prop_assert_eq!(u.port(), port);
        prop_assert_eq!(u.params().len(), params.len());
        prop_assert_eq!(u.headers().len(), nheaders);
        let again = Uri::parse(&u.to_string()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(again, u);
    }

    #[test]
    fn accepted_uris_are_lossless(s in "(sips?|SIP):[a-zA-Z0-9@:;=?&%+.\\[\\]_~-]{0,40}") {
        if let Ok(u) = Uri::parse(&s) {
            prop_assert_eq!(u.to_string(), s);
        }
    }

    #[test]
    fn uri_parse_never_panics(s in any::<String>()) {
        if let Ok(u) = Uri::parse(&s) {
            prop_assert_eq!(u.to_string(), s.clone());
        }
        let _ = NameAddr::parse(&s);
    }

    #[test]
    fn set_param_touches_only_params((s, ..) in uri_parts(), v in "[a-z]{1,5}") {
        let mut u = Uri::parse(&s).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let before = u.clone();
        u.set_param("x-new", Some(&v));
        prop_assert_eq!(u.user(), before.user());
        prop_assert_eq!(u.user_params(), before.user_params());
        prop_assert_eq!(u.host(), before.host());
        prop_assert_eq!(u.headers(), before.headers());
        let want = format!(";x-new={v}");
        prop_assert!(u.to_string().contains(&want));
    }

    #[test]
    fn message_reader_never_panics(b in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Message::parse(&b);
    }

    #[test]
    fn meta_ruri_from_any_format(cc in "[1-9][0-9]{0,2}", rest in "[0-9]{7,11}") {
        let digits = format!("{cc}{rest}");
        prop_assume!(digits.len() <= 15);
        let want = format!("sip:+{digits}@wa.meta.vc;transport=tls");
        let p = NumberPolicy::default();
        prop_assert_eq!(meta_request_uri(&format!("+{digits}"), &p).unwrap(), want.clone());
        prop_assert_eq!(meta_request_uri(&format!("00{digits}"), &p).unwrap(), want.clone());
        prop_assert_eq!(meta_request_uri(&digits, &p).unwrap(), want.clone());
        prop_assert_eq!(meta_request_uri(&format!("tel:+{digits}"), &p).unwrap(), want.clone());
        prop_assert_eq!(meta_request_uri(&format!("sip:+{digits}@example.com"), &p).unwrap(), want);
    }
}
