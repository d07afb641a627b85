//! (digest) placeholder: filled in by the digest work.

/// Errors of the digest layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid input: {0}")]
    Invalid(String),
}
