#!/usr/bin/env bash
# Benchmark (not a test): minikube's time-to-k8s phases with images cached, several runs, medians;
# then a restart of a stopped cluster until workloads serve again, and the idle memory of the
# profile's containers. Prints figures; asserts nothing.
#   scripts/bench-start.sh [RUNS] [NODES]   (default 3 runs of a 1-node cluster)
# Uses its own LOCALKUBE_HOME and KUBECONFIG, profile "bench"; traffic stays on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
nodes=${2:-1}
scripts/setup.sh >/dev/null
cargo build --release --locked -q
lk=$PWD/target/release/localkube
work=$(mktemp -d)
export LOCALKUBE_HOME=$work/home KUBECONFIG=$work/kubeconfig LOCALKUBE_PROGRESS=quiet
trap '$lk -p bench delete >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
$lk images build >/dev/null
tests/apps/kubia/build.sh kubia:bench

now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN {printf "%.3f", a - b}'; }
k() { $lk -p bench kubectl -- "$@"; }
until_ok() { until "$@" >/dev/null 2>&1; do sleep 0.01; done; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }

declare -a exec_t api_t svc_t app_t dns_t total_t
for i in $(seq 1 "$runs"); do
  t0=$(now)
  $lk -p bench start --nodes "$nodes" >/dev/null
  exec_t+=("$(since "$t0")"); t=$(now)
  until_ok k get po -A
  api_t+=("$(since "$t")"); t=$(now)
  until_ok k get svc kubernetes
  until_ok k -n kube-system get svc kube-dns
  svc_t+=("$(since "$t")"); t=$(now)
  $lk -p bench image load kubia:bench >/dev/null
  k create deployment hello --image=kubia:bench --port=8080 >/dev/null
  k expose deployment hello --port=8080 >/dev/null
  until_ok k wait --for=condition=Available deployment/hello --timeout=1s
  pod=$(k get pods -l app=hello -o jsonpath='{.items[0].metadata.name}')
  until_ok k exec "$pod" -- /kubia get "http://$(k get svc hello -o jsonpath='{.spec.clusterIP}'):8080/"
  app_t+=("$(since "$t")"); t=$(now)
  until_ok k exec "$pod" -- /kubia get http://hello.default.svc.cluster.local:8080/
  dns_t+=("$(since "$t")")
  total_t+=("$(since "$t0")")
  if [ "$i" -lt "$runs" ]; then $lk -p bench delete >/dev/null; fi
done

echo "time-to-k8s phases over $runs runs of a $nodes-node cluster (median seconds; images cached)"
printf '  %-34s %s\n' "command exec" "$(printf '%s\n' "${exec_t[@]}" | median)"
printf '  %-34s %s\n' "API answering (after the command)" "$(printf '%s\n' "${api_t[@]}" | median)"
printf '  %-34s %s\n' "kubernetes + kube-dns services" "$(printf '%s\n' "${svc_t[@]}" | median)"
printf '  %-34s %s\n' "app serving (load+deploy+connect)" "$(printf '%s\n' "${app_t[@]}" | median)"
printf '  %-34s %s\n' "DNS answering" "$(printf '%s\n' "${dns_t[@]}" | median)"
printf '  %-34s %s\n' "total" "$(printf '%s\n' "${total_t[@]}" | median)"

# Restart of a stopped cluster until the workload serves again through its service name.
$lk -p bench stop >/dev/null
t=$(now)
$lk -p bench start >/dev/null
pod=$(k get pods -l app=hello -o jsonpath='{.items[0].metadata.name}')
until_ok k exec "$pod" -- /kubia get http://hello.default.svc.cluster.local:8080/
printf '%-36s %.2f s\n' "restart of a stopped cluster:" "$(since "$t")"

echo "idle memory after 120 s (docker stats, MiB):"
sleep 120
docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' \
  $(docker ps -q --filter label=io.localkube.profile=bench) |
  awk '{v=$2; u=v; gsub(/[0-9.]/,"",u); gsub(/[A-Za-z]/,"",v); m=(u=="GiB")?v*1024:(u=="KiB")?v/1024:v; printf "  %-28s %8.1f\n", $1, m; s+=m} END {printf "  %-28s %8.1f\n", "total", s}'
