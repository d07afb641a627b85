#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine for wacall's build and tests: the Debian packages listed in .ci/packages
# (deb-src enabled for `apt-get source`), and cargo-fuzz. Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "setup-debian.sh: run as root (sudo scripts/setup-debian.sh)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q -o DPkg::Lock::Timeout=900)

# deb-src: host adapters read the host's own headers from its Debian source package (apt-get source kamailio).
enable_deb_src() {
    local f changed=0
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        if grep -qE '^Types:\s*deb\s*$' "$f"; then
            sed -i -E 's/^Types:\s*deb\s*$/Types: deb deb-src/' "$f"
            changed=1
        fi
    done
    if [ -f /etc/apt/sources.list ] && grep -qE '^deb\s' /etc/apt/sources.list \
        && ! grep -qE '^deb-src\s' /etc/apt/sources.list; then
        sed -n -E 's/^deb(\s)/deb-src\1/p' /etc/apt/sources.list >>/etc/apt/sources.list
        changed=1
    fi
    [ "$changed" = 1 ] && echo "setup-debian.sh: enabled deb-src" || true
}
enable_deb_src

apt-get update -q -o DPkg::Lock::Timeout=900

mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' .ci/packages | grep -v '^$' | sort -u)
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup-debian.sh: installing ${missing[*]}"
    apt-get install "${apt_opts[@]}" "${missing[@]}"
else
    echo "setup-debian.sh: all ${#packages[@]} packages already installed"
fi

# cargo-fuzz builds the fuzz targets in CI (with RUSTC_BOOTSTRAP=1 on a stable toolchain).
if ! command -v cargo-fuzz >/dev/null 2>&1 && ! cargo fuzz --version >/dev/null 2>&1; then
    echo "setup-debian.sh: installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi
echo "setup-debian.sh: done"
