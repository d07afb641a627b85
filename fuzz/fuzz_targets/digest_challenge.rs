//! Fuzz the digest challenge and authorization parsers and the client answer: no panic; printed challenges parse
//! back to the same thing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wacall::digest::{self, Authorization, Credentials, DigestRequest};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(cs) = digest::parse_challenges(s) {
        let printed = cs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let again = digest::parse_challenges(&printed).expect("printed challenges parse");
        assert_eq!(again, cs, "challenge round trip");
        if let Some(ch) = digest::choose_best(&cs) {
            let req = DigestRequest { cnonce: Some("c"), ..DigestRequest::new("INVITE", "sip:+15551234567@wa.meta.vc") };
            let a = digest::respond(ch, &Credentials::new("15551234567", "pw"), &req).expect("best challenge answers");
            assert!(digest::check_response(&a, "pw", "INVITE", b"") || a.userhash);
        }
    }
    if let Ok(a) = Authorization::parse(s) {
        let _ = Authorization::parse(&a.to_string());
    }
});
