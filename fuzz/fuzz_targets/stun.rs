//! Fuzzes the STUN parser, integrity check and the ICE agent's handling of arbitrary STUN input.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use wacall::media::ice::{IceAgent, IceLiteResponder, RemoteCandidate};
use wacall::media::stun::Message;
use wacall::media::{IceCredentials, RemoteIce};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        let _ = m.verify_integrity(b"password");
    }
    let creds = IceCredentials { ufrag: "abcd".into(), pwd: "0123456789012345678901".into() };
    let now = Instant::now();
    let local = "127.0.0.1:1000".parse().unwrap();
    let remote = "127.0.0.2:2000".parse().unwrap();
    let mut agent = IceAgent::new(creds.clone(), true, 1);
    agent.add_local_candidate(local);
    agent.set_remote(
        now,
        RemoteIce { credentials: creds.clone(), candidates: vec![RemoteCandidate { addr: remote, priority: 1 }], lite: false },
    );
    let _ = agent.handle_stun(now, local, remote, data);
    agent.handle_timeout(now);
    while agent.poll_transmit().is_some() {}
    let mut lite = IceLiteResponder::new(creds);
    let _ = lite.handle(remote, data);
});
