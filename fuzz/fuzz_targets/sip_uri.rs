//! Fuzz the SIP URI parser, name-addr reader and Meta number rules: no panic, and accepted URIs print back unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wacall::sip::{self, NameAddr, NumberPolicy, Uri};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(mut u) = Uri::parse(s) {
        assert_eq!(u.to_string(), s, "lossless print");
        let _ = u.host_kind();
        let _ = u.user_unescaped();
        u.set_param("transport", Some("tls"));
        u.set_user_param("tgrp", Some("a b"));
        let printed = u.to_string();
        let again = Uri::parse(&printed).expect("modified URI parses");
        assert_eq!(again.to_string(), printed);
    }
    if let Ok(n) = NameAddr::parse(s) {
        let _ = NameAddr::parse(&n.to_string());
    }
    let _ = sip::parse_inbound_request_uri(s);
    let policy = NumberPolicy::default().with_national("44", Some("0"));
    if let Ok(r) = sip::meta_request_uri(s, &policy) {
        let u = Uri::parse(&r).expect("our R-URI parses");
        assert!(!u.host_is_ip());
    }
    let _ = sip::meta_digest_username(s);
});
