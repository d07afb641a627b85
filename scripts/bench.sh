#!/usr/bin/env bash
# Relay benchmark: wacall's relay against rtpengine (userspace), same machine, same run, one table.
# Each relay runs pinned to core 0, the load generator on core 1. Every step is bounded in time and the
# generator stops every process it starts. Ports: UDP 44000-44099 (generator) and
# 50000-65000 (relay media) on 127.0.0.1, rtpengine ng 127.0.0.1:22222.
#
#   scripts/bench.sh            full run (10k pps steps, 4 s per step, three scenarios; about 9-12 minutes)
#   scripts/bench.sh --quick    quick run (20k pps steps, 2 s per step; about 3-5 minutes)
#   extra options go to `loadgen bench`: --relays wacall,rtpengine --scenarios sdes-sdes,sdes-rtp,dtls-sdes
#                                        --step PPS --max PPS --secs S --tick-us US --dir DIR
set -euo pipefail
cd "$(dirname "$0")/.."
command -v rtpengine >/dev/null || { echo "rtpengine not found: apt-get install rtpengine-daemon" >&2; exit 1; }
cargo build --release -q -p wacall-loadgen
# setsid: a session (and scheduler autogroup) of our own, so the generator can raise its priority over
# whatever else runs on this machine (see docs/benchmarks.md).
exec timeout --kill-after=10 1200 setsid -w target/release/loadgen bench "$@"
