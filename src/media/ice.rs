//! A full ICE agent (RFC 8445), controlling role with regular nomination, made for Meta's ice-lite peer; it also
//! answers the peer's checks (full-ICE peers such as baresip) and keeps consent fresh (RFC 7675).

use std::fmt;
use std::net::SocketAddr;

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
