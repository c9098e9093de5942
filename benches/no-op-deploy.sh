#!/usr/bin/env bash
# Benchmark: wall time and AWS request count of a deploy that has nothing to
# do, against a local endpoint (moto). Deploys once, then times RUNS no-op
# deploys; requests are counted from the endpoint's request log.
# Usage: benches/no-op-deploy.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
scripts/setup-tools.sh >/dev/null

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

export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
cargo build --quiet --release --locked --bin invctl
target/release/invctl build >/dev/null
deploy() { target/release/invctl deploy --skip-build --yes --email bench@example.com --no-seed \
    --endpoint-url "$endpoint" --stack-name invctl-bench --output json; }
deploy >/dev/null

requests() { grep -c '"[A-Z]* /[^"]* HTTP/1.1"' "$log"; }
before=$(requests)
start=$(date +%s%N)
for _ in $(seq 1 "$runs"); do
    deploy | grep -q '"action": "none"' || { echo "a no-op deploy changed something" >&2; exit 1; }
done
end=$(date +%s%N)
after=$(requests)
echo "no-op deploy: $(( (end - start) / runs / 1000000 )) ms each over $runs runs, $(( (after - before) / runs )) AWS request(s) each"
