//! ICE pair tests with a fake clock: our controlling agent against an ice-lite responder (Meta's behaviour) and
//! against another full agent (baresip's behaviour: both controlling, conflict resolved by tie-breaker).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use wacall::media::ice::{IceAgent, IceEvent, IceLiteResponder, IceState, RemoteCandidate};
use wacall::media::{IceCredentials, RemoteIce};

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

struct LitePeer {
    responder: IceLiteResponder,
    addrs: Vec<SocketAddr>,
}

fn setup() -> (IceAgent, LitePeer, Instant) {
    let now = Instant::now();
    let ours = IceCredentials::random();
    let theirs = IceCredentials::random();
    let mut agent = IceAgent::new(ours, true, 42);
    agent.add_local_candidate(a("127.0.0.1:10000"));
    agent.add_local_candidate(a("[::1]:10000"));
    let peer = LitePeer {
        responder: IceLiteResponder::new(theirs.clone()),
        addrs: vec![a("127.0.0.2:3480"), a("[::1]:3480")],
    };
    agent.set_remote(
        now,
        RemoteIce {
            credentials: theirs,
            candidates: vec![
                RemoteCandidate {
                    addr: peer.addrs[0],
                    priority: 2122260223,
                },
                RemoteCandidate {
                    addr: peer.addrs[1],
                    priority: 2122262783,
                },
            ],
            lite: true,
        },
    );
    (agent, peer, now)
}

/// Runs the agent against the peer until `until` (fake time), dropping datagrams for which `lose` says so.
fn run(
    agent: &mut IceAgent,
    peer: &mut LitePeer,
    now: &mut Instant,
    until: Instant,
    mut lose: impl FnMut(usize) -> bool,
    events: &mut Vec<IceEvent>,
) -> usize {
    let mut sent = 0;
    loop {
        agent.handle_timeout(*now);
        while let Some(t) = agent.poll_transmit() {
            sent += 1;
            if lose(sent) || !peer.addrs.contains(&t.remote) {
                continue;
            }
            if let Some(resp) = peer.responder.handle(t.local, &t.data) {
                assert!(agent.handle_stun(*now, t.local, t.remote, &resp));
            }
        }
        while let Some(e) = agent.poll_event() {
            events.push(e);
        }
        let next = match agent.poll_timeout() {
            Some(t) => t.max(*now + Duration::from_millis(1)),
            None => break,
        };
        if next > until {
            *now = until;
            break;
        }
        *now = next;
    }
    sent
}

#[test]
fn nominates_against_ice_lite() {
    let (mut agent, mut peer, mut now) = setup();
    let mut ev = Vec::new();
    let start = now;
    run(
        &mut agent,
        &mut peer,
        &mut now,
        start + Duration::from_secs(2),
        |_| false,
        &mut ev,
    );
    assert_eq!(agent.state(), IceState::Connected);
    let (l, r) = agent.selected().unwrap();
    // RFC 8445 pair priority: min(G, D) dominates, and Meta ranks its IPv6 candidate higher (as in the seed).
    assert_eq!((l, r), (a("[::1]:10000"), a("[::1]:3480")));
    assert_eq!(
        peer.responder.nominated,
        Some(a("[::1]:10000")),
        "USE-CANDIDATE seen by the lite peer"
    );
    assert!(ev.contains(&IceEvent::Connected {
        local: l,
        remote: r
    }));
}

#[test]
fn retransmits_on_loss() {
    let (mut agent, mut peer, mut now) = setup();
    let mut ev = Vec::new();
    let start = now;
    // Lose the first four datagrams (both first checks and their first retransmissions).
    run(
        &mut agent,
        &mut peer,
        &mut now,
        start + Duration::from_secs(5),
        |n| n <= 4,
        &mut ev,
    );
    assert_eq!(agent.state(), IceState::Connected);
    assert!(ev.iter().any(|e| matches!(e, IceEvent::Connected { .. })));
}

#[test]
fn fails_when_nothing_answers() {
    let (mut agent, mut peer, mut now) = setup();
    let mut ev = Vec::new();
    let start = now;
    run(
        &mut agent,
        &mut peer,
        &mut now,
        start + Duration::from_secs(60),
        |_| true,
        &mut ev,
    );
    assert_eq!(agent.state(), IceState::Failed);
    assert!(ev.contains(&IceEvent::Failed));
}

#[test]
fn consent_kept_then_lost() {
    let (mut agent, mut peer, mut now) = setup();
    let mut ev = Vec::new();
    let start = now;
    run(
        &mut agent,
        &mut peer,
        &mut now,
        start + Duration::from_secs(2),
        |_| false,
        &mut ev,
    );
    assert_eq!(agent.state(), IceState::Connected);
    // A minute with answers: consent checks every ~5 s keep it.
    let sent = run(
        &mut agent,
        &mut peer,
        &mut now,
        start + Duration::from_secs(62),
        |_| false,
        &mut ev,
    );
    assert!(
        (9..=16).contains(&sent),
        "about one consent check per 5 s, got {sent}"
    );
    assert_eq!(agent.state(), IceState::Connected);
    // The peer goes away: consent lost after 30 s.
    let t0 = now;
    run(
        &mut agent,
        &mut peer,
        &mut now,
        t0 + Duration::from_secs(40),
        |_| true,
        &mut ev,
    );
    assert_eq!(agent.state(), IceState::Failed);
    assert!(ev.contains(&IceEvent::ConsentLost));
    assert!(now >= t0 + Duration::from_secs(25));
}

#[test]
fn role_conflict_487_from_peer_switches_role() {
    let (mut agent, mut peer, mut now) = setup();
    // The peer claims to be controlling with a larger tie-breaker: it answers 487.
    peer.responder.conflict_tie_breaker = Some(u64::MAX);
    let mut ev = Vec::new();
    let start = now;
    run(
        &mut agent,
        &mut peer,
        &mut now,
        start + Duration::from_secs(1),
        |_| false,
        &mut ev,
    );
    assert!(ev.contains(&IceEvent::RoleChanged { controlling: false }));
    assert!(!agent.is_controlling());
}

/// Two full agents, both starting controlling (like wacall vs baresip): the tie-breaker decides, one pair is
/// nominated, both agree on it.
#[test]
fn full_vs_full_conflict_resolves() {
    let mut now = Instant::now();
    let (ca, cb) = (IceCredentials::random(), IceCredentials::random());
    let (la, lb) = (a("127.0.0.1:10000"), a("127.0.0.3:20000"));
    let mut x = IceAgent::new(ca.clone(), true, 10);
    let mut y = IceAgent::new(cb.clone(), true, 20);
    x.add_local_candidate(la);
    y.add_local_candidate(lb);
    x.set_remote(
        now,
        RemoteIce {
            credentials: cb,
            candidates: vec![RemoteCandidate {
                addr: lb,
                priority: 2130706431,
            }],
            lite: false,
        },
    );
    y.set_remote(
        now,
        RemoteIce {
            credentials: ca,
            candidates: vec![RemoteCandidate {
                addr: la,
                priority: 2130706431,
            }],
            lite: false,
        },
    );
    let mut evx = Vec::new();
    let mut evy = Vec::new();
    let end = now + Duration::from_secs(5);
    while now < end {
        x.handle_timeout(now);
        y.handle_timeout(now);
        for _ in 0..10 {
            let mut moved = false;
            while let Some(t) = x.poll_transmit() {
                moved = true;
                y.handle_stun(now, t.remote, t.local, &t.data);
            }
            while let Some(t) = y.poll_transmit() {
                moved = true;
                x.handle_stun(now, t.remote, t.local, &t.data);
            }
            if !moved {
                break;
            }
        }
        evx.extend(std::iter::from_fn(|| x.poll_event()));
        evy.extend(std::iter::from_fn(|| y.poll_event()));
        if x.state() == IceState::Connected && y.state() == IceState::Connected {
            break;
        }
        let next = [x.poll_timeout(), y.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(end);
        now = next.max(now + Duration::from_millis(1));
    }
    assert_eq!(x.state(), IceState::Connected, "{evx:?}");
    assert_eq!(y.state(), IceState::Connected, "{evy:?}");
    // y has the larger tie-breaker and stays controlling; x yields.
    assert!(y.is_controlling());
    assert!(!x.is_controlling());
    assert_eq!(x.selected(), Some((la, lb)));
    assert_eq!(y.selected(), Some((lb, la)));
}
