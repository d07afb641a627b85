//! The `wacall_*` API commands (fs_cli, ESL `api`/`bgapi`), in FreeSWITCH's style: `+OK ...` or `-ERR ...`.
//! Pure Rust: `entry` hands in the argument string and an `Env` for what only the host can do.

use std::sync::atomic::Ordering;

use crate::config::Config;
use crate::meta;
use crate::state::{self, Stats, STATS};

/// What an API command needs from the host.
pub trait Env {
    /// Read `wacall.conf` again.
    fn load_config(&self) -> Result<Config, String>;
    /// `switch_version_full()`.
    fn host_version(&self) -> Option<String>;
    /// A channel variable of the session called `uuid`, if that session exists.
    fn session_var(&self, uuid: &str, name: &str) -> Option<String>;
    /// Set a channel variable of the session called `uuid`; false if there is no such session.
    fn set_session_var(&self, uuid: &str, name: &str, value: &str) -> bool;
    /// Hang up the session called `uuid` because its media cannot be set up.
    fn hangup(&self, uuid: &str);
}

/// One API command: name, description and syntax as FreeSWITCH shows them in `show api`.
pub struct Command {
    pub name: &'static str,
    pub desc: &'static str,
    pub syntax: &'static str,
}

pub const URI: Command = Command {
    name: "wacall_uri",
    desc: "Meta's request URI for a business-initiated WhatsApp call",
    syntax: "<number>",
};
pub const DIGEST: Command = Command {
    name: "wacall_digest",
    desc: "Proxy-Authorization answering Meta's 407 challenge(s)",
    syntax: "<challenge> <number> <password|-> <method> <uri>",
};
pub const SDP: Command = Command {
    name: "wacall_sdp",
    desc: "Map an SDP between Meta (DTLS/ICE or SDES) and the PBX (SDES/RTP)",
    syntax: "<meta-to-pbx|pbx-to-meta> <sdp, lines separated by newlines or \\n>",
};
pub const STATS_CMD: Command = Command {
    name: "wacall_stats",
    desc: "mod_wacall counters and relay statistics",
    syntax: "",
};
pub const RELOAD: Command = Command {
    name: "wacall_reload",
    desc: "Reload autoload_configs/wacall.conf.xml",
    syntax: "",
};
pub const STATUS: Command = Command {
    name: "wacall_status",
    desc: "mod_wacall version, host version and configured numbers",
    syntax: "",
};

pub const RELAY_ANSWERED: Command = Command {
    name: "wacall_relay_answered",
    desc: "Hook (api_on_answer, set by wacall_relay): pass the PBX's answer to the relay",
    syntax: "<uuid>",
};
pub const RELAY_END: Command = Command {
    name: "wacall_relay_end",
    desc: "Hook (api_hangup_hook, set by wacall_relay): end the relay call",
    syntax: "<uuid>",
};

/// Every command, in registration order.
pub const ALL: [&Command; 8] = [
    &URI,
    &DIGEST,
    &SDP,
    &STATS_CMD,
    &RELOAD,
    &STATUS,
    &RELAY_ANSWERED,
    &RELAY_END,
];

/// Run `cmd` with its argument string; the full reply text, ending in a newline.
pub fn run(cmd: &Command, args: Option<&str>, env: &dyn Env) -> String {
    Stats::bump(&STATS.api_calls);
    let args = args.unwrap_or("").trim();
    let r = match cmd.name {
        "wacall_uri" => uri(args),
        "wacall_digest" => digest(args),
        "wacall_sdp" => sdp(args),
        "wacall_stats" => Ok(stats()),
        "wacall_reload" => reload(env),
        "wacall_status" => Ok(status(env)),
        "wacall_relay_answered" => relay_answered(args, env).inspect_err(|_| {
            // Without our answer the caller would send the far end's raw SDP (wrong media, wrong keys): end it.
            if !args.is_empty() {
                env.hangup(args);
            }
        }),
        "wacall_relay_end" => crate::bridge::end(args),
        other => Err(format!("unknown command {other}")),
    };
    match r {
        Ok(text) if text.contains('\n') => format!("+OK\n{}\n", text.trim_end()),
        Ok(text) => format!("+OK {text}\n"),
        Err(e) => {
            Stats::bump(&STATS.api_errors);
            let e = e.replace(['\r', '\n'], " ");
            format!("-ERR {e} (usage: {} {})\n", cmd.name, cmd.syntax)
        }
    }
}

fn loaded() -> Result<std::sync::Arc<Config>, String> {
    state::config().ok_or_else(|| "mod_wacall is not loaded".to_string())
}

fn uri(args: &str) -> Result<String, String> {
    if args.is_empty() {
        return Err("a number expected".into());
    }
    meta::meta_ruri(args, &*loaded()?)
}

fn digest(args: &str) -> Result<String, String> {
    // The challenge has spaces and commas; the four arguments after it have none, so take them from the end.
    let mut it = args.rsplitn(5, char::is_whitespace);
    let (Some(uri), Some(method), Some(password), Some(number), Some(challenge)) =
        (it.next(), it.next(), it.next(), it.next(), it.next())
    else {
        return Err("five arguments expected".into());
    };
    let challenge = challenge.trim();
    if challenge.is_empty() {
        return Err("empty challenge".into());
    }
    let cfg = loaded()?;
    let password = if password == "-" {
        cfg.number(number)
            .and_then(|n| n.password.clone())
            .ok_or_else(|| format!("no password configured for {number}"))?
    } else {
        password.to_string()
    };
    meta::digest(challenge, number, &password, method, uri)
}

fn sdp(args: &str) -> Result<String, String> {
    let (direction, body) = args
        .split_once(char::is_whitespace)
        .ok_or("direction and SDP expected")?;
    if !matches!(direction, "meta-to-pbx" | "pbx-to-meta") {
        return Err(format!("unknown direction {direction:?}"));
    }
    // fs_cli sends one line: accept "\r\n" and "\n" written as escapes, and real newlines.
    let body = body.trim().replace("\\r\\n", "\n").replace("\\n", "\n");
    let sdp: String = body
        .lines()
        .map(|l| format!("{}\r\n", l.trim_end_matches('\r')))
        .collect();
    meta::map_sdp(direction, &sdp, &*loaded()?)
}

fn relay_answered(uuid: &str, env: &dyn Env) -> Result<String, String> {
    if uuid.is_empty() {
        return Err("a uuid expected".into());
    }
    // The B-leg: set on the A-leg when the bridge created it, or once bridged.
    let peer = ["originate_signal_bond", "signal_bond", "bridge_uuid"]
        .iter()
        .find_map(|v| env.session_var(uuid, v))
        .ok_or_else(|| format!("no peer leg for {uuid}"))?;
    let answer = env
        .session_var(&peer, "switch_r_sdp")
        .ok_or_else(|| format!("no SDP answer on {peer}"))?;
    let (meta_answer, line) = crate::bridge::answered(uuid, &answer)?;
    // Runs as the B-leg's api_on_answer, before the A-leg is told to answer: it answers with this.
    if !env.set_session_var(uuid, "switch_m_sdp", &meta_answer) {
        return Err(format!("{uuid} went away before it could answer"));
    }
    Ok(line)
}

fn stats() -> String {
    let mut out: Vec<String> = STATS
        .snapshot()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    match state::relay_stats() {
        Ok(r) => out.extend(r.into_iter().map(|(k, v)| format!("{k}={v}"))),
        Err(e) => out.push(format!("relay=\"{e}\"")),
    }
    out.join(" ")
}

fn reload(env: &dyn Env) -> Result<String, String> {
    loaded()?;
    let cfg = env.load_config()?;
    let n = cfg.numbers.len();
    state::set_config(Some(cfg));
    STATS.reloads.fetch_add(1, Ordering::Relaxed);
    Ok(format!("reloaded, {n} number(s)"))
}

fn status(env: &dyn Env) -> String {
    let mut out = format!(
        "mod_wacall {} on {}\n",
        env!("CARGO_PKG_VERSION"),
        env.host_version()
            .as_deref()
            .unwrap_or("unknown FreeSWITCH")
    );
    match state::config() {
        None => out.push_str("not loaded\n"),
        Some(c) => {
            out.push_str(&format!(
                "profile={} meta-host={} srtp={} relay={}:{}-{}\n",
                c.profile,
                c.meta_host,
                c.default_srtp.as_str(),
                c.relay_address,
                c.relay_ports.0,
                c.relay_ports.1
            ));
            for n in &c.numbers {
                out.push_str(&format!(
                    "number {} srtp={} password={} hostname={} gateway={}\n",
                    n.e164,
                    n.srtp.as_str(),
                    if n.password.is_some() { "set" } else { "unset" },
                    n.hostname.as_deref().unwrap_or("-"),
                    n.gateway.as_deref().unwrap_or("-")
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::sample;

    struct TestEnv;
    impl Env for TestEnv {
        fn load_config(&self) -> Result<Config, String> {
            Config::from_node(&sample()).map_err(|e| e.to_string())
        }
        fn host_version(&self) -> Option<String> {
            Some("1.10.12-test".into())
        }
        fn session_var(&self, _: &str, _: &str) -> Option<String> {
            None
        }
        fn set_session_var(&self, _: &str, _: &str, _: &str) -> bool {
            false
        }
        fn hangup(&self, _: &str) {}
    }

    fn with_config<T>(f: impl FnOnce() -> T) -> T {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        state::set_config(Some(TestEnv.load_config().unwrap()));
        let r = f();
        state::set_config(None);
        r
    }

    #[test]
    fn uri_command() {
        with_config(|| {
            assert_eq!(
                run(&URI, Some(" +15551234567 "), &TestEnv),
                "+OK sip:+15551234567@wa.meta.vc;transport=tls\n"
            );
            assert!(run(&URI, Some(""), &TestEnv).starts_with("-ERR "));
            assert!(run(&URI, None, &TestEnv).contains("usage: wacall_uri <number>"));
            assert!(run(&URI, Some("abc"), &TestEnv).starts_with("-ERR "));
        });
    }

    #[test]
    fn status_hides_passwords() {
        with_config(|| {
            let s = run(&STATUS, None, &TestEnv);
            assert!(s.starts_with("+OK\nmod_wacall "), "{s}");
            assert!(s.contains("1.10.12-test"));
            assert!(s.contains("password=set"));
            assert!(!s.contains("s3cret"));
        });
    }

    #[test]
    fn reload_and_stats() {
        with_config(|| {
            assert_eq!(run(&RELOAD, None, &TestEnv), "+OK reloaded, 2 number(s)\n");
            let s = run(&STATS_CMD, None, &TestEnv);
            assert!(s.starts_with("+OK api_calls="), "{s}");
        });
        assert!(run(&RELOAD, None, &TestEnv).starts_with("-ERR mod_wacall is not loaded"));
    }

    #[test]
    fn digest_and_sdp_argument_checks() {
        with_config(|| {
            assert!(run(&DIGEST, Some("x"), &TestEnv).starts_with("-ERR five arguments expected"));
            let r = run(
                &DIGEST,
                Some("Digest realm=\"wa.meta.vc\" +19999999999 - INVITE sip:x"),
                &TestEnv,
            );
            assert!(r.starts_with("-ERR no password configured"), "{r}");
            assert!(run(&SDP, Some("sideways v=0"), &TestEnv).starts_with("-ERR unknown direction"));
            assert!(run(&SDP, Some("meta-to-pbx"), &TestEnv).starts_with("-ERR "));
        });
    }
}
