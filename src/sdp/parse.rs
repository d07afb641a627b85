//! Lossless SDP parsing and printing: lines are kept byte for byte with their own line ending, so printing an
//! unchanged parse gives back the input; the parser is bounded so hostile input yields an error, never a panic.

use super::model::{Line, LineEnding, Media, Sdp};
use super::{Error, Result};

/// Largest SDP body accepted, in bytes. Real SDPs are 0.4-3 KB; 64 KiB leaves room for many candidates.
pub const MAX_SDP_LEN: usize = 64 * 1024;
/// Most lines accepted in one SDP.
pub const MAX_LINES: usize = 1024;
/// Longest line accepted, in bytes (without its line ending).
pub const MAX_LINE_LEN: usize = 4096;
/// Most `m=` sections accepted.
pub const MAX_MEDIA: usize = 64;

impl Sdp {
    /// Parses SDP text. Accepts CRLF or LF line endings (even mixed, kept per line), a missing final line ending
    /// and blank lines (kept, ignored by typed access). The first line must be `v=`; every other non-blank
    /// line must be `<letter>=<value>`. Control characters other than tab are rejected.
    pub fn parse(text: &str) -> Result<Sdp> {
        if text.len() > MAX_SDP_LEN {
            return Err(Error::TooLarge {
                len: text.len(),
                max: MAX_SDP_LEN,
            });
        }
        let mut session: Vec<Line> = Vec::with_capacity(8);
        let mut media: Vec<Media> = Vec::new();
        let mut crlf = 0usize;
        let mut lf = 0usize;
        let mut rest = text;
        let mut lineno = 0usize;
        while !rest.is_empty() {
            lineno += 1;
            if lineno > MAX_LINES {
                return Err(Error::TooMany {
                    what: "lines",
                    max: MAX_LINES,
                });
            }
            let (body, eol, next) = match rest.find('\n') {
                Some(i) => {
                    let (body, eol) = if i > 0 && rest.as_bytes()[i - 1] == b'\r' {
                        crlf += 1;
                        (&rest[..i - 1], LineEnding::CrLf)
                    } else {
                        lf += 1;
                        (&rest[..i], LineEnding::Lf)
                    };
                    (body, eol, &rest[i + 1..])
                }
                None => (rest, LineEnding::None, ""),
            };
            rest = next;
            check_line(body, lineno, session.is_empty() && media.is_empty())?;
            let line = Line::from_parts(body.to_owned(), eol);
            if line.kind() == Some('m') {
                if media.len() >= MAX_MEDIA {
                    return Err(Error::TooMany {
                        what: "media sections",
                        max: MAX_MEDIA,
                    });
                }
                media.push(Media::from_lines(vec![line]));
            } else if let Some(m) = media.last_mut() {
                m.push_raw(line);
            } else {
                session.push(line);
            }
        }
        if session.is_empty() {
            return Err(Error::Syntax {
                line: 1,
                reason: "empty SDP",
            });
        }
        let eol = if lf > crlf {
            LineEnding::Lf
        } else {
            LineEnding::CrLf
        };
        Ok(Sdp::from_parts(session, media, eol))
    }

    /// Parses SDP from bytes (a SIP body), rejecting non-UTF-8 input.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Sdp> {
        if bytes.len() > MAX_SDP_LEN {
            return Err(Error::TooLarge {
                len: bytes.len(),
                max: MAX_SDP_LEN,
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|_| Error::NotUtf8)?;
        Sdp::parse(text)
    }
}

fn check_line(body: &str, lineno: usize, first: bool) -> Result<()> {
    if body.len() > MAX_LINE_LEN {
        return Err(Error::Syntax {
            line: lineno,
            reason: "line too long",
        });
    }
    if body.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(Error::Syntax {
            line: lineno,
            reason: "control character in line",
        });
    }
    let b = body.as_bytes();
    if first {
        if !body.starts_with("v=") {
            return Err(Error::Syntax {
                line: lineno,
                reason: "SDP must start with v=",
            });
        }
        return Ok(());
    }
    if b.is_empty() {
        return Ok(());
    }
    if b.len() < 2 || !b[0].is_ascii_alphabetic() || b[1] != b'=' {
        return Err(Error::Syntax {
            line: lineno,
            reason: "expected <letter>=<value>",
        });
    }
    Ok(())
}

impl std::fmt::Display for Sdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for line in self.lines() {
            f.write_str(line.text())?;
            f.write_str(line.ending().as_str())?;
        }
        Ok(())
    }
}
