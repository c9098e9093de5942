#!/usr/bin/env bash
# Try invctl without an AWS account: starts a local AWS endpoint (moto, in
# the project's .venv), builds and deploys the stack to it, shows the
# stack's status and the seeded inventory, destroys the stack, and stops the
# endpoint. Needs what scripts/setup-tools.sh installs (it is run first).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-tools.sh

port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint="http://127.0.0.1:$port"
log=$(mktemp)
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto=$!
trap 'kill "$moto" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
    .venv/bin/python -c "import urllib.request; urllib.request.urlopen('$endpoint/moto-api/data.json')" 2>/dev/null && break
    sleep 0.2
done
echo "local AWS endpoint: $endpoint"

export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
cargo build --quiet --locked --bin invctl
invctl() { target/debug/invctl --endpoint-url "$endpoint" --stack-name invctl-demo "$@"; }

invctl deploy --yes --email you@example.com
invctl status
echo "inventory:"
.venv/bin/python - "$endpoint" <<'PY'
import sys, boto3
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1")
cfn, ddb = boto3.client("cloudformation", **kw), boto3.client("dynamodb", **kw)
resources = cfn.list_stack_resources(StackName="invctl-demo")["StackResourceSummaries"]
table = next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "InventoryTable")
for item in sorted(ddb.scan(TableName=table)["Items"], key=lambda i: i["id"]["S"]):
    print(f'  {item["id"]["S"]:<10} {item["status"]["S"]:<12} stock {item["stock"]["N"]:>3}  threshold {item["threshold"]["N"]}')
PY
invctl destroy --yes
