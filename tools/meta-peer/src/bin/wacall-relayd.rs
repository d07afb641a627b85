//! wacall-relayd: wacall's media relay as a standalone process (what Kamailio forks), for tests and for
//! deployments that run the relay apart from the SIP server.
//! usage: wacall-relayd CONTROL_SOCKET [CONFIG.json]   (config: wacall::relay::RelayConfig as JSON)

struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &log::Record) {
        eprintln!("wacall-relayd {} {}: {}", r.level(), r.target(), r.args());
    }
    fn flush(&self) {}
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 || args.len() > 3 {
        eprintln!("usage: wacall-relayd CONTROL_SOCKET [CONFIG.json]");
        std::process::exit(2);
    }
    let _ = log::set_logger(&StderrLog);
    let level = match std::env::var("WACALL_LOG").as_deref() {
        Ok("debug") => log::LevelFilter::Debug,
        Ok("trace") => log::LevelFilter::Trace,
        Ok("warn") => log::LevelFilter::Warn,
        _ => log::LevelFilter::Info,
    };
    log::set_max_level(level);
    let config: wacall::relay::RelayConfig = match args.get(2) {
        Some(p) => {
            let text = std::fs::read_to_string(p).unwrap_or_else(|e| {
                eprintln!("wacall-relayd: {p}: {e}");
                std::process::exit(2)
            });
            serde_json::from_str(&text).unwrap_or_else(|e| {
                eprintln!("wacall-relayd: {p}: {e}");
                std::process::exit(2)
            })
        }
        None => Default::default(),
    };
    if let Err(e) = wacall::relay::run(config, std::path::Path::new(&args[1])) {
        eprintln!("wacall-relayd: {e}");
        std::process::exit(1);
    }
}
