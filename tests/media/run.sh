#!/usr/bin/env bash
# Real-media end-to-end tests of wacall's relay (see e2e.py). Bounded: every peer stops itself, the whole run is
# capped by `timeout`, and everything started here is killed on exit. Last line: "N passed, N failed".
# usage: tests/media/run.sh [--only NAME] [--socket PATH]    (env: WORK=dir to keep artefacts)
set -u
cd "$(dirname "$0")/../.."
WORK=${WORK:-$(mktemp -d /tmp/wacall-media.XXXXXX)}
mkdir -p "$WORK"
if ! cargo build -q -p wacall-meta-peer 2>"$WORK/build.log"; then
  cat "$WORK/build.log" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
BIN=$(cargo metadata --format-version 1 --no-deps 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug
timeout --kill-after=10 600 python3 tests/media/e2e.py --bin "$BIN" --work "$WORK" "$@"
rc=$?
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
  echo "e2e.py timed out (artefacts in $WORK)" >&2
  echo "0 passed, 1 failed"
fi
echo "artefacts: $WORK" >&2
exit $rc
