#!/usr/bin/env bash
# The same checks as scripts/check-docker29.sh against Debian 12's own Docker Engine 20.10
# (docker.io, with its containerd 1.6 and runc 1.1), run as a second daemon in a network
# namespace of its own: the baseline the other engines' figures are read against, measured the
# same way. Classic image store only (20.10 has no other). Run by hand, as root, never in CI.
#
#   scripts/check-docker20.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${CHECK_DOCKER20_WORK:-/tmp/localkube-docker20}
BIN=${LOCALKUBE_BIN:-$ROOT/target/debug/localkube}
VERSION=v20
NAME=docker20
PROFILE=hostsd20
source "$ROOT/scripts/lib/engine-check.sh"
source "$ROOT/scripts/lib/docker-engine.sh"
mkdir -p "$WORK"

DOCKERD=$(command -v dockerd) || { echo "no dockerd: sudo apt-get install docker.io" >&2; exit 1; }
# dockerd_start runs a copy under a name of its own (dockerd-20), from this folder.
ENGINE=$WORK/engine
mkdir -p "$ENGINE" && cp "$DOCKERD" "$ENGINE/dockerd"
[[ -x $BIN ]] || { echo "no localkube binary at $BIN: cargo build --locked first" >&2; exit 1; }
engine_archive
engine_isolate "$@"

engine_start() { dockerd_start '{}'; }
engine_stop() { dockerd_stop; }
set +e
trap engine_stop EXIT
ENGINE_DESCRIPTION="dockerd $("$DOCKERD" --version | cut -d, -f1 | cut -d' ' -f3) (classic image store)"
MULTI_PLATFORM=0
engine_run_checks classic
umount "$D"/exec/netns/* 2>/dev/null
rm -rf "$D/data" "$D/exec"
echo "Docker 20.10 checks: $failed failed"
((failed == 0))
