#!/usr/bin/env bash
# Try invctl without an AWS account: starts a local AWS endpoint (moto, in
# the project's .venv), builds and deploys the stack to it, shows the
# stack's status and the seeded inventory, destroys the stack, and stops the
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
