#!/usr/bin/env bash
# Benchmark (not a test): `pause`/`unpause` and `snapshot` on a cluster with a few hundred objects
# and a 100 MB PersistentVolume: pause and unpause times (medians of RUNS), snapshot size and
# save time, restore time, export and import times (import as another profile, to a Ready node).
# Prints figures beside targets; asserts nothing.
#   scripts/bench-snapshot.sh [RUNS]   (default 3)
# Uses its own LOCALKUBE_HOME and KUBECONFIG, profiles $BENCH_PROFILE (default "snapbench") and
# "$BENCH_PROFILE-imp"; LOCALKUBE_BIN picks the binary (default: a release build). Traffic stays
# on this machine. Removes its profiles and snapshots when done.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
p=${BENCH_PROFILE:-snapbench}
q=$p-imp
if [ -z "${LOCALKUBE_BIN:-}" ]; then
  cargo build --release --locked -q
  LOCALKUBE_BIN=$PWD/target/release/localkube
fi
lk=$LOCALKUBE_BIN
work=$(mktemp -d)
export LOCALKUBE_HOME=$work/home KUBECONFIG=$work/kubeconfig LOCALKUBE_PROGRESS=quiet
cleanup() {
  $lk -p "$p" snapshot delete bench >/dev/null 2>&1 || true
  $lk -p "$q" snapshot delete bench >/dev/null 2>&1 || true
  $lk -p "$q" delete >/dev/null 2>&1 || true
  $lk -p "$p" delete >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN {printf "%.2f", a - b}'; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }
med() { printf '%s\n' "$@" | median; }
k() { $lk -p "$p" kubectl -- "$@"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
row() { printf '  %-44s %9s   %-16s %s\n' "$1" "$2" "$3" "$([ "$4" = 1 ] && echo met || echo 'NOT met')"; }
le() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a <= b)}' && echo 1 || echo 0; }
mb() { awk -v b="$1" 'BEGIN {printf "%.0f", b / 1048576}'; }

$lk -p "$p" start >/dev/null
helper=localkube/storage-helper:$($lk -p "$p" profile list -o json | python3 -c 'import json,sys; print([r for r in json.load(sys.stdin) if r["name"]=="'"$p"'"][0]["kubernetesVersion"])')
# A few hundred objects: 300 ConfigMaps.
python3 - <<'EOF' >"$work/objects.json"
import json
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"bench-{i}"},
     "data": {"value": "x" * 512}} for i in range(300)]}))
EOF
k apply -f "$work/objects.json" >/dev/null
# A 100 MB PersistentVolume, written by a pod.
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: bench}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 200Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: writer}
spec:
  restartPolicy: Never
  containers:
    - name: main
      image: $helper
      imagePullPolicy: IfNotPresent
      command: ["/bin/sh", "-c", "head -c 104857600 /dev/urandom > /data/blob"]
      volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: bench}}]
EOF
k wait --for=jsonpath='{.status.phase}'=Succeeded pod/writer --timeout=300s >/dev/null
objects=$(k get all,cm,secrets,sa,roles,rolebindings,clusterroles,clusterrolebindings -A --no-headers 2>/dev/null | wc -l)
echo "cluster: $objects objects (kubectl get all,cm,secrets,sa,rbac -A), a 100 MB PersistentVolume"
echo "load average before: $(load)"

declare -a pause_t unpause_t
for _ in $(seq 1 "$runs"); do
  t=$(now); $lk -p "$p" pause >/dev/null; pause_t+=("$(since "$t")")
  t=$(now); $lk -p "$p" unpause >/dev/null; unpause_t+=("$(since "$t")")
done

t=$(now); $lk -p "$p" snapshot save bench >/dev/null; save_t=$(since "$t")
bytes=$($lk -p "$p" snapshot list -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["bytes"])')
t=$(now); $lk -p "$p" snapshot restore bench >/dev/null; restore_t=$(since "$t")
t=$(now); $lk -p "$p" snapshot export bench "$work/bench.snapshot" >/dev/null; export_t=$(since "$t")
file_bytes=$(stat -c %s "$work/bench.snapshot")
t=$(now); $lk -p "$q" snapshot import "$work/bench.snapshot" >/dev/null; import_t=$(since "$t")

echo "load average after: $(load)"
echo "figures ($runs runs for pause/unpause, medians; one run of each snapshot verb):"
row "pause (every container frozen)" "$(med "${pause_t[@]}") s" "<= 1 s" "$(le "$(med "${pause_t[@]}")" 1)"
row "unpause (to the kubelets' lease renewals)" "$(med "${unpause_t[@]}") s" "<= 2 s" "$(le "$(med "${unpause_t[@]}")" 2)"
row "snapshot size" "$(mb "$bytes") MB" "-" 1
row "snapshot save" "$save_t s" "<= 60 s" "$(le "$save_t" 60)"
row "snapshot restore (running, to Ready again)" "$restore_t s" "<= 120 s" "$(le "$restore_t" 120)"
row "snapshot export ($(mb "$file_bytes") MB file)" "$export_t s" "<= 30 s" "$(le "$export_t" 30)"
row "snapshot import as another profile (Ready)" "$import_t s" "<= 180 s" "$(le "$import_t" 180)"
