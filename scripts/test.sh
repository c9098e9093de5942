#!/usr/bin/env bash
# The full test suite: installs the validators the tests need, then runs
# every test of the workspace. Works on a fresh machine with Rust, Python 3
# and Node.js. Ends with one line totalling every test binary's results.
# Arguments go to `cargo test` (then everything runs in that one command).
set -euo pipefail
cd "$(dirname "$0")/.."
# Before anything else runs, so a machine that cannot have Chromium says so
# at once.
scripts/install-browser.sh
scripts/setup-tools.sh
log=$(mktemp)
cross_log=$(mktemp)
trap 'rm -f "$log" "$cross_log"' EXIT
status=0
if [ $# -gt 0 ]; then
    cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
else
    # The real cross-build of every function is minutes of compiling, while
    # most of the other tests wait on moto's one Python thread. So it runs
    # alongside them, at the lowest priority (the local cloud's tests keep
    # the CPU they would have alone), and its results come after theirs. If
    # the test is renamed, neither filter matches and it runs with the rest.
    cross_build=builds_every_function_as_a_reproducible_arm64_zip
    cargo test --workspace --locked --no-run
    nice -n 19 cargo test --locked --test build -- --exact "$cross_build" >"$cross_log" 2>&1 &
    cross_pid=$!
    cargo test --workspace --locked --no-fail-fast -- --skip "$cross_build" 2>&1 | tee "$log" || status=$?
    wait "$cross_pid" || status=$?
    tee -a "$log" <"$cross_log"
fi
awk '/test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
