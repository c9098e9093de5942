#!/usr/bin/env bash
# Benchmark: wall time and AWS request count of a deploy that has nothing to
# do, against a local endpoint (moto). Deploys once, then times RUNS no-op
# deploys; requests are counted from the endpoint's request log.
# Usage: benches/no-op-deploy.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
scripts/setup-tools.sh >/dev/null

source scripts/lib/local-endpoint.sh
cargo build --quiet --release --locked --bin invctl
target/release/invctl build >/dev/null
deploy() { target/release/invctl deploy --skip-build --yes --email bench@example.com --no-seed \
    --endpoint-url "$endpoint" --stack-name invctl-bench --output json; }
deploy >/dev/null

requests() { grep -c '"[A-Z]* /[^"]* HTTP/1.1"' "$endpoint_log"; }
before=$(requests)
start=$(date +%s%N)
for _ in $(seq 1 "$runs"); do
    deploy | grep -q '"action": "none"' || { echo "a no-op deploy changed something" >&2; exit 1; }
done
end=$(date +%s%N)
after=$(requests)
echo "no-op deploy: $(( (end - start) / runs / 1000000 )) ms each over $runs runs, $(( (after - before) / runs )) AWS request(s) each"
