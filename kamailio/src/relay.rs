//! The media relay as Kamailio runs it: a process forked at start-up that supervises the relay (restarting it
//! when it dies), and the per-process control client SIP workers use to allocate, update and delete calls.
//!
//! Process tree: Kamailio main -> "wacall relay" (a Kamailio process, single-threaded, only waits) -> the relay
//! (a plain `fork`, threads, never calls Kamailio APIs; logs to stderr). A relay crash costs the calls it carried;
//! the supervisor starts a new one on the same control socket within a second, and workers meanwhile get a
//! clean error (their requests are bounded by `relay_timeout_ms`).
#![allow(unsafe_code)] // fork/waitpid/signal in the supervisor only

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use wacall::relay::{Client, Interface, RelayConfig};

use crate::config::{ConfigError, Settings};

/// Everything the relay process and the workers' clients need, fixed in mod_init.
#[derive(Debug, Clone)]
pub struct RelaySetup {
    pub config: RelayConfig,
    pub socket: PathBuf,
    pub timeout: Duration,
}

fn bad(name: &'static str, v: &str) -> ConfigError {
    ConfigError::Param {
        name,
        reason: format!("`{v}` is not an IP address of that family"),
    }
}

impl RelaySetup {
    /// Builds the relay's settings from the modparams; `runtime_dir` is Kamailio's (for the default socket).
    pub fn from_settings(s: &Settings, runtime_dir: &str) -> Result<RelaySetup, ConfigError> {
        let v4: Ipv4Addr = s
            .relay_address
            .trim()
            .parse()
            .map_err(|_| bad("relay_address", &s.relay_address))?;
        let adv4 = match &s.relay_advertised_address {
            Some(a) => match a.parse::<IpAddr>() {
                Ok(IpAddr::V4(x)) => Some(x),
                _ => return Err(bad("relay_advertised_address", a)),
            },
            None => None,
        };
        let v6: Option<Ipv6Addr> = match &s.relay_address6 {
            Some(a) => Some(a.parse().map_err(|_| bad("relay_address6", a))?),
            None => None,
        };
        let iface = Interface {
            ipv4: Some(v4),
            ipv6: v6,
            advertise_ipv4: adv4,
            advertise_ipv6: None,
        };
        let config = RelayConfig {
            meta: iface.clone(),
            pbx: iface,
            port_min: s.relay_ports.0,
            port_max: s.relay_ports.1,
            workers: s.relay_workers,
            media_timeout_secs: s.relay_media_timeout,
            exit_with_parent: true,
            ..RelayConfig::default()
        };
        let socket = match &s.relay_socket {
            Some(p) => PathBuf::from(p),
            None => PathBuf::from(runtime_dir).join("wacall-relay.sock"),
        };
        Ok(RelaySetup {
            config,
            socket,
            timeout: Duration::from_millis(s.relay_timeout_ms.max(1)),
        })
    }
}

static SETUP: Mutex<Option<RelaySetup>> = Mutex::new(None);
/// This process's control connection (each Kamailio process has its own after the fork).
static CLIENT: Mutex<Option<Client>> = Mutex::new(None);
/// Set in the relay's own process: the logger writes to stderr there (Kamailio's logger is not thread-safe).
pub static IN_RELAY_PROCESS: AtomicBool = AtomicBool::new(false);

/// Set in the relay's process when Kamailio does not log to stderr (daemon mode): log to syslog instead.
static RELAY_SYSLOG: AtomicBool = AtomicBool::new(false);

/// One log line of the relay process: stderr when Kamailio logs there (`-E`, `log_stderror=yes`), else syslog
/// (facility daemon, ident "kamailio-wacall-relay"). glibc's syslog is thread-safe; Kamailio's logger is not.
pub fn log_line(level: log::Level, text: &str) {
    if !RELAY_SYSLOG.load(Ordering::Relaxed) {
        eprintln!("wacall relay: {level}: {text}");
        return;
    }
    let prio = match level {
        log::Level::Error => libc::LOG_ERR,
        log::Level::Warn => libc::LOG_WARNING,
        log::Level::Info => libc::LOG_INFO,
        _ => libc::LOG_DEBUG,
    };
    let line = std::ffi::CString::new(text.replace('\0', " ")).unwrap_or_default();
    // SAFETY: "%s" with a NUL-terminated string; openlog was called with a static ident.
    unsafe { libc::syslog(prio, c"%s".as_ptr(), line.as_ptr()) };
}

pub fn set_setup(s: RelaySetup) {
    *SETUP.lock().unwrap_or_else(|p| p.into_inner()) = Some(s);
}

pub fn setup() -> Option<RelaySetup> {
    SETUP.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Runs `f` with this process's control client (created on first use).
pub fn with_client<R>(
    f: impl FnOnce(&mut Client) -> Result<R, wacall::relay::Error>,
) -> Result<R, wacall::relay::Error> {
    let mut g = CLIENT.lock().unwrap_or_else(|p| p.into_inner());
    if g.is_none() {
        let s = setup().ok_or_else(|| {
            wacall::relay::Error::Unavailable("wacall relay is not configured".into())
        })?;
        *g = Some(Client::new(&s.socket, s.timeout));
    }
    match g.as_mut() {
        Some(c) => f(c),
        None => Err(wacall::relay::Error::Unavailable("no client".into())),
    }
}

/// The body of the "wacall relay" Kamailio process: starts the relay in a child and restarts it when it dies;
/// returns never. Leaves when Kamailio's main process is gone (its SIGTERM to the process group stops both).
pub fn supervise(setup: RelaySetup) -> ! {
    // SAFETY: getppid has no preconditions.
    let kamailio = unsafe { libc::getppid() };
    let mut restarts = 0u64;
    loop {
        // SAFETY: this process is single-threaded (a fresh Kamailio child that started no threads), so fork is
        // safe; the child only runs Rust code and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            relay_child(&setup);
        }
        if pid < 0 {
            log::error!("relay: fork failed: {}", std::io::Error::last_os_error());
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        if restarts == 0 {
            log::info!(
                "relay started (pid {pid}), control socket {}",
                setup.socket.display()
            );
        } else {
            log::warn!("relay restarted (pid {pid}, restart {restarts})");
        }
        let mut status = 0;
        loop {
            // SAFETY: waits for our own child; status is a valid out pointer.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid
                || (r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR))
            {
                break;
            }
            // SAFETY: no preconditions.
            if unsafe { libc::getppid() } != kamailio {
                // Kamailio is gone: stop the relay too.
                // SAFETY: signals our own child.
                unsafe { libc::kill(pid, libc::SIGTERM) };
                std::process::exit(0);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        log::error!("relay process {pid} ended (wait status {status}); restarting in 1 s");
        restarts += 1;
        std::thread::sleep(Duration::from_secs(1));
    }
}

unsafe extern "C" {
    /// Kamailio's `log_stderror` setting (core/dprint.h).
    static log_stderr: std::ffi::c_int;
}

fn relay_child(setup: &RelaySetup) -> ! {
    // SAFETY: drops Kamailio's syslog connection state before its fd is closed below; reopened after.
    unsafe { libc::closelog() };
    IN_RELAY_PROCESS.store(true, Ordering::SeqCst);
    // Kamailio's signal handlers call its logger and shm: not for this process. Default actions instead.
    for sig in [
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGCHLD,
    ] {
        // SAFETY: resetting a disposition to its default is always valid.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: as above.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // Kamailio's SIP sockets, TLS connections and pipes are not the relay's: holding them would keep ports busy
    // after a Kamailio restart. Keep stdin/stdout/stderr only.
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let fds: Vec<i32> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|fd| *fd > 2)
            .collect();
        for fd in fds {
            // SAFETY: single-threaded here (fresh child); closing an fd we inherited and do not use. The read_dir
            // handle's own fd is closed already (the iterator was consumed and dropped).
            unsafe { libc::close(fd) };
        }
    }
    // SAFETY: a plain int global of Kamailio's, set before modules initialise and not changed afterwards.
    if unsafe { log_stderr } == 0 {
        RELAY_SYSLOG.store(true, Ordering::SeqCst);
        // SAFETY: the ident is a static C string, valid for the life of the process.
        unsafe {
            libc::openlog(
                c"kamailio-wacall-relay".as_ptr(),
                libc::LOG_PID,
                libc::LOG_DAEMON,
            )
        };
    }
    let r = std::panic::catch_unwind(|| wacall::relay::run(setup.config.clone(), &setup.socket));
    match r {
        Ok(Ok(())) => std::process::exit(0),
        Ok(Err(e)) => {
            log_line(log::Level::Error, &format!("cannot start: {e}"));
            // Back off: a start-up error (socket taken, ports) will not heal in a second.
            std::thread::sleep(Duration::from_secs(5));
            std::process::exit(1)
        }
        Err(_) => std::process::exit(2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_from_modparams() {
        let mut s = Settings::default();
        let r = RelaySetup::from_settings(&s, "/run/kamailio").unwrap();
        assert_eq!(r.socket, PathBuf::from("/run/kamailio/wacall-relay.sock"));
        assert_eq!((r.config.port_min, r.config.port_max), (40000, 40999));
        assert!(r.config.exit_with_parent);
        s.relay_address6 = Some("::1".into());
        s.relay_advertised_address = Some("192.0.2.1".into());
        s.relay_socket = Some("/tmp/x.sock".into());
        let r = RelaySetup::from_settings(&s, "/run/kamailio").unwrap();
        assert_eq!(r.config.meta.ipv6, Some(Ipv6Addr::LOCALHOST));
        assert_eq!(r.socket, PathBuf::from("/tmp/x.sock"));
        s.relay_advertised_address = Some("::2".into());
        assert!(RelaySetup::from_settings(&s, "/r").is_err());
        s.relay_advertised_address = None;
        s.relay_address = "nonsense".into();
        assert!(RelaySetup::from_settings(&s, "/r").is_err());
    }
}
