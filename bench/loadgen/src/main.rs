//! wacall's relay load generator: runs SRTP calls through wacall's relay and through rtpengine, pinned to the
//! same core, ramps the call count until loss appears, and prints one comparison table.
//!
//! `loadgen bench [--quick] [--relays wacall,rtpengine] [--scenarios sdes-sdes,sdes-rtp]`
//! `loadgen serve-wacall SOCKET PORT_MIN PORT_MAX` (the relay process the bench starts itself).
#![deny(unsafe_code)]

mod bencode;
mod gen;
mod net;
mod procstat;
mod relays;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gen::{Generator, StepResult};
use relays::{random_key, Relay, Rtpengine, Wacall};
use wacall::media::SrtpProfile;

// Ports (127.0.0.1, UDP): generator endpoints 44000-44063, ng client 44090, relay media 44100-49999 (the two relays
// run one after the other, so they share it), rtpengine ng control 22222.
const GEN_BASE: u16 = 44000;
const GEN_PER_SIDE: usize = 16;
const NG_CLIENT: u16 = 44090;
const NG_PORT: u16 = 22222;
const MEDIA_MIN: u16 = 44100;
const MEDIA_MAX: u16 = 49999;
const RELAY_CPU: usize = 0;
const GEN_CPU: usize = 1;

#[derive(Clone, Copy, PartialEq)]
enum Scenario {
    SdesSdes,
    SdesRtp,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::SdesSdes => "SDES->SDES (re-encrypt)",
            Scenario::SdesRtp => "SDES->RTP",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "sdes-sdes" => Some(Scenario::SdesSdes),
            "sdes-rtp" => Some(Scenario::SdesRtp),
            _ => None,
        }
    }
}

struct Opts {
    quick: bool,
    relays: Vec<String>,
    scenarios: Vec<Scenario>,
    step_pps: usize,
    max_pps: usize,
    measure: Duration,
    tick_us: u64,
    dir: PathBuf,
}

/// Everything one relay showed in one scenario.
#[derive(Default, Clone)]
struct Summary {
    loss_free: f64,
    usable: f64,
    ceiling_gen_limited: bool,
    cpu25: f64,
    cpu50: f64,
    half: StepResult,
    kb_per_call: f64,
    setup_us: f64,
    max_tested: f64,
}

fn ramp(relay: &mut dyn Relay, sc: Scenario, o: &Opts) -> Result<Summary, String> {
    let mut g = Generator::new(GEN_BASE, GEN_PER_SIDE)?;
    g.tick_ns = o.tick_us * 1000;
    let pid = relay.pid();
    let mut wiring = Vec::new();
    let mut setup_cpu = 0u64;
    let mut setup_calls = 0usize;
    let mut rss_first: Option<(usize, u64)> = None;
    let mut rss_last = (0usize, 0u64);
    let mut steps: Vec<StepResult> = Vec::new();
    let mut sum = Summary::default();
    let mut pps = o.step_pps;
    let warm = Duration::from_millis(if o.quick { 500 } else { 1000 });
    let drain = Duration::from_millis(500);
    while pps <= o.max_pps {
        let want = pps / 100;
        // What the relay spends with no set-up going on (wacall's silence filler keeps the calls of earlier
        // steps alive toward Meta while the generator pauses between steps): taken out of the set-up figure.
        let b0 = procstat::cpu_ns(pid);
        let bt = Instant::now();
        std::thread::sleep(Duration::from_millis(200));
        let idle_rate = (procstat::cpu_ns(pid) - b0) as f64 / bt.elapsed().as_secs_f64();
        let c0 = procstat::cpu_ns(pid);
        let t0 = Instant::now();
        let before = g.calls();
        while g.calls() < want {
            let i = g.calls();
            let (a, b) = g.endpoints(i);
            // A (the Meta side) sends AES_CM_128_HMAC_SHA1_32, B AES_CM_128_HMAC_SHA1_80: rtpengine must then
            // re-encrypt (see relays.rs); wacall gets the same keys.
            let a_key = random_key(SrtpProfile::AesCm128HmacSha1_32)?;
            let b_key = if sc == Scenario::SdesSdes {
                Some(random_key(SrtpProfile::AesCm128HmacSha1_80)?)
            } else {
                None
            };
            let w = relay.setup(i, a, b, &a_key, b_key.as_ref())?;
            g.add_call(
                &a_key,
                b_key.as_ref(),
                w.a_dest,
                w.b_dest,
                w.a_rx.as_ref(),
                w.b_rx.as_ref(),
            )?;
            wiring.push((w.a_dest, w.b_dest));
        }
        let spent = (procstat::cpu_ns(pid) - c0) as f64 - idle_rate * t0.elapsed().as_secs_f64();
        setup_cpu += spent.max(0.0) as u64;
        setup_calls += g.calls() - before;
        std::thread::sleep(Duration::from_millis(100));
        let rss = procstat::rss_kb(pid);
        if rss_first.is_none() {
            rss_first = Some((g.calls(), rss));
        }
        rss_last = (g.calls(), rss);
        let r = g.run(pid, warm, o.measure, drain);
        print_step(relay.name(), sc, &r);
        let lossy = r.loss >= 0.001;
        let limited = r.generator_limited;
        steps.push(r);
        if lossy || limited {
            break;
        }
        pps += o.step_pps;
    }
    sum.max_tested = steps.last().map(|s| s.offered_pps).unwrap_or(0.0);
    for s in &steps {
        if s.loss < 0.001 && !s.generator_limited {
            sum.loss_free = sum.loss_free.max(s.offered_pps);
            if s.p99_us < 20_000.0 {
                sum.usable = sum.usable.max(s.offered_pps);
            }
        }
    }
    sum.ceiling_gen_limited = steps
        .last()
        .map(|s| s.generator_limited && s.loss < 0.001)
        .unwrap_or(false);
    if let Some((n0, r0)) = rss_first {
        if rss_last.0 > n0 {
            sum.kb_per_call = (rss_last.1 as f64 - r0 as f64) / (rss_last.0 - n0) as f64;
        }
    }
    sum.setup_us = setup_cpu as f64 / 1000.0 / setup_calls.max(1) as f64;
    // Half and quarter of the loss-free ceiling: the latency and CPU figures users run at.
    for (frac, is_half) in [(0.5, true), (0.25, false)] {
        let want = ((sum.loss_free * frac) / 100.0).round() as usize;
        if want == 0 {
            continue;
        }
        while g.calls() > want {
            let i = g.calls() - 1;
            let (ad, bd) = wiring.pop().unwrap_or((
                "127.0.0.1:9".parse().map_err(|_| "addr")?,
                "127.0.0.1:9".parse().map_err(|_| "addr")?,
            ));
            g.pop_call(ad, bd);
            relay.teardown(i)?;
        }
        let r = g.run(pid, warm, o.measure, drain);
        eprint!("  at {:.0}% of loss-free: ", frac * 100.0);
        print_step(relay.name(), sc, &r);
        if is_half {
            sum.cpu50 = r.cpu_per_kpps;
            sum.half = r;
        } else {
            sum.cpu25 = r.cpu_per_kpps;
        }
    }
    Ok(sum)
}

fn print_step(name: &str, sc: Scenario, r: &StepResult) {
    eprintln!(
        "{name:9} {:24} calls {:5} offered {:7.0} pps delivered {:7.0} loss {:6.3}% p50 {:7.0}us p99 {:8.0}us p99.9 {:8.0}us relay cpu {:5.1}% ({:.2}%/kpps) gen cpu {:4.1}% lag {:5.1}ms{}{}",
        sc.name(),
        r.calls,
        r.offered_pps,
        r.delivered_pps,
        r.loss * 100.0,
        r.p50_us,
        r.p99_us,
        r.p999_us,
        r.relay_cpu_pct,
        r.cpu_per_kpps,
        r.gen_cpu_pct,
        r.gen_lag_ms,
        if r.generator_limited { " GENERATOR-LIMITED" } else { "" },
        if r.auth_fail > 0 { format!(" authfail {}", r.auth_fail) } else { String::new() },
    );
}

fn start(name: &str, o: &Opts) -> Result<Box<dyn Relay>, String> {
    Ok(match name {
        "wacall" => Box::new(Wacall::start(RELAY_CPU, &o.dir, MEDIA_MIN, MEDIA_MAX)?),
        "rtpengine" => Box::new(Rtpengine::start(
            RELAY_CPU, &o.dir, NG_PORT, NG_CLIENT, MEDIA_MIN, MEDIA_MAX,
        )?),
        other => return Err(format!("unknown relay {other}")),
    })
}

fn fmt_pps(v: f64, limited: bool) -> String {
    if limited {
        format!(">={:.0}k*", v / 1000.0)
    } else {
        format!("{:.0}k", v / 1000.0)
    }
}

fn ratio(w: f64, r: f64, higher_better: bool) -> String {
    if !(w > 0.0 && r > 0.0 && w.is_finite() && r.is_finite()) {
        return "-".into();
    }
    if higher_better {
        format!("{:.2}x", w / r)
    } else {
        format!("{:.2}x", r / w)
    }
}

fn bench(o: &Opts) -> Result<(), String> {
    net::pin_to_cpu(GEN_CPU).map_err(|e| format!("pin generator: {e}"))?;
    net::raise_priority();
    net::precise_timers();
    std::fs::create_dir_all(&o.dir).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let mut results: Vec<(Scenario, Vec<(String, Summary)>)> = Vec::new();
    for &sc in &o.scenarios {
        let mut row = Vec::new();
        for name in &o.relays {
            let mut relay = start(name, o)?;
            let r = ramp(relay.as_mut(), sc, o);
            drop(relay);
            match r {
                Ok(s) => row.push((name.clone(), s)),
                Err(e) => {
                    eprintln!("{name} {}: {e}", sc.name());
                    row.push((name.clone(), Summary::default()));
                }
            }
        }
        results.push((sc, row));
    }
    println!(
        "\nrelay pinned to core {RELAY_CPU}, generator on core {GEN_CPU}; SRTP AES_CM_128_HMAC_SHA1_32 on leg A, _80 on leg B, {} B payload, 50 pps per direction per call; run took {:.0} s",
        gen::PAYLOAD,
        t.elapsed().as_secs_f64()
    );
    println!("ratio = wacall's advantage (>1 means wacall is better); * = generator-limited, the relay was not saturated\n");
    for (sc, row) in &results {
        let get = |n: &str| row.iter().find(|(k, _)| k == n).map(|(_, s)| s.clone());
        let w = get("wacall").unwrap_or_default();
        let r = get("rtpengine").unwrap_or_default();
        println!("### {}\n", sc.name());
        println!("| metric | wacall | rtpengine | ratio |");
        println!("| --- | --- | --- | --- |");
        let line =
            |m: &str, a: String, b: String, ra: String| println!("| {m} | {a} | {b} | {ra} |");
        line(
            "loss-free ceiling (pps, loss < 0.1%)",
            fmt_pps(w.loss_free, w.ceiling_gen_limited),
            fmt_pps(r.loss_free, r.ceiling_gen_limited),
            ratio(w.loss_free, r.loss_free, true),
        );
        line(
            "usable ceiling (pps, + p99 < 20 ms)",
            fmt_pps(w.usable, w.ceiling_gen_limited),
            fmt_pps(r.usable, r.ceiling_gen_limited),
            ratio(w.usable, r.usable, true),
        );
        line(
            "CPU % of a core per 1,000 pps at 25% load",
            format!("{:.2}", w.cpu25),
            format!("{:.2}", r.cpu25),
            ratio(w.cpu25, r.cpu25, false),
        );
        line(
            "CPU % of a core per 1,000 pps at 50% load",
            format!("{:.2}", w.cpu50),
            format!("{:.2}", r.cpu50),
            ratio(w.cpu50, r.cpu50, false),
        );
        line(
            "half load (pps)",
            format!("{:.0}", w.half.offered_pps),
            format!("{:.0}", r.half.offered_pps),
            "-".into(),
        );
        line(
            "p50 at half load (us)",
            format!("{:.0}", w.half.p50_us),
            format!("{:.0}", r.half.p50_us),
            ratio(w.half.p50_us, r.half.p50_us, false),
        );
        line(
            "p99 at half load (us)",
            format!("{:.0}", w.half.p99_us),
            format!("{:.0}", r.half.p99_us),
            ratio(w.half.p99_us, r.half.p99_us, false),
        );
        line(
            "p99.9 at half load (us)",
            format!("{:.0}", w.half.p999_us),
            format!("{:.0}", r.half.p999_us),
            ratio(w.half.p999_us, r.half.p999_us, false),
        );
        line(
            "memory per call (KB RSS)",
            format!("{:.1}", w.kb_per_call),
            format!("{:.1}", r.kb_per_call),
            ratio(w.kb_per_call, r.kb_per_call, false),
        );
        line(
            "call set-up CPU per call (us)",
            format!("{:.0}", w.setup_us),
            format!("{:.0}", r.setup_us),
            ratio(w.setup_us, r.setup_us, false),
        );
        println!();
    }
    Ok(())
}

fn serve_wacall(args: &[String]) -> Result<(), String> {
    let socket = PathBuf::from(args.first().ok_or("socket path")?);
    let port_min = args.get(1).and_then(|v| v.parse().ok()).ok_or("port_min")?;
    let port_max = args.get(2).and_then(|v| v.parse().ok()).ok_or("port_max")?;
    let config = wacall::relay::RelayConfig {
        port_min,
        port_max,
        workers: 1,
        media_timeout_secs: 120,
        linger_secs: 2,
        exit_with_parent: true,
        ..Default::default()
    };
    wacall::relay::run(config, &socket).map_err(|e| e.to_string())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("serve-wacall") => serve_wacall(&args[1..]),
        Some("bench") => {
            let quick = args.iter().any(|a| a == "--quick");
            let val = |k: &str| args.iter().position(|a| a == k).and_then(|i| args.get(i + 1)).cloned();
            let relays = val("--relays").unwrap_or_else(|| "wacall,rtpengine".into());
            let scen = val("--scenarios").unwrap_or_else(|| "sdes-sdes,sdes-rtp".into());
            let scenarios: Option<Vec<_>> = scen.split(',').map(Scenario::parse).collect();
            let o = Opts {
                quick,
                relays: relays.split(',').map(str::to_owned).collect(),
                scenarios: scenarios.unwrap_or_default(),
                step_pps: val("--step").and_then(|v| v.parse().ok()).unwrap_or(if quick { 20_000 } else { 10_000 }),
                max_pps: val("--max").and_then(|v| v.parse().ok()).unwrap_or(240_000),
                measure: Duration::from_secs_f64(val("--secs").and_then(|v| v.parse().ok()).unwrap_or(if quick { 2.0 } else { 4.0 })),
                tick_us: val("--tick-us").and_then(|v| v.parse().ok()).unwrap_or(200),
                dir: PathBuf::from(val("--dir").unwrap_or_else(|| "/tmp/wacall-bench".into())),
            };
            bench(&o)
        }
        _ => Err("usage: loadgen bench [--quick] [--relays wacall,rtpengine] [--scenarios sdes-sdes,sdes-rtp] [--step PPS] [--max PPS] [--secs S] [--dir DIR]\n       loadgen serve-wacall SOCKET PORT_MIN PORT_MAX".into()),
    };
    if let Err(e) = r {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    }
}
