#!/usr/bin/env bash
# The full test suite: installs the validators the tests need, then runs
# every test of the workspace. Works on a fresh machine with Rust, Python 3
# and Node.js. Ends with one line totalling every test binary's results.
set -euo pipefail
cd "$(dirname "$0")/.."
# Before anything else runs, so a machine that cannot have Chromium says so
# at once.
scripts/install-browser.sh
scripts/setup-tools.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
awk '/test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
