#!/usr/bin/env bash
# Benchmark (not a test): a control plane of three members beside one. Start time to a Ready node
# with the default addons (medians of RUNS), idle memory of the profile's containers (docker stats
# summed, 30 s after start), then on the three-member profile the takeover after kill -9 of the
# leading controller-manager (until another holds its Lease), of the leading etcd member (until a
# new leader is elected) and of an apiserver (until the load balancer sees it ready again), each
# beside its target. Prints figures; asserts nothing.
#   scripts/bench-ha.sh [RUNS]   (default 3)
# LOCALKUBE_BIN picks the binary (default target/debug/localkube, built if missing). Uses its own
# LOCALKUBE_HOME and KUBECONFIG, profiles bench-one and bench-ha; traffic stays on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
lk=${LOCALKUBE_BIN:-$PWD/target/debug/localkube}
[ -x "$lk" ] || cargo build --locked -q
work=$(mktemp -d)
export LOCALKUBE_HOME=$work/home KUBECONFIG=$work/kubeconfig LOCALKUBE_PROGRESS=quiet
cleanup() {
  $lk -p bench-one delete >/dev/null 2>&1 || true
  $lk -p bench-ha delete >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN {printf "%.2f", a - b}'; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }
row() { printf '  %-44s %9s   %-26s %s\n' "$1" "$2" "$3" "$([ "$4" = 1 ] && echo met || echo 'NOT met')"; }
le() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a <= b)}' && echo 1 || echo 0; }
mul() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a * b}'; }
# Sum of `docker stats` memory of a profile's containers, in MiB.
memory() {
  docker stats --no-stream --format '{{.MemUsage}}' $(docker ps -q --filter "label=io.localkube.profile=$1") |
    awk '{v=$1; u=v; gsub(/[0-9.]/, "", u); gsub(/[A-Za-z]/, "", v);
          f = (u=="GiB") ? 1024 : (u=="MiB") ? 1 : (u=="KiB") ? 1/1024 : 1/1048576; s += v * f}
         END {printf "%.0f", s}'
}
# A Lease's holder identity, <container>_<uuid>: a restarted container is a new candidate.
holder() { $lk -p bench-ha kubectl -- -n kube-system get lease "$1" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
kill9() { kill -9 "$(docker inspect -f '{{.State.Pid}}' "$1")"; }
# Polls a condition every 0.2 s, for 60 s at most.
within_60s() { local n=0; until "$@"; do sleep 0.2; n=$((n + 1)); [ $n -lt 300 ] || { echo "  (gave up after 60 s)"; return 0; }; done; }
etcd_leader() {
  # The member whose own id is the leader's, by name.
  for m in bench-ha-etcd bench-ha-etcd-2 bench-ha-etcd-3; do
    out=$(docker exec "$m" etcdctl --command-timeout=1s --endpoints=https://127.0.0.1:2379 \
      --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt \
      --key=/etc/kubernetes/pki/etcd/server.key endpoint status -w fields 2>/dev/null) || continue
    id=$(awk -F': ' '/"MemberID"/ {print $2}' <<<"$out"); leader=$(awk -F': ' '/"Leader"/ {print $2}' <<<"$out")
    [ -n "$id" ] && [ "$id" = "$leader" ] && { echo "$m"; return; }
  done
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -a one_t ha_t
for i in $(seq 1 "$runs"); do
  t=$(now); $lk -p bench-one start >/dev/null; one_t+=("$(since "$t")")
  [ "$i" = "$runs" ] || $lk -p bench-one delete >/dev/null
  t=$(now); $lk -p bench-ha start --control-planes 3 >/dev/null; ha_t+=("$(since "$t")")
  [ "$i" = "$runs" ] || $lk -p bench-ha delete >/dev/null
done
one=$(printf '%s\n' "${one_t[@]}" | median); ha=$(printf '%s\n' "${ha_t[@]}" | median)
sleep 30
one_mem=$(memory bench-one); ha_mem=$(memory bench-ha)
$lk -p bench-one delete >/dev/null

echo "figures (seconds, MiB; medians of $runs):"
row "start, 1 control-plane member" "$one" "-" 1
row "start, 3 members" "$ha" "<= 2x one ($(mul "$one" 2))" "$(le "$ha" "$(mul "$one" 2)")"
row "idle memory, 1 member (30 s after start)" "$one_mem" "-" 1
row "idle memory, 3 members" "$ha_mem" "<= 3x one ($(mul "$one_mem" 3))" "$(le "$ha_mem" "$(mul "$one_mem" 3)")"

# Takeovers on the three-member profile.
leader=$(holder kube-controller-manager)
t=$(now); kill9 "${leader%%_*}"
taken() { h=$(holder kube-controller-manager) && [ -n "$h" ] && [ "$h" != "$leader" ]; }
within_60s taken
cm=$(since "$t")
row "controller-manager Lease taken over" "$cm" "<= 20 (15 s lease + retry)" "$(le "$cm" 20)"

leader=$(etcd_leader)
t=$(now); kill9 "$leader"
elected() { l=$(etcd_leader) && [ -n "$l" ]; }
within_60s elected
etcd=$(since "$t")
row "etcd leader elected after kill -9 of $leader" "$etcd" "<= 5" "$(le "$etcd" 5)"

ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' bench-ha-apiserver)
t=$(now); since_ts=$(date -u +%Y-%m-%dT%H:%M:%S); kill9 bench-ha-apiserver
back() { docker logs --since "$since_ts" bench-ha-apiserver-lb 2>/dev/null | grep -q "backend $ip:6443 ready"; }
within_60s back
api=$(since "$t")
row "apiserver back behind the load balancer" "$api" "<= 15" "$(le "$api" 15)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
