//! (sip) placeholder: filled in by the sip work.

/// Errors of the sip layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid input: {0}")]
    Invalid(String),
}
