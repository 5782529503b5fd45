#!/usr/bin/env bash
# The whole test suite: unit tests, integration tests with real tools, and the cluster tests
# against real components in Docker. Works on a new machine: installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
command -v cargo >/dev/null || { echo "test: cargo is needed (https://rustup.rs)" >&2; exit 1; }
# Formatting first: it takes a second, and unformatted code is a finding like any other.
cargo fmt --check

# Component images are built from upstream sources once, then come from the cache.
cargo build --locked
target/debug/localkube images build

# Progress lines stay out of the test output; the suite checks them itself where it matters.
export LOCALKUBE_PROGRESS=${LOCALKUBE_PROGRESS:-quiet}
cargo test --locked --all-targets
# Restarts dockerd, which would disturb the tests above: alone, last.
cargo test --locked --test tests -- --ignored suite::restart
cargo test --locked --test tests -- --ignored suite::addons::storage_survives_dockerd_restart
cargo test --locked --test tests -- --ignored suite::faults::objects_written_while_dockerd_restarts
cargo test --locked --test tests -- --ignored suite::ha::three_members_come_back_after_pause_and_a_dockerd_restart
