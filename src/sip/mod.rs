//! The SIP layer: lossless `sip:`/`sips:` URIs, Meta's request-URI rules (E.164, `wa.meta.vc`), RFC 4904 user
//! parameters on calls from Meta, and a bounded header reader for Meta's `x-wa-meta-*` headers. Sans-IO: pure functions.

pub mod headers;
pub mod params;
pub mod rewrite;
pub mod uri;

pub use headers::{Header, Message, MetaHeaders, StartLine};
pub use params::{
    parse_inbound_request_uri, request_uri_user_params_json, InboundTarget, UserParams,
};
pub use rewrite::{meta_digest_username, meta_request_uri, normalize_e164, NumberPolicy, E164};
pub use uri::{NameAddr, Param, Scheme, Uri};

/// Errors of the sip layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Generic invalid input (kept for callers of the first skeleton).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A URI that could not be parsed; says what and where.
    #[error("invalid SIP URI: {0}")]
    InvalidUri(String),
    /// A name-addr (`"Name" <sip:...>;tag=x`) that could not be parsed.
    #[error("invalid name-addr: {0}")]
    InvalidNameAddr(String),
    /// A phone number that is not a valid E.164 number under the given policy.
    #[error("invalid phone number {input:?}: {reason}")]
    InvalidNumber {
        /// The input as given (phone numbers are not secrets).
        input: String,
        /// Why it was refused.
        reason: String,
    },
    /// Meta's host must be a domain name (Meta answers 404 to an IP address in the R-URI).
    #[error("invalid Meta host {0:?}: must be a domain name, not an IP address or empty")]
    InvalidMetaHost(String),
    /// A `request_uri_user_params` key or value Meta would refuse.
    #[error("invalid request_uri_user_params: {0}")]
    InvalidUserParam(String),
    /// A SIP message (start line or headers) that could not be read.
    #[error("invalid SIP message: {0}")]
    InvalidMessage(String),
    /// A SIP message above the reader's bounds (size, header count, line length).
    #[error("SIP message too large: {0}")]
    TooLarge(String),
}

/// Result type of the sip layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;
