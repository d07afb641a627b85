//! The Kamailio module. Placeholder.
