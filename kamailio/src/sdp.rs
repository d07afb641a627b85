//! Where SDP mapping gets its media addresses and credentials: a `MediaAllocator` yields the core's
//! `MediaAllocation`. Until the relay lands, `ConfiguredAllocator` derives them from modparams (a placeholder
//! allocation); the relay's control client will implement the same trait.

use std::net::{IpAddr, SocketAddr};

use wacall::sdp::MediaAllocation;

/// The source of media allocations for a call (keyed by Call-ID so a request and its reply agree).
pub trait MediaAllocator {
    fn allocate(&self, call_id: &str) -> Result<MediaAllocation, wacall::Error>;
}

/// Placeholder allocation: the configured address and a port pair derived from the Call-ID (no sockets are
/// opened; media does not flow until the relay provides real ones).
pub struct ConfiguredAllocator {
    pub address: IpAddr,
    pub advertised: Option<IpAddr>,
    pub ports: (u16, u16),
}

impl ConfiguredAllocator {
    /// The Meta-side and PBX-side ports for a call.
    pub fn ports_for(&self, call_id: &str) -> (u16, u16) {
        let span = u32::from(self.ports.1.saturating_sub(self.ports.0)) + 1;
        let pairs = (span / 4).max(1);
        let h = call_id.bytes().fold(2166136261u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(16777619)
        });
        let base = u32::from(self.ports.0) + (h % pairs) * 4;
        let clamp = |p: u32| u16::try_from(p.min(u32::from(self.ports.1))).unwrap_or(self.ports.0);
        (clamp(base), clamp(base + 2))
    }
}

impl MediaAllocator for ConfiguredAllocator {
    fn allocate(&self, call_id: &str) -> Result<MediaAllocation, wacall::Error> {
        let (mp, pp) = self.ports_for(call_id);
        let (ufrag, pwd) = wacall::sdp::map::generate_ice_credentials()?;
        let mut a = MediaAllocation::new(
            SocketAddr::new(self.address, mp),
            SocketAddr::new(self.address, pp),
            ufrag,
            pwd,
            placeholder_fingerprint(),
        );
        if let Some(adv) = self.advertised {
            a.meta_advertised = vec![SocketAddr::new(adv, mp)];
            a.pbx_advertised = Some(SocketAddr::new(adv, pp));
        }
        Ok(a)
    }
}

/// A random sha-256-sized fingerprint: stands in for the relay's DTLS certificate until the relay lands.
fn placeholder_fingerprint() -> String {
    let mut b = [0u8; 32];
    if getrandom::fill(&mut b).is_err() {
        log::error!("getrandom failed");
    }
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_stable_per_call_and_in_range() {
        let a = ConfiguredAllocator {
            address: "127.0.0.1".parse().unwrap(),
            advertised: None,
            ports: (40000, 40999),
        };
        let (m, p) = a.ports_for("abc");
        assert_eq!((m, p), a.ports_for("abc"));
        assert_eq!(p, m + 2);
        assert!((40000..=40999).contains(&m));
        let x = a.allocate("abc").unwrap();
        assert_eq!(x.meta_side.port(), m);
    }
}
