#!/bin/bash
# Real-server tests of wacall.so: builds the module, starts Kamailio 5.6 with a copy of etc/kamailio-wacall.cfg
# (TLS on 127.0.0.1:15061 with a certificate made here, UDP 15060), drives both call directions with a Python TLS
# peer acting as Meta and sipp as the PBX, then hostile input; prints `N passed, N failed`, exits non-zero on failure.
# Ports: SIP 15060-15099 on 127.0.0.1 (15061 TLS, 15062 fake Meta, 15070/15071 sipp), no media.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PASS=0
FAIL=0
PIDS=()
ok() { echo "ok - $*"; PASS=$((PASS + 1)); }
notok() { echo "not ok - $*"; FAIL=$((FAIL + 1)); }
t() { local name="$1"; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }

TMP="$(mktemp -d /tmp/wacall-kamailio-test.XXXXXX)"
KPID=""
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    if [ -n "$KPID" ]; then
        kill "$KPID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$KPID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$KPID" 2>/dev/null
    fi
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in kamailio kamcmd sipp openssl python3 cargo; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install kamailio kamailio-tls-modules sip-tester openssl python3)"; echo "0 passed, 1 failed"; exit 1; }
done

echo "# building wacall.so"
if ! (cd "$ROOT" && cargo build -q -p wacall-kamailio); then
    notok "cargo build -p wacall-kamailio"
    echo "$PASS passed, $FAIL failed"; exit 1
fi
SO="${WACALL_SO:-$ROOT/target/debug/libwacall_kamailio.so}"
ok "module built ($SO)"

printf '# test numbers file\n+12195550714;password=s3cret-pass;srtp=DTLS;params=tgrp=wacall&trunk-context=byoc.example.com\n' > "$TMP/numbers.txt"
CFG=$("$HERE/mkcfg.sh" "$SO" "$TMP" "$TMP/numbers.txt")

check_cfg() { kamailio -c -f "$CFG" -Y "$TMP" >"$TMP/check.log" 2>&1 || { tail -20 "$TMP/check.log" | sed 's/^/#   /'; return 1; }; }
t "kamailio -c accepts the config loading wacall.so" check_cfg

kamailio -f "$CFG" -P "$TMP/kamailio.pid" -Y "$TMP" -DD -E >"$TMP/kamailio.log" 2>&1 &
KPID=$!
CTL="unix:$TMP/kamailio_ctl"
up=0
for _ in $(seq 100); do
    if kamcmd -s "$CTL" core.version >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$KPID" 2>/dev/null || break
    sleep 0.1
done
if [ $up = 1 ]; then ok "kamailio started with wacall"; else notok "kamailio started with wacall"; tail -30 "$TMP/kamailio.log" | sed 's/^/#   /'; echo "$PASS passed, $FAIL failed"; exit 1; fi

# wait_port tcp|udp PORT: until something listens on 127.0.0.1:PORT (at most 10 s).
wait_port() {
    local flag=-ltn
    [ "$1" = udp ] && flag=-lun
    for _ in $(seq 100); do
        ss -H "$flag" "sport = :$2" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    return 1
}

alive() { kill -0 "$KPID" 2>/dev/null && kamcmd -s "$CTL" core.version >/dev/null 2>&1; }

# --- RPC ---
kamcmd -s "$CTL" wacall.numbers >"$TMP/numbers.out" 2>&1
t "kamcmd wacall.numbers lists the number (no password)" bash -c "grep -q '+12195550714' '$TMP/numbers.out' && ! grep -q s3cret '$TMP/numbers.out'"
printf '+12195550714;password=s3cret-pass;srtp=DTLS;params=tgrp=wacall&trunk-context=byoc.example.com\n+442071234567;password=x;srtp=SDES\n' > "$TMP/numbers.txt"
t "kamcmd wacall.reload re-reads numbers_file" bash -c "kamcmd -s '$CTL' wacall.reload | grep -q 'reloaded 2 numbers'"
t "kamcmd wacall.numbers sees the reload" bash -c "kamcmd -s '$CTL' wacall.numbers | grep -q '+442071234567'"
echo 'garbage line' > "$TMP/numbers.bad"; cp "$TMP/numbers.txt" "$TMP/numbers.good"; cp "$TMP/numbers.bad" "$TMP/numbers.txt"
t "kamcmd wacall.reload refuses a bad file" bash -c "! kamcmd -s '$CTL' wacall.reload 2>&1 | grep -q reloaded"
cp "$TMP/numbers.good" "$TMP/numbers.txt"

PY=(python3 "$HERE/fake_meta.py" --port 15061 --ca "$TMP/cert.pem" --server-hostname sip.example.test)

user_call() {
    local tag="$1" host="${2:-127.0.0.1}"
    sipp -sf "$HERE/pbx_uas.xml" -i 127.0.0.1 -p 15070 -m 1 -timeout 25s -timeout_error -nostdin \
        -trace_err -error_file "$TMP/uas_$tag.err" >"$TMP/uas_$tag.log" 2>&1 &
    local sp=$!
    PIDS+=("$sp")
    wait_port udp 15070
    "${PY[@]}" --host "$host" call >"$TMP/meta_call_$tag.log" 2>&1
    local prc=$?
    sed 's/^/#   /' "$TMP/meta_call_$tag.log"
    wait "$sp"
    local src=$?
    [ $src = 0 ] || { echo "#   sipp uas exit $src"; tail -5 "$TMP/uas_$tag.err" 2>/dev/null | sed 's/^/#   /'; }
    [ $prc = 0 ] && [ $src = 0 ]
}

t "user-initiated call: Meta (TLS) -> wacall -> PBX (sipp UDP), user params + SDES, 200 DTLS, ACK, BYE" user_call first

biz_call() {
    "${PY[@]}" server "$@" --listen 15062 --cert "$TMP/cert.pem" --key "$TMP/key.pem" --timeout 25 >"$TMP/meta_srv.log" 2>&1 &
    local mp=$!
    PIDS+=("$mp")
    wait_port tcp 15062
    sipp -sf "$HERE/pbx_uac.xml" -i 127.0.0.1 -p 15071 -s +14155550100 -m 1 -timeout 25s -timeout_error -nostdin \
        -trace_err -error_file "$TMP/uac.err" 127.0.0.1:15060 >"$TMP/uac.log" 2>&1
    local src=$?
    wait "$mp"
    local prc=$?
    sed 's/^/#   /' "$TMP/meta_srv.log"
    [ $src = 0 ] || { echo "#   sipp uac exit $src"; tail -5 "$TMP/uac.err" 2>/dev/null | sed 's/^/#   /'; }
    [ $prc = 0 ] && [ $src = 0 ]
}

t "business-initiated call: PBX (sipp) -> wacall -> Meta: R-URI, 407 SHA-256+MD5 answered with SHA-256, 200, ACK, BYE" biz_call

sdes_number() {
    printf '+12195550714;password=s3cret-pass;srtp=SDES;params=tgrp=wacall&trunk-context=byoc.example.com\n' >"$TMP/numbers.txt"
    kamcmd -s "$CTL" wacall.reload | grep -q 'reloaded 1 numbers' && biz_call --sdes
    local rc=$?
    cp "$TMP/numbers.good" "$TMP/numbers.txt"
    kamcmd -s "$CTL" wacall.reload >/dev/null
    return $rc
}
t "business-initiated call for an srtp=SDES number (after wacall.reload): SDES offer to Meta, Meta's SDES answer mapped" sdes_number

biz_refused() {
    "${PY[@]}" server --listen 15062 --cert "$TMP/cert.pem" --key "$TMP/key.pem" --timeout 8 --always-407 >"$TMP/meta_refuse.log" 2>&1 &
    local mp=$!
    PIDS+=("$mp")
    wait_port tcp 15062
    sipp -sf "$HERE/pbx_uac_407.xml" -i 127.0.0.1 -p 15072 -s +14155550100 -m 1 -timeout 15s -timeout_error -nostdin \
        127.0.0.1:15060 >"$TMP/uac407.log" 2>&1
    local src=$?
    wait "$mp"
    local prc=$?
    sed 's/^/#   /' "$TMP/meta_refuse.log"
    [ $src = 0 ] || echo "#   sipp uac exit $src"
    [ $prc = 0 ] && [ $src = 0 ]
}

t "refused credentials: one authenticated retry, then Meta's 407 reaches the PBX" biz_refused

hostile() {
    "${PY[@]}" hostile >"$TMP/hostile.log" 2>&1
    local rc=$?
    sed 's/^/#   /' "$TMP/hostile.log"
    return $rc
}
t "hostile and malformed input gets clean SIP errors" hostile
t "kamailio still up after hostile input" alive
t "user-initiated call still works after hostile input" user_call second
t "user-initiated call from Meta over IPv6 (TLS [::1]:15061, ACL ::1)" user_call ipv6 ::1

kamcmd -s "$CTL" wacall.stats >"$TMP/stats.out" 2>&1
sed 's/^/#   /' "$TMP/stats.out"
t "wacall.stats counts calls and auth" bash -c "grep -Eq 'from_meta: [1-9]' '$TMP/stats.out' && grep -Eq 'auth_sent: [1-9]' '$TMP/stats.out' && grep -Eq 'panics: 0' '$TMP/stats.out'"
t "no crash or panic in the kamailio log" bash -c "! grep -Eiq 'panicked|segmentation|core dump|signal 11' '$TMP/kamailio.log'"

# --- KEMI from Lua (app_lua): a second instance on 15080 whose routing is kemi.lua ---
kemi_test() {
    local kcfg="$TMP/kemi.cfg" kpid rc line
    if [ ! -f /usr/lib/x86_64-linux-gnu/kamailio/modules/app_lua.so ]; then
        echo "#   app_lua.so missing (apt-get install kamailio-lua-modules)"
        return 1
    fi
    sed -e "s|WACALL_SO|$SO|" -e "s|WACALL_RUN_DIR|$TMP|" -e "s|WACALL_TESTS|$HERE|" "$HERE/kemi.cfg" >"$kcfg"
    kamailio -f "$kcfg" -P "$TMP/kemi.pid" -Y "$TMP" -DD -E >"$TMP/kemi.log" 2>&1 &
    kpid=$!
    PIDS+=("$kpid")
    for _ in $(seq 50); do
        kamcmd -s "unix:$TMP/kemi_ctl" core.version >/dev/null 2>&1 && break
        sleep 0.1
    done
    line=$(python3 "$HERE/kemi_client.py" 15080)
    echo "#   $line"
    kill "$kpid" 2>/dev/null
    wait "$kpid" 2>/dev/null
    case "$line" in
    *"is_meta=1 num=1 sip:+14155550100@wa.meta.vc;transport=tls bad=-2 from_meta=1 +12195550714 tgrp=wacall"*) return 0 ;;
    *) tail -15 "$TMP/kemi.log" | sed 's/^/#   /'; return 1 ;;
    esac
}
t "KEMI from Lua: KSR.wacall.is_meta/to_meta_number/from_meta" kemi_test

if [ $FAIL -gt 0 ]; then
    echo "# kamailio log (last 40 lines):"
    tail -40 "$TMP/kamailio.log" | sed 's/^/#   /'
fi
echo "$PASS passed, $FAIL failed"
[ $FAIL = 0 ]
