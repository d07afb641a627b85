//! Speed of the SIP URI and digest layers: URI parse/print, Meta's R-URI rewrite, challenge parsing, digest responses.
//! Targets (issue 3): URI rewrite and digest response each under 2 us. `WACALL_BENCH_CPU=1` measures per-thread CPU
//! time instead of wall time: on a shared, loaded machine that is the figure that means something.
#![allow(unsafe_code)]

use std::hint::black_box;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput};
use wacall::digest::{self, Challenge, Credentials, DigestRequest};
use wacall::sip::{self, NumberPolicy, Uri};

const RURI: &str = "sip:+12195550714@wa.meta.vc;transport=tls";
const INBOUND: &str = "sip:+1234567890;tgrp=wacall;trunk-context=byoc.example.com@sip.example.com";
const META_407: [&str; 2] = [
    r#"Digest realm="wa.meta.vc",nonce="419ac2415577f8e1",opaque="440badfc05072367",algorithm=SHA-256,qop="auth""#,
    r#"Digest realm="wa.meta.vc",nonce="419ac2415577f8e1",opaque="440badfc05072367",algorithm=MD5,qop="auth""#,
];

fn sip_benches<M: Measurement + 'static>(c: &mut Criterion<M>) {
    c.bench_function("uri_parse_meta_ruri", |b| {
        b.iter(|| Uri::parse(black_box(RURI)))
    });
    c.bench_function("uri_parse_print_inbound", |b| {
        b.iter(|| Uri::parse(black_box(INBOUND)).map(|u| u.to_string()))
    });
    c.bench_function("parse_inbound_request_uri", |b| {
        b.iter(|| sip::parse_inbound_request_uri(black_box(INBOUND)))
    });
    let pol = NumberPolicy::default();
    c.bench_function("meta_request_uri_formatted", |b| {
        b.iter(|| sip::meta_request_uri(black_box("+1 219-555-0714"), &pol))
    });
    c.bench_function("meta_request_uri_sip_uri", |b| {
        b.iter(|| sip::meta_request_uri(black_box("sip:+12195550714@meta-voip.example.com"), &pol))
    });
}

fn digest_benches<M: Measurement + 'static>(c: &mut Criterion<M>) {
    c.bench_function("challenge_parse_meta_407_two", |b| {
        b.iter(|| digest::parse_challenge_headers(black_box(&META_407)))
    });
    let cs = digest::parse_challenge_headers(&META_407).unwrap_or_default();
    let creds = Credentials::new("17125550259", "secret-password");
    // A fixed cnonce isolates the hashing from the CSPRNG; the next bench includes it.
    let req = DigestRequest {
        cnonce: Some("b338deb7f0e004e66353e26d34ad62b7"),
        ..DigestRequest::new("INVITE", RURI)
    };
    for (name, ch) in [
        ("digest_response_sha256", &cs[0]),
        ("digest_response_md5", &cs[1]),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| digest::respond(black_box(ch), &creds, &req).map(|a| a.to_header_value()))
        });
    }
    c.bench_function("digest_response_sha256_random_cnonce", |b| {
        let req = DigestRequest::new("INVITE", RURI);
        b.iter(|| digest::respond(black_box(&cs[0]), &creds, &req).map(|a| a.to_header_value()))
    });
    c.bench_function("meta_authorization_end_to_end", |b| {
        b.iter(|| {
            digest::meta_authorization(
                black_box(&META_407),
                "+17125550259",
                "secret-password",
                "INVITE",
                RURI,
            )
        })
    });
    let sess = Challenge::parse(
        r#"Digest realm="wa.meta.vc", nonce="419ac2415577f8e1", algorithm=SHA-512-256-sess, qop="auth""#,
    );
    if let Ok(sess) = sess {
        c.bench_function("digest_response_sha512_256_sess", |b| {
            b.iter(|| digest::respond(black_box(&sess), &creds, &req).map(|a| a.to_header_value()))
        });
    }
    let mut server = match digest::Server::new(digest::ServerConfig::new(
        "wa.example",
        b"0123456789abcdef0123456789".to_vec(),
    )) {
        Ok(s) => s,
        Err(_) => return,
    };
    let ch = server.challenges(1000, false).unwrap_or_default();
    let mut nc = 0u32;
    c.bench_function("server_verify_sha256", |b| {
        b.iter(|| {
            nc += 1;
            let r = DigestRequest {
                nonce_count: nc,
                cnonce: Some("abc"),
                ..DigestRequest::new("INVITE", RURI)
            };
            let a = digest::respond(&ch[0], &creds, &r)
                .map(|a| a.to_header_value())
                .unwrap_or_default();
            let vr = digest::VerifyRequest {
                method: "INVITE",
                body: b"",
                now_unix: 1001,
                uri_check: None,
            };
            server.verify(black_box(&a), &vr, |_| Some("secret-password".to_owned()))
        })
    });
}

/// CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID), in ns: excludes time spent descheduled.
struct ThreadCpuTime;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer to a local.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

struct NsFormatter;

impl ValueFormatter for NsFormatter {
    fn scale_values(&self, ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if ns < 1e3 {
            (1.0, "ns cpu")
        } else if ns < 1e6 {
            (1e-3, "us cpu")
        } else {
            (1e-6, "ms cpu")
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }
    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let n = match t {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => {
                *n as f64
            }
            _ => 1.0,
        };
        values.iter_mut().for_each(|v| *v = n * 1e9 / *v);
        "/s cpu"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, i: u64) -> u64 {
        thread_cpu_ns().saturating_sub(i)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &NsFormatter
    }
}

fn run<M: Measurement + 'static>(mut c: Criterion<M>) {
    sip_benches(&mut c);
    digest_benches(&mut c);
    c.final_summary();
}

fn main() {
    if std::env::var_os("WACALL_BENCH_CPU").is_some() {
        run(Criterion::default()
            .with_measurement(ThreadCpuTime)
            .configure_from_args());
    } else {
        run(Criterion::default()
            .with_measurement(WallTime)
            .configure_from_args());
    }
}
