//! ABI-level tests: a small C host (tests/host/fake_switch.c) exports the switch_* symbols, dlopens the built
//! mod_wacall.so as FreeSWITCH does, reads `mod_wacall_module_interface`, loads it and calls every interface.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// target/<profile>/ of this test binary (tests run from target/<profile>/deps/).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// The cdylib cargo built for this test run: `cargo test` leaves it in deps/ (only `cargo build` copies it up a
/// level), so take the newer of the two.
fn module_path() -> PathBuf {
    let dir = target_dir();
    let newest = [
        dir.join("deps/libmod_wacall.so"),
        dir.join("libmod_wacall.so"),
    ]
    .into_iter()
    .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
    .max();
    newest
        .expect("libmod_wacall.so missing: cargo builds the cdylib with the tests")
        .1
}

/// Compile the fake host once per test run with `cc`, exporting its symbols to the module (-rdynamic).
fn host_binary() -> &'static Path {
    static HOST: OnceLock<PathBuf> = OnceLock::new();
    HOST.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/host/fake_switch.c");
        let out = target_dir().join("fake_switch_host");
        let tmp = target_dir().join(format!("fake_switch_host.{}", std::process::id()));
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let st = Command::new(cc)
            .args(["-std=c11", "-Wall", "-Werror", "-O1", "-rdynamic", "-o"])
            .arg(&tmp)
            .arg(&src)
            .arg("-ldl")
            .status()
            .expect("run cc");
        assert!(st.success(), "compiling the fake FreeSWITCH host failed");
        // Rename into place so a concurrent test run never executes a half-written binary.
        std::fs::rename(&tmp, &out).expect("rename host binary");
        out
    })
}

/// Run the host with `script` on stdin; its whole stdout.
fn run_host(script: &str, extra: &[&str]) -> String {
    let mut child = Command::new(host_binary())
        .arg(module_path())
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn host");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("host output");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "host failed ({:?}):\n{text}",
        out.status
    );
    text
}

/// The reply text of the `n`th call of API `name`.
fn reply<'a>(out: &'a str, name: &str, n: usize) -> &'a str {
    let tag = format!("REPLY {name} status=0\n");
    let start = out
        .match_indices(&tag)
        .nth(n)
        .unwrap_or_else(|| panic!("no reply #{n} for {name}:\n{out}"))
        .0;
    let body = &out[start + tag.len()..];
    &body[..body.find("END\n").expect("END")]
}

#[test]
fn loads_registers_and_unloads() {
    let out = run_host("", &[]);
    assert!(
        out.contains("TABLE api_version=5 load=set shutdown=set runtime=null flags=0"),
        "{out}"
    );
    assert!(out.contains("CREATE_MODULE mod_wacall"), "{out}");
    assert!(out.contains("OPEN_CFG wacall.conf"), "{out}");
    assert!(out.contains("LOAD status=0 module_interface=ok"), "{out}");
    for api in [
        "wacall_uri",
        "wacall_digest",
        "wacall_sdp",
        "wacall_stats",
        "wacall_reload",
        "wacall_status",
    ] {
        assert!(
            out.contains(&format!("API {api}|")),
            "{api} not registered:\n{out}"
        );
    }
    assert!(out.contains(
        "API wacall_uri|Meta's request URI for a business-initiated WhatsApp call|<number>|fn"
    ));
    // SAF_SUPPORT_NOMEDIA | SAF_ROUTING_EXEC
    assert!(out.contains(
        "APP wacall_from_meta|Read a WhatsApp call from Meta into channel variables||flags=3|fn"
    ));
    assert!(out.contains(
        "APP wacall_to_meta|Prepare a WhatsApp call to Meta|<number> [business-number]|flags=3|fn"
    ));
    assert!(
        out.contains("loaded on FreeSWITCH 1.10.12-fakehost, 2 number(s)"),
        "{out}"
    );
    assert!(out.contains("SHUTDOWN status=0"));
    assert!(
        out.contains("XML opens=1 frees=1"),
        "config document leaked or double-freed:\n{out}"
    );
    assert!(out.contains("DONE"));
}

#[test]
fn api_commands_answer_ok_and_err() {
    let out = run_host(
        "api wacall_uri +1 555-123-4567\n\
         api wacall_uri\n\
         api wacall_uri 12ab%s%n%s\n\
         api wacall_status\n\
         api wacall_stats\n\
         api wacall_reload\n\
         api wacall_digest nonsense\n\
         api wacall_digest Digest realm=\"wa.meta.vc\", nonce=\"n1\", algorithm=SHA-256, qop=\"auth\", Digest realm=\"wa.meta.vc\", nonce=\"n1\", algorithm=MD5, qop=\"auth\" +15551234567 - INVITE sip:+442079460000@wa.meta.vc;transport=tls\n\
         api wacall_sdp sideways v=0\n",
        &[],
    );
    assert_eq!(
        reply(&out, "wacall_uri", 0),
        "+OK sip:+15551234567@wa.meta.vc;transport=tls\n"
    );
    assert!(reply(&out, "wacall_uri", 1)
        .starts_with("-ERR a number expected (usage: wacall_uri <number>)"));
    // printf directives in host input come back literally: the module always writes through "%s".
    assert!(reply(&out, "wacall_uri", 2).contains("12ab%s%n%s"), "{out}");
    let status = reply(&out, "wacall_status", 0);
    assert!(status.starts_with("+OK\nmod_wacall "), "{status}");
    assert!(status.contains("on 1.10.12-fakehost"));
    assert!(
        status.contains("number +15551234567 srtp=DTLS password=set hostname=- gateway=wa1"),
        "{status}"
    );
    assert!(
        status.contains("number +15550001111 srtp=SDES password=set"),
        "{status}"
    );
    assert!(
        !out.contains("s3cret") && !out.contains("pw-two"),
        "a password leaked:\n{out}"
    );
    let stats = reply(&out, "wacall_stats", 0);
    assert!(stats.starts_with("+OK api_calls="), "{stats}");
    assert!(
        stats.contains(" relay_calls=0 ") && stats.contains(" relay_workers=1 "),
        "{stats}"
    );
    assert_eq!(
        reply(&out, "wacall_reload", 0),
        "+OK reloaded, 2 number(s)\n"
    );
    assert!(reply(&out, "wacall_digest", 0).starts_with("-ERR "));
    let auth = reply(&out, "wacall_digest", 1);
    assert!(auth.starts_with("+OK Digest "), "{auth}");
    assert!(auth.contains("username=\"15551234567\""), "{auth}");
    assert!(
        auth.contains("uri=\"sip:+442079460000@wa.meta.vc;transport=tls\""),
        "{auth}"
    );
    assert!(auth.contains("algorithm=SHA-256"), "{auth}");
    assert!(reply(&out, "wacall_sdp", 0).starts_with("-ERR unknown direction"));
    assert!(out.contains("XML opens=2 frees=2"), "{out}");
}

#[test]
fn sdp_command_maps_meta_offer() {
    let offer =
        include_str!("../../tests/fixtures/sdp/meta_offer_dtls.sdp").replace("\r\n", "\\r\\n");
    let out = run_host(
        &format!("api wacall_sdp meta-to-pbx {offer}\napi wacall_sdp pbx-to-meta v=0\n"),
        &[],
    );
    let pbx = reply(&out, "wacall_sdp", 0);
    assert!(pbx.starts_with("+OK\nv=0"), "{pbx}");
    assert!(pbx.contains("m=audio 43002 RTP/SAVP 111 126"), "{pbx}");
    assert!(
        pbx.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{pbx}"
    );
    assert!(reply(&out, "wacall_sdp", 1).starts_with("-ERR "), "{out}");
}

#[test]
fn relay_app_maps_both_sdps_and_runs_hooks() {
    let offer =
        include_str!("../../tests/fixtures/sdp/meta_offer_dtls.sdp").replace("\r\n", "\\r\\n");
    // One fake session plays both legs: its own originate_signal_bond, so the answer hook reads the PBX's
    // "answer" (our own SDES offer, which wacall_relay left in switch_r_sdp) from it.
    let out = run_host(
        &format!(
            "var switch_r_sdp {offer}\n\
             unescape switch_r_sdp\n\
             var export_vars foo\n\
             app wacall_relay\n\
             api wacall_stats\n\
             var originate_signal_bond 00000000-fake-uuid\n\
             api wacall_relay_answered 00000000-fake-uuid\n\
             api wacall_relay_answered nobody\n\
             dumpvars\n\
             api wacall_relay_end 00000000-fake-uuid\n\
             api wacall_relay_end 00000000-fake-uuid\n\
             api wacall_relay_answered 00000000-fake-uuid\n"
        ),
        &[],
    );
    let section = |tag: &str| {
        let start = out
            .find(tag)
            .unwrap_or_else(|| panic!("{tag} missing:\n{out}"));
        let body = &out[start..];
        body[..body.find("END\n").expect("END")].to_string()
    };
    let vars = section("VARS wacall_relay");
    assert!(!vars.contains("wacall_error="), "{vars}");
    assert!(vars.contains("bypass_media=true"), "{vars}");
    assert!(vars.contains("sip_enable_soa=false"), "{vars}");
    assert!(
        vars.contains("nolocal:api_on_answer=wacall_relay_answered 00000000-fake-uuid"),
        "{vars}"
    );
    assert!(
        vars.contains("export_vars=foo,nolocal:api_on_answer"),
        "{vars}"
    );
    assert!(
        vars.contains("api_hangup_hook=wacall_relay_end 00000000-fake-uuid"),
        "{vars}"
    );
    // The PBX's offer: SDES toward the relay's PBX-side port, with the relay's key.
    assert!(vars.contains(" RTP/SAVP 111 126"), "{vars}");
    assert!(
        vars.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{vars}"
    );
    assert!(
        reply(&out, "wacall_stats", 0).contains(" relay_calls=1 "),
        "{out}"
    );
    let answered = reply(&out, "wacall_relay_answered", 0);
    assert!(
        answered.starts_with("+OK relay call 00000000-fake-uuid (FromMeta): far end answered"),
        "{answered}"
    );
    assert!(
        reply(&out, "wacall_relay_answered", 1).starts_with("-ERR no peer leg for nobody"),
        "{out}"
    );
    // Meta's answer, written for sofia to send: DTLS client, our ICE credentials and fingerprint, rtcp-mux.
    let dumped = section("DUMPVARS");
    let m_sdp = dumped
        .split("switch_m_sdp=")
        .nth(1)
        .expect("switch_m_sdp set");
    for want in [
        "UDP/TLS/RTP/SAVPF 111 126",
        "a=setup:active",
        "a=ice-ufrag:",
        "a=fingerprint:sha-256 ",
        "a=rtcp-mux",
    ] {
        assert!(m_sdp.contains(want), "{want} missing:\n{m_sdp}");
    }
    assert!(
        reply(&out, "wacall_relay_end", 0).starts_with("+OK relay call 00000000-fake-uuid ended"),
        "{out}"
    );
    assert!(
        reply(&out, "wacall_relay_end", 1).starts_with("-ERR "),
        "{out}"
    );
    // An answer hook that cannot map (the call is gone) hangs the caller up rather than let it send raw SDP.
    assert!(
        reply(&out, "wacall_relay_answered", 2).starts_with("-ERR no relay call"),
        "{out}"
    );
    assert!(out.contains("HANGUP fake-session cause=88"), "{out}");
    assert!(out.contains("SESSION locks held=0"), "{out}");
}

#[test]
fn null_and_garbage_arguments_are_handled() {
    let out = run_host(
        "apinull wacall_uri\n\
         apinull wacall_stats\n\
         nostream wacall_uri\n\
         appnull wacall_from_meta\n\
         appnull wacall_to_meta\n\
         api wacall_uri \u{00ff}\u{fffd}\n",
        &[],
    );
    assert!(
        reply(&out, "wacall_uri", 0).starts_with("-ERR a number expected"),
        "{out}"
    );
    assert!(reply(&out, "wacall_stats", 0).starts_with("+OK"));
    assert!(
        out.contains("REPLY wacall_uri status=1\nEND"),
        "null stream must give SWITCH_STATUS_FALSE:\n{out}"
    );
    assert_eq!(out.matches("APPNULL done").count(), 2);
    assert!(reply(&out, "wacall_uri", 1).starts_with("-ERR "), "{out}");
    assert!(out.contains("DONE"));
}

#[test]
fn applications_set_channel_variables() {
    let out = run_host(
        "var sip_req_user +15551234567;tgrp=wa-trunk;trunk-context=example.com\n\
         var sip_h_X-WA-Meta-WACID wacid.HBgLMTU1NTEyMzQ1NjcVAgARGBI\n\
         var sip_h_x-wa-meta-deeplink-payload deep%20link\n\
         app wacall_from_meta\n\
         clearvars\n\
         app wacall_to_meta 442079460000 +15551234567\n\
         clearvars\n\
         app wacall_to_meta +442079460000 +15550001111\n\
         clearvars\n\
         var destination_number bob\n\
         app wacall_from_meta\n",
        &[],
    );
    let vars = |n: usize| {
        let start = out.match_indices("VARS ").nth(n).expect("VARS").0;
        let body = &out[start..];
        body[..body.find("END\n").expect("END")].to_string()
    };
    let from = vars(0);
    for want in [
        "wacall_number=+15551234567",
        "wacall_tgrp=wa-trunk",
        "wacall_trunk_context=example.com",
        "wacall_param_tgrp=wa-trunk",
        "wacall_param_trunk_context=example.com",
        "wacall_wacid=wacid.HBgLMTU1NTEyMzQ1NjcVAgARGBI",
        "wacall_deeplink_payload=deep%20link",
        "wacall_known=true",
        "wacall_srtp=DTLS",
    ] {
        assert!(from.contains(want), "{want} missing:\n{from}");
    }
    let to_gw = vars(1);
    assert!(
        to_gw.contains("wacall_ruri=sip:+442079460000@wa.meta.vc;transport=tls"),
        "{to_gw}"
    );
    assert!(
        to_gw.contains("wacall_dial_string=sofia/gateway/wa1/+442079460000"),
        "{to_gw}"
    );
    let to_direct = vars(2);
    assert!(
        to_direct.contains(
            "wacall_dial_string=sofia/wacall-meta/sip:+442079460000@wa.meta.vc;transport=tls"
        ),
        "{to_direct}"
    );
    assert!(to_direct.contains("sip_auth_username=15550001111"));
    assert!(to_direct.contains("export_vars=sip_auth_username,sip_auth_password"));
    let bad = vars(3);
    assert!(
        bad.contains("wacall_error=invalid phone number \"bob\""),
        "{bad}"
    );
    // The password is set as a channel variable for sofia, but never logged.
    let logs: String = out
        .lines()
        .filter(|l| l.starts_with("LOG "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !logs.contains("pw-two") && !logs.contains("s3cret"),
        "{logs}"
    );
}

#[test]
fn reload_cycle_and_missing_config() {
    let out = run_host("reload\napi wacall_uri 15551234567\nreload\n", &[]);
    assert_eq!(
        out.matches("LOAD status=0 module_interface=ok").count(),
        3,
        "{out}"
    );
    assert_eq!(out.matches("SHUTDOWN status=0").count(), 3);
    assert_eq!(
        reply(&out, "wacall_uri", 0),
        "+OK sip:+15551234567@wa.meta.vc;transport=tls\n"
    );

    let out = run_host("api wacall_status\n", &["--no-config"]);
    assert!(out.contains("LOAD status=0"), "{out}");
    assert!(out.contains("wacall.conf not found"), "{out}");
    assert!(reply(&out, "wacall_status", 0).contains("profile=wacall-meta"));
}

/// Every host symbol the module imports is one that FreeSWITCH 1.10.12's libfreeswitch.so really exports
/// (the list is `nm -D --defined-only` of the hand-built 1.10.12; see VERIFIED.md). The fake host alone could
/// not show this: it exports whatever it defines.
#[test]
fn imports_only_symbols_libfreeswitch_exports() {
    let exports: std::collections::HashSet<&str> =
        include_str!("host/libfreeswitch-1.10.12.exports")
            .lines()
            .collect();
    assert!(exports.contains("switch_log_printf") && exports.len() > 1000);
    let out = Command::new("nm")
        .args(["-D", "--undefined-only"])
        .arg(module_path())
        .output()
        .expect("run nm (binutils)");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let imports: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|s| s.starts_with("switch_"))
        .collect();
    assert!(
        imports.contains(&"switch_loadable_module_create_interface"),
        "{text}"
    );
    for sym in imports {
        assert!(
            exports.contains(sym),
            "{sym} is not exported by libfreeswitch 1.10.12"
        );
    }
    let defined = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(module_path())
        .output()
        .expect("run nm");
    let text = String::from_utf8_lossy(&defined.stdout);
    let ours: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|s| s.starts_with("mod_") || s.starts_with("switch_"))
        .collect();
    assert_eq!(
        ours,
        ["mod_wacall_module_interface"],
        "the module exports exactly its table"
    );
}
