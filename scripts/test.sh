#!/usr/bin/env bash
# The full test suite: installs the validators the tests need, then runs
# every test of the workspace. Works on a fresh machine with Rust, Python 3
# and Node.js. Ends with one line totalling every test binary's results.
set -euo pipefail
cd "$(dirname "$0")/.."
# The approval page and the diagrams are tested in a real browser: Debian's
# Chromium and its driver, installed here when missing (before anything
# else runs, so a machine that cannot have them says so at once).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if command -v apt-get >/dev/null; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo=sudo
        echo "test.sh: installing Debian's chromium and chromium-driver for the browser tests"
        $sudo apt-get update -q
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium chromium-driver
    else
        echo "test.sh: the browser tests need Chromium and its driver (chromium and chromedriver on PATH); install them, then run this again" >&2
        exit 4
    fi
fi
scripts/setup-tools.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
