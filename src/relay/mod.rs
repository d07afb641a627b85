//! (relay) placeholder: filled in by the relay work.

/// Errors of the relay layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid input: {0}")]
    Invalid(String),
}
