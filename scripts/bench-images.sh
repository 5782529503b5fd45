#!/usr/bin/env bash
# Benchmark of the image pipeline (`localkube images build`): build times and image sizes.
#
#   scripts/bench-images.sh [--kubernetes-version vX.Y.Z] [--no-cold] [--cold-modules]
#
# Prints, for one Kubernetes version:
#   cold      an empty LOCALKUBE_CACHE and a fresh GOCACHE (every package compiled), --force (every image
#             rebuilt). LONG: Kubernetes alone compiles for tens of minutes on 2 cores. The Go module cache
#             (GOMODCACHE) is kept unless --cold-modules, which also downloads every module again.
#   warm      the real cache and GOCACHE, --force: every artifact relinked from cached packages and every
#             image rebuilt (what a change of localkube's recipe costs).
#   check     the real cache, nothing changed: the up-to-date check `localkube start` pays each time.
# then each artifact's and image's size. Each phase's per-artifact lines come from the plain progress output.
# The cold phase leaves the real images as they were meant to be (same keys); its temporary caches are removed.
set -euo pipefail
cd "$(dirname "$0")/.."

version=""
cold=1
cold_modules=0
while [ $# -gt 0 ]; do
  case "$1" in
    --kubernetes-version) version=$2; shift 2 ;;
    --no-cold) cold=0; shift ;;
    --cold-modules) cold_modules=1; shift ;;
    *) echo "usage: $0 [--kubernetes-version vX.Y.Z] [--no-cold] [--cold-modules]" >&2; exit 2 ;;
  esac
done

cargo build --quiet
bin=$PWD/target/debug/localkube
version_args=()
[ -n "$version" ] && version_args=(--kubernetes-version "$version")
export LOCALKUBE_PROGRESS=plain
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Runs a phase, prints its step lines and wall time; $1 names it, the rest is the environment + command.
phase() {
  local name=$1
  shift
  local start end
  start=$(date +%s.%N)
  if ! env "$@" >"$work/$name.out" 2>"$work/$name.err"; then
    echo "bench: the $name phase failed:" >&2
    tail -n 30 "$work/$name.err" >&2
    exit 1
  fi
  end=$(date +%s.%N)
  grep -E '^[✓✗-] ' "$work/$name.err" | sed 's/^/    /' || true
  awk -v n="$name" -v s="$start" -v e="$end" 'BEGIN { printf "%-6s %8.1f s\n", n, e - s }'
}

echo "== localkube images build: timings (${version:-default version}, $(nproc) cores, $(go env GOVERSION))"
if [ "$cold" = 1 ]; then
  cold_cache=$work/cache
  cold_gocache=$work/gocache
  mkdir -p "$cold_cache" "$cold_gocache"
  cold_env=(LOCALKUBE_CACHE="$cold_cache" GOCACHE="$cold_gocache")
  [ "$cold_modules" = 1 ] && cold_env+=(GOMODCACHE="$work/gomodcache" GOFLAGS=-modcacherw)
  phase cold "${cold_env[@]}" "$bin" images build --force "${version_args[@]}"
  # Module caches are read-only by default; -modcacherw above lets the trap remove them.
fi
phase warm "$bin" images build --force "${version_args[@]}"
phase check "$bin" images build "${version_args[@]}"

echo
echo "== sizes"
"$bin" images ls
cache=${LOCALKUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/localkube}
echo
echo "artifacts in $cache/artifacts (all versions):"
if [ -d "$cache/artifacts" ]; then
  for dir in "$cache"/artifacts/*/*/; do
    printf '    %-60s %s\n' "${dir#"$cache"/artifacts/}" "$(du -sh "$dir" | cut -f1)"
  done
fi
