#!/usr/bin/env bash
# Builds localkube's pause binary: images/pause/build.sh OUT_DIR  ->  OUT_DIR/pause
# A static C binary (glibc's libc.a from Debian's libc6-dev), so the image can be FROM scratch.
# Reproducible: same compiler + source give the same bytes (no timestamps; build id off), so callers may cache it.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
out_dir=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cc=${CC:-gcc}

if ! command -v "$cc" >/dev/null 2>&1; then
  echo "pause: no C compiler '$cc' (install gcc and libc6-dev)" >&2
  exit 1
fi

mkdir -p "$out_dir"
tmp=$(mktemp "$out_dir/.pause.XXXXXX")
trap 'rm -f "$tmp"' EXIT
# -static: no dynamic loader or libc in a FROM-scratch image. -Os: small. -s: no symbols.
# -Wl,--build-id=none: no random-looking note, same bytes on every build.
"$cc" -static -Os -s -Wall -Wextra -Werror -Wl,--build-id=none \
  -DLOCALKUBE_PAUSE_VERSION="\"${LOCALKUBE_PAUSE_VERSION:-dev}\"" \
  -o "$tmp" "$here/pause.c"
chmod 0755 "$tmp"
mv -f "$tmp" "$out_dir/pause"
trap - EXIT
echo "$out_dir/pause"
