//! Where SDP mapping gets its media addresses and credentials: a `MediaAllocator` opens a relay call and yields
//! its allocation (real sockets, ICE credentials, DTLS fingerprint), which `relay::plan` converts for the mapper.

use wacall::relay::{Allocation, ErrorCode, LegConfig};

/// The source of media allocations for a call (keyed by Call-ID + From tag so a request and its reply agree);
/// `wacall::relay::plan::media_allocation` turns a relay allocation into what SDP mapping writes.
pub trait MediaAllocator {
    type Allocation;
    type Error;
    fn allocate(&self, key: &str) -> Result<Self::Allocation, Self::Error>;
}

/// Allocations from the relay process over its control socket.
pub struct RelayAllocator {
    pub meta: LegConfig,
    pub pbx: LegConfig,
}

impl MediaAllocator for RelayAllocator {
    type Allocation = Allocation;
    type Error = wacall::relay::Error;

    fn allocate(&self, key: &str) -> Result<Allocation, wacall::relay::Error> {
        crate::relay::with_client(
            |c| match c.allocate(key, self.meta.clone(), self.pbx.clone()) {
                // A call of that key is still up (an INVITE retried after a failure): start it afresh.
                Err(wacall::relay::Error::Remote {
                    code: ErrorCode::Exists,
                    ..
                }) => {
                    let _ = c.delete(key);
                    c.allocate(key, self.meta.clone(), self.pbx.clone())
                }
                r => r,
            },
        )
    }
}
