//! `wacall settings` against a mock of the Graph API `/<PHONE_NUMBER_ID>/settings` endpoints on 127.0.0.1 (an
//! ephemeral port, one thread): payload building and validation, GET with masked credentials, POST, errors, and
//! the token never reaching the output.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{scratch, wacall, wacall_env};
use serde_json::{json, Value};

const TOKEN: &str = "EAAGtesttoken0123456789";
const PASSWORD: &str = "s3cret-sip-pw-7f9a";
const PHONE: &str = "106540352242922";

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    auth: Option<String>,
    content_type: Option<String>,
    body: String,
}

/// A tiny Graph API: answers settings GET/POST for PHONE with the bearer TOKEN, Graph-style errors otherwise.
struct MockGraph {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn mock_graph() -> MockGraph {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v23.0", l.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let rec = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let _ = handle(s, &rec);
        }
    });
    MockGraph { url, seen }
}

fn handle(s: TcpStream, rec: &Arc<Mutex<Vec<Seen>>>) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let (mut auth, mut ctype, mut clen) = (None, None, 0usize);
    loop {
        let mut h = String::new();
        r.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            match n.to_ascii_lowercase().as_str() {
                "authorization" => auth = Some(v.trim().to_string()),
                "content-type" => ctype = Some(v.trim().to_string()),
                "content-length" => clen = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; clen];
    r.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    rec.lock().expect("lock").push(Seen {
        method: method.clone(),
        target: target.clone(),
        auth: auth.clone(),
        content_type: ctype,
        body: body.clone(),
    });

    let graph_err = |code: u16, msg: &str| {
        (
            code,
            json!({"error": {"message": msg, "type": "OAuthException", "code": 190, "fbtrace_id": "AbCdEf"}}),
        )
    };
    let (status, reply) = if auth.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        graph_err(
            401,
            "Invalid OAuth access token - Cannot parse access token",
        )
    } else if target.starts_with("/v23.0/999/") {
        // A misbehaving upstream that echoes the token back.
        graph_err(400, &format!("Unsupported request for token {TOKEN}"))
    } else if target.starts_with(&format!("/v23.0/{PHONE}/settings")) {
        match method.as_str() {
            "GET" => {
                let mut server = json!({"app_id": "1234567890", "hostname": "sip.example.com", "port": 5061,
                    "request_uri_user_params": {"tgrp": "wacall"}});
                if target.contains("include_sip_credentials=true") {
                    server["sip_user_password"] = json!(PASSWORD);
                }
                (
                    200,
                    json!({"calling": {"status": "ENABLED", "call_icon_visibility": "DEFAULT",
                    "srtp_key_exchange_protocol": "DTLS",
                    "sip": {"status": "ENABLED", "servers": [server]}}, "id": PHONE}),
                )
            }
            "POST" => match serde_json::from_str::<Value>(&body) {
                Ok(v) if v["calling"].is_object() => (200, json!({"success": true})),
                _ => (
                    400,
                    json!({"error": {"message": "(#100) Invalid parameter", "code": 100}}),
                ),
            },
            _ => (405, json!({})),
        }
    } else {
        (
            400,
            json!({"error": {"message": "Unsupported get request. Object with ID does not exist", "type": "GraphMethodException", "code": 100, "error_subcode": 33, "fbtrace_id": "XyZ"}}),
        )
    };
    let text = reply.to_string();
    let mut w = s;
    write!(
        w,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )?;
    w.flush()
}

fn env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("WACALL_GRAPH_URL", url.to_string()),
        ("WACALL_GRAPH_TOKEN", TOKEN.to_string()),
    ]
}

fn run(args: &[&str], url: &str) -> common::Out {
    let e = env(url);
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let o = wacall_env(args, &e);
    assert!(
        !o.stdout.contains(TOKEN) && !o.stderr.contains(TOKEN),
        "token leaked:\n{}\n{}",
        o.stdout,
        o.stderr
    );
    o
}

#[test]
fn get_masks_password_unless_asked() {
    let g = mock_graph();
    let o = run(
        &["settings", "get", PHONE, "--include-sip-credentials"],
        &g.url,
    );
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert!(!o.stdout.contains(PASSWORD), "{}", o.stdout);
    assert!(o.stdout.contains("********"), "{}", o.stdout);
    assert!(
        o.stdout.contains("sip.example.com:5061") && o.stdout.contains("tgrp=wacall"),
        "{}",
        o.stdout
    );
    {
        let seen = g.seen.lock().expect("lock");
        let last = seen.last().expect("a request");
        assert_eq!(last.method, "GET");
        assert_eq!(
            last.target,
            format!("/v23.0/{PHONE}/settings?include_sip_credentials=true")
        );
        assert_eq!(
            last.auth.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }

    let o = run(
        &[
            "--json",
            "settings",
            "get",
            PHONE,
            "--include-sip-credentials",
        ],
        &g.url,
    );
    assert_eq!(o.code, 0);
    let pw = o.json()["calling"]["sip"]["servers"][0]["sip_user_password"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(pw.starts_with("********") && !pw.contains(PASSWORD), "{pw}");

    let o = run(
        &[
            "--json",
            "settings",
            "get",
            PHONE,
            "--include-sip-credentials",
            "--show-password",
        ],
        &g.url,
    );
    assert_eq!(
        o.json()["calling"]["sip"]["servers"][0]["sip_user_password"],
        PASSWORD
    );

    // Without the flag, the query is not sent.
    let o = run(&["settings", "get", PHONE], &g.url);
    assert_eq!(o.code, 0);
    assert_eq!(
        g.seen
            .lock()
            .expect("lock")
            .last()
            .map(|s| s.target.clone()),
        Some(format!("/v23.0/{PHONE}/settings"))
    );
}

#[test]
fn apply_posts_validated_payload() {
    let g = mock_graph();
    let o = run(
        &[
            "settings",
            "apply",
            PHONE,
            "--hostname",
            "SIP.Example.com",
            "--port",
            "5061",
            "--user-param",
            "tgrp=wacall",
            "--user-param",
            "trunk-context=byoc.example.com",
            "--srtp",
            "SDES",
            "--status",
            "ENABLED",
        ],
        &g.url,
    );
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("applied"), "{}", o.stdout);
    let seen = g.seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].target, format!("/v23.0/{PHONE}/settings"));
    assert_eq!(seen[0].content_type.as_deref(), Some("application/json"));
    let body: Value = serde_json::from_str(&seen[0].body).expect("json body");
    assert_eq!(
        body,
        json!({"calling": {"srtp_key_exchange_protocol": "SDES", "sip": {"status": "ENABLED", "servers": [
            {"hostname": "sip.example.com", "port": 5061,
             "request_uri_user_params": {"tgrp": "wacall", "trunk-context": "byoc.example.com"}}]}}})
    );
}

#[test]
fn apply_clear_servers_and_disable() {
    let g = mock_graph();
    let o = run(
        &[
            "--json",
            "settings",
            "apply",
            PHONE,
            "--status",
            "DISABLED",
            "--clear-servers",
        ],
        &g.url,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json()["applied"], true);
    let body: Value = serde_json::from_str(&g.seen.lock().expect("lock")[0].body).expect("json");
    assert_eq!(
        body,
        json!({"calling": {"sip": {"status": "DISABLED", "servers": []}}})
    );
}

#[test]
fn dry_run_sends_nothing() {
    let g = mock_graph();
    let o = run(
        &[
            "settings",
            "apply",
            PHONE,
            "--hostname",
            "sip.example.com",
            "--dry-run",
        ],
        &g.url,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout
            .contains(&format!("POST {}/{PHONE}/settings", g.url)),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("Bearer <token>")
            && o.stdout.contains("\"hostname\": \"sip.example.com\""),
        "{}",
        o.stdout
    );
    assert!(g.seen.lock().expect("lock").is_empty());

    let o = run(
        &[
            "--json",
            "settings",
            "apply",
            PHONE,
            "--hostname",
            "sip.example.com",
            "--user-param",
            "tgrp=a",
            "--dry-run",
        ],
        &g.url,
    );
    let j = o.json();
    assert_eq!(j["dry_run"], true);
    assert_eq!(
        j["body"]["calling"]["sip"]["servers"][0]["request_uri_user_params"]["tgrp"],
        "a"
    );
    assert_eq!(
        j["example_request_uri"],
        "sip:+15551234567;tgrp=a@sip.example.com;transport=tls"
    );
    // A dry run needs no token.
    let o = wacall(&[
        "settings",
        "apply",
        PHONE,
        "--hostname",
        "sip.example.com",
        "--dry-run",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

#[test]
fn payload_validation() {
    let long = "v".repeat(129);
    let ok128 = "v".repeat(128);
    let p = format!("k={ok128}");
    let o = wacall(&[
        "--json",
        "settings",
        "payload",
        "--hostname",
        "sip.example.com",
        "--user-param",
        &p,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let p = format!("k={long}");
    let o = wacall(&[
        "settings",
        "payload",
        "--hostname",
        "sip.example.com",
        "--user-param",
        &p,
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("129 characters"), "{}", o.stderr);
    let o = wacall(&["settings", "payload", "--hostname", "203.0.113.7"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("IP address"), "{}", o.stderr);
    let o = wacall(&[
        "settings",
        "payload",
        "--hostname",
        "sip.example.com",
        "--user-param",
        "tgrp",
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("KEY=VALUE"), "{}", o.stderr);
    let o = wacall(&[
        "settings",
        "payload",
        "--hostname",
        "sip.example.com",
        "--user-param",
        "a=x;y",
    ]);
    assert_eq!(o.code, 2);
    let o = wacall(&["settings", "payload", "--srtp", "ZRTP"]);
    assert_eq!(o.code, 2);
    let o = wacall(&["settings", "payload"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("nothing to set"), "{}", o.stderr);
    let o = wacall(&[
        "settings",
        "payload",
        "--status",
        "ENABLED",
        "--clear-servers",
    ]);
    assert_eq!(o.code, 2);
    let o = wacall(&["--json", "settings", "payload", "--port", "5061"]);
    assert_eq!(o.code, 2);
    assert!(o.json()["error"]
        .as_str()
        .unwrap_or("")
        .contains("--hostname"));
    let o = wacall(&["settings", "get", "+15551234567"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("numeric Graph API id"), "{}", o.stderr);
}

#[test]
fn graph_errors_are_reported() {
    let g = mock_graph();
    let o = run(&["settings", "get", "42"], &g.url);
    assert_eq!(o.code, 3);
    assert!(
        o.stderr.contains("HTTP 400")
            && o.stderr.contains("code 100, subcode 33")
            && o.stderr.contains("XyZ"),
        "{}",
        o.stderr
    );

    // Wrong token.
    let o = wacall_env(
        &["settings", "get", PHONE],
        &[("WACALL_GRAPH_URL", &g.url), ("WACALL_GRAPH_TOKEN", "nope")],
    );
    assert_eq!(o.code, 3);
    assert!(
        o.stderr.contains("HTTP 401") && o.stderr.contains("Invalid OAuth"),
        "{}",
        o.stderr
    );

    // An upstream echoing the token: scrubbed (run() asserts the token is absent).
    let o = run(&["settings", "get", "999"], &g.url);
    assert_eq!(o.code, 3);
    assert!(o.stderr.contains("<token>"), "{}", o.stderr);
}

#[test]
fn token_sources() {
    let g = mock_graph();
    let o = wacall(&["settings", "get", PHONE, "--graph-url", &g.url]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("no Graph API token"), "{}", o.stderr);

    let dir = scratch("token");
    let f = dir.join("token");
    std::fs::write(&f, format!("{TOKEN}\n")).expect("write");
    let o = wacall(&[
        "settings",
        "get",
        PHONE,
        "--graph-url",
        &g.url,
        "--token-file",
        &f.to_string_lossy(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stdout.contains(TOKEN));

    // --help never shows the token value from the environment.
    let o = wacall_env(
        &["settings", "get", "--help"],
        &[("WACALL_GRAPH_TOKEN", TOKEN)],
    );
    assert_eq!(o.code, 0);
    assert!(
        !o.stdout.contains(TOKEN) && o.stdout.contains("WACALL_GRAPH_TOKEN"),
        "{}",
        o.stdout
    );
}

#[test]
fn unreachable_graph_is_bounded() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}/v23.0");
    let t = Instant::now();
    let o = run(&["settings", "get", PHONE, "--timeout", "2"], &url);
    assert_eq!(o.code, 3);
    assert!(o.stderr.contains("Graph API"), "{}", o.stderr);
    assert!(t.elapsed() < Duration::from_secs(10));

    // A server that accepts and never answers: the timeout holds.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v23.0", l.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    let t = Instant::now();
    let o = run(&["settings", "get", PHONE, "--timeout", "1"], &url);
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
}
