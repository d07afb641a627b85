//! The module's process-wide state: the current configuration and counters, set at load, cleared at shutdown.
//! Readers take a snapshot (`Arc<Config>`), so a reload never blocks a call in progress.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::config::Config;

static CONFIG: RwLock<Option<Arc<Config>>> = RwLock::new(None);

/// Counters shown by `wacall_stats`.
pub struct Stats {
    pub api_calls: AtomicU64,
    pub api_errors: AtomicU64,
    pub app_runs: AtomicU64,
    pub app_errors: AtomicU64,
    pub calls_from_meta: AtomicU64,
    pub calls_to_meta: AtomicU64,
    pub reloads: AtomicU64,
    pub panics: AtomicU64,
}

pub static STATS: Stats = Stats {
    api_calls: AtomicU64::new(0),
    api_errors: AtomicU64::new(0),
    app_runs: AtomicU64::new(0),
    app_errors: AtomicU64::new(0),
    calls_from_meta: AtomicU64::new(0),
    calls_to_meta: AtomicU64::new(0),
    reloads: AtomicU64::new(0),
    panics: AtomicU64::new(0),
};

impl Stats {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `name=value` pairs in a fixed order.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            ("api_calls", g(&self.api_calls)),
            ("api_errors", g(&self.api_errors)),
            ("app_runs", g(&self.app_runs)),
            ("app_errors", g(&self.app_errors)),
            ("calls_from_meta", g(&self.calls_from_meta)),
            ("calls_to_meta", g(&self.calls_to_meta)),
            ("reloads", g(&self.reloads)),
            ("panics", g(&self.panics)),
        ]
    }
}

/// The configuration in force, if the module is loaded.
pub fn config() -> Option<Arc<Config>> {
    // A poisoned lock only means a panic elsewhere while holding it; the value inside is still whole.
    CONFIG.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Install a configuration (load, reload) or clear it (shutdown).
pub fn set_config(cfg: Option<Config>) {
    *CONFIG.write().unwrap_or_else(|e| e.into_inner()) = cfg.map(Arc::new);
}

/// The media relay threads, started at load and stopped at shutdown.
static RELAY: std::sync::Mutex<Option<RelayRunning>> = std::sync::Mutex::new(None);

struct RelayRunning {
    handle: wacall::relay::RelayHandle,
    socket: std::path::PathBuf,
}

/// Start the relay as configured (no-op when disabled). Errors are for the log: the module works without it.
pub fn start_relay(cfg: &Config) -> Result<Option<String>, String> {
    if !cfg.relay {
        return Ok(None);
    }
    let mut slot = RELAY.lock().unwrap_or_else(|e| e.into_inner());
    if slot.is_some() {
        return Ok(None);
    }
    let ip: std::net::IpAddr = cfg
        .relay_address
        .parse()
        .map_err(|_| "relay-address is not an IP address")?;
    let adv: Option<std::net::IpAddr> = match &cfg.relay_advertise {
        Some(a) => Some(
            a.parse()
                .map_err(|_| "relay-advertise-address is not an IP address")?,
        ),
        None => None,
    };
    let iface = match (ip, adv) {
        (std::net::IpAddr::V4(v4), adv) => wacall::relay::Interface {
            ipv4: Some(v4),
            ipv6: None,
            advertise_ipv4: adv.and_then(|a| match a {
                std::net::IpAddr::V4(a) => Some(a),
                std::net::IpAddr::V6(_) => None,
            }),
            advertise_ipv6: None,
        },
        (std::net::IpAddr::V6(v6), adv) => wacall::relay::Interface {
            ipv4: None,
            ipv6: Some(v6),
            advertise_ipv4: None,
            advertise_ipv6: adv.and_then(|a| match a {
                std::net::IpAddr::V6(a) => Some(a),
                std::net::IpAddr::V4(_) => None,
            }),
        },
    };
    let rc = wacall::relay::RelayConfig {
        // Only Meta's side is public; the PBX reaches the relay on the bind address.
        pbx: wacall::relay::Interface {
            advertise_ipv4: None,
            advertise_ipv6: None,
            ..iface.clone()
        },
        meta: iface,
        port_min: cfg.relay_ports.0,
        port_max: cfg.relay_ports.1,
        workers: cfg.relay_workers,
        ..Default::default()
    };
    let socket = match &cfg.relay_control_socket {
        Some(p) => std::path::PathBuf::from(p),
        None => std::env::temp_dir().join(format!("mod_wacall-{}.sock", std::process::id())),
    };
    let handle =
        wacall::relay::spawn(rc, &socket).map_err(|e| format!("relay did not start: {e}"))?;
    let line = format!(
        "relay started: {} ports {}-{}, {} worker(s), control socket {}",
        cfg.relay_address,
        cfg.relay_ports.0,
        cfg.relay_ports.1,
        cfg.relay_workers,
        socket.display()
    );
    *slot = Some(RelayRunning { handle, socket });
    Ok(Some(line))
}

/// Stop the relay threads and close every socket; true if one was running.
pub fn stop_relay() -> bool {
    let running = RELAY.lock().unwrap_or_else(|e| e.into_inner()).take();
    match running {
        Some(r) => {
            r.handle.stop();
            let _ = std::fs::remove_file(&r.socket);
            true
        }
        None => false,
    }
}

/// The relay's totals as `name=value` pairs, or why there are none.
pub fn relay_stats() -> Result<Vec<(&'static str, String)>, String> {
    let slot = RELAY.lock().unwrap_or_else(|e| e.into_inner());
    let r = slot.as_ref().ok_or("relay not running")?;
    let (t, _calls) = r.handle.driver().stats().map_err(|e| format!("{e:?}"))?;
    Ok(vec![
        ("relay_calls", t.calls.to_string()),
        ("relay_calls_started", t.calls_started.to_string()),
        ("relay_calls_ended", t.calls_ended.to_string()),
        ("relay_packets_in", t.legs.packets_in.to_string()),
        ("relay_packets_out", t.legs.packets_out.to_string()),
        ("relay_drops", t.legs.drops.to_string()),
        ("relay_auth_failures", t.legs.auth_failures.to_string()),
        ("relay_stray_drops", t.stray_drops.to_string()),
        ("relay_workers", t.workers.to_string()),
        ("relay_control_socket", r.socket.display().to_string()),
    ])
}

/// Run `f` on the running relay's driver.
pub fn with_relay<T>(
    f: impl FnOnce(&wacall::relay::Driver) -> Result<T, String>,
) -> Result<T, String> {
    // Clone the driver out so calls never queue on this lock while the relay works.
    let driver = {
        let slot = RELAY.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref()
            .ok_or("relay not running")?
            .handle
            .driver()
            .clone()
    };
    f(&driver)
}
