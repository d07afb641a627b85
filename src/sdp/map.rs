//! Offer/answer mapping between Meta's leg (DTLS-SRTP + ICE, or SDES) and the PBX leg (SDES-SRTP or plain RTP),
//! producing the SDP for the other side plus a [`CallPlan`] that tells the relay how to run both legs.
//!
//! The four functions are stateless: an answer mapping is given the original offer and the offer we produced
//! from it (our own keys are read back from that text), so hosts only keep SDP strings between transactions.
//!
//! | call direction | offer | answer |
//! | --- | --- | --- |
//! | user-initiated (Meta calls) | [`meta_offer_to_pbx`] | [`pbx_answer_to_meta`] |
//! | business-initiated (PBX calls) | [`pbx_offer_to_meta`] | [`meta_answer_to_pbx`] |
//!
//! Rules applied (from Meta's documentation and field notes): toward Meta wacall is a full ICE agent in the
//! controlling role (never `a=ice-lite`), the DTLS client (`a=setup:active` in answers; `a=setup:actpass` in
//! offers as RFC 5763 requires, and Meta, being ice-lite, answers `passive`, which makes us the client), uses
//! rtcp-mux and keeps Meta's BUNDLE group and mid; only opus and telephone-event/8000 are carried, since Meta
//! speaks opus only and the relay does not transcode. Payload type numbers are kept per side and reported in
//! [`PayloadTypes`]; when they differ between legs the relay rewrites them. Every SDES leg gets fresh keys: the
//! relay always decrypts and re-encrypts.
//!
//! A user-initiated call, end to end:
//! ```
//! use wacall::sdp::{self, generate_ice_credentials, DtlsRole, LegSecurity, MapConfig, MediaAllocation};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let meta_offer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE audio\r\na=ice-lite\r\n\
//!     m=audio 3480 UDP/TLS/RTP/SAVPF 111 126\r\nc=IN IP4 57.144.135.35\r\n\
//!     a=candidate:1 1 udp 2122260223 57.144.135.35 3480 typ host\r\n\
//!     a=ice-ufrag:RmDDkfzkwbexPfbC\r\na=ice-pwd:Xk3vP9qLm2Rt7wYz4BnC8dFh\r\n\
//!     a=fingerprint:sha-256 3C:4E:0B:9A:61:F2:7D:E8:25:AA:90:1B:C4:57:D3:8E:6F:02:BD:49:71:C8:3A:E5:16:9F:0D:62:A7:B4:58:E1\r\n\
//!     a=setup:actpass\r\na=mid:audio\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n\
//!     a=rtpmap:126 telephone-event/8000\r\na=ptime:20\r\n";
//! let (ufrag, pwd) = generate_ice_credentials()?;
//! let our_fp = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99";
//! let alloc = MediaAllocation::new("203.0.113.10:40000".parse()?, "192.0.2.10:30000".parse()?, ufrag, pwd, our_fp);
//! let cfg = MapConfig::default(); // SDES AES_CM_128_HMAC_SHA1_80 toward the PBX
//!
//! // INVITE from Meta: forward this offer to the PBX.
//! let to_pbx = sdp::meta_offer_to_pbx(meta_offer, &alloc, &cfg)?;
//! assert!(to_pbx.sdp.contains("m=audio 30000 RTP/SAVP 111 126\r\n"));
//!
//! // The PBX answers (here: a plain echo of our offer from another address, for brevity).
//! let pbx_answer = to_pbx.sdp.replace("192.0.2.10", "192.0.2.99");
//! let to_meta = sdp::pbx_answer_to_meta(meta_offer, &to_pbx.sdp, &pbx_answer, &alloc, &cfg)?;
//! assert!(to_meta.sdp.contains("a=setup:active\r\n"));
//! let LegSecurity::Dtls(dtls) = &to_meta.plan.meta.security else { unreachable!() };
//! assert_eq!(dtls.role, Some(DtlsRole::Client));
//! assert_eq!(to_meta.plan.pbx.remote_rtp, Some("192.0.2.99:30000".parse()?));
//! # Ok(()) }
//! ```

use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};

use base64::Engine as _;

use super::attr::{
    colon_hex, parse_colon_hex, Candidate, Connection, Direction, Fingerprint, Setup,
};
use super::crypto::{Crypto, CryptoSuite, Mki, SrtpMasterKey};
use super::model::{Media, MediaView, Sdp};
use super::{Error, Result};

/// What the relay allocated for one call: our sockets on each leg and our ICE/DTLS identity toward Meta.
#[derive(Clone)]
#[non_exhaustive]
pub struct MediaAllocation {
    /// Local socket facing Meta (ICE host candidate unless `meta_advertised` is set).
    pub meta_side: SocketAddr,
    /// Addresses to announce as host candidates toward Meta instead of `meta_side` (NAT-mapped / public
    /// addresses, IPv4 and IPv6), in priority order. Empty: announce `meta_side`.
    pub meta_advertised: Vec<SocketAddr>,
    /// Local socket facing the PBX.
    pub pbx_side: SocketAddr,
    /// Address to put in `c=`/`m=` toward the PBX instead of `pbx_side` (NAT, or when bound to 0.0.0.0).
    pub pbx_advertised: Option<SocketAddr>,
    /// Separate RTCP socket toward the PBX, announced with `a=rtcp` (used when the PBX refuses rtcp-mux).
    pub pbx_rtcp: Option<SocketAddr>,
    /// Our ICE username fragment toward Meta (4-256 ice-chars; see [`generate_ice_credentials`]).
    pub ice_ufrag: String,
    /// Our ICE password toward Meta (22-256 ice-chars). Never printed by `Debug`.
    pub ice_pwd: String,
    /// SHA-256 fingerprint of our DTLS certificate, colon-separated hex (printed upper-case).
    pub dtls_fingerprint_sha256: String,
}

impl MediaAllocation {
    /// An allocation with no advertised addresses and no separate RTCP socket.
    pub fn new(
        meta_side: SocketAddr,
        pbx_side: SocketAddr,
        ice_ufrag: impl Into<String>,
        ice_pwd: impl Into<String>,
        dtls_fingerprint_sha256: impl Into<String>,
    ) -> MediaAllocation {
        MediaAllocation {
            meta_side,
            meta_advertised: Vec::new(),
            pbx_side,
            pbx_advertised: None,
            pbx_rtcp: None,
            ice_ufrag: ice_ufrag.into(),
            ice_pwd: ice_pwd.into(),
            dtls_fingerprint_sha256: dtls_fingerprint_sha256.into(),
        }
    }

    /// The host candidates we announce to Meta.
    pub fn meta_candidates(&self) -> Vec<SocketAddr> {
        if self.meta_advertised.is_empty() {
            vec![self.meta_side]
        } else {
            self.meta_advertised.clone()
        }
    }

    /// The address we announce to the PBX.
    pub fn pbx_address(&self) -> SocketAddr {
        self.pbx_advertised.unwrap_or(self.pbx_side)
    }

    fn check_meta(&self, dtls: bool) -> Result<Vec<SocketAddr>> {
        let cands = self.meta_candidates();
        if cands
            .iter()
            .any(|a| a.ip().is_unspecified() || a.port() == 0)
        {
            return Err(Error::Config(
                "Meta-side address is unspecified or has port 0",
            ));
        }
        if dtls {
            if !is_ice_chars(&self.ice_ufrag, 4) {
                return Err(Error::Config("ice_ufrag must be 4-256 ice-chars"));
            }
            if !is_ice_chars(&self.ice_pwd, 22) {
                return Err(Error::Config("ice_pwd must be 22-256 ice-chars"));
            }
        }
        Ok(cands)
    }

    fn fingerprint(&self) -> Result<String> {
        match parse_colon_hex(self.dtls_fingerprint_sha256.trim()) {
            Some(b) if b.len() == 32 => Ok(colon_hex(&b)),
            _ => Err(Error::Config(
                "dtls_fingerprint_sha256 must be 32 colon-separated hex bytes",
            )),
        }
    }

    fn check_pbx(&self) -> Result<SocketAddr> {
        let a = self.pbx_address();
        if a.ip().is_unspecified() || a.port() == 0 {
            return Err(Error::Config(
                "PBX-side address is unspecified or has port 0",
            ));
        }
        Ok(a)
    }
}

impl fmt::Debug for MediaAllocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaAllocation")
            .field("meta_side", &self.meta_side)
            .field("meta_advertised", &self.meta_advertised)
            .field("pbx_side", &self.pbx_side)
            .field("pbx_advertised", &self.pbx_advertised)
            .field("pbx_rtcp", &self.pbx_rtcp)
            .field("ice_ufrag", &self.ice_ufrag)
            .field("ice_pwd", &"<redacted>")
            .field("dtls_fingerprint_sha256", &self.dtls_fingerprint_sha256)
            .finish()
    }
}

fn is_ice_chars(s: &str, min: usize) -> bool {
    (min..=256).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Fresh ICE credentials (8-character ufrag, 24-character password) from the OS CSPRNG.
pub fn generate_ice_credentials() -> Result<(String, String)> {
    let mut b = [0u8; 24];
    getrandom::fill(&mut b).map_err(|_| Error::Random)?;
    // Standard base64 without padding uses only ice-chars (ALPHA / DIGIT / "+" / "/").
    let e = base64::engine::general_purpose::STANDARD_NO_PAD;
    Ok((e.encode(&b[..6]), e.encode(&b[6..])))
}

/// Media we offer the PBX on calls from Meta.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PbxMedia {
    /// SDES-SRTP (`RTP/SAVP`): one `a=crypto` line per suite, in preference order (must not be empty).
    Sdes(Vec<CryptoSuite>),
    /// Plain RTP (`RTP/AVP`).
    Rtp,
}

/// Media we offer Meta on calls from the PBX: the phone number's `srtp_key_exchange_protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetaMedia {
    /// DTLS-SRTP with ICE (`UDP/TLS/RTP/SAVPF`), Meta's default.
    Dtls,
    /// SDES-SRTP (`RTP/SAVP`, AES_CM_128_HMAC_SHA1_80).
    Sdes,
}

/// Mapping configuration (per number or per deployment).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MapConfig {
    /// What to offer the PBX (answers always follow the PBX's offer).
    pub pbx_media: PbxMedia,
    /// What to offer Meta (answers always follow Meta's offer).
    pub meta_media: MetaMedia,
    /// Offer `a=rtcp-mux` to the PBX (the relay must still handle a PBX that does not accept it).
    pub pbx_rtcp_mux: bool,
    /// `s=` line toward the PBX.
    pub session_name: String,
    /// The mid used in our offers to Meta.
    pub meta_mid: String,
}

impl Default for MapConfig {
    fn default() -> Self {
        MapConfig {
            pbx_media: PbxMedia::Sdes(vec![CryptoSuite::AesCm128HmacSha1_80]),
            meta_media: MetaMedia::Dtls,
            pbx_rtcp_mux: true,
            session_name: "wacall".to_owned(),
            meta_mid: "audio".to_owned(),
        }
    }
}

impl MapConfig {
    /// The default configuration with the given media choices.
    pub fn new(pbx_media: PbxMedia, meta_media: MetaMedia) -> MapConfig {
        MapConfig {
            pbx_media,
            meta_media,
            ..MapConfig::default()
        }
    }
}

/// Our DTLS role on Meta's leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsRole {
    /// We send ClientHello (`a=setup:active`); what Meta expects.
    Client,
    /// We wait for ClientHello (`a=setup:passive`).
    Server,
}

/// DTLS parameters of a leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtlsParams {
    /// The fingerprint the peer's certificate must match (`None` until the peer's SDP is known).
    pub remote_fingerprint: Option<Fingerprint>,
    /// Our role (`None` while our `actpass` offer is unanswered).
    pub role: Option<DtlsRole>,
}

/// SDES keys of a leg. In a final plan ([`CallPlan::answered`]) both keys are set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesKeys {
    /// Negotiated suite.
    pub suite: CryptoSuite,
    /// Tag of the accepted `a=crypto` line.
    pub tag: u32,
    /// Our key (we encrypt what we send with it); `None` until we have written it into an SDP.
    pub local: Option<SrtpMasterKey>,
    /// The peer's key (we decrypt what we receive); `None` until the peer's SDP is known.
    pub remote: Option<SrtpMasterKey>,
    /// The peer's MKI, if its key carries one.
    pub remote_mki: Option<Mki>,
}

/// How a leg's media is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LegSecurity {
    /// Plain RTP.
    Rtp,
    /// SDES-SRTP.
    Sdes(SdesKeys),
    /// DTLS-SRTP (keys come from the handshake).
    Dtls(DtlsParams),
}

/// ICE parameters of Meta's leg.
#[derive(Clone, PartialEq, Eq)]
pub struct IceParams {
    /// Our ufrag.
    pub local_ufrag: String,
    /// Our password (redacted in Debug).
    pub local_pwd: String,
    /// Host candidates we announced.
    pub local_candidates: Vec<SocketAddr>,
    /// The peer's ufrag, once known.
    pub remote_ufrag: Option<String>,
    /// The peer's password, once known (redacted in Debug).
    pub remote_pwd: Option<String>,
    /// The peer's candidates (UDP, IP literals only; others are dropped).
    pub remote_candidates: Vec<Candidate>,
    /// Whether the peer declared `a=ice-lite` (Meta does).
    pub remote_lite: bool,
    /// Whether we are the controlling agent (always, against an ice-lite peer).
    pub controlling: bool,
}

impl fmt::Debug for IceParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IceParams")
            .field("local_ufrag", &self.local_ufrag)
            .field("local_pwd", &"<redacted>")
            .field("local_candidates", &self.local_candidates)
            .field("remote_ufrag", &self.remote_ufrag)
            .field(
                "remote_pwd",
                &self.remote_pwd.as_ref().map(|_| "<redacted>"),
            )
            .field("remote_candidates", &self.remote_candidates)
            .field("remote_lite", &self.remote_lite)
            .field("controlling", &self.controlling)
            .finish()
    }
}

/// Payload types and packetisation of one leg (as that leg's peer numbers them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadTypes {
    /// opus/48000/2.
    pub opus: u8,
    /// telephone-event/8000, if negotiated (or offered, in a provisional plan).
    pub telephone_event: Option<u8>,
    /// `a=ptime`, if given.
    pub ptime: Option<u32>,
}

/// Everything the relay needs to run one leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegPlan {
    /// Our socket for this leg (from the allocation).
    pub local: SocketAddr,
    /// Where the peer said it receives RTP (`c=` + `m=` port); `None` if unknown, unspecified or port 0. On Meta's
    /// DTLS leg the ICE candidates are authoritative.
    pub remote_rtp: Option<SocketAddr>,
    /// Where the peer receives RTCP when not multiplexed (`a=rtcp`, else RTP port + 1).
    pub remote_rtcp: Option<SocketAddr>,
    /// Whether RTP and RTCP share the port (negotiated, or as offered in a provisional plan).
    pub rtcp_mux: bool,
    /// Media protection.
    pub security: LegSecurity,
    /// ICE (Meta's DTLS leg only).
    pub ice: Option<IceParams>,
    /// Payload types as this leg's peer uses them.
    pub payload: PayloadTypes,
    /// Direction as written in our SDP toward this peer (`send` = we send to the peer).
    pub direction: Direction,
    /// The mid of the media section, if any.
    pub mid: Option<String>,
}

/// The plan for both legs of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallPlan {
    /// Meta's leg.
    pub meta: LegPlan,
    /// The PBX's leg.
    pub pbx: LegPlan,
    /// `true` after an answer mapping (the plan is final); `false` after an offer mapping (provisional: remote
    /// parameters of the answering side and some keys are still missing).
    pub answered: bool,
}

/// The result of a mapping: SDP text for the other side and the plan.
#[derive(Clone)]
pub struct Mapped {
    /// The SDP to send (CRLF line endings). It contains keys and ICE passwords: never log it.
    pub sdp: String,
    /// The plan for the relay.
    pub plan: CallPlan,
}

impl fmt::Debug for Mapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapped")
            .field("sdp", &format_args!("<{} bytes>", self.sdp.len()))
            .field("plan", &self.plan)
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading the pieces of an SDP the mapping needs.

/// The audio codecs of one section, with the text to copy.
struct Codecs {
    opus: u8,
    opus_fmtp: Option<String>,
    te: Option<u8>,
    te_fmtp: Option<String>,
    ptime: Option<u32>,
    maxptime: Option<u32>,
}

impl Codecs {
    fn read(media: &Media, formats: &[String], what: &'static str) -> Result<Codecs> {
        let mut opus = None;
        let mut te = None;
        for r in media.rtpmaps().filter_map(|r| r.ok()) {
            if !formats.iter().any(|f| f.parse::<u8>().ok() == Some(r.pt)) {
                continue;
            }
            if opus.is_none() && r.is_opus() {
                opus = Some(r);
            } else if te.is_none() && r.is_telephone_event(8000) {
                te = Some(r);
            }
        }
        // Prefer the m= line's order when both are present (the first listed opus wins).
        let opus = opus.ok_or(Error::Missing(what))?;
        let te_pt = te.as_ref().map(|t| t.pt);
        Ok(Codecs {
            opus: opus.pt,
            opus_fmtp: media.fmtp(opus.pt).map(str::to_owned),
            te: te_pt,
            te_fmtp: te_pt.and_then(|pt| media.fmtp(pt)).map(str::to_owned),
            ptime: media.ptime(),
            maxptime: media.maxptime(),
        })
    }

    fn payload(&self) -> PayloadTypes {
        PayloadTypes {
            opus: self.opus,
            telephone_event: self.te,
            ptime: self.ptime,
        }
    }
}

/// A parsed SDP with its chosen audio section.
struct Doc {
    sdp: Sdp,
    audio: usize,
    proto: String,
    port: u16,
    formats: Vec<String>,
}

impl Doc {
    fn parse(text: &str, who: &'static str) -> Result<Doc> {
        let sdp = Sdp::parse(text)?;
        let mut chosen = None;
        for (i, m) in sdp.media().iter().enumerate() {
            if m.media_type() != "audio" {
                continue;
            }
            let ml = m.media_line()?;
            if ml.port != 0 {
                chosen = Some((i, ml));
                break;
            }
        }
        let (audio, ml) = chosen.ok_or(Error::Missing(who))?;
        Ok(Doc {
            sdp,
            audio,
            proto: ml.proto,
            port: ml.port,
            formats: ml.formats,
        })
    }

    fn view(&self) -> MediaView<'_> {
        MediaView {
            sdp: &self.sdp,
            media: &self.sdp.media()[self.audio],
        }
    }

    fn media(&self) -> &Media {
        &self.sdp.media()[self.audio]
    }

    fn kind(&self) -> Result<Kind> {
        match self.proto.as_str() {
            "UDP/TLS/RTP/SAVPF" | "UDP/TLS/RTP/SAVP" => Ok(Kind::Dtls),
            "RTP/SAVP" | "RTP/SAVPF" => Ok(Kind::Sdes),
            "RTP/AVP" | "RTP/AVPF" => Ok(Kind::Rtp),
            p => Err(Error::Unsupported(format!(
                "media transport {}",
                sanitize(p)
            ))),
        }
    }

    fn remote_rtp(&self) -> Result<Option<SocketAddr>> {
        let ip = self.view().connection()?.and_then(|c| c.ip());
        Ok(ip
            .filter(|ip| !ip.is_unspecified())
            .map(|ip| SocketAddr::new(ip, self.port)))
    }

    fn remote_rtcp(&self, mux: bool) -> Result<Option<SocketAddr>> {
        if mux {
            return Ok(None);
        }
        let rtp = self.remote_rtp()?;
        Ok(match self.media().rtcp()? {
            Some(r) => {
                let ip = r.connection.and_then(|c| c.ip()).or(rtp.map(|a| a.ip()));
                ip.filter(|ip| !ip.is_unspecified())
                    .map(|ip| SocketAddr::new(ip, r.port))
            }
            None => rtp.and_then(|a| a.port().checked_add(1).map(|p| SocketAddr::new(a.ip(), p))),
        })
    }

    fn codecs(&self, what: &'static str) -> Result<Codecs> {
        Codecs::read(self.media(), &self.formats, what)
    }

    fn mid(&self) -> Option<String> {
        self.media().mid().map(str::to_owned)
    }

    /// A leg plan for the peer that wrote this SDP; `mux` is the negotiated rtcp-mux.
    fn leg(
        &self,
        local: SocketAddr,
        mux: bool,
        security: LegSecurity,
        ice: Option<IceParams>,
        payload: PayloadTypes,
        direction: Direction,
    ) -> Result<LegPlan> {
        Ok(LegPlan {
            local,
            remote_rtp: self.remote_rtp()?,
            remote_rtcp: self.remote_rtcp(mux)?,
            rtcp_mux: mux,
            security,
            ice,
            payload,
            direction,
            mid: self.mid(),
        })
    }

    /// The BUNDLE group line to echo in an answer, restricted to our accepted mid.
    fn bundle_mid(&self) -> Option<String> {
        let mid = self.media().mid()?;
        self.sdp
            .bundle()
            .filter(|g| g.mids.iter().any(|m| m == mid))
            .map(|_| mid.to_owned())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dtls,
    Sdes,
    Rtp,
}

fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(40)
        .collect()
}

/// The crypto line to accept from an offer: the first with a known suite (from `allowed`, if given) and no
/// session parameters (which the relay does not implement).
fn choose_crypto(view: &MediaView<'_>, allowed: Option<&[CryptoSuite]>) -> Result<Crypto> {
    let mut fallback = None;
    for c in view.cryptos().into_iter().filter_map(|c| c.ok()) {
        if !c.session_params.is_empty() || c.keys.len() != 1 {
            continue;
        }
        match allowed {
            Some(list) if !list.contains(&c.suite) => {
                if fallback.is_none() {
                    fallback = Some(c);
                }
            }
            _ => return Ok(c),
        }
    }
    fallback.ok_or(Error::Missing(
        "usable a=crypto line (known suite, one key, no session parameters)",
    ))
}

/// The peer's crypto line answering ours (same tag).
fn answered_crypto(view: &MediaView<'_>, offered: &[Crypto]) -> Result<(Crypto, SrtpMasterKey)> {
    for c in view.cryptos().into_iter().filter_map(|c| c.ok()) {
        if let Some(ours) = offered
            .iter()
            .find(|o| o.tag == c.tag && o.suite == c.suite)
        {
            let local = ours.key().cloned().ok_or(Error::Missing("our SDES key"))?;
            return Ok((c, local));
        }
    }
    Err(Error::Missing("a=crypto answering one of ours"))
}

/// SDES keys of a leg: the peer's accepted crypto line and our key, once written.
fn sdes_keys(theirs: Crypto, local: Option<SrtpMasterKey>) -> SdesKeys {
    let kp = theirs.keys.into_iter().next();
    SdesKeys {
        suite: theirs.suite,
        tag: theirs.tag,
        local,
        remote_mki: kp.as_ref().and_then(|k| k.mki),
        remote: kp.map(|k| k.key),
    }
}

/// The key of a crypto line we generated.
fn first_key(c: Option<Crypto>) -> Option<SrtpMasterKey> {
    c.and_then(|c| c.keys.into_iter().next()).map(|k| k.key)
}

/// Our crypto lines in an SDP we wrote, for reading our keys back.
fn our_cryptos(doc: &Doc) -> Vec<Crypto> {
    doc.view()
        .cryptos()
        .into_iter()
        .filter_map(|c| c.ok())
        .collect()
}

/// The DTLS and ICE parameters of Meta's leg from Meta's SDP (`who` names it in errors). `controlling` is
/// `None` when we answer (we control iff the peer is lite) and `Some(true)` when we offered.
fn dtls_ice(
    view: &MediaView<'_>,
    role: DtlsRole,
    local: (&str, &str, Vec<SocketAddr>),
    controlling: Option<bool>,
    who: &'static str,
) -> Result<(LegSecurity, Option<IceParams>)> {
    let (ru, rp, rc) = remote_ice(view);
    if ru.is_none() || rp.is_none() {
        return Err(Error::Missing(who));
    }
    let lite = view.ice_lite();
    if !lite {
        log::warn!("sdp: Meta's SDP is not ice-lite");
    }
    let security = LegSecurity::Dtls(DtlsParams {
        remote_fingerprint: Some(remote_fingerprint(view)?),
        role: Some(role),
    });
    let ice = IceParams {
        local_ufrag: local.0.to_owned(),
        local_pwd: local.1.to_owned(),
        local_candidates: local.2,
        remote_ufrag: ru,
        remote_pwd: rp,
        remote_candidates: rc,
        remote_lite: lite,
        // RFC 8445 6.1.1: against a lite peer we control; between two full agents the offerer does.
        controlling: controlling.unwrap_or(lite),
    };
    Ok((security, Some(ice)))
}

fn remote_ice(view: &MediaView<'_>) -> (Option<String>, Option<String>, Vec<Candidate>) {
    let cands = view
        .candidates()
        .into_iter()
        .filter_map(|c| match c {
            Ok(c) if c.is_udp() && c.ip().is_some() => Some(c),
            Ok(_) => None,
            Err(e) => {
                log::debug!("sdp: skipping candidate: {e}");
                None
            }
        })
        .collect();
    (
        view.ice_ufrag().map(str::to_owned),
        view.ice_pwd().map(str::to_owned),
        cands,
    )
}

fn remote_fingerprint(view: &MediaView<'_>) -> Result<Fingerprint> {
    // Several fingerprints may be offered; prefer sha-256, else the first valid one.
    let fps: Vec<Fingerprint> = view
        .fingerprints()
        .into_iter()
        .filter_map(|f| f.ok())
        .collect();
    fps.iter()
        .find(|f| f.hash == super::attr::HashFunc::Sha256)
        .or(fps.first())
        .cloned()
        .ok_or(Error::Missing("a=fingerprint"))
}

// ---------------------------------------------------------------------------------------------------------------
// Writing SDP.

struct W(String);

impl W {
    fn new() -> W {
        W(String::with_capacity(1024))
    }

    fn line(&mut self, args: fmt::Arguments<'_>) {
        let _ = self.0.write_fmt(args);
        self.0.push_str("\r\n");
    }

    fn head(&mut self, user: &str, ip: IpAddr, name: &str) -> Result<()> {
        let id = getrandom::u64().map_err(|_| Error::Random)? >> 2;
        self.line(format_args!("v=0"));
        self.line(format_args!("o={user} {id} {id} IN {} {ip}", addrtype(ip)));
        self.line(format_args!("s={name}"));
        Ok(())
    }

    fn codecs(&mut self, pt: (u8, Option<u8>), opus_fmtp: Option<&str>, te_fmtp: Option<&str>) {
        self.line(format_args!("a=rtpmap:{} opus/48000/2", pt.0));
        if let Some(f) = opus_fmtp {
            self.line(format_args!("a=fmtp:{} {f}", pt.0));
        }
        if let Some(te) = pt.1 {
            self.line(format_args!("a=rtpmap:{te} telephone-event/8000"));
            if let Some(f) = te_fmtp {
                self.line(format_args!("a=fmtp:{te} {f}"));
            }
        }
    }

    fn ptime(&mut self, ptime: Option<u32>, maxptime: Option<u32>) {
        if let Some(p) = ptime {
            self.line(format_args!("a=ptime:{p}"));
        }
        if let Some(p) = maxptime {
            self.line(format_args!("a=maxptime:{p}"));
        }
    }

    fn crypto(&mut self, c: &Crypto) {
        self.0.push_str("a=crypto:");
        self.0.push_str(&c.to_sdp_value());
        self.0.push_str("\r\n");
    }

    fn ice_dtls(&mut self, alloc: &MediaAllocation, cands: &[SocketAddr], fp: &str, setup: Setup) {
        for (i, a) in cands.iter().enumerate() {
            self.line(format_args!(
                "a=candidate:{} 1 udp {} {} {} typ host",
                i + 1,
                host_priority(i),
                a.ip(),
                a.port()
            ));
        }
        self.line(format_args!("a=ice-ufrag:{}", alloc.ice_ufrag));
        self.line(format_args!("a=ice-pwd:{}", alloc.ice_pwd));
        self.line(format_args!("a=fingerprint:sha-256 {fp}"));
        self.line(format_args!("a=setup:{}", setup.as_str()));
    }

    /// A rejected section (port 0) mirroring an offered one we do not carry, as RFC 3264 6 requires.
    fn rejected(&mut self, m: &Media) {
        if let Ok(ml) = m.media_line() {
            let fmt0 = ml.formats.first().map(String::as_str).unwrap_or("0");
            self.line(format_args!("m={} 0 {} {fmt0}", ml.media, ml.proto));
            if let Some(mid) = m.mid() {
                self.line(format_args!("a=mid:{mid}"));
            }
        }
    }
}

fn addrtype(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// RFC 8445 5.1.2.1 priority of our i-th host candidate (component 1).
fn host_priority(i: usize) -> u32 {
    let local_pref = 65535u32.saturating_sub(u32::try_from(i).unwrap_or(u32::MAX));
    (126 << 24) | (local_pref << 8) | 255
}

fn conn(ip: IpAddr) -> Connection {
    Connection::from_ip(ip)
}

// ---------------------------------------------------------------------------------------------------------------
// Meta's leg read from an offer Meta sent.

/// An offer from either side, with its audio section and codecs.
struct Offer {
    doc: Doc,
    kind: Kind,
    codecs: Codecs,
}

impl Offer {
    /// Meta's offer: DTLS or SDES (plain RTP is refused).
    fn from_meta(text: &str) -> Result<Offer> {
        Offer::parse(
            text,
            "Meta's offer",
            "audio section in Meta's offer",
            Kind::Rtp,
            "opus in Meta's offer",
        )
    }

    /// The PBX's offer: SDES or plain RTP (DTLS is refused: the PBX leg is the classic SIP side).
    fn from_pbx(text: &str) -> Result<Offer> {
        let opus = "opus in the PBX's offer (Meta speaks only opus)";
        Offer::parse(
            text,
            "the PBX's offer",
            "audio section in the PBX's offer",
            Kind::Dtls,
            opus,
        )
    }

    fn parse(
        text: &str,
        side: &str,
        who: &'static str,
        refused: Kind,
        opus: &'static str,
    ) -> Result<Offer> {
        let doc = Doc::parse(text, who)?;
        let kind = doc.kind()?;
        if kind == refused {
            let proto = sanitize(&doc.proto);
            return Err(Error::Unsupported(format!("{proto} in {side}")));
        }
        let codecs = doc.codecs(opus)?;
        Ok(Offer { doc, kind, codecs })
    }

    /// Our DTLS role answering this offer.
    fn our_dtls_role(&self) -> Result<DtlsRole> {
        match self.doc.view().setup()? {
            None | Some(Setup::ActPass) | Some(Setup::Passive) => Ok(DtlsRole::Client),
            Some(Setup::Active) => Ok(DtlsRole::Server),
            Some(Setup::HoldConn) => Err(Error::Unsupported("a=setup:holdconn".to_owned())),
        }
    }

    /// The crypto line we accept (SDES offers only); `allowed` limits the suites when given.
    fn chosen_crypto(&self, allowed: Option<&[CryptoSuite]>) -> Result<Option<Crypto>> {
        if self.kind != Kind::Sdes {
            return Ok(None);
        }
        choose_crypto(&self.doc.view(), allowed).map(Some)
    }

    /// Meta's leg as far as its offer tells, with `local_sdes` as our key on an SDES leg.
    fn meta_leg(
        &self,
        alloc: &MediaAllocation,
        local_sdes: Option<Crypto>,
        direction: Direction,
    ) -> Result<LegPlan> {
        let view = self.doc.view();
        let (security, ice) = match self.chosen_crypto(None)? {
            None => {
                let local = (
                    alloc.ice_ufrag.as_str(),
                    alloc.ice_pwd.as_str(),
                    alloc.meta_candidates(),
                );
                let who = "ICE credentials in Meta's offer";
                dtls_ice(&view, self.our_dtls_role()?, local, None, who)?
            }
            Some(theirs) => (
                LegSecurity::Sdes(sdes_keys(theirs, first_key(local_sdes))),
                None,
            ),
        };
        self.doc.leg(
            alloc.meta_side,
            view.rtcp_mux(),
            security,
            ice,
            self.codecs.payload(),
            direction,
        )
    }

    /// The PBX's leg as far as its offer tells, with `local` as our key on an SDES leg.
    fn pbx_leg(
        &self,
        alloc: &MediaAllocation,
        cfg: &MapConfig,
        local: Option<Crypto>,
        direction: Direction,
    ) -> Result<LegPlan> {
        let security = match self.chosen_crypto(pbx_suites(cfg))? {
            None => LegSecurity::Rtp,
            Some(theirs) => LegSecurity::Sdes(sdes_keys(theirs, first_key(local))),
        };
        let mux = self.doc.view().rtcp_mux();
        self.doc.leg(
            alloc.pbx_side,
            mux,
            security,
            None,
            self.codecs.payload(),
            direction,
        )
    }
}

/// The suites we accept from the PBX, if the configuration limits them.
fn pbx_suites(cfg: &MapConfig) -> Option<&[CryptoSuite]> {
    match &cfg.pbx_media {
        PbxMedia::Sdes(list) if !list.is_empty() => Some(list.as_slice()),
        _ => None,
    }
}

fn pbx_offer_cryptos(cfg: &MapConfig) -> Result<Vec<Crypto>> {
    match &cfg.pbx_media {
        PbxMedia::Rtp => Ok(Vec::new()),
        PbxMedia::Sdes(suites) => {
            if suites.is_empty() {
                return Err(Error::Config("PbxMedia::Sdes needs at least one suite"));
            }
            let mut v = Vec::with_capacity(suites.len());
            for (i, s) in suites.iter().enumerate() {
                if v.iter().any(|c: &Crypto| c.suite == *s) {
                    continue;
                }
                v.push(Crypto::generate(u32::try_from(i + 1).unwrap_or(1), *s)?);
            }
            Ok(v)
        }
    }
}

/// Maps Meta's offer (user-initiated call; DTLS `UDP/TLS/RTP/SAVPF` with ICE, or SDES `RTP/SAVP`) to an offer
/// for the PBX: SDES `RTP/SAVP` with fresh keys, or plain `RTP/AVP`, per `cfg.pbx_media`; our `pbx_side`
/// address; no ICE, DTLS or BUNDLE lines; opus and telephone-event with Meta's payload types, ptime kept.
///
/// The plan is provisional (`answered == false`): Meta's ICE credentials, candidates and fingerprint (or SDES
/// key) are known; the PBX's address and key come with [`pbx_answer_to_meta`].
pub fn meta_offer_to_pbx(
    meta_offer: &str,
    alloc: &MediaAllocation,
    cfg: &MapConfig,
) -> Result<Mapped> {
    let meta = Offer::from_meta(meta_offer)?;
    let pbx_addr = alloc.check_pbx()?;
    // Check what the answer will need now, so a bad allocation fails before the PBX is called.
    let dtls = meta.kind == Kind::Dtls;
    alloc.check_meta(dtls)?;
    if dtls {
        alloc.fingerprint()?;
    }
    let cryptos = pbx_offer_cryptos(cfg)?;
    let dir = meta.doc.view().direction();
    let c = &meta.codecs;

    let mut w = W::new();
    w.head("wacall", pbx_addr.ip(), &cfg.session_name)?;
    w.line(format_args!("c={}", conn(pbx_addr.ip())));
    w.line(format_args!("t=0 0"));
    let proto = if cryptos.is_empty() {
        "RTP/AVP"
    } else {
        "RTP/SAVP"
    };
    match c.te {
        Some(te) => w.line(format_args!(
            "m=audio {} {proto} {} {te}",
            pbx_addr.port(),
            c.opus
        )),
        None => w.line(format_args!(
            "m=audio {} {proto} {}",
            pbx_addr.port(),
            c.opus
        )),
    }
    w.codecs((c.opus, c.te), c.opus_fmtp.as_deref(), c.te_fmtp.as_deref());
    w.ptime(c.ptime, c.maxptime);
    w.line(format_args!("a={}", dir.as_str()));
    if cfg.pbx_rtcp_mux {
        w.line(format_args!("a=rtcp-mux"));
    }
    if let Some(r) = alloc.pbx_rtcp {
        w.line(format_args!(
            "a=rtcp:{} IN {} {}",
            r.port(),
            addrtype(r.ip()),
            r.ip()
        ));
    }
    for cr in &cryptos {
        w.crypto(cr);
    }

    let meta_leg = meta.meta_leg(alloc, None, dir.answer_limit())?;
    let pbx = LegPlan {
        local: alloc.pbx_side,
        remote_rtp: None,
        remote_rtcp: None,
        rtcp_mux: cfg.pbx_rtcp_mux,
        security: match cryptos.into_iter().next() {
            None => LegSecurity::Rtp,
            Some(cr) => LegSecurity::Sdes(SdesKeys {
                suite: cr.suite,
                tag: cr.tag,
                local: cr.keys.into_iter().next().map(|k| k.key),
                remote: None,
                remote_mki: None,
            }),
        },
        ice: None,
        payload: c.payload(),
        direction: dir,
        mid: None,
    };
    log::debug!(
        "sdp: mapped Meta offer ({:?}) to PBX offer ({proto})",
        meta.kind
    );
    Ok(Mapped {
        sdp: w.0,
        plan: CallPlan {
            meta: meta_leg,
            pbx,
            answered: false,
        },
    })
}

/// Reads the PBX leg from the PBX's answer to `pbx_offer` (the SDP we sent it).
fn pbx_leg_from_answer(
    pbx_offer: &str,
    pbx_answer: &str,
    alloc: &MediaAllocation,
) -> Result<(LegPlan, Doc, Codecs)> {
    let ours = Doc::parse(pbx_offer, "audio section in our PBX offer")?;
    let ans = Doc::parse(pbx_answer, "accepted audio section in the PBX's answer")?;
    let our_kind = ours.kind()?;
    let kind = ans.kind()?;
    let view = ans.view();
    let security = match (our_kind, kind) {
        (Kind::Rtp, Kind::Rtp) => LegSecurity::Rtp,
        (Kind::Sdes, Kind::Sdes) => {
            let (theirs, local) = answered_crypto(&view, &our_cryptos(&ours))?;
            LegSecurity::Sdes(sdes_keys(theirs, Some(local)))
        }
        _ => {
            return Err(Error::Unsupported(format!(
                "PBX answered {} to our {} offer",
                sanitize(&ans.proto),
                ours.proto
            )))
        }
    };
    let codecs = ans.codecs("opus in the PBX's answer")?;
    // Multiplexed only if we offered it and the PBX accepted it (RFC 5761 5.1.1).
    let mux = view.rtcp_mux() && ours.view().rtcp_mux();
    let direction = ours
        .view()
        .direction()
        .intersect(view.direction().answer_limit());
    let mut leg = ans.leg(
        alloc.pbx_side,
        mux,
        security,
        None,
        codecs.payload(),
        direction,
    )?;
    leg.mid = None;
    Ok((leg, ans, codecs))
}

/// Maps the PBX's answer to a Meta answer (user-initiated call). `meta_offer` is Meta's original offer,
/// `pbx_offer` the SDP [`meta_offer_to_pbx`] produced (our SDES keys are read back from it), `pbx_answer` the
/// PBX's answer.
///
/// For a DTLS offer the answer has `UDP/TLS/RTP/SAVPF`, `a=setup:active`, our sha-256 fingerprint (upper-case),
/// our ICE credentials and host candidates (full agent, no `a=ice-lite`), `a=rtcp-mux`, Meta's BUNDLE group and
/// mid, Meta's payload types for opus and (if the PBX kept it) telephone-event, and the direction the PBX
/// answered, limited by Meta's offer. For an SDES offer: `RTP/SAVP` with a fresh key for the suite and tag Meta
/// offered. Other media sections of Meta's offer are rejected (port 0). The plan is final.
pub fn pbx_answer_to_meta(
    meta_offer: &str,
    pbx_offer: &str,
    pbx_answer: &str,
    alloc: &MediaAllocation,
    cfg: &MapConfig,
) -> Result<Mapped> {
    let _ = cfg;
    let meta = Offer::from_meta(meta_offer)?;
    let (pbx, ans, pbx_codecs) = pbx_leg_from_answer(pbx_offer, pbx_answer, alloc)?;
    let dtls = meta.kind == Kind::Dtls;
    let cands = alloc.check_meta(dtls)?;
    let fp = if dtls {
        alloc.fingerprint()?
    } else {
        String::new()
    };
    let mview = meta.doc.view();
    let mc = &meta.codecs;

    // Telephone-event goes through only if both sides have it; Meta's numbering is used toward Meta.
    let te = mc.te.filter(|_| pbx_codecs.te.is_some());
    let dir = ans
        .view()
        .direction()
        .intersect(mview.direction().answer_limit());
    let ip = cands[0].ip();
    let port = cands[0].port();
    let local_crypto = if dtls {
        None
    } else {
        let theirs = choose_crypto(&mview, None)?;
        Some(Crypto::generate(theirs.tag, theirs.suite)?)
    };

    let mut w = W::new();
    w.head("-", ip, "-")?;
    w.line(format_args!("t=0 0"));
    if let Some(mid) = meta.doc.bundle_mid() {
        w.line(format_args!("a=group:BUNDLE {mid}"));
    }
    for (i, m) in meta.doc.sdp.media().iter().enumerate() {
        if i != meta.doc.audio {
            w.rejected(m);
            continue;
        }
        match te {
            Some(te) => w.line(format_args!(
                "m=audio {port} {} {} {te}",
                meta.doc.proto, mc.opus
            )),
            None => w.line(format_args!(
                "m=audio {port} {} {}",
                meta.doc.proto, mc.opus
            )),
        }
        w.line(format_args!("c={}", conn(ip)));
        if dtls {
            let setup = match meta.our_dtls_role()? {
                DtlsRole::Client => Setup::Active,
                DtlsRole::Server => Setup::Passive,
            };
            w.ice_dtls(alloc, &cands, &fp, setup);
        }
        if let Some(mid) = meta.doc.mid() {
            w.line(format_args!("a=mid:{mid}"));
        }
        w.line(format_args!("a={}", dir.as_str()));
        if mview.rtcp_mux() {
            w.line(format_args!("a=rtcp-mux"));
        }
        if let Some(cr) = &local_crypto {
            w.crypto(cr);
        }
        // The PBX's receive preferences for opus are what matter end to end; fall back to Meta's.
        let opus_fmtp = pbx_codecs.opus_fmtp.as_deref().or(mc.opus_fmtp.as_deref());
        let te_fmtp = pbx_codecs.te_fmtp.as_deref().or(mc.te_fmtp.as_deref());
        w.codecs((mc.opus, te), opus_fmtp, te_fmtp);
        w.ptime(
            pbx_codecs.ptime.or(mc.ptime),
            pbx_codecs.maxptime.or(mc.maxptime),
        );
    }

    let mut meta_leg = meta.meta_leg(alloc, local_crypto, dir)?;
    meta_leg.payload.telephone_event = te;
    log::debug!("sdp: mapped PBX answer to Meta answer ({:?})", meta.kind);
    Ok(Mapped {
        sdp: w.0,
        plan: CallPlan {
            meta: meta_leg,
            pbx,
            answered: true,
        },
    })
}

/// Maps the PBX's offer (business-initiated call; SDES `RTP/SAVP` or plain `RTP/AVP`) to an offer for Meta per
/// `cfg.meta_media`: DTLS+ICE (`UDP/TLS/RTP/SAVPF`, `a=setup:actpass` as RFC 5763 requires of offers; Meta,
/// being ice-lite, answers `passive`, which leaves us the DTLS client Meta expects; our ICE credentials and host
/// candidates, full controlling agent; `a=group:BUNDLE` + `a=mid` from `cfg.meta_mid`; `a=rtcp-mux`) or SDES
/// (`RTP/SAVP`, a fresh AES_CM_128_HMAC_SHA1_80 key, `a=rtcp-mux`). Only opus and telephone-event/8000 are
/// offered, with the PBX's payload types; an offer without opus is an error ([`Error::Missing`]).
///
/// The plan is provisional: the PBX's address and key are known; Meta's come with [`meta_answer_to_pbx`].
pub fn pbx_offer_to_meta(
    pbx_offer: &str,
    alloc: &MediaAllocation,
    cfg: &MapConfig,
) -> Result<Mapped> {
    let pbx = Offer::from_pbx(pbx_offer)?;
    let dtls = cfg.meta_media == MetaMedia::Dtls;
    let cands = alloc.check_meta(dtls)?;
    let fp = if dtls {
        alloc.fingerprint()?
    } else {
        String::new()
    };
    // Validate the PBX's crypto now so a bad offer fails before anything is sent to Meta.
    pbx.chosen_crypto(pbx_suites(cfg))?;
    let c = &pbx.codecs;
    let dir = pbx.doc.view().direction();
    let ip = cands[0].ip();
    let port = cands[0].port();
    let mid = cfg.meta_mid.as_str();
    if dtls && (mid.is_empty() || !mid.bytes().all(|b| b.is_ascii_graphic())) {
        return Err(Error::Config("meta_mid must be a non-empty token"));
    }
    let local_crypto = if dtls {
        None
    } else {
        Some(Crypto::generate(1, CryptoSuite::AesCm128HmacSha1_80)?)
    };

    let mut w = W::new();
    w.head("-", ip, "-")?;
    w.line(format_args!("t=0 0"));
    if dtls {
        w.line(format_args!("a=group:BUNDLE {mid}"));
    }
    let proto = if dtls {
        "UDP/TLS/RTP/SAVPF"
    } else {
        "RTP/SAVP"
    };
    match c.te {
        Some(te) => w.line(format_args!("m=audio {port} {proto} {} {te}", c.opus)),
        None => w.line(format_args!("m=audio {port} {proto} {}", c.opus)),
    }
    w.line(format_args!("c={}", conn(ip)));
    if dtls {
        w.ice_dtls(alloc, &cands, &fp, Setup::ActPass);
        w.line(format_args!("a=mid:{mid}"));
    }
    w.line(format_args!("a={}", dir.as_str()));
    w.line(format_args!("a=rtcp-mux"));
    if let Some(cr) = &local_crypto {
        w.crypto(cr);
    }
    // Meta's own opus parameters are the safe default when the PBX gives none.
    let opus_fmtp = c
        .opus_fmtp
        .as_deref()
        .or(Some("minptime=10;useinbandfec=1"));
    w.codecs((c.opus, c.te), opus_fmtp, c.te_fmtp.as_deref());
    w.ptime(c.ptime, c.maxptime);

    let meta_leg = LegPlan {
        local: alloc.meta_side,
        remote_rtp: None,
        remote_rtcp: None,
        rtcp_mux: true,
        security: match local_crypto {
            None => LegSecurity::Dtls(DtlsParams {
                remote_fingerprint: None,
                role: None,
            }),
            Some(cr) => LegSecurity::Sdes(SdesKeys {
                suite: cr.suite,
                tag: cr.tag,
                local: cr.keys.into_iter().next().map(|k| k.key),
                remote: None,
                remote_mki: None,
            }),
        },
        ice: dtls.then(|| IceParams {
            local_ufrag: alloc.ice_ufrag.clone(),
            local_pwd: alloc.ice_pwd.clone(),
            local_candidates: cands.clone(),
            remote_ufrag: None,
            remote_pwd: None,
            remote_candidates: Vec::new(),
            remote_lite: false,
            controlling: true,
        }),
        payload: c.payload(),
        direction: dir,
        mid: dtls.then(|| mid.to_owned()),
    };
    let pbx_leg = pbx.pbx_leg(alloc, cfg, None, dir.answer_limit())?;
    log::debug!(
        "sdp: mapped PBX offer ({:?}) to Meta offer ({proto})",
        pbx.kind
    );
    Ok(Mapped {
        sdp: w.0,
        plan: CallPlan {
            meta: meta_leg,
            pbx: pbx_leg,
            answered: false,
        },
    })
}

/// Maps Meta's answer to an answer for the PBX (business-initiated call). `pbx_offer` is the PBX's original
/// offer, `meta_offer` the SDP [`pbx_offer_to_meta`] produced (our SDES key toward Meta is read back from it),
/// `meta_answer` Meta's answer (DTLS, or SDES `RTP/SAVP` + `a=crypto` as in the seed's 200 OK).
///
/// The PBX gets the proto it offered (`RTP/SAVP` with a fresh key for the suite and tag we accepted, or
/// `RTP/AVP`), our `pbx_side` address, opus and telephone-event (if Meta kept it) with the PBX's payload types,
/// rtcp-mux if the PBX offered it, Meta's direction; other offered sections are rejected (port 0). The plan is
/// final; on Meta's DTLS leg our role follows Meta's `a=setup` (`passive` makes us the client).
pub fn meta_answer_to_pbx(
    pbx_offer: &str,
    meta_offer: &str,
    meta_answer: &str,
    alloc: &MediaAllocation,
    cfg: &MapConfig,
) -> Result<Mapped> {
    let pbx = Offer::from_pbx(pbx_offer)?;
    let ours = Doc::parse(meta_offer, "audio section in our Meta offer")?;
    let ans = Doc::parse(meta_answer, "accepted audio section in Meta's answer")?;
    let pbx_addr = alloc.check_pbx()?;
    let our_kind = ours.kind()?;
    let kind = ans.kind()?;
    let view = ans.view();
    let meta_codecs = ans.codecs("opus in Meta's answer")?;
    let (security, ice) = match (our_kind, kind) {
        (Kind::Dtls, Kind::Dtls) => {
            let role = match view.setup()? {
                Some(Setup::Passive) | None => DtlsRole::Client,
                Some(Setup::Active) => DtlsRole::Server,
                Some(s) => {
                    return Err(Error::Unsupported(format!(
                        "a=setup:{} in an answer",
                        s.as_str()
                    )));
                }
            };
            let iv = ours.view();
            let local = (
                iv.ice_ufrag().unwrap_or_default(),
                iv.ice_pwd().unwrap_or_default(),
                alloc.meta_candidates(),
            );
            // We offered, so we control (RFC 8445 6.1.1), as we must against a lite peer anyway.
            dtls_ice(
                &view,
                role,
                local,
                Some(true),
                "ICE credentials in Meta's answer",
            )?
        }
        (Kind::Sdes, Kind::Sdes) => {
            let (theirs, local) = answered_crypto(&view, &our_cryptos(&ours))?;
            (LegSecurity::Sdes(sdes_keys(theirs, Some(local))), None)
        }
        _ => {
            return Err(Error::Unsupported(format!(
                "Meta answered {} to our {} offer",
                sanitize(&ans.proto),
                ours.proto
            )))
        }
    };
    let meta_dir = view.direction();
    let direction = ours.view().direction().intersect(meta_dir.answer_limit());
    let meta_leg = ans.leg(
        alloc.meta_side,
        view.rtcp_mux(),
        security,
        ice,
        meta_codecs.payload(),
        direction,
    )?;

    // Toward the PBX: its own numbering; telephone-event only if Meta kept it.
    let c = &pbx.codecs;
    let te = c.te.filter(|_| meta_codecs.te.is_some());
    let dir = meta_dir.intersect(pbx.doc.view().direction().answer_limit());
    let local_crypto = match pbx.chosen_crypto(pbx_suites(cfg))? {
        Some(theirs) => Some(Crypto::generate(theirs.tag, theirs.suite)?),
        None => None,
    };
    let pbx_mux = pbx.doc.view().rtcp_mux();

    let mut w = W::new();
    w.head("wacall", pbx_addr.ip(), &cfg.session_name)?;
    w.line(format_args!("c={}", conn(pbx_addr.ip())));
    w.line(format_args!("t=0 0"));
    for (i, m) in pbx.doc.sdp.media().iter().enumerate() {
        if i != pbx.doc.audio {
            w.rejected(m);
            continue;
        }
        match te {
            Some(te) => w.line(format_args!(
                "m=audio {} {} {} {te}",
                pbx_addr.port(),
                pbx.doc.proto,
                c.opus
            )),
            None => w.line(format_args!(
                "m=audio {} {} {}",
                pbx_addr.port(),
                pbx.doc.proto,
                c.opus
            )),
        }
        if let Some(mid) = pbx.doc.mid() {
            w.line(format_args!("a=mid:{mid}"));
        }
        let opus_fmtp = meta_codecs.opus_fmtp.as_deref().or(c.opus_fmtp.as_deref());
        w.codecs((c.opus, te), opus_fmtp, c.te_fmtp.as_deref());
        w.ptime(
            meta_codecs.ptime.or(c.ptime),
            meta_codecs.maxptime.or(c.maxptime),
        );
        w.line(format_args!("a={}", dir.as_str()));
        if pbx_mux {
            w.line(format_args!("a=rtcp-mux"));
        } else if let Some(r) = alloc.pbx_rtcp {
            w.line(format_args!(
                "a=rtcp:{} IN {} {}",
                r.port(),
                addrtype(r.ip()),
                r.ip()
            ));
        }
        if let Some(cr) = &local_crypto {
            w.crypto(cr);
        }
    }

    let mut pbx_leg = pbx.pbx_leg(alloc, cfg, local_crypto, dir)?;
    pbx_leg.payload.telephone_event = te;
    log::debug!(
        "sdp: mapped Meta answer ({kind:?}) to PBX answer ({})",
        pbx.doc.proto
    );
    Ok(Mapped {
        sdp: w.0,
        plan: CallPlan {
            meta: meta_leg,
            pbx: pbx_leg,
            answered: true,
        },
    })
}
