#!/usr/bin/env bash
# Benchmark (not a test): images through a registry. Runs the reference registry (the registry
# addon's image) on 127.0.0.1, pushes a version's images to it, then times
# `start --image-repository` with an empty cache and no Go on PATH, beside the cold build (~25 min
# on 2 cores). Also times fetching every blob of the registry over loopback: this engine holds the
# layers already (it built them), so its pulls skip them; the fetch is what a machine without
# them downloads. Prints figures; asserts nothing.
#   scripts/bench-registry.sh [VERSION]   (default: localkube's default Kubernetes version)
# Own LOCALKUBE_HOME, LOCALKUBE_CACHE (for the start) and KUBECONFIG; profile $BENCH_PROFILE
# (default "bench-registry").
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked -q
lk=$PWD/target/debug/localkube
version=${1:-$($lk version -o json | jq -r .defaultKubernetesVersion)}
work=$(mktemp -d)
profile=${BENCH_PROFILE:-bench-registry}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
registry=localkube-bench-registry-$port
repo=127.0.0.1:$port/localkube
export LOCALKUBE_HOME=$work/home KUBECONFIG=$work/kubeconfig LOCALKUBE_PROGRESS=quiet
cleanup() {
  LOCALKUBE_CACHE=$work/cache $lk -p "$profile" delete >/dev/null 2>&1 || true
  docker rm -f -v "$registry" >/dev/null 2>&1 || true
  # Only the references this run made, under this registry's name.
  docker images --digests --format '{{.Repository}}:{{.Tag}} {{.Repository}}@{{.Digest}}' |
    tr ' ' '\n' | grep "^127.0.0.1:$port/" | grep -v -e ':<none>$' -e '@<none>$' |
    xargs -r docker rmi --no-prune >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN {printf "%.1f", a - b}'; }

$lk images build --kubernetes-version "$version" --addons registry >/dev/null
docker run -d --name "$registry" --label io.localkube.bench=registry \
  -p "127.0.0.1:$port:5000" "localkube/registry:$version" >/dev/null
until curl -sf "http://127.0.0.1:$port/v2/" >/dev/null; do sleep 0.2; done

t=$(now)
$lk images push "$repo" --kubernetes-version "$version" -o json > "$work/push.json"
push_s=$(since "$t")
images=$(jq '.images | length' "$work/push.json")
docker_mb=$(jq '[.images[].size_bytes] | add / 1e6 | floor' "$work/push.json")
volume=$(docker inspect "$registry" -f '{{range .Mounts}}{{.Source}}{{end}}')
stored_mb=$(du -sm "$volume" | cut -f1)

# Every blob, as a machine without the layers downloads them.
t=$(now)
for name in $(jq -r '.images[].image' "$work/push.json") index; do
  for blob in $(curl -sf -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
      "http://127.0.0.1:$port/v2/localkube/$name/manifests/$version" |
      jq -r '.config.digest, .layers[].digest'); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/v2/localkube/$name/blobs/$blob"
  done
done
fetch_s=$(since "$t")

nogo=$(tr ':' '\n' <<<"$PATH" | while read -r d; do [ -e "$d/go" ] || printf '%s:' "$d"; done)
t=$(now)
LOCALKUBE_CACHE=$work/cache PATH=$nogo $lk -p "$profile" start \
  --kubernetes-version "$version" --image-repository "$repo" >/dev/null
start_s=$(since "$t")

echo "images push $version: $images images, ${docker_mb} MB as Docker counts them, ${stored_mb} MB stored in the registry, ${push_s} s"
echo "fetching every blob over loopback (a machine without the layers):       ${fetch_s} s"
echo "start --image-repository, empty cache, no go on PATH, to a Ready node:  ${start_s} s  (cold build: ~1500 s)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
