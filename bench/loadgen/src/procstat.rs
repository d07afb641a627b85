//! What the relay process costs, read from /proc: CPU time in nanoseconds summed over its threads
//! (schedstat, exact rather than 10 ms ticks) and resident memory.

use std::fs;

/// On-CPU time of every live thread of `pid`, nanoseconds. Falls back to utime+stime ticks.
pub fn cpu_ns(pid: u32) -> u64 {
    let mut total = 0u64;
    let mut any = false;
    if let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) {
        for t in dir.flatten() {
            let p = t.path().join("schedstat");
            if let Ok(s) = fs::read_to_string(p) {
                if let Some(v) = s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    total += v;
                    any = true;
                }
            }
        }
    }
    if any {
        return total;
    }
    ticks_ns(pid)
}

/// utime+stime of the whole process (dead threads included), nanoseconds at tick resolution.
pub fn ticks_ns(pid: u32) -> u64 {
    let Ok(s) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name, which may hold spaces: split after the last ')'.
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14, stime 15.
    let ut = f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let st = f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // SAFETY-free: sysconf is a plain query.
    let hz = 100u64;
    (ut + st) * 1_000_000_000 / hz
}

/// Resident set size of `pid`, kilobytes.
pub fn rss_kb(pid: u32) -> u64 {
    let Ok(s) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
