//! A full ICE agent (RFC 8445), controlling role with regular nomination, made for Meta's ice-lite peer; it also
//! answers the peer's checks (full-ICE peers such as baresip) and keeps consent fresh (RFC 7675).

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::media::stun::{self, Class, Message, Writer};

/// ICE username fragment and password (`a=ice-ufrag`, `a=ice-pwd`). The password never appears in Debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct IceCredentials {
    pub ufrag: String,
    pub pwd: String,
}

impl fmt::Debug for IceCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IceCredentials")
            .field("ufrag", &self.ufrag)
            .finish_non_exhaustive()
    }
}

const ICE_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

impl IceCredentials {
    /// Random credentials: 8-character ufrag, 24-character password (RFC 8445 minimums are 4 and 22).
    pub fn random() -> Self {
        Self {
            ufrag: random_ice_string(8),
            pwd: random_ice_string(24),
        }
    }
}

fn random_ice_string(n: usize) -> String {
    let mut b = vec![0u8; n];
    // Failure of the system RNG is not recoverable in any useful way; a constant fallback would be worse than
    // a visible all-'A' string, which still works (ICE passwords are not the security boundary, DTLS is).
    let _ = openssl::rand::rand_bytes(&mut b);
    b.iter()
        .map(|x| ICE_CHARS[(*x as usize) % ICE_CHARS.len()] as char)
        .collect()
}

/// One remote candidate (only host/srflx/relay addresses matter to us: we pair by address family).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteCandidate {
    pub addr: SocketAddr,
    /// The candidate's priority from `a=candidate`.
    pub priority: u32,
}

/// The peer's ICE parameters from its SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteIce {
    pub credentials: IceCredentials,
    pub candidates: Vec<RemoteCandidate>,
    /// `a=ice-lite` (Meta): the peer never sends checks, we must nominate.
    pub lite: bool,
}

/// Pacing between new checks (RFC 8445 14.2: Ta, 50 ms).
pub const TA: Duration = Duration::from_millis(50);
/// Initial retransmission timeout of a check (RFC 8445 14.3: at least 500 ms).
pub const RTO_MIN: Duration = Duration::from_millis(500);
/// Transmissions of one check before the pair fails (RFC 5389 Rc = 7). Intervals double from RTO and are capped
/// at [`RTO_MAX`] so a lossy start does not wait for tens of seconds between tries.
pub const MAX_TRANSMISSIONS: u32 = 7;
/// Largest interval between retransmissions.
pub const RTO_MAX: Duration = Duration::from_millis(3200);
/// Consent freshness (RFC 7675): a check on the selected pair about every 5 s, consent lost after 30 s without a
/// response.
pub const CONSENT_INTERVAL: Duration = Duration::from_secs(5);
pub const CONSENT_TIMEOUT: Duration = Duration::from_secs(30);
/// After the first pair succeeds, wait this long for better pairs before nominating (regular nomination).
pub const NOMINATION_DELAY: Duration = Duration::from_millis(200);

/// What the agent reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IceEvent {
    /// A pair was nominated (by us or, when controlled, by the peer): media goes from `local` to `remote`.
    Connected {
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// Every pair failed.
    Failed,
    /// No response to consent checks for 30 s.
    ConsentLost,
    /// Role changed after a conflict.
    RoleChanged { controlling: bool },
}

/// Agent state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceState {
    /// No remote parameters yet.
    New,
    Checking,
    Connected,
    Failed,
}

/// A STUN datagram the agent wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceTransmit {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PairState {
    Waiting,
    InProgress,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone)]
struct Pair {
    local: SocketAddr,
    remote: SocketAddr,
    remote_priority: u32,
    state: PairState,
    /// Transaction of the check in flight, if any.
    txid: Option<[u8; 12]>,
    transmissions: u32,
    next_retransmit: Option<Instant>,
    rto: Duration,
    /// The check in flight carries USE-CANDIDATE.
    nominating: bool,
    nominated: bool,
    /// Controlled role: the peer sent USE-CANDIDATE on this pair.
    peer_nominated: bool,
}

impl Pair {
    fn new(local: SocketAddr, remote: SocketAddr, remote_priority: u32) -> Self {
        Self {
            local,
            remote,
            remote_priority,
            state: PairState::Waiting,
            txid: None,
            transmissions: 0,
            next_retransmit: None,
            rto: RTO_MIN,
            nominating: false,
            nominated: false,
            peer_nominated: false,
        }
    }
}

/// A full ICE agent for one component (rtcp-mux), host candidates only.
pub struct IceAgent {
    local: IceCredentials,
    remote: Option<RemoteIce>,
    controlling: bool,
    tie_breaker: u64,
    locals: Vec<SocketAddr>,
    pairs: Vec<Pair>,
    /// Pairs with a triggered check pending (front first).
    triggered: VecDeque<usize>,
    state: IceState,
    selected: Option<usize>,
    next_check: Option<Instant>,
    first_success: Option<Instant>,
    /// Consent: last response on the selected pair and when the next consent check is due.
    consent_last: Option<Instant>,
    consent_next: Option<Instant>,
    consent_txid: Option<[u8; 12]>,
    transmits: VecDeque<IceTransmit>,
    events: VecDeque<IceEvent>,
}

impl fmt::Debug for IceAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IceAgent")
            .field("state", &self.state)
            .field("controlling", &self.controlling)
            .field("pairs", &self.pairs.len())
            .field("selected", &self.selected())
            .finish_non_exhaustive()
    }
}

fn local_priority(addr: &SocketAddr, peer_reflexive: bool) -> u32 {
    let type_pref: u32 = if peer_reflexive { 110 } else { 126 };
    // Prefer IPv4: Meta offers both and IPv4 paths are the more common in SIP deployments.
    let local_pref: u32 = if addr.is_ipv4() { 65535 } else { 65534 };
    (type_pref << 24) | (local_pref << 8) | 255
}

fn pair_priority(controlling: bool, local: u32, remote: u32) -> u64 {
    let (g, d) = if controlling {
        (local as u64, remote as u64)
    } else {
        (remote as u64, local as u64)
    };
    (1u64 << 32) * g.min(d) + 2 * g.max(d) + u64::from(g > d)
}

impl IceAgent {
    /// A new agent with our credentials. `controlling` is true toward Meta; `tie_breaker` should be random.
    pub fn new(local: IceCredentials, controlling: bool, tie_breaker: u64) -> Self {
        Self {
            local,
            remote: None,
            controlling,
            tie_breaker,
            locals: Vec::new(),
            pairs: Vec::new(),
            triggered: VecDeque::new(),
            state: IceState::New,
            selected: None,
            next_check: None,
            first_success: None,
            consent_last: None,
            consent_next: None,
            consent_txid: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// A random tie-breaker.
    pub fn random_tie_breaker() -> u64 {
        let mut b = [0u8; 8];
        let _ = openssl::rand::rand_bytes(&mut b);
        u64::from_be_bytes(b)
    }

    /// Adds a host candidate (a local socket address).
    pub fn add_local_candidate(&mut self, addr: SocketAddr) {
        if !self.locals.contains(&addr) {
            self.locals.push(addr);
            if self.remote.is_some() {
                self.form_pairs();
            }
        }
    }

    /// Sets the peer's parameters and starts checking.
    pub fn set_remote(&mut self, now: Instant, remote: RemoteIce) {
        if remote.lite {
            // An ice-lite peer is always controlled (RFC 8445 6.1.1).
            self.controlling = true;
        }
        self.remote = Some(remote);
        self.form_pairs();
        if self.state == IceState::New {
            self.state = IceState::Checking;
            self.next_check = Some(now);
        }
    }

    fn form_pairs(&mut self) {
        let Some(remote) = &self.remote else { return };
        for l in &self.locals {
            for rc in &remote.candidates {
                // Pair only within an address family (and never with an unspecified address).
                if l.is_ipv4() != rc.addr.is_ipv4()
                    || rc.addr.ip().is_unspecified()
                    || rc.addr.port() == 0
                {
                    continue;
                }
                if self
                    .pairs
                    .iter()
                    .any(|p| p.local == *l && p.remote == rc.addr)
                {
                    continue;
                }
                self.pairs.push(Pair::new(*l, rc.addr, rc.priority));
            }
        }
        self.sort_pairs();
    }

    fn prio(&self, p: &Pair) -> u64 {
        pair_priority(
            self.controlling,
            local_priority(&p.local, false),
            p.remote_priority,
        )
    }

    fn sort_pairs(&mut self) {
        // Keep indices stable for `selected`/`triggered`: sort only while nothing refers to positions.
        if self.selected.is_none() && self.triggered.is_empty() {
            let controlling = self.controlling;
            self.pairs.sort_by_key(|p| {
                std::cmp::Reverse(pair_priority(
                    controlling,
                    local_priority(&p.local, false),
                    p.remote_priority,
                ))
            });
        }
    }

    /// Current state.
    pub fn state(&self) -> IceState {
        self.state
    }

    /// Our role.
    pub fn is_controlling(&self) -> bool {
        self.controlling
    }

    /// The nominated pair (local, remote).
    pub fn selected(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.selected
            .and_then(|i| self.pairs.get(i))
            .map(|p| (p.local, p.remote))
    }

    /// Next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<IceTransmit> {
        self.transmits.pop_front()
    }

    /// Next event.
    pub fn poll_event(&mut self) -> Option<IceEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` should run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == IceState::Failed {
            return None;
        }
        let mut t: Option<Instant> = None;
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |y| y.min(x)));
            }
        };
        if self.state == IceState::Checking {
            let has_work = !self.triggered.is_empty()
                || self.pairs.iter().any(|p| p.state == PairState::Waiting);
            if has_work {
                consider(self.next_check);
            }
            if let Some(f) = self.first_success {
                if self.controlling && !self.pairs.iter().any(|p| p.nominating || p.nominated) {
                    consider(Some(f + NOMINATION_DELAY));
                }
            }
        }
        for p in &self.pairs {
            consider(p.next_retransmit);
        }
        if self.state == IceState::Connected {
            consider(self.consent_next);
            consider(self.consent_last.map(|l| l + CONSENT_TIMEOUT));
        }
        t
    }

    fn check_request(&self, pair: &Pair, txid: &[u8; 12], nominate: bool) -> Option<Vec<u8>> {
        let remote = self.remote.as_ref()?;
        let user = format!("{}:{}", remote.credentials.ufrag, self.local.ufrag);
        let mut w = Writer::new(Class::Request, txid)
            .username(&user)
            .priority(local_priority(&pair.local, true));
        w = if self.controlling {
            w.ice_controlling(self.tie_breaker)
        } else {
            w.ice_controlled(self.tie_breaker)
        };
        if nominate {
            w = w.use_candidate();
        }
        Some(
            w.integrity(remote.credentials.pwd.as_bytes())
                .fingerprint()
                .finish(),
        )
    }

    fn send_check(&mut self, now: Instant, i: usize, nominate: bool) {
        let txid = stun::new_transaction_id();
        let Some(data) = self.check_request(&self.pairs[i], &txid, nominate) else {
            return;
        };
        let active = self
            .pairs
            .iter()
            .filter(|p| matches!(p.state, PairState::Waiting | PairState::InProgress))
            .count();
        let p = &mut self.pairs[i];
        p.txid = Some(txid);
        p.transmissions = 1;
        p.nominating = nominate;
        p.rto = RTO_MIN.max(TA * active as u32);
        p.next_retransmit = Some(now + p.rto);
        if p.state != PairState::Succeeded {
            p.state = PairState::InProgress;
        }
        self.transmits.push_back(IceTransmit {
            local: p.local,
            remote: p.remote,
            data,
        });
    }

    /// Runs timers: paced checks, retransmissions, nomination, consent.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == IceState::Failed || self.remote.is_none() {
            return;
        }
        // Retransmissions.
        for i in 0..self.pairs.len() {
            let due = self.pairs[i].next_retransmit.is_some_and(|t| now >= t);
            if !due {
                continue;
            }
            if self.pairs[i].transmissions >= MAX_TRANSMISSIONS {
                let p = &mut self.pairs[i];
                p.next_retransmit = None;
                p.txid = None;
                if p.state == PairState::InProgress {
                    p.state = PairState::Failed;
                }
                p.nominating = false;
                continue;
            }
            let Some(txid) = self.pairs[i].txid else {
                continue;
            };
            let nominate = self.pairs[i].nominating;
            let Some(data) = self.check_request(&self.pairs[i], &txid, nominate) else {
                continue;
            };
            let p = &mut self.pairs[i];
            p.transmissions += 1;
            p.rto = (p.rto * 2).min(RTO_MAX);
            p.next_retransmit = Some(now + p.rto);
            self.transmits.push_back(IceTransmit {
                local: p.local,
                remote: p.remote,
                data,
            });
        }
        if self.state == IceState::Checking {
            // One new (triggered first, then ordinary) check per Ta.
            if self.next_check.is_some_and(|t| now >= t) {
                let next = self.triggered.pop_front().or_else(|| {
                    self.pairs
                        .iter()
                        .position(|p| p.state == PairState::Waiting)
                });
                if let Some(i) = next {
                    self.send_check(now, i, false);
                    self.next_check = Some(now + TA);
                }
            }
            self.maybe_nominate(now);
            // No pair at all (e.g. the peer offers only IPv6 and we have only IPv4) fails at once against an
            // ice-lite peer, which will never send a check that could create a peer-reflexive pair.
            let lite = self.remote.as_ref().is_some_and(|r| r.lite);
            if (self.pairs.is_empty() && lite)
                || (!self.pairs.is_empty()
                    && self.pairs.iter().all(|p| p.state == PairState::Failed))
            {
                self.state = IceState::Failed;
                self.events.push_back(IceEvent::Failed);
            }
        }
        if self.state == IceState::Connected {
            if self
                .consent_last
                .is_some_and(|l| now >= l + CONSENT_TIMEOUT)
            {
                self.state = IceState::Failed;
                self.events.push_back(IceEvent::ConsentLost);
                return;
            }
            if self.consent_next.is_some_and(|t| now >= t) {
                if let Some(i) = self.selected {
                    let txid = stun::new_transaction_id();
                    if let Some(data) = self.check_request(&self.pairs[i], &txid, false) {
                        let p = &self.pairs[i];
                        self.transmits.push_back(IceTransmit {
                            local: p.local,
                            remote: p.remote,
                            data,
                        });
                        self.consent_txid = Some(txid);
                    }
                }
                // RFC 7675 5.1: randomise the interval (here +-20%) so many calls do not beat in phase.
                let mut r = [0u8; 1];
                let _ = openssl::rand::rand_bytes(&mut r);
                let jitter_ms = (r[0] as u64 * 2000 / 255) as i64 - 1000;
                let next = CONSENT_INTERVAL.as_millis() as i64 + jitter_ms;
                self.consent_next = Some(now + Duration::from_millis(next.max(1000) as u64));
            }
        }
    }

    fn maybe_nominate(&mut self, now: Instant) {
        if !self.controlling || self.pairs.iter().any(|p| p.nominating || p.nominated) {
            return;
        }
        let Some(first) = self.first_success else {
            return;
        };
        let best = (0..self.pairs.len())
            .filter(|&i| self.pairs[i].state == PairState::Succeeded)
            .max_by_key(|&i| self.prio(&self.pairs[i]));
        let Some(best) = best else { return };
        let best_prio = self.prio(&self.pairs[best]);
        let better_pending = self.pairs.iter().any(|p| {
            matches!(p.state, PairState::Waiting | PairState::InProgress)
                && self.prio(p) > best_prio
        });
        if !better_pending || now >= first + NOMINATION_DELAY {
            self.send_check(now, best, true);
        }
    }

    /// Handles a STUN datagram that arrived on `local` from `from`. Returns false if it was not acceptable STUN
    /// (malformed, wrong credentials, unknown transaction): the caller counts it.
    pub fn handle_stun(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        buf: &[u8],
    ) -> bool {
        let Ok(msg) = Message::parse(buf) else {
            return false;
        };
        if msg.method != stun::BINDING {
            return false;
        }
        match msg.class {
            Class::Request => self.on_request(now, local, from, &msg),
            Class::Success | Class::Error => self.on_response(now, local, from, &msg),
            Class::Indication => true,
        }
    }

    fn on_request(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message<'_>,
    ) -> bool {
        // USERNAME must be "<our ufrag>:<their ufrag>" and the integrity keyed with our password.
        let Some(user) = msg.username else {
            return false;
        };
        let ours = self.local.ufrag.as_bytes();
        if user.len() <= ours.len() || &user[..ours.len()] != ours || user[ours.len()] != b':' {
            return false;
        }
        if !msg.verify_integrity(self.local.pwd.as_bytes()) {
            return false;
        }
        // Role conflict (RFC 8445 7.3.1.1).
        let lite_peer = self.remote.as_ref().is_some_and(|r| r.lite);
        if self.controlling {
            if let Some(theirs) = msg.ice_controlling {
                if self.tie_breaker >= theirs || lite_peer {
                    self.respond_error(local, from, msg, 487);
                    return true;
                }
                self.switch_role(false);
            }
        } else if let Some(theirs) = msg.ice_controlled {
            if self.tie_breaker >= theirs {
                self.switch_role(true);
            } else {
                self.respond_error(local, from, msg, 487);
                return true;
            }
        }
        let resp = Writer::new(Class::Success, &msg.transaction_id)
            .xor_mapped_address(from)
            .integrity(self.local.pwd.as_bytes())
            .fingerprint()
            .finish();
        self.transmits.push_back(IceTransmit {
            local,
            remote: from,
            data: resp,
        });
        // Triggered check; a peer-reflexive remote candidate if the source is new (RFC 8445 7.3.1.3/4).
        if self.remote.is_none() || !self.locals.contains(&local) {
            return true;
        }
        let i = match self
            .pairs
            .iter()
            .position(|p| p.local == local && p.remote == from)
        {
            Some(i) => i,
            None => {
                if self.pairs.len() >= 64 {
                    return true;
                }
                self.pairs
                    .push(Pair::new(local, from, msg.priority.unwrap_or(0)));
                self.pairs.len() - 1
            }
        };
        if msg.use_candidate && !self.controlling {
            self.pairs[i].peer_nominated = true;
            if self.pairs[i].state == PairState::Succeeded {
                self.select(now, i);
            }
        }
        if matches!(self.pairs[i].state, PairState::Waiting | PairState::Failed)
            && !self.triggered.contains(&i)
        {
            self.pairs[i].state = PairState::Waiting;
            self.triggered.push_back(i);
            if self.state == IceState::Failed {
                return true;
            }
            if self.state == IceState::New {
                self.state = IceState::Checking;
            }
            if self.next_check.is_none_or(|t| t > now) && self.state == IceState::Checking {
                // Send the triggered check without waiting for the whole Ta when nothing went out recently.
                self.next_check = Some(self.next_check.map_or(now, |t| t.min(now + TA)));
            }
        }
        true
    }

    fn respond_error(&mut self, local: SocketAddr, from: SocketAddr, msg: &Message<'_>, code: u16) {
        let resp = Writer::new(Class::Error, &msg.transaction_id)
            .error_code(code, "Role Conflict")
            .integrity(self.local.pwd.as_bytes())
            .fingerprint()
            .finish();
        self.transmits.push_back(IceTransmit {
            local,
            remote: from,
            data: resp,
        });
    }

    fn switch_role(&mut self, controlling: bool) {
        if self.controlling != controlling {
            self.controlling = controlling;
            self.events.push_back(IceEvent::RoleChanged { controlling });
            for p in &mut self.pairs {
                p.nominating = false;
            }
        }
    }

    fn on_response(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message<'_>,
    ) -> bool {
        let Some(remote) = &self.remote else {
            return false;
        };
        if !msg.verify_integrity(remote.credentials.pwd.as_bytes()) {
            return false;
        }
        if self.consent_txid == Some(msg.transaction_id) {
            if msg.class == Class::Success {
                self.consent_last = Some(now);
            }
            self.consent_txid = None;
            return true;
        }
        let Some(i) = self
            .pairs
            .iter()
            .position(|p| p.txid == Some(msg.transaction_id))
        else {
            return false;
        };
        // Responses must come back symmetrically (RFC 8445 7.2.5.2.1).
        if self.pairs[i].remote != from || self.pairs[i].local != local {
            self.pairs[i].state = PairState::Failed;
            self.pairs[i].txid = None;
            self.pairs[i].next_retransmit = None;
            return true;
        }
        let p = &mut self.pairs[i];
        p.txid = None;
        p.next_retransmit = None;
        if msg.class == Class::Error {
            if msg.error_code.map(|e| e.0) == Some(487) {
                // The peer says we are in the wrong role: switch and re-check (RFC 8445 7.2.5.1).
                let was_nominating = p.nominating;
                p.state = PairState::Waiting;
                let to = !self.controlling;
                self.switch_role(to);
                let _ = was_nominating;
                self.triggered.push_back(i);
                self.next_check = Some(now);
            } else {
                p.state = PairState::Failed;
            }
            return true;
        }
        p.state = PairState::Succeeded;
        if p.nominating {
            p.nominating = false;
            p.nominated = true;
            self.select(now, i);
        } else if !self.controlling && p.peer_nominated {
            self.select(now, i);
        }
        if self.first_success.is_none() {
            self.first_success = Some(now);
        }
        if self.state == IceState::Connected {
            // A success on the selected pair also proves consent.
            if Some(i) == self.selected {
                self.consent_last = Some(now);
            }
        } else {
            self.maybe_nominate(now);
        }
        true
    }

    fn select(&mut self, now: Instant, i: usize) {
        if self.selected == Some(i) {
            return;
        }
        self.selected = Some(i);
        self.state = IceState::Connected;
        self.consent_last = Some(now);
        self.consent_next = Some(now + CONSENT_INTERVAL);
        // Stop other checks; they are no longer needed.
        self.triggered.clear();
        for (j, p) in self.pairs.iter_mut().enumerate() {
            if j != i && p.state != PairState::Succeeded {
                p.next_retransmit = None;
                p.txid = None;
                if p.state == PairState::InProgress || p.state == PairState::Waiting {
                    p.state = PairState::Failed;
                }
            }
        }
        let p = &self.pairs[i];
        self.events.push_back(IceEvent::Connected {
            local: p.local,
            remote: p.remote,
        });
    }
}

/// A minimal ice-lite responder (what Meta is): answers checks with our credentials, never sends its own, and
/// reports which address the controlling peer nominated. Used by tests and test peers; small enough to keep here.
#[derive(Debug)]
pub struct IceLiteResponder {
    pub credentials: IceCredentials,
    /// Address the peer nominated with USE-CANDIDATE (remote address of the peer as seen by us).
    pub nominated: Option<SocketAddr>,
    /// When set, answer every check with 487 (to test role conflicts) while the requester claims controlling.
    pub conflict_tie_breaker: Option<u64>,
}

impl IceLiteResponder {
    pub fn new(credentials: IceCredentials) -> Self {
        Self {
            credentials,
            nominated: None,
            conflict_tie_breaker: None,
        }
    }

    /// Answers a check from `from`; returns the response to send back, or None for anything unacceptable.
    pub fn handle(&mut self, from: SocketAddr, buf: &[u8]) -> Option<Vec<u8>> {
        let msg = Message::parse(buf).ok()?;
        if msg.class != Class::Request || msg.method != stun::BINDING {
            return None;
        }
        let user = msg.username?;
        let ours = self.credentials.ufrag.as_bytes();
        if user.len() <= ours.len() || &user[..ours.len()] != ours || user[ours.len()] != b':' {
            return None;
        }
        if !msg.verify_integrity(self.credentials.pwd.as_bytes()) {
            return None;
        }
        if let (Some(ours), Some(theirs)) = (self.conflict_tie_breaker, msg.ice_controlling) {
            if ours >= theirs {
                return Some(
                    Writer::new(Class::Error, &msg.transaction_id)
                        .error_code(487, "Role Conflict")
                        .integrity(self.credentials.pwd.as_bytes())
                        .fingerprint()
                        .finish(),
                );
            }
        }
        if msg.use_candidate {
            self.nominated = Some(from);
        }
        Some(
            Writer::new(Class::Success, &msg.transaction_id)
                .xor_mapped_address(from)
                .integrity(self.credentials.pwd.as_bytes())
                .fingerprint()
                .finish(),
        )
    }
}
