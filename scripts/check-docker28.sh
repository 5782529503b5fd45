#!/usr/bin/env bash
# Checks localkube against Docker Engine 28, built here from its Go module
# (github.com/docker/docker v28.5.2+incompatible, dependencies at the versions its vendor.mod
# pins), as a second daemon in a network namespace of its own (scripts/lib/engine-check.sh
# says how it is kept off the host's daemon). Twice: with the classic image store and with the
# containerd image store (features.containerd-snapshotter). The checks are
# scripts/lib/engine-check.sh's; each prints its time. Run by hand, as root, never in CI.
#
#   scripts/check-docker28.sh [classic|containerd ...]    (default: both)
#   scripts/check-docker28.sh --build-only
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${LOCALKUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/localkube}
WORK=${CHECK_DOCKER28_WORK:-/tmp/localkube-docker28}
BIN=${LOCALKUBE_BIN:-$ROOT/target/debug/localkube}
MODULE=github.com/docker/docker
VERSION=v28.5.2
NAME=docker28
PROFILE=hostsd28
source "$ROOT/scripts/lib/engine-check.sh"
source "$ROOT/scripts/lib/docker-engine.sh"
mkdir -p "$WORK"

# Docker 28 runs with Debian 12's containerd 1.6 and runc 1.1 (found on PATH).
engine_build "$MODULE" "$VERSION+incompatible" "$VERSION"
[[ ${1:-} == --build-only ]] && exit 0
[[ -x $BIN ]] || { echo "no localkube binary at $BIN: cargo build --locked first" >&2; exit 1; }
engine_archive
engine_isolate "$@"

STORES=("$@")
((${#STORES[@]})) || STORES=(classic containerd)
engine_start() { dockerd_start "$FEATURES"; }
engine_stop() { dockerd_stop; }
set +e
trap engine_stop EXIT
for store in "${STORES[@]}"; do
	case $store in
	classic) FEATURES='{}' MULTI_PLATFORM=0 ;;
	containerd) FEATURES='{"containerd-snapshotter": true}' MULTI_PLATFORM=1 ;;
	*) echo "unknown image store '$store': classic or containerd" >&2; exit 2 ;;
	esac
	ENGINE_DESCRIPTION="dockerd $VERSION ($store image store)"
	engine_run_checks "$store"
	# The daemon's images and volumes go with it: the next store starts from nothing. Its host
	# network's namespace stays bind-mounted in its exec root.
	umount "$D"/exec/netns/* 2>/dev/null
	rm -rf "$D/data" "$D/exec"
done
echo "Docker 28 checks: $failed failed"
((failed == 0))
