# Sourced by scripts that need a local AWS endpoint: starts moto from the
# project's .venv on a free loopback port, waits until it answers, sets
# $endpoint and $endpoint_log, and stops it when the calling script exits.
port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint="http://127.0.0.1:$port"
endpoint_log=$(mktemp)
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$endpoint_log" 2>&1 &
endpoint_pid=$!
trap 'kill "$endpoint_pid" 2>/dev/null; rm -f "$endpoint_log"' EXIT
for _ in $(seq 1 100); do
    .venv/bin/python -c "import urllib.request; urllib.request.urlopen('$endpoint/moto-api/data.json')" 2>/dev/null && break
    sleep 0.2
done
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
