#!/bin/bash
# Writes a loopback copy of etc/kamailio-wacall.cfg for tests and the demo: TLS 127.0.0.1:15061 (certificate
# $DIR/cert.pem + key.pem, made here when missing), UDP 15060, PBX at 127.0.0.1:15070, "Meta" at 127.0.0.1:15062,
# ctl socket and files under DIR, the number's password `s3cret-pass` (or NUMBERS_FILE instead of the number).
# Usage: mkcfg.sh MODULE_SO DIR [NUMBERS_FILE]  -> prints the config path (DIR/kamailio.cfg)
set -euo pipefail
so=$1 dir=$2 numbers=${3:-}
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -f "$dir/cert.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "/CN=sip.example.test" \
        -addext "subjectAltName=DNS:sip.example.test" -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
fi
number_rule="s|password=CHANGE-ME|password=s3cret-pass|"
[ -n "$numbers" ] && number_rule="s|^modparam(\"wacall\", \"number\".*|modparam(\"wacall\", \"numbers_file\", \"$numbers\")|"
sed -e "s|!WACALL_PBX_HOSTPORT!10.0.0.5:5060!g|!WACALL_PBX_HOSTPORT!127.0.0.1:15070!g|" \
    -e "s|!WACALL_META_DST_URI!!g|!WACALL_META_DST_URI!sip:127.0.0.1:15062;transport=tls!g|" \
    -e "s|!WACALL_RUN_DIR!/run/kamailio!g|!WACALL_RUN_DIR!$dir!g|" \
    -e "s|^listen=tls:0.0.0.0:5061|listen=tls:127.0.0.1:15061\nlisten=tls:[::1]:15061|" \
    -e "s|^listen=udp:0.0.0.0:5060|listen=udp:127.0.0.1:15060|" \
    -e "s|^children=4|children=2|" -e "s|^tcp_children=4|tcp_children=2|" \
    -e "s|^log_stderror=no|log_stderror=yes|" \
    -e "s|^loadmodule \"wacall.so\"|loadmodule \"$so\"|" \
    -e "s|/etc/kamailio/wacall-cert.pem|$dir/cert.pem|" -e "s|/etc/kamailio/wacall-key.pem|$dir/key.pem|" \
    -e "s|!WACALL_HOSTNAME!sip.example.com!g|!WACALL_HOSTNAME!sip.example.test!g|" \
    -e "$number_rule" \
    -e "s|^modparam(\"wacall\", \"meta_acl\".*|modparam(\"wacall\", \"meta_acl\", \"127.0.0.1/32, ::1\")|" \
    -e "s|^modparam(\"wacall\", \"relay_address\".*|modparam(\"wacall\", \"relay_address\", \"127.0.0.1\")|" \
    "$here/../etc/kamailio-wacall.cfg" >"$dir/kamailio.cfg"
echo "$dir/kamailio.cfg"
