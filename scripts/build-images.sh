#!/usr/bin/env bash
# Builds localkube's component images for a Kubernetes version: a thin wrapper over
# `localkube images build` (arguments are passed on, e.g. --kubernetes-version v1.35.4, --force, -v).
# The first run compiles Kubernetes, etcd and CoreDNS from their Go modules (tens of minutes on 2 cores);
# later runs find everything in the cache and take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
exec target/debug/localkube images build "$@"
