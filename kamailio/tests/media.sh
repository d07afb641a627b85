#!/bin/bash
# Real media through Kamailio: wacall.so forks its relay; media.py plays Meta (TLS SIP + tools/meta-peer: ice-lite,
# DTLS server, waits for our maiden packet) and the PBX (UDP SIP + meta-peer or baresip), both call directions, DTLS
# and SDES on Meta's side, SDES then plain RTP on the PBX's side (one Kamailio each), a wrong fingerprint, a relay
# crash; each end's recording must hold the other end's tone. Bounded (every peer stops itself; `timeout` caps each
# part); everything started here is stopped on exit. Ports: SIP 15260-15299 (127.0.0.1), relay media 40000-40999.
# usage: kamailio/tests/media.sh [--only NAME]     env: KEEP_TMP=1 keeps WAVs and logs. Last line: N passed, N failed
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TMP="$(mktemp -d /tmp/wacall-kamailio-media.XXXXXX)"
KPIDS=()
cleanup() {
    for p in "${KPIDS[@]}"; do
        kill "$p" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "# kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in kamailio kamcmd openssl python3 cargo; do
    command -v "$tool" >/dev/null || { echo "missing $tool"; echo "0 passed, 1 failed"; exit 1; }
done
command -v baresip >/dev/null || echo "# note: baresip missing (apt-get install baresip-core baresip): its scenarios fail" >&2

if ! (cd "$ROOT" && cargo build -q -p wacall-kamailio -p wacall-meta-peer) >"$TMP/build.log" 2>&1; then
    tail -30 "$TMP/build.log"; echo "0 passed, 1 failed"; exit 1
fi
BIN=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug
SO="${WACALL_SO:-$BIN/libwacall_kamailio.so}"

PASS=0; FAIL=0
tally() {
    local line; line=$(tail -n 1 "$1")
    if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        PASS=$((PASS + BASH_REMATCH[1])); FAIL=$((FAIL + BASH_REMATCH[2]))
    else
        FAIL=$((FAIL + 1)); echo "FAIL $2 did not finish"
    fi
}

# run_part NAME PBX_MEDIA BASE_PORT RELAY_PORTS [media.py args]: one Kamailio with its relay, then media.py.
run_part() {
    local name=$1 media=$2 base=$3 ports=$4 v6=$5; shift 5
    local dir="$TMP/$name"; mkdir -p "$dir"
    printf '+12195550714;password=s3cret-pass;srtp=DTLS;params=tgrp=wacall&trunk-context=byoc.example.com\n+442071234567;password=x;srtp=SDES\n' >"$dir/numbers.txt"
    local cfg; cfg=$("$HERE/mkcfg.sh" "$SO" "$dir" "$dir/numbers.txt")
    local udp=$base tls=$((base + 1)) meta=$((base + 2)) pbx=$((base + 10))
    sed -i -e "s|127.0.0.1:15070|127.0.0.1:$pbx|g" -e "s|127.0.0.1:15062|127.0.0.1:$meta|g" \
        -e "s|:15061|:$tls|g" -e "s|127.0.0.1:15060|127.0.0.1:$udp|g" \
        -e "s|^modparam(\"wacall\", \"pbx_media\".*|modparam(\"wacall\", \"pbx_media\", \"$media\")|" \
        -e "s|^modparam(\"wacall\", \"relay_ports\".*|modparam(\"wacall\", \"relay_ports\", \"$ports\")|" "$cfg"
    local v6arg=()
    if [ "$v6" = v6 ]; then
        # Dual-stack relay: Meta's leg gets an IPv6 host candidate beside the IPv4 one.
        sed -i "s|^modparam(\"wacall\", \"relay_ports\".*|&\nmodparam(\"wacall\", \"relay_address6\", \"::1\")|" "$cfg"
        v6arg=(--dual)
    fi
    kamailio -f "$cfg" -P "$dir/kamailio.pid" -Y "$dir" -DD -E >"$dir/kamailio.log" 2>&1 &
    local kpid=$!
    KPIDS+=("$kpid")
    local ctl="unix:$dir/kamailio_ctl" up=0
    for _ in $(seq 100); do
        if kamcmd -s "$ctl" core.version >/dev/null 2>&1; then up=1; break; fi
        kill -0 "$kpid" 2>/dev/null || break
        sleep 0.1
    done
    if [ $up != 1 ]; then
        echo "FAIL $name: kamailio did not start"; tail -20 "$dir/kamailio.log"; FAIL=$((FAIL + 1)); return
    fi
    for _ in $(seq 50); do [ -S "$dir/wacall-relay.sock" ] && break; sleep 0.1; done
    timeout --kill-after=10 300 python3 "$HERE/media.py" --bin "$BIN" --work "$dir/work" --cert "$dir/cert.pem" \
        --key "$dir/key.pem" --ctl "$ctl" --pbx-media "$(echo "$media" | tr A-Z a-z)" --kam-udp "$udp" \
        --kam-tls "$tls" --meta-port "$meta" --pbx-port "$pbx" --kam-pid "$kpid" "${v6arg[@]}" "$@" | tee "$dir/out.txt"
    tally "$dir/out.txt" "$name"
    grep -q "wacall relay: " "$dir/kamailio.log" && grep "wacall relay: " "$dir/kamailio.log" | tail -3 | sed 's/^/# /'
    kill "$kpid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$kpid" 2>/dev/null || break; sleep 0.1; done
    # The relay and its supervisor go with Kamailio (process group); check nothing stays behind.
    sleep 0.5
    if [ -S "$dir/wacall-relay.sock" ] && python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])" "$dir/wacall-relay.sock" 2>/dev/null; then
        echo "FAIL $name: relay still answering after Kamailio stopped"; FAIL=$((FAIL + 1))
    else
        echo "PASS $name: relay gone with Kamailio"; PASS=$((PASS + 1))
    fi
}

run_part sdes-pbx SDES 15260 40000-40499 v4 "$@"
run_part rtp-pbx RTP 15280 40500-40999 v6 "$@"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
