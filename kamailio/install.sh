#!/bin/bash
# Builds wacall.so for the installed Kamailio and installs it into Kamailio's module directory.
# Usage: kamailio/install.sh [MODULE_DIR]   (default /usr/lib/x86_64-linux-gnu/kamailio/modules)
# Needs: cargo, clang/libclang-dev, dpkg-dev, deb-src enabled (the build fetches `apt-get source kamailio`).
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-/usr/lib/x86_64-linux-gnu/kamailio/modules}"
cargo build --release -p wacall-kamailio
install -m644 target/release/libwacall_kamailio.so "$dest/wacall.so"
echo "installed $dest/wacall.so for $(kamailio -v | sed -n 's/^version: //p')"
