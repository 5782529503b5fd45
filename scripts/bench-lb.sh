#!/usr/bin/env bash
# Benchmark (not a test): requests per second and latency of the sample app through localkube's
# load balancer, through `kubectl port-forward`, and at the node's NodePort directly; one wrk run
# each with the same client settings, and the ratios. Traffic stays on this machine.
#   scripts/bench-lb.sh [SECONDS]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
scripts/setup.sh >/dev/null
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --locked -q
lk=$PWD/target/release/localkube
work=$(mktemp -d)
export LOCALKUBE_HOME=$work/home KUBECONFIG=$work/kubeconfig LOCALKUBE_PROGRESS=quiet
pf=
cleanup() { [ -n "$pf" ] && kill "$pf" 2>/dev/null; $lk -p benchlb delete >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
tests/apps/kubia/build.sh kubia:bench
k() { $lk -p benchlb kubectl -- "$@"; }
$lk -p benchlb start >/dev/null
$lk -p benchlb image load kubia:bench >/dev/null
k create deployment kubia --image=kubia:bench --replicas=2 >/dev/null
k expose deployment kubia --type=LoadBalancer --port=8080 >/dev/null
k wait --for=condition=Available deployment/kubia --timeout=120s >/dev/null
lb_url=$($lk -p benchlb service kubia --url --wait 60)
node_ip=$(k get node benchlb -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
node_port=$(k get svc kubia -o jsonpath='{.spec.ports[0].nodePort}')
k port-forward svc/kubia 18080:8080 >/dev/null 2>&1 &
pf=$!
until curl -sf http://127.0.0.1:18080/ >/dev/null; do sleep 0.2; done

run() { # prints "requests/s p50-latency-ms"
  wrk -t2 -c16 -d"${secs}s" --latency "$1" | awk '
    /Requests\/sec/ {rps=$2}
    /^ +50%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; p50=v}
    END {printf "%s %s\n", rps, p50}'
}
read -r lb_rps lb_p50 < <(run "$lb_url/")
read -r pf_rps pf_p50 < <(run "http://127.0.0.1:18080/")
read -r np_rps np_p50 < <(run "http://$node_ip:$node_port/")
printf '%-28s %12s %12s\n' "path" "requests/s" "p50 ms"
printf '%-28s %12s %12s\n' "load balancer ($lb_url)" "$lb_rps" "$lb_p50"
printf '%-28s %12s %12s\n' "kubectl port-forward" "$pf_rps" "$pf_p50"
printf '%-28s %12s %12s\n' "node NodePort directly" "$np_rps" "$np_p50"
awk -v lb="$lb_rps" -v pf="$pf_rps" -v np="$np_rps" 'BEGIN {
  printf "ratios: load balancer / port-forward = %.2f, load balancer / NodePort = %.2f\n", lb/pf, lb/np }'
