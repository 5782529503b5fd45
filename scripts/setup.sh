#!/usr/bin/env bash
# Prepares a machine for localkube's build and tests: a Docker daemon, and the Debian packages the image
# builds and tests call. Idempotent: every step checks before it acts, so a second run is quick.
set -euo pipefail

log_dir=${LOCALKUBE_SETUP_LOG_DIR:-/var/log/localkube-setup}
mkdir -p "$log_dir"

need_packages=()
have() { command -v "$1" >/dev/null 2>&1; }
# dockerd: the engine every component runs in. mmdebstrap: the node image's Debian root filesystem.
# openssl, curl: the tests check the generated PKI with real tools. iproute2: addresses on loopback.
have dockerd || need_packages+=(docker.io)
have mmdebstrap || need_packages+=(mmdebstrap)
have openssl || need_packages+=(openssl)
have curl || need_packages+=(curl)
have ip || need_packages+=(iproute2)
# gcc, pkg-config, libseccomp-dev: the pause binary and runc (cgo, linked with libseccomp) are compiled here.
have gcc || need_packages+=(gcc libc6-dev)
have pkg-config || need_packages+=(pkg-config)
[ -f /usr/include/seccomp.h ] || need_packages+=(libseccomp-dev)
# jq: the conformance and test-image scripts read the image cache's JSON manifests.
have jq || need_packages+=(jq)
# chromium, chromium-driver: the dashboard's browser test drives the page in headless Chromium over WebDriver.
have chromium && have chromedriver || need_packages+=(chromium chromium-driver)
# npm: the dashboard's exec terminal (xterm.js) is fetched from the npm registry at build time.
have npm || need_packages+=(npm)
if [ "${#need_packages[@]}" -gt 0 ]; then
  echo "setup: installing ${need_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$log_dir/apt.log" 2>&1
  apt-get install -y -qq --no-install-recommends "${need_packages[@]}" >>"$log_dir/apt.log" 2>&1
fi

# The dashboard's terminal library, at the version and integrity hash of its package-lock.json,
# into a git-ignored folder that build.rs embeds (cargo build stops with this command without it).
terminal="$(cd "$(dirname "$0")/.." && pwd)/src/dashboard/terminal"
want=$(node -p "require('$terminal/package-lock.json').packages['node_modules/@xterm/xterm'].version")
have_version=$(node -p "try { require('$terminal/node_modules/@xterm/xterm/package.json').version } catch { '' }")
if [ "$want" != "$have_version" ]; then
  echo "setup: npm ci in $terminal (xterm.js $want)"
  npm ci --prefix "$terminal" --ignore-scripts --no-audit --no-fund >"$log_dir/npm.log" 2>&1
fi

# A daemon that already answers (the user's own, or DOCKER_HOST) is used as it is.
if docker info >/dev/null 2>&1; then
  echo "setup: docker daemon answers"
  exit 0
fi
if [ -n "${DOCKER_HOST:-}" ]; then
  echo "setup: DOCKER_HOST=$DOCKER_HOST does not answer; start that daemon or unset DOCKER_HOST" >&2
  exit 1
fi
echo "setup: starting dockerd (log: $log_dir/dockerd.log)"
# setsid: dockerd outlives this script and the shell that ran it. It gets no descriptor beyond
# 0-2: one inherited (say a test run's `flock` lock, or a pipe the caller waits on) would be held
# for the daemon's whole life.
(
  for fd in /proc/self/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
  done
  exec setsid dockerd >>"$log_dir/dockerd.log" 2>&1 </dev/null
) &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "setup: docker daemon answers"
    exit 0
  fi
  sleep 0.5
done
echo "setup: dockerd did not answer within 30s; last lines of $log_dir/dockerd.log:" >&2
tail -n 20 "$log_dir/dockerd.log" >&2
exit 1
