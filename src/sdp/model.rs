//! The SDP document model: session lines plus media sections, each a list of raw lines, with typed accessors
//! and editing helpers that touch only the lines they change (everything else, order included, is kept).

use super::attr::{
    Attribute, Candidate, Connection, Direction, Fingerprint, Group, MediaLine, Origin, Rtcp,
    RtcpFb, RtpMap, Setup, Ssrc, Timing,
};
use super::crypto::Crypto;
use super::{Error, Result};

/// How a line ended in the input (or should end when printed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnding {
    /// `\r\n` (RFC 8866).
    CrLf,
    /// A bare `\n` (tolerated on input).
    Lf,
    /// No line ending: the last line of an input that lacked a final newline.
    None,
}

impl LineEnding {
    /// The bytes of this line ending.
    pub fn as_str(self) -> &'static str {
        match self {
            LineEnding::CrLf => "\r\n",
            LineEnding::Lf => "\n",
            LineEnding::None => "",
        }
    }
}

/// One SDP line, kept verbatim (without its line ending). `Debug` hides `a=crypto` keys and `a=ice-pwd`.
#[derive(Clone, PartialEq, Eq)]
pub struct Line {
    text: String,
    eol: LineEnding,
    /// Where an `a=` line's name ends (index of the first `:` or the end), computed once: typed accessors
    /// look attributes up by name many times per mapping.
    name_end: u16,
}

impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = match self.attribute() {
            Some(a) if a.name == "crypto" => {
                let v = a.value.unwrap_or("");
                let head: Vec<&str> = v.split_ascii_whitespace().take(2).collect();
                format!("a=crypto:{} <redacted>", head.join(" "))
            }
            Some(a) if a.name == "ice-pwd" => "a=ice-pwd:<redacted>".to_owned(),
            _ => self.text.clone(),
        };
        f.debug_struct("Line")
            .field("text", &shown)
            .field("eol", &self.eol)
            .finish()
    }
}

impl Line {
    pub(crate) fn from_parts(text: String, eol: LineEnding) -> Line {
        let mut l = Line {
            text,
            eol,
            name_end: 0,
        };
        l.index();
        l
    }

    fn index(&mut self) {
        let b = self.text.as_bytes();
        let end = if b.len() >= 2 && b[0] == b'a' && b[1] == b'=' {
            b[2..]
                .iter()
                .position(|&c| c == b':')
                .map_or(b.len(), |i| i + 2)
        } else {
            0
        };
        // Lines are bounded by MAX_LINE_LEN on parse; an edit with a longer line just loses the fast path.
        self.name_end = u16::try_from(end).unwrap_or(0);
    }

    fn set_text(&mut self, text: String) {
        self.text = text;
        self.index();
    }

    /// A new line `<kind>=<value>` ending in `eol`.
    pub fn new(kind: char, value: &str, eol: LineEnding) -> Line {
        let mut text = String::with_capacity(value.len() + 2);
        text.push(kind);
        text.push('=');
        text.push_str(value);
        Line::from_parts(text, eol)
    }

    /// The line's type letter (`v`, `o`, `m`, `a`, ...), or `None` for a blank line.
    pub fn kind(&self) -> Option<char> {
        let b = self.text.as_bytes();
        if b.len() >= 2 && b[1] == b'=' {
            Some(b[0] as char)
        } else {
            None
        }
    }

    /// The text after `<letter>=` (empty for a blank line).
    pub fn value(&self) -> &str {
        if self.kind().is_some() {
            &self.text[2..]
        } else {
            ""
        }
    }

    /// The whole line without its ending.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The line's ending.
    pub fn ending(&self) -> LineEnding {
        self.eol
    }

    /// The attribute this `a=` line carries, if it is one.
    pub fn attribute(&self) -> Option<Attribute<'_>> {
        let end = usize::from(self.name_end);
        if end >= 2 {
            let name = &self.text[2..end];
            let value = self.text.get(end + 1..);
            Some(Attribute { name, value })
        } else if self.kind() == Some('a') {
            Some(Attribute::split(self.value()))
        } else {
            None
        }
    }

    fn is_attr(&self, name: &str) -> bool {
        self.attribute().is_some_and(|a| a.name == name)
    }
}

fn attrs<'a>(lines: &'a [Line]) -> impl Iterator<Item = Attribute<'a>> + 'a {
    lines.iter().filter_map(Line::attribute)
}

fn attr_values<'a>(lines: &'a [Line], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    attrs(lines)
        .filter(move |a| a.name == name)
        .map(|a| a.value.unwrap_or(""))
}

fn first_value<'a>(lines: &'a [Line], name: &str) -> Option<&'a str> {
    attrs(lines)
        .find(|a| a.name == name)
        .map(|a| a.value.unwrap_or(""))
}

fn has_flag(lines: &[Line], name: &str) -> bool {
    attrs(lines).any(|a| a.name == name)
}

fn direction_of(lines: &[Line]) -> Option<Direction> {
    attrs(lines).find_map(|a| Direction::from_attr_name(a.name))
}

/// Appends `line` after index `at - 1`, fixing the ending of a previous final line that had none.
fn insert_line(lines: &mut Vec<Line>, at: usize, mut line: Line, eol: LineEnding) {
    let at = at.min(lines.len());
    if at == lines.len() {
        if let Some(last) = lines.last_mut() {
            if last.eol == LineEnding::None {
                last.eol = eol;
                line.eol = LineEnding::None;
            }
        }
    }
    lines.insert(at, line);
}

fn set_attr(lines: &mut Vec<Line>, start: usize, name: &str, value: Option<&str>, eol: LineEnding) {
    let text = match value {
        Some(v) => format!("{name}:{v}"),
        None => name.to_owned(),
    };
    let mut found = false;
    let mut i = start;
    while i < lines.len() {
        if lines[i].is_attr(name) {
            if found {
                lines.remove(i);
                continue;
            }
            lines[i].set_text(format!("a={text}"));
            found = true;
        }
        i += 1;
    }
    if !found {
        let at = lines.len();
        insert_line(lines, at, Line::new('a', &text, eol), eol);
    }
}

fn remove_attr(lines: &mut Vec<Line>, name: &str) -> usize {
    let before = lines.len();
    let last_unterminated = lines.last().is_some_and(|l| l.eol == LineEnding::None);
    lines.retain(|l| !l.is_attr(name));
    // The input lacked a final newline: keep it that way if the removed line was the last one.
    if last_unterminated {
        if let Some(last) = lines.last_mut() {
            last.eol = LineEnding::None;
        }
    }
    before - lines.len()
}

/// One media section: the `m=` line and the lines after it up to the next `m=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    lines: Vec<Line>,
}

impl Media {
    pub(crate) fn from_lines(lines: Vec<Line>) -> Media {
        Media { lines }
    }

    pub(crate) fn push_raw(&mut self, line: Line) {
        self.lines.push(line);
    }

    /// All lines of the section, `m=` first.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The typed `m=` line.
    pub fn media_line(&self) -> Result<MediaLine> {
        MediaLine::parse(self.lines[0].value())
    }

    /// The media type (`audio`, `video`, ...), read cheaply from the `m=` line.
    pub fn media_type(&self) -> &str {
        self.lines[0].value().split(' ').next().unwrap_or("")
    }

    /// Every attribute of the section, in order.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'_>> + '_ {
        attrs(&self.lines)
    }

    /// The value of the first attribute `name` (`Some("")` for a flag such as `rtcp-mux`).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        first_value(&self.lines, name)
    }

    /// The values of every attribute `name`, in order.
    pub fn attribute_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        attr_values(&self.lines, name)
    }

    /// Whether the flag (or any) attribute `name` is present.
    pub fn has_attribute(&self, name: &str) -> bool {
        has_flag(&self.lines, name)
    }

    /// The section's own `c=` line.
    pub fn connection(&self) -> Result<Option<Connection>> {
        match self.lines.iter().find(|l| l.kind() == Some('c')) {
            Some(l) => Connection::parse(l.value()).map(Some),
            None => Ok(None),
        }
    }

    /// `a=rtpmap` lines.
    pub fn rtpmaps(&self) -> impl Iterator<Item = Result<RtpMap>> + '_ {
        attr_values(&self.lines, "rtpmap").map(RtpMap::parse)
    }

    /// The `a=rtpmap` of payload type `pt`.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap> {
        self.rtpmaps().filter_map(|r| r.ok()).find(|r| r.pt == pt)
    }

    /// The `a=fmtp` parameters of payload type `pt` (the text after the PT).
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        attr_values(&self.lines, "fmtp").find_map(|v| {
            let (p, rest) = v.split_once(' ').unwrap_or((v, ""));
            (p.parse::<u8>().ok() == Some(pt)).then_some(rest.trim_start())
        })
    }

    /// `a=rtcp-fb` lines for payload type `pt` (including `*` wildcards).
    pub fn rtcp_fbs(&self, pt: u8) -> impl Iterator<Item = RtcpFb> + '_ {
        attr_values(&self.lines, "rtcp-fb")
            .filter_map(|v| RtcpFb::parse(v).ok())
            .filter(move |f| f.pt.is_none() || f.pt == Some(pt))
    }

    /// `a=crypto` lines (RFC 4568). Lines with a suite wacall does not know come back as errors.
    pub fn cryptos(&self) -> impl Iterator<Item = Result<Crypto>> + '_ {
        attr_values(&self.lines, "crypto").map(Crypto::parse)
    }

    /// `a=candidate` lines of this section.
    pub fn candidates(&self) -> impl Iterator<Item = Result<Candidate>> + '_ {
        attr_values(&self.lines, "candidate").map(Candidate::parse)
    }

    /// `a=mid`.
    pub fn mid(&self) -> Option<&str> {
        first_value(&self.lines, "mid")
    }

    /// Whether `a=rtcp-mux` is present.
    pub fn rtcp_mux(&self) -> bool {
        has_flag(&self.lines, "rtcp-mux")
    }

    /// `a=rtcp` (RFC 3605).
    pub fn rtcp(&self) -> Result<Option<Rtcp>> {
        first_value(&self.lines, "rtcp")
            .map(Rtcp::parse)
            .transpose()
    }

    /// The section's own direction attribute, if any (see [`MediaView::direction`] for the effective one).
    pub fn direction(&self) -> Option<Direction> {
        direction_of(&self.lines)
    }

    /// `a=ptime` in milliseconds.
    pub fn ptime(&self) -> Option<u32> {
        first_value(&self.lines, "ptime").and_then(|v| v.trim().parse().ok())
    }

    /// `a=maxptime` in milliseconds.
    pub fn maxptime(&self) -> Option<u32> {
        first_value(&self.lines, "maxptime").and_then(|v| v.trim().parse().ok())
    }

    /// `a=ssrc` lines (RFC 5576).
    pub fn ssrcs(&self) -> impl Iterator<Item = Result<Ssrc>> + '_ {
        attr_values(&self.lines, "ssrc").map(Ssrc::parse)
    }

    /// Replaces the `m=` port, keeping media type, proto and formats.
    pub fn set_port(&mut self, port: u16) -> Result<()> {
        let mut m = self.media_line()?;
        m.port = port;
        self.set_media_line(&m);
        Ok(())
    }

    /// Replaces the `m=` transport protocol (e.g. `RTP/SAVP`).
    pub fn set_proto(&mut self, proto: &str) -> Result<()> {
        let mut m = self.media_line()?;
        m.proto = proto.to_owned();
        self.set_media_line(&m);
        Ok(())
    }

    /// Replaces the `m=` format list (payload types for RTP).
    pub fn set_formats<S: AsRef<str>>(&mut self, formats: &[S]) -> Result<()> {
        let mut m = self.media_line()?;
        m.formats = formats.iter().map(|s| s.as_ref().to_owned()).collect();
        self.set_media_line(&m);
        Ok(())
    }

    /// Rewrites the whole `m=` line.
    pub fn set_media_line(&mut self, m: &MediaLine) {
        self.lines[0].set_text(format!("m={m}"));
    }

    /// Sets (or inserts, after `m=`/`i=`) the section's `c=` line.
    pub fn set_connection(&mut self, c: &Connection, eol: LineEnding) {
        if let Some(l) = self.lines.iter_mut().find(|l| l.kind() == Some('c')) {
            l.set_text(format!("c={c}"));
            return;
        }
        let at = 1 + usize::from(self.lines.get(1).is_some_and(|l| l.kind() == Some('i')));
        insert_line(
            &mut self.lines,
            at,
            Line::new('c', &c.to_string(), eol),
            eol,
        );
    }

    /// Sets attribute `name` (a flag when `value` is `None`): the first occurrence is rewritten in place, later
    /// ones removed; if absent it is appended.
    pub fn set_attribute(&mut self, name: &str, value: Option<&str>, eol: LineEnding) {
        set_attr(&mut self.lines, 1, name, value, eol);
    }

    /// Sets the section's direction: the first direction attribute is rewritten in place, others removed; if
    /// there is none, one is appended.
    pub fn set_direction(&mut self, dir: Direction, eol: LineEnding) {
        let mut found = false;
        let mut i = 1;
        while i < self.lines.len() {
            let is_dir = self.lines[i]
                .attribute()
                .is_some_and(|a| a.value.is_none() && Direction::from_attr_name(a.name).is_some());
            if is_dir {
                if found {
                    self.lines.remove(i);
                    continue;
                }
                self.lines[i].set_text(format!("a={}", dir.as_str()));
                found = true;
            }
            i += 1;
        }
        if !found {
            self.add_attribute(dir.as_str(), None, eol);
        }
    }

    /// Appends attribute `name` even if one exists (for repeatable ones such as `candidate`).
    pub fn add_attribute(&mut self, name: &str, value: Option<&str>, eol: LineEnding) {
        let text = match value {
            Some(v) => format!("{name}:{v}"),
            None => name.to_owned(),
        };
        let at = self.lines.len();
        insert_line(&mut self.lines, at, Line::new('a', &text, eol), eol);
    }

    /// Removes every attribute `name`; returns how many were removed.
    pub fn remove_attribute(&mut self, name: &str) -> usize {
        remove_attr(&mut self.lines, name)
    }

    /// Keeps only the non-`m=` lines for which `keep` returns true.
    pub fn retain_lines(&mut self, mut keep: impl FnMut(&Line) -> bool) {
        let mut first = true;
        self.lines.retain(|l| std::mem::take(&mut first) || keep(l));
    }
}

/// A parsed SDP document. `Display` prints it back byte for byte when unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp {
    session: Vec<Line>,
    media: Vec<Media>,
    eol: LineEnding,
}

impl Sdp {
    pub(crate) fn from_parts(session: Vec<Line>, media: Vec<Media>, eol: LineEnding) -> Sdp {
        Sdp {
            session,
            media,
            eol,
        }
    }

    /// The line ending used by most of the input; editing helpers that take an ending can be given this.
    pub fn line_ending(&self) -> LineEnding {
        self.eol
    }

    /// Every line, session first, then each media section.
    pub fn lines(&self) -> impl Iterator<Item = &Line> + '_ {
        self.session
            .iter()
            .chain(self.media.iter().flat_map(|m| m.lines.iter()))
    }

    /// The session-level lines (before the first `m=`).
    pub fn session_lines(&self) -> &[Line] {
        &self.session
    }

    fn session_value(&self, kind: char) -> Option<&str> {
        self.session
            .iter()
            .find(|l| l.kind() == Some(kind))
            .map(Line::value)
    }

    /// `o=`.
    pub fn origin(&self) -> Result<Origin> {
        Origin::parse(self.session_value('o').ok_or(Error::Missing("o= line"))?)
    }

    /// `s=` (may be absent in sloppy SDP).
    pub fn session_name(&self) -> Option<&str> {
        self.session_value('s')
    }

    /// Session-level `c=`.
    pub fn connection(&self) -> Result<Option<Connection>> {
        self.session_value('c').map(Connection::parse).transpose()
    }

    /// The first `t=` line.
    pub fn timing(&self) -> Result<Option<Timing>> {
        self.session_value('t').map(Timing::parse).transpose()
    }

    /// Session-level attributes, in order.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'_>> + '_ {
        attrs(&self.session)
    }

    /// The value of the first session-level attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        first_value(&self.session, name)
    }

    /// `a=group` lines (e.g. `BUNDLE`).
    pub fn groups(&self) -> impl Iterator<Item = Group> + '_ {
        attr_values(&self.session, "group").filter_map(|v| Group::parse(v).ok())
    }

    /// The `a=group:BUNDLE` group, if any.
    pub fn bundle(&self) -> Option<Group> {
        self.groups()
            .find(|g| g.semantics.eq_ignore_ascii_case("BUNDLE"))
    }

    /// Whether the session is `a=ice-lite`.
    pub fn ice_lite(&self) -> bool {
        has_flag(&self.session, "ice-lite")
    }

    /// The media sections.
    pub fn media(&self) -> &[Media] {
        &self.media
    }

    /// The media sections, for editing.
    pub fn media_mut(&mut self) -> &mut [Media] {
        &mut self.media
    }

    /// A view of media section `i` that falls back to session-level attributes (baresip puts ICE and DTLS
    /// attributes there).
    pub fn media_view(&self, i: usize) -> Option<MediaView<'_>> {
        self.media
            .get(i)
            .map(|media| MediaView { sdp: self, media })
    }

    /// The first `m=audio` section, as a view.
    pub fn audio(&self) -> Option<MediaView<'_>> {
        self.media
            .iter()
            .position(|m| m.media_type() == "audio")
            .and_then(|i| self.media_view(i))
    }

    /// Sets (or inserts before `t=`) the session-level `c=` line.
    pub fn set_connection(&mut self, c: &Connection) {
        let eol = self.eol;
        if let Some(l) = self.session.iter_mut().find(|l| l.kind() == Some('c')) {
            l.set_text(format!("c={c}"));
            return;
        }
        let at = self
            .session
            .iter()
            .position(|l| matches!(l.kind(), Some('b' | 't' | 'r' | 'z' | 'k' | 'a')))
            .unwrap_or(self.session.len());
        insert_line(
            &mut self.session,
            at,
            Line::new('c', &c.to_string(), eol),
            eol,
        );
    }

    /// Sets a session-level attribute (first occurrence rewritten, later ones removed, appended if absent).
    pub fn set_attribute(&mut self, name: &str, value: Option<&str>) {
        let eol = self.eol;
        set_attr(&mut self.session, 1, name, value, eol);
    }

    /// Removes every session-level attribute `name`; returns how many were removed.
    pub fn remove_attribute(&mut self, name: &str) -> usize {
        remove_attr(&mut self.session, name)
    }
}

/// A media section seen together with its session: ICE, DTLS, direction and connection attributes fall back to
/// the session level when the section lacks them (RFC 8839/8842 allow both places).
#[derive(Debug, Clone, Copy)]
pub struct MediaView<'a> {
    /// The whole SDP.
    pub sdp: &'a Sdp,
    /// The section.
    pub media: &'a Media,
}

impl<'a> MediaView<'a> {
    fn value(&self, name: &str) -> Option<&'a str> {
        first_value(&self.media.lines, name).or_else(|| first_value(&self.sdp.session, name))
    }

    /// `a=ice-ufrag` (media, else session level).
    pub fn ice_ufrag(&self) -> Option<&'a str> {
        self.value("ice-ufrag")
    }

    /// `a=ice-pwd` (media, else session level).
    pub fn ice_pwd(&self) -> Option<&'a str> {
        self.value("ice-pwd")
    }

    /// `a=ice-options` tokens (media, else session level).
    pub fn ice_options(&self) -> Vec<&'a str> {
        self.value("ice-options")
            .map(|v| v.split_ascii_whitespace().collect())
            .unwrap_or_default()
    }

    /// Whether `a=ice-lite` is set (session level per RFC 8839; media level tolerated).
    pub fn ice_lite(&self) -> bool {
        self.value("ice-lite").is_some()
    }

    /// The first `a=fingerprint` (media, else session level).
    pub fn fingerprint(&self) -> Result<Option<Fingerprint>> {
        self.value("fingerprint")
            .map(Fingerprint::parse)
            .transpose()
    }

    /// Every `a=fingerprint` of the section, or of the session if the section has none.
    pub fn fingerprints(&self) -> Vec<Result<Fingerprint>> {
        let own: Vec<_> = attr_values(&self.media.lines, "fingerprint")
            .map(Fingerprint::parse)
            .collect();
        if own.is_empty() {
            attr_values(&self.sdp.session, "fingerprint")
                .map(Fingerprint::parse)
                .collect()
        } else {
            own
        }
    }

    /// `a=setup` (media, else session level).
    pub fn setup(&self) -> Result<Option<Setup>> {
        self.value("setup").map(Setup::parse).transpose()
    }

    /// `a=candidate` lines of the section, else of the session.
    pub fn candidates(&self) -> Vec<Result<Candidate>> {
        let own: Vec<_> = self.media.candidates().collect();
        if own.is_empty() {
            attr_values(&self.sdp.session, "candidate")
                .map(Candidate::parse)
                .collect()
        } else {
            own
        }
    }

    /// The effective connection: the section's `c=`, else the session's.
    pub fn connection(&self) -> Result<Option<Connection>> {
        match self.media.connection()? {
            Some(c) => Ok(Some(c)),
            None => self.sdp.connection(),
        }
    }

    /// The effective direction: the section's, else the session's, else `sendrecv` (RFC 3264).
    pub fn direction(&self) -> Direction {
        self.media
            .direction()
            .or_else(|| direction_of(&self.sdp.session))
            .unwrap_or(Direction::SendRecv)
    }

    /// Whether rtcp-mux is on (media, else session level, which some peers use).
    pub fn rtcp_mux(&self) -> bool {
        self.media.rtcp_mux() || has_flag(&self.sdp.session, "rtcp-mux")
    }

    /// `a=crypto` lines of the section, else of the session (not standard, tolerated).
    pub fn cryptos(&self) -> Vec<Result<Crypto>> {
        let own: Vec<_> = self.media.cryptos().collect();
        if own.is_empty() {
            attr_values(&self.sdp.session, "crypto")
                .map(Crypto::parse)
                .collect()
        } else {
            own
        }
    }
}
