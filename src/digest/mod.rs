//! HTTP digest for SIP (RFC 2617, 7616, 8760): parse challenges, answer them (client, incl. Meta's SHA-256-then-MD5
//! 407), and issue/verify them with stateless HMAC nonces (server). Sans-IO: time comes in as Unix seconds.

pub mod authorization;
pub mod challenge;
pub mod client;
mod hash;
pub mod server;

pub use authorization::Authorization;
pub use challenge::{
    choose_best, choose_best_index, parse_challenge_headers, parse_challenges, Algorithm,
    AuthParam, Challenge, Qop,
};
pub use client::{meta_authorization, random_cnonce, respond, Credentials, DigestRequest};
pub use server::{check_response, Server, ServerConfig, Verified, VerifyRequest};

/// Errors of the digest layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Generic invalid input (kept for callers of the first skeleton).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A challenge or authorization header value that could not be parsed.
    #[error("cannot parse auth header: {0}")]
    Parse(String),
    /// Input above the parser's bounds.
    #[error("auth header too large: {0}")]
    TooLarge(String),
    /// An `algorithm` this implementation does not support.
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// A `qop` this implementation (or this server) does not support.
    #[error("unsupported qop {0:?}")]
    UnsupportedQop(String),
    /// None of the challenges is a Digest challenge we can answer.
    #[error("no supported Digest challenge (need MD5, SHA-256 or SHA-512-256, optionally -sess, qop auth/auth-int)")]
    NoSupportedChallenge,
    /// A parameter the challenge or the authorization must carry is missing.
    #[error("missing digest parameter {0:?}")]
    MissingParam(&'static str),
    /// The business number for Meta's digest username is not a valid E.164 number.
    #[error("invalid number for digest username: {0}")]
    InvalidNumber(String),
    /// The system CSPRNG failed.
    #[error("random number generator failed: {0}")]
    Random(String),
    /// The server configuration is unusable (e.g. a secret shorter than 16 bytes).
    #[error("bad digest server configuration: {0}")]
    Config(String),
    /// Authorization for another realm.
    #[error("realm mismatch")]
    RealmMismatch,
    /// A nonce this server did not issue (bad MAC or format).
    #[error("nonce not issued by this server")]
    InvalidNonce,
    /// A genuine nonce that has expired: challenge again with `stale=true`.
    #[error("nonce expired (stale)")]
    StaleNonce,
    /// A nonce-count already used (or too old) with this nonce: a replay.
    #[error("replayed nonce-count {0:08x}")]
    ReplayedNonceCount(u32),
    /// The digest `uri` was refused by the caller's check (e.g. not the request-URI).
    #[error("digest uri does not match the request")]
    UriMismatch,
    /// The username is not known to the password lookup.
    #[error("unknown user")]
    UnknownUser,
    /// The response does not match: wrong password or tampered request.
    #[error("wrong digest response")]
    BadResponse,
}

impl Error {
    /// Whether the right answer is a fresh challenge with `stale=true` (the client knew the password).
    pub fn is_stale(&self) -> bool {
        matches!(self, Error::StaleNonce)
    }
}

/// Result type of the digest layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;
