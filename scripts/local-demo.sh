#!/usr/bin/env bash
# The main job without an AWS account: starts the local cloud (moto plus
# invctl's execution plane, see README "The local cloud"), deploys the
# stack to it, sends 20 orders that really flow (bus -> queue -> function
# -> workflow -> table) and waits for each outcome, shows the reservations
# and the inventory they changed, destroys the stack and stops the cloud.
# Needs what scripts/setup-tools.sh installs (it is run first).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-tools.sh

echo "building invctl"
cargo build --quiet --locked --bin invctl
invctl() { target/debug/invctl "$@"; }

# Reuse a local cloud that already runs here; stop only the one started here.
if ! invctl local status >/dev/null 2>&1; then
    invctl local up --detach
    trap 'invctl local down' EXIT
fi
stack=(--local --stack-name invctl-demo)

invctl "${stack[@]}" deploy --yes --email you@example.com
invctl "${stack[@]}" scan inventory
invctl "${stack[@]}" send-order --count 20 --wait
invctl "${stack[@]}" scan reservations
invctl "${stack[@]}" scan inventory
invctl "${stack[@]}" destroy --yes
