//! The sans-IO media core: STUN/ICE, DTLS, SRTP and the two-leg call that relays audio between Meta and the PBX.
//! Nothing here opens a socket: every entry takes `now` and bytes and says what to send and when to wake. (Two
//! wall-clock reads remain, both inside OpenSSL's remit: the DTLS retransmission timer, see [`dtls`], and a new
//! certificate's validity dates.)
//!
//! Layout: [`srtp`] (SRTP contexts: libsrtp or the native [`srtp_fast`] backend), [`stun`] (messages), [`ice`]
//! (controlling agent), [`dtls`] (OpenSSL over memory BIOs), [`rtp`] (header views, RTCP, demux), [`leg`] (one side of a call), [`call`] (the two legs together),
//! [`plan`] (config from the SDP mapping's plan), [`peer`] (Meta-like and PBX test peers).
//! The relay driver (`crate::relay`) feeds a [`call::Call`] with datagrams and timeouts and sends what it returns.

pub mod call;
pub mod dtls;
pub mod ice;
pub mod leg;
pub mod peer;
pub mod plan;
pub mod rtp;
pub mod srtp;
pub mod srtp_fast;
pub mod stun;

pub use call::{
    Call, CallConfig, CallEvent, CallState, CallStats, CallTiming, FailReason, Outbox, PreKeyAudio,
    Transmit,
};
pub use dtls::{DtlsCertificate, DtlsRole, Fingerprint};
pub use ice::{IceCredentials, RemoteCandidate, RemoteIce};
pub use leg::{LegConfig, LegId, LegMode, LegStats, LocalLeg, PayloadTypes, RemoteLeg};
pub use srtp::{SrtpBackend, SrtpError, SrtpKeyMaterial, SrtpProfile};

/// Errors of the media layer (set-up and configuration; per-packet problems are counted, not returned).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("srtp: {0}")]
    Srtp(#[from] SrtpError),
    #[error("dtls: {0}")]
    Dtls(#[from] dtls::DtlsError),
    #[error("stun: {0}")]
    Stun(#[from] stun::StunError),
}
