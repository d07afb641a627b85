#!/usr/bin/env bash
# Real-media end-to-end tests of wacall's relay (see e2e.py): the relay (wacall-relayd, then the one Kamailio's
# wacall module forks, or any relay reached through --socket) driven over its control socket; tools/meta-peer as Meta;
# baresip and meta-peer as the PBX; baresip (dtls_srtp + ice) as an independent Meta-side cross-check inside a
# network namespace of our own. Bounded: every peer stops itself, each part is capped by `timeout`, everything
# started here is stopped on exit. Ports: media 41000-41999 (127.0.0.1, ::1, 198.51.100.1-2 in the netns), SIP
# 15100-15199. Last line: "N passed, N failed".
# usage: tests/media/run.sh [--only NAME]        env: WORK=dir keeps artefacts (WAVs, logs, summaries)
set -u
cd "$(dirname "$0")/../.."
WORK=${WORK:-$(mktemp -d /tmp/wacall-media.XXXXXX)}
mkdir -p "$WORK"
NS=wacall-relay-e2e-$$
cleanup() { ip netns del "$NS" 2>/dev/null || true; }
trap cleanup EXIT

total_pass=0; total_fail=0
tally() { # reads the "N passed, N failed" line of a part
  local line; line=$(tail -n 1 "$1")
  if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    total_pass=$((total_pass + BASH_REMATCH[1])); total_fail=$((total_fail + BASH_REMATCH[2]))
  else
    total_fail=$((total_fail + 1)); echo "FAIL $2 did not finish (see $WORK)"
  fi
}

if ! cargo build -q -p wacall-meta-peer 2>"$WORK/build.log"; then
  cat "$WORK/build.log" >&2
  echo "0 passed, 1 failed"; exit 1
fi
BIN=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug
if ! command -v baresip >/dev/null; then echo "note: baresip missing (apt-get install baresip-core baresip): its scenarios fail" >&2; fi

timeout --kill-after=10 420 python3 tests/media/e2e.py --bin "$BIN" --work "$WORK/lo" "$@" | tee "$WORK/lo.out"
tally "$WORK/lo.out" "loopback part"

# The cross-check with baresip's own ICE + DTLS needs non-127 addresses: a namespace with 198.51.100.1/.2 on lo.
if [[ " $* " != *" --socket "* ]]; then
  if ip netns add "$NS" 2>/dev/null && ip netns exec "$NS" ip link set lo up \
     && ip netns exec "$NS" ip addr add 198.51.100.1/32 dev lo && ip netns exec "$NS" ip addr add 198.51.100.2/32 dev lo; then
    timeout --kill-after=10 120 ip netns exec "$NS" python3 tests/media/e2e.py --bin "$BIN" --work "$WORK/ns" --netns \
      | tee "$WORK/ns.out"
    tally "$WORK/ns.out" "netns part"
  else
    echo "FAIL cannot create network namespace $NS (needs root)"; total_fail=$((total_fail + 1))
  fi
fi
# The same scenarios through the relay that Kamailio's wacall module forks (and supervises), reached over the
# control socket the module configures: what a production Kamailio runs. Skipped when kamailio is missing.
if [[ " $* " != *" --socket "* ]] && [[ " $* " != *" --only "* ]] && command -v kamailio >/dev/null \
   && [ -f kamailio/Cargo.toml ]; then
  if cargo build -q -p wacall-kamailio 2>"$WORK/kam-build.log"; then
    K=$WORK/kamailio; mkdir -p "$K/mods"
    cp "$BIN/libwacall_kamailio.so" "$K/mods/wacall.so"
    cat >"$K/k.cfg" <<CFG
#!KAMAILIO
debug=2
log_stderror=yes
children=1
listen=udp:127.0.0.1:15150
mpath="$K/mods/:/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "wacall.so"
modparam("wacall", "server_hostname", "sip.example.com")
modparam("wacall", "relay_address", "127.0.0.1")
modparam("wacall", "relay_address6", "::1")
modparam("wacall", "relay_ports", "41600-41799")
modparam("wacall", "relay_socket", "$K/relay.sock")
request_route { drop; }
CFG
    kamailio -f "$K/k.cfg" -P "$K/k.pid" -Y "$K" -DD -E >"$K/kamailio.log" 2>&1 &
    KPID=$!
    for _ in $(seq 50); do [ -S "$K/relay.sock" ] && break; sleep 0.2; done
    timeout --kill-after=10 420 python3 tests/media/e2e.py --bin "$BIN" --work "$K/w" --socket "$K/relay.sock" \
      | sed 's/^\(PASS\|FAIL\) /\1 kamailio-relay: /' | tee "$WORK/kam.out"
    kill "$KPID" 2>/dev/null; wait "$KPID" 2>/dev/null
    # Kamailio's children and the forked relay leave on their own once the main process is gone.
    for _ in $(seq 25); do [ -S "$K/relay.sock" ] || break; sleep 0.2; done
    tally "$WORK/kam.out" "kamailio part"
  else
    echo "FAIL cargo build -p wacall-kamailio (see $WORK/kam-build.log)"; total_fail=$((total_fail + 1))
  fi
fi
echo "artefacts: $WORK" >&2
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
