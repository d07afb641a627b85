//! (sdp) placeholder: filled in by the sdp work.

/// Errors of the sdp layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid input: {0}")]
    Invalid(String),
}
