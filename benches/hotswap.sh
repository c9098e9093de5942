#!/usr/bin/env bash
# Benchmark (not a test; figures go to README): a code change to one
# function, deployed on the local cloud with `deploy --hotswap` and with a
# plain change-set deploy, each from the edit to the new page being served.
# Each run edits the approval function's page (so each builds the same
# crate) in a copy of the source tree, then times, RUNS times each:
#  - hotswap: `invctl deploy --hotswap` (build, UpdateFunctionCode, wait);
#  - full:    `invctl deploy --yes` (build, upload, change set, execute);
# and the time until the review page shows the new text; then the same
# with the build done before the clock starts (`invctl diff` builds what a
# deploy would), timing `--skip-build` deploys: what each way costs itself.
# Usage: benches/hotswap.sh [RUNS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
scripts/setup-tools.sh --demo >/dev/null
cargo build --quiet --locked --bin invctl
repo=$PWD
invctl=$repo/target/debug/invctl
work=$(mktemp -d)
trap '(cd "$work/cloud" && "$invctl" local down >/dev/null 2>&1); rm -rf "$work"' EXIT
# The copy builds in a target folder of copies only: Cargo names its
# crates as the repository's, so sharing the repository's would hand its
# builds the copy's code (the watch test makes its copy another version
# instead, to reuse the repository's dependencies).
export CARGO_TARGET_DIR=$repo/target/source-copies
git ls-files -z | (mkdir -p "$work/src" && cd "$repo" && xargs -0 cp --parents -t "$work/src")
ln -s "$repo/.venv" "$work/src/.venv"
mkdir "$work/cloud" && cd "$work/cloud"
"$invctl" local up --detach >/dev/null
stack=(--local --stack-name bench)
"$invctl" "${stack[@]}" deploy --yes --no-seed --email bench@example.com --workspace "$work/src" >/dev/null
url="$("$invctl" "${stack[@]}" status --output json | "$repo/.venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["approvalUrl"])')?po=none&secret=none"
page=$work/src/lambdas/approval/src/page.rs
marker="This link is not valid."
n=0
ms() { echo $(( ($2 - $1) / 1000000 )); }
timed() { # MODE [--skip-build]: edits the page, deploys in MODE, prints deploy and served times
    n=$((n + 1))
    local text="Bench edit $n."
    sed -i "s/$marker/$text/" "$page"
    marker=$text
    local skip=()
    if [ "${2:-}" = --skip-build ]; then
        skip=(--skip-build)
        "$invctl" "${stack[@]}" diff --workspace "$work/src" >/dev/null 2>&1
    fi
    local start deployed served
    start=$(date +%s%N)
    if [ "$1" = hotswap ]; then
        "$invctl" "${stack[@]}" deploy --hotswap "${skip[@]}" --workspace "$work/src" >/dev/null 2>&1
    else
        "$invctl" "${stack[@]}" deploy --yes --no-seed "${skip[@]}" --workspace "$work/src" >/dev/null 2>&1
    fi
    deployed=$(date +%s%N)
    until curl -s "$url" | grep -q "$text"; do sleep 0.05; done
    served=$(date +%s%N)
    echo "$1${2:+ $2} run $n: deploy $(ms "$start" "$deployed") ms, served after $(ms "$start" "$served") ms"
}
# One untimed edit of each kind first: the copy's first build compiles more.
timed hotswap >/dev/null
timed full >/dev/null
for _ in $(seq 1 "$runs"); do
    timed hotswap
    timed full
done
for _ in $(seq 1 "$runs"); do
    timed hotswap --skip-build
    timed full --skip-build
done
