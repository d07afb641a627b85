//! What each cfg/KEMI function does, once, in safe Rust: `w_*` (script) and `ki_*` (KEMI) in `module` only convert
//! arguments and map the result. Per-process state (settings, numbers, tm API) and shm statistics live here too.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::config::{self, NumberEntry, PbxMedia, Settings, SrtpMode};
use crate::host::{self, HostError, Msg, Tm};
use crate::meta;
use crate::relay;
use crate::sdp::{MediaAllocator, RelayAllocator};
use wacall::relay::{ErrorCode, Family, LegConfig, Transport};

/// Why a cfg function failed (logged; the script sees a negative code).
#[derive(Debug)]
#[non_exhaustive]
pub enum CallError {
    Host(HostError),
    Core(wacall::Error),
    Config(config::ConfigError),
    /// The media relay refused or did not answer (the script answers e.g. 503/488).
    Relay(wacall::relay::Error),
    Usage(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Host(e) => e.fmt(f),
            CallError::Core(e) => e.fmt(f),
            CallError::Config(e) => e.fmt(f),
            CallError::Relay(e) => write!(f, "media relay: {e}"),
            CallError::Usage(s) => f.write_str(s),
        }
    }
}

impl From<HostError> for CallError {
    fn from(e: HostError) -> Self {
        CallError::Host(e)
    }
}
impl From<wacall::Error> for CallError {
    fn from(e: wacall::Error) -> Self {
        CallError::Core(e)
    }
}
impl From<wacall::relay::Error> for CallError {
    fn from(e: wacall::relay::Error) -> Self {
        CallError::Relay(e)
    }
}
impl From<config::ConfigError> for CallError {
    fn from(e: config::ConfigError) -> Self {
        CallError::Config(e)
    }
}

/// Statistic slots in shm (index 0 is the numbers-file generation, bumped by `wacall.reload`).
#[derive(Clone, Copy)]
pub enum Stat {
    Generation = 0,
    ToMeta,
    FromMeta,
    AuthSent,
    AuthFailed,
    SdpToPbx,
    SdpToMeta,
    SdpFailed,
    AclAccepted,
    AclRejected,
    Errors,
    Panics,
}

pub const STAT_NAMES: [&str; 12] = [
    "numbers_generation",
    "to_meta",
    "from_meta",
    "auth_sent",
    "auth_failed",
    "sdp_to_pbx",
    "sdp_to_meta",
    "sdp_failed",
    "acl_accepted",
    "acl_rejected",
    "errors",
    "panics",
];

static STATS: OnceLock<&'static [AtomicU64]> = OnceLock::new();

pub fn bump(s: Stat) {
    if let Some(st) = STATS.get() {
        if let Some(c) = st.get(s as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub fn stats_snapshot() -> Vec<(&'static str, u64)> {
    let Some(st) = STATS.get() else {
        return Vec::new();
    };
    STAT_NAMES
        .iter()
        .zip(st.iter())
        .map(|(n, c)| (*n, c.load(Ordering::Relaxed)))
        .collect()
}

/// Settings as the modparams set them (main process, before mod_init).
static SETTINGS: Mutex<Option<Settings>> = Mutex::new(None);

/// Per-process state built in mod_init and inherited by every forked worker.
pub struct Runtime {
    pub settings: Settings,
    /// Entries of the numbers file (reloaded when the shm generation moves).
    pub file_numbers: Vec<NumberEntry>,
    pub loaded_generation: u64,
    pub tm: Option<Tm>,
}

static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock is caught at the boundary; the data is still consistent (plain values).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Applies a modparam to the pending settings.
pub fn set_param(name: &str, value: &str) -> Result<(), config::ConfigError> {
    let mut g = lock(&SETTINGS);
    let s = g.get_or_insert_with(Settings::default);
    match name {
        "meta_domain" => s.meta_domain = value.trim().to_string(),
        "server_hostname" => s.server_hostname = value.trim().to_string(),
        "number" => s.numbers.push(NumberEntry::parse(value)?),
        "numbers_file" => s.numbers_file = Some(value.trim().to_string()),
        "meta_acl" => s.acl.add(value)?,
        "relay_ports" => s.relay_ports = config::parse_port_range(value)?,
        "relay_address" => s.relay_address = value.trim().to_string(),
        "relay_advertised_address" => s.relay_advertised_address = Some(value.trim().to_string()),
        "relay_address6" => s.relay_address6 = Some(value.trim().to_string()),
        "relay_socket" => s.relay_socket = Some(value.trim().to_string()),
        "relay_timeout_ms" => s.relay_timeout_ms = config::parse_number("relay_timeout_ms", value)?,
        "relay_workers" => s.relay_workers = config::parse_number("relay_workers", value)? as usize,
        "relay_media_timeout" => {
            s.relay_media_timeout = config::parse_number("relay_media_timeout", value)?
        }
        "pbx_media" => s.pbx_media = PbxMedia::parse(value)?,
        _ => {
            return Err(config::ConfigError::Param {
                name: "unknown",
                reason: name.to_string(),
            })
        }
    }
    Ok(())
}

fn read_numbers_file(path: &str) -> Result<Vec<NumberEntry>, config::ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| config::ConfigError::File(format!("{path}: {e}")))?;
    config::parse_numbers_file(&text)
}

/// mod_init: checks the settings, loads numbers, tm and shm statistics.
pub fn init() -> Result<(), CallError> {
    let settings = lock(&SETTINGS).clone().unwrap_or_default();
    if settings.server_hostname.is_empty() {
        return Err(CallError::Usage(
            "modparam server_hostname is required (the host Meta has for the number)".into(),
        ));
    }
    meta::to_meta_ruri("+15550000000", &settings.meta_domain)?;
    let file_numbers = match &settings.numbers_file {
        Some(p) => read_numbers_file(p)?,
        None => Vec::new(),
    };
    if settings.acl.is_empty() {
        log::warn!("meta_acl is empty: wacall_is_meta() will refuse every source");
    }
    let stats = host::shm_counters(STAT_NAMES.len()).ok_or(CallError::Host(HostError::NoMemory))?;
    let _ = STATS.set(stats);
    let tm = Tm::load();
    if tm.is_none() {
        log::info!("tm module not loaded: wacall_auth() is unavailable");
    }
    log::info!(
        "wacall ready: meta_domain={} server_hostname={} numbers={} acl_entries={}",
        settings.meta_domain,
        settings.server_hostname,
        settings.numbers.len() + file_numbers.len(),
        settings.acl.len()
    );
    *lock(&RUNTIME) = Some(Runtime {
        settings,
        file_numbers,
        loaded_generation: 0,
        tm,
    });
    Ok(())
}

/// The relay's settings from the modparams (mod_init).
pub fn relay_setup(runtime_dir: &str) -> Result<relay::RelaySetup, CallError> {
    let g = lock(&RUNTIME);
    let rt = g
        .as_ref()
        .ok_or_else(|| CallError::Usage("wacall is not initialised".into()))?;
    Ok(relay::RelaySetup::from_settings(&rt.settings, runtime_dir)?)
}

/// Runs `f` on this process's runtime, first picking up a reload done by `wacall.reload` in another process.
fn with_rt<R>(f: impl FnOnce(&Runtime) -> Result<R, CallError>) -> Result<R, CallError> {
    let mut g = lock(&RUNTIME);
    let rt = g
        .as_mut()
        .ok_or_else(|| CallError::Usage("wacall is not initialised".into()))?;
    let generation = STATS
        .get()
        .map(|s| s[Stat::Generation as usize].load(Ordering::Acquire))
        .unwrap_or(0);
    if generation != rt.loaded_generation {
        rt.loaded_generation = generation;
        if let Some(p) = rt.settings.numbers_file.clone() {
            match read_numbers_file(&p) {
                Ok(n) => rt.file_numbers = n,
                // Keep serving the previous table rather than dropping every number.
                Err(e) => log::error!("reload of numbers file failed, keeping the old table: {e}"),
            }
        }
    }
    f(rt)
}

fn lookup<'a>(rt: &'a Runtime, number: &str) -> Option<&'a NumberEntry> {
    rt.settings
        .numbers
        .iter()
        .chain(rt.file_numbers.iter())
        .find(|e| e.number == number)
}

/// `wacall.reload`: checks the file, then tells every process to re-read it.
pub fn reload() -> Result<usize, CallError> {
    let path = lock(&RUNTIME)
        .as_ref()
        .and_then(|r| r.settings.numbers_file.clone());
    let Some(path) = path else {
        return Err(CallError::Usage("no numbers_file configured".into()));
    };
    let n = read_numbers_file(&path)?.len();
    if let Some(s) = STATS.get() {
        s[Stat::Generation as usize].fetch_add(1, Ordering::AcqRel);
    }
    Ok(n)
}

/// `wacall.numbers`: (number, srtp, params, source) without passwords.
pub fn numbers() -> Result<Vec<(String, String, String, &'static str)>, CallError> {
    with_rt(|rt| {
        let fmt = |e: &NumberEntry, src: &'static str| {
            let params = e
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(";");
            let mode = match e.srtp {
                SrtpMode::Dtls => "DTLS",
                SrtpMode::Sdes => "SDES",
            };
            (e.number.clone(), mode.to_string(), params, src)
        };
        Ok(rt
            .settings
            .numbers
            .iter()
            .map(|e| fmt(e, "modparam"))
            .chain(rt.file_numbers.iter().map(|e| fmt(e, "file")))
            .collect())
    })
}

fn text(b: &[u8]) -> Result<&str, CallError> {
    std::str::from_utf8(b).map_err(|_| CallError::Usage("not UTF-8".into()))
}

fn uri_number(uri: &str) -> Option<String> {
    meta::uri_number(uri)
}

/// The URI of a From/To header value.
fn header_uri(v: &str) -> &str {
    match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v.split(';').next().unwrap_or(v).trim(),
    }
}

/// `wacall_to_meta([number])`: R-URI := `sip:+E164@meta_domain;transport=tls`.
pub fn to_meta(msg: &mut Msg, number: Option<&str>) -> Result<bool, CallError> {
    if !msg.is_request() {
        return Err(CallError::Usage("wacall_to_meta() needs a request".into()));
    }
    let n = match number {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => {
            // The core reads the number out of a sip:/tel: URI itself.
            text(msg.ruri())?.to_string()
        }
    };
    let domain = with_rt(|rt| Ok(rt.settings.meta_domain.clone()))?;
    let uri = meta::to_meta_ruri(&n, &domain)?;
    msg.rewrite_ruri(&uri)?;
    bump(Stat::ToMeta);
    Ok(true)
}

/// wacall_from_meta(): called number, user params and Meta's x-wa-meta-* headers to AVPs.
/// True when the called number is one we serve.
pub fn from_meta(msg: &mut Msg) -> Result<bool, CallError> {
    if !msg.is_request() {
        return Err(CallError::Usage(
            "wacall_from_meta() needs a request".into(),
        ));
    }
    let ruri = text(msg.ruri())?.to_string();
    let fm = meta::parse_from_meta_ruri(&ruri)?;
    host::set_avp_str("wacall_number", fm.number.as_bytes())?;
    let raw_params = fm
        .user_params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";");
    host::set_avp_str("wacall_user_params", raw_params.as_bytes())?;
    host::set_avp_str("wacall_tgrp", fm.param("tgrp").unwrap_or("").as_bytes())?;
    host::set_avp_str(
        "wacall_trunk_context",
        fm.param("trunk-context").unwrap_or("").as_bytes(),
    )?;
    let wanted = [
        ("x-wa-meta-wacid", "wacall_wacid"),
        ("x-wa-meta-cta-payload", "wacall_cta_payload"),
        ("x-wa-meta-deeplink-payload", "wacall_deeplink_payload"),
        ("x-wa-meta-call-duration", "wacall_call_duration"),
    ];
    let headers: Vec<(Vec<u8>, Vec<u8>)> = msg
        .headers()?
        .into_iter()
        .map(|(n, v)| (n.to_vec(), v.to_vec()))
        .collect();
    for (hname, avp) in wanted {
        let v = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(hname.as_bytes()))
            .map(|(_, v)| v.as_slice());
        host::set_avp_str(avp, v.unwrap_or(b""))?;
    }
    bump(Stat::FromMeta);
    with_rt(|rt| Ok(lookup(rt, &fm.number).is_some()))
}

/// wacall_is_meta(): the source address is in meta_acl.
pub fn is_meta(msg: &mut Msg) -> Result<bool, CallError> {
    let ip = msg
        .src_ip()
        .ok_or_else(|| CallError::Usage("unknown source address family".into()))?;
    let ok = with_rt(|rt| Ok(rt.settings.acl.contains(ip)))?;
    bump(if ok {
        Stat::AclAccepted
    } else {
        Stat::AclRejected
    });
    Ok(ok)
}

/// wacall_auth(): in a failure_route after Meta's 401/407, adds the credentials for the strongest challenge to the
/// next branch (R-URI as sent, username without '+'); the script then calls t_relay().
pub fn auth(msg: &mut Msg) -> Result<bool, CallError> {
    let r = auth_inner(msg);
    match &r {
        Ok(true) => bump(Stat::AuthSent),
        _ => bump(Stat::AuthFailed),
    }
    r
}

fn auth_inner(msg: &mut Msg) -> Result<bool, CallError> {
    let from = msg
        .header("From")?
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default();
    let number = uri_number(header_uri(&from))
        .ok_or_else(|| CallError::Usage("From user is not an E.164 business number".into()))?;
    let method = String::from_utf8_lossy(msg.method()).into_owned();
    let (password, tm_ok) = with_rt(|rt| {
        let e = lookup(rt, &number)
            .ok_or_else(|| CallError::Usage(format!("number {number} is not configured")))?;
        Ok((e.password.clone(), rt.tm.is_some()))
    })?;
    if !tm_ok {
        return Err(CallError::Usage("wacall_auth() needs the tm module".into()));
    }
    let (code, challenges, uri) = {
        let g = lock(&RUNTIME);
        let tm = g
            .as_ref()
            .and_then(|r| r.tm.as_ref())
            .ok_or(HostError::NoTransaction("tm"))?;
        let (code, p_auth, uri) = tm.picked_reply("Proxy-Authenticate")?;
        if code == 401 {
            let (_, w_auth, uri) = tm.picked_reply("WWW-Authenticate")?;
            (code, w_auth, uri)
        } else {
            (code, p_auth, uri)
        }
    };
    if code != 401 && code != 407 {
        return Ok(false);
    }
    let uri_s = text(&uri)?.to_string();
    let values: Vec<String> = challenges
        .iter()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    let value = meta::authorization(&refs, &number, password.expose(), &method, &uri_s)?;
    let algorithm = value
        .split("algorithm=")
        .nth(1)
        .and_then(|r| r.split([',', ' ']).next())
        .unwrap_or("MD5");
    let hname = if code == 401 {
        "Authorization"
    } else {
        "Proxy-Authorization"
    };
    msg.set_new_uri_raw(&uri)?;
    msg.append_header(&format!("{hname}: {value}\r\n"))?;
    {
        let g = lock(&RUNTIME);
        if let Some(tm) = g.as_ref().and_then(|r| r.tm.as_ref()) {
            tm.mark_uac_auth();
        }
    }
    msg.mark_auth_cseq_update();
    log::info!("answering {code} for {number} with {algorithm} digest");
    Ok(true)
}

/// Which way an SDP body goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ToPbx,
    ToMeta,
}

impl Direction {
    pub fn parse(s: &str) -> Result<Direction, CallError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "to_pbx" | "pbx" => Ok(Direction::ToPbx),
            "to_meta" | "meta" => Ok(Direction::ToMeta),
            o => Err(CallError::Usage(format!(
                "direction `{o}` is not to_pbx or to_meta"
            ))),
        }
    }
}

/// wacall_sdp(direction): rewrites the SDP body of a request or reply between Meta's and the PBX's media.
pub fn sdp(msg: &mut Msg, dir: Direction) -> Result<bool, CallError> {
    let r = sdp_inner(msg, dir);
    match (&r, dir) {
        (Ok(true), Direction::ToPbx) => bump(Stat::SdpToPbx),
        (Ok(true), Direction::ToMeta) => bump(Stat::SdpToMeta),
        (Ok(false), _) => {}
        (Err(_), _) => bump(Stat::SdpFailed),
    }
    r
}

/// SDP bodies above this are refused before parsing (Meta's offers are about 1 kB).
const MAX_SDP: usize = 16 * 1024;

/// AVPs that carry an offer to its answer within the transaction (the core's mapping is stateless).
const AVP_OFFER_IN: &str = "wacall_sdp_offer_in";
const AVP_OFFER_OUT: &str = "wacall_sdp_offer_out";
/// The relay's allocation (JSON) from the offer, for the answer.
const AVP_ALLOCATION: &str = "wacall_relay_alloc";

/// The relay's key of a call: Call-ID and the From tag (of the initial INVITE); `to_tag` picks the To tag
/// instead (a BYE from the callee has the tags swapped).
fn relay_key(msg: &mut Msg, to_tag: bool) -> Result<String, CallError> {
    let call_id = msg
        .header("Call-ID")?
        .map(|v| String::from_utf8_lossy(v).trim().to_string())
        .unwrap_or_default();
    if call_id.is_empty() {
        return Err(CallError::Usage("no Call-ID".into()));
    }
    let h = msg
        .header(if to_tag { "To" } else { "From" })?
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default();
    Ok(format!("{call_id};{}", header_tag(&h).unwrap_or("")))
}

/// The `tag` parameter of a From/To header value (after the URI, which may hold `;` itself).
fn header_tag(v: &str) -> Option<&str> {
    let params = match v.rfind('>') {
        Some(i) => &v[i + 1..],
        None => v,
    };
    params.split(';').skip(1).find_map(|p| {
        let (k, val) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("tag").then(|| val.trim())
    })
}

/// wacall_relay_delete(): ends the relay call of this dialog (BYE, CANCEL, a failed INVITE). True when a call
/// was deleted, false when the relay had none (already ended), an error when the relay is unreachable.
pub fn relay_delete(msg: &mut Msg) -> Result<bool, CallError> {
    let keys = [relay_key(msg, false)?, relay_key(msg, true)?];
    for k in keys {
        match relay::with_client(|c| c.delete(&k)) {
            Ok(st) => {
                log::info!(
                    "relay call {k} deleted after {} ms: meta in/out {}/{} pbx in/out {}/{} auth failures {}",
                    st.age_ms,
                    st.meta.packets_in,
                    st.meta.packets_out,
                    st.pbx.packets_in,
                    st.pbx.packets_out,
                    st.meta.auth_failures + st.pbx.auth_failures
                );
                return Ok(true);
            }
            Err(wacall::relay::Error::Remote {
                code: ErrorCode::NotFound,
                ..
            }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(false)
}

/// Relay totals for `wacall.stats` (None when the relay does not answer).
pub fn relay_totals() -> Option<Vec<(&'static str, u64)>> {
    let (t, _) = relay::with_client(|c| c.stats_all()).ok()?;
    Some(vec![
        ("relay_up", 1),
        ("relay_calls", t.calls),
        ("relay_calls_started", t.calls_started),
        ("relay_calls_ended", t.calls_ended),
        ("relay_packets_in", t.legs.packets_in),
        ("relay_packets_out", t.legs.packets_out),
        ("relay_bytes_in", t.legs.bytes_in),
        ("relay_bytes_out", t.legs.bytes_out),
        ("relay_drops", t.legs.drops + t.stray_drops),
        ("relay_auth_failures", t.legs.auth_failures),
        ("relay_replays", t.legs.replays),
    ])
}

/// Every relay call's statistics for `wacall.relay_calls`.
pub fn relay_calls() -> Result<Vec<wacall::relay::CallStats>, CallError> {
    Ok(relay::with_client(|c| c.stats_all())?.1)
}

fn sdp_inner(msg: &mut Msg, dir: Direction) -> Result<bool, CallError> {
    let body = msg.body()?;
    if body.is_empty() {
        return Ok(false);
    }
    if body.len() > MAX_SDP {
        return Err(CallError::Usage(format!(
            "SDP body of {} bytes refused (limit {MAX_SDP})",
            body.len()
        )));
    }
    let body = text(body)?.to_string();
    let is_offer = msg.is_request();
    let mut candidates = Vec::new();
    if msg.is_request() {
        candidates.push(text(msg.ruri())?.to_string());
    }
    for h in ["From", "To"] {
        if let Some(v) = msg.header(h)? {
            candidates.push(header_uri(&String::from_utf8_lossy(v)).to_string());
        }
    }
    let key = relay_key(msg, false)?;
    let (mode, pbx, dual) = with_rt(|rt| {
        let mode = candidates
            .iter()
            .filter_map(|u| uri_number(u))
            .find_map(|n| lookup(rt, &n).map(|e| e.srtp))
            .unwrap_or(SrtpMode::Dtls);
        let s = &rt.settings;
        Ok((mode, s.pbx_media, s.relay_address6.is_some()))
    })?;
    let cfg = wacall::sdp::MapConfig::new(
        match pbx {
            PbxMedia::Sdes => {
                wacall::sdp::PbxMedia::Sdes(vec![wacall::sdp::CryptoSuite::AesCm128HmacSha1_80])
            }
            PbxMedia::Rtp => wacall::sdp::PbxMedia::Rtp,
        },
        match mode {
            SrtpMode::Dtls => wacall::sdp::MetaMedia::Dtls,
            SrtpMode::Sdes => wacall::sdp::MetaMedia::Sdes,
        },
    );
    let allocator = RelayAllocator {
        meta: LegConfig {
            transport: match mode {
                SrtpMode::Dtls => Transport::Dtls,
                SrtpMode::Sdes => Transport::Sdes,
            },
            family: if dual { Family::Dual } else { Family::Ipv4 },
        },
        pbx: LegConfig {
            transport: match pbx {
                PbxMedia::Sdes => Transport::Sdes,
                PbxMedia::Rtp => Transport::Rtp,
            },
            family: Family::Ipv4,
        },
    };
    // The offer opens the relay call; its answer finds the allocation the offer stored in the transaction.
    let allocation = if is_offer {
        let a = allocator.allocate(&key)?;
        let json = serde_json::to_vec(&a).map_err(|e| CallError::Usage(e.to_string()))?;
        host::set_avp_str(AVP_ALLOCATION, &json)?;
        a
    } else {
        let json = host::get_avp_str(AVP_ALLOCATION).ok_or_else(|| {
            CallError::Usage(
                "no relay allocation recorded for this answer (map the offer first)".into(),
            )
        })?;
        serde_json::from_slice(&json)
            .map_err(|e| CallError::Usage(format!("stored relay allocation: {e}")))?
    };
    let media = wacall::relay::plan::media_allocation(&allocation)
        .ok_or_else(|| CallError::Usage("the relay allocated no sockets".into()))?;
    let allocation = media;
    let sdp_err = |e: wacall::sdp::Error| CallError::Core(e.into());
    let saved = |name: &str| -> Result<String, CallError> {
        let v = host::get_avp_str(name).ok_or_else(|| {
            CallError::Usage("no offer recorded for this answer (map the offer first)".into())
        })?;
        Ok(String::from_utf8_lossy(&v).into_owned())
    };
    let mapped = match (dir, is_offer) {
        // User-initiated: Meta's offer to the PBX, then the PBX's answer to Meta.
        (Direction::ToPbx, true) => {
            wacall::sdp::meta_offer_to_pbx(&body, &allocation, &cfg).map_err(sdp_err)?
        }
        (Direction::ToMeta, false) => {
            let (meta_offer, pbx_offer) = (saved(AVP_OFFER_IN)?, saved(AVP_OFFER_OUT)?);
            wacall::sdp::pbx_answer_to_meta(&meta_offer, &pbx_offer, &body, &allocation, &cfg)
                .map_err(sdp_err)?
        }
        // Business-initiated: the PBX's offer to Meta, then Meta's answer to the PBX.
        (Direction::ToMeta, true) => {
            wacall::sdp::pbx_offer_to_meta(&body, &allocation, &cfg).map_err(sdp_err)?
        }
        (Direction::ToPbx, false) => {
            let (pbx_offer, meta_offer) = (saved(AVP_OFFER_IN)?, saved(AVP_OFFER_OUT)?);
            wacall::sdp::meta_answer_to_pbx(&pbx_offer, &meta_offer, &body, &allocation, &cfg)
                .map_err(sdp_err)?
        }
    };
    if is_offer {
        host::set_avp_str(AVP_OFFER_IN, body.as_bytes())?;
        host::set_avp_str(AVP_OFFER_OUT, mapped.sdp.as_bytes())?;
    }
    // The answer completes the plan: the relay learns both far ends and the SDES keys the mapper chose for us.
    if !is_offer {
        let (meta, pbx) = wacall::relay::plan::remote_legs(&mapped.plan);
        let keys = wacall::relay::plan::local_sdes_keys(&mapped.plan);
        // Our a=crypto keys are the mapper's: the relay must send with them (same request as the far ends).
        relay::with_client(|c| {
            c.update_with_local_sdes(&key, Some(meta), Some(pbx), keys.clone())
        })?;
    }
    log::debug!(
        "sdp mapped for call {key}: answered={}",
        mapped.plan.answered
    );
    msg.replace_body(mapped.sdp.as_bytes())?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_to_tags() {
        assert_eq!(
            header_tag("\"1\" <sip:+1@wa.meta.vc;tag=uri>;tag=abc"),
            Some("abc")
        );
        assert_eq!(header_tag("<sip:a@b>;foo=1; TAG = x1 "), Some("x1"));
        assert_eq!(header_tag("sip:a@b;tag=t2"), Some("t2"));
        assert_eq!(header_tag("<sip:a@b;tag=inside>"), None);
    }

    #[test]
    fn uris() {
        assert_eq!(
            header_uri("\"1\" <sip:+12195550714@wa.meta.vc>;tag=x"),
            "sip:+12195550714@wa.meta.vc"
        );
        assert_eq!(
            uri_number("sip:+12195550714;tgrp=a@h"),
            Some("+12195550714".into())
        );
    }
}
