#!/usr/bin/env bash
# Installs what the build and the tests need, into the project only: a
# Python venv at .venv (cfn-lint with its serverless rules, moto,
# cargo-zigbuild, ziglang), one at .venv-checkov (checkov), npm
# packages under tools/validators (asl-validator,
# amazon-states-language-service), all pinned; and the Rust target the
# Lambda functions are cross-compiled for.
# Safe to re-run: it does nothing when everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
    command -v "$1" >/dev/null 2>&1 || { echo "setup-tools: $1 is required but not installed" >&2; exit 1; }
}
need python3
need node
need npm

if [ ! -x .venv/bin/python ]; then
    echo "setup-tools: creating .venv"
    python3 -m venv .venv
fi
stamp=.venv/.requirements.installed
if ! cmp -s tools/requirements.txt "$stamp" 2>/dev/null; then
    echo "setup-tools: installing tools/requirements.txt into .venv"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r tools/requirements.txt
    cp tools/requirements.txt "$stamp"
fi

# checkov pins boto3/botocore: a venv of its own keeps moto's free.
if [ ! -x .venv-checkov/bin/python ]; then
    echo "setup-tools: creating .venv-checkov"
    python3 -m venv .venv-checkov
fi
stamp=.venv-checkov/.requirements.installed
if ! cmp -s tools/checks/requirements.txt "$stamp" 2>/dev/null; then
    echo "setup-tools: installing tools/checks/requirements.txt into .venv-checkov"
    .venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check -r tools/checks/requirements.txt
    cp tools/checks/requirements.txt "$stamp"
fi

if command -v rustup >/dev/null 2>&1 \
    && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    echo "setup-tools: adding the Rust target aarch64-unknown-linux-gnu"
    rustup target add aarch64-unknown-linux-gnu
fi

lock=tools/validators/package-lock.json
installed=tools/validators/node_modules/.package-lock.json
if [ ! -f "$installed" ] || [ "$lock" -nt "$installed" ]; then
    echo "setup-tools: installing npm validators (npm ci)"
    (cd tools/validators && npm ci --no-audit --no-fund --loglevel=error)
fi
