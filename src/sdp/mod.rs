//! SDP for wacall: a lossless parser/printer with typed access (`parse`, `model`, `attr`, `crypto`) and the
//! offer/answer mapping between Meta's DTLS/ICE (or SDES) media and the PBX's SDES or plain RTP media (`map`).
//!
//! Everything here is sans-IO and allocation-light: the relay hands in addresses and credentials
//! ([`MediaAllocation`]), gets SDP text back plus a typed [`CallPlan`] that tells it how to run each leg.
//!
//! ```
//! use wacall::sdp::Sdp;
//! let text = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
//! let sdp = Sdp::parse(text).unwrap();
//! assert_eq!(sdp.media().len(), 1);
//! assert_eq!(sdp.to_string(), text); // lossless
//! ```

#![warn(missing_docs)]

pub mod attr;
pub mod crypto;
pub mod map;
pub mod model;
pub mod parse;

pub use attr::{
    AddrType, Attribute, Candidate, CandidateType, Connection, Direction, Fingerprint, Group,
    HashFunc, MediaLine, Origin, Rtcp, RtcpFb, RtpMap, Setup, Ssrc, Timing,
};
pub use crypto::{Crypto, CryptoSuite, KeyParam, Mki, SrtpMasterKey};
pub use map::{
    generate_ice_credentials, meta_answer_to_pbx, meta_offer_to_pbx, pbx_answer_to_meta,
    pbx_offer_to_meta, CallPlan, DtlsParams, DtlsRole, IceParams, LegPlan, LegSecurity, MapConfig,
    Mapped, MediaAllocation, MetaMedia, PayloadTypes, PbxMedia, SdesKeys,
};
pub use model::{Line, LineEnding, Media, MediaView, Sdp};
pub use parse::{MAX_LINES, MAX_LINE_LEN, MAX_MEDIA, MAX_SDP_LEN};

/// Errors of the sdp layer.
///
/// Messages never contain key material: a malformed `a=crypto` line is reported by tag and reason only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Generic invalid input (kept for callers that only need a message).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The SDP body exceeds [`MAX_SDP_LEN`] bytes.
    #[error("SDP too large: {len} bytes (limit {max})")]
    TooLarge {
        /// Size of the input.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The SDP has more than [`MAX_LINES`] lines or [`MAX_MEDIA`] media sections.
    #[error("SDP has too many {what} (limit {max})")]
    TooMany {
        /// "lines" or "media sections".
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// The input bytes are not UTF-8.
    #[error("SDP is not valid UTF-8")]
    NotUtf8,
    /// A line is syntactically wrong (1-based line number).
    #[error("SDP line {line}: {reason}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A typed field could not be read from a line (e.g. a bad `m=` port, a bad candidate).
    #[error("bad {field}: {reason}")]
    Field {
        /// Which line or attribute (`m=`, `c=`, `a=candidate`, ...).
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// Something the mapping needs is absent (e.g. no audio section, no opus).
    #[error("missing {0}")]
    Missing(&'static str),
    /// The input uses something wacall does not map (e.g. a transport profile).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The operating system's random source failed.
    #[error("random source failed")]
    Random,
    /// The caller's allocation or configuration is unusable.
    #[error("bad allocation/config: {0}")]
    Config(&'static str),
}

/// Result of the sdp layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;
