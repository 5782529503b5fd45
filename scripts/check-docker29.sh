#!/usr/bin/env bash
# Checks localkube against Docker Engine 29, built here from its Go module, as a second daemon
# in a network namespace of its own (scripts/lib/engine-check.sh says how it is kept off the
# host's daemon). Twice: with the containerd image store, a new install's default since 29,
# and with the classic store (features.containerd-snapshotter=false), which an upgraded install
# keeps. The checks are scripts/lib/engine-check.sh's; each prints its time. Run by hand, as
# root, never in CI.
#
#   scripts/check-docker29.sh [containerd|classic ...]    (default: both)
#   scripts/check-docker29.sh --build-only
#
# Docker 29 is the first release built from github.com/moby/moby/v2, which the Go module proxy
# serves as v2.0.0-beta.N. Each beta's releases/versions.yaml names the Docker release made from
# the same commit ("next"): beta.24 says 29.8.1, and in moby's repository v2.0.0-beta.24 and
# docker-v29.8.1 are one commit, as every pair before it (beta.3 and docker-v29.0.0, beta.20
# and docker-v29.7.0, ...). beta.25 (29.9.0) pins dependencies the proxy does not serve
# (buildkit v0.34.0-rc1, swarmkit), so 29.8.1 is the newest Docker 29 buildable here.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${LOCALKUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/localkube}
WORK=${CHECK_DOCKER29_WORK:-/tmp/localkube-docker29}
BIN=${LOCALKUBE_BIN:-$ROOT/target/debug/localkube}
MODULE=github.com/moby/moby/v2
MODVERSION=v2.0.0-beta.24
VERSION=v29.8.1
NAME=docker29
PROFILE=hostsd29
ENGINE_DESCRIPTION="dockerd $VERSION"
source "$ROOT/scripts/lib/engine-check.sh"
source "$ROOT/scripts/lib/docker-engine.sh"
mkdir -p "$WORK"

engine_build "$MODULE" "$MODVERSION" "$VERSION"
engine_runtime_from_node_image
[[ ${1:-} == --build-only ]] && exit 0
[[ -x $BIN ]] || { echo "no localkube binary at $BIN: cargo build --locked first" >&2; exit 1; }
engine_archive
engine_isolate "$@"

STORES=("$@")
((${#STORES[@]})) || STORES=(containerd classic)
engine_start() { dockerd_start "$FEATURES"; }
engine_stop() { dockerd_stop; }
set +e
trap engine_stop EXIT
for store in "${STORES[@]}"; do
	case $store in
	containerd) FEATURES='{}' MULTI_PLATFORM=1 ;;
	classic) FEATURES='{"containerd-snapshotter": false}' MULTI_PLATFORM=0 ;;
	*) echo "unknown image store '$store': containerd or classic" >&2; exit 2 ;;
	esac
	ENGINE_DESCRIPTION="dockerd $VERSION ($store image store)"
	engine_run_checks "$store"
	# The daemon's images and volumes go with it: the next store starts from nothing. Its host
	# network's namespace stays bind-mounted in its exec root.
	umount "$D"/exec/netns/* 2>/dev/null
	rm -rf "$D/data" "$D/exec"
done
echo "Docker 29 checks: $failed failed"
((failed == 0))
