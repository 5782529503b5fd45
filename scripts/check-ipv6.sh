#!/usr/bin/env bash
# The dual-stack and the IPv6-only clusters of two nodes (tests/suite/ipv6.rs,
# a_dual_stack_cluster_..., an_ipv6_only_cluster_...): pods of each family, pod to
# pod across nodes over IPv6, a dual-stack Service over both families, DNS AAAA, a LoadBalancer on
# the host's ::1, and the IPv6 fences (`ip -6 route get`). Prints the start's time.
#
# Not part of scripts/test.sh: a second two-node cluster on top of the suite's. Run it after
# changing the networking (plan::networking, the node entrypoint, netinit), one cluster after the other. Needs what
# scripts/test.sh needs (it runs setup), and a kernel with IPv6 (`localkube doctor` says).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo build --locked
target/debug/localkube images build
target/debug/localkube doctor | grep -i ipv6 || true

export LOCALKUBE_PROGRESS=${LOCALKUBE_PROGRESS:-quiet}
cargo test --locked --test tests -- --ignored --nocapture \
    suite::ipv6::a_dual_stack_cluster_serves_both_families_and_keeps_ipv6_inside \
    suite::ipv6::an_ipv6_only_cluster_serves_ipv6_and_keeps_it_inside
