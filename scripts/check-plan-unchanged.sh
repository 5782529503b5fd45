#!/usr/bin/env bash
# Compares `start --dry-run` of two localkube binaries (before and after a refactor) for a few
# profiles: 1 node, 3 nodes, HA and two cluster files. Usage: scripts/check-plan-unchanged.sh OLD_BIN NEW_BIN
set -u
before=$1 after=$2
work=$(mktemp -d)
cd "$(dirname "$0")/.."
export LOCALKUBE_PROGRESS=quiet
run() { # bin home profile args...
  local bin=$1 home=$2 p=$3; shift 3
  LOCALKUBE_HOME=$home KUBECONFIG=$home/kubeconfig "$bin" -p "$p" start --dry-run "$@" 2>&1
}
status=0
for case in "one|" "three|--nodes 3" "ha|--control-planes 3" "file|--config examples/everything.yaml" "multi|--config examples/multi-node.yaml"; do
  p=${case%%|*}; args=${case#*|}
  A=$work/$p-a; B=$work/$p-b; mkdir -p $A
  run $before $A $p $args > $work/$p.b1
  cp -a $A $B
  run $before $A $p $args > $work/$p.b2
  rm -rf $A; mv $B $A
  run $after $A $p $args > $work/$p.a2
  # The load balancer's image is named by the binary's fingerprint: another binary, another tag.
  norm() { sed -E 's#localkube/lb:[0-9a-f]{12}#localkube/lb:BINARY#; /role=(lb-controller|apiserver-lb)/s#spec-digest=[0-9a-f]+#spec-digest=D#' "$1"; }
  if diff -u <(norm $work/$p.b2) <(norm $work/$p.a2) > $work/$p.diff; then
    echo "$p: same plan ($(wc -l < $work/$p.a2) lines)"
  else
    echo "$p: DIFFERENT"; head -20 $work/$p.diff; status=1
  fi
done
echo "outputs in $work"
exit $status
