// Links Debian's libopus (libopus-dev) for the peer's opus encoder/decoder.
fn main() {
    println!("cargo:rustc-link-lib=opus");
}
