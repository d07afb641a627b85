//! SDP rewriting between Meta's side (DTLS-SRTP with ICE, or SDES) and the PBX's side (SDES or plain RTP), for
//! offers and answers in both call directions. Media addresses, ports and keys come from a `MediaAllocator`, so the
//! configured placeholder allocation can be swapped for the relay's control client without touching the mapping.

use std::fmt;

/// SDP mapping errors.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SdpError {
    NotUtf8,
    Malformed(String),
    NoAudio,
    NoCommonCodec,
    Allocation(String),
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdpError::NotUtf8 => f.write_str("SDP is not UTF-8"),
            SdpError::Malformed(s) => write!(f, "malformed SDP: {s}"),
            SdpError::NoAudio => f.write_str("SDP has no usable audio stream"),
            SdpError::NoCommonCodec => f.write_str("no opus in the SDP: Meta speaks opus only"),
            SdpError::Allocation(s) => write!(f, "media allocation failed: {s}"),
        }
    }
}

impl std::error::Error for SdpError {}

/// Which side of the relay a media address faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Meta,
    Pbx,
}

/// Where a leg's media goes and the credentials it uses. Secrets are kept out of Debug.
#[derive(Clone)]
pub struct Allocation {
    pub address: String,
    pub port: u16,
    pub ice_ufrag: String,
    pub ice_pwd: String,
    /// `sha-256` fingerprint of our DTLS certificate, upper-case hex with colons.
    pub fingerprint: String,
    /// base64 key||salt for `a=crypto` (AES_CM_128_HMAC_SHA1_80).
    pub sdes_inline: String,
}

impl fmt::Debug for Allocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Allocation")
            .field("address", &self.address)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// The source of media allocations (the relay's control client once it exists).
pub trait MediaAllocator {
    fn allocate(&self, call_id: &str, side: Side) -> Result<Allocation, SdpError>;
}

/// What Meta's side of the call uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaMedia {
    Dtls,
    Sdes,
}

/// What the PBX side uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PbxMediaKind {
    Sdes,
    Rtp,
}

/// SDP text split into session lines and media sections, each line without its end of line.
struct Parsed<'a> {
    eol: &'static str,
    session: Vec<&'a str>,
    media: Vec<Vec<&'a str>>,
}

fn parse(sdp: &str) -> Result<Parsed<'_>, SdpError> {
    let eol = if sdp.contains("\r\n") { "\r\n" } else { "\n" };
    let mut p = Parsed {
        eol,
        session: Vec::new(),
        media: Vec::new(),
    };
    for line in sdp
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty())
    {
        let b = line.as_bytes();
        if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
            return Err(SdpError::Malformed(format!(
                "bad line `{}`",
                line.chars().take(40).collect::<String>()
            )));
        }
        if b[0] == b'm' {
            p.media.push(vec![line]);
        } else if let Some(m) = p.media.last_mut() {
            m.push(line);
        } else {
            p.session.push(line);
        }
    }
    if p.session.first().map(|l| l.starts_with("v=")) != Some(true) {
        return Err(SdpError::Malformed("no v= line first".into()));
    }
    Ok(p)
}

fn attr_name(line: &str) -> Option<&str> {
    let a = line.strip_prefix("a=")?;
    Some(a.split([':', ' ']).next().unwrap_or(a))
}

/// Attributes tied to the transport of one side: they never cross the relay.
fn transport_attr(name: &str) -> bool {
    matches!(
        name,
        "ice-ufrag"
            | "ice-pwd"
            | "ice-options"
            | "ice-lite"
            | "candidate"
            | "end-of-candidates"
            | "remote-candidates"
            | "fingerprint"
            | "setup"
            | "crypto"
            | "rtcp"
            | "rtcp-mux"
            | "group"
            | "mid"
            | "msid-semantic"
            | "msid"
            | "ssrc"
            | "ssrc-group"
            | "extmap"
            | "rtcp-fb"
            | "tls-id"
    )
}

fn c_line(addr: &str) -> String {
    if addr.contains(':') {
        format!("c=IN IP6 {addr}")
    } else {
        format!("c=IN IP4 {addr}")
    }
}

/// Payload types of the audio m= line with their encoding names (from rtpmap; static types known by number).
fn codecs<'a>(m: &[&'a str]) -> Result<(Vec<&'a str>, Vec<(String, String)>), SdpError> {
    let mline: Vec<&str> = m[0].trim_start_matches("m=").split_whitespace().collect();
    if mline.len() < 4 {
        return Err(SdpError::Malformed("short m= line".into()));
    }
    let pts = mline[3..].to_vec();
    let mut names = Vec::new();
    for pt in &pts {
        let name = m
            .iter()
            .filter_map(|l| l.strip_prefix("a=rtpmap:"))
            .find_map(|r| {
                let (p, enc) = r.split_once(' ')?;
                (p == *pt).then(|| enc.split('/').next().unwrap_or("").to_ascii_lowercase())
            })
            .unwrap_or_else(|| match *pt {
                "0" => "pcmu".into(),
                "8" => "pcma".into(),
                "9" => "g722".into(),
                "18" => "g729".into(),
                _ => String::new(),
            });
        names.push((pt.to_string(), name));
    }
    Ok((pts, names))
}

/// Is this payload-type-specific line (rtpmap/fmtp/rtcp-fb) about a payload type we dropped?
fn for_dropped_pt(line: &str, kept: &[String]) -> bool {
    for pfx in ["a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"] {
        if let Some(r) = line.strip_prefix(pfx) {
            let pt = r.split(' ').next().unwrap_or("");
            return !kept.iter().any(|k| k == pt);
        }
    }
    false
}

/// Maps an SDP from Meta (offer of a user-initiated call, or answer of a business-initiated one) for the PBX.
pub fn to_pbx(
    sdp: &str,
    pbx: PbxMediaKind,
    call_id: &str,
    alloc: &dyn MediaAllocator,
) -> Result<String, SdpError> {
    let p = parse(sdp)?;
    let audio = p
        .media
        .iter()
        .position(|m| m[0].starts_with("m=audio "))
        .ok_or(SdpError::NoAudio)?;
    let a = alloc.allocate(call_id, Side::Pbx)?;
    let mut out: Vec<String> = Vec::new();
    for l in &p.session {
        match (l.as_bytes()[0], attr_name(l)) {
            (b'c', _) => out.push(c_line(&a.address)),
            (b'a', Some(n)) if transport_attr(n) => {}
            _ => out.push(l.to_string()),
        }
    }
    if !p.session.iter().any(|l| l.starts_with("c=")) {
        // The PBX needs a session or media c=; put ours at media level below.
    }
    for (i, m) in p.media.iter().enumerate() {
        let (pts, _) = codecs(m)?;
        if i != audio {
            // Other streams are refused (port 0): only audio crosses the WhatsApp relay.
            let mut f: Vec<&str> = m[0].split_whitespace().collect();
            if f.len() >= 2 {
                f[1] = "0";
            }
            out.push(f.join(" "));
            continue;
        }
        let proto = match pbx {
            PbxMediaKind::Sdes => "RTP/SAVP",
            PbxMediaKind::Rtp => "RTP/AVP",
        };
        out.push(format!("m=audio {} {} {}", a.port, proto, pts.join(" ")));
        out.push(c_line(&a.address));
        for l in &m[1..] {
            match (l.as_bytes()[0], attr_name(l)) {
                (b'c', _) => {}
                (b'a', Some(n)) if transport_attr(n) => {}
                _ => out.push(l.to_string()),
            }
        }
        if pbx == PbxMediaKind::Sdes {
            out.push(format!(
                "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}",
                a.sdes_inline
            ));
        }
    }
    Ok(join(&out, p.eol))
}

/// Maps an SDP from the PBX (answer to Meta's offer, or the offer of a business-initiated call) for Meta.
pub fn to_meta(
    sdp: &str,
    is_offer: bool,
    meta: MetaMedia,
    call_id: &str,
    alloc: &dyn MediaAllocator,
) -> Result<String, SdpError> {
    let p = parse(sdp)?;
    let audio = p
        .media
        .iter()
        .position(|m| m[0].starts_with("m=audio "))
        .ok_or(SdpError::NoAudio)?;
    let a = alloc.allocate(call_id, Side::Meta)?;
    let (_, names) = codecs(&p.media[audio])?;
    // Meta speaks opus (and telephone-event) only: offer nothing else.
    let kept: Vec<String> = names
        .iter()
        .filter(|(_, n)| n == "opus" || n == "telephone-event")
        .map(|(pt, _)| pt.clone())
        .collect();
    if !names.iter().any(|(_, n)| n == "opus") {
        return Err(SdpError::NoCommonCodec);
    }
    let mid = "audio";
    let mut out: Vec<String> = Vec::new();
    for l in &p.session {
        match (l.as_bytes()[0], attr_name(l)) {
            (b'c', _) => {}
            (b'a', Some(n)) if transport_attr(n) => {}
            _ => out.push(l.to_string()),
        }
        if l.starts_with("t=") && meta == MetaMedia::Dtls {
            out.push(format!("a=group:BUNDLE {mid}"));
        }
    }
    for (i, m) in p.media.iter().enumerate() {
        if i != audio {
            let mut f: Vec<&str> = m[0].split_whitespace().collect();
            if f.len() >= 2 {
                f[1] = "0";
            }
            out.push(f.join(" "));
            continue;
        }
        let proto = match meta {
            MetaMedia::Dtls => "UDP/TLS/RTP/SAVPF",
            MetaMedia::Sdes => "RTP/SAVP",
        };
        out.push(format!("m=audio {} {} {}", a.port, proto, kept.join(" ")));
        out.push(c_line(&a.address));
        out.push("a=rtcp-mux".to_string());
        out.push(format!("a=mid:{mid}"));
        match meta {
            MetaMedia::Dtls => {
                out.push(format!("a=ice-ufrag:{}", a.ice_ufrag));
                out.push(format!("a=ice-pwd:{}", a.ice_pwd));
                out.push(format!("a=fingerprint:sha-256 {}", a.fingerprint));
                // We are the DTLS client toward Meta (ice-lite, DTLS server): active in answers.
                out.push(format!(
                    "a=setup:{}",
                    if is_offer { "actpass" } else { "active" }
                ));
                out.push(format!(
                    "a=candidate:1 1 udp 2130706431 {} {} typ host",
                    a.address, a.port
                ));
            }
            MetaMedia::Sdes => out.push(format!(
                "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}",
                a.sdes_inline
            )),
        }
        for l in &m[1..] {
            match (l.as_bytes()[0], attr_name(l)) {
                (b'c', _) => {}
                (b'a', Some(n)) if transport_attr(n) => {}
                _ if for_dropped_pt(l, &kept) => {}
                _ => out.push(l.to_string()),
            }
        }
    }
    Ok(join(&out, p.eol))
}

fn join(lines: &[String], eol: &str) -> String {
    let mut s = lines.join(eol);
    s.push_str(eol);
    s
}

/// Is this SDP Meta-style DTLS (or SDES)?
pub fn looks_dtls(sdp: &str) -> bool {
    sdp.contains("UDP/TLS/RTP/SAVP") || sdp.contains("a=fingerprint:")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl MediaAllocator for Fixed {
        fn allocate(&self, _: &str, side: Side) -> Result<Allocation, SdpError> {
            Ok(Allocation {
                address: "192.0.2.10".into(),
                port: if side == Side::Meta { 40000 } else { 40002 },
                ice_ufrag: "ufrag1234".into(),
                ice_pwd: "pwd0123456789012345678901".into(),
                fingerprint: "AB:CD".into(),
                sdes_inline: "S0VZS0VZS0VZS0VZS0VZS0VZS0VZS0VZS0VZS0VZ".into(),
            })
        }
    }

    const META_OFFER: &str = "v=0\r\no=- 1741113186367 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE audio\r\na=msid-semantic: WMS 632a\r\na=ice-lite\r\nm=audio 3480 UDP/TLS/RTP/SAVPF 111 126\r\nc=IN IP4 57.144.135.35\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=candidate:1775469887 1 udp 2122260223 57.144.135.35 3480 typ host generation 0 network-cost 50\r\na=ice-ufrag:RmDDkfzkwbexPfbC\r\na=ice-pwd:abcdefghijabcdefghijabcd\r\na=fingerprint:sha-256 AA:BB\r\na=setup:actpass\r\na=mid:audio\r\na=sendrecv\r\na=msid:632a WhatsAppTrack1\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\na=fmtp:111 maxaveragebitrate=20000;maxplaybackrate=16000;minptime=20;sprop-maxcapturerate=16000;useinbandfec=1\r\na=rtpmap:126 telephone-event/8000\r\na=maxptime:20\r\na=ptime:20\r\na=ssrc:849255537 cname:WhatsAppAudioStream1\r\n";

    #[test]
    fn meta_offer_to_sdes_pbx() {
        let s = to_pbx(META_OFFER, PbxMediaKind::Sdes, "c1", &Fixed).unwrap();
        assert!(s.contains("m=audio 40002 RTP/SAVP 111 126\r\n"), "{s}");
        assert!(s.contains("c=IN IP4 192.0.2.10\r\n"));
        assert!(s.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
        assert!(s.contains("a=rtpmap:111 opus/48000/2"));
        for gone in [
            "ice-",
            "candidate",
            "fingerprint",
            "setup",
            "BUNDLE",
            "57.144.135.35",
        ] {
            assert!(!s.contains(gone), "{gone} left in {s}");
        }
    }

    #[test]
    fn pbx_answer_to_meta_dtls() {
        let pbx = "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 20000 RTP/SAVP 111 0 126\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:126 telephone-event/8000\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:xxxx\r\na=sendrecv\r\n";
        let s = to_meta(pbx, false, MetaMedia::Dtls, "c1", &Fixed).unwrap();
        assert!(
            s.contains("m=audio 40000 UDP/TLS/RTP/SAVPF 111 126\r\n"),
            "{s}"
        );
        assert!(s.contains("a=setup:active"));
        assert!(s.contains("a=group:BUNDLE audio"));
        assert!(s.contains("a=ice-ufrag:ufrag1234"));
        assert!(!s.contains("a=crypto"));
        assert!(!s.contains("PCMU"));
        assert!(!s.contains("10.0.0.5\r\nt") && !s.contains("c=IN IP4 10.0.0.5"));
    }

    #[test]
    fn pcmu_only_is_refused() {
        let pbx = "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\n";
        assert_eq!(
            to_meta(pbx, true, MetaMedia::Dtls, "c", &Fixed).unwrap_err(),
            SdpError::NoCommonCodec
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert!(to_pbx("hello", PbxMediaKind::Rtp, "c", &Fixed).is_err());
        assert!(to_pbx("v=0\r\nm=\r\n", PbxMediaKind::Rtp, "c", &Fixed).is_err());
        assert!(to_pbx("v=0\r\ns=-\r\n", PbxMediaKind::Rtp, "c", &Fixed).is_err());
    }
}
