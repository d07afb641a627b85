#!/bin/bash
# The main job, on a fresh Debian 12 machine (as root): installs what is needed, builds and installs wacall.so into
# Kamailio, starts Kamailio with wacall on loopback (TLS 127.0.0.1:15061 toward "Meta", UDP 15060 toward the PBX),
# and shows a simulated WhatsApp call passing through in each direction:
#   1. user-initiated: a fake Meta (Python, TLS) calls the business number; the PBX (sipp) gets the number, tgrp and
#      trunk-context, Meta's call id, and an SDES offer; Meta gets a DTLS answer; ACK; BYE.
#   2. business-initiated: the PBX (sipp) calls a WhatsApp user; Kamailio sends sip:+E164@wa.meta.vc;transport=tls,
#      Meta answers 407 with SHA-256 and MD5 challenges, wacall answers with SHA-256, Meta verifies and answers 200.
#   3. the same two calls with audio: wacall's relay (a process the module forks) carries the media between a Meta-like
#      peer (tools/meta-peer: ice-lite, DTLS server, DTLS-SRTP opus, waits for our first packet) and an SDES PBX
#      peer; each side sends a tone (Meta 1000 Hz, PBX 440 Hz) and the demo prints what the other side measured.
# Bounded (about a minute and a half once built), stops by itself and removes everything it started (the installed
# packages and module stay).
# Options: WACALL_DEMO_NO_INSTALL=1 (skip apt-get and the module install; use the built .so in place).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Under sudo, root may have no Rust toolchain of its own: borrow the invoking user's.
if ! command -v cargo >/dev/null 2>&1 && [ -n "${SUDO_USER:-}" ]; then
    uhome=$(getent passwd "$SUDO_USER" | cut -d: -f6)
    if [ -x "$uhome/.cargo/bin/cargo" ]; then
        export PATH="$uhome/.cargo/bin:$PATH" CARGO_HOME="$uhome/.cargo" RUSTUP_HOME="$uhome/.rustup"
    fi
fi
command -v cargo >/dev/null || { echo "install Rust first (https://rustup.rs)" >&2; exit 1; }

if [ "${WACALL_DEMO_NO_INSTALL:-0}" != 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "run as root (apt-get, module install), or WACALL_DEMO_NO_INSTALL=1" >&2; exit 1; }
    say "Installing Debian packages (kamailio, TLS, sipp, build tools; deb-src for the kamailio headers)"
    # The module is built against the installed Kamailio's own source package: deb-src must be on.
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && sed -i -E 's/^Types:\s*deb\s*$/Types: deb deb-src/' "$f"
    done
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q -o DPkg::Lock::Timeout=900
    apt-get install -y -q -o DPkg::Lock::Timeout=900 kamailio kamailio-tls-modules sip-tester openssl python3 \
        clang libclang-dev dpkg-dev pkg-config libssl-dev make iproute2 libopus-dev
    say "Building and installing wacall.so"
    kamailio/install.sh
    SO=/usr/lib/x86_64-linux-gnu/kamailio/modules/wacall.so
else
    cargo build -q -p wacall-kamailio
    SO="$ROOT/target/debug/libwacall_kamailio.so"
fi

TMP=$(mktemp -d /tmp/wacall-demo.XXXXXX)
KPID=""
cleanup() {
    [ -n "$KPID" ] && kill "$KPID" 2>/dev/null && wait "$KPID" 2>/dev/null
    jobs -p | xargs -r kill 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

say "Starting Kamailio with wacall (config: kamailio/etc/kamailio-wacall.cfg on loopback ports)"
kamailio/tests/mkcfg.sh "$SO" "$TMP" >/dev/null
kamailio -f "$TMP/kamailio.cfg" -P "$TMP/kamailio.pid" -Y "$TMP" -DD -E >"$TMP/kamailio.log" 2>&1 &
KPID=$!
for _ in $(seq 100); do kamcmd -s "unix:$TMP/kamailio_ctl" core.version >/dev/null 2>&1 && break; sleep 0.1; done
kamcmd -s "unix:$TMP/kamailio_ctl" wacall.numbers

cargo build -q -p wacall-meta-peer
BIN=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug

T=kamailio/tests
wait_port() { for _ in $(seq 100); do ss -H "$1" "sport = :$2" 2>/dev/null | grep -q . && return 0; sleep 0.1; done; }
PY=(python3 $T/fake_meta.py --port 15061 --ca "$TMP/cert.pem" --server-hostname sip.example.test)

say "Call 1: WhatsApp user -> Meta (TLS) -> Kamailio+wacall -> PBX (sipp, UDP)"
timeout 40 sipp -sf $T/pbx_uas.xml -i 127.0.0.1 -p 15070 -m 1 -timeout 25s -timeout_error -nostdin \
    -trace_msg -message_file "$TMP/pbx1.msg" >/dev/null 2>&1 &
SP=$!
wait_port -lun 15070
timeout 40 "${PY[@]}" call
wait $SP && echo "PBX (sipp): call received, checked and answered"
echo "-- the INVITE as the PBX received it (SDP keys shortened):"
awk '/INVITE sip:/{p=1} p&&/^-----/{exit} p' "$TMP/pbx1.msg" | sed -E 's/(inline:.{8}).*/\1.../' | head -40

say "Call 2: PBX (sipp) -> Kamailio+wacall -> Meta (TLS, 407 SHA-256 + MD5) -> WhatsApp user"
timeout 40 "${PY[@]}" server --listen 15062 --cert "$TMP/cert.pem" --key "$TMP/key.pem" --timeout 25 &
MP=$!
wait_port -ltn 15062
timeout 40 sipp -sf $T/pbx_uac.xml -i 127.0.0.1 -p 15071 -s +14155550100 -m 1 -timeout 25s -timeout_error -nostdin \
    127.0.0.1:15060 >/dev/null 2>&1 && echo "PBX (sipp): call placed, answered with a mapped SDES answer, ended"
wait $MP

say "Call 3: WhatsApp calls with audio both ways (Meta-like DTLS-SRTP peer <-> relay <-> SDES PBX peer, 6 s each)"
timeout 90 python3 $T/media.py --bin "$BIN" --work "$TMP/media" --cert "$TMP/cert.pem" --key "$TMP/key.pem" \
    --ctl "unix:$TMP/kamailio_ctl" --pbx-media sdes --kam-udp 15060 --kam-tls 15061 --meta-port 15062 \
    --pbx-port 15070 --kam-pid "$KPID" --only dtls-sdes || true
python3 - "$TMP/media/figures.json" <<'PY' || true
import json, sys
print("\n-- tone measurements (Goertzel over 100 ms blocks, median):")
for label, d in json.load(open(sys.argv[1]))["tones"]:
    print(f"   {label}: tone ratio {d.get('tone_ratio')}, level {d.get('level_dbfs')} dBFS over {d.get('seconds')} s")
PY

say "wacall.stats (SIP counters and the relay's totals)"
kamcmd -s "unix:$TMP/kamailio_ctl" wacall.stats
say "Done: Kamailio stopped, temporary files removed"
