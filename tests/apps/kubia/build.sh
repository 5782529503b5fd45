#!/usr/bin/env bash
# Builds the kubia sample image: `tests/apps/kubia/build.sh [TAG]` (default kubia:1.0).
# The binary and the build context go to a temporary folder, so parallel builds never collide.
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
(cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$ctx/kubia" .)
cp "$src/Dockerfile" "$ctx/"
docker build -q -t "${1:-kubia:1.0}" "$ctx" >/dev/null
