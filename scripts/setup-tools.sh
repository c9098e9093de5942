#!/usr/bin/env bash
# Installs what the build and the tests need, into the project only: a
# Python venv at .venv (cfn-lint with its serverless rules, moto,
# cargo-zigbuild, ziglang), one at .venv-checkov (checkov), npm
# packages under tools/validators (asl-validator,
# amazon-states-language-service), all pinned; and the Rust target the
# Lambda functions are cross-compiled for.
#
#   scripts/setup-tools.sh          everything the test suite needs
#   scripts/setup-tools.sh --demo   only what scripts/local-demo.sh needs (.venv)
#
# First it checks the prerequisites it cannot install itself and names
# each one missing, with how to get it, before installing anything.
# Safe to re-run: it does nothing when everything is in place.
set -euo pipefail
case "$0" in */*) cd "${0%/*}/.." ;; *) cd .. ;; esac

demo=false
for argument in "$@"; do
    case "$argument" in
        --demo) demo=true ;;
        *) echo "setup-tools: unknown argument $argument (the only one is --demo)" >&2; exit 2 ;;
    esac
done

# ---- prerequisites ----------------------------------------------------------
missing=0
lack() {
    echo "setup-tools: $*" >&2
    missing=$((missing + 1))
}
# "major.minor" at least "want": version_at_least 3.11 3.9
version_at_least() {
    local have_major=${1%%.*} have_rest=${1#*.} want_major=${2%%.*} want_minor=${2#*.}
    local have_minor=${have_rest%%.*}
    ((have_major > want_major || (have_major == want_major && have_minor >= want_minor)))
}

if ! command -v python3 >/dev/null 2>&1; then
    lack "python3 (3.9 or newer, with venv) is missing: install it (Debian/Ubuntu: apt-get install python3 python3-venv; macOS: brew install python)"
else
    python_version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 0.0)
    if ! version_at_least "$python_version" 3.9; then
        lack "python3 is $python_version; 3.9 or newer is needed (moto and cfn-lint): install a newer Python"
    elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        lack "python3 has no working venv module, which the project's .venv needs: install it (Debian/Ubuntu: apt-get install python3-venv)"
    fi
fi

if ! command -v cargo >/dev/null 2>&1 || ! command -v rustc >/dev/null 2>&1; then
    lack "Rust (cargo and rustc 1.89 or newer) is missing: install it with rustup (https://rustup.rs)"
else
    rust_version=$(rustc --version 2>/dev/null || true)
    rust_version=${rust_version#rustc }
    rust_version=${rust_version%% *}
    if ! version_at_least "${rust_version:-0.0}" 1.89; then
        lack "rustc is ${rust_version:-unknown}; 1.89 or newer is needed: rustup update (or install Rust with rustup, https://rustup.rs)"
    fi
fi

if ! $demo; then
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        lack "Node.js 18 or newer with npm is missing (the workflow validators): install it (Debian/Ubuntu: apt-get install nodejs npm; or https://nodejs.org)"
    else
        node_version=$(node --version 2>/dev/null)
        node_version=${node_version#v}
        if ! version_at_least "${node_version:-0.0}" 18.0; then
            lack "node is ${node_version:-unknown}; 18 or newer is needed (the workflow validators): install a newer Node.js"
        fi
    fi
    # The Lambda functions are cross-built for arm64: without rustup the
    # target cannot be added, and the build would fail much later.
    if command -v rustc >/dev/null 2>&1 && ! command -v rustup >/dev/null 2>&1; then
        sysroot=$(rustc --print sysroot 2>/dev/null || true)
        if [ ! -d "$sysroot/lib/rustlib/aarch64-unknown-linux-gnu" ]; then
            lack "rustup is missing, so the Rust target aarch64-unknown-linux-gnu (the Lambda functions' cross build) cannot be added: install Rust with rustup (https://rustup.rs), or use a toolchain that has that target"
        fi
    fi
fi

if [ "$missing" -gt 0 ]; then
    echo "setup-tools: nothing was installed; the first run also needs network access to PyPI$($demo || echo ", npm") and crates.io" >&2
    exit 1
fi

# ---- installs ---------------------------------------------------------------
fetched() {
    echo "setup-tools: $1 failed (messages above); the first run needs network access to $2" >&2
    exit 1
}

if [ ! -x .venv/bin/python ]; then
    echo "setup-tools: creating .venv"
    python3 -m venv .venv
fi
stamp=.venv/.requirements.installed
if ! cmp -s tools/requirements.txt "$stamp" 2>/dev/null; then
    echo "setup-tools: installing tools/requirements.txt into .venv"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r tools/requirements.txt ||
        fetched "pip install -r tools/requirements.txt" PyPI
    cp tools/requirements.txt "$stamp"
fi

if $demo; then
    exit 0
fi

# checkov pins boto3/botocore: a venv of its own keeps moto's free.
if [ ! -x .venv-checkov/bin/python ]; then
    echo "setup-tools: creating .venv-checkov"
    python3 -m venv .venv-checkov
fi
stamp=.venv-checkov/.requirements.installed
if ! cmp -s tools/checks/requirements.txt "$stamp" 2>/dev/null; then
    echo "setup-tools: installing tools/checks/requirements.txt into .venv-checkov"
    .venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check -r tools/checks/requirements.txt ||
        fetched "pip install -r tools/checks/requirements.txt" PyPI
    cp tools/checks/requirements.txt "$stamp"
fi

if command -v rustup >/dev/null 2>&1 \
    && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    echo "setup-tools: adding the Rust target aarch64-unknown-linux-gnu"
    rustup target add aarch64-unknown-linux-gnu || fetched "rustup target add" "the Rust distribution server"
fi

lock=tools/validators/package-lock.json
installed=tools/validators/node_modules/.package-lock.json
if [ ! -f "$installed" ] || [ "$lock" -nt "$installed" ]; then
    echo "setup-tools: installing npm validators (npm ci)"
    (cd tools/validators && npm ci --no-audit --no-fund --loglevel=error) ||
        fetched "npm ci in tools/validators" "the npm registry"
fi
