#!/usr/bin/env bash
# Benchmark (not a test): an image archive instead of a build. Saves the default version's images
# (built first if missing), then on a simulated bare machine (empty cache, no go on PATH) loads the
# archive and starts a cluster from it. Prints the archive's size and the times beside the cold
# build's (~25 min on 2 cores); asserts nothing.
#   scripts/bench-archive.sh
# Uses its own LOCALKUBE_HOME, LOCALKUBE_CACHE (for the load) and KUBECONFIG, profile "bench-archive".
# Docker is the machine's: layers it already holds are not written again, so the load figure is a
# lower bound for a machine that has never held these images.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
cargo build --release --locked -q
lk=$PWD/target/release/localkube
work=$(mktemp -d)
trap 'env LOCALKUBE_HOME=$work/home LOCALKUBE_CACHE=$work/cache $lk -p bench-archive delete >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export LOCALKUBE_PROGRESS=quiet KUBECONFIG=$work/kubeconfig
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN {printf "%.1f", a - b}'; }

$lk images build >/dev/null
t=$(now)
$lk images save "$work/images.tar" >/dev/null
save_s=$(since "$t")
size_mb=$(( $(stat -c %s "$work/images.tar") / 1000000 ))

nogo=$(tr ':' '\n' <<<"$PATH" | while read -r d; do [ -n "$d" ] && [ ! -e "$d/go" ] && echo "$d"; done | paste -sd:)
bare() { env PATH="$nogo" LOCALKUBE_HOME="$work/home" LOCALKUBE_CACHE="$work/cache" "$lk" "$@"; }
t=$(now)
bare images load "$work/images.tar" >/dev/null
load_s=$(since "$t")
t=$(now)
bare -p bench-archive start >/dev/null
start_s=$(since "$t")
[ ! -e "$work/cache/artifacts" ] || echo "warning: the start built artifacts" >&2

echo "archive:                 ${size_mb} MB (target: under 1 GB)"
echo "images save:             ${save_s} s"
echo "images load (no go):     ${load_s} s"
echo "start from the archive:  ${start_s} s (target: under 60 s; a cold build is ~25 min)"
echo "load average:            $(cut -d' ' -f1-3 /proc/loadavg)"
