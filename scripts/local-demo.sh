#!/usr/bin/env bash
# Try invctl without an AWS account: starts a local AWS endpoint (moto, in
# the project's .venv), builds and deploys the stack to it, shows the
# stack's status and the seeded inventory (`invctl scan`), destroys the stack, and stops the
# endpoint. Needs what scripts/setup-tools.sh installs (it is run first).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-tools.sh

source scripts/lib/local-endpoint.sh
echo "local AWS endpoint: $endpoint"
cargo build --quiet --locked --bin invctl
invctl() { target/debug/invctl --endpoint-url "$endpoint" --stack-name invctl-demo "$@"; }

invctl deploy --yes --email you@example.com
invctl status
invctl scan inventory
invctl destroy --yes
