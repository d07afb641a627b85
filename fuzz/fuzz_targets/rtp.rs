//! Fuzzes RTP/RTCP views and the call's packet path with arbitrary datagrams on both legs.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use wacall::media::call::Outbox;
use wacall::media::rtp::{classify, first_report_block, RtpHeader};
use wacall::media::{
    Call, CallConfig, CallTiming, LegConfig, LegId, LegMode, LocalLeg, RemoteLeg, SrtpKeyMaterial, SrtpProfile,
};

fuzz_target!(|data: &[u8]| {
    let _ = classify(data);
    let _ = RtpHeader::parse(data);
    let _ = first_report_block(data);

    let now = Instant::now();
    let key = SrtpKeyMaterial::new(SrtpProfile::AesCm128HmacSha1_80, &[7u8; 30]).unwrap();
    let mut meta = LocalLeg::new(LegMode::Sdes, vec!["10.0.0.1:1000".parse().unwrap()]);
    meta.sdes_key = Some(key.clone());
    let pbx = LocalLeg::new(LegMode::Plain, vec!["10.0.0.1:1002".parse().unwrap()]);
    let remote = |addr: &str, k: Option<SrtpKeyMaterial>| RemoteLeg {
        addr: Some(addr.parse().unwrap()),
        sdes_key: k,
        ..Default::default()
    };
    let Ok(mut call) = Call::new(
        now,
        CallConfig {
            meta: LegConfig { local: meta, remote: Some(remote("10.0.0.2:1000", Some(key))) },
            pbx: LegConfig { local: pbx, remote: Some(remote("10.0.0.3:1000", None)) },
            timing: CallTiming::default(),
        },
    ) else {
        return;
    };
    let mut out = Outbox::new();
    for (leg, local, from) in [
        (LegId::Meta, "10.0.0.1:1000", "10.0.0.2:1000"),
        (LegId::Pbx, "10.0.0.1:1002", "10.0.0.3:1000"),
    ] {
        let mut buf = data.to_vec();
        call.handle_input(now, leg, local.parse().unwrap(), from.parse().unwrap(), &mut buf, &mut out);
    }
    call.handle_timeout(now, &mut out);
});
