//! Keeps `include/wacall.h` in step with the Rust exports: regenerates it with cbindgen and fails on any drift.
//! `WACALL_BLESS=1 cargo test --test header` rewrites the checked-in header instead.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate() -> String {
    let root = root();
    let config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("read cbindgen.toml");
    // Only src/ffi (following its `mod` declarations) is the C API: the core's own public constants and types
    // stay out of the header. with_src also avoids a `cargo metadata` run.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen failed on src/");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen wrote UTF-8")
}

#[test]
fn header_is_up_to_date() {
    let path = root().join("include/wacall.h");
    let generated = generate();
    if std::env::var_os("WACALL_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        let first = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(checked_in.lines().count().min(generated.lines().count()));
        panic!(
            "include/wacall.h is out of date (first difference at line {}): run `WACALL_BLESS=1 cargo test --test header` \
             and commit the result.\n  checked in: {:?}\n  generated:  {:?}",
            first + 1,
            checked_in.lines().nth(first),
            generated.lines().nth(first)
        );
    }
}

fn c_compiler() -> Option<String> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    Command::new(&cc)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| cc)
}

fn compile(cc: &str, lang: &str, std: &str, src: &Path) {
    let out = Command::new(cc)
        .args([
            "-x",
            lang,
            &format!("-std={std}"),
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-fsyntax-only",
        ])
        .arg("-I")
        .arg(root().join("include"))
        .arg(src)
        .output()
        .expect("run the C compiler");
    assert!(
        out.status.success(),
        "include/wacall.h does not compile as {lang} ({std}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The header must compile cleanly as C99 and as C++ (strict warnings), so hosts can include it as is.
#[test]
fn header_compiles_as_c_and_cpp() {
    let Some(cc) = c_compiler() else {
        eprintln!("no C compiler found (cc / $CC): skipping the header compile check");
        return;
    };
    let dir = std::env::temp_dir().join(format!("wacall-header-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("use_header.c");
    std::fs::write(
        &src,
        "#include <wacall.h>\n#include <wacall.h>\n\
         int main(void) { const char *v = wacall_version(); wacall_result r = WACALL_OK; (void)v; return (int)r; }\n",
    )
    .unwrap();
    compile(&cc, "c", "c99", &src);
    let cxx = if cc == "cc" {
        "c++".to_string()
    } else {
        cc.clone()
    };
    if Command::new(&cxx)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        compile(&cxx, "c++", "c++11", &src);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
