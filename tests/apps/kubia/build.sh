#!/usr/bin/env bash
# Builds the kubia sample image: `tests/apps/kubia/build.sh [TAG]` (default kubia:1.0).
set -euo pipefail
cd "$(dirname "$0")"
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o kubia .
docker build -q -t "${1:-kubia:1.0}" . >/dev/null
rm -f kubia
