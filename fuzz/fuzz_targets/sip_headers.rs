//! Fuzz the SIP message reader and Meta's header extraction: no panic on any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wacall::sip::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        let _ = m.meta_headers();
        let _ = m.header("i");
        let _ = m.header_values("via");
        for h in &m.headers {
            let _ = wacall::sip::headers::split_list(&h.value);
        }
        assert!(m.body.len() <= data.len());
    }
});
