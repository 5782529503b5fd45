#!/usr/bin/env bash
# Brings a cluster up on this machine: Docker (installed and started if none answers), the
# localkube binary, the component images (built from upstream sources on first use), the cluster.
# Extra arguments go to `localkube start`, e.g. `scripts/up.sh -p dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked
exec target/release/localkube start "$@"
