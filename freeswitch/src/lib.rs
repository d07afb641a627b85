//! The FreeSWITCH module. Placeholder.
