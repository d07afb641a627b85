#!/usr/bin/env bash
# Runs every check wacall has, in CI's order: machine setup, fmt, clippy, tests (with the C ABI and header checks),
# docs, the fuzz targets' build, then each host's real-host test script. Stops at the first failing step.
#
# Usage: sudo scripts/test-all.sh [--keep-going]
#   --keep-going          run the remaining steps after a failure (the exit status still says it failed)
#   WACALL_SKIP_SETUP=1   skip scripts/setup-debian.sh (packages already there, or not root)
#   WACALL_FUZZ_ARGS=...  arguments for `cargo fuzz build` (default: --dev, the fastest build of every target)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

keep_going=0
for arg in "$@"; do
    case "$arg" in
    --keep-going) keep_going=1 ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "test-all.sh: unknown argument $arg" >&2; exit 2 ;;
    esac
done

# Under sudo, root may have no Rust toolchain of its own: borrow the invoking user's.
if ! command -v cargo >/dev/null 2>&1; then
    for home in "${SUDO_USER:+$(getent passwd "$SUDO_USER" | cut -d: -f6)}" /usr/local; do
        [ -n "$home" ] || continue
        for d in "$home/.cargo/bin" "$home/cargo/bin"; do
            if [ -x "$d/cargo" ]; then
                export PATH="$d:$PATH" CARGO_HOME="${d%/bin}"
                [ -d "$home/.rustup" ] && export RUSTUP_HOME="$home/.rustup"
                [ -d "$home/rustup" ] && export RUSTUP_HOME="$home/rustup"
                echo "test-all.sh: using the Rust toolchain in $d"
                break 2
            fi
        done
    done
fi
command -v cargo >/dev/null 2>&1 || { echo "test-all.sh: cargo not found (install Rust with rustup first)" >&2; exit 1; }

passed=0
failed=0
skipped=0
declare -a report
stopped=0
log_dir=$(mktemp -d -t wacall-test-all.XXXXXX)
trap 'rm -rf "$log_dir"' EXIT
t_all=$(date +%s)

# CPU seconds (user + sys) used so far by finished children of this shell: with the wall time it shows how much
# of a step was waiting for a busy machine.
cpu_children() {
    # Fields 16 and 17 of /proc/PID/stat: cutime and cstime in clock ticks ($$ is this shell even in a subshell).
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.1f", ($14 + $15) / hz }' "/proc/$$/stat"
}

# step NAME COMMAND...: runs one step, times it, records the result; a host script's own "N passed, N failed"
# line is carried into the report.
step() {
    local name=$1
    shift
    if [ "$stopped" = 1 ]; then
        report+=("$(printf '%-28s %7s %10s  %s' "$name" "-" "" "skipped (an earlier step failed)")")
        skipped=$((skipped + 1))
        return
    fi
    echo
    echo "==== $name: $*"
    local t0 t1 c0 c1 rc log="$log_dir/step.log" detail=""
    t0=$(date +%s.%N)
    c0=$(cpu_children)
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    t1=$(date +%s.%N)
    c1=$(cpu_children)
    local secs cpu
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.0f", b - a }')
    detail=$(grep -aE '^[[:space:]]*[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1 | sed 's/^[[:space:]]*//')
    if [ "$rc" = 0 ]; then
        passed=$((passed + 1))
        report+=("$(printf '%-28s %6ss %6ss cpu  ok %s' "$name" "$secs" "$cpu" "${detail:+($detail)}")")
        echo "==== $name: ok (${secs}s, ${cpu}s cpu)"
    else
        failed=$((failed + 1))
        report+=("$(printf '%-28s %6ss %6ss cpu  FAILED (exit %s) %s' "$name" "$secs" "$cpu" "$rc" "${detail:+($detail)}")")
        echo "==== $name: FAILED (exit $rc after ${secs}s). Re-run it alone with: $*" >&2
        [ "$keep_going" = 1 ] || stopped=1
    fi
}

# A host's real-host test script, when that host is in the tree.
host_step() {
    local name=$1 script=$2
    if [ -f "$script" ]; then
        step "$name" bash "$script"
    else
        report+=("$(printf '%-28s %7s %10s  %s' "$name" "-" "" "not present ($script)")")
    fi
}

if [ "${WACALL_SKIP_SETUP:-0}" = 1 ]; then
    report+=("$(printf '%-28s %7s %10s  %s' "setup" "-" "" "skipped (WACALL_SKIP_SETUP=1)")")
elif [ "$(id -u)" != 0 ]; then
    report+=("$(printf '%-28s %7s %10s  %s' "setup" "-" "" "skipped (not root)")")
    echo "test-all.sh: not root: skipping scripts/setup-debian.sh (host tests may need root too)" >&2
else
    step "setup" scripts/setup-debian.sh
fi

step "fmt" cargo fmt --all --check
step "clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
# The C ABI tests load target/debug/libwacall.so: build every artifact (cdylibs included) before testing.
step "build" cargo build --workspace --locked
step "test" cargo test --workspace --locked
# --workspace keeps the dependency features of the test step: no rebuild.
step "header (include/wacall.h)" cargo test --workspace --locked --test header
# --lib: the CLI binary is also called `wacall`, and its docs would overwrite the library's (cargo issue 6313).
step "doc" env RUSTDOCFLAGS="${RUSTDOCFLAGS:--D warnings}" cargo doc --workspace --no-deps --lib --locked

fuzz_build() (
    cd "$root/fuzz" || exit 1
    # RUSTC_BOOTSTRAP lets a stable toolchain take the -Z flags cargo-fuzz passes (CI has no nightly).
    # shellcheck disable=SC2086
    RUSTC_BOOTSTRAP=1 cargo fuzz build ${WACALL_FUZZ_ARGS:---dev}
)
if [ -f fuzz/Cargo.toml ]; then
    step "fuzz build" fuzz_build
else
    report+=("$(printf '%-28s %7s %10s  %s' "fuzz build" "-" "" "not present (fuzz/Cargo.toml)")")
fi

host_step "kamailio real-host" kamailio/tests/run.sh
host_step "kamailio media e2e" kamailio/tests/media.sh
host_step "media relay e2e" tests/media/run.sh
host_step "freeswitch real-host" freeswitch/tests/run.sh
host_step "cli" cli/tests/run.sh

t_end=$(date +%s)
echo
echo "==== test-all.sh summary ($((t_end - t_all))s in all, $(cpu_children)s cpu)"
printf '%s\n' "${report[@]}"
[ "$skipped" = 0 ] || echo "($skipped steps skipped after a failure)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
