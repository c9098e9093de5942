#!/usr/bin/env bash
# The main job without an AWS account: starts the local cloud (moto plus
# invctl's execution plane, see README "The local cloud"), deploys the
# stack to it, brings the desk's stock to its threshold so that a purchase
# order opens, shows its approval email from the local outbox and approves
# it (stock restocked), sends 20 orders that really flow (bus -> queue ->
# function -> workflow -> table) and waits for each outcome, shows the
# reservations and the inventory they changed, destroys the stack and stops
# the cloud.
# Needs what `scripts/setup-tools.sh --demo` installs (it is run first).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-tools.sh --demo

# invctl and the functions in one build: the AWS SDK compiles once, and
# the deploy's own build of the functions then finds them built. Not
# quiet: the build is most of a first run, and Cargo shows its progress.
echo "building invctl and the functions"
cargo build --locked --workspace --bins
invctl() { target/debug/invctl "$@"; }

# Reuse a local cloud that already runs here; stop only the one started here.
if ! invctl local status >/dev/null 2>&1; then
    invctl local up --detach
    trap 'invctl local down' EXIT
fi
stack=(--local --stack-name invctl-demo)

invctl "${stack[@]}" deploy --yes --email you@example.com
invctl "${stack[@]}" scan inventory

echo "== 4 desks bring the desk's stock (6) to its threshold (2): a purchase order opens"
invctl "${stack[@]}" send-order --product desk --quantity 4 --wait
for _ in $(seq 1 240); do
    invctl local mail | grep -q "^Subject: Approve purchase order" && break
    sleep 0.5
done
echo "== the approval email, from the local outbox (invctl local mail)"
invctl local mail | sed -n '/^Subject: Approve purchase order/,$p'
po=$(invctl "${stack[@]}" scan purchase-orders --output json |
    python3 -c 'import json, sys; print(next(p["id"] for p in json.load(sys.stdin) if p["status"] == "PENDING"))')
invctl "${stack[@]}" approve "$po"
for _ in $(seq 1 120); do
    invctl "${stack[@]}" scan purchase-orders | grep -q APPROVED && break
    sleep 0.5
done
invctl "${stack[@]}" scan purchase-orders
invctl "${stack[@]}" scan inventory

echo "== 20 orders"
invctl "${stack[@]}" send-order --count 20 --wait
invctl "${stack[@]}" scan reservations
invctl "${stack[@]}" scan inventory
invctl "${stack[@]}" destroy --yes
