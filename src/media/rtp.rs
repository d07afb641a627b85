//! RTP/RTCP header views, RFC 7983 demultiplexing, a tiny RTCP SR/RR builder/reader and opus silence.
//! Only what relaying needs: no jitter buffer, no codec.
