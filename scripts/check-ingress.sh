#!/usr/bin/env bash
# The ingress addon against a real cluster (tests/suite/addons.rs,
# ingress_answers_by_host_name_over_http_and_tls), with its figures: the image's build time and
# size, and the time from `addons enable ingress` to the Ingress answering.
#
# Not part of scripts/test.sh: the addon is off by default and its first enable compiles Traefik
# from its Go module, a long cold build (see the README's Addons section) that CI's budget has no
# room for. Run it after changing the addon. Needs what scripts/test.sh needs (it runs setup).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo build --locked
# The cluster's images and the addon's, timed apart from the test (cached after the first run).
started=$SECONDS
target/debug/localkube images build --addons ingress
echo "check-ingress: images ready in $((SECONDS - started)) s (a cold run compiles Traefik)"
docker image inspect --format 'check-ingress: {{index .RepoTags 0}} is {{.Size}} bytes' \
    "localkube/traefik:$(target/debug/localkube version -o json | jq -r '.defaultKubernetesVersion')"

export LOCALKUBE_PROGRESS=${LOCALKUBE_PROGRESS:-quiet}
cargo test --locked --test tests -- --ignored --nocapture \
    suite::addons::ingress_answers_by_host_name_over_http_and_tls
