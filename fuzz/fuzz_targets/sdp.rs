//! Fuzzes the SDP parser and typed accessors: never panic, and an accepted input prints back byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wacall::sdp::Sdp;

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = Sdp::parse_bytes(data) else {
        return;
    };
    assert_eq!(sdp.to_string().as_bytes(), data, "lossless round trip");
    let _ = (sdp.origin(), sdp.connection(), sdp.timing(), sdp.bundle(), sdp.ice_lite());
    for i in 0..sdp.media().len() {
        let Some(v) = sdp.media_view(i) else { continue };
        let _ = (v.candidates(), v.cryptos(), v.fingerprints(), v.setup(), v.connection());
        let _ = (v.direction(), v.ice_ufrag(), v.ice_pwd(), v.ice_options(), v.rtcp_mux());
        let m = v.media;
        let _ = (m.media_line(), m.rtcp(), m.mid(), m.ptime(), m.maxptime());
        let _ = m.rtpmaps().count() + m.ssrcs().count() + m.rtcp_fbs(111).count();
        let _ = m.fmtp(111);
        // Printed typed values must parse again.
        for c in v.candidates().into_iter().flatten() {
            assert!(wacall::sdp::Candidate::parse(&c.to_string()).is_ok());
        }
        for c in v.cryptos().into_iter().flatten() {
            assert!(wacall::sdp::Crypto::parse(&c.to_sdp_value()).is_ok());
        }
    }
    // Editing never panics and keeps the document parseable.
    let mut sdp = sdp;
    let eol = sdp.line_ending();
    if let Some(m) = sdp.media_mut().first_mut() {
        let _ = m.set_port(1234);
        m.set_attribute("rtcp-mux", None, eol);
        m.remove_attribute("candidate");
    }
    sdp.remove_attribute("ice-lite");
    let text = sdp.to_string();
    assert!(Sdp::parse(&text).is_ok(), "edited SDP must stay parseable");
});
