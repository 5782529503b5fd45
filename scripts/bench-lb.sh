#!/usr/bin/env bash
# Benchmark (not a test): requests per second and p99 latency of the sample app through localkube's
# load balancer and at the node's NodePort directly, which the load balancer forwards to. wrk with
# the same settings on both, alternating, ROUNDS times each; the medians are compared with the
# targets (load balancer >= 0.8x the NodePort's requests/s, p99 <= 1.5x the NodePort's). Traffic
# goes only to the service's loopback address and the node's container address.
#   scripts/bench-lb.sh [SECONDS-PER-RUN] [ROUNDS]   (default 10 and 5)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-5}
scripts/setup.sh >/dev/null
# wrk, from Debian, where it is missing.
command -v wrk >/dev/null || {
  echo "bench-lb: installing wrk" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
}
cargo build --release --locked -q
lk=$PWD/target/release/localkube
profile=${BENCH_LB_PROFILE:-benchlb}
work=$(mktemp -d)
export LOCALKUBE_HOME=$work/home KUBECONFIG=$work/kubeconfig LOCALKUBE_PROGRESS=quiet
cleanup() { $lk -p "$profile" delete >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
tests/apps/kubia/build.sh kubia:bench
k() { $lk -p "$profile" kubectl -- "$@"; }
$lk -p "$profile" start >/dev/null
$lk -p "$profile" image load kubia:bench >/dev/null
k create deployment kubia --image=kubia:bench --replicas=2 >/dev/null
k expose deployment kubia --type=LoadBalancer --port=8080 >/dev/null
k wait --for=condition=Available deployment/kubia --timeout=120s >/dev/null
lb_url=$($lk -p "$profile" service kubia --url --wait 60)
node_ip=$(k get node "$profile" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
node_port=$(k get svc kubia -o jsonpath='{.spec.ports[0].nodePort}')
np_url=http://$node_ip:$node_port
case "$lb_url" in http://127.*) ;; *) echo "bench-lb: $lb_url is not on loopback" >&2; exit 1 ;; esac
until curl -sf "$lb_url/" >/dev/null && curl -sf "$np_url/" >/dev/null; do sleep 0.2; done

run() { # prints "requests/s p99-latency-ms"
  wrk -t2 -c16 -d"${secs}s" --latency "$1" | awk '
    function ms(v) { if (v ~ /us$/) {sub(/us/,"",v); return v/1000} if (v ~ /ms$/) {sub(/ms/,"",v); return v}
                     if (v ~ /s$/) {sub(/s/,"",v); return v*1000} return v }
    /Requests\/sec/ {rps=$2}
    /^ +99%/ {p99=ms($2)}
    END {printf "%s %s\n", rps, p99}'
}
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
run "$np_url/" >/dev/null # warm-up: the pods' first requests
lb_rps=() lb_p99=() np_rps=() np_p99=()
for i in $(seq "$rounds"); do
  read -r lr lp < <(run "$lb_url/")
  read -r nr np < <(run "$np_url/")
  lb_rps+=("$lr") lb_p99+=("$lp") np_rps+=("$nr") np_p99+=("$np")
  echo "round $i: load balancer $lr req/s, p99 $lp ms; NodePort $nr req/s, p99 $np ms"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
lr=$(printf '%s\n' "${lb_rps[@]}" | median)
lp=$(printf '%s\n' "${lb_p99[@]}" | median)
nr=$(printf '%s\n' "${np_rps[@]}" | median)
np=$(printf '%s\n' "${np_p99[@]}" | median)
echo "medians of $rounds runs of ${secs}s, wrk -t2 -c16:"
printf '%-48s %12s %12s\n' "path" "requests/s" "p99 ms"
printf '%-48s %12s %12s\n' "load balancer ($lb_url)" "$lr" "$lp"
printf '%-48s %12s %12s\n' "NodePort directly ($np_url)" "$nr" "$np"
awk -v lr="$lr" -v nr="$nr" -v lp="$lp" -v np="$np" 'BEGIN {
  rr = lr / nr; pr = lp / np
  printf "requests/s: load balancer / NodePort = %.2f   (target >= 0.80: %s)\n", rr, ((rr >= 0.8) ? "met" : "NOT met")
  printf "p99:        load balancer / NodePort = %.2f   (target <= 1.50: %s)\n", pr, ((pr <= 1.5) ? "met" : "NOT met") }'
