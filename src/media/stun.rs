//! STUN messages (RFC 5389/8489) as ICE needs them: binding request/response/error with USERNAME,
//! MESSAGE-INTEGRITY, FINGERPRINT, PRIORITY, ICE-CONTROLLING/CONTROLLED, USE-CANDIDATE, XOR-MAPPED-ADDRESS, ERROR-CODE.

/// Errors parsing STUN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StunError {
    #[error("not a STUN message")]
    NotStun,
    #[error("truncated or malformed STUN message")]
    Malformed,
    #[error("STUN FINGERPRINT mismatch")]
    BadFingerprint,
    #[error("STUN MESSAGE-INTEGRITY mismatch")]
    BadIntegrity,
    #[error("buffer too small")]
    BufferTooSmall,
}
