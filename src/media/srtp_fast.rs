//! A faster SRTP/SRTCP path (AES-CM + HMAC-SHA1, per-stream precomputed state) behind the same interface as
//! `media::srtp`, verified byte for byte against libsrtp. Being written on branch `media` (srtp-fast work).
