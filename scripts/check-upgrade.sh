#!/usr/bin/env bash
# The upgrade in place against real clusters (tests/suite/upgrade.rs, its #[ignore] tests):
# v1.36.3 → v1.37.2 on two nodes with a Deployment behind a PodDisruptionBudget, a StatefulSet
# with a claim and a LoadBalancer Service polled every 100 ms; and a failure injected after a
# node's replacement, which restores the pre-upgrade snapshot. Prints the time of each phase, the
# failed requests and the longest gap the client saw.
#
# Not part of scripts/test.sh: it needs the images of v1.36.3 besides the default release's, a
# cold build of another Kubernetes release (about 15 minutes on 2 cores) that CI's budget has no
# room for. Run it after changing the upgrade. Needs what scripts/test.sh needs (it runs setup).
set -euo pipefail
cd "$(dirname "$0")/.."

from=v1.36.3
scripts/setup.sh
cargo build --locked
started=$SECONDS
target/debug/localkube images build
target/debug/localkube images build --kubernetes-version "$from"
echo "check-upgrade: images of both releases ready in $((SECONDS - started)) s"

export LOCALKUBE_PROGRESS=${LOCALKUBE_PROGRESS:-plain}
# --nocapture: the tests print the figures (phase times, failed requests, longest gap).
cargo test --locked --test tests -- --ignored --nocapture --test-threads=1 \
    suite::upgrade:: 2>&1 | tee target/check-upgrade.log |
    grep -E '^(upgrade |failed upgrade|test |check-upgrade)|Upgraded profile|restored|test result'
