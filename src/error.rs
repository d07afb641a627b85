//! The crate-wide error: one variant per layer, each wrapping that layer's own typed error.
//! Host adapters turn it into a host error code only at the edge.

/// Any error wacall can report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("sip: {0}")]
    Sip(#[from] crate::sip::Error),
    #[error("digest: {0}")]
    Digest(#[from] crate::digest::Error),
    #[error("sdp: {0}")]
    Sdp(#[from] crate::sdp::Error),
    #[error("media: {0}")]
    Media(#[from] crate::media::Error),
    #[error("relay: {0}")]
    Relay(#[from] crate::relay::Error),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
