#!/usr/bin/env bash
# The full test suite: installs the validators the tests need, then runs
# every test of the workspace. Works on a fresh machine with Rust, Python 3
# and Node.js.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-tools.sh
cargo test --workspace --locked "$@"
