//! Builds the raw bindings to the installed Kamailio: finds (or fetches) the matching Debian source package, runs
//! bindgen over its headers with Kamailio's own compile defines, and reads the ABI identity from `kamailio -v`.
//!
//! Environment: `WACALL_KAMAILIO_SRC` (a Kamailio source tree to use instead of the fetched one), `KAMAILIO_BIN`
//! (the kamailio binary whose ABI we target, default `kamailio` on PATH or /usr/sbin/kamailio).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

type BoxError = Box<dyn std::error::Error>;

fn main() {
    if let Err(e) = run() {
        // A clear, single message instead of a module that Kamailio would refuse at load time.
        eprintln!("wacall-kamailio build failed: {e}");
        std::process::exit(1);
    }
}

/// What `kamailio -v` says about the installed server.
struct Identity {
    /// e.g. `kamailio 5.6.3 (x86_64/linux)`
    module_version: String,
    /// the `flags:` line, trailing space trimmed
    module_flags: String,
    /// e.g. `5.6.3`
    upstream_version: String,
}

fn run() -> Result<(), BoxError> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=csrc/wrapper.h");
    println!("cargo:rerun-if-changed=csrc/shim.c");
    println!("cargo:rerun-if-env-changed=WACALL_KAMAILIO_SRC");
    println!("cargo:rerun-if-env-changed=KAMAILIO_BIN");

    let id = installed_identity()?;
    let src = source_tree(&id)?;
    check_source_version(&src, &id)?;
    let defines = compile_defines(&src, &id)?;

    println!(
        "cargo:rustc-env=WACALL_KAM_MODULE_VERSION={}",
        id.module_version
    );
    println!(
        "cargo:rustc-env=WACALL_KAM_MODULE_FLAGS={}",
        id.module_flags
    );
    println!("cargo:rustc-env=WACALL_KAM_SRC={}", src.display());

    let out = PathBuf::from(env::var("OUT_DIR")?);
    let srcdir = src.join("src");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);

    let mut clang_args: Vec<String> = defines.clone();
    clang_args.push(format!("-I{}", srcdir.display()));
    let bindings = bindgen::Builder::default()
        .header(manifest.join("csrc/wrapper.h").display().to_string())
        .clang_args(&clang_args)
        .allowlist_type("module_exports|cmd_export_t|param_export_t|rpc_export_t|rpc_t|rpc_capabilities")
        .allowlist_type("sip_msg|sip_msg_t|hdr_field|lump|str|sr_kemi_t|sr_kemi|receive_info|ip_addr")
        .allowlist_type("tm_binds|cell|ua_client|sr_cfgenv_t|int_str|avp_t|usr_avp|hdr_types_t|_hdr_types_t")
        .allowlist_type("sip_uri|to_body|request_line|msg_start|modparam_t|pv_export_t")
        .allowlist_function("parse_headers|get_body|rewrite_uri|add_avp|del_lump|insert_new_lump_after")
        .allowlist_function("insert_new_lump_before|anchor_lump|sr_kemi_modules_add|sr_cfgenv_get|parse_uri")
        .allowlist_function("parse_sip_msg_uri|parse_from_header|parse_to_header|set_dst_uri|parse_msg")
        .allowlist_function("destroy_avps|search_first_avp|get_body|fixup_spve_null|fixup_free_spve_null")
        .allowlist_function("get_str_fparam|fixup_spve_all|fixup_free_spve_all|get_route_type")
        .allowlist_var("AVP_NAME_STR|AVP_VAL_STR|PARAM_STRING|PARAM_INT|SR_KEMIP_.*|.*_ROUTE|SIP_REQUEST|SIP_REPLY")
        .allowlist_var("L_ALERT|L_BUG|L_CRIT2|L_CRIT|L_ERR|L_WARN|L_NOTICE|L_INFO|L_DBG|FL_UAC_AUTH|route_type")
        .derive_default(true)
        .layout_tests(true)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .map_err(|e| format!("bindgen over {} failed: {e}", srcdir.display()))?;
    bindings.write_to_file(out.join("bindings.rs"))?;

    let mut build = cc::Build::new();
    build
        .file(manifest.join("csrc/shim.c"))
        .include(&srcdir)
        .warnings(false);
    for d in &defines {
        // cc wants NAME and VALUE apart; the defines are `-DNAME` or `-DNAME=VALUE`.
        let d = d.trim_start_matches("-D");
        match d.split_once('=') {
            Some((k, v)) => build.define(k, Some(v)),
            None => build.define(d, None),
        };
    }
    build.define("MOD_NAME", Some("\"wacall\""));
    build.flag_if_supported("-pthread");
    build.compile("wacall_kamailio_shim");
    Ok(())
}

fn kamailio_bin() -> String {
    if let Ok(b) = env::var("KAMAILIO_BIN") {
        return b;
    }
    for p in ["/usr/sbin/kamailio", "/usr/local/sbin/kamailio"] {
        if Path::new(p).exists() {
            return p.to_string();
        }
    }
    "kamailio".to_string()
}

fn installed_identity() -> Result<Identity, BoxError> {
    let bin = kamailio_bin();
    let out = Command::new(&bin).arg("-v").output().map_err(|e| {
        format!(
            "cannot run `{bin} -v` ({e}): install Debian's `kamailio` package or set KAMAILIO_BIN"
        )
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut version = None;
    let mut flags = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("version: ") {
            version = Some(v.trim_end().to_string());
        } else if let Some(f) = line.strip_prefix("flags: ") {
            flags = Some(f.trim_end().to_string());
        }
    }
    let module_version = version.ok_or_else(|| format!("`{bin} -v` printed no `version:` line"))?;
    let module_flags = flags.ok_or_else(|| format!("`{bin} -v` printed no `flags:` line"))?;
    let upstream_version = module_version
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| format!("unexpected version line `{module_version}`"))?
        .to_string();
    Ok(Identity {
        module_version,
        module_flags,
        upstream_version,
    })
}

/// The Debian package version of the installed kamailio (e.g. `5.6.3-2`), if dpkg knows it.
fn installed_deb_version() -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", "kamailio"])
        .output()
        .ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !v.is_empty()).then_some(v)
}

fn source_tree(id: &Identity) -> Result<PathBuf, BoxError> {
    if let Ok(s) = env::var("WACALL_KAMAILIO_SRC") {
        let p = PathBuf::from(s);
        if !p.join("src/core/sr_module.h").exists() {
            return Err(format!(
                "WACALL_KAMAILIO_SRC={} is not a Kamailio source tree",
                p.display()
            )
            .into());
        }
        return Ok(p);
    }
    let target = match env::var("CARGO_TARGET_DIR") {
        Ok(t) => PathBuf::from(t),
        Err(_) => PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../target"),
    };
    let cache = target.join("kamailio-src");
    let tree = cache.join(format!("kamailio-{}", id.upstream_version));
    if tree.join("src/core/sr_module.h").exists() {
        return Ok(tree);
    }
    fs::create_dir_all(&cache)?;
    // Fetch exactly the installed package's source (a Debian source package; needs deb-src and dpkg-dev).
    let pkg = match installed_deb_version() {
        Some(v) => format!("kamailio={v}"),
        None => "kamailio".to_string(),
    };
    let status = Command::new("apt-get")
        .arg("source")
        .arg(&pkg)
        .current_dir(&cache)
        .status();
    match status {
        Ok(s) if s.success() && tree.join("src/core/sr_module.h").exists() => Ok(tree),
        _ => Err(format!(
            "could not fetch the kamailio source with `apt-get source {pkg}` into {}: enable deb-src \
             (Types: deb deb-src in /etc/apt/sources.list.d/debian.sources), `apt-get update`, install dpkg-dev, \
             or point WACALL_KAMAILIO_SRC at a Kamailio {} source tree",
            cache.display(),
            id.upstream_version
        )
        .into()),
    }
}

fn makefile_var(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == name).then(|| v.trim().to_string())
    })
}

fn check_source_version(src: &Path, id: &Identity) -> Result<(), BoxError> {
    let defs = fs::read_to_string(src.join("src/Makefile.defs"))?;
    let v = format!(
        "{}.{}.{}{}",
        makefile_var(&defs, "VERSION").unwrap_or_default(),
        makefile_var(&defs, "PATCHLEVEL").unwrap_or_default(),
        makefile_var(&defs, "SUBLEVEL").unwrap_or_default(),
        makefile_var(&defs, "EXTRAVERSION").unwrap_or_default()
    );
    if v != id.upstream_version {
        return Err(format!(
            "installed kamailio is {} but the source tree {} is {v}: the module would not load; \
             remove the tree (or fix WACALL_KAMAILIO_SRC) so the matching source is used",
            id.upstream_version,
            src.display()
        )
        .into());
    }
    if let (Some(installed), Ok(changelog)) = (
        installed_deb_version(),
        fs::read_to_string(src.join("debian/changelog")),
    ) {
        let first = changelog.lines().next().unwrap_or_default();
        let src_deb = first.split(['(', ')']).nth(1).unwrap_or_default();
        if !src_deb.is_empty() && src_deb != installed {
            return Err(format!(
                "installed kamailio package is {installed} but the source package in {} is {src_deb}",
                src.display()
            )
            .into());
        }
    }
    Ok(())
}

/// The `-D` flags Kamailio was compiled with, from its own Makefiles, cross-checked against `kamailio -v`.
fn compile_defines(src: &Path, id: &Identity) -> Result<Vec<String>, BoxError> {
    let srcdir = src.join("src");
    if !srcdir.join("config.mak").exists() {
        let st = Command::new("make")
            .arg("-s")
            .arg("-C")
            .arg(&srcdir)
            .arg("cfg")
            .output()?;
        if !st.status.success() {
            return Err(format!(
                "`make cfg` in {} failed: {}",
                srcdir.display(),
                String::from_utf8_lossy(&st.stderr)
            )
            .into());
        }
    }
    let out = Command::new("make")
        .args(["-s", "--no-print-directory", "-C"])
        .arg(&srcdir)
        .arg("printcdefs")
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "`make printcdefs` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rfind(|l| l.contains("-DNAME="))
        .ok_or("`make printcdefs` printed no defines")?;
    let mut defines: Vec<String> = shell_words(line)
        .into_iter()
        .filter(|w| w.starts_with("-D"))
        .collect();
    let flags: Vec<&str> = id.module_flags.split(", ").map(str::trim).collect();
    if flags.contains(&"TLS_PTHREAD_MUTEX_SHARED") {
        defines.push("-DKSR_PTHREAD_MUTEX_SHARED".to_string());
    }
    // Every ABI-relevant flag `kamailio -v` reports must be in our defines and vice versa.
    let has_define = |n: &str| {
        defines
            .iter()
            .any(|d| d == &format!("-D{n}") || d.starts_with(&format!("-D{n}=")))
    };
    for name in [
        "DBG_SR_MEMORY",
        "USE_TCP",
        "USE_TLS",
        "USE_SCTP",
        "TLS_HOOKS",
        "USE_RAW_SOCKS",
        "USE_MCAST",
        "SHM_MMAP",
        "PKG_MALLOC",
        "Q_MALLOC",
        "F_MALLOC",
        "TLSF_MALLOC",
        "USE_FUTEX",
        "USE_DNS_CACHE",
        "USE_DNS_FAILOVER",
        "USE_NAPTR",
        "USE_DST_BLOCKLIST",
        "FAST_LOCK",
    ] {
        let in_flags = flags
            .iter()
            .any(|f| *f == name || f.starts_with(&format!("{name}-")));
        if in_flags != has_define(name) {
            return Err(format!(
                "ABI flag {name}: installed kamailio says {}, the source tree's defines say {}: not the same build",
                if in_flags { "on" } else { "off" },
                if has_define(name) { "on" } else { "off" }
            )
            .into());
        }
    }
    Ok(defines)
}

/// Splits a make-printed line into words, honouring double quotes (`-DCOMPILER="gcc 12.2.0"`).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}
