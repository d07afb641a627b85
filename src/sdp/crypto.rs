//! SDES keying (RFC 4568 `a=crypto`, RFC 6188 and RFC 7714 suites): parse and print crypto lines, and make
//! fresh master keys from the OS CSPRNG. Key bytes never appear in `Debug` output or error messages.

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use super::{Error, Result};

/// Peers differ on padding of inline keys (28-byte GCM keys need it); accept both, print padded.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// An SRTP crypto suite wacall can key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CryptoSuite {
    /// `AES_CM_128_HMAC_SHA1_80` (RFC 4568; Meta's SDES suite).
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32` (RFC 4568).
    AesCm128HmacSha1_32,
    /// `AES_256_CM_HMAC_SHA1_80` (RFC 6188).
    AesCm256HmacSha1_80,
    /// `AES_256_CM_HMAC_SHA1_32` (RFC 6188).
    AesCm256HmacSha1_32,
    /// `AEAD_AES_128_GCM` (RFC 7714).
    AeadAes128Gcm,
    /// `AEAD_AES_256_GCM` (RFC 7714).
    AeadAes256Gcm,
}

impl CryptoSuite {
    /// Every suite, strongest-compatible first is not implied; use this for lookups.
    pub const ALL: [CryptoSuite; 6] = [
        CryptoSuite::AesCm128HmacSha1_80,
        CryptoSuite::AesCm128HmacSha1_32,
        CryptoSuite::AesCm256HmacSha1_80,
        CryptoSuite::AesCm256HmacSha1_32,
        CryptoSuite::AeadAes128Gcm,
        CryptoSuite::AeadAes256Gcm,
    ];

    /// The SDP name.
    pub fn as_str(self) -> &'static str {
        match self {
            CryptoSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            CryptoSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            CryptoSuite::AesCm256HmacSha1_80 => "AES_256_CM_HMAC_SHA1_80",
            CryptoSuite::AesCm256HmacSha1_32 => "AES_256_CM_HMAC_SHA1_32",
            CryptoSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            CryptoSuite::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// Looks a suite up by its SDP name (case-sensitive, as RFC 4568 registers them).
    pub fn from_name(s: &str) -> Option<CryptoSuite> {
        CryptoSuite::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Master key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            CryptoSuite::AesCm128HmacSha1_80
            | CryptoSuite::AesCm128HmacSha1_32
            | CryptoSuite::AeadAes128Gcm => 16,
            _ => 32,
        }
    }

    /// Master salt length in bytes (14 for AES-CM, 12 for GCM).
    pub fn salt_len(self) -> usize {
        match self {
            CryptoSuite::AeadAes128Gcm | CryptoSuite::AeadAes256Gcm => 12,
            _ => 14,
        }
    }

    /// Length of key || salt, the `inline:` payload.
    pub fn key_salt_len(self) -> usize {
        self.key_len() + self.salt_len()
    }
}

impl fmt::Display for CryptoSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An SRTP master key concatenated with its master salt. Debug prints only the length; memory is zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpMasterKey {
    bytes: Vec<u8>,
}

impl SrtpMasterKey {
    /// Wraps key || salt bytes; the length must match `suite`.
    pub fn new(suite: CryptoSuite, bytes: Vec<u8>) -> Result<SrtpMasterKey> {
        if bytes.len() != suite.key_salt_len() {
            return Err(Error::Field {
                field: "a=crypto",
                reason: "key length does not match suite",
            });
        }
        Ok(SrtpMasterKey { bytes })
    }

    /// A fresh random key || salt for `suite` from the OS CSPRNG.
    pub fn generate(suite: CryptoSuite) -> Result<SrtpMasterKey> {
        let mut bytes = vec![0u8; suite.key_salt_len()];
        getrandom::fill(&mut bytes).map_err(|_| Error::Random)?;
        Ok(SrtpMasterKey { bytes })
    }

    /// Key || salt.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The master key part.
    pub fn key(&self, suite: CryptoSuite) -> &[u8] {
        &self.bytes[..suite.key_len().min(self.bytes.len())]
    }

    /// The master salt part.
    pub fn salt(&self, suite: CryptoSuite) -> &[u8] {
        &self.bytes[suite.key_len().min(self.bytes.len())..]
    }

    /// Base64 of key || salt, as written after `inline:`.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.bytes)
    }
}

impl fmt::Debug for SrtpMasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SrtpMasterKey(<redacted {} bytes>)", self.bytes.len())
    }
}

impl Drop for SrtpMasterKey {
    fn drop(&mut self) {
        self.bytes.fill(0);
        std::hint::black_box(&self.bytes);
    }
}

/// A master key identifier: `<value>:<length in bytes>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mki {
    /// MKI value.
    pub value: u64,
    /// Length of the MKI field in packets (1..=128 per RFC 4568; wacall accepts 1..=8).
    pub len: u8,
}

/// One `inline:` key parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParam {
    /// Key || salt.
    pub key: SrtpMasterKey,
    /// Lifetime as written (`2^31` or a decimal), if given.
    pub lifetime: Option<String>,
    /// MKI, if given.
    pub mki: Option<Mki>,
}

/// `a=crypto:<tag> <suite> inline:<key||salt>[|lifetime][|mki:len][;inline:...] [session params]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Crypto {
    /// Tag (1..=999999999); an answer echoes the tag of the offer line it accepts.
    pub tag: u32,
    /// Suite.
    pub suite: CryptoSuite,
    /// One or more keys (several only with MKIs).
    pub keys: Vec<KeyParam>,
    /// Session parameters (`UNENCRYPTED_SRTCP`, `KDR=...`), as written.
    pub session_params: Vec<String>,
}

fn bad(reason: &'static str) -> Error {
    Error::Field {
        field: "a=crypto",
        reason,
    }
}

impl Crypto {
    /// A crypto line with one fresh random key.
    pub fn generate(tag: u32, suite: CryptoSuite) -> Result<Crypto> {
        Ok(Crypto {
            tag,
            suite,
            keys: vec![KeyParam {
                key: SrtpMasterKey::generate(suite)?,
                lifetime: None,
                mki: None,
            }],
            session_params: Vec::new(),
        })
    }

    /// Parses the value of an `a=crypto` attribute. Unknown suites give [`Error::Unsupported`] naming the
    /// suite (never key bytes).
    pub fn parse(s: &str) -> Result<Crypto> {
        let mut it = s.split_ascii_whitespace();
        let tag: u32 = it
            .next()
            .ok_or(bad("missing tag"))?
            .parse()
            .map_err(|_| bad("bad tag"))?;
        if tag == 0 || tag > 999_999_999 {
            return Err(bad("tag out of range"));
        }
        let suite_s = it.next().ok_or(bad("missing suite"))?;
        let suite = CryptoSuite::from_name(suite_s).ok_or_else(|| {
            let mut name: String = suite_s.chars().take(40).collect();
            name.retain(|c| c.is_ascii_graphic());
            Error::Unsupported(format!("SRTP crypto suite {name}"))
        })?;
        let key_params = it.next().ok_or(bad("missing key parameters"))?;
        let mut keys = Vec::new();
        for kp in key_params.split(';') {
            if keys.len() >= 16 {
                return Err(bad("too many keys"));
            }
            keys.push(parse_key_param(suite, kp)?);
        }
        if keys.len() > 1 && keys.iter().any(|k| k.mki.is_none()) {
            return Err(bad("several keys without MKI"));
        }
        let session_params = it.map(str::to_owned).collect();
        Ok(Crypto {
            tag,
            suite,
            keys,
            session_params,
        })
    }

    /// The first (usually only) key.
    pub fn key(&self) -> Option<&SrtpMasterKey> {
        self.keys.first().map(|k| &k.key)
    }

    /// The line value with keys (for writing SDP only; never log it).
    pub fn to_sdp_value(&self) -> String {
        let mut s = format!("{} {} ", self.tag, self.suite.as_str());
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                s.push(';');
            }
            s.push_str("inline:");
            s.push_str(&k.key.to_base64());
            if let Some(l) = &k.lifetime {
                s.push('|');
                s.push_str(l);
            }
            if let Some(m) = k.mki {
                s.push_str(&format!("|{}:{}", m.value, m.len));
            }
        }
        for p in &self.session_params {
            s.push(' ');
            s.push_str(p);
        }
        s
    }
}

impl fmt::Debug for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crypto")
            .field("tag", &self.tag)
            .field("suite", &self.suite)
            .field("keys", &self.keys)
            .field("session_params", &self.session_params)
            .finish()
    }
}

fn parse_key_param(suite: CryptoSuite, kp: &str) -> Result<KeyParam> {
    let rest = kp
        .strip_prefix("inline:")
        .ok_or(bad("key method is not inline"))?;
    let mut parts = rest.split('|');
    let b64 = parts.next().unwrap_or("");
    if b64.len() > 128 {
        return Err(bad("key too long"));
    }
    let bytes = LENIENT.decode(b64).map_err(|_| bad("key is not base64"))?;
    let key = SrtpMasterKey::new(suite, bytes)?;
    let mut lifetime = None;
    let mut mki = None;
    for p in parts {
        if let Some((v, l)) = p.split_once(':') {
            if mki.is_some() {
                return Err(bad("two MKIs"));
            }
            let value = v.parse().map_err(|_| bad("bad MKI value"))?;
            let len: u8 = l.parse().map_err(|_| bad("bad MKI length"))?;
            if len == 0 || len > 8 || (len < 8 && value >> (u32::from(len) * 8) != 0) {
                return Err(bad("MKI value does not fit its length"));
            }
            mki = Some(Mki { value, len });
        } else {
            if lifetime.is_some() || mki.is_some() {
                return Err(bad("misplaced lifetime"));
            }
            let ok = match p.strip_prefix("2^") {
                Some(e) => e.parse::<u8>().is_ok_and(|e| e <= 64),
                None => p.parse::<u64>().is_ok(),
            };
            if !ok {
                return Err(bad("bad lifetime"));
            }
            lifetime = Some(p.to_owned());
        }
    }
    Ok(KeyParam { key, lifetime, mki })
}
