#!/usr/bin/env bash
# Benchmark (not a test): the time from `kubectl expose --type=LoadBalancer` to the Service's port
# answering on localhost, as a reader of a Docker Desktop tutorial waits for it; ROUNDS rounds
# (default 5), each a new Service on a free port, the median compared with the target (2 s).
# Traffic goes only to 127.0.0.1.
#   scripts/bench-localhost.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
target_ms=2000
scripts/setup.sh >/dev/null
cargo build --release --locked -q
lk=$PWD/target/release/localkube
profile=${BENCH_LOCALHOST_PROFILE:-benchlh}
work=$(mktemp -d)
export LOCALKUBE_HOME=$work/home KUBECONFIG=$work/kubeconfig LOCALKUBE_PROGRESS=quiet
cleanup() { $lk -p "$profile" delete >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
tests/apps/kubia/build.sh kubia:bench
k() { $lk -p "$profile" kubectl -- "$@"; }
$lk -p "$profile" start >/dev/null
$lk -p "$profile" image load kubia:bench >/dev/null
k create deployment kubia --image=kubia:bench >/dev/null
k wait --for=condition=Available deployment/kubia --timeout=120s >/dev/null
now_ms() { date +%s%3N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

times=()
for i in $(seq "$rounds"); do
  port=$(free_port)
  started=$(now_ms)
  k expose deployment kubia --name="bench-$i" --type=LoadBalancer --port="$port" --target-port=8080 >/dev/null
  until curl -sf --max-time 1 "http://localhost:$port/" >/dev/null; do
    sleep 0.02
    if (($(now_ms) - started > 60000)); then echo "bench-localhost: localhost:$port never answered" >&2; exit 1; fi
  done
  took=$(($(now_ms) - started))
  times+=("$took")
  echo "round $i: localhost:$port answered $took ms after kubectl expose began"
  k delete svc "bench-$i" >/dev/null
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : int((v[NR/2]+v[NR/2+1])/2)}')
echo "expose to localhost answering: median ${median} ms of ${rounds} (target <= ${target_ms} ms)"
