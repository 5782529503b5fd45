#!/usr/bin/env bash
# Benchmark (not a test): minikube's time-to-k8s phases with images cached, medians of RUNS, each
# figure printed beside its target and the floor measured in the same run (etcd + apiserver alone,
# from `docker run` to /readyz, on an empty data volume); then NODES-node starts against 1-node
# ones, stop and restart cycles (until a workload answers by its Service's DNS name again), and
# the idle memory of the profile's containers. Prints figures and targets; asserts nothing.
#   scripts/bench-start.sh [RUNS] [NODES]   (default 5 runs; NODES 3; NODES=1 skips that part)
# Uses its own LOCALKUBE_HOME and KUBECONFIG, profile $BENCH_PROFILE (default "bench"); traffic
# stays on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
nodes=${2:-3}
p=${BENCH_PROFILE:-bench}
scripts/setup.sh >/dev/null
cargo build --release --locked -q
lk=$PWD/target/release/localkube
work=$(mktemp -d)
export LOCALKUBE_HOME=$work/home KUBECONFIG=$work/kubeconfig LOCALKUBE_PROGRESS=quiet
cleanup() {
  docker rm -f -v "$p-floor-etcd" "$p-floor-apiserver" >/dev/null 2>&1 || true
  $lk -p "$p" delete >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
$lk images build >/dev/null
tests/apps/kubia/build.sh kubia:bench

now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN {printf "%.3f", a - b}'; }
k() { $lk -p "$p" kubectl -- "$@"; }
until_ok() { until "$@" >/dev/null 2>&1; do sleep 0.01; done; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }
med() { printf '%s\n' "$@" | median; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
# row LABEL FIGURE TARGET-TEXT MET(0/1)
row() { printf '  %-38s %7s   %-28s %s\n' "$1" "$2" "$3" "$([ "$4" = 1 ] && echo met || echo 'NOT met')"; }
le() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a <= b)}' && echo 1 || echo 0; }
mul() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a * b}'; }
# One try at most 2 s: a try that meets a stale endpoint would otherwise wait out kubia's 5 s
# client timeout, and the figure would be late by up to that much.
dns_serves() {
  local pod
  pod=$(k get pods -l app=hello --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}')
  [ -n "$pod" ] && timeout 2 $lk -p "$p" kubectl -- exec "$pod" -- /kubia get http://hello.default.svc.cluster.local:8080/
}

# A start before the measured ones: the load balancer's image is built once per localkube binary,
# and the page cache is warm for every run alike.
$lk -p "$p" start >/dev/null
$lk -p "$p" delete >/dev/null
echo "load average before: $(load)"

declare -a exec_t api_t svc_t app_t dns_t total_t multi_t multi_total_t
for i in $(seq 1 "$runs"); do
  t0=$(now)
  $lk -p "$p" start >/dev/null
  exec_t+=("$(since "$t0")"); t=$(now)
  until_ok k get po -A
  api_t+=("$(since "$t")"); t=$(now)
  until_ok k get svc kubernetes
  until_ok k -n kube-system get svc kube-dns
  svc_t+=("$(since "$t")"); t=$(now)
  $lk -p "$p" image load kubia:bench >/dev/null
  k create deployment hello --image=kubia:bench --port=8080 >/dev/null
  k expose deployment hello --port=8080 >/dev/null
  until_ok k wait --for=condition=Available deployment/hello --timeout=1s
  pod=$(k get pods -l app=hello -o jsonpath='{.items[0].metadata.name}')
  until_ok k exec "$pod" -- /kubia get "http://$(k get svc hello -o jsonpath='{.spec.clusterIP}'):8080/"
  app_t+=("$(since "$t")"); t=$(now)
  until_ok k exec "$pod" -- /kubia get http://hello.default.svc.cluster.local:8080/
  dns_t+=("$(since "$t")")
  total_t+=("$(since "$t0")")
  if [ "$i" -lt "$runs" ] || [ "$nodes" -gt 1 ]; then $lk -p "$p" delete >/dev/null; fi
done
if [ "$nodes" -gt 1 ]; then
  for i in $(seq 1 "$runs"); do
    t0=$(now)
    $lk -p "$p" start --nodes "$nodes" >/dev/null
    multi_t+=("$(since "$t0")")
    until_ok k -n kube-system get svc kube-dns
    multi_total_t+=("$(since "$t0")")
    $lk -p "$p" delete >/dev/null
  done
  # The 1-node cluster again, with its workload, for the stop, restart and memory figures.
  $lk -p "$p" start >/dev/null
  $lk -p "$p" image load kubia:bench >/dev/null
  k create deployment hello --image=kubia:bench --port=8080 >/dev/null
  k expose deployment hello --port=8080 >/dev/null
  until_ok dns_serves
fi
echo "load average after the starts: $(load)"

# Stop and restart cycles: `stop` (and how etcd exited), then `start` until the workload answers
# by its Service's DNS name again.
declare -a stop_t restart_t etcd_exit
for i in $(seq 1 "$runs"); do
  t=$(now)
  $lk -p "$p" stop >/dev/null
  stop_t+=("$(since "$t")")
  etcd_exit+=("$(docker inspect -f '{{.State.ExitCode}}' "$p-etcd")")
  t=$(now)
  $lk -p "$p" start >/dev/null
  until_ok dns_serves
  restart_t+=("$(since "$t")")
done
echo "load average after stop/restart: $(load)"

echo "idle memory after 120 s (docker stats, MiB):"
sleep 120
mem=$(docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' \
  $(docker ps -q --filter label=io.localkube.profile=$p) |
  awk '{v=$2; u=v; gsub(/[0-9.]/,"",u); gsub(/[A-Za-z]/,"",v); m=(u=="GiB")?v*1024:(u=="KiB")?v/1024:v; printf "  %-28s %8.1f\n", $1, m; s+=m} END {printf "  %-28s %8.1f\n", "total", s}')
echo "$mem"
mem_total=$(echo "$mem" | awk '$1 == "total" {print $2}')

# The floor: the profile's own etcd and apiserver containers, as `start` runs them (same image,
# command, mounts, address, published port), alone, on an empty data volume, from `docker run`
# to /readyz. The profile is stopped meanwhile, so its address and port are free.
$lk -p "$p" stop >/dev/null
run_like() { # CONTAINER NEW-NAME: `docker run -d` with CONTAINER's configuration
  docker inspect "$1" | jq -r --arg name "$2" --arg profile "$p" '.[0] as $c | [
      "--name", $name, "--label", ("io.localkube.profile=" + $profile),
      "--network", ($c.NetworkSettings.Networks | keys[0]),
      "--ip", ($c.NetworkSettings.Networks | to_entries[0].value.IPAMConfig.IPv4Address),
      "--cgroupns", $c.HostConfig.CgroupnsMode,
      ($c.HostConfig.CapAdd // [] | map("--cap-add=" + .))[],
      ($c.HostConfig.PortBindings // {} | to_entries | map("-p", (.value[0].HostIp + ":" + .value[0].HostPort + ":" + .key))[]),
      ($c.Mounts | map(if .Type == "bind" then "-v", (.Source + ":" + .Destination + ":ro") else "-v", .Destination end)[]),
      "--entrypoint", $c.Config.Entrypoint[0], $c.Config.Image,
      $c.Config.Entrypoint[1:][], $c.Config.Cmd[]] | .[]' |
    xargs -d '\n' docker run -d >/dev/null
}
port=$(awk '/apiserverPort/ {print $2}' "$LOCALKUBE_HOME/profiles/$p/config.yaml")
declare -a floor_t
for i in $(seq 1 "$runs"); do
  t=$(now)
  run_like "$p-etcd" "$p-floor-etcd"
  run_like "$p-apiserver" "$p-floor-apiserver"
  until [ "$(curl -sk --max-time 1 "https://127.0.0.1:$port/readyz" 2>/dev/null)" = ok ]; do sleep 0.01; done
  floor_t+=("$(since "$t")")
  docker rm -f -v "$p-floor-etcd" "$p-floor-apiserver" >/dev/null
done
echo "load average at the end: $(load)"

floor=$(med "${floor_t[@]}")
total=$(med "${total_t[@]}")
echo
echo "time-to-k8s phases over $runs runs of a 1-node cluster (median seconds; images cached)"
printf '  %-38s %7s\n' "command exec" "$(med "${exec_t[@]}")"
printf '  %-38s %7s\n' "API answering (after the command)" "$(med "${api_t[@]}")"
printf '  %-38s %7s\n' "kubernetes + kube-dns services" "$(med "${svc_t[@]}")"
printf '  %-38s %7s\n' "app serving (load+deploy+connect)" "$(med "${app_t[@]}")"
printf '  %-38s %7s\n' "DNS answering" "$(med "${dns_t[@]}")"
echo
echo "targets (medians of $runs, seconds unless said)"
row "floor: etcd + apiserver to /readyz" "$floor" "(measured here)" 1
row "time-to-k8s total" "$total" "<= 10 and <= 2 x floor ($(mul "$floor" 2))" \
  "$(($(le "$total" 10) && $(le "$total" "$(mul "$floor" 2)")))"
if [ "$nodes" -gt 1 ]; then
  one=$(med "${exec_t[@]}") many=$(med "${multi_t[@]}")
  row "start of $nodes nodes (command exec)" "$many" "<= 1.5 x 1 node ($(mul "$one" 1.5))" "$(le "$many" "$(mul "$one" 1.5)")"
  one=$(med "${svc_t[@]}")
  printf '  %-38s %7s   (1 node: %s + %s)\n' "  $nodes nodes to kube-dns service" "$(med "${multi_total_t[@]}")" "$(med "${exec_t[@]}")" "$one"
fi
restart=$(med "${restart_t[@]}")
row "restart until DNS name serves" "$restart" "<= 5" "$(le "$restart" 5)"
stop=$(med "${stop_t[@]}")
etcd_clean=1
for e in "${etcd_exit[@]}"; do [ "$e" = 0 ] || etcd_clean=0; done
row "stop" "$stop" "<= 3, etcd exits 0 (${etcd_exit[*]})" "$(($(le "$stop" 3) && etcd_clean))"
row "idle memory, 1 node (MiB)" "$mem_total" "<= 400" "$(le "$mem_total" 400)"
echo "every run (s): total ${total_t[*]}; floor ${floor_t[*]}; stop ${stop_t[*]}; restart ${restart_t[*]}"
if [ "$nodes" -gt 1 ]; then echo "  $nodes-node exec ${multi_t[*]}; 1-node exec ${exec_t[*]}"; fi
